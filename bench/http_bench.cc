// pyexec_http_bench: `pyexec serve` over HTTP against the reference model (a threaded server that
// starts a fresh /usr/bin/python3 per request) behind the same HTTP transport, both measured in
// the same run: sequential latency (back to back and paced), throughput at several client counts
// and memory, per workload, with the ratios. Starts both servers itself (pyexec as a child process,
// the baseline in this process) and talks to them only on 127.0.0.1.
#include <limits.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "baseline_server.h"
#include "load.h"
#include "machine.h"
#include "proc_memory.h"
#include "pyexec_server.h"
#include "stats.h"
#include "sys/process.h"  // DescribeWaitStatus
#include "util/log.h"

namespace pyexec::bench {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

// Process names the warm pool gives its children (/proc/<pid>/comm).
constexpr std::string_view kIdleChildComm = "pyexec-idle";
constexpr std::string_view kRunningChildComm = "pyexec-run";
// The baseline's interpreters, children of this process.
constexpr std::string_view kBaselineComm = "python3";

// How long a server may take to become idle between two phases (cleanup after the last
// response), and how long it sits idle before the idle pool is measured.
constexpr std::chrono::seconds kIdleLimit{30};
constexpr std::chrono::milliseconds kIdleSettle{2000};
constexpr std::chrono::seconds kStopLimit{60};
constexpr double kKiB = 1024.0;

// --- Workloads ---------------------------------------------------------------------------

// Each defines main(); the expected result is compared as JSON, the expected stdout as text.
std::vector<Workload> AllWorkloads() {
  std::vector<Workload> workloads;
  // The reference example (examples/reference.py).
  workloads.push_back({"reference",
                       "import os\n"
                       "import pandas as pd\n"
                       "import numpy as np\n"
                       "def main():\n"
                       "    print(\"Hello\")\n"
                       "    a = 2\n"
                       "    b = a + 3\n"
                       "    return {\"status\": b}\n",
                       Json::parse(R"({"status": 5})"), "Hello\n"});
  // About 10 ms of pure-Python bytecode on this machine's CPUs.
  workloads.push_back({"python_loop",
                       "def main():\n"
                       "    total = 0\n"
                       "    for i in range(300000):\n"
                       "        total += i % 7\n"
                       "    return {\"total\": total}\n",
                       Json::parse(R"({"total": 899997})"), ""});
  // Integer-valued float matrices: the product and its sums are exact whatever the BLAS.
  workloads.push_back({"numpy_matmul",
                       "import numpy as np\n"
                       "def main():\n"
                       "    a = (np.arange(40000, dtype=np.float64) % 10).reshape(200, 200)\n"
                       "    b = (np.arange(40000, dtype=np.float64) % 7).reshape(200, 200)\n"
                       "    c = a @ b\n"
                       "    return {\"sum\": int(c.sum()), \"trace\": int(np.trace(c))}\n",
                       Json::parse(R"({"sum": 107992600, "trace": 539963})"), ""});
  workloads.push_back(
      {"pandas_groupby",
       "import numpy as np\n"
       "import pandas as pd\n"
       "def main():\n"
       "    frame = pd.DataFrame({\"key\": np.arange(10000) % 100, \"value\": np.arange(10000)})\n"
       "    sums = frame.groupby(\"key\")[\"value\"].sum()\n"
       "    return {\"groups\": int(sums.size), \"total\": int(sums.sum()), \"key7\": "
       "int(sums.loc[7])}\n",
       Json::parse(R"({"groups": 100, "total": 49995000, "key7": 495700})"), ""});
  return workloads;
}

// --- Options -----------------------------------------------------------------------------

struct Options {
  std::string pyexec;
  std::vector<std::string> workloads = {"reference", "python_loop", "numpy_matmul",
                                        "pandas_groupby"};
  std::vector<int> levels = {1, 4, 16, 64};
  double duration_seconds = 5;
  double baseline_duration_seconds = 0;  // 0: duration_seconds
  int rounds = 3;                        // closed loops per level and side, alternating
  int seq_runs = 300;
  int baseline_seq_runs = 40;
  int paced_runs = 100;  // 0: no paced phase
  int baseline_paced_runs = 10;
  int pause_ms = 50;
  int warmup = 3;
  bool skip_baseline = false;
  int workers = 0;     // pyexec --max-concurrency; 0: pyexec's default
  int io_threads = 0;  // pyexec --io-threads; 0: pyexec's default
  int queue = 0;       // pyexec --queue; 0: pyexec's default
  int baseline_workers = 0;
  std::vector<std::string> pyexec_args;
  int sample_level = 16;
  double drain_limit_seconds = 120;
  bool json = false;
};

std::chrono::milliseconds Milliseconds(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000.0));
}

// pyexec beside this binary: ${PROJECT_BINARY_DIR}/pyexec.
std::string DefaultPyexecPath() {
  std::string self(PATH_MAX, '\0');
  const ssize_t length = readlink("/proc/self/exe", self.data(), self.size());
  if (length <= 0) {
    return "pyexec";
  }
  self.resize(static_cast<size_t>(length));
  const size_t slash = self.rfind('/');
  return (slash == std::string::npos ? std::string(".") : self.substr(0, slash)) + "/pyexec";
}

// --- Figures -----------------------------------------------------------------------------

struct Latency {
  size_t ok = 0;
  uint64_t errors = 0;
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
  double mean = 0;
};

Latency Summarize(const PhaseResult& phase) {
  Latency latency;
  latency.ok = phase.latencies_ms.size();
  latency.errors = phase.errors;
  std::vector<double> sorted = phase.latencies_ms;
  std::sort(sorted.begin(), sorted.end());
  latency.p50 = Percentile(sorted, 50);
  latency.p90 = Percentile(sorted, 90);
  latency.p99 = Percentile(sorted, 99);
  latency.mean = Mean(sorted);
  return latency;
}

