// Each limit of an execution, enforced by the real kernel: memory and pids through cgroups,
// CPU time, file size and open files through rlimits, and the rlimit fallback without cgroups.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "support/engine_fixture.h"

namespace pyexec::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kAllocate100MiB[] = R"py(
def main():
    block = bytearray(100 * 1024 * 1024)
    return len(block)
)py";

nlohmann::json ResultOf(const service::Execution& run) {
  return nlohmann::json::parse(run.outcome.result_json, nullptr, /*allow_exceptions=*/false);
}

TEST(MemoryLimit, HundredMiBUnderTheDefaultLimit_Succeeds) {
  const service::Execution run = RunScript(kAllocate100MiB);
  ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message;
  EXPECT_EQ(run.outcome.result_json, std::to_string(100 * 1024 * 1024));
  EXPECT_GE(run.usage.memory_peak_bytes, 100 * service::kMiB);
}

TEST(MemoryLimit, OneGiBUnderTheDefaultLimit_IsRefused) {
  const service::Execution run = RunScript(R"py(
def main():
    block = bytearray(1024 * 1024 * 1024)
    return len(block)
)py");
  ASSERT_EQ(VerdictOf(run), "memory_limit") << run.outcome.message;
  EXPECT_THAT(run.outcome.message, HasSubstr("512 MiB"));
}

TEST(MemoryLimit, LoweredLimit_RefusesWhatTheDefaultAllows) {
  service::Limits limits = DefaultLimits();
  limits.memory_bytes = 64 * service::kMiB;
  const service::Execution run = RunScript(kAllocate100MiB, limits);
  ASSERT_EQ(VerdictOf(run), "memory_limit") << run.outcome.message;
  EXPECT_THAT(run.outcome.message, HasSubstr("64 MiB"));
}

TEST(MemoryLimit, ManySmallAllocations_AreRefusedToo) {
  service::Limits limits = DefaultLimits();
  limits.memory_bytes = 64 * service::kMiB;
  constexpr char kTwoHundredMiBInMiBBlocks[] = R"py(
def main():
    blocks = [bytes(1024) * 1024 for _ in range(200)]
    return len(blocks)
)py";
  const service::Execution run = RunScript(kTwoHundredMiBInMiBBlocks, limits);
  ASSERT_EQ(VerdictOf(run), "memory_limit") << run.outcome.message << run.outcome.result_json;
}

TEST(PidsLimit, ForkBomb_IsStoppedByPidsLimit) {
  service::Limits limits = DefaultLimits();
  limits.pids = 32;
  const service::Execution run = RunScript(ReadPayload("fork_bomb_is_stopped.py"), limits);
  ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message << run.stderr_data;
  nlohmann::json result = ResultOf(run);
  // The payload stops itself at 256 children: an unlimited bomb would report 256 and no errno.
  EXPECT_EQ(result["errno"], EAGAIN) << result;
  EXPECT_LT(result["forked"].get<int>(), 32) << result;
  EXPECT_GT(result["forked"].get<int>(), 0) << result;
}

TEST(PidsLimit, ThreadsBeyondTheLimit_FailToStart) {
  service::Limits limits = DefaultLimits();
  limits.pids = 32;
  const service::Execution run =
      RunScript(ReadPayload("threads_beyond_limit_fail_to_start.py"), limits);
  ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message << run.stderr_data;
  nlohmann::json result = ResultOf(run);
  EXPECT_TRUE(result["refusal"].is_string()) << result;
  EXPECT_THAT(result["refusal"].dump(), HasSubstr("can't start new thread"));
  EXPECT_LT(result["started"].get<int>(), 32) << result;
  EXPECT_GT(result["started"].get<int>(), 0) << result;
}

TEST(FileSizeLimit, WritingBeyondTheLimit_FailsWithEFBIG) {
  service::Limits limits = DefaultLimits();
  limits.file_size_bytes = uint64_t{1024} * 1024;
  const service::Execution run = RunScript(ReadPayload("file_size_beyond_limit_fails.py"), limits);
  ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message << run.stderr_data;
  nlohmann::json result = ResultOf(run);
  EXPECT_EQ(result["small"], 512 * 1024) << result;  // under the limit: written in full
  EXPECT_EQ(result["errno"], EFBIG) << result;
  EXPECT_EQ(result["big"], 1024 * 1024) << result;  // the write stopped at the limit
}

TEST(OpenFilesLimit, OpeningBeyondTheLimit_FailsWithEMFILE) {
  service::Limits limits = DefaultLimits();
  limits.open_files = 32;
  const service::Execution run = RunScript(ReadPayload("open_files_beyond_limit_fail.py"), limits);
  ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message << run.stderr_data;
  nlohmann::json result = ResultOf(run);
  EXPECT_EQ(result["errno"], EMFILE) << result;
  // 0, 1, 2 and the runner's descriptors are already taken out of the 32.
  EXPECT_LT(result["opened"].get<int>(), 32) << result;
  EXPECT_GE(result["opened"].get<int>(), 20) << result;
}

