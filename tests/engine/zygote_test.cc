// The zygote's life as the engine sees it: it is restarted when it dies, an execution in flight
// when it dies fails with kZygoteDied (and takes nothing down with it), and executions on
// several threads run at the same time.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "support/engine_fixture.h"
#include "sys/files.h"
#include "sys/unique_fd.h"

namespace pyexec::testing {
namespace {

// Kills `pid` and waits (bounded) until it has exited, through a pidfd: it becomes readable
// when the process exits, whoever its parent is (pidfd_open(2)).
::testing::AssertionResult KillAndAwaitExit(pid_t pid) {
  sys::UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) {
    return ::testing::AssertionFailure() << "pidfd_open(" << pid << "): " << errno;
  }
  if (kill(pid, SIGKILL) != 0) {
    return ::testing::AssertionFailure() << "kill(" << pid << "): " << errno;
  }
  pollfd polled{pidfd.get(), POLLIN, 0};
  if (poll(&polled, 1, 30000) != 1) {
    return ::testing::AssertionFailure() << "process " << pid << " did not exit in 30 s";
  }
  return ::testing::AssertionSuccess();
}

TEST(Zygote, IsRestartedAfterBeingKilled) {
  service::Engine& engine = SharedEngine();
  ASSERT_EQ(VerdictOf(RunScript(ReferenceExample())), "ok");
  const pid_t before = engine.zygote_pid();
  ASSERT_GT(before, 0);
  ASSERT_TRUE(KillAndAwaitExit(before));

  const service::Execution run = RunScript(ReferenceExample());
  ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message << run.stderr_data;
  EXPECT_EQ(run.outcome.result_json, R"({"status":5})");
  EXPECT_EQ(run.stdout_data, "Hello\n");
  const pid_t after = engine.zygote_pid();
  EXPECT_GT(after, 0);
  EXPECT_NE(after, before);
}

TEST(Zygote, ExecutionInFlightWhenItDies_FailsWithZygoteDied) {
  service::Engine& engine = SharedEngine();
  Result<sys::TempDir> dir = sys::TempDir::Create("/tmp", "pyexec-zygote-test-");
  ASSERT_TRUE(dir.ok()) << dir.error().ToString();
  const std::string started = dir->path() + "/started";
  const std::string script =
      "import time\ndef main():\n    open('" + started + "', 'w').close()\n    time.sleep(60)\n";
  service::Limits limits = DefaultLimits();
  limits.timeout = std::chrono::seconds(25);  // the engine's own bound if the kill were missed

  std::optional<Result<service::Execution>> outcome;
  std::thread runner([&] { outcome.emplace(engine.Run(script, limits)); });
  const bool running = AwaitFile(started, std::chrono::seconds(30));
  const pid_t zygote = engine.zygote_pid();
  if (running) {
    EXPECT_TRUE(KillAndAwaitExit(zygote));
  }
  runner.join();
  ASSERT_TRUE(running) << "the script never started";
  ASSERT_TRUE(outcome.has_value());
  ASSERT_FALSE(outcome->ok()) << "verdict " << VerdictOf(outcome->value());
  EXPECT_EQ(outcome->error().code, ErrorCode::kZygoteDied) << outcome->error().ToString();

  // The engine recovers: the next execution runs on a new zygote.
  const service::Execution next = RunScript(ReferenceExample());
  EXPECT_EQ(VerdictOf(next), "ok") << next.outcome.message;
  EXPECT_NE(engine.zygote_pid(), zygote);
}

TEST(Zygote, TwoExecutionsOnTwoThreadsRunConcurrently) {
  service::Engine& engine = SharedEngine();
  Result<sys::TempDir> dir = sys::TempDir::Create("/tmp", "pyexec-zygote-test-");
  ASSERT_TRUE(dir.ok()) << dir.error().ToString();
  // Each script announces itself, then waits (bounded) for the other: run one after the other,
  // the first would give up and report false.
  const auto script_for = [&dir](const std::string& self, const std::string& other) {
    return "import os, time\n"
           "def main():\n"
           "    open('" +
           dir->path() + "/" + self +
           "', 'w').close()\n"
           "    deadline = time.monotonic() + 10\n"
           "    while time.monotonic() < deadline:\n"
           "        if os.path.exists('" +
           dir->path() + "/" + other +
           "'):\n"
           "            print('" +
           self +
           "')\n"
           "            return True\n"
           "        time.sleep(0.005)\n"
           "    return False\n";
  };
  const std::string script_a = script_for("a", "b");
  const std::string script_b = script_for("b", "a");
  std::optional<Result<service::Execution>> run_a;
  std::optional<Result<service::Execution>> run_b;
  std::thread thread_a([&] { run_a.emplace(engine.Run(script_a, DefaultLimits())); });
  std::thread thread_b([&] { run_b.emplace(engine.Run(script_b, DefaultLimits())); });
  thread_a.join();
  thread_b.join();
  ASSERT_TRUE(run_a.has_value() && run_b.has_value());
  ASSERT_TRUE(run_a->ok()) << run_a->error().ToString();
  ASSERT_TRUE(run_b->ok()) << run_b->error().ToString();
  EXPECT_EQ(VerdictOf(run_a->value()), "ok") << run_a->value().outcome.message;
  EXPECT_EQ(VerdictOf(run_b->value()), "ok") << run_b->value().outcome.message;
  EXPECT_EQ(run_a->value().outcome.result_json, "true");
  EXPECT_EQ(run_b->value().outcome.result_json, "true");
  EXPECT_EQ(run_a->value().stdout_data, "a\n");
  EXPECT_EQ(run_b->value().stdout_data, "b\n");
}

}  // namespace
}  // namespace pyexec::testing
