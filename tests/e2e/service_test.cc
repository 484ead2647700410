// The service as a whole, each test with a `pyexec serve` of its own: admission (429, a queue
// wait beyond the request's timeout is 503), a dropped connection cancelling its execution, slow
// clients, pyexec's own failure (500, nothing of the host in the body), graceful shutdown on
// SIGTERM and SIGINT with nothing left behind, and hostile scripts aimed at the service.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <future>
#include <regex>
#include <string>
#include <vector>

#include "e2e/service_fixture.h"

namespace pyexec::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::chrono::seconds kObserve{20};  // bound for observing a state change

int PoolField(uint16_t port, const char* field) {
  const Reply health = Health(port);
  if (!health.json.is_object() || !health.json.contains("pool")) {
    return -1;
  }
  return health.json["pool"].value(field, -1);
}

bool WaitForPool(uint16_t port, const char* field, int value) {
  return WaitUntil([&] { return PoolField(port, field) == value; }, kObserve);
}

std::future<Reply> ExecuteAsync(uint16_t port, nlohmann::json body) {
  return std::async(std::launch::async,
                    [port, body = std::move(body)] { return Execute(port, body); });
}

std::string SleepScript(int seconds, const std::string& then = "'done'") {
  return "import time\ndef main():\n    time.sleep(" + std::to_string(seconds) + ")\n    return " +
         then + "\n";
}

// Everything the service started is gone: its descendants, its cgroup trees, the working
// directories of executions.
void ExpectNothingLeft(Service& service, const std::vector<pid_t>& descendants) {
  for (const pid_t pid : descendants) {
    EXPECT_TRUE(WaitUntil([&] { return !ProcessAlive(pid); }, std::chrono::seconds(10)))
        << "process " << pid << " outlived the service";
  }
  EXPECT_TRUE(
      WaitUntil([&] { return CgroupTrees(service.pid()).empty(); }, std::chrono::seconds(10)));
  EXPECT_EQ(DirectoryEntryCount(service.work_dir()), 0);
  // Jails mount only inside their own mount namespaces: the host's table shows none of it.
  std::ifstream mounts("/proc/self/mountinfo");
  for (std::string line; std::getline(mounts, line);) {
    EXPECT_THAT(line, Not(HasSubstr(service.work_dir())));
    EXPECT_THAT(line, Not(HasSubstr("pyexec-" + std::to_string(service.pid()))));
  }
}

TEST(Admission, FullQueue_Is429WithRetryAfterAndQueueWaitBeyondTimeout_Is503) {
  std::unique_ptr<Service> service = Service::Start({"--max-concurrency", "1", "--queue", "1"});
  ASSERT_NE(service, nullptr);
  const uint16_t port = service->port();
  std::future<Reply> running = ExecuteAsync(port, ScriptBody(SleepScript(4, "'first'")));
  ASSERT_TRUE(WaitForPool(port, "running", 1));
  // Waits in the queue; its own timeout (1 s) passes before the worker is free.
  std::future<Reply> queued =
      ExecuteAsync(port, ScriptBody("def main():\n    return 'second'\n", {{"timeout", 1}}));
  ASSERT_TRUE(WaitForPool(port, "queued", 1));
  const Reply refused = Execute(port, ScriptBody("def main():\n    return 'third'\n"));
  EXPECT_EQ(refused.status, 429) << refused.response.body;
  EXPECT_EQ(refused.json["error"]["type"], "queue_full");
  EXPECT_EQ(refused.Header("Retry-After"), "1");

  const Reply expired = queued.get();
  EXPECT_EQ(expired.status, 503) << expired.response.body;
  EXPECT_EQ(expired.json["error"]["type"], "queue_timeout");
  const Reply first = running.get();
  EXPECT_EQ(first.status, 200) << first.response.body;
  EXPECT_EQ(first.json["result"], "first");
  const Reply health = Health(port);
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.json["pool"]["refused_queue_full"], 1);
  EXPECT_EQ(health.json["pool"]["expired_in_queue"], 1);
}

