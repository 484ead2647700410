// An execution's limits, the operator's maximums, and the caller's (lower-only) overrides.
// Pure data and validation; used by the server.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "util/result.h"

namespace pyexec::service {

inline constexpr uint64_t kMiB = uint64_t{1024} * 1024;

struct Limits {
  std::chrono::milliseconds timeout{30000};  // wall clock, enforced by the supervisor
  uint64_t memory_bytes = 512 * kMiB;        // the memory cgroup's limit
  uint64_t stdout_bytes = 1 * kMiB;          // captured beyond this: cut and flagged
  uint64_t stderr_bytes = 1 * kMiB;
  uint64_t result_bytes = 16 * kMiB;     // main()'s JSON
  uint32_t pids = 128;                   // processes and threads at once
  uint64_t cpu_seconds = 30;             // RLIMIT_CPU per process
  uint64_t file_size_bytes = 64 * kMiB;  // RLIMIT_FSIZE
  uint32_t open_files = 256;             // RLIMIT_NOFILE
  uint64_t tmp_bytes = 64 * kMiB;        // the jailed script's /tmp (counts as memory too)
};

// The floor for memory: below it numpy and pandas cannot even touch their own pages.
inline constexpr uint64_t kMinMemoryMb = 16;

// What a caller may ask for. Unset fields take the maximum.
struct LimitRequest {
  std::optional<double> timeout_seconds;
  std::optional<int64_t> memory_mb;
};

// Applies `request` under `maximum`: 0 < timeout <= maximum.timeout, kMinMemoryMb <= memory_mb
// <= maximum. A value out of range is kInvalidInput naming the field and the allowed range.
Result<Limits> ApplyRequest(const Limits& maximum, const LimitRequest& request);

}  // namespace pyexec::service
