// pyexec_engine_bench: the latency of one execution through service::Engine::Run, against the
// reference model measured in the same run (a fresh /usr/bin/python3 per request that imports
// numpy and pandas, runs main() and prints its JSON), and the ratio of the two. Runs as its own
// process, which the engine also execs as its zygote.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "baseline_python.h"
#include "machine.h"
#include "service/engine.h"
#include "service/limits.h"
#include "service/outcome.h"
#include "stats.h"
#include "util/result.h"
#include "zygote/zygote_main.h"

namespace pyexec::bench {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

// The reference example: the same script for the engine and for the baseline.
constexpr std::string_view kScript = R"(import os
import pandas as pd
import numpy as np
def main():
    print("Hello")
    a = 2
    b = a + 3
    return {"status": b}
)";

constexpr std::string_view kExpectedStdout = "Hello\n";

// A baseline run that takes longer than this is killed and counted as an error.
constexpr std::chrono::milliseconds kBaselineTimeout{std::chrono::seconds(60)};
// Error messages kept per side, so that a failing run can be diagnosed without a flood.
constexpr size_t kMaxErrorMessages = 3;

struct Options {
  int runs = 300;
  int baseline_runs = 200;
  int warmup = 3;
  bool sequential = false;
  bool json = false;
  std::string cgroups = "auto";
  bool compare_jail = false;
};

// The latencies of the runs that succeeded, and what went wrong with the others.
struct Samples {
  std::vector<double> ms;
  int errors = 0;
  std::vector<std::string> error_messages;

  void AddError(std::string message) {
    ++errors;
    if (error_messages.size() < kMaxErrorMessages) {
      error_messages.push_back(std::move(message));
    }
  }
};

struct Summary {
  size_t runs = 0;
  int errors = 0;
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
  double mean = 0;
  double min = 0;
  double max = 0;
};

Summary Summarize(const std::vector<double>& latencies_ms, int errors) {
  Summary summary;
  summary.runs = latencies_ms.size() + static_cast<size_t>(errors);
  summary.errors = errors;
  if (latencies_ms.empty()) {
    return summary;
  }
  std::vector<double> sorted = latencies_ms;
  std::sort(sorted.begin(), sorted.end());
  summary.p50 = Percentile(sorted, 50);
  summary.p90 = Percentile(sorted, 90);
  summary.p99 = Percentile(sorted, 99);
  summary.mean = Mean(sorted);
  summary.min = sorted.front();
  summary.max = sorted.back();
  return summary;
}

Summary Summarize(const Samples& samples) { return Summarize(samples.ms, samples.errors); }

double MillisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// True when `value` equals the example's result, {"status": 5}.
bool IsExpectedResult(const Json& value) { return value == Json{{"status", 5}}; }

// --- The engine side ---------------------------------------------------------------------

// What Run() reported beside its verdict, for the breakdown.
struct EngineUsage {
  // Run() latencies split by what ran just before: a baseline interpreter (the engine then sat
  // idle for ~0.3 s, as between a lightly loaded service's requests) or another engine run
  // (warm, back to back). They differ on this host: after idle, the child's first write to
  // cgroup.procs takes 10-15 ms (strace), none of it with --cgroups=off.
  std::vector<double> after_baseline_ms;
  std::vector<double> after_engine_ms;
  std::vector<double> usage_wall_ms;
  std::vector<double> cpu_ms;
  std::vector<double> memory_peak_mib;
};

// One engine execution: nullopt when it returned the expected verdict, result and stdout.
std::optional<std::string> CheckExecution(const Result<service::Execution>& execution) {
  if (!execution.ok()) {
    return "engine error: " + execution.error().ToString();
  }
  const service::Outcome& outcome = execution->outcome;
  if (outcome.verdict != service::Verdict::kOk) {
    return "verdict " + std::string(service::VerdictName(outcome.verdict)) + ": " + outcome.message;
  }
  const Json result = Json::parse(outcome.result_json, nullptr, false);
  if (!IsExpectedResult(result)) {
    return "unexpected result " + outcome.result_json;
  }
  if (execution->stdout_data != kExpectedStdout || execution->stdout_truncated) {
    return "unexpected stdout " + Json(execution->stdout_data).dump();
  }
  return std::nullopt;
}

