// What processes of a tree cost in memory, read from /proc: the descendants of a pid with a
// given name (/proc/<pid>/comm), and each one's /proc/<pid>/smaps_rollup. Runs in the benchmark
// process (as root it may read any process's smaps_rollup).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace pyexec::bench {

// Live (not zombie) descendants of `root`, `root` excluded, whose comm is `comm`.
std::vector<pid_t> DescendantsNamed(pid_t root, std::string_view comm);

struct ProcessMemory {
  uint64_t private_kb = 0;  // Private_Clean + Private_Dirty: pages no other process maps
  uint64_t pss_kb = 0;      // proportional set size: shared pages divided among their users
  uint64_t rss_kb = 0;
};

// nullopt when the process is gone or its smaps_rollup unreadable.
std::optional<ProcessMemory> ReadMemory(pid_t pid);

// The memory of every process in `pids` that could still be read.
std::vector<ProcessMemory> ReadMemories(const std::vector<pid_t>& pids);

}  // namespace pyexec::bench
