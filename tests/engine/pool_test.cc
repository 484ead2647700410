// The warm pool: children made ahead of their requests, jailed and waiting. Each serves one
// execution and is never reused; a request's own limits apply to the child it is handed; a
// child that died while waiting is never a request's failure; the pool refills after use and
// shrinks back when demand is gone.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "sandbox/start.h"
#include "service/engine.h"
#include "support/engine_fixture.h"
#include "sys/files.h"

namespace pyexec::testing {
namespace {

using Clock = std::chrono::steady_clock;

nlohmann::json ResultJson(const service::Execution& run) {
  return nlohmann::json::parse(run.outcome.result_json, nullptr, false);
}

// Processes named `name` that descend from `ancestor`, from the host's /proc.
std::vector<pid_t> DescendantsNamed(pid_t ancestor, const std::string& name) {
  std::map<pid_t, pid_t> parents;
  std::map<pid_t, std::string> names;
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ignored)) {
    const std::string pid_text = entry.path().filename().string();
    if (pid_text.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    Result<std::string> status = sys::ReadFile(entry.path().string() + "/status");
    if (!status.ok()) {
      continue;
    }
    const pid_t pid = static_cast<pid_t>(std::stol(pid_text));
    const size_t name_at = status->find("Name:\t");
    const size_t ppid_at = status->find("PPid:\t");
    if (name_at == std::string::npos || ppid_at == std::string::npos) {
      continue;
    }
    names[pid] = status->substr(name_at + 6, status->find('\n', name_at) - name_at - 6);
    parents[pid] = static_cast<pid_t>(std::stol(status->substr(ppid_at + 6)));
  }
  std::vector<pid_t> found;
  for (const auto& [pid, process_name] : names) {
    if (process_name != name) {
      continue;
    }
    pid_t up = parents[pid];
    for (int depth = 0; depth < 64 && up > 1; ++depth) {
      if (up == ancestor) {
        found.push_back(pid);
        break;
      }
      up = parents.count(up) != 0 ? parents[up] : 0;
    }
  }
  return found;
}

// Polls `condition` until it holds or `limit` passes.
template <typename Condition>
bool Eventually(Condition condition, std::chrono::milliseconds limit) {
  const Clock::time_point deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (condition()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

std::unique_ptr<service::Engine> EngineWithPool(const service::PoolConfig& pool) {
  service::EngineConfig config;
  config.pool = pool;
  Result<std::unique_ptr<service::Engine>> engine = service::Engine::Create(config);
  EXPECT_TRUE(engine.ok()) << engine.error().ToString();
  return engine.ok() ? std::move(engine).value() : nullptr;
}

TEST(WarmPool, IsTheDefault_AndExecutionsTakeItsChildren) {
  service::Engine& engine = SharedEngine();
  EXPECT_GT(engine.config().pool.max_idle, 0u);
  ASSERT_TRUE(Eventually([&] { return engine.pool_stats().idle >= 1; }, std::chrono::seconds(30)))
      << "the pool never made a child";
  const uint64_t hits_before = engine.pool_stats().hits;
  const service::Execution run = RunScript(ReferenceExample());
  EXPECT_EQ(VerdictOf(run), "ok") << run.outcome.message << run.stderr_data;
  EXPECT_EQ(run.outcome.result_json, R"({"status":5})");
  EXPECT_EQ(run.stdout_data, "Hello\n");
  EXPECT_EQ(engine.pool_stats().hits, hits_before + 1);
}

TEST(WarmPool, IdleChildren_WaitJailedUnderTheirOwnName) {
  service::Engine& engine = SharedEngine();
  ASSERT_TRUE(Eventually(
      [&] { return !DescendantsNamed(engine.zygote_pid(), sandbox::kIdleChildName).empty(); },
      std::chrono::seconds(30)));
  for (const pid_t pid : DescendantsNamed(engine.zygote_pid(), sandbox::kIdleChildName)) {
    Result<std::string> status = sys::ReadFile("/proc/" + std::to_string(pid) + "/status");
    if (!status.ok()) {
      continue;  // taken or retired meanwhile
    }
    // Already in the jail: the sandbox uid, no capabilities, seccomp on.
    EXPECT_THAT(*status, ::testing::HasSubstr("Uid:\t64000\t64000\t64000\t64000")) << *status;
    EXPECT_THAT(*status, ::testing::HasSubstr("CapEff:\t0000000000000000")) << *status;
    EXPECT_THAT(*status, ::testing::HasSubstr("Seccomp:\t2")) << *status;
  }
}

TEST(WarmPool, AChild_ServesOneExecutionAndNoneSeesAnotherOnesTraces) {
  std::vector<nlohmann::json> results;
  for (const char* token : {"first", "second", "third"}) {
    const service::Execution run = RunScript(Payload("pool_leave_traces.py", {{"token", token}}));
    ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message << run.stderr_data;
    results.push_back(ResultJson(run));
  }
  const nlohmann::json clean = {{"tmp_files", nlohmann::json::array()},
                                {"environ", nlohmann::json::array()},
                                {"builtins", nlohmann::json::array()},
                                {"modules", nlohmann::json::array()},
                                {"cwd", "/tmp"}};
  for (const nlohmann::json& result : results) {
    EXPECT_EQ(result["before"], clean) << result;
  }
  // The positive control: the probe sees the traces a script leaves in its own process.
  EXPECT_EQ(results[1]["after"]["tmp_files"], nlohmann::json({"pool-trace-second"}));
  EXPECT_EQ(results[1]["after"]["environ"], nlohmann::json({"POOL_TRACE_second"}));
  EXPECT_EQ(results[1]["after"]["builtins"], nlohmann::json({"pool_trace_second"}));
  EXPECT_EQ(results[1]["after"]["modules"], nlohmann::json({"pool_trace_second"}));
  EXPECT_EQ(results[1]["after"]["cwd"], "/tmp/pool-dir");
}

TEST(WarmPool, APooledChild_TakesTheRequestsLowerLimits) {
  service::Engine& engine = SharedEngine();
  ASSERT_TRUE(Eventually([&] { return engine.pool_stats().idle >= 1; }, std::chrono::seconds(30)));
  service::Limits lowered = DefaultLimits();
  lowered.cpu_seconds = 3;
  lowered.file_size_bytes = 4096;
  lowered.open_files = 32;
  const uint64_t hits_before = engine.pool_stats().hits;
  const service::Execution run = RunScript(ReadPayload("pool_report_rlimits.py"), lowered);
  ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message << run.stderr_data;
  EXPECT_EQ(engine.pool_stats().hits, hits_before + 1) << "the execution did not use the pool";
  const nlohmann::json limits = ResultJson(run);
  EXPECT_EQ(limits["cpu"], nlohmann::json({3, 4}));
  EXPECT_EQ(limits["fsize"], nlohmann::json({4096, 4096}));
  EXPECT_EQ(limits["nofile"], nlohmann::json({32, 32}));
  // The positive control: with the defaults, the child keeps the maximums it was made with.
  const service::Execution defaults = RunScript(ReadPayload("pool_report_rlimits.py"));
  const service::Limits maximum = DefaultLimits();
  EXPECT_EQ(ResultJson(defaults)["nofile"],
            nlohmann::json({maximum.open_files, maximum.open_files}));
}

TEST(WarmPool, APooledChild_TakesTheRequestsLowerMemoryLimit) {
  const std::string allocate =
      "def main():\n"
      "    block = bytearray(200 * 1024 * 1024)\n"
      "    for i in range(0, len(block), 4096):\n"
      "        block[i] = 1\n"
      "    return len(block)\n";
  service::Limits small = DefaultLimits();
  small.memory_bytes = 64 * service::kMiB;
  const service::Execution limited = RunScript(allocate, small);
  EXPECT_EQ(VerdictOf(limited), "memory_limit") << limited.outcome.message;
  // The positive control: the same allocation fits the default limit.
  const service::Execution unlimited = RunScript(allocate);
  EXPECT_EQ(VerdictOf(unlimited), "ok") << unlimited.outcome.message;
}

TEST(WarmPool, IdleChildrenKilledWhileWaiting_AreNeverARequestsFailure) {
  service::Engine& engine = SharedEngine();
  ASSERT_TRUE(Eventually([&] { return engine.pool_stats().idle >= 2; }, std::chrono::seconds(30)));
  const std::vector<pid_t> idle = DescendantsNamed(engine.zygote_pid(), sandbox::kIdleChildName);
  ASSERT_FALSE(idle.empty()) << "the probe found no idle child to kill";
  for (const pid_t pid : idle) {
    kill(pid, SIGKILL);
  }
  for (int i = 0; i < 3; ++i) {
    const service::Execution run = RunScript(ReferenceExample());
    EXPECT_EQ(VerdictOf(run), "ok") << run.outcome.message << run.stderr_data;
  }
}

// `count` executions of a script that sleeps 0.3 s, started at once from threads of their own.
class SleepingBurst {
 public:
  SleepingBurst(service::Engine& engine, size_t count) : verdicts_(count) {
    for (size_t i = 0; i < count; ++i) {
      clients_.emplace_back([this, &engine, i] {
        Result<service::Execution> run = engine.Run(
            "import time\ndef main():\n    time.sleep(0.3)\n    return 1\n", DefaultLimits());
        verdicts_[i] = run.ok() ? VerdictOf(*run) : run.error().ToString();
      });
    }
  }
  SleepingBurst(const SleepingBurst&) = delete;
  SleepingBurst& operator=(const SleepingBurst&) = delete;
  ~SleepingBurst() { Join(); }
  // Waits for every execution; their verdicts ("ok", or the error).
  const std::vector<std::string>& Join() {
    for (std::thread& client : clients_) {
      if (client.joinable()) {
        client.join();
      }
    }
    return verdicts_;
  }

 private:
  std::vector<std::string> verdicts_;
  std::vector<std::thread> clients_;
};

TEST(WarmPool, RefillsAfterABurst_AndShrinksBackWhenDemandIsGone) {
  service::PoolConfig pool;
  pool.min_idle = 1;
  pool.max_idle = 5;
  pool.demand_window = std::chrono::milliseconds(2000);  // long enough to refill under load
  std::unique_ptr<service::Engine> engine = EngineWithPool(pool);
  ASSERT_NE(engine, nullptr);
  ASSERT_TRUE(Eventually([&] { return engine->pool_stats().idle == 1; }, std::chrono::seconds(30)));
  // A burst of three at once: the pool grows to serve that demand (2 x 3 + 1, at most 5).
  SleepingBurst burst(*engine, 3);
  ASSERT_TRUE(
      Eventually([&] { return engine->pool_stats().target == 5; }, std::chrono::seconds(10)))
      << "target " << engine->pool_stats().target;
  EXPECT_THAT(burst.Join(), ::testing::Each(::testing::Eq("ok")));
  EXPECT_TRUE(Eventually([&] { return engine->pool_stats().idle == 5; }, std::chrono::seconds(30)))
      << "idle " << engine->pool_stats().idle;
  // Two demand windows without executions: back to min_idle, one child a second.
  EXPECT_TRUE(Eventually([&] { return engine->pool_stats().idle == 1; }, std::chrono::seconds(30)))
      << "idle " << engine->pool_stats().idle;
  EXPECT_GE(engine->pool_stats().retired, 4u);
  // The retired children exit on their own once their channel closes.
  EXPECT_TRUE(Eventually(
      [&] { return DescendantsNamed(engine->zygote_pid(), sandbox::kIdleChildName).size() == 1; },
      std::chrono::seconds(10)))
      << DescendantsNamed(engine->zygote_pid(), sandbox::kIdleChildName).size();
}

// Runs a 3 s execution on `engine` and watches the pool while it runs: whether it was ever
// back to `idle` ready children (or more) during it (a replacement begun and ready).
bool RefilledDuringALongExecution(service::Engine& engine, size_t idle) {
  std::atomic<bool> done{false};
  std::string verdict;
  std::thread client([&] {
    Result<service::Execution> run =
        engine.Run("import time\ndef main():\n    time.sleep(3)\n    return 1\n", DefaultLimits());
    verdict = run.ok() ? VerdictOf(*run) : run.error().ToString();
    done = true;
  });
  bool refilled = false;
  EXPECT_TRUE(
      Eventually([&] { return engine.pool_stats().in_flight == 1; }, std::chrono::seconds(10)));
  while (!done) {
    const service::PoolStats stats = engine.pool_stats();
    refilled = refilled || (stats.in_flight == 1 && stats.idle >= idle);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  client.join();
  EXPECT_EQ(verdict, "ok");
  return refilled;
}

// An engine whose pool holds exactly `children`, all ready, and holds replacements back for
// `defer` (and `settle` after an execution's end); nullptr, the test failed, if it never fills.
std::unique_ptr<service::Engine> FullPool(
    size_t children, std::chrono::milliseconds defer,
    std::chrono::milliseconds settle = service::PoolConfig{}.settle_after_done) {
  service::PoolConfig pool;
  pool.min_idle = children;
  pool.max_idle = children;
  pool.defer_replacement = defer;
  pool.settle_after_done = settle;
  std::unique_ptr<service::Engine> engine = EngineWithPool(pool);
  if (engine == nullptr) {
    ADD_FAILURE() << "no engine";
    return nullptr;
  }
  if (!Eventually([&] { return engine->pool_stats().idle == children; },
                  std::chrono::seconds(30))) {
    ADD_FAILURE() << "the pool never had " << children << " ready children";
    return nullptr;
  }
  return engine;
}

TEST(WarmPool, WhileOneExecutionRuns_ItsReplacementWaitsForItsEnd) {
  // Held back for a minute: only the execution's end ends the wait.
  std::unique_ptr<service::Engine> engine = FullPool(2, std::chrono::seconds(60));
  ASSERT_NE(engine, nullptr);
  EXPECT_FALSE(RefilledDuringALongExecution(*engine, 2));
  // Its end lets the replacement be made.
  EXPECT_TRUE(Eventually([&] { return engine->pool_stats().idle == 2; }, std::chrono::seconds(30)))
      << "idle " << engine->pool_stats().idle;
}

TEST(WarmPool, TheReplacementWaitsNoLongerThanDeferReplacement) {
  // Held back for 200 ms, much shorter than the run.
  std::unique_ptr<service::Engine> engine = FullPool(2, std::chrono::milliseconds(200));
  ASSERT_NE(engine, nullptr);
  EXPECT_TRUE(RefilledDuringALongExecution(*engine, 2));
}

TEST(WarmPool, AfterTheExecutionsEnd_TheReplacementWaitsSettleAfterDone) {
  // WhileOneExecutionRuns_ItsReplacementWaitsForItsEnd is the control: with the default
  // settle_after_done (2 ms) the replacement is made after the end, not 60 s later.
  std::unique_ptr<service::Engine> engine =
      FullPool(2, std::chrono::seconds(60), std::chrono::seconds(60));
  ASSERT_NE(engine, nullptr);
  Result<service::Execution> run = engine->Run(ReferenceExample(), DefaultLimits());
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  EXPECT_EQ(VerdictOf(*run), "ok");
  EXPECT_EQ(engine->pool_stats().in_flight, 0u);
  // For a second after the end: still one ready child, no replacement.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  size_t most = 0;
  while (std::chrono::steady_clock::now() < until) {
    most = std::max(most, engine->pool_stats().idle);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(most, 1u);
}

// Back to back: the replacement owed to the first execution is begun once it has ended, even
// though the second (taken within settle_after_done of that end) is still running. Were the
// second take to hold it back again, requests back to back below 50 a second would empty the
// pool before any replacement began.
TEST(WarmPool, TheNextTakeDoesNotHoldBackTheReplacementOwedToTheLastExecution) {
  // Held back for a minute: only an execution's end ends the wait.
  std::unique_ptr<service::Engine> engine = FullPool(3, std::chrono::seconds(60));
  ASSERT_NE(engine, nullptr);
  Result<service::Execution> first = engine->Run(ReferenceExample(), DefaultLimits());
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  // At once: one child left of three after the second take; the first's replacement makes two.
  EXPECT_TRUE(RefilledDuringALongExecution(*engine, 2));
}

TEST(WarmPool, WithoutTheWait_TheReplacementIsMadeWhileTheExecutionRuns) {
  // The control for TheReplacementWaitsNoLongerThanDeferReplacement: the same watch sees a
  // replacement made during the run.
  std::unique_ptr<service::Engine> engine = FullPool(2, std::chrono::milliseconds(0));
  ASSERT_NE(engine, nullptr);
  EXPECT_TRUE(RefilledDuringALongExecution(*engine, 2));
}

// The warm-up (PoolConfig::warm_up_when_few): a pool filled while nothing runs is filled with
// children that ran it, and their scripts see nothing of it.
void ExpectNoTraceOfAWarmUp(service::Engine& engine) {
  Result<service::Execution> run =
      engine.Run(ReadPayload("pool_warm_up_leaves_no_trace.py"), DefaultLimits());
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  ASSERT_EQ(VerdictOf(*run), "ok") << run->outcome.message << run->stderr_data;
  EXPECT_EQ(run->stdout_data, "only this\n");
  const nlohmann::json result = ResultJson(*run);
  EXPECT_EQ(result["before"], nlohmann::json({{"foreign_main_names", nlohmann::json::array()},
                                              {"linecache", {"main.py"}},
                                              {"argv", {"main.py"}},
                                              {"garbage", 0}}))
      << result;
  // The positive control: the probe sees the same traces when the script leaves them.
  EXPECT_EQ(result["after"]["foreign_main_names"], nlohmann::json({"warm_up_main"})) << result;
  EXPECT_EQ(result["after"]["linecache"], nlohmann::json({"main.py", "warm.py"})) << result;
  EXPECT_GT(result["after"]["garbage"].get<int>(), 0) << result;
}

TEST(WarmPool, ChildrenMadeWhileNothingRuns_RunTheWarmUp_AndScriptsSeeNoTraceOfIt) {
  service::PoolConfig pool;
  pool.min_idle = 2;
  pool.max_idle = 2;
  std::unique_ptr<service::Engine> engine = EngineWithPool(pool);
  ASSERT_NE(engine, nullptr);
  ASSERT_TRUE(Eventually([&] { return engine->pool_stats().idle == 2; }, std::chrono::seconds(30)));
  EXPECT_EQ(engine->pool_stats().warmed_up, 2u);
  ExpectNoTraceOfAWarmUp(*engine);
  // A script that fails still gets its own source lines in its traceback.
  Result<service::Execution> failed =
      engine->Run("def main():\n    x = 1\n    raise ValueError('line three')\n", DefaultLimits());
  ASSERT_TRUE(failed.ok()) << failed.error().ToString();
  EXPECT_EQ(VerdictOf(*failed), "exception");
  EXPECT_THAT(failed->outcome.traceback,
              ::testing::HasSubstr("line 3, in main\n    raise ValueError('line three')"))
      << failed->outcome.traceback;
}

TEST(WarmPool, TheWarmUp_UndoesWhatItChanged_EvenWhenItFails) {
  const service::Execution run = RunScript(ReadPayload("runner_warm_up_restores_state.py"));
  ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message << run.stderr_data;
  EXPECT_EQ(run.stdout_data, "");  // its print writes nothing
  const nlohmann::json result = ResultJson(run);
  for (const char* run_kind : {"as_is", "failed"}) {
    EXPECT_EQ(result[run_kind]["changed"], nlohmann::json::array()) << run_kind << result;
    EXPECT_EQ(result[run_kind]["garbage"], 0) << run_kind << result;
  }
  EXPECT_EQ(result["as_is"]["returned"], true) << result;
  EXPECT_EQ(result["failed"]["returned"], false) << result;
  // The positive control: without its undoing, the probe sees what the warm-up ran.
  EXPECT_EQ(result["control"]["changed"], nlohmann::json({"argv", "linecache", "main"})) << result;
}

TEST(WarmPool, WithoutWarmUpWhenFew_NoChildRunsIt) {
  service::PoolConfig pool;
  pool.min_idle = 2;
  pool.max_idle = 2;
  pool.warm_up_when_few = false;
  std::unique_ptr<service::Engine> engine = EngineWithPool(pool);
  ASSERT_NE(engine, nullptr);
  ASSERT_TRUE(Eventually([&] { return engine->pool_stats().idle == 2; }, std::chrono::seconds(30)));
  ExpectNoTraceOfAWarmUp(*engine);
  EXPECT_EQ(engine->pool_stats().warmed_up, 0u);
}

TEST(WarmPool, AfterABurst_RefillsAreWarmedUpAgainOnceASecondHasPassed) {
  service::PoolConfig pool;
  pool.min_idle = 3;
  pool.max_idle = 3;
  pool.few_per_second = 2;  // a burst: two executions within a second, at any machine's speed
  // The first execution's replacement waits for its end (or for a second start, which makes
  // executions many), not for 20 ms that a slow machine could let pass before the second start.
  pool.defer_replacement = std::chrono::milliseconds(5000);
  std::unique_ptr<service::Engine> engine = EngineWithPool(pool);
  ASSERT_NE(engine, nullptr);
  ASSERT_TRUE(Eventually([&] { return engine->pool_stats().idle == 3; }, std::chrono::seconds(30)));
  const uint64_t before = engine->pool_stats().warmed_up;
  ASSERT_EQ(before, 3u);
  // Three at once, each running for 0.3 s. None of their refills is warmed up (the positive
  // control): every one is begun after the second start.
  SleepingBurst burst(*engine, 3);
  EXPECT_THAT(burst.Join(), ::testing::Each(::testing::Eq("ok")));
  ASSERT_TRUE(Eventually([&] { return engine->pool_stats().idle == 3; }, std::chrono::seconds(30)));
  const uint64_t after_burst = engine->pool_stats().warmed_up;
  EXPECT_EQ(after_burst, before);
  // The quiet spell under test (not a wait for an event): a second with no execution, after
  // which executions are few again however many the second before the last one held.
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  Result<service::Execution> run = engine->Run("def main():\n    return 1\n", DefaultLimits());
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  EXPECT_EQ(VerdictOf(*run), "ok");
  ASSERT_TRUE(Eventually([&] { return engine->pool_stats().idle == 3; }, std::chrono::seconds(30)));
  EXPECT_EQ(engine->pool_stats().warmed_up, after_burst + 1);
}

// PoolConfig::idle_exit_when_few: the first execution after a quiet spell is asked to exit at
// idle priority, and its answer is the usual one (output, result, usage).
void ExpectTheReferenceExample(service::Engine& engine) {
  Result<service::Execution> run = engine.Run(ReferenceExample(), DefaultLimits());
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  EXPECT_EQ(VerdictOf(*run), "ok") << run->outcome.message << run->stderr_data;
  EXPECT_EQ(run->outcome.result_json, R"({"status":5})");
  EXPECT_EQ(run->stdout_data, "Hello\n");
  EXPECT_GT(run->usage.memory_peak_bytes, 0u);
}

TEST(WarmPool, AnExecutionAfterAQuietSpell_ExitsAtIdlePriority) {
  std::unique_ptr<service::Engine> engine = EngineWithPool(service::PoolConfig{});
  ASSERT_NE(engine, nullptr);
  ASSERT_TRUE(Eventually([&] { return engine->pool_stats().idle >= 1; }, std::chrono::seconds(30)));
  ExpectTheReferenceExample(*engine);
  // Only where each execution is a CPU group of its own (this host: autogroups).
  EXPECT_EQ(engine->pool_stats().idle_exits, engine->enforcement().idle_exit ? 1u : 0u);
}

TEST(WarmPool, WithoutIdleExitWhenFew_NoExecutionIsAskedToExitAtIdlePriority) {
  service::PoolConfig pool;
  pool.idle_exit_when_few = false;
  std::unique_ptr<service::Engine> engine = EngineWithPool(pool);
  ASSERT_NE(engine, nullptr);
  ASSERT_TRUE(Eventually([&] { return engine->pool_stats().idle >= 1; }, std::chrono::seconds(30)));
  ExpectTheReferenceExample(*engine);
  EXPECT_EQ(engine->pool_stats().idle_exits, 0u);
}

TEST(WarmPool, WithoutAPool_EveryExecutionMakesItsOwnChild) {
  service::Engine& engine = EngineWithoutPool();
  const service::Execution run = RunScript(ReferenceExample());  // the shared engine's
  EXPECT_EQ(VerdictOf(run), "ok");
  Result<service::Execution> own = engine.Run(ReferenceExample(), DefaultLimits());
  ASSERT_TRUE(own.ok()) << own.error().ToString();
  EXPECT_EQ(VerdictOf(*own), "ok") << own->outcome.message;
  EXPECT_EQ(engine.pool_stats().idle, 0u);
  EXPECT_TRUE(DescendantsNamed(engine.zygote_pid(), sandbox::kIdleChildName).empty());
}

}  // namespace
}  // namespace pyexec::testing
