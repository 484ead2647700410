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
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

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
  const zygote::ZygoteStats alive = engine.zygote_stats();
  EXPECT_EQ(alive.pid, before);
  ASSERT_TRUE(KillAndAwaitExit(before));

  const service::Execution run = RunScript(ReferenceExample());
  ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message << run.stderr_data;
  EXPECT_EQ(run.outcome.result_json, R"({"status":5})");
  EXPECT_EQ(run.stdout_data, "Hello\n");
  const pid_t after = engine.zygote_pid();
  EXPECT_GT(after, 0);
  EXPECT_NE(after, before);
  // The restart is on record, with how the zygote ended (counts are the shared engine's, so
  // they are compared with what they were before this kill).
  const zygote::ZygoteStats restarted = engine.zygote_stats();
  EXPECT_EQ(restarted.pid, after);
  EXPECT_EQ(restarted.restarts, alive.restarts + 1);
  EXPECT_EQ(restarted.deaths, alive.deaths + 1);
  EXPECT_EQ(restarted.failed_starts, alive.failed_starts);
  EXPECT_THAT(restarted.last_exit, ::testing::HasSubstr("signal 9"));
  EXPECT_GT(restarted.last_exit_at, alive.last_exit_at);
  EXPECT_EQ(restarted.start_error, "");
}

TEST(Zygote, ExecutionInFlightWhenItDies_FailsWithZygoteDied) {
  service::Engine& engine = SharedEngine();
  const std::string started = "pyexec-zygote-test-" + std::to_string(getpid());
  const std::string script = "import time\ndef main():\n    open('/tmp/" + started +
                             "', 'w').close()\n    time.sleep(60)\n";
  service::Limits limits = DefaultLimits();
  limits.timeout = std::chrono::seconds(25);  // the engine's own bound if the kill were missed

  std::optional<Result<service::Execution>> outcome;
  std::thread runner([&] { outcome.emplace(engine.Run(script, limits)); });
  const pid_t zygote = engine.zygote_pid();
  const bool running = AwaitJailMarker(zygote, started, 1, std::chrono::seconds(30)).size() == 1;
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
  // Each script announces itself in its private /tmp, then waits (bounded) for the test's
  // go-ahead, which the test gives only once it has seen both announcements at the same time:
  // run one after the other, the first would give up and report false.
  const std::string ready = "pyexec-zygote-ready-" + std::to_string(getpid());
  const std::string script =
      "import os, time\n"
      "def main():\n"
      "    open('/tmp/" +
      ready +
      "', 'w').close()\n"
      "    deadline = time.monotonic() + 20\n"
      "    while time.monotonic() < deadline:\n"
      "        if os.path.exists('/tmp/go'):\n"
      "            return True\n"
      "        time.sleep(0.005)\n"
      "    return False\n";
  std::optional<Result<service::Execution>> run_a;
  std::optional<Result<service::Execution>> run_b;
  std::thread thread_a([&] { run_a.emplace(engine.Run(script, DefaultLimits())); });
  std::thread thread_b([&] { run_b.emplace(engine.Run(script, DefaultLimits())); });
  const std::vector<pid_t> both =
      AwaitJailMarker(engine.zygote_pid(), ready, 2, std::chrono::seconds(30));
  for (pid_t pid : both) {
    std::ofstream("/proc/" + std::to_string(pid) + "/root/tmp/go").put('1');
  }
  thread_a.join();
  thread_b.join();
  EXPECT_EQ(both.size(), 2u) << "the two scripts never ran at the same time";
  ASSERT_TRUE(run_a.has_value() && run_b.has_value());
  ASSERT_TRUE(run_a->ok()) << run_a->error().ToString();
  ASSERT_TRUE(run_b->ok()) << run_b->error().ToString();
  EXPECT_EQ(VerdictOf(run_a->value()), "ok") << run_a->value().outcome.message;
  EXPECT_EQ(VerdictOf(run_b->value()), "ok") << run_b->value().outcome.message;
  EXPECT_EQ(run_a->value().outcome.result_json, "true");
  EXPECT_EQ(run_b->value().outcome.result_json, "true");
}

}  // namespace
}  // namespace pyexec::testing