// `after_baseline`: whether a baseline run came just before this one.
void RunEngineOnce(service::Engine& engine, bool after_baseline, Samples* samples,
                   EngineUsage* usage) {
  const Clock::time_point start = Clock::now();
  Result<service::Execution> execution = engine.Run(kScript, service::Limits{});
  const double elapsed_ms = MillisecondsSince(start);
  if (std::optional<std::string> problem = CheckExecution(execution)) {
    samples->AddError(std::move(*problem));
    return;
  }
  samples->ms.push_back(elapsed_ms);
  if (usage != nullptr) {
    (after_baseline ? usage->after_baseline_ms : usage->after_engine_ms).push_back(elapsed_ms);
    usage->usage_wall_ms.push_back(static_cast<double>(execution->usage.wall_ms));
    usage->cpu_ms.push_back(static_cast<double>(execution->usage.cpu_ms));
    usage->memory_peak_mib.push_back(static_cast<double>(execution->usage.memory_peak_bytes) /
                                     static_cast<double>(service::kMiB));
  }
}

// --compare-jail: the jail's cost. Two engines, one jailed, created in this same process and
// run alternately (A B A B ...), so both see the same machine; no baseline runs.
int CompareJail(const Options& options) {
  service::EngineConfig plain_config;
  plain_config.jail = false;  // the jail is the default: the baseline must turn it off
  service::EngineConfig jail_config;
  jail_config.jail = true;
  Result<std::unique_ptr<service::Engine>> plain = service::Engine::Create(plain_config);
  Result<std::unique_ptr<service::Engine>> jailed = service::Engine::Create(jail_config);
  if (!plain.ok() || !jailed.ok()) {
    std::cerr << "cannot start the engines: "
              << (plain.ok() ? jailed.error() : plain.error()).ToString() << "\n";
    return 2;
  }
  Samples plain_samples;
  Samples jail_samples;
  Samples warmup;
  for (int i = 0; i < options.warmup; ++i) {
    RunEngineOnce(**plain, false, &warmup, nullptr);
    RunEngineOnce(**jailed, false, &warmup, nullptr);
  }
  for (int i = 0; i < options.runs; ++i) {
    RunEngineOnce(**plain, false, &plain_samples, nullptr);
    RunEngineOnce(**jailed, false, &jail_samples, nullptr);
  }
  const Summary a = Summarize(plain_samples);
  const Summary b = Summarize(jail_samples);
  std::printf("pyexec jail cost: %d runs of each engine, alternated\n\n", options.runs);
  std::printf("%-22s %6s %7s %9s %9s %9s %9s\n", "engine", "runs", "errors", "p50 ms", "p90 ms",
              "p99 ms", "mean ms");
  for (const auto& [name, summary] : {std::pair{"without the jail", a}, std::pair{"jailed", b}}) {
    std::printf("%-22s %6zu %7d %9.2f %9.2f %9.2f %9.2f\n", name, summary.runs, summary.errors,
                summary.p50, summary.p90, summary.p99, summary.mean);
  }
  std::printf("%-22s %6s %7s %9.2f %9.2f %9.2f %9.2f\n", "jail adds", "", "", b.p50 - a.p50,
              b.p90 - a.p90, b.p99 - a.p99, b.mean - a.mean);
  return plain_samples.errors + jail_samples.errors == 0 ? 0 : 1;
}

// --- The baseline side -------------------------------------------------------------------

// One baseline request: nullopt when the interpreter exited 0 with the expected JSON.
std::optional<std::string> CheckBaseline(const Result<BaselineRun>& run) {
  std::string problem;
  const std::optional<Json> printed = ParseBaselineOutput(run, &problem);
  if (!printed.has_value()) {
    return problem;
  }
  if (!IsExpectedResult((*printed)["result"]) || (*printed)["stdout"] != kExpectedStdout) {
    return "unexpected output " + run->out;
  }
  return std::nullopt;
}

// What each measured baseline run cost its interpreter, for the breakdown.
struct BaselineUsage {
  std::vector<double> cpu_ms;
  std::vector<double> max_rss_mib;
};

