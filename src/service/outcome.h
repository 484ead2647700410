// The verdict of one execution and how it is derived from what the supervisor observed (the
// runner's envelope, the wait status, the cgroup's counters, the deadline). Pure functions,
// used by the server.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/result.h"

namespace pyexec::service {

enum class Verdict {
  kOk,
  kSyntaxError,
  kMissingMain,
  kException,
  kNotSerializable,
  kTimeout,
  kMemoryLimit,
  kKilled,
  kExit,
  kResultTooLarge,
};

std::string_view VerdictName(Verdict verdict);
std::optional<Verdict> ParseVerdict(std::string_view name);

struct Outcome {
  Verdict verdict = Verdict::kOk;
  std::string result_json;           // kOk only: main()'s value, validated strict JSON, verbatim
  std::string message;               // human-readable, for every status but kOk
  std::string exception_type;        // kException (e.g. "ZeroDivisionError"), kSyntaxError
  std::string traceback;             // kException: the script's frames only
  std::optional<int64_t> line;       // kSyntaxError
  std::optional<int64_t> column;     // kSyntaxError
  std::optional<int64_t> exit_code;  // kExit
  std::optional<int> signal;         // kKilled
  std::string path;                  // kNotSerializable: where in the result
};

// Everything the supervisor saw of one finished execution.
struct Observation {
  bool timed_out = false;
  std::chrono::milliseconds timeout{0};
  bool exited = false;  // the zygote reported the child's wait status
  int wait_status = 0;
  // The runner's whole message arrived (EnvelopeComplete) and the execution was killed then,
  // without waiting for the exit status: the envelope is believed as if the child exited 0.
  bool answered_early = false;
  std::string result_channel;    // bytes the child wrote on its result descriptor
  bool result_overflow = false;  // it wrote more than the channel's cap
  uint64_t result_limit_bytes = 0;
  uint64_t oom_kills = 0;
  uint64_t memory_limit_bytes = 0;
  uint64_t cpu_seconds_limit = 0;
  uint64_t cpu_used_ns = 0;
};

// Maximum nesting accepted in a result (and in the envelope: 2).
inline constexpr size_t kMaxResultDepth = 10000;

// True when `channel` holds the runner's whole message: a believable envelope line whose
// "bytes" field is exactly the size of what follows it.
bool EnvelopeComplete(std::string_view channel);

// Derives the verdict. Precedence: deadline, overflow of the result channel, memory (an OOM
// kill), the runner's envelope (only when the child exited 0), then how the process ended.
// An envelope that does not parse is not believed; an invalid result is not_serializable.
Outcome Classify(const Observation& observation);

}  // namespace pyexec::service
