// POST /execute and GET /health through the real `pyexec serve` over real HTTP: every row of
// the status table, every verdict, the README's curl example verbatim, exact round trips.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "e2e/service_fixture.h"
#include "support/command.h"

namespace pyexec::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

uint16_t Port() { return SharedService().port(); }

// Asserts the error document every non-2xx answer has, and returns error.type.
std::string ErrorType(const Reply& reply) {
  EXPECT_TRUE(reply.json.is_object()) << reply.response.body << reply.error;
  if (!reply.json.is_object() || !reply.json.contains("error")) {
    ADD_FAILURE() << "no error object: " << reply.response.body;
    return "";
  }
  const nlohmann::json& error = reply.json["error"];
  EXPECT_TRUE(error["type"].is_string()) << reply.response.body;
  EXPECT_TRUE(error["message"].is_string()) << reply.response.body;
  return error.value("type", "");
}

std::string Message(const Reply& reply) {
  return reply.json.is_object() && reply.json.contains("error")
             ? reply.json["error"].value("message", "")
             : "";
}

// A script failure: 422 with the verdict, and stdout/stderr/usage since the script ran.
void ExpectScriptFailure(const Reply& reply, const std::string& verdict) {
  EXPECT_EQ(reply.status, 422) << reply.response.body << reply.error;
  EXPECT_EQ(ErrorType(reply), verdict) << reply.response.body;
  EXPECT_EQ(reply.json.value("status", ""), verdict);
  EXPECT_TRUE(reply.json["stdout"].is_string()) << reply.response.body;
  EXPECT_TRUE(reply.json["stderr"].is_string()) << reply.response.body;
  EXPECT_TRUE(reply.json["usage"]["wall_ms"].is_number_integer()) << reply.response.body;
}

