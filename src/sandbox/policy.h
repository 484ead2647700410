// Plain data describing what the child must be confined to: built by the server from an
// execution's limits, carried to the zygote in a fork request, applied by contain.cc.
#pragma once

#include <cstdint>

namespace pyexec::sandbox {

// Fixed-size and trivially copyable: it crosses the zygote socket as bytes.
struct ChildPolicy {
  uint64_t cpu_time_seconds = 0;     // RLIMIT_CPU (soft; hard = soft + 1), 0: unlimited
  uint64_t file_size_bytes = 0;      // RLIMIT_FSIZE, 0: unlimited
  uint64_t open_files = 0;           // RLIMIT_NOFILE, 0: inherited
  uint64_t address_space_bytes = 0;  // RLIMIT_AS: only when no memory cgroup exists
  uint64_t max_processes = 0;        // RLIMIT_NPROC: only when no pids cgroup exists
  uint64_t result_limit_bytes = 0;   // largest result the runner may send
  // The jail (namespaces, private root, unprivileged ids); see contain.cc.
  uint32_t jail = 0;         // 1: contain in namespaces and a private root
  uint32_t sandbox_uid = 0;  // host uid the script runs as (never 0)
  uint32_t sandbox_gid = 0;  // host gid the script runs as (never 0)
  uint32_t reserved = 0;
  uint64_t tmp_size_bytes = 0;  // size of the script's /tmp (tmpfs, charged to its memory)
};

// The ids the script sees inside its user namespace.
inline constexpr uint32_t kInsideUid = 65534;
inline constexpr uint32_t kInsideGid = 65534;
inline constexpr char kSandboxHostname[] = "pyexec";

}  // namespace pyexec::sandbox