TEST(CpuTimeLimit, BusyLoopBeyondTheCpuLimit_IsATimeoutAboutCpu) {
  service::Limits limits = DefaultLimits();
  limits.cpu_seconds = 1;
  limits.timeout = std::chrono::seconds(10);
  const service::Execution run = RunScript("def main():\n    while True:\n        pass\n", limits);
  ASSERT_EQ(VerdictOf(run), "timeout") << run.outcome.message;
  EXPECT_THAT(run.outcome.message, HasSubstr("CPU"));
}

// The positive control of the test above: sleeping uses no CPU, so the same CPU limit lets a
// script outlive it in wall-clock time.
TEST(CpuTimeLimit, SleepingPastTheCpuLimit_IsNotStopped) {
  service::Limits limits = DefaultLimits();
  limits.cpu_seconds = 1;
  limits.timeout = std::chrono::seconds(10);
  const service::Execution run =
      RunScript("import time\ndef main():\n    time.sleep(1.5)\n    return 'slept'\n", limits);
  ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message;
}

class RlimitFallback : public ::testing::Test {
 protected:
  void SetUp() override {
    service::EngineConfig config;
    config.cgroups = service::CgroupMode::kOff;
    Result<std::unique_ptr<service::Engine>> created = service::Engine::Create(config);
    ASSERT_TRUE(created.ok()) << created.error().ToString();
    engine_ = std::move(created).value();
  }

  service::Execution Run(std::string_view script, const service::Limits& limits) {
    Result<service::Execution> run = engine_->Run(script, limits);
    if (!run.ok()) {
      ADD_FAILURE() << run.error().ToString();
      return service::Execution{};
    }
    return std::move(run).value();
  }

  std::unique_ptr<service::Engine> engine_;
};

TEST_F(RlimitFallback, WithoutCgroups_MemoryIsLimitedByRlimitAs) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer reserves terabytes of address space: RLIMIT_AS cannot work";
#endif
  EXPECT_EQ(engine_->enforcement().cgroup_mode, "off");
  EXPECT_EQ(engine_->enforcement().memory, "rlimit (RLIMIT_AS)");
  service::Limits limits = DefaultLimits();
  limits.memory_bytes = 64 * service::kMiB;

  constexpr char kSmall[] = R"py(
import numpy as np
def main():
    return len(bytearray(16 * 1024 * 1024)) + int(np.ones(1024).sum())
)py";
  const service::Execution small = Run(kSmall, limits);
  ASSERT_EQ(VerdictOf(small), "ok") << small.outcome.message << small.stderr_data;

  constexpr char kLarge[] = R"py(
def main():
    block = bytearray(200 * 1024 * 1024)
    return len(block)
)py";
  const service::Execution large = Run(kLarge, limits);
  EXPECT_EQ(VerdictOf(large), "memory_limit") << large.outcome.message;
}

TEST_F(RlimitFallback, WithoutCgroups_TimeoutStillKillsTheScript) {
  service::Limits limits = DefaultLimits();
  limits.timeout = std::chrono::seconds(1);
  const service::Execution run = Run("import time\ndef main():\n    time.sleep(30)\n", limits);
  EXPECT_EQ(VerdictOf(run), "timeout") << run.outcome.message;
}

// Without a pids cgroup the only bound is RLIMIT_NPROC. The kernel ignores it for root
// (CAP_SYS_RESOURCE / CAP_SYS_ADMIN, see setrlimit(2) and fork(2)); a jailed script is never
// root, and in its own user namespace the count covers only its own processes.
TEST_F(RlimitFallback, WithoutCgroups_ForkBombIsStoppedByRlimitNproc) {
  EXPECT_EQ(engine_->enforcement().pids, "rlimit (RLIMIT_NPROC)");
  service::Limits limits = DefaultLimits();
  limits.pids = 32;
  const service::Execution run = Run(ReadPayload("fork_bomb_is_stopped.py"), limits);
  ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message << run.stderr_data;
  nlohmann::json result = ResultOf(run);
  EXPECT_EQ(result["errno"], EAGAIN) << result;
  EXPECT_LT(result["forked"].get<int>(), 32) << result;
}

// Unjailed (tests only) and as root, the engine must report the process count as unenforced
// rather than claim a limit the kernel would not apply.
TEST(RlimitFallbackUnjailed, AsRoot_PidsLimitIsReportedAsUnenforced) {
  const service::Enforcement unjailed =
      service::DescribeEnforcement(nullptr, service::CgroupMode::kOff, /*jail=*/false);
  const service::Enforcement jailed =
      service::DescribeEnforcement(nullptr, service::CgroupMode::kOff, /*jail=*/true);
  EXPECT_EQ(jailed.pids, "rlimit (RLIMIT_NPROC)");
  if (geteuid() == 0) {
    EXPECT_EQ(unjailed.pids, "none (RLIMIT_NPROC does not apply to root)");
  } else {
    EXPECT_EQ(unjailed.pids, "rlimit (RLIMIT_NPROC)");
  }
}

}  // namespace
}  // namespace pyexec::testing