// Memory of processes found in /proc, sampled one or more times.
struct ProcessSamples {
  int rounds = 0;                  // times /proc was walked
  std::vector<double> private_kb;  // one per process seen, per round
  std::vector<double> pss_kb;

  void Add(const std::vector<ProcessMemory>& memories) {
    ++rounds;
    for (const ProcessMemory& memory : memories) {
      private_kb.push_back(static_cast<double>(memory.private_kb));
      pss_kb.push_back(static_cast<double>(memory.pss_kb));
    }
  }
};

// One side's closed loops at one client count: Options::rounds of them, each run right after
// (or before) the other side's round of the same level, so that a round's ratio compares two
// figures measured in the same window of this noisy host.
struct LevelResult {
  std::vector<PhaseResult> rounds;

  std::vector<double> Throughputs() const {
    std::vector<double> values;
    for (const PhaseResult& round : rounds) {
      values.push_back(round.Throughput());
    }
    return values;
  }
  double MedianThroughput() const { return Median(Throughputs()); }
  int clients() const { return rounds.empty() ? 0 : rounds.front().clients; }
  uint64_t errors() const {
    uint64_t total = 0;
    for (const PhaseResult& round : rounds) {
      total += round.errors;
    }
    return total;
  }
};

// What one side did with one workload.
struct SideResult {
  PhaseResult sequential;            // back to back
  PhaseResult paced;                 // Options::pause_ms apart
  std::vector<LevelResult> levels;   // in Options::levels order
  ProcessSamples running;            // processes running a script, sampled at the sample level
  std::vector<double> memory_bytes;  // usage memory of every checked response

  uint64_t errors() const {
    uint64_t total = sequential.errors + paced.errors;
    for (const LevelResult& level : levels) {
      total += level.errors();
    }
    return total;
  }
};

struct WorkloadResult {
  std::string name;
  SideResult pyexec;
  SideResult baseline;
};

struct Report {
  Options options;
  Machine machine;
  std::string load_before;
  std::string load_after;
  Json pyexec_health;
  double pyexec_start_ms = 0;
  size_t baseline_workers = 0;
  PhaseResult warmup;
  ProcessSamples idle_after_warmup;
  ProcessSamples idle_at_end;
  std::vector<WorkloadResult> workloads;
  std::string pyexec_stop;  // "exited 0", or what went wrong
  bool pyexec_stop_ok = false;
  double elapsed_seconds = 0;

  uint64_t errors() const {
    uint64_t total = warmup.errors + (pyexec_stop_ok ? 0 : 1);
    for (const WorkloadResult& workload : workloads) {
      total += workload.pyexec.errors() + workload.baseline.errors();
    }
    return total;
  }
};

// a / b when both are measured, else null.
Json Ratio(double a, double b) {
  if (a <= 0 || b <= 0) {
    return nullptr;
  }
  return a / b;
}

// pyexec / baseline throughput of each round pair, null where a side answered nothing; empty
// without the baseline.
Json RoundRatios(const LevelResult& pyexec, const LevelResult& baseline) {
  Json ratios = Json::array();
  for (size_t r = 0; r < pyexec.rounds.size() && r < baseline.rounds.size(); ++r) {
    ratios.push_back(Ratio(pyexec.rounds[r].Throughput(), baseline.rounds[r].Throughput()));
  }
  return ratios;
}

// The median of the rounds' ratios (each from two closed loops run one after the other), not
// the ratio of the two medians: a slow window then slows both figures of its round. Over the
// rounds with a ratio (a round where a side answered nothing has errors, reported anyway).
Json MedianRatio(const LevelResult& pyexec, const LevelResult& baseline) {
  std::vector<double> ratios;
  for (const Json& ratio : RoundRatios(pyexec, baseline)) {
    if (ratio.is_number()) {
      ratios.push_back(ratio.get<double>());
    }
  }
  return ratios.empty() ? Json(nullptr) : Json(Median(ratios));
}

std::string FormatRatio(const Json& ratio) {
  if (!ratio.is_number()) {
    return "n/a";
  }
  char text[32];
  (void)std::snprintf(text, sizeof text, "%.1fx", ratio.get<double>());
  return text;
}

std::string FormatNumber(double value, const char* format = "%.1f") {
  char text[64];
  (void)std::snprintf(text, sizeof text, format, value);
  return text;
}

// "12.3" or "n/a" when nothing was measured.
std::string FormatMeasured(bool measured, double value, const char* format = "%.1f") {
  return measured ? FormatNumber(value, format) : "n/a";
}

double MiB(double kb) { return kb / kKiB; }

// --- Servers -----------------------------------------------------------------------------

