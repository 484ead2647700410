// Which cgroup hierarchies this host has and where pyexec sits in them (v1, v2 or a hybrid of
// both), read from /proc/self/mountinfo and /proc/self/cgroup. Used by the server at start-up.
#pragma once

#include <string>
#include <vector>

#include "util/result.h"

namespace pyexec::cgroup {

// One directory (the cgroup pyexec runs in) in one mounted hierarchy.
struct Hierarchy {
  std::string own_dir;  // absolute path of pyexec's own cgroup directory, "" when absent
  bool present() const { return !own_dir.empty(); }
};

struct HostCgroups {
  Hierarchy v2;                             // the unified hierarchy, if mounted
  std::vector<std::string> v2_controllers;  // controllers enabled for pyexec's children in v2
  Hierarchy v1_memory;
  Hierarchy v1_pids;
  Hierarchy v1_cpuacct;
  bool v1_memsw = false;  // memory.memsw.* exists (swap accounting)
  // cgroup2 is mounted with favordynmods (Linux 6.0+): joining a cgroup then takes no RCU grace
  // period under cgroup_mutex, which another execution's cgroup.kill would wait for.
  bool v2_favordynmods = false;
  // Each execution is a CPU scheduling group of its own: the v2 cpu controller is enabled in
  // its cgroup, or the kernel's autogroups apply (sched_autogroup_enabled, pyexec in the root
  // CPU group; each child is its own session). A task there that lowers itself to SCHED_IDLE
  // yields to other tasks on its core but its group keeps its share: it cannot starve.
  bool own_cpu_groups = false;

  bool V2Has(const std::string& controller) const;
  // Where each resource is limited or measured; "" when nowhere.
  std::string MemoryBackend() const;  // "v2", "v1" or ""
  std::string PidsBackend() const;
  std::string CpuBackend() const;
  bool CanKillTree() const { return v2.present(); }  // cgroup.kill
  // "hybrid", "v2", "v1" or "none".
  std::string Mode() const;
};

// Reads the hierarchies. On pure v2, also enables memory/pids/cpu for pyexec's subtree when
// pyexec may (root of a delegated subtree); otherwise they stay absent and Detect says so.
HostCgroups Detect();

// Pure parsers, exposed for unit tests.
// Lines of /proc/self/mountinfo -> mount point of fstype "cgroup2", or of "cgroup" whose
// super options include `controller`.
std::string FindMountPoint(const std::string& mountinfo, const std::string& fstype,
                           const std::string& controller);
// The super options ("rw,nsdelegate,favordynmods") of the mount FindMountPoint finds; none
// when there is no such mount.
std::vector<std::string> FindMountOptions(const std::string& mountinfo, const std::string& fstype,
                                          const std::string& controller);
// Lines of /proc/self/cgroup -> pyexec's path for the v1 `controller` or, with "", for v2.
std::string FindOwnPath(const std::string& proc_self_cgroup, const std::string& controller);
// Whether autogroups apply to pyexec's children: `autogroup_enabled` (the sysctl), and the
// process in the root CPU group: its v1 "cpu" path is "/" or absent, and in v2 it is at the
// root or the cpu controller is enabled nowhere (`v2_root_subtree_control`, the root's
// cgroup.subtree_control; "" without cgroup2).
bool AutogroupsApply(bool autogroup_enabled, const std::string& proc_self_cgroup,
                     const std::string& v2_root_subtree_control);

}  // namespace pyexec::cgroup
