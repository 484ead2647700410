// The zygote's life as the engine sees it: it is restarted when it dies, an execution in flight
// when it dies fails with kZygoteDied (and takes nothing down with it), and executions on
// several threads run at the same time. And as its client sees it: a restart that fails is
// counted and retried by the next request; a zygote whose control socket has failed is given
// its grace, then killed, and replaced.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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
#include "zygote/client.h"
#include "zygote/protocol.h"

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

// A zygote client of the test's own, apart from the shared engine's; nothing preloaded, so that
// it starts in a fraction of a second.
std::unique_ptr<zygote::ZygoteClient> StartOwnZygote() {
  zygote::ZygoteOptions options;
  options.log_level = "error";
  Result<std::unique_ptr<zygote::ZygoteClient>> client = zygote::ZygoteClient::Start(options);
  if (!client.ok()) {
    ADD_FAILURE() << client.error().ToString();
    return nullptr;
  }
  return std::move(client).value();
}

// A request the zygote drops (it does not decode): sending it makes the client check its zygote,
// restart it if it has died, and reach it, without forking anything.
Status SendDroppedRequest(zygote::ZygoteClient& client) {
  zygote::ForkRequest request;
  request.magic = 0;
  return client.RequestFork(request, {});
}

// Shuts down the zygote's own end of its control socket (its descriptor 3, taken with
// pidfd_getfd(2)): the socket fails as if the zygote had broken it, whether or not it runs.
::testing::AssertionResult BreakControlSocket(int zygote_pidfd) {
  sys::UniqueFd socket(static_cast<int>(syscall(SYS_pidfd_getfd, zygote_pidfd, 3, 0)));
  if (!socket) {
    return ::testing::AssertionFailure() << "pidfd_getfd: " << errno;
  }
  if (shutdown(socket.get(), SHUT_RDWR) != 0) {
    return ::testing::AssertionFailure() << "shutdown: " << errno;
  }
  return ::testing::AssertionSuccess();
}

// While alive, lowers this process's descriptor limit to its lowest free descriptor, so that
// it can open none; restores the limit when it goes.
class NoFreeDescriptors {
 public:
  NoFreeDescriptors() {
    getrlimit(RLIMIT_NOFILE, &saved_);
    const int lowest_free = open("/dev/null", O_RDONLY | O_CLOEXEC);
    close(lowest_free);
    rlimit lowered = saved_;
    lowered.rlim_cur = static_cast<rlim_t>(lowest_free);
    applied_ = lowest_free >= 0 && setrlimit(RLIMIT_NOFILE, &lowered) == 0;
  }
  ~NoFreeDescriptors() { setrlimit(RLIMIT_NOFILE, &saved_); }
  NoFreeDescriptors(const NoFreeDescriptors&) = delete;
  NoFreeDescriptors& operator=(const NoFreeDescriptors&) = delete;
  bool applied() const { return applied_; }

 private:
  rlimit saved_{};
  bool applied_ = false;
};

TEST(Zygote, ARestartThatFails_IsCountedAndTheNextRequestTriesAgain) {
  std::unique_ptr<zygote::ZygoteClient> client = StartOwnZygote();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(KillAndAwaitExit(client->pid()));

  // The restart cannot make its control socket: the request fails, and nothing runs.
  Status refused = OkStatus();
  {
    NoFreeDescriptors limit;
    ASSERT_TRUE(limit.applied());
    // Positive control: the limit does refuse a new descriptor.
    const int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
    const int probe_errno = errno;
    if (probe >= 0) {
      close(probe);
    }
    ASSERT_LT(probe, 0);
    ASSERT_EQ(probe_errno, EMFILE);
    refused = SendDroppedRequest(*client);
  }
  ASSERT_FALSE(refused.ok());
  const zygote::ZygoteStats failed = client->stats();
  EXPECT_EQ(failed.pid, -1);
  EXPECT_EQ(failed.deaths, 1u);
  EXPECT_EQ(failed.failed_starts, 1u);
  EXPECT_EQ(failed.restarts, 0u);
  EXPECT_THAT(failed.last_exit, ::testing::HasSubstr("signal 9"));
  // /health's text names no path or errno: those are in the log only.
  EXPECT_EQ(failed.start_error, "a system call failed (the service log says which)");

  // With descriptors again, the next request starts a zygote and reaches it.
  const Status sent = SendDroppedRequest(*client);
  ASSERT_TRUE(sent.ok()) << sent.error().ToString();
  const zygote::ZygoteStats restarted = client->stats();
  EXPECT_GT(restarted.pid, 0);
  EXPECT_EQ(restarted.pid, client->pid());
  EXPECT_EQ(restarted.restarts, 1u);
  EXPECT_EQ(restarted.failed_starts, 1u);
  EXPECT_EQ(restarted.deaths, 1u);
  EXPECT_EQ(restarted.start_error, "");
}

TEST(Zygote, OneWhoseSocketFailedButThatStillRuns_IsKilledAndReplaced) {
  std::unique_ptr<zygote::ZygoteClient> client = StartOwnZygote();
  ASSERT_NE(client, nullptr);
  const pid_t stuck = client->pid();
  sys::UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, stuck, 0)));
  ASSERT_TRUE(pidfd) << errno;
  // Stopped, it cannot notice its socket's end and exit: only the client's kill ends it.
  ASSERT_EQ(kill(stuck, SIGSTOP), 0);
  siginfo_t info{};
  ASSERT_EQ(waitid(P_PIDFD, static_cast<id_t>(pidfd.get()), &info, WSTOPPED | WNOWAIT), 0) << errno;
  ASSERT_TRUE(BreakControlSocket(pidfd.get()));

  const Status sent = SendDroppedRequest(*client);
  ASSERT_TRUE(sent.ok()) << sent.error().ToString();
  EXPECT_NE(client->pid(), stuck);
  pollfd polled{pidfd.get(), POLLIN, 0};
  EXPECT_EQ(poll(&polled, 1, 0), 1) << "the stopped zygote still runs";
  const zygote::ZygoteStats replaced = client->stats();
  EXPECT_EQ(replaced.deaths, 1u);
  EXPECT_EQ(replaced.restarts, 1u);
  EXPECT_EQ(replaced.last_exit,
            "killed by signal 9 (SIGKILL) (its control socket had failed; pyexec killed it)");
}

TEST(Zygote, OneWhoseSocketFailedAndThatExits_IsReportedWithItsOwnStatus) {
  std::unique_ptr<zygote::ZygoteClient> client = StartOwnZygote();
  ASSERT_NE(client, nullptr);
  const pid_t broken = client->pid();
  sys::UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, broken, 0)));
  ASSERT_TRUE(pidfd) << errno;
  // It reads the end of its socket as the server's going, and exits 0: within the client's
  // grace, whether or not it has exited when the client finds the socket failed.
  ASSERT_TRUE(BreakControlSocket(pidfd.get()));

  const Status sent = SendDroppedRequest(*client);
  ASSERT_TRUE(sent.ok()) << sent.error().ToString();
  EXPECT_NE(client->pid(), broken);
  const zygote::ZygoteStats replaced = client->stats();
  EXPECT_EQ(replaced.deaths, 1u);
  EXPECT_EQ(replaced.restarts, 1u);
  EXPECT_EQ(replaced.last_exit, "exited 0");
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
