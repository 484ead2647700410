// Unit tests for api/execution_json.h: the document's shape and field order, the result
// embedded byte for byte, and strict JSON whatever bytes the script printed.
#include "api/execution_json.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "util/json_text.h"

namespace pyexec::api {
namespace {

using nlohmann::ordered_json;
using std::string_literals::operator""s;  // NOLINT(misc-unused-using-decls): used below
using service::Execution;
using service::Verdict;

std::vector<std::string> Keys(const ordered_json& object) {
  std::vector<std::string> keys;
  for (const auto& item : object.items()) {
    keys.push_back(item.key());
  }
  return keys;
}

// Parses `text` after checking it with the same strict validator the server trusts.
ordered_json Parse(const std::string& text) {
  const Status valid = ValidateJson(text, 64);
  EXPECT_TRUE(valid.ok()) << valid.error().ToString() << "\n" << text;
  return ordered_json::parse(text);
}

Execution OkExecution(std::string result_json) {
  Execution execution;
  execution.outcome.verdict = Verdict::kOk;
  execution.outcome.result_json = std::move(result_json);
  execution.stdout_data = "hello\n";
  execution.stderr_data = "";
  execution.usage.wall_ms = 12;
  execution.usage.cpu_ms = 7;
  execution.usage.memory_peak_bytes = 12345678;
  return execution;
}

TEST(RenderExecution, OkEmbedsTheResultVerbatim) {
  const std::string result = R"({"big":18446744073709551617,"f":0.1,"e":1E+2,"s":"\u00e9"})";
  const std::string text = RenderExecution(OkExecution(result));
  EXPECT_EQ(text.rfind("{\"result\":" + result + ",", 0), 0u) << text;
  Parse(text);
}

TEST(RenderExecution, OkHasTheDocumentedFieldsInOrderAndNoError) {
  const ordered_json document = Parse(RenderExecution(OkExecution("[1,2]")));
  EXPECT_EQ(Keys(document), (std::vector<std::string>{"result", "stdout", "stderr", "status",
                                                      "truncated", "usage"}));
  EXPECT_FALSE(document.contains("error"));
  EXPECT_EQ(document["result"].dump(), ordered_json::parse("[1,2]").dump());
  EXPECT_EQ(document["stdout"].get<std::string>(), "hello\n");
  EXPECT_EQ(document["stderr"].get<std::string>(), "");
  EXPECT_EQ(document["status"].get<std::string>(), "ok");
  EXPECT_EQ(Keys(document["truncated"]), (std::vector<std::string>{"stdout", "stderr"}));
  EXPECT_EQ(document["truncated"]["stdout"].get<bool>(), false);
  EXPECT_EQ(document["truncated"]["stderr"].get<bool>(), false);
  EXPECT_EQ(Keys(document["usage"]),
            (std::vector<std::string>{"wall_ms", "cpu_ms", "memory_peak_bytes"}));
  EXPECT_EQ(document["usage"]["wall_ms"].get<int64_t>(), 12);
  EXPECT_EQ(document["usage"]["cpu_ms"].get<int64_t>(), 7);
  EXPECT_EQ(document["usage"]["memory_peak_bytes"].get<int64_t>(), 12345678);
}

TEST(RenderExecution, OkResultCanBeAnyJsonValue) {
  for (const std::string result : {"null", "0", "\"text\"", "true", "{}", "[]", "-1.5e-300"}) {
    const ordered_json document = Parse(RenderExecution(OkExecution(result)));
    EXPECT_EQ(document["result"].dump(), ordered_json::parse(result).dump()) << result;
  }
}

TEST(RenderExecution, TruncationFlagsAreReported) {
  Execution execution = OkExecution("1");
  execution.stdout_truncated = true;
  const ordered_json stdout_cut = Parse(RenderExecution(execution));
  EXPECT_EQ(stdout_cut["truncated"]["stdout"].get<bool>(), true);
  EXPECT_EQ(stdout_cut["truncated"]["stderr"].get<bool>(), false);

  execution.stdout_truncated = false;
  execution.stderr_truncated = true;
  const ordered_json stderr_cut = Parse(RenderExecution(execution));
  EXPECT_EQ(stderr_cut["truncated"]["stdout"].get<bool>(), false);
  EXPECT_EQ(stderr_cut["truncated"]["stderr"].get<bool>(), true);
}

TEST(RenderExecution, LargeUsageValuesAreExact) {
  Execution execution = OkExecution("1");
  execution.usage.memory_peak_bytes = 18446744073709551615u;
  execution.usage.wall_ms = 9007199254740993;  // 2**53 + 1: not representable as a double
  const std::string text = RenderExecution(execution);
  EXPECT_NE(text.find("\"memory_peak_bytes\":18446744073709551615"), std::string::npos) << text;
  EXPECT_NE(text.find("\"wall_ms\":9007199254740993"), std::string::npos) << text;
  Parse(text);
}

TEST(RenderExecution, OutputWithInvalidUtf8StillYieldsValidJson) {
  Execution execution = OkExecution("1");
  execution.stdout_data = "bad \xFF\xC0\x80 \xED\xA0\x80 cut \xE2\x82"s;
  execution.stderr_data = "nul \0 esc \x1B[31m \"q\" \\ \xE2\x80\xA8"s;
  const ordered_json document = Parse(RenderExecution(execution));
  const std::string kFffd = "\xEF\xBF\xBD";
  EXPECT_EQ(document["stdout"].get<std::string>(),
            "bad " + kFffd + kFffd + kFffd + " " + kFffd + kFffd + kFffd + " cut " + kFffd + kFffd);
  EXPECT_EQ(document["stderr"].get<std::string>(), execution.stderr_data);
}

TEST(RenderExecution, NonOkHasNullResultAndAnErrorBeforeUsage) {
  Execution execution;
  execution.outcome.verdict = Verdict::kTimeout;
  execution.outcome.message = "the script ran longer than the 1000 ms timeout";
  execution.outcome.result_json = "42";  // ignored: only an ok outcome carries a result
  const ordered_json document = Parse(RenderExecution(execution));
  EXPECT_EQ(Keys(document), (std::vector<std::string>{"result", "stdout", "stderr", "status",
                                                      "truncated", "error", "usage"}));
  EXPECT_TRUE(document["result"].is_null());
  EXPECT_EQ(document["status"].get<std::string>(), "timeout");
  EXPECT_EQ(Keys(document["error"]), (std::vector<std::string>{"type", "message"}));
  EXPECT_EQ(document["error"]["type"].get<std::string>(), "timeout");
  EXPECT_EQ(document["error"]["message"].get<std::string>(),
            "the script ran longer than the 1000 ms timeout");
}

TEST(RenderExecution, ErrorTypeIsTheVerdictNameForEveryNonOkVerdict) {
  for (const Verdict verdict : {Verdict::kSyntaxError, Verdict::kMissingMain, Verdict::kException,
                                Verdict::kNotSerializable, Verdict::kTimeout, Verdict::kMemoryLimit,
                                Verdict::kKilled, Verdict::kExit, Verdict::kResultTooLarge}) {
    Execution execution;
    execution.outcome.verdict = verdict;
    execution.outcome.message = "m";
    const ordered_json document = Parse(RenderExecution(execution));
    const std::string name(service::VerdictName(verdict));
    EXPECT_EQ(document["status"].get<std::string>(), name);
    EXPECT_EQ(document["error"]["type"].get<std::string>(), name);
    EXPECT_TRUE(document["result"].is_null()) << name;
  }
}

TEST(RenderExecution, ExceptionErrorCarriesExceptionAndTraceback) {
  Execution execution;
  execution.outcome.verdict = Verdict::kException;
  execution.outcome.message = "ZeroDivisionError: division by zero";
  execution.outcome.exception_type = "ZeroDivisionError";
  execution.outcome.traceback = "Traceback (most recent call last):\n  File \"main.py\"\n";
  const ordered_json document = Parse(RenderExecution(execution));
  const ordered_json& error = document["error"];
  EXPECT_EQ(Keys(error), (std::vector<std::string>{"type", "message", "exception", "traceback"}));
  EXPECT_EQ(error["type"].get<std::string>(), "exception");
  EXPECT_EQ(error["message"].get<std::string>(), "ZeroDivisionError: division by zero");
  EXPECT_EQ(error["exception"].get<std::string>(), "ZeroDivisionError");
  EXPECT_EQ(error["traceback"].get<std::string>(),
            "Traceback (most recent call last):\n  File \"main.py\"\n");
}

TEST(RenderExecution, SyntaxErrorCarriesLineAndColumn) {
  Execution execution;
  execution.outcome.verdict = Verdict::kSyntaxError;
  execution.outcome.message = "invalid syntax";
  execution.outcome.exception_type = "SyntaxError";
  execution.outcome.line = 3;
  execution.outcome.column = 0;  // present even when zero
  const ordered_json error = Parse(RenderExecution(execution))["error"];
  EXPECT_EQ(Keys(error),
            (std::vector<std::string>{"type", "message", "exception", "line", "column"}));
  EXPECT_EQ(error["line"].get<int64_t>(), 3);
  EXPECT_EQ(error["column"].get<int64_t>(), 0);
}

TEST(RenderExecution, ExitErrorCarriesExitCode) {
  Execution execution;
  execution.outcome.verdict = Verdict::kExit;
  execution.outcome.message = "the script exited with code 0 before main() returned";
  execution.outcome.exit_code = 0;
  const ordered_json error = Parse(RenderExecution(execution))["error"];
  EXPECT_EQ(Keys(error), (std::vector<std::string>{"type", "message", "exit_code"}));
  EXPECT_EQ(error["exit_code"].get<int64_t>(), 0);

  execution.outcome.exit_code = -1;
  EXPECT_EQ(Parse(RenderExecution(execution))["error"]["exit_code"].get<int64_t>(), -1);
}

TEST(RenderExecution, KilledErrorCarriesSignal) {
  Execution execution;
  execution.outcome.verdict = Verdict::kKilled;
  execution.outcome.message = "the script was killed by signal 11 (SIGSEGV: Segmentation fault)";
  execution.outcome.signal = 11;
  const ordered_json error = Parse(RenderExecution(execution))["error"];
  EXPECT_EQ(Keys(error), (std::vector<std::string>{"type", "message", "signal"}));
  EXPECT_EQ(error["signal"].get<int64_t>(), 11);
}

TEST(RenderExecution, NotSerializableErrorCarriesPath) {
  Execution execution;
  execution.outcome.verdict = Verdict::kNotSerializable;
  execution.outcome.message = "result['k']: value of type set is not JSON serializable";
  execution.outcome.path = "result['k']";
  const ordered_json error = Parse(RenderExecution(execution))["error"];
  EXPECT_EQ(Keys(error), (std::vector<std::string>{"type", "message", "path"}));
  EXPECT_EQ(error["path"].get<std::string>(), "result['k']");
}

TEST(RenderExecution, EveryOptionalErrorFieldInDocumentedOrder) {
  Execution execution;
  execution.outcome.verdict = Verdict::kException;
  execution.outcome.message = "m";
  execution.outcome.exception_type = "E";
  execution.outcome.traceback = "t";
  execution.outcome.line = 1;
  execution.outcome.column = 2;
  execution.outcome.exit_code = 3;
  execution.outcome.signal = 4;
  execution.outcome.path = "p";
  const ordered_json error = Parse(RenderExecution(execution))["error"];
  EXPECT_EQ(Keys(error),
            (std::vector<std::string>{"type", "message", "exception", "traceback", "line", "column",
                                      "exit_code", "signal", "path"}));
}

TEST(RenderExecution, ErrorStringsWithHostileBytesStayValidJson) {
  Execution execution;
  execution.outcome.verdict = Verdict::kException;
  execution.outcome.message = "\"}],\0\xFF"s;
  execution.outcome.exception_type = "Bad\nType";
  execution.outcome.traceback = "\xC0\xAF";
  execution.outcome.path = "result[\"\\\"]";
  const ordered_json document = Parse(RenderExecution(execution));
  EXPECT_EQ(document["error"]["message"].get<std::string>(), "\"}],\0\xEF\xBF\xBD"s);
  EXPECT_EQ(document["error"]["exception"].get<std::string>(), "Bad\nType");
  EXPECT_EQ(document["error"]["path"].get<std::string>(), "result[\"\\\"]");
}

TEST(RenderInternalError, HasStatusAndErrorOnly) {
  const ordered_json document = Parse(RenderInternalError("the zygote died"));
  EXPECT_EQ(Keys(document), (std::vector<std::string>{"status", "error"}));
  EXPECT_EQ(document["status"].get<std::string>(), "internal_error");
  EXPECT_EQ(Keys(document["error"]), (std::vector<std::string>{"type", "message"}));
  EXPECT_EQ(document["error"]["type"].get<std::string>(), "internal_error");
  EXPECT_EQ(document["error"]["message"].get<std::string>(), "the zygote died");
}

TEST(RenderInternalError, EscapesTheMessage) {
  const std::string message = "quote \" backslash \\ newline \n nul \0 bad \xFF"s;
  const ordered_json document = Parse(RenderInternalError(message));
  EXPECT_EQ(document["error"]["message"].get<std::string>(),
            "quote \" backslash \\ newline \n nul \0 bad \xEF\xBF\xBD"s);
}

}  // namespace
}  // namespace pyexec::api