TEST(Admission, DroppedConnection_CancelsItsExecution) {
  std::unique_ptr<Service> service = Service::Start();
  ASSERT_NE(service, nullptr);
  const uint16_t port = service->port();
  Result<testing::HttpClient> client = testing::HttpClient::Connect("127.0.0.1", port);
  ASSERT_TRUE(client.ok());
  const std::string body = ScriptBody(SleepScript(25)).dump();
  ASSERT_TRUE(client
                  ->Send(testing::FormatRequest(
                      "POST", "/execute", body,
                      {{"Content-Type", "application/json"}, {"X-Request-Id", "dropped-1"}}))
                  .ok());
  ASSERT_TRUE(WaitForPool(port, "running", 1));
  // One per hierarchy (memory, pids, v2) for the one execution.
  ASSERT_GT(ExecutionCgroupCount(service->pid()), 0u);
  client->Reset();
  // Killed and cleaned up long before its 25 s.
  EXPECT_TRUE(WaitForPool(port, "running", 0));
  EXPECT_TRUE(WaitUntil([&] { return ExecutionCgroupCount(service->pid()) == 0; },
                        std::chrono::seconds(5)));
  EXPECT_TRUE(WaitUntil([&] { return service->Log().find("id=dropped-1 ") != std::string::npos; },
                        std::chrono::seconds(5)));
  EXPECT_THAT(service->Log(), HasSubstr("status=499 verdict=cancelled"));
  EXPECT_EQ(Execute(port, ScriptBody("def main():\n    return 3\n")).json["result"], 3);
}

TEST(Admission, DroppedConnectionWhileQueued_LeavesTheQueue) {
  std::unique_ptr<Service> service = Service::Start({"--max-concurrency", "1", "--queue", "4"});
  ASSERT_NE(service, nullptr);
  const uint16_t port = service->port();
  std::future<Reply> running = ExecuteAsync(port, ScriptBody(SleepScript(3, "'first'")));
  ASSERT_TRUE(WaitForPool(port, "running", 1));
  Result<testing::HttpClient> client = testing::HttpClient::Connect("127.0.0.1", port);
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(client
                  ->Send(testing::FormatRequest(
                      "POST", "/execute", ScriptBody("def main():\n    return 2\n").dump(),
                      {{"Content-Type", "application/json"}, {"X-Request-Id", "queued-1"}}))
                  .ok());
  ASSERT_TRUE(WaitForPool(port, "queued", 1));
  client->Close();
  // Out of the queue at once, while the first execution still runs.
  EXPECT_TRUE(WaitForPool(port, "queued", 0));
  EXPECT_EQ(PoolField(port, "running"), 1);
  EXPECT_TRUE(WaitUntil(
      [&] {
        return service->Log().find(
                   "id=queued-1 method=POST path=/execute status=499 "
                   "verdict=cancelled_in_queue") != std::string::npos;
      },
      std::chrono::seconds(5)))
      << service->Log();
  EXPECT_EQ(running.get().json["result"], "first");
  EXPECT_TRUE(WaitForPool(port, "completed", 1));
}

TEST(SlowClient, HalfSentHeaderOrBody_TimesOutWith408) {
  std::unique_ptr<Service> service =
      Service::Start({"--header-timeout", "1", "--body-timeout", "1"});
  ASSERT_NE(service, nullptr);
  for (const char* partial :
       {"POST /execute HTTP/1.1\r\nHost: x\r\n",
        "POST /execute HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 100\r\n\r\n{\"script\": "}) {
    SCOPED_TRACE(partial);
    Result<testing::HttpClient> client =
        testing::HttpClient::Connect("127.0.0.1", service->port(), std::chrono::seconds(10));
    ASSERT_TRUE(client.ok());
    ASSERT_TRUE(client->Send(partial).ok());
    const auto start = std::chrono::steady_clock::now();
    Result<testing::HttpResponse> response = client->ReadResponse();
    ASSERT_TRUE(response.ok()) << response.error().ToString();
    EXPECT_EQ(response->status, 408);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  }
  EXPECT_EQ(Health(service->port()).status, 200);
}

