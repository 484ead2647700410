// Every verdict an execution can end with, produced by the real engine: the zygote, CPython
// with numpy and pandas, the kernel's signals and cgroups.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "support/engine_fixture.h"

namespace pyexec::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

service::Limits WithTimeout(std::chrono::milliseconds timeout) {
  service::Limits limits = DefaultLimits();
  limits.timeout = timeout;
  return limits;
}

service::Limits WithMemory(uint64_t bytes) {
  service::Limits limits = DefaultLimits();
  limits.memory_bytes = bytes;
  return limits;
}

TEST(VerdictOk, ReferenceExample_ReturnsStatusFiveAndPrintsHello) {
  const service::Execution run = RunScript(ReferenceExample());
  ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message << run.stderr_data;
  EXPECT_EQ(nlohmann::json::parse(run.outcome.result_json), nlohmann::json({{"status", 5}}));
  EXPECT_EQ(run.outcome.result_json, R"({"status":5})");
  EXPECT_EQ(run.stdout_data, "Hello\n");
  EXPECT_EQ(run.stderr_data, "");
  EXPECT_FALSE(run.stdout_truncated);
  EXPECT_FALSE(run.stderr_truncated);
}

TEST(VerdictOk, MainReturningNone_IsOkWithJsonNull) {
  const service::Execution run = RunScript("def main():\n    pass\n");
  ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message;
  EXPECT_EQ(run.outcome.result_json, "null");
}

TEST(VerdictSyntaxError, ReportsLineAndColumn) {
  const service::Execution run = RunScript("def main():\n    return 1 +\n");
  ASSERT_EQ(VerdictOf(run), "syntax_error") << run.outcome.message;
  EXPECT_EQ(run.outcome.exception_type, "SyntaxError");
  EXPECT_EQ(run.outcome.line, 2);
  EXPECT_EQ(run.outcome.column, 15);
  EXPECT_THAT(run.outcome.message, HasSubstr("invalid syntax"));
  EXPECT_EQ(run.outcome.result_json, "");
}

TEST(VerdictSyntaxError, IndentationErrorReportsItsLine) {
  const service::Execution run = RunScript("def main():\n    x = 1\n      y = 2\n");
  ASSERT_EQ(VerdictOf(run), "syntax_error") << run.outcome.message;
  EXPECT_EQ(run.outcome.exception_type, "IndentationError");
  EXPECT_EQ(run.outcome.line, 3);
}

TEST(VerdictSyntaxError, NulByteInSourceIsASyntaxError) {
  const service::Execution run = RunScript(std::string("def main():\n    return 1\0\n", 26));
  EXPECT_EQ(VerdictOf(run), "syntax_error") << run.outcome.message;
}

TEST(VerdictMissingMain, WhenNothingIsNamedMain) {
  const service::Execution run = RunScript("x = 1\ndef helper():\n    return 2\n");
  ASSERT_EQ(VerdictOf(run), "missing_main");
  EXPECT_THAT(run.outcome.message, HasSubstr("defines nothing named main"));
}

TEST(VerdictMissingMain, WhenMainIsNotCallable) {
  const service::Execution run = RunScript("main = 3\n");
  ASSERT_EQ(VerdictOf(run), "missing_main");
  EXPECT_THAT(run.outcome.message, HasSubstr("a int named main"));
}

TEST(VerdictException, ReportsTypeMessageAndTheScriptsFramesOnly) {
  const service::Execution run = RunScript(R"py(
def helper():
    raise ValueError("boom")

def main():
    helper()
)py");
  ASSERT_EQ(VerdictOf(run), "exception") << run.outcome.message;
  EXPECT_EQ(run.outcome.exception_type, "ValueError");
  EXPECT_EQ(run.outcome.message, "ValueError: boom");
  EXPECT_THAT(run.outcome.traceback, HasSubstr("File \"main.py\", line 6, in main"));
  EXPECT_THAT(run.outcome.traceback, HasSubstr("File \"main.py\", line 3, in helper"));
  EXPECT_THAT(run.outcome.traceback, HasSubstr("ValueError: boom"));
  EXPECT_THAT(run.outcome.traceback, Not(HasSubstr("pyexec_runner")));
}

// The positive control of the check above: the runner's frames do sit under the script's and
// are named after pyexec_runner, so a traceback that kept them would be noticed.
TEST(VerdictException, RunnerFramesAreOnTheStack_SoTheTracebackFilterIsObservable) {
  const service::Execution run = RunScript(R"py(
import traceback
def main():
    return "".join(traceback.format_stack())
)py");
  ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message;
  const std::string stack = nlohmann::json::parse(run.outcome.result_json).get<std::string>();
  EXPECT_THAT(stack, HasSubstr("pyexec_runner"));
  EXPECT_THAT(stack, HasSubstr("main.py"));
}