void RunBaselineOnce(Samples* samples, BaselineUsage* usage) {
  const Clock::time_point start = Clock::now();
  Result<BaselineRun> run = RunBaselinePython(kScript, kBaselineTimeout);
  const double elapsed_ms = MillisecondsSince(start);
  if (std::optional<std::string> problem = CheckBaseline(run)) {
    samples->AddError(std::move(*problem));
    return;
  }
  samples->ms.push_back(elapsed_ms);
  if (usage != nullptr) {
    usage->cpu_ms.push_back(CpuMilliseconds(run->usage));
    usage->max_rss_mib.push_back(static_cast<double>(run->usage.ru_maxrss) / 1024.0);
  }
}

// --- Reporting ---------------------------------------------------------------------------

struct Report {
  Options options;
  Machine machine;
  std::string load_before;
  std::string load_after;
  service::Enforcement enforcement;
  double create_ms = 0;
  Summary engine;
  Summary baseline;
  EngineUsage engine_usage;
  BaselineUsage baseline_usage;
};

// How many times faster the engine is: baseline / engine, for each statistic.
Json RatioJson(const Summary& baseline, const Summary& engine) {
  if (baseline.runs <= static_cast<size_t>(baseline.errors) ||
      engine.runs <= static_cast<size_t>(engine.errors)) {
    return nullptr;
  }
  return Json{{"p50", baseline.p50 / engine.p50},
              {"p90", baseline.p90 / engine.p90},
              {"p99", baseline.p99 / engine.p99},
              {"mean", baseline.mean / engine.mean}};
}

Json SummaryJson(const Summary& summary) {
  return Json{{"runs", summary.runs},  {"errors", summary.errors}, {"p50_ms", summary.p50},
              {"p90_ms", summary.p90}, {"p99_ms", summary.p99},    {"mean_ms", summary.mean},
              {"min_ms", summary.min}, {"max_ms", summary.max}};
}

Json ReportJson(const Report& report) {
  const Summary after_baseline = Summarize(report.engine_usage.after_baseline_ms, 0);
  const Summary after_engine = Summarize(report.engine_usage.after_engine_ms, 0);
  Json json;
  json["machine"] = {{"nproc", report.machine.nproc},
                     {"cpus_online", report.machine.online},
                     {"kernel", report.machine.kernel},
                     {"cpu_model", report.machine.cpu_model},
                     {"zero_fill_fault_us", report.machine.zero_fill_fault_us},
                     {"copy_on_write_fault_us", report.machine.copy_on_write_fault_us},
                     {"load_average_before", report.load_before},
                     {"load_average_after", report.load_after}};
  json["enforcement"] = {{"cgroup_mode", report.enforcement.cgroup_mode},
                         {"memory", report.enforcement.memory},
                         {"pids", report.enforcement.pids},
                         {"kill", report.enforcement.kill},
                         {"cpu_accounting", report.enforcement.cpu_accounting}};
  json["order"] = report.options.sequential ? "sequential" : "interleaved";
  json["warmup_runs"] = report.options.warmup;
  json["engine_create_ms"] = report.create_ms;
  json["engine"] = SummaryJson(report.engine);
  json["engine"]["after_baseline_run"] = SummaryJson(after_baseline);
  json["engine"]["after_engine_run"] = SummaryJson(after_engine);
  json["engine"]["usage_wall_ms_mean"] = Mean(report.engine_usage.usage_wall_ms);
  json["engine"]["cpu_ms_mean"] = Mean(report.engine_usage.cpu_ms);
  json["engine"]["memory_peak_mib_mean"] = Mean(report.engine_usage.memory_peak_mib);
  json["baseline"] = SummaryJson(report.baseline);
  json["baseline"]["python"] = kBaselinePython;
  json["baseline"]["cpu_ms_mean"] = Mean(report.baseline_usage.cpu_ms);
  json["baseline"]["max_rss_mib_mean"] = Mean(report.baseline_usage.max_rss_mib);
  json["ratio"] = RatioJson(report.baseline, report.engine);
  json["ratio_after_engine_run"] = RatioJson(report.baseline, after_engine);
  return json;
}

void PrintRow(const char* name, const Summary& summary) {
  std::printf("%-34s %6zu %7d %9.2f %9.2f %9.2f %9.2f\n", name, summary.runs, summary.errors,
              summary.p50, summary.p90, summary.p99, summary.mean);
}

void PrintRatioRow(const char* name, const Summary& baseline, const Summary& engine) {
  const Json ratio = RatioJson(baseline, engine);
  if (ratio.is_null()) {
    return;
  }
  std::printf("%-34s %6s %7s %8.1fx %8.1fx %8.1fx %8.1fx\n", name, "", "",
              ratio["p50"].get<double>(), ratio["p90"].get<double>(), ratio["p99"].get<double>(),
              ratio["mean"].get<double>());
}