TEST(InternalError, Is500WithNothingOfTheHostInTheBody) {
  // No warm pool: its children's cgroups would keep the trees from being removed below.
  std::unique_ptr<Service> service = Service::Start({"--pool-max", "0"});
  ASSERT_NE(service, nullptr);
  // The host takes pyexec's cgroup trees away (they are empty while nothing runs): the next
  // execution's cgroup cannot be created, pyexec's own fault as far as the client can tell.
  const std::vector<std::string> trees = CgroupTrees(service->pid());
  ASSERT_FALSE(trees.empty());
  for (const std::string& tree : trees) {
    ASSERT_EQ(rmdir(tree.c_str()), 0) << tree;
  }
  const Reply reply =
      Send(service->port(), "POST", "/execute", ScriptBody("def main():\n    return 1\n").dump(),
           {{"Content-Type", "application/json"}, {"X-Request-Id", "broken-1"}});
  EXPECT_EQ(reply.status, 500) << reply.response.body;
  ASSERT_TRUE(reply.json.is_object()) << reply.response.body;
  EXPECT_EQ(reply.json["error"]["type"], "internal");
  EXPECT_THAT(reply.json["error"]["message"].get<std::string>(), HasSubstr("broken-1"));
  EXPECT_FALSE(reply.json.contains("stdout"));
  for (const char* host_detail : {"/sys", "cgroup", "pyexec-", "No such file", "errno"}) {
    EXPECT_THAT(reply.response.body, Not(HasSubstr(host_detail)));
  }
  // The operator gets the details, under the request id.
  EXPECT_TRUE(
      WaitUntil([&] { return service->Log().find("request broken-1: ") != std::string::npos; },
                std::chrono::seconds(5)));
  EXPECT_THAT(service->Log(), HasSubstr("/sys/fs/cgroup"));
  EXPECT_EQ(service->StopWith(SIGTERM), 0);
}

// /health's zygote object as expected: `pid` (null: none runs), the counts, and how the last
// zygote to die ended (empty: none has).
void ExpectZygoteHealth(const Reply& health, const nlohmann::json& pid, int restarts, int deaths,
                        const std::string& how) {
  ASSERT_EQ(health.status, 200) << health.response.body;
  ASSERT_TRUE(health.json.is_object() && health.json.contains("zygote")) << health.response.body;
  nlohmann::json zygote = health.json.at("zygote");  // a copy: a missing key reads as null
  EXPECT_EQ(zygote["pid"], pid) << health.response.body;
  EXPECT_EQ(zygote["restarts"], restarts) << health.response.body;
  EXPECT_EQ(zygote["deaths"], deaths) << health.response.body;
  EXPECT_EQ(zygote["failed_starts"], 0) << health.response.body;
  EXPECT_TRUE(zygote["start_error"].is_null()) << health.response.body;
  if (how.empty()) {
    EXPECT_TRUE(zygote["last_exit"].is_null()) << health.response.body;
  } else {
    ASSERT_TRUE(zygote["last_exit"].is_object()) << health.response.body;
    EXPECT_THAT(zygote["last_exit"].value("how", ""), HasSubstr(how));
    EXPECT_GE(zygote["last_exit"].value("seconds_ago", -1.0), 0);
  }
}

TEST(HealthCheck, AKilledZygote_IsReportedWithHowItEndedAndItsRestart) {
  // No warm pool: nothing but /health itself asks after the zygote until the next request.
  std::unique_ptr<Service> service = Service::Start({"--pool-max", "0"});
  ASSERT_NE(service, nullptr);
  const pid_t first = ZygoteOf(service->pid());
  ASSERT_GT(first, 0);
  // Control: a zygote that has not died reports no death, restart or exit.
  ExpectZygoteHealth(Health(service->port()), first, 0, 0, "");

  ASSERT_EQ(kill(first, SIGKILL), 0);
  // Seen without any request: /health checks the zygote when nothing else holds it, and no
  // zygote runs until the next request starts one.
  Reply dead;
  ASSERT_TRUE(WaitUntil(
      [&] {
        dead = Health(service->port());
        return dead.json.is_object() && dead.json["zygote"]["deaths"] == 1;
      },
      std::chrono::seconds(30)))
      << dead.response.body;
  ExpectZygoteHealth(dead, nullptr, 0, 1, "signal 9");

  const Reply run = Execute(service->port(), ScriptBody(ReferenceScript()));
  EXPECT_EQ(run.status, 200) << run.response.body;
  EXPECT_EQ(run.json["result"], nlohmann::json::parse(R"({"status": 5})")) << run.response.body;
  const pid_t second = ZygoteOf(service->pid());
  EXPECT_GT(second, 0);
  EXPECT_NE(second, first);
  ExpectZygoteHealth(Health(service->port()), second, 1, 1, "signal 9");
  EXPECT_EQ(service->StopWith(SIGTERM), 0);
}

