// `pyexec run` as a user calls it: the real binary, its JSON on stdout, its exit codes
// (0 ok, 1 the script failed, 2 usage error) and its flags and environment variables.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/command.h"
#include "support/engine_fixture.h"
#include "sys/files.h"
#include "zygote/client.h"

namespace pyexec::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

// A directory with scripts written into it, removed at the end of the test.
class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<sys::TempDir> dir = sys::TempDir::Create("/tmp", "pyexec-cli-test-");
    ASSERT_TRUE(dir.ok()) << dir.error().ToString();
    dir_ = std::move(dir).value();
  }

  std::string WriteScript(const std::string& name, const std::string& text) {
    std::string path = dir_.path() + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  // The single JSON object `pyexec run` prints, or a failure naming what it printed instead.
  static nlohmann::json ParseOutput(const CommandResult& result) {
    nlohmann::json parsed = nlohmann::json::parse(result.out, nullptr, false);
    EXPECT_TRUE(parsed.is_object()) << "stdout: " << result.out << "\nstderr: " << result.err;
    return parsed;
  }

  sys::TempDir dir_;
};

TEST_F(Cli, RunFile_PrintsOneJsonObjectWithTheResultAndExitsZero) {
  const CommandResult result = RunPyexec({"run", WriteScript("ok.py", ReferenceExample())});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  // Exactly one line: the object, then a newline.
  ASSERT_FALSE(result.out.empty());
  EXPECT_EQ(result.out.find('\n'), result.out.size() - 1) << result.out;
  nlohmann::json output = ParseOutput(result);
  EXPECT_EQ(output["status"], "ok");
  EXPECT_EQ(output["result"], nlohmann::json({{"status", 5}}));
  EXPECT_EQ(output["stdout"], "Hello\n");
  EXPECT_EQ(output["stderr"], "");
  EXPECT_EQ(output["truncated"], nlohmann::json({{"stdout", false}, {"stderr", false}}));
  EXPECT_FALSE(output.contains("error")) << output;
  EXPECT_TRUE(output["usage"]["wall_ms"].is_number_integer()) << output;
}

TEST_F(Cli, ScriptFailure_ExitsOneWithTheVerdict) {
  const CommandResult result =
      RunPyexec({"run", WriteScript("fail.py", "def main():\n    return 1 / 0\n")});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  nlohmann::json output = ParseOutput(result);
  EXPECT_EQ(output["status"], "exception");
  EXPECT_EQ(output["result"], nullptr);
  EXPECT_EQ(output["error"]["type"], "exception");
  EXPECT_EQ(output["error"]["exception"], "ZeroDivisionError");
  EXPECT_THAT(output["error"]["traceback"].get<std::string>(), HasSubstr("main.py"));
}

TEST_F(Cli, MissingFile_ExitsTwo) {
  const CommandResult result = RunPyexec({"run", dir_.path() + "/does-not-exist.py"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("cannot read"));
  EXPECT_THAT(result.out, IsEmpty());
}

TEST_F(Cli, Directory_ExitsTwoWithAMessage) {
  const CommandResult run = RunPyexec({"run", "/tmp"});
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_THAT(run.err, HasSubstr("is a directory"));
  EXPECT_THAT(run.out, IsEmpty());
}

TEST_F(Cli, TimeoutAboveTheMaximum_ExitsTwoWithAMessage) {
  const CommandResult result =
      RunPyexec({"run", "--timeout", "100", WriteScript("ok.py", ReferenceExample())});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("timeout"));
  EXPECT_THAT(result.err, HasSubstr("30"));
  EXPECT_THAT(result.out, IsEmpty());
}

TEST_F(Cli, TimeoutWithinTheMaximum_IsAccepted) {
  const CommandResult result =
      RunPyexec({"run", "--timeout", "10", WriteScript("ok.py", ReferenceExample())});
  EXPECT_EQ(result.exit_code, 0) << result.err;
}

TEST_F(Cli, MemoryBelowTheFloor_ExitsTwoWithAMessage) {
  const CommandResult result =
      RunPyexec({"run", "--memory-mb", "8", WriteScript("ok.py", ReferenceExample())});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("memory_mb"));
  EXPECT_THAT(result.out, IsEmpty());
}

TEST_F(Cli, TimeoutFlag_LimitsTheScript) {
  const CommandResult result =
      RunPyexec({"run", "--timeout", "1",
                 WriteScript("sleep.py", "import time\ndef main():\n    time.sleep(30)\n")});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_EQ(ParseOutput(result)["status"], "timeout");
}

TEST_F(Cli, MemoryFlag_LimitsTheScript) {
  const CommandResult result = RunPyexec(
      {"run", "--memory-mb", "64",
       WriteScript("big.py", "def main():\n    return len(bytearray(200 * 1024 * 1024))\n")});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_EQ(ParseOutput(result)["status"], "memory_limit");
}

TEST_F(Cli, Dash_ReadsTheScriptFromStdin) {
  const CommandResult result = RunPyexec({"run", "-"}, ReferenceExample());
  EXPECT_EQ(result.exit_code, 0) << result.err;
  nlohmann::json output = ParseOutput(result);
  EXPECT_EQ(output["result"], nlohmann::json({{"status", 5}}));
  EXPECT_EQ(output["stdout"], "Hello\n");
}

TEST_F(Cli, Help_ExitsZeroAndMentionsRun) {
  const CommandResult result = RunPyexec({"--help"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_THAT(result.out + result.err, HasSubstr("run"));
}

TEST_F(Cli, Version_ExitsZeroAndPrintsTheName) {
  const CommandResult result = RunPyexec({"--version"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_THAT(result.out, StartsWith("pyexec "));
}

TEST_F(Cli, NoSubcommand_ExitsTwo) {
  const CommandResult result = RunPyexec({});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_FALSE(result.err.empty());
}

TEST_F(Cli, UnknownFlag_ExitsTwo) {
  const CommandResult result =
      RunPyexec({"run", "--no-such-flag", WriteScript("ok.py", ReferenceExample())});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("no-such-flag"));
}

TEST_F(Cli, UnknownSubcommand_ExitsTwo) {
  const CommandResult result = RunPyexec({"frobnicate"});
  EXPECT_EQ(result.exit_code, 2);
}

TEST_F(Cli, MaxTimeoutEnvironmentVariable_LowersTheMaximum) {
  const std::string script = WriteScript("ok.py", ReferenceExample());
  std::vector<std::string> env = zygote::ZygoteEnvironment();
  env.emplace_back("PYEXEC_MAX_TIMEOUT=5");
  // 10 s is accepted by default (TimeoutWithinTheMaximum_IsAccepted), refused under a 5 s max.
  const CommandResult refused =
      RunCommand({PYEXEC_BINARY, "run", "--timeout", "10", script}, "", env);
  EXPECT_EQ(refused.exit_code, 2) << refused.out;
  EXPECT_THAT(refused.err, HasSubstr("timeout"));
  EXPECT_THAT(refused.err, HasSubstr("5"));
  const CommandResult accepted =
      RunCommand({PYEXEC_BINARY, "run", "--timeout", "4", script}, "", env);
  EXPECT_EQ(accepted.exit_code, 0) << accepted.err;
}

}  // namespace
}  // namespace pyexec::testing
