// Unit tests for service/outcome.h: every verdict Classify() can reach, and which observation
// wins when several apply. Observations are built by hand: the channel holds what
// python/pyexec_runner.py writes (one JSON line, "\n", then the payload for "ok").
#include "service/outcome.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace pyexec::service {

// Failure messages name the verdict instead of dumping the enum's bytes.
void PrintTo(Verdict verdict, std::ostream* os) { *os << VerdictName(verdict); }

namespace {

using std::chrono::milliseconds;

constexpr uint64_t kResultLimit = 1 << 20;

// A child that exited with `code` after writing `channel` on its result descriptor.
Observation Exited(int code, std::string channel) {
  Observation observation;
  observation.exited = true;
  observation.wait_status = W_EXITCODE(code, 0);
  observation.result_channel = std::move(channel);
  observation.result_limit_bytes = kResultLimit;
  observation.memory_limit_bytes = uint64_t{256} * 1024 * 1024;
  observation.cpu_seconds_limit = 30;
  observation.timeout = milliseconds(30000);
  return observation;
}

// A child killed by `sig` (a wait status that is just the signal number, no core dump).
Observation Signaled(int sig) {
  Observation observation = Exited(0, "");
  observation.wait_status = sig;
  return observation;
}

std::string Envelope(const std::string& json_line, const std::string& payload = "") {
  return json_line + "\n" + payload;
}

std::string OkChannel(const std::string& payload) {
  return Envelope(R"({"status": "ok"})", payload);
}

// ---- ok ---------------------------------------------------------------------------------------

TEST(Classify, OkKeepsTheResultVerbatim) {
  const Outcome outcome = Classify(Exited(0, OkChannel(R"({"n":18446744073709551617,"f":0.1})")));
  EXPECT_EQ(outcome.verdict, Verdict::kOk);
  EXPECT_EQ(outcome.result_json, R"({"n":18446744073709551617,"f":0.1})");
  EXPECT_TRUE(outcome.message.empty());
}

TEST(Classify, OkKeepsBigIntegersAndFloatsExactly) {
  EXPECT_EQ(Classify(Exited(0, OkChannel("18446744073709551617"))).result_json,
            "18446744073709551617");
  EXPECT_EQ(Classify(Exited(0, OkChannel("0.1"))).result_json, "0.1");
  EXPECT_EQ(Classify(Exited(0, OkChannel("1e400"))).result_json, "1e400");
}

TEST(Classify, OkKeepsNonAsciiResultBytes) {
  const std::string payload = "\"caf\xC3\xA9 \xE2\x80\xA8 \xF0\x9F\x98\x80\"";
  EXPECT_EQ(Classify(Exited(0, OkChannel(payload))).result_json, payload);
}

TEST(Classify, OkWithNullResult) {
  const Outcome outcome = Classify(Exited(0, OkChannel("null")));
  EXPECT_EQ(outcome.verdict, Verdict::kOk);
  EXPECT_EQ(outcome.result_json, "null");
}

TEST(Classify, OkResultExactlyAtTheLimitIsAccepted) {
  Observation observation = Exited(0, OkChannel("\"" + std::string(98, 'x') + "\""));
  observation.result_limit_bytes = 100;
  const Outcome outcome = Classify(observation);
  EXPECT_EQ(outcome.verdict, Verdict::kOk);
  EXPECT_EQ(outcome.result_json.size(), 100u);
}

// ---- what the envelope is believed for --------------------------------------------------------

TEST(Classify, EnvelopeIsIgnoredWhenExitCodeIsNotZero) {
  const Outcome outcome = Classify(Exited(3, OkChannel("42")));
  EXPECT_EQ(outcome.verdict, Verdict::kExit);
  EXPECT_EQ(outcome.exit_code, 3);
  EXPECT_TRUE(outcome.result_json.empty());
}

TEST(Classify, ExceptionEnvelopeIsIgnoredWhenExitCodeIsNotZero) {
  const Outcome outcome = Classify(
      Exited(1, Envelope(R"({"status": "exception", "type": "ValueError", "message": "x"})")));
  EXPECT_EQ(outcome.verdict, Verdict::kExit);
  EXPECT_EQ(outcome.exit_code, 1);
}

TEST(Classify, GarbageEnvelopeGivesExitVerdict) {
  for (const std::string& channel : {
           std::string("hello from the script\n42"),
           std::string("{\"status\": \"ok\"}"),  // no newline: not an envelope
           std::string("{\"status\": \"ok\",}\n42"),
           std::string("[\"ok\"]\n42"),
           std::string("\"ok\"\n42"),
           std::string("{\"status\": {\"nested\": \"ok\"}}\n42"),
           std::string("{\"status\": 1}\n42"),
           std::string(""),
           std::string("\n"),
       }) {
    const Outcome outcome = Classify(Exited(0, channel));
    EXPECT_EQ(outcome.verdict, Verdict::kExit) << channel;
    EXPECT_EQ(outcome.exit_code, 0) << channel;
    EXPECT_TRUE(outcome.result_json.empty()) << channel;
  }
}

TEST(Classify, EnvelopeNestedDeeperThanAFlatObjectIsIgnored) {
  const Outcome outcome =
      Classify(Exited(0, Envelope(R"({"status": "ok", "x": {"y": {"z": 1}}})", "1")));
  EXPECT_EQ(outcome.verdict, Verdict::kExit);
}

TEST(Classify, EnvelopeWithUnknownStatusIsIgnored) {
  const Outcome outcome = Classify(Exited(0, Envelope(R"({"status": "success"})", "1")));
  EXPECT_EQ(outcome.verdict, Verdict::kExit);
  EXPECT_EQ(outcome.exit_code, 0);
}

TEST(Classify, EnvelopeWithoutStatusIsIgnored) {
  const Outcome outcome = Classify(Exited(0, Envelope(R"({"message": "ok"})", "1")));
  EXPECT_EQ(outcome.verdict, Verdict::kExit);
}

TEST(Classify, EnvelopeIsNotBelievedWhenTheChildWasKilled) {
  Observation observation = Exited(0, OkChannel("1"));
  observation.wait_status = SIGTERM;
  const Outcome outcome = Classify(observation);
  EXPECT_EQ(outcome.verdict, Verdict::kKilled);
  EXPECT_EQ(outcome.signal, SIGTERM);
}

TEST(Classify, EnvelopeIsNotBelievedWithoutAnExitReport) {
  Observation observation = Exited(0, OkChannel("1"));
  observation.exited = false;
  const Outcome outcome = Classify(observation);
  EXPECT_EQ(outcome.verdict, Verdict::kExit);
  EXPECT_EQ(outcome.exit_code, -1);
}

// ---- not_serializable and result_too_large ----------------------------------------------------

TEST(Classify, InvalidPayloadIsNotSerializable) {
  for (const std::string& payload :
       {std::string("NaN"), std::string("[1,]"), std::string("{'a': 1}"), std::string(""),
        std::string("1 2"), std::string("\"\xC0\x80\"")}) {
    const Outcome outcome = Classify(Exited(0, OkChannel(payload)));
    EXPECT_EQ(outcome.verdict, Verdict::kNotSerializable) << payload;
    EXPECT_TRUE(outcome.result_json.empty()) << payload;
    EXPECT_NE(outcome.message.find("not strict JSON"), std::string::npos) << outcome.message;
  }
}

TEST(Classify, PayloadDeeperThanMaxResultDepthIsNotSerializable) {
  const size_t depth = kMaxResultDepth + 1;
  const Outcome outcome =
      Classify(Exited(0, OkChannel(std::string(depth, '[') + std::string(depth, ']'))));
  EXPECT_EQ(outcome.verdict, Verdict::kNotSerializable);
  EXPECT_TRUE(outcome.result_json.empty());
}

TEST(Classify, PayloadAtMaxResultDepthIsOk) {
  const size_t depth = kMaxResultDepth;
  const std::string payload = std::string(depth, '[') + std::string(depth, ']');
  const Outcome outcome = Classify(Exited(0, OkChannel(payload)));
  EXPECT_EQ(outcome.verdict, Verdict::kOk);
  EXPECT_EQ(outcome.result_json, payload);
}

TEST(Classify, MillionDeepPayloadIsNotSerializable) {
  const std::string payload = std::string(1000000, '[') + std::string(1000000, ']');
  Observation observation = Exited(0, OkChannel(payload));
  observation.result_limit_bytes = payload.size();
  EXPECT_EQ(Classify(observation).verdict, Verdict::kNotSerializable);
}

TEST(Classify, NotSerializableEnvelopeKeepsPathAndMessage) {
  const Outcome outcome = Classify(
      Exited(0, Envelope(R"({"status": "not_serializable", "message": "result['x']: value of type )"
                         R"(set is not JSON serializable", "path": "result['x']"})")));
  EXPECT_EQ(outcome.verdict, Verdict::kNotSerializable);
  EXPECT_EQ(outcome.path, "result['x']");
  EXPECT_EQ(outcome.message, "result['x']: value of type set is not JSON serializable");
}

TEST(Classify, PayloadOverResultLimitIsResultTooLarge) {
  Observation observation = Exited(0, OkChannel("\"" + std::string(99, 'x') + "\""));
  observation.result_limit_bytes = 100;
  const Outcome outcome = Classify(observation);
  EXPECT_EQ(outcome.verdict, Verdict::kResultTooLarge);
  EXPECT_TRUE(outcome.result_json.empty());
  EXPECT_NE(outcome.message.find("101"), std::string::npos) << outcome.message;
  EXPECT_NE(outcome.message.find("100"), std::string::npos) << outcome.message;
}

TEST(Classify, ResultTooLargeEnvelopeFromTheRunner) {
  const Outcome outcome =
      Classify(Exited(0, Envelope(R"({"status": "result_too_large", "message": "main() returned )"
                                  R"(2000 bytes of JSON; the limit is 1000", "size": 2000})")));
  EXPECT_EQ(outcome.verdict, Verdict::kResultTooLarge);
  EXPECT_EQ(outcome.message, "main() returned 2000 bytes of JSON; the limit is 1000");
}

TEST(Classify, ResultOverflowIsResultTooLarge) {
  Observation observation = Exited(0, OkChannel("1"));
  observation.result_overflow = true;
  const Outcome outcome = Classify(observation);
  EXPECT_EQ(outcome.verdict, Verdict::kResultTooLarge);
  EXPECT_TRUE(outcome.result_json.empty());
}

TEST(Classify, ResultOverflowWinsOverADeathBySignal) {
  Observation observation = Signaled(SIGKILL);
  observation.result_overflow = true;
  EXPECT_EQ(Classify(observation).verdict, Verdict::kResultTooLarge);
}

// ---- timeout and memory -----------------------------------------------------------------------

TEST(Classify, TimeoutWinsOverEverything) {
  Observation observation = Exited(0, OkChannel("1"));
  observation.timed_out = true;
  observation.timeout = milliseconds(2500);
  observation.result_overflow = true;
  observation.oom_kills = 3;
  const Outcome outcome = Classify(observation);
  EXPECT_EQ(outcome.verdict, Verdict::kTimeout);
  EXPECT_TRUE(outcome.result_json.empty());
  EXPECT_NE(outcome.message.find("2500 ms"), std::string::npos) << outcome.message;

  Observation killed = Signaled(SIGSEGV);
  killed.timed_out = true;
  EXPECT_EQ(Classify(killed).verdict, Verdict::kTimeout);

  Observation exited = Exited(7, "");
  exited.timed_out = true;
  EXPECT_EQ(Classify(exited).verdict, Verdict::kTimeout);
}

TEST(Classify, OomKillIsMemoryLimit) {
  Observation observation = Signaled(SIGKILL);
  observation.oom_kills = 1;
  const Outcome outcome = Classify(observation);
  EXPECT_EQ(outcome.verdict, Verdict::kMemoryLimit);
  EXPECT_FALSE(outcome.signal.has_value());
  EXPECT_NE(outcome.message.find("256 MiB"), std::string::npos) << outcome.message;
}

TEST(Classify, OomKillWinsOverAnOkEnvelope) {
  // A child process was OOM-killed even though the runner itself finished.
  Observation observation = Exited(0, OkChannel("1"));
  observation.oom_kills = 2;
  const Outcome outcome = Classify(observation);
  EXPECT_EQ(outcome.verdict, Verdict::kMemoryLimit);
  EXPECT_TRUE(outcome.result_json.empty());
}

TEST(Classify, MemoryErrorEnvelopeIsMemoryLimitWithTheLimitInTheMessage) {
  const Outcome outcome = Classify(
      Exited(0, Envelope(R"({"status": "memory_limit", "message": "MemoryError: the script ran )"
                         R"(out of memory"})")));
  EXPECT_EQ(outcome.verdict, Verdict::kMemoryLimit);
  EXPECT_EQ(outcome.message, "MemoryError: the script ran out of memory (limit 256 MiB)");
}

TEST(Classify, SigxcpuIsTimeout) {
  const Outcome outcome = Classify(Signaled(SIGXCPU));
  EXPECT_EQ(outcome.verdict, Verdict::kTimeout);
  EXPECT_NE(outcome.message.find("30 s of CPU"), std::string::npos) << outcome.message;
}

TEST(Classify, SigkillWithCpuExhaustedIsTimeout) {
  // RLIMIT_CPU's hard limit sends SIGKILL one second after the soft limit's SIGXCPU.
  Observation observation = Signaled(SIGKILL);
  observation.cpu_seconds_limit = 2;
  observation.cpu_used_ns = 2000000000ULL;
  EXPECT_EQ(Classify(observation).verdict, Verdict::kTimeout);
  observation.cpu_used_ns = 3100000000ULL;
  EXPECT_EQ(Classify(observation).verdict, Verdict::kTimeout);
}

TEST(Classify, SigkillWithCpuLeftIsKilled) {
  Observation observation = Signaled(SIGKILL);
  observation.cpu_seconds_limit = 2;
  observation.cpu_used_ns = 1999999999ULL;
  const Outcome outcome = Classify(observation);
  EXPECT_EQ(outcome.verdict, Verdict::kKilled);
  EXPECT_EQ(outcome.signal, SIGKILL);
}

TEST(Classify, SigkillWithoutCpuLimitIsKilled) {
  Observation observation = Signaled(SIGKILL);
  observation.cpu_seconds_limit = 0;
  observation.cpu_used_ns = 100000000000ULL;
  EXPECT_EQ(Classify(observation).verdict, Verdict::kKilled);
}

// ---- how the process ended --------------------------------------------------------------------

TEST(Classify, SigsegvIsKilledWithSignal11) {
  const Outcome outcome = Classify(Signaled(SIGSEGV));
  EXPECT_EQ(outcome.verdict, Verdict::kKilled);
  ASSERT_TRUE(outcome.signal.has_value());
  EXPECT_EQ(*outcome.signal, 11);
  EXPECT_FALSE(outcome.exit_code.has_value());
  EXPECT_NE(outcome.message.find("signal 11"), std::string::npos) << outcome.message;
  EXPECT_NE(outcome.message.find("SIGSEGV"), std::string::npos) << outcome.message;
}

TEST(Classify, CoreDumpingSignalIsKilled) {
  Observation observation = Signaled(SIGABRT);
  observation.wait_status = SIGABRT | 0x80;  // WCOREFLAG
  const Outcome outcome = Classify(observation);
  EXPECT_EQ(outcome.verdict, Verdict::kKilled);
  EXPECT_EQ(outcome.signal, SIGABRT);
}

TEST(Classify, ExitCodeWithoutEnvelopeIsExitWithThatCode) {
  for (const int code : {1, 2, 42, 255}) {
    const Outcome outcome = Classify(Exited(code, ""));
    EXPECT_EQ(outcome.verdict, Verdict::kExit) << code;
    EXPECT_EQ(outcome.exit_code, code);
    EXPECT_FALSE(outcome.signal.has_value());
    EXPECT_NE(outcome.message.find("code " + std::to_string(code)), std::string::npos)
        << outcome.message;
  }
}

TEST(Classify, CleanExitWithoutEnvelopeIsExitWithCodeZero) {
  // os._exit(0) from the script: main() never returned.
  const Outcome outcome = Classify(Exited(0, ""));
  EXPECT_EQ(outcome.verdict, Verdict::kExit);
  EXPECT_EQ(outcome.exit_code, 0);
}

TEST(Classify, SysExitEnvelopeKeepsItsExitCode) {
  const Outcome outcome = Classify(
      Exited(0, Envelope(R"({"status": "exit", "message": "the script called sys.exit(3) before )"
                         R"(main() returned", "exit_code": 3})")));
  EXPECT_EQ(outcome.verdict, Verdict::kExit);
  EXPECT_EQ(outcome.exit_code, 3);
  EXPECT_EQ(outcome.message, "the script called sys.exit(3) before main() returned");
}

// ---- exception, syntax_error, missing_main ----------------------------------------------------

TEST(Classify, ExceptionEnvelopeKeepsTypeMessageAndTraceback) {
  const std::string traceback =
      "Traceback (most recent call last):\n  File \"main.py\", line 2, in main\n"
      "ZeroDivisionError: division by zero\n";
  const Outcome outcome = Classify(Exited(
      0,
      Envelope(R"({"status": "exception", "type": "ZeroDivisionError", "message": )"
               R"("division by zero", "traceback": "Traceback (most recent call last):\n  )"
               R"(File \"main.py\", line 2, in main\nZeroDivisionError: division by zero\n"})")));
  EXPECT_EQ(outcome.verdict, Verdict::kException);
  EXPECT_EQ(outcome.exception_type, "ZeroDivisionError");
  EXPECT_EQ(outcome.message, "ZeroDivisionError: division by zero");
  EXPECT_EQ(outcome.traceback, traceback);
  EXPECT_TRUE(outcome.result_json.empty());
  EXPECT_FALSE(outcome.line.has_value());
}

TEST(Classify, ExceptionEnvelopeWithNonAsciiMessage) {
  // json.dumps(envelope) is ASCII with \u escapes, surrogate pairs included.
  const Outcome outcome =
      Classify(Exited(0, Envelope(R"({"status": "exception", "type": "ValueError", "message": )"
                                  R"("caf\u00e9 \ud83d\ude00", "traceback": ""})")));
  EXPECT_EQ(outcome.verdict, Verdict::kException);
  EXPECT_EQ(outcome.message, "ValueError: caf\xC3\xA9 \xF0\x9F\x98\x80");
}

TEST(Classify, SyntaxErrorEnvelopeKeepsLineAndColumn) {
  const Outcome outcome = Classify(
      Exited(0, Envelope(R"({"status": "syntax_error", "type": "SyntaxError", "message": )"
                         R"("invalid syntax", "line": 3, "column": 7, "text": "def main(:"})")));
  EXPECT_EQ(outcome.verdict, Verdict::kSyntaxError);
  EXPECT_EQ(outcome.exception_type, "SyntaxError");
  EXPECT_EQ(outcome.message, "invalid syntax");
  EXPECT_EQ(outcome.line, 3);
  EXPECT_EQ(outcome.column, 7);
}

TEST(Classify, SyntaxErrorWithNullLineHasNoLine) {
  const Outcome outcome = Classify(
      Exited(0, Envelope(R"({"status": "syntax_error", "type": "SyntaxError", "message": "x", )"
                         R"("line": null, "column": null})")));
  EXPECT_EQ(outcome.verdict, Verdict::kSyntaxError);
  EXPECT_FALSE(outcome.line.has_value());
  EXPECT_FALSE(outcome.column.has_value());
}

TEST(Classify, MissingMainEnvelope) {
  const Outcome outcome = Classify(
      Exited(0, Envelope(R"({"status": "missing_main", "message": "the script must define a )"
                         R"(callable main(); it defines nothing named main"})")));
  EXPECT_EQ(outcome.verdict, Verdict::kMissingMain);
  EXPECT_EQ(outcome.message,
            "the script must define a callable main(); it defines nothing named main");
}

// ---- names ------------------------------------------------------------------------------------

TEST(VerdictName, RoundTripsThroughParseVerdictForAllTenVerdicts) {
  const std::pair<Verdict, std::string_view> expected[] = {
      {Verdict::kOk, "ok"},
      {Verdict::kSyntaxError, "syntax_error"},
      {Verdict::kMissingMain, "missing_main"},
      {Verdict::kException, "exception"},
      {Verdict::kNotSerializable, "not_serializable"},
      {Verdict::kTimeout, "timeout"},
      {Verdict::kMemoryLimit, "memory_limit"},
      {Verdict::kKilled, "killed"},
      {Verdict::kExit, "exit"},
      {Verdict::kResultTooLarge, "result_too_large"},
  };
  for (const auto& [verdict, name] : expected) {
    EXPECT_EQ(VerdictName(verdict), name);
    EXPECT_EQ(ParseVerdict(name), verdict) << name;
  }
}

TEST(ParseVerdict, RejectsUnknownNames) {
  EXPECT_FALSE(ParseVerdict("").has_value());
  EXPECT_FALSE(ParseVerdict("OK").has_value());
  EXPECT_FALSE(ParseVerdict("internal_error").has_value());
  EXPECT_FALSE(ParseVerdict("unknown").has_value());
  EXPECT_FALSE(ParseVerdict("ok ").has_value());
}

}  // namespace
}  // namespace pyexec::service