TEST(Shutdown, Sigterm_LetsTheRunningExecutionFinishAndLeavesNothing) {
  std::unique_ptr<Service> service = Service::Start({"--shutdown-grace", "20"});
  ASSERT_NE(service, nullptr);
  const uint16_t port = service->port();
  std::future<Reply> running = ExecuteAsync(port, ScriptBody(SleepScript(3)));
  ASSERT_TRUE(WaitForPool(port, "running", 1));
  const std::vector<pid_t> descendants = Descendants(service->pid());
  ASSERT_GE(descendants.size(), 2u) << "the zygote and the execution";
  ASSERT_FALSE(CgroupTrees(service->pid()).empty());

  std::future<int> exit_code =
      std::async(std::launch::async, [&] { return service->StopWith(SIGTERM); });
  // Stops accepting at once.
  EXPECT_TRUE(WaitUntil([&] { return !testing::HttpClient::Connect("127.0.0.1", port).ok(); },
                        std::chrono::seconds(5)));
  const Reply finished = running.get();
  EXPECT_EQ(finished.status, 200) << finished.response.body;
  EXPECT_EQ(finished.json["result"], "done");
  EXPECT_EQ(exit_code.get(), 0) << service->Log();
  ExpectNothingLeft(*service, descendants);
}

TEST(Shutdown, Sigint_AfterTheGraceKillsTheRestAndRefusesTheQueue) {
  std::unique_ptr<Service> service =
      Service::Start({"--shutdown-grace", "1", "--max-concurrency", "1", "--queue", "4"});
  ASSERT_NE(service, nullptr);
  const uint16_t port = service->port();
  std::future<Reply> running = ExecuteAsync(port, ScriptBody(SleepScript(60)));
  ASSERT_TRUE(WaitForPool(port, "running", 1));
  std::future<Reply> queued = ExecuteAsync(port, ScriptBody("def main():\n    return 1\n"));
  ASSERT_TRUE(WaitForPool(port, "queued", 1));
  const std::vector<pid_t> descendants = Descendants(service->pid());

  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(service->StopWith(SIGINT), 0) << service->Log();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  const Reply refused = queued.get();
  EXPECT_EQ(refused.status, 503) << refused.response.body << refused.error;
  EXPECT_EQ(refused.json["error"]["type"], "shutting_down");
  const Reply killed = running.get();
  EXPECT_EQ(killed.status, 503) << killed.response.body << killed.error;
  EXPECT_EQ(killed.json["error"]["type"], "shutting_down");
  ExpectNothingLeft(*service, descendants);
}

TEST(Hostile, ConnectingToTheServicesOwnPort_Fails) {
  std::unique_ptr<Service> service = Service::Start();
  ASSERT_NE(service, nullptr);
  const std::string port = std::to_string(service->port());
  const Reply reply =
      Execute(service->port(), ScriptBody("import socket, errno\n"
                                          "def main():\n"
                                          "    results = []\n"
                                          "    for host in ('127.0.0.1', 'localhost', '::1'):\n"
                                          "        try:\n"
                                          "            socket.create_connection((host, " +
                                          port +
                                          "), timeout=3).close()\n"
                                          "            results.append('connected')\n"
                                          "        except OSError as error:\n"
                                          "            results.append(type(error).__name__)\n"
                                          "    return results\n"));
  ASSERT_EQ(reply.status, 200) << reply.response.body;
  ASSERT_TRUE(reply.json["result"].is_array());
  for (const nlohmann::json& result : reply.json["result"]) {
    EXPECT_NE(result, "connected") << reply.json["result"];
  }
}

TEST(Hostile, SigtermToItsParentAndToPidOne_LeavesTheServiceUntouched) {
  std::unique_ptr<Service> service = Service::Start();
  ASSERT_NE(service, nullptr);
  const uint16_t port = service->port();
  ASSERT_EQ(Execute(port, ScriptBody("def main():\n    return 0\n")).status, 200);
  // The zygote (the pool's children come and go: each serves one execution).
  const std::vector<pid_t> before = {ZygoteOf(service->pid())};
  ASSERT_GT(before.front(), 0);
  const Reply reply = Execute(port, ScriptBody("import os, signal\n"
                                               "def main():\n"
                                               "    sent = []\n"
                                               "    for pid in (os.getppid(), 1, -1):\n"
                                               "        try:\n"
                                               "            os.kill(pid, signal.SIGTERM)\n"
                                               "            sent.append('sent')\n"
                                               "        except OSError as error:\n"
                                               "            sent.append(type(error).__name__)\n"
                                               "    return sent\n"));
  EXPECT_NE(reply.status, 0) << reply.error;
  EXPECT_TRUE(service->running());
  for (const pid_t pid : before) {
    EXPECT_TRUE(ProcessAlive(pid)) << pid;
  }
  EXPECT_EQ(Health(port).status, 200);
  const Reply next = Execute(port, ScriptBody(ReferenceScript()));
  EXPECT_EQ(next.json["result"], nlohmann::json({{"status", 5}}));
  EXPECT_EQ(next.json["stdout"], "Hello\n");
}

