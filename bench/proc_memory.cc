#include "proc_memory.h"

#include <dirent.h>

#include <charconv>
#include <map>
#include <memory>
#include <string>

#include "sys/files.h"

namespace pyexec::bench {
namespace {

// /proc entries looked at per walk: far above any process count this benchmark makes.
constexpr int kMaxProcesses = 1 << 20;

struct ProcessEntry {
  pid_t parent = -1;
  bool zombie = false;
  std::string comm;
};

bool ParsePid(std::string_view text, pid_t* pid) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *pid);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty() && *pid > 0;
}

// /proc/<pid>/stat is "pid (comm) state ppid ...", and comm may hold spaces and parentheses:
// it ends at the last ')'.
std::optional<ProcessEntry> ReadEntry(pid_t pid) {
  Result<std::string> stat = sys::ReadFile("/proc/" + std::to_string(pid) + "/stat", 4096);
  if (!stat.ok()) {
    return std::nullopt;
  }
  const size_t open = stat->find('(');
  const size_t close = stat->rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open ||
      close + 4 >= stat->size()) {
    return std::nullopt;
  }
  ProcessEntry entry;
  entry.comm = stat->substr(open + 1, close - open - 1);
  const char state = (*stat)[close + 2];
  entry.zombie = state == 'Z' || state == 'X';
  const std::string_view rest = std::string_view{*stat}.substr(close + 4);
  const std::string_view parent = rest.substr(0, rest.find(' '));
  if (!ParsePid(parent, &entry.parent)) {
    entry.parent = 0;  // the kernel's own threads and init have ppid 0
  }
  return entry;
}

uint64_t FieldKb(std::string_view rollup, std::string_view name) {
  // Every field starts a line (the first line is the mapping's range): "\nPss:" is not
  // "\nSwapPss:".
  const std::string key = "\n" + std::string(name) + ":";
  const size_t at = rollup.find(key);
  if (at == std::string_view::npos) {
    return 0;
  }
  std::string_view value = rollup.substr(at + key.size());
  const size_t digits = value.find_first_of("0123456789");
  if (digits == std::string_view::npos) {
    return 0;
  }
  value.remove_prefix(digits);
  uint64_t kb = 0;
  std::from_chars(value.data(), value.data() + value.size(), kb);
  return kb;
}

}  // namespace

std::vector<pid_t> DescendantsNamed(pid_t root, std::string_view comm) {
  std::unique_ptr<DIR, int (*)(DIR*)> proc(opendir("/proc"), closedir);
  if (proc == nullptr) {
    return {};
  }
  std::map<pid_t, ProcessEntry> entries;
  for (int seen = 0; seen < kMaxProcesses; ++seen) {
    const dirent* item = readdir(proc.get());
    if (item == nullptr) {
      break;
    }
    pid_t pid = 0;
    if (!ParsePid(item->d_name, &pid)) {
      continue;
    }
    if (std::optional<ProcessEntry> entry = ReadEntry(pid)) {
      entries.emplace(pid, std::move(*entry));
    }
  }
  std::vector<pid_t> found;
  for (const auto& [pid, entry] : entries) {
    if (entry.zombie || entry.comm != comm) {
      continue;
    }
    // Up the parent chain to `root`; bounded by the number of processes (no cycles in a tree,
    // but a pid reused between two reads could make one).
    pid_t ancestor = entry.parent;
    for (size_t steps = 0; steps <= entries.size() && ancestor > 0; ++steps) {
      if (ancestor == root) {
        found.push_back(pid);
        break;
      }
      const auto up = entries.find(ancestor);
      if (up == entries.end()) {
        break;
      }
      ancestor = up->second.parent;
    }
  }
  return found;
}

std::optional<ProcessMemory> ReadMemory(pid_t pid) {
  Result<std::string> rollup =
      sys::ReadFile("/proc/" + std::to_string(pid) + "/smaps_rollup", size_t{64} * 1024);
  if (!rollup.ok() || rollup->find("Rss:") == std::string::npos) {
    return std::nullopt;
  }
  ProcessMemory memory;
  memory.private_kb = FieldKb(*rollup, "Private_Clean") + FieldKb(*rollup, "Private_Dirty");
  memory.pss_kb = FieldKb(*rollup, "Pss");
  memory.rss_kb = FieldKb(*rollup, "Rss");
  return memory;
}

std::vector<ProcessMemory> ReadMemories(const std::vector<pid_t>& pids) {
  std::vector<ProcessMemory> memories;
  for (const pid_t pid : pids) {
    if (std::optional<ProcessMemory> memory = ReadMemory(pid)) {
      memories.push_back(*memory);
    }
  }
  return memories;
}

}  // namespace pyexec::bench
