// Load and the one long test: 50 parallel clients mixing good and hostile scripts against one
// service (every response arrives, every good result is exact, nothing leaks), and the default
// 30 s timeout: a 20 s sleep succeeds while a 45 s sleep is stopped at about 30 s.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <future>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "e2e/service_fixture.h"

namespace pyexec::e2e {
namespace {

TEST(Long, TwentySecondSleep_SucceedsAndFortyFiveSecondSleep_TimesOutAtThirty) {
  const uint16_t port = SharedService().port();
  auto sleeper = [port](int seconds) {
    return std::async(std::launch::async, [port, seconds] {
      return Execute(
          port,
          ScriptBody("import time\ndef main():\n    time.sleep(" + std::to_string(seconds) +
                     ")\n    return " + std::to_string(seconds) + "\n"),
          std::chrono::seconds(90));
    });
  };
  std::future<Reply> twenty = sleeper(20);
  std::future<Reply> forty_five = sleeper(45);
  const Reply ok = twenty.get();
  EXPECT_EQ(ok.status, 200) << ok.response.body << ok.error;
  EXPECT_EQ(ok.json["result"], 20);
  EXPECT_GE(ok.json["usage"]["wall_ms"].get<int64_t>(), 20000);
  const Reply timed_out = forty_five.get();
  EXPECT_EQ(timed_out.status, 422) << timed_out.response.body << timed_out.error;
  EXPECT_EQ(timed_out.json["status"], "timeout");
  const int64_t wall_ms = timed_out.json["usage"]["wall_ms"].get<int64_t>();
  EXPECT_GE(wall_ms, 29500);
  EXPECT_LE(wall_ms, 36000);
}

struct Hostile {
  std::string script;
  double timeout;
};

// Each is bounded by its own timeout; each must end as a script failure (422) or, when it
// waited longer than that timeout in the queue, 503 queue_timeout.
std::vector<Hostile> HostileScripts() {
  return {
      {"def main():\n    while True:\n        pass\n", 2},
      {"def main():\n    return len(bytearray(2 * 1024 * 1024 * 1024))\n", 10},
      {"import os, time\ndef main():\n    while True:\n        os.fork()\n", 2},
      {"import sys\ndef main():\n    while True:\n        sys.stdout.write('x' * 65536)\n", 2},
      {"import os\ndef main():\n    print('{\"result\": 1}')\n    os._exit(0)\n", 10},
      {"import ctypes\ndef main():\n    ctypes.string_at(0)\n", 10},
      {"import time\ndef main():\n    time.sleep(60)\n", 2},
      {"import os, signal\ndef main():\n    os.kill(os.getppid(), signal.SIGTERM)\n"
       "    os.kill(-1, signal.SIGKILL)\n    raise RuntimeError('still here')\n",
       10},
      {"def main(:\n", 10},
      {"def main():\n    return float('inf')\n", 10},
  };
}

TEST(Load, FiftyParallelClientsMixingGoodAndHostile_AllAnsweredGoodOnesExact) {
  // A warm pool of fixed size: after the load it is what it was before (the same number of
  // children and descriptors), and most of the 50 executions make their own children.
  std::unique_ptr<Service> service = Service::Start({"--pool-min", "2", "--pool-max", "2"});
  ASSERT_NE(service, nullptr);
  const uint16_t port = service->port();
  // Warm: the baselines are taken with the zygote idle and the pool full.
  ASSERT_EQ(Execute(port, ScriptBody("def main():\n    return 0\n")).status, 200);
  ASSERT_TRUE(WaitUntil([&] { return service->Log().find("status=200") != std::string::npos; },
                        std::chrono::seconds(10)));
  ASSERT_TRUE(WaitUntil([&] { return Health(port).json["warm_pool"]["idle"] == 2; },
                        std::chrono::seconds(10)));
  const int fds_before = OpenFdCount(service->pid());
  const std::string fd_list_before = DescribeFds(service->pid());
  const std::vector<pid_t> descendants_before = DescendantsBesidesThePool(service->pid());
  ASSERT_GT(fds_before, 0);

  constexpr int kClients = 50;
  const std::vector<Hostile> hostile = HostileScripts();
  std::vector<std::future<Reply>> replies;
  std::vector<bool> is_good;
  size_t hostile_count = 0;  // each hostile script twice
  for (int i = 0; i < kClients; ++i) {
    const bool good = i % 5 < 3;  // 30 good, 20 hostile
    is_good.push_back(good);
    nlohmann::json body;
    if (good) {
      body = ScriptBody("def main():\n    print('client', " + std::to_string(i) +
                        ")\n    return {'i': " + std::to_string(i) + ", 'big': 3 ** " +
                        std::to_string(100 + i) + ", 's': 'caf\\u00e9 %d' % " + std::to_string(i) +
                        "}\n");
    } else {
      const Hostile& h = hostile[hostile_count++ % hostile.size()];
      body = ScriptBody(h.script, {{"timeout", h.timeout}});
    }
    replies.push_back(std::async(std::launch::async, [port, body = std::move(body)] {
      return Execute(port, body, std::chrono::seconds(120));
    }));
  }
  int good_ok = 0;
  std::map<std::string, int> verdicts;  // of the hostile ones
  for (int i = 0; i < kClients; ++i) {
    SCOPED_TRACE("client " + std::to_string(i));
    const Reply reply = replies[static_cast<size_t>(i)].get();
    ASSERT_NE(reply.status, 0) << "no response: " << reply.error;
    if (is_good[static_cast<size_t>(i)]) {
      ASSERT_EQ(reply.status, 200) << reply.response.body;
      // 3 ** n exactly, as Python prints it: compared through the text of the body.
      EXPECT_EQ(reply.json["result"]["i"], i);
      EXPECT_EQ(reply.json["result"]["s"], "caf\xC3\xA9 " + std::to_string(i));
      EXPECT_EQ(reply.json["stdout"], "client " + std::to_string(i) + "\n");
      EXPECT_THAT(reply.response.body, ::testing::HasSubstr("\"big\":"));
      ++good_ok;
    } else {
      const bool failed = reply.status == 422;
      const bool expired = reply.status == 503 && reply.json["error"]["type"] == "queue_timeout";
      EXPECT_TRUE(failed || expired) << reply.response.body;
      if (failed) {
        EXPECT_NE(reply.json["status"], "ok");
        ++verdicts[reply.json["status"].get<std::string>()];
      } else {
        ++verdicts["503 queue_timeout"];
      }
    }
  }
  EXPECT_EQ(good_ok, 30);
  std::string summary;
  for (const auto& [verdict, count] : verdicts) {
    summary += verdict + "=" + std::to_string(count) + " ";
  }
  std::cout << "hostile outcomes: " << summary << "\n";
  // Most hostile scripts really ran (the rest waited past their short timeout in the queue).
  EXPECT_GE(20 - verdicts["503 queue_timeout"], 10) << summary;
  // Big integers exactly: 3 ** 100 for client 0.
  const Reply exact = Execute(port, ScriptBody("def main():\n    return 3 ** 100\n"));
  EXPECT_THAT(
      exact.response.body,
      ::testing::StartsWith("{\"result\":515377520732011331036461129765621272702107522001,"));

  // A worker counts as running until it has handed its response over and released the job.
  EXPECT_TRUE(WaitUntil(
      [&] {
        const Reply health = Health(port);
        return health.status == 200 && health.json["pool"]["running"] == 0 &&
               health.json["pool"]["queued"] == 0;
      },
      std::chrono::seconds(10)))
      << Health(port).response.body;
  // Nothing leaked: no execution cgroup, no process but the idle ones (the zygote and the warm
  // pool's), no descriptor.
  EXPECT_TRUE(WaitUntil([&] { return ExecutionCgroupCount(service->pid()) == 0; },
                        std::chrono::seconds(10)));
  EXPECT_TRUE(WaitUntil(
      [&] {
        const std::vector<pid_t> now = DescendantsBesidesThePool(service->pid());
        return std::set<pid_t>(now.begin(), now.end()) ==
               std::set<pid_t>(descendants_before.begin(), descendants_before.end());
      },
      std::chrono::seconds(10)))
      << "processes before: " << descendants_before.size()
      << ", now: " << DescendantsBesidesThePool(service->pid()).size();
  EXPECT_TRUE(WaitUntil(
      [&] {
        return Health(port).json["warm_pool"]["idle"] == 2 &&
               OpenFdCount(service->pid()) <= fds_before;
      },
      std::chrono::seconds(10)))
      << "fds before: " << fd_list_before << "\nnow: " << DescribeFds(service->pid()) << "\nlog:\n"
      << service->Log();
  EXPECT_EQ(DirectoryEntryCount(service->work_dir()), 0);
  EXPECT_EQ(service->StopWith(SIGTERM), 0);
}

}  // namespace
}  // namespace pyexec::e2e
