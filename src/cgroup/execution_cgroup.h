// Per-execution cgroups: pyexec's parent directory in each hierarchy (CgroupTree) and one
// child per execution (ExecutionCgroup) carrying its memory, pids and accounting, killed as a
// whole and removed when the execution ends. Used by the server.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cgroup/host.h"
#include "sys/unique_fd.h"
#include "util/result.h"

namespace pyexec::cgroup {

struct CgroupLimits {
  uint64_t memory_bytes = 0;  // 0: no memory limit
  uint32_t pids_max = 0;      // 0: no pids limit
};

struct CgroupUsage {
  uint64_t memory_peak_bytes = 0;
  uint64_t cpu_usage_ns = 0;
  uint64_t oom_kills = 0;  // processes the kernel OOM-killed for this cgroup's limit
  bool memory_measured = false;
  bool cpu_measured = false;
};

class ExecutionCgroup;

// Which of this process's live trees a CgroupTree is (1 for the first), held until it is
// destroyed: it names the tree's directories.
class TreeNumber {
 public:
  static TreeNumber Claim();
  TreeNumber() = default;
  TreeNumber(TreeNumber&& other) noexcept : value_(std::exchange(other.value_, 0)) {}
  TreeNumber& operator=(TreeNumber&& other) noexcept;
  TreeNumber(const TreeNumber&) = delete;
  TreeNumber& operator=(const TreeNumber&) = delete;
  ~TreeNumber() { Release(); }
  unsigned value() const { return value_; }

 private:
  explicit TreeNumber(unsigned value) : value_(value) {}
  void Release();
  unsigned value_ = 0;
};

// pyexec's own directory ("pyexec-<pid>") under the cgroup it runs in, in every hierarchy it
// uses. Creating one also removes directories left behind by pyexec processes that died
// (nsjail issue #69: cgroups leaked after SIGKILL).
class CgroupTree {
 public:
  static Result<CgroupTree> Create(const HostCgroups& host);
  CgroupTree() = default;
  CgroupTree(CgroupTree&&) = default;
  CgroupTree& operator=(CgroupTree&&) = default;
  CgroupTree(const CgroupTree&) = delete;
  CgroupTree& operator=(const CgroupTree&) = delete;
  ~CgroupTree();

  const HostCgroups& host() const { return host_; }
  // Creates, limits and opens the cgroup of one execution, named `name`.
  Result<ExecutionCgroup> CreateExecution(const std::string& name,
                                          const CgroupLimits& limits) const;

 private:
  HostCgroups host_;
  std::string v2_dir_;
  std::string memory_dir_;  // in v2_dir_ or in the v1 memory hierarchy
  std::string pids_dir_;
  std::string cpuacct_dir_;  // v1 only; v2 accounting lives in v2_dir_
  // Every directory this object made, with whether it is in the v2 hierarchy, for removal.
  std::vector<std::pair<std::string, bool>> created_;
  TreeNumber number_;  // released after the destructor's body has removed the directories
};

class ExecutionCgroup {
 public:
  ExecutionCgroup() = default;
  ExecutionCgroup(ExecutionCgroup&& other) noexcept;
  ExecutionCgroup& operator=(ExecutionCgroup&& other) noexcept;
  ExecutionCgroup(const ExecutionCgroup&) = delete;
  ExecutionCgroup& operator=(const ExecutionCgroup&) = delete;
  ~ExecutionCgroup();

  // Descriptors of each hierarchy's cgroup.procs, opened for writing: a process that writes
  // "0" to each joins this cgroup (the child does so before it runs anything of the script).
  const std::vector<sys::UniqueFd>& join_fds() const { return join_fds_; }
  // Once the child has joined: nothing else may.
  void CloseJoinFds() { join_fds_.clear(); }

  // SIGKILLs every process in the cgroup: cgroup.kill on v2 (atomic against forks), otherwise
  // repeated passes over cgroup.procs (the pids limit bounds how many can appear).
  Status KillAll() const;
  // True when no process is left in the cgroup.
  bool Empty() const;
  CgroupUsage ReadUsage() const;
  // Changes the limits it was created with (a pooled child's cgroup takes its request's):
  // memory (and swap) and pids, where this cgroup has them. 0 leaves a limit as it is.
  Status SetLimits(const CgroupLimits& limits);

  // Kills what is left, waits (bounded) for the processes to be gone and removes the
  // directories. Also done by the destructor.
  Status Remove();

  // Removal without waiting, for the janitor: removes the directories if no process is left
  // in the cgroup (kRemoved: nothing of it is left), or returns at once, having removed
  // nothing that still holds a process: kPopulated when cgroup.events says processes are in it
  // (wait for populated_fd), kBusy when an rmdir failed with EBUSY anyway (try again soon).
  // Kills nothing. An error other than "busy" drops the directories (as Remove does) and is
  // returned.
  enum class Removal { kRemoved, kPopulated, kBusy };
  Result<Removal> TryRemove();
  // The v2 cgroup.events descriptor, or -1 (v1 only): POLLPRI on it once "populated" changes,
  // the moment the last process has left. TryRemove reads it and so re-arms it.
  int populated_fd() const { return populated_fd_.get(); }
  // Its directories still to be removed, one per hierarchy.
  const std::vector<std::string>& dirs() const { return dirs_; }
  // Gives the directories up without removing them (left to CgroupTree's destructor, or to
  // the next start's sweep).
  void Abandon();

 private:
  friend class CgroupTree;

  // The files ReadUsage reads, relative to memory_dir_ and cpu_dir_.
  const char* PeakFile() const;
  const char* EventsFile() const;
  const char* CpuFile() const;
  void CloseFiles();

  std::vector<std::string> dirs_;  // every directory of this execution (one per hierarchy)
  std::string kill_dir_;           // v2 directory with cgroup.kill, or ""
  std::string memory_dir_;
  bool memory_v2_ = false;
  bool memsw_ = false;   // v1 with memory.memsw.*
  CgroupLimits limits_;  // as written
  std::string pids_dir_;
  std::string cpu_dir_;
  bool cpu_v2_ = false;
  std::vector<sys::UniqueFd> join_fds_;
  // Opened with the cgroup, before the request, so that the answer's path (the kill, then the
  // counters) touches no path: cgroup.kill, the memory peak, the memory events, the CPU usage.
  // An unopened one (a file this kernel lacks) is tried by path as before.
  sys::UniqueFd kill_fd_;
  sys::UniqueFd peak_fd_;
  sys::UniqueFd events_fd_;
  sys::UniqueFd cpu_fd_;
  sys::UniqueFd populated_fd_;  // kill_dir_'s cgroup.events
};

// Parses "key value" lines (cpu.stat, memory.events, memory.oom_control); 0 when absent.
uint64_t ReadKeyedValue(const std::string& text, const std::string& key);

}  // namespace pyexec::cgroup