void PrintTable(const Report& report) {
  const Machine& machine = report.machine;
  const service::Enforcement& enforcement = report.enforcement;
  const EngineUsage& usage = report.engine_usage;
  const Summary after_baseline = Summarize(usage.after_baseline_ms, 0);
  const Summary after_engine = Summarize(usage.after_engine_ms, 0);

  std::printf("pyexec engine latency benchmark\n\n");
  std::printf("machine     : nproc %d (online %d), %s\n", machine.nproc, machine.online,
              machine.kernel.c_str());
  std::printf("cpu         : %s\n", machine.cpu_model.c_str());
  std::printf("page fault : %.2f us zero-fill, %.2f us copy-on-write (4 KiB, median)\n",
              machine.zero_fill_fault_us, machine.copy_on_write_fault_us);
  std::printf("load average: %s before, %s after\n", report.load_before.c_str(),
              report.load_after.c_str());
  std::printf("cgroup mode : %s (memory: %s; pids: %s; kill: %s; cpu: %s)\n",
              enforcement.cgroup_mode.c_str(), enforcement.memory.c_str(), enforcement.pids.c_str(),
              enforcement.kill.c_str(), enforcement.cpu_accounting.c_str());
  std::printf("engine start: %.1f ms (Engine::Create: zygote exec + numpy/pandas preload)\n",
              report.create_ms);
  std::printf("order       : %s, %d warm-up run(s) per side not counted\n\n",
              report.options.sequential ? "sequential (engine, then baseline)" : "interleaved",
              report.options.warmup);

  std::printf("%-34s %6s %7s %9s %9s %9s %9s\n", "latency", "runs", "errors", "p50 ms", "p90 ms",
              "p99 ms", "mean ms");
  PrintRow("engine: Engine::Run, all runs", report.engine);
  if (!usage.after_baseline_ms.empty() && !usage.after_engine_ms.empty()) {
    PrintRow("  right after a baseline run", after_baseline);
    PrintRow("  right after an engine run", after_engine);
  }
  PrintRow("baseline: fresh /usr/bin/python3", report.baseline);

  std::printf("\n%-34s %6s %7s %9s %9s %9s %9s\n", "baseline / engine (times faster)", "", "",
              "p50", "p90", "p99", "mean");
  PrintRatioRow("all engine runs", report.baseline, report.engine);
  if (!usage.after_baseline_ms.empty() && !usage.after_engine_ms.empty()) {
    PrintRatioRow("engine runs after an engine run", report.baseline, after_engine);
  }

  const double usage_wall = Mean(usage.usage_wall_ms);
  std::printf("\nbreakdown, engine (means over successful runs)\n");
  std::printf("  Run() wall time                  %8.2f ms\n", report.engine.mean);
  std::printf(
      "  usage.wall_ms                    %8.2f ms  Run() start to child exit + output drained"
      " (1 ms resolution)\n",
      usage_wall);
  std::printf(
      "  Run() after usage.wall_ms        %8.2f ms  cgroup read + removal, classification\n",
      report.engine.mean - usage_wall);
  std::printf("  child CPU (usage.cpu_ms)         %8.2f ms\n", Mean(usage.cpu_ms));
  std::printf(
      "  child peak memory                %8.2f MiB charged to its own cgroup (pages shared"
      " with the zygote are not)\n",
      Mean(usage.memory_peak_mib));
  std::printf("breakdown, baseline (means over successful runs)\n");
  std::printf("  interpreter CPU (wait4 rusage)   %8.2f ms\n", Mean(report.baseline_usage.cpu_ms));
  std::printf("  interpreter peak RSS             %8.2f MiB\n",
              Mean(report.baseline_usage.max_rss_mib));
}

void PrintErrors(const char* side, const Samples& samples) {
  for (const std::string& message : samples.error_messages) {
    std::cerr << side << " error: " << message << "\n";
  }
}

// --- The measurement ---------------------------------------------------------------------