std::string ReadReadme() {
  std::ifstream file(std::string(PYEXEC_SOURCE_DIR) + "/README.md");
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

// ---- 200 ---------------------------------------------------------------------------------

TEST(Execute, ReferenceExample_ReturnsStatusFiveAndHello) {
  const Reply reply = Execute(Port(), ScriptBody(ReferenceScript()));
  ASSERT_EQ(reply.status, 200) << reply.response.body << reply.error;
  EXPECT_EQ(reply.json["result"], nlohmann::json({{"status", 5}}));
  EXPECT_EQ(reply.json["stdout"], "Hello\n");
  EXPECT_EQ(reply.json["stderr"], "");
  EXPECT_EQ(reply.json["status"], "ok");
  EXPECT_EQ(reply.json["truncated"], nlohmann::json({{"stdout", false}, {"stderr", false}}));
  EXPECT_FALSE(reply.json.contains("error"));
  for (const char* field : {"wall_ms", "cpu_ms", "memory_peak_bytes"}) {
    EXPECT_TRUE(reply.json["usage"][field].is_number_integer()) << field;
  }
  EXPECT_EQ(reply.Header("Content-Type"), "application/json");
  EXPECT_TRUE(reply.Header("X-Request-Id").has_value());
}

// The README's curl command, run by a shell exactly as written there (only the port differs).
TEST(Execute, ReadmeCurlExample_VerbatimReturnsStatusFiveAndHello) {
  const std::string readme = ReadReadme();
  const size_t start = readme.find("curl -s http://127.0.0.1:8080/execute");
  ASSERT_NE(start, std::string::npos) << "README.md has no curl example";
  const size_t end = readme.find("\nEOF\n", start);
  ASSERT_NE(end, std::string::npos);
  std::string command = readme.substr(start, end + 5 - start);
  // The heredoc's body is examples/reference.py as a JSON string.
  const size_t body_start = command.find('\n') + 1;
  const std::string body = command.substr(body_start, command.find('\n', body_start) - body_start);
  EXPECT_EQ(nlohmann::json::parse(body, nullptr, false), ScriptBody(ReferenceScript()));
  command.replace(command.find("8080"), 4, std::to_string(Port()));
  const testing::CommandResult curl = testing::RunCommand({"/bin/sh", "-c", command}, "", {}, 60);
  ASSERT_EQ(curl.exit_code, 0) << curl.err;
  const nlohmann::json answer = nlohmann::json::parse(curl.out, nullptr, false);
  ASSERT_TRUE(answer.is_object()) << curl.out;
  EXPECT_EQ(answer["result"], nlohmann::json({{"status", 5}}));
  EXPECT_EQ(answer["stdout"], "Hello\n");
}

TEST(Execute, BigIntegersAndFloats_RoundTripExactly) {
  const Reply reply = Execute(
      Port(), ScriptBody("def main():\n    return [2 ** 200, -(10 ** 30), 0.1, 1e300, 2 ** 63]\n"));
  ASSERT_EQ(reply.status, 200) << reply.response.body;
  // Compared as text: a double would lose the digits.
  EXPECT_THAT(reply.response.body,
              HasSubstr("[1606938044258990275541962092341162602522202993782792835301376,"
                        "-1000000000000000000000000000000,0.1,1e+300,9223372036854775808]"));
}

TEST(Execute, Unicode_RoundTripsInScriptResultAndOutput) {
  const std::string text =
      "h\xC3\xA9llo \xE2\x98\x83 \xF0\x9D\x84\x9E \xF0\x9F\x98\x80 \xE4\xB8\xAD";
  const Reply reply = Execute(
      Port(), ScriptBody("S = '" + text + "'\ndef main():\n    print(S)\n    return {S: S}\n"));
  ASSERT_EQ(reply.status, 200) << reply.response.body;
  EXPECT_EQ(reply.json["result"], nlohmann::json({{text, text}}));
  EXPECT_EQ(reply.json["stdout"], text + "\n");
}

TEST(Execute, JsonWithCharsetOrWithoutContentType_IsAccepted) {
  const std::string body = ScriptBody("def main():\n    return 7\n").dump();
  for (const HttpHeaders& headers :
       {HttpHeaders{{"Content-Type", "application/json; charset=utf-8"}},
        HttpHeaders{{"Content-Type", "Application/JSON;charset=\"UTF-8\""}}, HttpHeaders{}}) {
    const Reply reply = Send(Port(), "POST", "/execute", body, headers);
    EXPECT_EQ(reply.status, 200) << reply.response.body;
    EXPECT_EQ(reply.json["result"], 7);
  }
}

TEST(Execute, UnknownFieldsAndLimitsWithinRange_AreAccepted) {
  const Reply reply =
      Execute(Port(), ScriptBody("def main():\n    return 'x'\n",
                                 {{"timeout", 2.5}, {"memory_mb", 64}, {"colour", "blue"}}));
  EXPECT_EQ(reply.status, 200) << reply.response.body;
}

TEST(Execute, PrintedFakeResult_IsNotBelieved) {
  const Reply reply =
      Execute(Port(), ScriptBody("import sys\n"
                                 "def main():\n"
                                 "    print('{\"result\": 42, \"status\": \"ok\"}')\n"
                                 "    sys.stdout.flush()\n"
                                 "    return 1\n"));
  ASSERT_EQ(reply.status, 200) << reply.response.body;
  EXPECT_EQ(reply.json["result"], 1);
  EXPECT_EQ(reply.json["stdout"], "{\"result\": 42, \"status\": \"ok\"}\n");
}

TEST(Execute, OsExitZeroAfterPrinting_IsNotSuccess) {
  const Reply reply =
      Execute(Port(), ScriptBody("import os, sys\n"
                                 "def main():\n"
                                 "    print('{\"result\": 42, \"status\": \"ok\"}')\n"
                                 "    sys.stdout.flush()\n"
                                 "    os._exit(0)\n"));
  ExpectScriptFailure(reply, "exit");
  EXPECT_EQ(reply.json["result"], nullptr);
  EXPECT_EQ(reply.json["error"]["exit_code"], 0);
}

// ---- 422: every verdict ---------------------------------------------------------------------

TEST(Verdict, SyntaxError_Is422) {
  const Reply reply = Execute(Port(), ScriptBody("def main(:\n    return 1\n"));
  ExpectScriptFailure(reply, "syntax_error");
  EXPECT_TRUE(reply.json["error"]["line"].is_number_integer()) << reply.response.body;
}

TEST(Verdict, MissingMain_Is422) {
  ExpectScriptFailure(Execute(Port(), ScriptBody("x = 1\n")), "missing_main");
}

TEST(Verdict, Exception_Is422WithTraceback) {
  const Reply reply = Execute(Port(), ScriptBody("def main():\n    print('before')\n"
                                                 "    raise ValueError('boom')\n"));
  ExpectScriptFailure(reply, "exception");
  EXPECT_EQ(reply.json["error"]["exception"], "ValueError");
  EXPECT_THAT(reply.json["error"]["traceback"].get<std::string>(), HasSubstr("main.py"));
  EXPECT_THAT(reply.json["error"]["message"].get<std::string>(), HasSubstr("boom"));
  EXPECT_EQ(reply.json["stdout"], "before\n");
}

TEST(Verdict, NanResult_IsNotSerializable) {
  const Reply reply = Execute(Port(), ScriptBody("def main():\n    return {'a': float('nan')}\n"));
  ExpectScriptFailure(reply, "not_serializable");
  EXPECT_THAT(reply.json["error"]["path"].get<std::string>(), HasSubstr("a"));
}

TEST(Verdict, Timeout_Is422WithinTheRequestedTimeout) {
  const Reply reply = Execute(
      Port(), ScriptBody("import time\ndef main():\n    time.sleep(20)\n", {{"timeout", 1}}));
  ExpectScriptFailure(reply, "timeout");
  EXPECT_LT(reply.json["usage"]["wall_ms"].get<int64_t>(), 5000);
}

TEST(Verdict, HundredMegabytes_IsFineAndOneGibibyte_IsMemoryLimit) {
  const Reply fine = Execute(Port(), ScriptBody("def main():\n"
                                                "    b = bytearray(100 * 1024 * 1024)\n"
                                                "    return len(b)\n"));
  ASSERT_EQ(fine.status, 200) << fine.response.body;
  EXPECT_EQ(fine.json["result"], 100 * 1024 * 1024);
  EXPECT_GE(fine.json["usage"]["memory_peak_bytes"].get<uint64_t>(), 100u * 1024 * 1024);
  const Reply refused = Execute(Port(), ScriptBody("def main():\n"
                                                   "    b = bytearray(1024 * 1024 * 1024)\n"
                                                   "    return len(b)\n"));
  ExpectScriptFailure(refused, "memory_limit");
}

TEST(Verdict, Segfault_IsKilled) {
  const Reply reply = Execute(
      Port(), ScriptBody("import ctypes\ndef main():\n    ctypes.string_at(0)\n    return 1\n"));
  ExpectScriptFailure(reply, "killed");
  EXPECT_EQ(reply.json["error"]["signal"], 11);
}

TEST(Verdict, SysExit_IsExitWithItsCode) {
  const Reply reply = Execute(Port(), ScriptBody("import sys\ndef main():\n    sys.exit(3)\n"));
  ExpectScriptFailure(reply, "exit");
  EXPECT_EQ(reply.json["error"]["exit_code"], 3);
}

TEST(Verdict, HugeResult_IsResultTooLarge) {
  const Reply reply =
      Execute(Port(), ScriptBody("def main():\n    return 'x' * (17 * 1024 * 1024)\n"));
  ExpectScriptFailure(reply, "result_too_large");
}

// ---- 400 ------------------------------------------------------------------------------------

struct BadBody {
  std::string name;
  std::string body;
  std::string type;
  std::string names;  // what the message must mention
};

TEST(BadRequest, EachMalformedBody_Is400NamingTheProblem) {
  const std::vector<BadBody> cases = {
      {"not json", "{script: 1", "invalid_json", "JSON"},
      {"empty", "", "invalid_json", "JSON"},
      {"NaN", R"({"script": "def main():\n    return 1\n", "timeout": NaN})", "invalid_json",
       "NaN"},
      {"Infinity", R"({"script": "x", "timeout": Infinity})", "invalid_json", "JSON"},
      {"invalid UTF-8", "{\"script\": \"\xff\xfe\"}", "invalid_json", "UTF-8"},
      {"lone surrogate", R"({"script": "\ud800"})", "invalid_json", "JSON"},
      {"array", "[1, 2]", "invalid_request", "object"},
      {"string", "\"def main(): pass\"", "invalid_request", "object"},
      {"script missing", R"({"code": "x"})", "invalid_request", "script"},
      {"script a number", R"({"script": 5})", "invalid_request", "script"},
      {"script null", R"({"script": null})", "invalid_request", "script"},
      {"script blank", R"({"script": "  \n\t "})", "invalid_request", "script"},
      {"timeout zero", R"({"script": "x", "timeout": 0})", "invalid_request", "timeout"},
      {"timeout negative", R"({"script": "x", "timeout": -1})", "invalid_request", "timeout"},
      {"timeout above max", R"({"script": "x", "timeout": 31})", "invalid_request", "timeout"},
      {"timeout a string", R"({"script": "x", "timeout": "5"})", "invalid_request", "timeout"},
      {"timeout a bool", R"({"script": "x", "timeout": true})", "invalid_request", "timeout"},
      {"memory too small", R"({"script": "x", "memory_mb": 8})", "invalid_request", "memory_mb"},
      {"memory above max", R"({"script": "x", "memory_mb": 100000})", "invalid_request",
       "memory_mb"},
      {"memory fractional", R"({"script": "x", "memory_mb": 64.5})", "invalid_request",
       "memory_mb"},
      {"memory a string", R"({"script": "x", "memory_mb": "64"})", "invalid_request", "memory_mb"},
      {"memory huge", R"({"script": "x", "memory_mb": 1e300})", "invalid_request", "memory_mb"},
  };
  for (const BadBody& bad : cases) {
    SCOPED_TRACE(bad.name);
    const Reply reply =
        Send(Port(), "POST", "/execute", bad.body, {{"Content-Type", "application/json"}});
    EXPECT_EQ(reply.status, 400) << reply.response.body << reply.error;
    EXPECT_EQ(ErrorType(reply), bad.type);
    EXPECT_THAT(Message(reply), HasSubstr(bad.names));
    EXPECT_FALSE(reply.json.contains("stdout")) << "the script must not have run";
  }
}

TEST(BadRequest, HalfAMillionNestedArrays_Is400AndTheServiceSurvives) {
  const std::string deep =
      "{\"script\": \"x\", \"a\": " + std::string(500000, '[') + std::string(500000, ']') + "}";
  const Reply reply =
      Send(Port(), "POST", "/execute", deep, {{"Content-Type", "application/json"}});
  EXPECT_EQ(reply.status, 400) << reply.response.body << reply.error;
  EXPECT_EQ(ErrorType(reply), "invalid_json");
  EXPECT_THAT(Message(reply), HasSubstr("nest"));
  EXPECT_EQ(Health(Port()).status, 200);
}

// ---- 413, 415, 404, 405 ------------------------------------------------------------------

TEST(TooLarge, ABodyAboveTheCap_Is413BeforeItIsSent) {
  Result<testing::HttpClient> client = testing::HttpClient::Connect("127.0.0.1", Port());
  ASSERT_TRUE(client.ok());
  // Only the header: the answer must come without the 64 MiB body ever being sent.
  ASSERT_TRUE(client
                  ->Send("POST /execute HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         "Content-Length: 67108864\r\n\r\n")
                  .ok());
  Result<testing::HttpResponse> response = client->ReadResponse();
  ASSERT_TRUE(response.ok()) << response.error().ToString();
  EXPECT_EQ(response->status, 413);
  const nlohmann::json body = nlohmann::json::parse(response->body, nullptr, false);
  EXPECT_EQ(body["error"]["type"], "payload_too_large") << response->body;
}

TEST(TooLarge, AScriptAboveItsCap_Is413NamingTheField) {
  const Reply reply = Execute(Port(), ScriptBody(std::string(1024 * 1024 + 1, '#')));
  EXPECT_EQ(reply.status, 413) << reply.response.body;
  EXPECT_EQ(ErrorType(reply), "payload_too_large");
  EXPECT_THAT(Message(reply), HasSubstr("script"));
}

TEST(MediaType, OtherMediaTypes_Are415) {
  const std::string body = ScriptBody("def main():\n    return 1\n").dump();
  for (const char* type : {"text/plain", "application/x-www-form-urlencoded",
                           "application/json; charset=latin-1", "multipart/form-data"}) {
    SCOPED_TRACE(type);
    const Reply reply = Send(Port(), "POST", "/execute", body, {{"Content-Type", type}});
    EXPECT_EQ(reply.status, 415) << reply.response.body;
    EXPECT_EQ(ErrorType(reply), "unsupported_media_type");
  }
}

TEST(Routes, UnknownPath_Is404) {
  for (const char* path : {"/", "/run", "/execute/x", "/healthz"}) {
    SCOPED_TRACE(path);
    const Reply reply = Send(Port(), "GET", path);
    EXPECT_EQ(reply.status, 404) << reply.response.body;
    EXPECT_EQ(ErrorType(reply), "not_found");
  }
}

TEST(Routes, WrongMethod_Is405WithAllow) {
  const Reply get = Send(Port(), "GET", "/execute");
  EXPECT_EQ(get.status, 405) << get.response.body;
  EXPECT_EQ(ErrorType(get), "method_not_allowed");
  EXPECT_EQ(get.Header("Allow"), "POST");
  const Reply post = Send(Port(), "POST", "/health", "{}", {{"Content-Type", "application/json"}});
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.Header("Allow"), "GET");
  const Reply del = Send(Port(), "DELETE", "/execute");
  EXPECT_EQ(del.status, 405);
}

TEST(Routes, QueryString_IsIgnored) {
  const Reply reply =
      Send(Port(), "POST", "/execute?debug=1", ScriptBody("def main():\n    return 2\n").dump(),
           {{"Content-Type", "application/json"}});
  EXPECT_EQ(reply.status, 200) << reply.response.body;
}

// ---- /health ------------------------------------------------------------------------------

TEST(HealthCheck, ReportsVersionPythonIsolationAndPool) {
  const Reply reply = Health(Port());
  ASSERT_EQ(reply.status, 200) << reply.response.body;
  const nlohmann::json& health = reply.json;
  EXPECT_EQ(health["status"], "ok");
  EXPECT_TRUE(health["version"].is_string());
  EXPECT_THAT(health["python"]["version"].get<std::string>(), ::testing::StartsWith("3."));
  EXPECT_TRUE(health["python"]["numpy"].is_string());
  EXPECT_EQ(health["isolation"]["jail"], true);
  EXPECT_EQ(health["isolation"]["ready"], true) << health.dump();
  for (const char* control : {"user_namespace", "pid_namespace", "net_namespace", "mount_namespace",
                              "seccomp_filter", "no_new_privs"}) {
    EXPECT_EQ(health["isolation"]["controls"][control], true) << control;
  }
  EXPECT_TRUE(health["isolation"]["enforcement"]["memory"].is_string());
  EXPECT_TRUE(health["isolation"]["enforcement"]["cgroup_favordynmods"].is_boolean())
      << health.dump();
  EXPECT_TRUE(health["isolation"]["enforcement"]["idle_exit"].is_boolean()) << health.dump();
  EXPECT_GE(health["pool"]["max_concurrency"].get<int>(), 1);
  EXPECT_EQ(health["pool"]["queue_capacity"], 64);
  EXPECT_TRUE(health["pool"]["running"].is_number_integer());
  EXPECT_TRUE(health["pool"]["queued"].is_number_integer());
  for (const char* field :
       {"idle", "target", "in_flight", "hits", "misses", "warmed_up", "idle_exits"}) {
    EXPECT_TRUE(health["warm_pool"][field].is_number_integer()) << field << " " << health.dump();
  }
}

// ---- the log ------------------------------------------------------------------------------

TEST(AccessLog, OneLinePerRequestWithIdVerdictAndNoScript) {
  const std::string marker = "secret_marker_5c1e";
  const Reply reply = Send(
      Port(), "POST", "/execute",
      ScriptBody("def main():\n    print('" + marker + "')\n    return '" + marker + "'\n").dump(),
      {{"Content-Type", "application/json"}, {"X-Request-Id", "e2e-log-1"}});
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(reply.Header("X-Request-Id"), "e2e-log-1");
  std::string line;
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::istringstream log(SharedService().Log());
        for (std::string next; std::getline(log, next);) {
          if (next.find("id=e2e-log-1 ") != std::string::npos) {
            line = next;
            return true;
          }
        }
        return false;
      },
      std::chrono::seconds(10)));
  for (const char* part : {"method=POST", "path=/execute", "status=200", "verdict=ok",
                           "duration_ms=", "memory_peak_bytes="}) {
    EXPECT_THAT(line, HasSubstr(part));
  }
  EXPECT_THAT(SharedService().Log(), Not(HasSubstr(marker)));
}

}  // namespace
}  // namespace pyexec::e2e