// Polls until the server has nothing running or queued; false after kIdleLimit.
bool WaitIdle(const std::function<bool()>& idle) {
  const Clock::time_point deadline = Clock::now() + kIdleLimit;
  // Bounded by the deadline.
  while (Clock::now() < deadline) {
    if (idle()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

bool PyexecIdle(const PyexecServer& server) {
  Result<Json> health = server.Health(std::chrono::seconds(10));
  if (!health.ok() || !health->contains("pool")) {
    return false;
  }
  const Json& pool = (*health)["pool"];
  return pool.value("running", 1) == 0 && pool.value("queued", 1) == 0;
}

ProcessSamples SampleIdlePool(pid_t server) {
  ProcessSamples samples;
  samples.Add(ReadMemories(DescendantsNamed(server, kIdleChildComm)));
  return samples;
}

void Progress(const std::string& message) { std::cerr << "http bench: " << message << "\n"; }

// --- The measurement ---------------------------------------------------------------------

struct Sides {
  PyexecServer* pyexec = nullptr;
  BaselineServer* baseline = nullptr;  // null with --skip-baseline
  Target pyexec_target;
  Target baseline_target;
};

PhaseResult Sequential(const Target& target, const Workload& workload, int runs, int pause_ms = 0) {
  SequentialSpec spec;
  spec.requests = static_cast<size_t>(runs);
  spec.pause = std::chrono::milliseconds(pause_ms);
  return RunSequential(target, workload, spec);
}

void MeasureWorkload(const Options& options, const Workload& workload, const Sides& sides,
                     WorkloadResult* result) {
  result->name = workload.name;
  const auto pyexec_idle = [&sides] { return PyexecIdle(*sides.pyexec); };
  const auto baseline_idle = [&sides] { return sides.baseline->busy() == 0; };
  const bool baseline = sides.baseline != nullptr;

  // Each figure on pyexec, then at once on the baseline: the machine is noisy, so the two
  // measurements of one figure are made as close together in time as possible.
  Progress(workload.name + ": sequential, " + std::to_string(options.seq_runs) + " on pyexec" +
           (baseline ? ", " + std::to_string(options.baseline_seq_runs) + " on the baseline" : ""));
  (void)WaitIdle(pyexec_idle);
  result->pyexec.sequential = Sequential(sides.pyexec_target, workload, options.seq_runs);
  if (baseline) {
    (void)WaitIdle(baseline_idle);
    result->baseline.sequential =
        Sequential(sides.baseline_target, workload, options.baseline_seq_runs);
  }
  if (options.paced_runs > 0) {
    Progress(
        workload.name + ": paced, " + std::to_string(options.paced_runs) + " on pyexec" +
        (baseline ? ", " + std::to_string(options.baseline_paced_runs) + " on the baseline" : "") +
        ", " + std::to_string(options.pause_ms) + " ms apart");
    (void)WaitIdle(pyexec_idle);
    result->pyexec.paced =
        Sequential(sides.pyexec_target, workload, options.paced_runs, options.pause_ms);
    if (baseline) {
      (void)WaitIdle(baseline_idle);
      result->baseline.paced = Sequential(sides.baseline_target, workload,
                                          options.baseline_paced_runs, options.pause_ms);
    }
  }

  // The running-process sample is taken at the sample level, or at the highest level.
  int sample_level = options.levels.back();
  if (std::find(options.levels.begin(), options.levels.end(), options.sample_level) !=
      options.levels.end()) {
    sample_level = options.sample_level;
  }
  for (const int clients : options.levels) {
    LevelResult& pyexec_level = result->pyexec.levels.emplace_back();
    LevelResult* baseline_level = baseline ? &result->baseline.levels.emplace_back() : nullptr;
    // Bounded by Options::rounds; the two sides alternate, so that each round's pair of
    // figures comes from the same window of the host.
    for (int round = 1; round <= options.rounds; ++round) {
      Progress(workload.name + ": " + std::to_string(clients) + " client(s), " +
               (options.rounds > 1 ? "round " + std::to_string(round) + " of " +
                                         std::to_string(options.rounds) + ", "
                                   : "") +
               FormatNumber(options.duration_seconds, "%g") + " s on pyexec" +
               (baseline ? ", " + FormatNumber(options.baseline_duration_seconds, "%g") +
                               " s on the baseline"
                         : ""));
      ClosedLoopSpec spec;
      spec.clients = clients;
      spec.drain_limit = Milliseconds(options.drain_limit_seconds);

      spec.duration = Milliseconds(options.duration_seconds);
      const pid_t server_pid = sides.pyexec->pid();
      if (clients == sample_level && round == 1) {
        spec.sample = [server_pid, result] {
          result->pyexec.running.Add(ReadMemories(DescendantsNamed(server_pid, kRunningChildComm)));
        };
      }
      (void)WaitIdle(pyexec_idle);
      pyexec_level.rounds.push_back(RunClosedLoop(sides.pyexec_target, workload, spec));

      if (baseline_level != nullptr) {
        spec.duration = Milliseconds(options.baseline_duration_seconds);
        spec.sample = nullptr;
        if (clients == sample_level && round == 1) {
          const pid_t self = getpid();
          spec.sample = [self, result] {
            result->baseline.running.Add(ReadMemories(DescendantsNamed(self, kBaselineComm)));
          };
        }
        // Nothing of pyexec's round still running or queued (its pool may still be refilling).
        (void)WaitIdle(pyexec_idle);
        (void)WaitIdle(baseline_idle);
        baseline_level->rounds.push_back(RunClosedLoop(sides.baseline_target, workload, spec));
      }
    }
  }

  for (SideResult* side : {&result->pyexec, &result->baseline}) {
    side->memory_bytes = side->sequential.memory_bytes;
    for (const LevelResult& level : side->levels) {
      for (const PhaseResult& round : level.rounds) {
        side->memory_bytes.insert(side->memory_bytes.end(), round.memory_bytes.begin(),
                                  round.memory_bytes.end());
      }
    }
  }
}

// --- Reporting ---------------------------------------------------------------------------

Json LatencyJson(const PhaseResult& phase) {
  const Latency latency = Summarize(phase);
  return Json{{"ok", latency.ok},
              {"errors", latency.errors},
              {"p50_ms", latency.p50},
              {"p90_ms", latency.p90},
              {"p99_ms", latency.p99},
              {"mean_ms", latency.mean},
              {"elapsed_s", phase.window_seconds},
              {"error_messages", phase.error_messages}};
}

Json RoundJson(const PhaseResult& phase) {
  const Latency latency = Summarize(phase);
  return Json{{"window_s", phase.window_seconds},
              {"exec_per_s", phase.Throughput()},
              {"last_response_s", phase.last_response_s},
              {"ok_in_window", phase.ok_in_window},
              {"ok_after_window", phase.ok_after_window},
              {"errors", phase.errors},
              {"p50_ms", latency.p50},
              {"p99_ms", latency.p99},
              {"error_messages", phase.error_messages}};
}

// The median throughput with every round's figures.
Json LevelJson(const LevelResult& level) {
  Json rounds = Json::array();
  for (const PhaseResult& round : level.rounds) {
    rounds.push_back(RoundJson(round));
  }
  return Json{{"clients", level.clients()},
              {"exec_per_s", level.MedianThroughput()},  // the median of the rounds
              {"errors", level.errors()},
              {"rounds", rounds}};
}

Json SamplesJson(const ProcessSamples& samples) {
  if (samples.private_kb.empty()) {
    return nullptr;
  }
  return Json{{"rounds", samples.rounds},
              {"processes_seen", samples.private_kb.size()},
              {"private_kb_mean", Mean(samples.private_kb)},
              {"pss_kb_mean", Mean(samples.pss_kb)}};
}

Json MemoryJson(const std::vector<double>& bytes) {
  if (bytes.empty()) {
    return nullptr;
  }
  return Json{{"mean_bytes", Mean(bytes)},
              {"max_bytes", *std::max_element(bytes.begin(), bytes.end())}};
}

double MaxOf(const std::vector<double>& values) {
  return values.empty() ? 0 : *std::max_element(values.begin(), values.end());
}

Json WorkloadJson(const Options& options, const WorkloadResult& workload) {
  const Latency pyexec = Summarize(workload.pyexec.sequential);
  const Latency baseline = Summarize(workload.baseline.sequential);
  Json json;
  json["name"] = workload.name;
  json["sequential"] = {
      {"pyexec", LatencyJson(workload.pyexec.sequential)},
      {"baseline",
       options.skip_baseline ? Json(nullptr) : LatencyJson(workload.baseline.sequential)},
      {"ratio_baseline_over_pyexec",
       {{"p50", Ratio(baseline.p50, pyexec.p50)},
        {"p90", Ratio(baseline.p90, pyexec.p90)},
        {"p99", Ratio(baseline.p99, pyexec.p99)},
        {"mean", Ratio(baseline.mean, pyexec.mean)}}}};
  const Latency paced = Summarize(workload.pyexec.paced);
  const Latency baseline_paced = Summarize(workload.baseline.paced);
  json["paced"] = {
      {"pause_ms", options.pause_ms},
      {"pyexec", options.paced_runs > 0 ? LatencyJson(workload.pyexec.paced) : Json(nullptr)},
      {"baseline", options.skip_baseline || options.paced_runs == 0
                       ? Json(nullptr)
                       : LatencyJson(workload.baseline.paced)},
      {"ratio_baseline_over_pyexec",
       {{"p50", Ratio(baseline_paced.p50, paced.p50)},
        {"p90", Ratio(baseline_paced.p90, paced.p90)},
        {"p99", Ratio(baseline_paced.p99, paced.p99)},
        {"mean", Ratio(baseline_paced.mean, paced.mean)}}}};
  json["throughput"] = Json::array();
  for (size_t i = 0; i < workload.pyexec.levels.size(); ++i) {
    const LevelResult& p = workload.pyexec.levels[i];
    Json level = {{"clients", p.clients()}, {"pyexec", LevelJson(p)}, {"baseline", nullptr}};
    level["ratio_pyexec_over_baseline"] = nullptr;
    level["ratio_rounds"] = Json::array();
    if (i < workload.baseline.levels.size()) {
      const LevelResult& b = workload.baseline.levels[i];
      level["baseline"] = LevelJson(b);
      level["ratio_pyexec_over_baseline"] = MedianRatio(p, b);
      level["ratio_rounds"] = RoundRatios(p, b);
    }
    json["throughput"].push_back(level);
  }
  const double pyexec_peak = Mean(workload.pyexec.memory_bytes);
  const double baseline_peak = Mean(workload.baseline.memory_bytes);
  const double pyexec_private = Mean(workload.pyexec.running.private_kb);
  const double baseline_private = Mean(workload.baseline.running.private_kb);
  json["memory"] = {
      {"pyexec_memory_peak", MemoryJson(workload.pyexec.memory_bytes)},
      {"baseline_max_rss", MemoryJson(workload.baseline.memory_bytes)},
      {"ratio_baseline_over_pyexec_peak", Ratio(baseline_peak, pyexec_peak)},
      {"pyexec_running_processes", SamplesJson(workload.pyexec.running)},
      {"baseline_running_processes", SamplesJson(workload.baseline.running)},
      {"ratio_baseline_over_pyexec_private", Ratio(baseline_private, pyexec_private)}};
  json["errors"] = workload.pyexec.errors() + workload.baseline.errors();
  return json;
}

// {"count": 0, "note": "n/a (no pool)"} when no idle child was found.
Json IdlePoolJson(const ProcessSamples& samples) {
  if (samples.private_kb.empty()) {
    return Json{{"count", 0}, {"note", "n/a (no pool)"}};
  }
  return Json{{"count", samples.private_kb.size()},
              {"private_kb_mean", Mean(samples.private_kb)},
              {"pss_kb_mean", Mean(samples.pss_kb)}};
}

Json ReportJson(const Report& report) {
  const Options& options = report.options;
  Json json;
  json["machine"] = {{"nproc", report.machine.nproc},
                     {"cpus_online", report.machine.online},
                     {"kernel", report.machine.kernel},
                     {"cpu_model", report.machine.cpu_model},
                     {"zero_fill_fault_us", report.machine.zero_fill_fault_us},
                     {"copy_on_write_fault_us", report.machine.copy_on_write_fault_us},
                     {"load_average_before", report.load_before},
                     {"load_average_after", report.load_after}};
  json["settings"] = {{"workloads", options.workloads},
                      {"levels", options.levels},
                      {"duration_s", options.duration_seconds},
                      {"baseline_duration_s", options.baseline_duration_seconds},
                      {"rounds", options.rounds},
                      {"seq_runs", options.seq_runs},
                      {"baseline_seq_runs", options.baseline_seq_runs},
                      {"paced_runs", options.paced_runs},
                      {"baseline_paced_runs", options.baseline_paced_runs},
                      {"pause_ms", options.pause_ms},
                      {"warmup", options.warmup},
                      {"skip_baseline", options.skip_baseline},
                      {"workers", options.workers},
                      {"io_threads", options.io_threads},
                      {"queue", options.queue},
                      {"sample_level", options.sample_level},
                      {"drain_limit_s", options.drain_limit_seconds},
                      {"pyexec_args", options.pyexec_args}};
  json["pyexec"] = {{"binary", options.pyexec},
                    {"start_ms", report.pyexec_start_ms},
                    {"health", report.pyexec_health},
                    {"stop", report.pyexec_stop}};
  json["baseline"] = nullptr;
  if (!options.skip_baseline) {
    json["baseline"] = {{"python", "/usr/bin/python3"},
                        {"transport", "pyexec http::Server (src/http), 1 io thread"},
                        {"workers", report.baseline_workers}};
  }
  json["idle_pool"] = {{"comm", kIdleChildComm},
                       {"after_warmup", IdlePoolJson(report.idle_after_warmup)},
                       {"at_end", IdlePoolJson(report.idle_at_end)}};
  json["warmup"] = {{"errors", report.warmup.errors},
                    {"error_messages", report.warmup.error_messages}};
  json["workloads"] = Json::array();
  for (const WorkloadResult& workload : report.workloads) {
    json["workloads"].push_back(WorkloadJson(options, workload));
  }
  json["elapsed_s"] = report.elapsed_seconds;
  json["errors"] = report.errors();
  return json;
}

std::string IdlePoolText(const ProcessSamples& samples) {
  if (samples.private_kb.empty()) {
    return "n/a (no pool)";
  }
  return std::to_string(samples.private_kb.size()) + " children; private " +
         FormatNumber(MiB(Mean(samples.private_kb)), "%.2f") + " MiB, Pss " +
         FormatNumber(MiB(Mean(samples.pss_kb)), "%.2f") + " MiB each (mean)";
}

std::string ErrorCounts(const SideResult& side, bool measured) {
  if (!measured) {
    return "n/a";
  }
  std::string text =
      std::to_string(side.sequential.errors) + " / " + std::to_string(side.paced.errors);
  for (const LevelResult& level : side.levels) {
    text += " / " + std::to_string(level.errors());
  }
  return text;
}

void PrintRow(const std::string& figure, const std::string& pyexec, const std::string& baseline,
              const std::string& ratio) {
  std::printf("| %s | %s | %s | %s |\n", figure.c_str(), pyexec.c_str(), baseline.c_str(),
              ratio.c_str());
}

void PrintWorkload(const Report& report, const WorkloadResult& workload) {
  const Options& options = report.options;
  const bool with_baseline = !options.skip_baseline;
  const Latency pyexec = Summarize(workload.pyexec.sequential);
  const Latency baseline = Summarize(workload.baseline.sequential);
  std::printf("\n### %s\n\n", workload.name.c_str());
  std::printf("| figure | pyexec | baseline | ratio |\n|---|---:|---:|---:|\n");
  const std::pair<const char*, double Latency::*> percentiles[] = {
      {"p50", &Latency::p50}, {"p90", &Latency::p90}, {"p99", &Latency::p99}};
  for (const auto& [name, field] : percentiles) {
    PrintRow(std::string("sequential latency ") + name + " (ms)",
             FormatMeasured(pyexec.ok > 0, pyexec.*field),
             FormatMeasured(with_baseline && baseline.ok > 0, baseline.*field),
             FormatRatio(Ratio(baseline.*field, pyexec.*field)));
  }
  const Latency paced = Summarize(workload.pyexec.paced);
  const Latency baseline_paced = Summarize(workload.baseline.paced);
  for (const auto& [name, field] : percentiles) {
    PrintRow(std::string("paced latency ") + name + " (ms)",
             FormatMeasured(paced.ok > 0, paced.*field),
             FormatMeasured(with_baseline && baseline_paced.ok > 0, baseline_paced.*field),
             FormatRatio(Ratio(baseline_paced.*field, paced.*field)));
  }
  for (size_t i = 0; i < workload.pyexec.levels.size(); ++i) {
    const LevelResult& p = workload.pyexec.levels[i];
    const bool has_baseline = i < workload.baseline.levels.size();
    const LevelResult empty;
    const LevelResult& b = has_baseline ? workload.baseline.levels[i] : empty;
    PrintRow("throughput, " + std::to_string(p.clients()) +
                 (p.clients() == 1 ? " client" : " clients") + " (exec/s" +
                 (options.rounds > 1 ? ", median of " + std::to_string(options.rounds) + " rounds"
                                     : "") +
                 ")",
             FormatNumber(p.MedianThroughput()), FormatMeasured(has_baseline, b.MedianThroughput()),
             FormatRatio(MedianRatio(p, b)));
  }
  const std::vector<double>& pm = workload.pyexec.memory_bytes;
  const std::vector<double>& bm = workload.baseline.memory_bytes;
  PrintRow("memory per execution, reported peak (MiB, mean / max)",
           pm.empty() ? "n/a"
                      : FormatNumber(Mean(pm) / kKiB / kKiB) + " / " +
                            FormatNumber(MaxOf(pm) / kKiB / kKiB),
           bm.empty() ? "n/a"
                      : FormatNumber(Mean(bm) / kKiB / kKiB) + " / " +
                            FormatNumber(MaxOf(bm) / kKiB / kKiB),
           FormatRatio(Ratio(Mean(bm), Mean(pm))));
  const ProcessSamples& pr = workload.pyexec.running;
  const ProcessSamples& br = workload.baseline.running;
  PrintRow("running process, private (MiB, mean of samples)",
           FormatMeasured(!pr.private_kb.empty(), MiB(Mean(pr.private_kb))),
           FormatMeasured(!br.private_kb.empty(), MiB(Mean(br.private_kb))),
           FormatRatio(Ratio(Mean(br.private_kb), Mean(pr.private_kb))));
  PrintRow("running process, Pss (MiB, mean of samples)",
           FormatMeasured(!pr.pss_kb.empty(), MiB(Mean(pr.pss_kb))),
           FormatMeasured(!br.pss_kb.empty(), MiB(Mean(br.pss_kb))),
           FormatRatio(Ratio(Mean(br.pss_kb), Mean(pr.pss_kb))));
  std::string levels = "seq / paced";
  for (const int clients : options.levels) {
    levels += " / " + std::to_string(clients);
  }
  PrintRow("errors (" + levels + ")", ErrorCounts(workload.pyexec, true),
           ErrorCounts(workload.baseline, with_baseline), "");
}

void PrintLoadDetail(const Report& report) {
  std::printf("\n### Under load\n\n");
  std::printf(
      "| workload | clients | round | side | exec/s | ok in window | ok after | last answer s | "
      "errors | p50 ms | p99 ms | ratio |\n"
      "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const WorkloadResult& workload : report.workloads) {
    for (size_t i = 0; i < workload.pyexec.levels.size(); ++i) {
      const LevelResult& pyexec = workload.pyexec.levels[i];
      const LevelResult* baseline =
          i < workload.baseline.levels.size() ? &workload.baseline.levels[i] : nullptr;
      for (size_t r = 0; r < pyexec.rounds.size(); ++r) {
        std::vector<std::pair<const char*, const PhaseResult*>> sides = {
            {"pyexec", &pyexec.rounds[r]}};
        Json ratio = nullptr;
        if (baseline != nullptr && r < baseline->rounds.size()) {
          sides.emplace_back("baseline", &baseline->rounds[r]);
          ratio = Ratio(pyexec.rounds[r].Throughput(), baseline->rounds[r].Throughput());
        }
        for (const auto& [side, phase] : sides) {
          const Latency latency = Summarize(*phase);
          const bool last = phase == sides.back().second;
          std::printf("| %s | %d | %zu | %s | %.1f | %" PRIu64 " | %" PRIu64 " | %.2f | %" PRIu64
                      " | %.1f | %.1f | %s |\n",
                      workload.name.c_str(), phase->clients, r + 1, side, phase->Throughput(),
                      phase->ok_in_window, phase->ok_after_window, phase->last_response_s,
                      phase->errors, latency.p50, latency.p99,
                      last && ratio.is_number() ? FormatRatio(ratio).c_str() : "");
        }
      }
    }
  }
}

void PrintErrorMessages(const Report& report) {
  std::vector<std::string> lines;
  const auto collect = [&lines](const std::string& where, const PhaseResult& phase) {
    for (const std::string& message : phase.error_messages) {
      lines.push_back(where + ": " + message);
    }
  };
  collect("warm-up", report.warmup);
  for (const WorkloadResult& workload : report.workloads) {
    collect(workload.name + " sequential pyexec", workload.pyexec.sequential);
    collect(workload.name + " sequential baseline", workload.baseline.sequential);
    collect(workload.name + " paced pyexec", workload.pyexec.paced);
    collect(workload.name + " paced baseline", workload.baseline.paced);
    for (const auto& [side, levels] : {std::pair<const char*, const std::vector<LevelResult>*>{
                                           "pyexec", &workload.pyexec.levels},
                                       {"baseline", &workload.baseline.levels}}) {
      for (const LevelResult& level : *levels) {
        for (size_t r = 0; r < level.rounds.size(); ++r) {
          collect(workload.name + " " + std::to_string(level.clients()) + " clients round " +
                      std::to_string(r + 1) + " " + side,
                  level.rounds[r]);
        }
      }
    }
  }
  if (!report.pyexec_stop_ok) {
    lines.push_back("pyexec stop: " + report.pyexec_stop);
  }
  if (lines.empty()) {
    return;
  }
  std::printf("\n### Errors (first %zu messages per phase)\n\n", kMaxErrorMessages);
  for (const std::string& line : lines) {
    std::printf("- %s\n", line.c_str());
  }
}

void PrintReport(const Report& report) {
  const Options& options = report.options;
  const Machine& machine = report.machine;
  const Json& health = report.pyexec_health;
  const Json pool = health.value("pool", Json::object());
  const Json enforcement =
      health.value("isolation", Json::object()).value("enforcement", Json::object());
  std::printf("## pyexec HTTP benchmark\n\n");
  std::printf("- machine: nproc %d (online %d), %s\n", machine.nproc, machine.online,
              machine.kernel.c_str());
  std::printf("- cpu: %s\n", machine.cpu_model.c_str());
  std::printf(
      "- a 4 KiB page fault: %.2f us zero-fill, %.2f us copy-on-write (median of 5 x 2048)\n",
      machine.zero_fill_fault_us, machine.copy_on_write_fault_us);
  std::printf("- load average: %s before, %s after (%.0f s)\n", report.load_before.c_str(),
              report.load_after.c_str(), report.elapsed_seconds);
  std::printf(
      "- pyexec: `%s serve` %s, %d executions at once, queue %d, %s io thread(s), cgroup mode "
      "%s; ready in %.0f ms\n",
      options.pyexec.c_str(), health.value("version", std::string("?")).c_str(),
      pool.value("max_concurrency", 0), pool.value("queue_capacity", 0),
      options.io_threads > 0 ? std::to_string(options.io_threads).c_str() : "default (1)",
      enforcement.value("cgroup_mode", std::string("?")).c_str(), report.pyexec_start_ms);
  if (!options.pyexec_args.empty()) {
    std::string args;
    for (const std::string& arg : options.pyexec_args) {
      args += " " + arg;
    }
    std::printf("- pyexec extra arguments:%s\n", args.c_str());
  }
  if (options.skip_baseline) {
    std::printf("- baseline: skipped\n");
  } else {
    std::printf(
        "- baseline: pyexec's HTTP transport in the benchmark process, %zu worker threads, a "
        "fresh /usr/bin/python3 per request\n",
        report.baseline_workers);
  }
  std::printf(
      "- sequential: %d (pyexec) and %d (baseline) requests per workload on one keep-alive "
      "connection, back to back; paced: %d (pyexec) and %d (baseline) more, %d ms apart; "
      "throughput: closed loop, %g s (pyexec) and %g s (baseline) per level and round, %d "
      "round(s), the sides alternating (the figures are the medians; a ratio is the median of "
      "the rounds' ratios); %d warm-up requests per side and workload\n",
      options.seq_runs, options.baseline_seq_runs, options.paced_runs, options.baseline_paced_runs,
      options.pause_ms, options.duration_seconds, options.baseline_duration_seconds, options.rounds,
      options.warmup);
  std::printf(
      "- ratio: baseline / pyexec for latency and memory, pyexec / baseline for throughput: "
      "above 1x, pyexec is better\n");
  std::printf("- idle pool children (`%s`), after warm-up: %s; at the end: %s\n",
              std::string(kIdleChildComm).c_str(), IdlePoolText(report.idle_after_warmup).c_str(),
              IdlePoolText(report.idle_at_end).c_str());
  for (const WorkloadResult& workload : report.workloads) {
    PrintWorkload(report, workload);
  }
  PrintLoadDetail(report);
  PrintErrorMessages(report);
  std::printf("\n%" PRIu64 " error(s); pyexec stop: %s\n", report.errors(),
              report.pyexec_stop.c_str());
}

// --- Main --------------------------------------------------------------------------------

int Main(int argc, char** argv) {
  Options options;
  options.pyexec = DefaultPyexecPath();
  std::vector<std::string> workload_names;
  for (const Workload& workload : AllWorkloads()) {
    workload_names.push_back(workload.name);
  }
  CLI::App app{
      "pyexec serve over HTTP against a fresh /usr/bin/python3 per request behind the same HTTP "
      "transport: latency, throughput, memory"};
  app.add_option("--pyexec", options.pyexec, "The pyexec binary to serve with")
      ->capture_default_str();
  app.add_option("--workloads", options.workloads, "Comma-separated workloads")
      ->delimiter(',')
      ->check(CLI::IsMember(workload_names))
      ->capture_default_str();
  app.add_option("--levels", options.levels, "Comma-separated client counts for throughput")
      ->delimiter(',')
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--duration", options.duration_seconds,
                 "Seconds per throughput level (both sides unless --baseline-duration)")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option("--baseline-duration", options.baseline_duration_seconds,
                 "Seconds per throughput level for the baseline (default: --duration)")
      ->check(CLI::Range(0.1, 3600.0));
  app.add_option("--rounds", options.rounds,
                 "Closed loops per level and side, the sides alternating; throughput figures are "
                 "their medians")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--seq-runs", options.seq_runs, "Sequential requests per workload, pyexec")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--baseline-seq-runs", options.baseline_seq_runs,
                 "Sequential requests per workload, baseline")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--paced-runs", options.paced_runs,
                 "Paced sequential requests per workload, pyexec (0: no paced phase)")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  app.add_option("--baseline-paced-runs", options.baseline_paced_runs,
                 "Paced sequential requests per workload, baseline")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--pause-ms", options.pause_ms,
                 "Idle milliseconds between paced requests (the server at rest)")
      ->check(CLI::Range(1, 60000))
      ->capture_default_str();
  app.add_option("--warmup", options.warmup, "Requests per side and workload before measuring")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  app.add_flag("--skip-baseline", options.skip_baseline, "Measure pyexec only");
  app.add_option("--workers", options.workers,
                 "pyexec serve --max-concurrency, and the baseline's workers (0: defaults)")
      ->check(CLI::Range(0, 4096))
      ->capture_default_str();
  app.add_option("--io-threads", options.io_threads, "pyexec serve --io-threads (0: default)")
      ->check(CLI::Range(0, 64))
      ->capture_default_str();
  app.add_option("--queue", options.queue, "pyexec serve --queue (0: default)")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  app.add_option("--baseline-workers", options.baseline_workers,
                 "Baseline worker threads (0: --workers, or 2 x cores like pyexec)")
      ->check(CLI::Range(0, 4096))
      ->capture_default_str();
  app.add_option("--pyexec-arg", options.pyexec_args,
                 "One more argument for pyexec serve (repeatable)");
  app.add_option("--sample-level", options.sample_level,
                 "Client count at which running processes' memory is sampled")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--drain-limit", options.drain_limit_seconds,
                 "Seconds requests in flight at the end of a window may take")
      ->check(CLI::Range(1.0, 3600.0))
      ->capture_default_str();
  app.add_flag("--json", options.json, "Print the results as one JSON object");
  CLI11_PARSE(app, argc, argv);
  if (options.levels.empty() || options.workloads.empty()) {
    std::cerr << "http bench: --levels and --workloads must not be empty\n";
    return 2;
  }
  SetLogLevel(LogLevel::kWarning);  // the transport's own log lines, for the baseline server

  if (options.baseline_duration_seconds <= 0) {
    options.baseline_duration_seconds = options.duration_seconds;
  }

  std::vector<Workload> workloads;
  for (const std::string& name : options.workloads) {
    for (Workload& workload : AllWorkloads()) {
      if (workload.name == name) {
        workloads.push_back(std::move(workload));
      }
    }
  }

  Report report;
  report.options = options;
  report.machine = DescribeMachine();
  report.load_before = LoadAverage();
  const Clock::time_point begun = Clock::now();

  // pyexec first, while this process has no thread: its fork comes from a single thread.
  PyexecServerConfig pyexec_config;
  pyexec_config.binary = options.pyexec;
  if (options.workers > 0) {
    pyexec_config.extra_args.insert(pyexec_config.extra_args.end(),
                                    {"--max-concurrency", std::to_string(options.workers)});
  }
  if (options.io_threads > 0) {
    pyexec_config.extra_args.insert(pyexec_config.extra_args.end(),
                                    {"--io-threads", std::to_string(options.io_threads)});
  }
  if (options.queue > 0) {
    pyexec_config.extra_args.insert(pyexec_config.extra_args.end(),
                                    {"--queue", std::to_string(options.queue)});
  }
  pyexec_config.extra_args.insert(pyexec_config.extra_args.end(), options.pyexec_args.begin(),
                                  options.pyexec_args.end());
  Progress("starting " + options.pyexec + " serve");
  Result<std::unique_ptr<PyexecServer>> pyexec = PyexecServer::Start(pyexec_config);
  if (!pyexec.ok()) {
    std::cerr << "http bench: cannot start pyexec: " << pyexec.error().ToString() << "\n";
    return 2;
  }
  report.pyexec_start_ms = std::chrono::duration<double, std::milli>(Clock::now() - begun).count();
  report.pyexec_health = (*pyexec)->health();

  std::unique_ptr<BaselineServer> baseline;
  if (!options.skip_baseline) {
    BaselineServerConfig baseline_config;
    const int cores = std::max(1, report.machine.nproc);
    baseline_config.workers = static_cast<size_t>(
        options.baseline_workers > 0 ? options.baseline_workers
                                     : (options.workers > 0 ? options.workers : 2 * cores));
    report.baseline_workers = baseline_config.workers;
    Result<std::unique_ptr<BaselineServer>> started = BaselineServer::Start(baseline_config);
    if (!started.ok()) {
      std::cerr << "http bench: cannot start the baseline: " << started.error().ToString() << "\n";
      return 2;
    }
    baseline = std::move(started).value();
  }

  Sides sides;
  sides.pyexec = pyexec->get();
  sides.baseline = baseline.get();
  sides.pyexec_target = Target{"pyexec", (*pyexec)->port(), "memory_peak_bytes"};
  if (baseline != nullptr) {
    sides.baseline_target = Target{"baseline", baseline->port(), "max_rss_bytes"};
  }

  // Warm-up: pyexec's zygote and the page cache for both sides; checked, not measured.
  Progress("warm-up: " + std::to_string(options.warmup) + " request(s) per side and workload");
  for (const Workload& workload : workloads) {
    report.warmup.Merge(Sequential(sides.pyexec_target, workload, options.warmup));
    if (baseline != nullptr) {
      report.warmup.Merge(Sequential(sides.baseline_target, workload, options.warmup));
    }
  }
  (void)WaitIdle([&sides] { return PyexecIdle(*sides.pyexec); });
  std::this_thread::sleep_for(kIdleSettle);
  report.idle_after_warmup = SampleIdlePool(sides.pyexec->pid());

  for (const Workload& workload : workloads) {
    report.workloads.emplace_back();
    MeasureWorkload(options, workload, sides, &report.workloads.back());
  }

  (void)WaitIdle([&sides] { return PyexecIdle(*sides.pyexec); });
  std::this_thread::sleep_for(kIdleSettle);
  report.idle_at_end = SampleIdlePool(sides.pyexec->pid());
  report.load_after = LoadAverage();
  report.elapsed_seconds = std::chrono::duration<double>(Clock::now() - begun).count();

  Progress("stopping the servers");
  if (baseline != nullptr) {
    baseline->Stop();
  }
  Result<int> stopped = (*pyexec)->Stop(kStopLimit);
  if (!stopped.ok()) {
    report.pyexec_stop = stopped.error().ToString();
  } else {
    report.pyexec_stop = sys::DescribeWaitStatus(*stopped);
    report.pyexec_stop_ok = WIFEXITED(*stopped) && WEXITSTATUS(*stopped) == 0;
  }
  if (!report.pyexec_stop_ok) {
    std::cerr << "http bench: the end of pyexec's log:\n" << (*pyexec)->LogTail(4000) << "\n";
  }

  if (options.json) {
    std::cout << ReportJson(report).dump(2) << "\n";
  } else {
    PrintReport(report);
  }
  (void)std::fflush(stdout);
  return report.errors() == 0 ? 0 : 1;
}

}  // namespace
}  // namespace pyexec::bench

int main(int argc, char** argv) { return pyexec::bench::Main(argc, argv); }