int Main(int argc, char** argv) {
  Options options;
  CLI::App app{"Latency of service::Engine::Run against a fresh /usr/bin/python3 per request"};
  app.add_option("--runs", options.runs, "engine executions measured")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--baseline-runs", options.baseline_runs,
                 "fresh /usr/bin/python3 processes measured (0: no baseline)")
      ->capture_default_str()
      ->check(CLI::Range(0, 100000));
  app.add_option("--warmup", options.warmup, "runs per side before measuring, not counted")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  app.add_flag("--sequential", options.sequential,
               "all engine runs, then all baseline runs (default: interleaved)");
  app.add_flag("--json", options.json, "print the results as one JSON object");
  app.add_option("--cgroups", options.cgroups,
                 "auto: the engine's default; off: rlimits only, to see what cgroups cost")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "off"}));
  app.add_flag("--compare-jail", options.compare_jail,
               "measure the jail's cost instead: an unjailed and a jailed engine, alternated");
  CLI11_PARSE(app, argc, argv);
  if (options.compare_jail) {
    return CompareJail(options);
  }

  Report report;
  report.options = options;
  report.machine = DescribeMachine();
  report.load_before = LoadAverage();

  // No thread exists yet: the engine's zygote must come from a single-threaded process.
  const Clock::time_point create_start = Clock::now();
  service::EngineConfig config;
  config.cgroups =
      options.cgroups == "off" ? service::CgroupMode::kOff : service::CgroupMode::kAuto;
  Result<std::unique_ptr<service::Engine>> created = service::Engine::Create(config);
  report.create_ms = MillisecondsSince(create_start);
  if (!created.ok()) {
    std::cerr << "cannot start the engine: " << created.error().ToString() << "\n";
    return 2;
  }
  service::Engine& engine = **created;
  report.enforcement = engine.enforcement();

  const size_t engine_runs = static_cast<size_t>(options.runs);
  const size_t baseline_runs = static_cast<size_t>(options.baseline_runs);
  std::cerr << "measuring " << engine_runs << " engine runs and " << baseline_runs
            << " baseline runs (" << (options.sequential ? "sequential" : "interleaved")
            << "); the baseline takes ~0.3 s per run...\n";

  Samples engine_samples;
  Samples baseline_samples;
  Samples warmup_samples;
  for (int i = 0; i < options.warmup; ++i) {
    RunEngineOnce(engine, false, &warmup_samples, nullptr);
    if (baseline_runs > 0) {
      RunBaselineOnce(&warmup_samples, nullptr);
    }
  }
  PrintErrors("warm-up", warmup_samples);

  // Interleaved: at each step, the side that is proportionally further behind runs next, so
  // both sides see the same background noise over the whole run. Most engine runs then follow
  // a baseline run, so the engine's figures are those of an engine that was idle in between.
  size_t engine_done = 0;
  size_t baseline_done = 0;
  bool last_was_baseline = options.warmup > 0 && baseline_runs > 0;
  for (size_t step = 0; step < engine_runs + baseline_runs; ++step) {
    bool run_engine = false;
    if (options.sequential) {
      run_engine = engine_done < engine_runs;
    } else {
      run_engine =
          baseline_done == baseline_runs ||
          (engine_done < engine_runs && engine_done * baseline_runs <= baseline_done * engine_runs);
    }
    if (run_engine) {
      RunEngineOnce(engine, last_was_baseline, &engine_samples, &report.engine_usage);
      ++engine_done;
    } else {
      RunBaselineOnce(&baseline_samples, &report.baseline_usage);
      ++baseline_done;
    }
    last_was_baseline = !run_engine;
  }
  report.load_after = LoadAverage();
  report.engine = Summarize(engine_samples);
  report.baseline = Summarize(baseline_samples);
  PrintErrors("engine", engine_samples);
  PrintErrors("baseline", baseline_samples);

  if (options.json) {
    std::cout << ReportJson(report).dump(2) << "\n";
  } else {
    PrintTable(report);
  }
  (void)std::fflush(stdout);
  return engine_samples.errors + baseline_samples.errors + warmup_samples.errors == 0 ? 0 : 1;
}

}  // namespace
}  // namespace pyexec::bench

int main(int argc, char** argv) {
  // The engine execs /proc/self/exe as its zygote: become it before anything else runs.
  if (pyexec::zygote::IsZygoteInvocation(argc, argv)) {
    pyexec::zygote::ZygoteEntry(argc, argv);
  }
  return pyexec::bench::Main(argc, argv);
}