TEST(VerdictException, RaisedAtModuleLevel_IsAnException) {
  const service::Execution run = RunScript("import json\njson.loads('{')\ndef main():\n  pass\n");
  ASSERT_EQ(VerdictOf(run), "exception") << run.outcome.message;
  EXPECT_EQ(run.outcome.exception_type, "json.JSONDecodeError");
  EXPECT_THAT(run.outcome.traceback, HasSubstr("File \"main.py\", line 2, in <module>"));
}

TEST(VerdictException, KeyboardInterruptRaisedByTheScript_IsAnException) {
  const service::Execution run = RunScript("def main():\n    raise KeyboardInterrupt\n");
  ASSERT_EQ(VerdictOf(run), "exception") << run.outcome.message;
  EXPECT_EQ(run.outcome.exception_type, "KeyboardInterrupt");
}

struct Unserializable {
  const char* name;
  const char* expression;  // what main() returns
  const char* path;
  const char* reason;
};

// Names the case in test listings instead of dumping its bytes.
void PrintTo(const Unserializable& value, std::ostream* os) { *os << value.name; }

class VerdictNotSerializable : public ::testing::TestWithParam<Unserializable> {};

TEST_P(VerdictNotSerializable, NamesThePathOfTheBadValue) {
  const Unserializable& param = GetParam();
  const service::Execution run = RunScript(std::string("import numpy as np\n"
                                                       "def main():\n"
                                                       "    circular = [1]\n"
                                                       "    circular.append(circular)\n"
                                                       "    return ") +
                                           param.expression + "\n");
  ASSERT_EQ(VerdictOf(run), "not_serializable") << run.outcome.message;
  EXPECT_EQ(run.outcome.path, param.path);
  EXPECT_THAT(run.outcome.message, HasSubstr(param.path));
  EXPECT_THAT(run.outcome.message, HasSubstr(param.reason));
  EXPECT_EQ(run.outcome.result_json, "");
}

INSTANTIATE_TEST_SUITE_P(
    Values, VerdictNotSerializable,
    ::testing::Values(
        Unserializable{"NaN", R"({"a": [1, float("nan")]})", "result['a'][1]", "nan"},
        Unserializable{"Infinity", R"({"a": float("inf")})", "result['a']", "inf"},
        Unserializable{"NegativeInfinity", R"([float("-inf")])", "result[0]", "-inf"},
        Unserializable{"Set", R"({"s": {1, 2}})", "result['s']", "set"},
        Unserializable{"Bytes", R"([b"x"])", "result[0]", "bytes"},
        Unserializable{"Lambda", R"({"f": lambda: 1})", "result['f']", "function"},
        Unserializable{"CircularList", R"({"c": circular})", "result['c'][1]",
                       "circular reference"},
        Unserializable{"NumpyInt64", R"({"n": np.int64(3)})", "result['n']", "numpy.int64"},
        Unserializable{"TopLevelObject", "object()", "result", "object"},
        Unserializable{"TupleDictKey", R"({(1, 2): 3})", "result", "dict key of type tuple"}),
    [](const ::testing::TestParamInfo<Unserializable>& param_info) {
      return param_info.param.name;
    });

TEST(VerdictTimeout, SleepingPastTheDeadline) {
  const service::Execution run = RunScript("import time\ndef main():\n    time.sleep(30)\n",
                                           WithTimeout(std::chrono::seconds(1)));
  ASSERT_EQ(VerdictOf(run), "timeout") << run.outcome.message;
  EXPECT_THAT(run.outcome.message, HasSubstr("1000 ms"));
}

TEST(VerdictTimeout, BusyLoop) {
  const service::Execution run = RunScript("def main():\n    while True:\n        pass\n",
                                           WithTimeout(std::chrono::seconds(1)));
  ASSERT_EQ(VerdictOf(run), "timeout") << run.outcome.message;
}

TEST(VerdictTimeout, SleepingAtModuleLevel) {
  const service::Execution run = RunScript("import time\ntime.sleep(30)\ndef main():\n  pass\n",
                                           WithTimeout(std::chrono::seconds(1)));
  ASSERT_EQ(VerdictOf(run), "timeout") << run.outcome.message;
}

constexpr char kBytearray200MiB[] = R"py(
def main():
    block = bytearray(200 * 1024 * 1024)
    return len(block)
)py";

// np.ones writes every page (np.zeros might not touch them at all).
constexpr char kNumpy200MiB[] = R"py(
import numpy as np
def main():
    block = np.ones(200 * 1024 * 1024 // 8)
    return int(block.sum())
)py";

TEST(VerdictMemoryLimit, BytearrayBeyondALoweredLimit) {
  const service::Execution run = RunScript(kBytearray200MiB, WithMemory(64 * service::kMiB));
  ASSERT_EQ(VerdictOf(run), "memory_limit") << run.outcome.message << run.outcome.result_json;
  EXPECT_THAT(run.outcome.message, HasSubstr("64 MiB"));
}

TEST(VerdictMemoryLimit, NumpyArrayBeyondALoweredLimit) {
  const service::Execution run = RunScript(kNumpy200MiB, WithMemory(64 * service::kMiB));
  ASSERT_EQ(VerdictOf(run), "memory_limit") << run.outcome.message << run.outcome.result_json;
}

