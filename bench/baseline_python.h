// The reference model's per-request cost, shared by the benchmarks: a fresh /usr/bin/python3 that
// imports numpy and pandas, runs a script's main() with its stdout captured and prints
// {"result": ..., "stdout": ...}. Runs in the benchmark process, from any thread.
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "util/result.h"

namespace pyexec::bench {

// Exactly this interpreter: the first python3 on PATH may be another build, without numpy.
inline constexpr char kBaselinePython[] = "/usr/bin/python3";

// One interpreter's run: how it ended, what it wrote, and its own resource usage from wait4.
struct BaselineRun {
  int wait_status = 0;
  bool timed_out = false;  // SIGKILLed at the timeout
  std::string out;
  std::string err;
  rusage usage{};
};

// Runs `script` in a fresh kBaselinePython with posix_spawn (as Python's subprocess does) and a
// minimal environment (PATH=/usr/bin:/bin, LANG=C.UTF-8, OPENBLAS_NUM_THREADS=1); stdin is
// /dev/null and no other descriptor of this process reaches it. Collects both outputs and waits
// for it, killing it after `timeout`.
Result<BaselineRun> RunBaselinePython(std::string_view script, std::chrono::milliseconds timeout);

// What the interpreter printed, {"result": ..., "stdout": ...}, when it exited 0 with exactly
// that; otherwise nullopt and `problem` says why.
std::optional<nlohmann::json> ParseBaselineOutput(const Result<BaselineRun>& run,
                                                  std::string* problem);

// User + system CPU time of `usage`.
double CpuMilliseconds(const rusage& usage);

}  // namespace pyexec::bench
