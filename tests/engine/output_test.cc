// What an execution hands back: stdout and stderr byte for byte (capped), and main()'s value
// on its own channel, exact, never taken from what the script prints or scribbles.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "support/engine_fixture.h"

namespace pyexec::testing {
namespace {

using ::testing::HasSubstr;

TEST(Output, StdoutAndStderrAreCapturedSeparatelyAndExactly) {
  const service::Execution run = RunScript(R"py(import sys
print("module out")
print("module err", file=sys.stderr)
def main():
    print("main out", end="")
    sys.stderr.write("main err\r\n")
    print()
    print("tab\there", "two", sep="|")
    return 0
)py");
  ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message;
  EXPECT_EQ(run.stdout_data, "module out\nmain out\ntab\there|two\n");
  EXPECT_EQ(run.stderr_data, "module err\nmain err\r\n");
  EXPECT_FALSE(run.stdout_truncated);
  EXPECT_FALSE(run.stderr_truncated);
}

TEST(Output, PrintsBeforeOsExitAreCaptured) {
  const service::Execution run = RunScript(R"py(import os, sys
print("at module level")
def main():
    print("before exit", end="")
    sys.stderr.write("no newline either")
    os._exit(4)
)py");
  ASSERT_EQ(VerdictOf(run), "exit") << run.outcome.message;
  EXPECT_EQ(run.outcome.exit_code, 4);
  EXPECT_EQ(run.stdout_data, "at module level\nbefore exit");
  EXPECT_EQ(run.stderr_data, "no newline either");
}

TEST(Output, OutputOfAProcessKilledBySignalIsKept) {
  const service::Execution run = RunScript(R"py(import os
def main():
    print("last words")
    os.kill(os.getpid(), 9)
)py");
  ASSERT_EQ(VerdictOf(run), "killed") << run.outcome.message;
  EXPECT_EQ(run.stdout_data, "last words\n");
}

TEST(Output, BinaryBytesAreKeptExactly) {
  const service::Execution run = RunScript(R"py(import sys
def main():
    sys.stdout.buffer.write(bytes(range(256)))
    sys.stderr.buffer.write(bytes(range(255, -1, -1)))
    return None
)py");
  ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message;
  std::string ascending;
  std::string descending;
  for (int i = 0; i < 256; ++i) {
    ascending.push_back(static_cast<char>(i));
    descending.push_back(static_cast<char>(255 - i));
  }
  EXPECT_EQ(run.stdout_data, ascending);
  EXPECT_EQ(run.stderr_data, descending);
  EXPECT_FALSE(run.stdout_truncated);
}

TEST(Output, FloodIsCutToExactlyTheCapAndFlagged) {
  service::Limits limits = DefaultLimits();
  limits.stdout_bytes = uint64_t{64} * 1024;
  limits.stderr_bytes = uint64_t{16} * 1024;
  const service::Execution run = RunScript(ReadPayload("output_flood_is_truncated.py"), limits);
  ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message;
  EXPECT_EQ(run.outcome.result_json, "\"flooded\"");
  EXPECT_TRUE(run.stdout_truncated);
  EXPECT_TRUE(run.stderr_truncated);
  EXPECT_EQ(run.stdout_data, std::string(size_t{64} * 1024, 'x'));
  EXPECT_EQ(run.stderr_data, std::string(size_t{16} * 1024, 'x'));
}

TEST(Output, OutputExactlyAtTheCapIsNotFlagged) {
  service::Limits limits = DefaultLimits();
  limits.stdout_bytes = 1000;
  const service::Execution run =
      RunScript("import sys\ndef main():\n    sys.stdout.write('y' * 1000)\n", limits);
  ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message;
  EXPECT_EQ(run.stdout_data, std::string(1000, 'y'));
  EXPECT_FALSE(run.stdout_truncated);
}

TEST(Output, InputRaisesEOFErrorImmediately) {
  const service::Execution run = RunScript(R"py(import sys
def main():
    try:
        input("prompt> ")
    except EOFError:
        return {"eof": True, "rest": sys.stdin.read()}
    return {"eof": False}
)py");
  ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message;
  EXPECT_EQ(nlohmann::json::parse(run.outcome.result_json),
            nlohmann::json({{"eof", true}, {"rest", ""}}));
  EXPECT_EQ(run.stdout_data, "prompt> ");
}

TEST(OutputResult, BigIntegersAreKeptVerbatim) {
  const service::Execution run =
      RunScript("def main():\n    return [2**64 + 1, -(2**100), 10**40]\n");
  ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message;
  EXPECT_EQ(run.outcome.result_json,
            "[18446744073709551617,-1267650600228229401496703205376,"
            "10000000000000000000000000000000000000000]");
}

TEST(OutputResult, FloatsRoundTrip) {
  const service::Execution run = RunScript(
      "def main():\n    return [0.1, 1e-300, -0.0, 5e-324, 1.7976931348623157e308, 1.5]\n");
  ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message;
  EXPECT_EQ(run.outcome.result_json, "[0.1,1e-300,-0.0,5e-324,1.7976931348623157e+308,1.5]");
  nlohmann::json parsed = nlohmann::json::parse(run.outcome.result_json);
  ASSERT_EQ(parsed.size(), 6u);
  EXPECT_EQ(parsed[0].get<double>(), 0.1);
  EXPECT_EQ(parsed[1].get<double>(), 1e-300);
  EXPECT_EQ(parsed[2].get<double>(), 0.0);
  EXPECT_TRUE(std::signbit(parsed[2].get<double>()));
  EXPECT_EQ(parsed[3].get<double>(), 5e-324);
  EXPECT_EQ(parsed[4].get<double>(), 1.7976931348623157e308);
}

TEST(OutputResult, UnicodeStringsSurviveExactly) {
  // NUL, U+2028 (a line separator JavaScript once refused in strings), an emoji, an accent.
  const service::Execution run = RunScript(R"py(
def main():
    text = "a\x00b\u2028c\U0001F600\u00e9"
    print(text)
    return {"text": text, "\u00e9": len(text)}
)py");
  ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message;
  const std::string expected(
      "a\0b\xE2\x80\xA8"
      "c\xF0\x9F\x98\x80\xC3\xA9",
      13);
  nlohmann::json parsed = nlohmann::json::parse(run.outcome.result_json);
  EXPECT_EQ(parsed["text"].get<std::string>(), expected);
  EXPECT_EQ(parsed["\xC3\xA9"].get<int>(), 7);
  EXPECT_EQ(run.stdout_data, expected + "\n");
}

TEST(OutputResult, LoneSurrogateIsNotSerializable) {
  const service::Execution run = RunScript("def main():\n    return {'s': ['ok', '\\ud800']}\n");
  ASSERT_EQ(VerdictOf(run), "not_serializable") << run.outcome.message;
  EXPECT_EQ(run.outcome.path, "result['s'][1]");
  EXPECT_THAT(run.outcome.message, HasSubstr("surrogate"));
}

// The runner serialises with the json module the script can also reach; a script making its
// own json.dumps pretty must not change how (or whether) its result is reported.
TEST(OutputResult, ScriptPatchingJsonDumps_DoesNotChangeTheReportedResult) {
  const service::Execution run = RunScript(R"py(
import functools, json
json.dumps = functools.partial(json.dumps, indent=2, sort_keys=True)
def main():
    print(json.dumps({"b": 1, "a": 2}))
    return {"b": [1, 2], "a": "x"}
)py");
  ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message;
  EXPECT_EQ(run.outcome.result_json, R"({"b":[1,2],"a":"x"})");
  EXPECT_EQ(run.stdout_data, "{\n  \"a\": 2,\n  \"b\": 1\n}\n");  // the script's own use
}

TEST(OutputResult, ResultPrintedToStdoutIsNotTakenAsTheResult) {
  const service::Execution run = RunScript(R"py(
def main():
    print('{"result": 42}')
    print('{"status": "ok"}')
    print('42')
    return 1
)py");
  ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message;
  EXPECT_EQ(run.outcome.result_json, "1");
  EXPECT_EQ(run.stdout_data, "{\"result\": 42}\n{\"status\": \"ok\"}\n42\n");
}

// Descriptor 3 is where the zygote hands the runner its result channel (sandbox::kResultFd); a
// script (or a library) writing there must not change what the execution reports.
TEST(OutputResultChannel, GarbageOnFd3ThenRaising_YieldsTheRealVerdict) {
  const service::Execution run = RunScript(R"py(import os
def main():
    os.write(3, b"garbage\n")
    raise ValueError("the real failure")
)py");
  ASSERT_EQ(VerdictOf(run), "exception") << run.outcome.message;
  EXPECT_EQ(run.outcome.exception_type, "ValueError");
  EXPECT_EQ(run.outcome.message, "ValueError: the real failure");
}

TEST(OutputResultChannel, GarbageOnFd3ThenReturning_YieldsTheRealResult) {
  const service::Execution run = RunScript(R"py(import os
def main():
    os.write(3, b"{not json")
    return {"real": True}
)py");
  ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message;
  EXPECT_EQ(run.outcome.result_json, R"({"real":true})");
}

TEST(OutputResultChannel, FakeEnvelopeOnFd3ThenExitZero_IsNotOk) {
  const service::Execution run = RunScript(R"py(import os
def main():
    os.write(3, b'{"status": "ok"}\n42')
    os._exit(0)
)py");
  EXPECT_EQ(VerdictOf(run), "exit") << run.outcome.result_json;
  EXPECT_EQ(run.outcome.exit_code, 0);
}

// What the engine cannot prevent, and why it does not matter: the script owns its process, so
// it can find its own result channel and write a well-formed envelope. That only ever forges
// the script's own verdict, which it could produce honestly by returning the value. The engine
// believes an envelope only when the process then exits 0.
constexpr char kForgeOnTheRealChannel[] = R"py(import os, stat
def channel():
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            is_pipe = stat.S_ISFIFO(os.fstat(fd).st_mode)
        except OSError:
            continue
        if fd > 2 and is_pipe:
            return fd
    raise RuntimeError("no result channel found")
def main():
    os.write(channel(), b'{"status": "ok"}\n42')
    os._exit(EXIT_CODE)
)py";

std::string ForgeThenExit(int code) {
  std::string script = kForgeOnTheRealChannel;
  script.replace(script.find("EXIT_CODE"), 9, std::to_string(code));
  return script;
}

TEST(OutputResultChannel, EnvelopeForgedOnTheRealChannel_IsNotBelievedWhenTheProcessFails) {
  const service::Execution run = RunScript(ForgeThenExit(1));
  ASSERT_EQ(VerdictOf(run), "exit") << run.outcome.message << run.outcome.result_json;
  EXPECT_EQ(run.outcome.exit_code, 1);
  EXPECT_EQ(run.outcome.result_json, "");
}

// The positive control of the test above: the forgery does reach the channel, and with exit 0
// it is the script's (own) result.
TEST(OutputResultChannel, EnvelopeForgedOnTheRealChannel_IsTheScriptsOwnResultOnExitZero) {
  const service::Execution run = RunScript(ForgeThenExit(0));
  ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message;
  EXPECT_EQ(run.outcome.result_json, "42");
}

TEST(OutputResultChannel, EnvelopeForgedWithAnInvalidResult_IsNotSerializable) {
  std::string script = ForgeThenExit(0);
  script.replace(script.find("\\n42"), 4, "\\n{bad");
  const service::Execution run = RunScript(script);
  EXPECT_EQ(VerdictOf(run), "not_serializable") << run.outcome.message;
  EXPECT_EQ(run.outcome.result_json, "");
}

}  // namespace
}  // namespace pyexec::testing