// The positive control of the two above: the same allocations under the default limit succeed,
// so the verdict comes from the lowered limit and not from the allocation itself.
TEST(VerdictMemoryLimit, SameAllocationsUnderTheDefaultLimit_AreOk) {
  const service::Execution bytes = RunScript(kBytearray200MiB);
  ASSERT_EQ(VerdictOf(bytes), "ok") << bytes.outcome.message;
  EXPECT_EQ(bytes.outcome.result_json, std::to_string(200 * 1024 * 1024));
  const service::Execution array = RunScript(kNumpy200MiB);
  ASSERT_EQ(VerdictOf(array), "ok") << array.outcome.message;
  EXPECT_EQ(array.outcome.result_json, std::to_string(200 * 1024 * 1024 / 8));
}

TEST(VerdictKilled, SegfaultReportsSignal11) {
  const service::Execution run = RunScript(ReadPayload("segfault_is_killed.py"));
  ASSERT_EQ(VerdictOf(run), "killed") << run.outcome.message;
  EXPECT_EQ(run.outcome.signal, 11);
  EXPECT_THAT(run.outcome.message, HasSubstr("SIGSEGV"));
}

TEST(VerdictKilled, SigkillToItselfReportsSignal9) {
  const service::Execution run = RunScript("import os\ndef main():\n    os.kill(os.getpid(), 9)\n");
  ASSERT_EQ(VerdictOf(run), "killed") << run.outcome.message;
  EXPECT_EQ(run.outcome.signal, 9);
}

TEST(VerdictKilled, AbortReportsSignal6) {
  const service::Execution run = RunScript("import os\ndef main():\n    os.abort()\n");
  ASSERT_EQ(VerdictOf(run), "killed") << run.outcome.message;
  EXPECT_EQ(run.outcome.signal, 6);
}

TEST(VerdictExit, SysExitInMainReportsItsCode) {
  const service::Execution run = RunScript("import sys\ndef main():\n    sys.exit(3)\n");
  ASSERT_EQ(VerdictOf(run), "exit") << run.outcome.message;
  EXPECT_EQ(run.outcome.exit_code, 3);
}

TEST(VerdictExit, SysExitWithoutArgumentIsCodeZeroButNotOk) {
  const service::Execution run = RunScript("import sys\ndef main():\n    sys.exit()\n");
  ASSERT_EQ(VerdictOf(run), "exit") << run.outcome.message;
  EXPECT_EQ(run.outcome.exit_code, 0);
}

TEST(VerdictExit, SysExitWithAMessagePrintsItAndIsCodeOne) {
  const service::Execution run = RunScript("import sys\ndef main():\n    sys.exit('bye')\n");
  ASSERT_EQ(VerdictOf(run), "exit") << run.outcome.message;
  EXPECT_EQ(run.outcome.exit_code, 1);
  EXPECT_EQ(run.stderr_data, "bye\n");
}

TEST(VerdictExit, OsExitAtModuleLevelReportsItsCode) {
  const service::Execution run = RunScript("import os\nos._exit(7)\ndef main():\n    return 1\n");
  ASSERT_EQ(VerdictOf(run), "exit") << run.outcome.message;
  EXPECT_EQ(run.outcome.exit_code, 7);
}

TEST(VerdictExit, OsExitZeroAfterPrintingAFakeResult_IsNotOk) {
  const service::Execution run = RunScript(R"py(
import os
def main():
    print('{"status": "ok", "result": 5}')
    os._exit(0)
)py");
  ASSERT_EQ(VerdictOf(run), "exit") << run.outcome.message;
  EXPECT_EQ(run.outcome.exit_code, 0);
  EXPECT_EQ(run.outcome.result_json, "");
  EXPECT_EQ(run.stdout_data, "{\"status\": \"ok\", \"result\": 5}\n");
}

TEST(VerdictResultTooLarge, BeyondALoweredResultLimit) {
  service::Limits limits = DefaultLimits();
  limits.result_bytes = 1000;
  const service::Execution run = RunScript("def main():\n    return 'x' * 5000\n", limits);
  ASSERT_EQ(VerdictOf(run), "result_too_large") << run.outcome.message;
  EXPECT_THAT(run.outcome.message, HasSubstr("5002"));
  EXPECT_THAT(run.outcome.message, HasSubstr("1000"));
  EXPECT_EQ(run.outcome.result_json, "");
}

// The positive control: a result just under the same limit passes.
TEST(VerdictResultTooLarge, JustUnderTheLoweredLimit_IsOk) {
  service::Limits limits = DefaultLimits();
  limits.result_bytes = 1000;
  const service::Execution run = RunScript("def main():\n    return 'x' * 998\n", limits);
  ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message;
  EXPECT_EQ(run.outcome.result_json.size(), 1000u);
}

}  // namespace
}  // namespace pyexec::testing
