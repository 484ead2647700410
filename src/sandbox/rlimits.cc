#include "sandbox/rlimits.h"

#include <sys/resource.h>

#include <cstdint>

#include "sandbox/child_failure.h"

namespace pyexec::sandbox {
namespace {

// Locked memory: enough for what glibc and Python lock (nothing, usually), far too little to
// pin the host's memory outside the memory cgroup's reclaim or to back io_uring rings.
constexpr uint64_t kMemlockBytes = uint64_t{64} * 1024;

void SetLimit(int resource, uint64_t soft, uint64_t hard) {
  const rlimit limit{static_cast<rlim_t>(soft), static_cast<rlim_t>(hard)};
  CheckStep(setrlimit(resource, &limit) == 0, Step::kRlimits);
}

}  // namespace

void ApplyFixedRlimits() {
  SetLimit(RLIMIT_CORE, 0, 0);  // core_pattern may pipe to a host helper
  SetLimit(RLIMIT_MEMLOCK, kMemlockBytes, kMemlockBytes);
  SetLimit(RLIMIT_RTPRIO, 0, 0);    // no real-time scheduling, even if a policy allowed it
  SetLimit(RLIMIT_MSGQUEUE, 0, 0);  // no POSIX message queue may hold kernel memory
}

void ApplyExecutionRlimits(const ExecutionRlimits& rlimits) {
  if (rlimits.cpu_time_seconds > 0) {
    // Soft limit: SIGXCPU; hard limit one second later: SIGKILL (setrlimit(2)).
    SetLimit(RLIMIT_CPU, rlimits.cpu_time_seconds, rlimits.cpu_time_seconds + 1);
  }
  if (rlimits.file_size_bytes > 0) {
    SetLimit(RLIMIT_FSIZE, rlimits.file_size_bytes, rlimits.file_size_bytes);
  }
  if (rlimits.open_files > 0) {
    SetLimit(RLIMIT_NOFILE, rlimits.open_files, rlimits.open_files);
  }
  if (rlimits.address_space_bytes > 0) {
    SetLimit(RLIMIT_AS, rlimits.address_space_bytes, rlimits.address_space_bytes);
  }
  if (rlimits.max_processes > 0) {
    SetLimit(RLIMIT_NPROC, rlimits.max_processes, rlimits.max_processes);
  }
}

}  // namespace pyexec::sandbox
