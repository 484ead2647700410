// Cancelling an execution: through the engine's cancel flag (what a dropped connection will
// use) and through SIGINT/SIGTERM to `pyexec run`. Either way the execution's processes are
// killed and cleaned up, and the caller learns it was cancelled.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "support/command.h"
#include "support/engine_fixture.h"
#include "sys/event_fd.h"
#include "sys/files.h"
#include "sys/process.h"
#include "zygote/client.h"

namespace pyexec::testing {
namespace {

// A script that records its pid in `marker` (so the test knows it runs, and which process to
// check afterwards), then sleeps far past any test's patience.
// Creates /tmp/<marker> in its jail, then sleeps past any test's patience.
std::string SleeperScript(const std::string& marker) {
  return "import time\n"
         "def main():\n"
         "    open('/tmp/" +
         marker +
         "', 'w').close()\n"
         "    time.sleep(60)\n";
}

std::string UniqueMarker() { return "pyexec-cancel-test-" + std::to_string(getpid()); }

TEST(Cancel, RaisingTheFlag_KillsTheExecutionAndReportsCancelled) {
  const std::string marker = UniqueMarker();
  Result<sys::EventFd> cancel = sys::EventFd::Create();
  ASSERT_TRUE(cancel.ok());
  SharedEngine();  // started before the thread: the zygote comes from a single thread

  std::optional<Result<service::Execution>> outcome;
  std::thread runner([&] {
    outcome.emplace(SharedEngine().Run(SleeperScript(marker), DefaultLimits(), &*cancel));
  });
  const std::vector<pid_t> running =
      AwaitJailMarker(SharedEngine().zygote_pid(), marker, 1, std::chrono::seconds(30));
  const bool started = running.size() == 1;
  const pid_t pid = started ? running[0] : 0;
  // Positive control: the probe sees the script's process while it runs.
  const bool seen_running = pid > 0 && ProcessRunning(pid);
  cancel->Raise();
  runner.join();

  ASSERT_TRUE(started) << "the script never ran";
  EXPECT_TRUE(seen_running);
  ASSERT_TRUE(outcome.has_value());
  ASSERT_FALSE(outcome->ok()) << "a cancelled execution must not report a verdict";
  EXPECT_EQ(outcome->error().code, ErrorCode::kCancelled) << outcome->error().ToString();
  EXPECT_FALSE(ProcessRunning(pid));
}

TEST(Cancel, SigintToPyexecRun_KillsTheExecutionAndExits130) {
  Result<sys::TempDir> dir = sys::TempDir::Create("/tmp", "pyexec-cancel-test-");
  ASSERT_TRUE(dir.ok());
  const std::string marker = UniqueMarker();
  const std::string script_path = dir->path() + "/sleeper.py";
  std::ofstream(script_path) << SleeperScript(marker);

  sys::SpawnSpec spec;
  spec.path = PYEXEC_BINARY;
  spec.argv = {PYEXEC_BINARY, "run", script_path};
  spec.env = zygote::ZygoteEnvironment();
  Result<sys::ChildProcess> pyexec = sys::Spawn(spec);
  ASSERT_TRUE(pyexec.ok()) << pyexec.error().ToString();
  const std::vector<pid_t> running =
      AwaitJailMarker(pyexec->pid(), marker, 1, std::chrono::seconds(60));
  const bool started = running.size() == 1;
  const pid_t pid = started ? running[0] : 0;
  const bool seen_running = pid > 0 && ProcessRunning(pid);
  ASSERT_TRUE(pyexec->Signal(SIGINT).ok());
  Result<int> status = pyexec->Wait();

  ASSERT_TRUE(started) << "the script never ran";
  EXPECT_TRUE(seen_running);
  ASSERT_TRUE(status.ok());
  ASSERT_TRUE(WIFEXITED(*status)) << sys::DescribeWaitStatus(*status);
  EXPECT_EQ(WEXITSTATUS(*status), 128 + SIGINT);
  EXPECT_FALSE(ProcessRunning(pid));
}

}  // namespace
}  // namespace pyexec::testing