// AnonHugePages of /proc/<pid>/smaps_rollup, in kB; -1 when unreadable.
int64_t AnonHugePagesKb(pid_t pid) {
  std::ifstream rollup("/proc/" + std::to_string(pid) + "/smaps_rollup");
  for (std::string line; std::getline(rollup, line);) {
    if (line.rfind("AnonHugePages:", 0) == 0) {
      return std::stoll(line.substr(line.find(':') + 1));
    }
  }
  return -1;
}

TEST(ZygoteMemory, NumpysGeneratorIsReseededInC_WhereItsLayoutChecksOut) {
  // Debian 12's numpy lays its MT19937 state out as the zygote expects; a numpy that does not
  // still gets a new key in every child (through set_state: Rng.TwoRunsDrawDifferentNumbers),
  // more slowly, and this test says so.
  std::unique_ptr<Service> service = Service::Start({"--log-level", "debug"});
  ASSERT_NE(service, nullptr);
  const std::string log = service->Log();
  EXPECT_THAT(log, HasSubstr("numpy's global generator: a new key from getrandom in each child, "
                             "written in C"));
  EXPECT_THAT(log, Not(HasSubstr("numpy.random.set_state")));
}

TEST(ZygoteMemory, HugePagesItsOwnWritesSplit_AreRestoredOnceIdle) {
  std::ifstream thp("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string modes;
  std::getline(thp, modes);
  if (modes.empty() || modes.find("[never]") != std::string::npos) {
    GTEST_SKIP() << "transparent huge pages are disabled on this host";
  }
  std::unique_ptr<Service> service = Service::Start({"--log-level", "debug"});
  ASSERT_NE(service, nullptr);
  const pid_t zygote = ZygoteOf(service->pid());
  ASSERT_GT(zygote, 0);
  // The zygote starts with its heap and Python's arenas in huge pages (the probe reads them),
  // where MADV_COLLAPSE (Linux 6.1) could make them.
  const std::regex at_start(
      R"(huge pages back (\d+) of \d+ MiB of the heap and (\d+) of \d+ MiB of Python's arenas)");
  std::smatch started;
  const std::string start_log = service->Log();
  ASSERT_TRUE(std::regex_search(start_log, started, at_start)) << start_log;
  if (std::stoi(started[1].str()) + std::stoi(started[2].str()) == 0) {
    GTEST_SKIP() << "MADV_COLLAPSE made no huge pages here: " << started[0];
  }
  ASSERT_GT(AnonHugePagesKb(zygote), 0) << service->Log();
  // Control: no restoring before the zygote has forked 64 times.
  EXPECT_EQ(service->Log().find("forks, huge pages back"), std::string::npos) << service->Log();
  // More forks than that, each of which may split some (the zygote writes between forks to
  // memory it shares with its children); then the service is idle.
  for (int i = 0; i < 80; ++i) {
    const Reply reply = Execute(service->port(), ScriptBody(ReferenceScript()));
    ASSERT_EQ(reply.status, 200) << reply.error;
  }
  // A whole restore (not one a request interrupted), after which the heap and the arenas are
  // huge pages again (MADV_COLLAPSE counts those it made and those already huge).
  const std::regex restored(
      R"(after (\d+) forks, huge pages back (\d+) MiB of the heap and (\d+) MiB of Python's arenas \([0-9.]+ ms\))");
  std::smatch match;
  std::string log;
  EXPECT_TRUE(WaitUntil(
      [&] {
        log = service->Log();
        return std::regex_search(log, match, restored);
      },
      kObserve))
      << log;
  ASSERT_EQ(match.size(), 4U) << log;
  EXPECT_GE(std::stoi(match[1].str()), 64) << match[0];
  EXPECT_GT(std::stoi(match[2].str()) + std::stoi(match[3].str()), 0) << match[0];
  EXPECT_GT(AnonHugePagesKb(zygote), 0);
}

}  // namespace
}  // namespace pyexec::e2e
