#include "cgroup/host.h"

#include <unistd.h>

#include <cerrno>
#include <optional>
#include <sstream>

#include "sys/files.h"
#include "util/log.h"

namespace pyexec::cgroup {
namespace {

std::vector<std::string> Split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream stream(text);
  while (std::getline(stream, part, separator)) {
    parts.push_back(part);
  }
  return parts;
}

std::vector<std::string> Words(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream stream(text);
  std::string word;
  while (stream >> word) {
    words.push_back(word);
  }
  return words;
}

bool Contains(const std::vector<std::string>& items, const std::string& item) {
  for (const std::string& candidate : items) {
    if (candidate == item) {
      return true;
    }
  }
  return false;
}

Hierarchy V1Hierarchy(const std::string& mountinfo, const std::string& self_cgroup,
                      const std::string& controller) {
  const std::string mount = FindMountPoint(mountinfo, "cgroup", controller);
  if (mount.empty()) {
    return {};
  }
  const std::string own = FindOwnPath(self_cgroup, controller);
  const std::string dir = own == "/" ? mount : mount + own;
  // Only usable if pyexec can create children there.
  if (!sys::PathExists(dir + "/cgroup.procs")) {
    return {};
  }
  return Hierarchy{dir};
}

// True when every process in the cgroup at `dir` is this one.
bool OnlyUsIn(const std::string& dir) {
  Result<std::string> procs = sys::ReadFile(dir + "/cgroup.procs");
  return procs.ok() && Words(*procs) == std::vector<std::string>{std::to_string(getpid())};
}

// Enables memory, pids and cpu for the children of `dir` (pyexec's own v2 cgroup) where the
// kernel lets it, and returns those that are enabled.
//
// A cgroup with processes of its own may not enable controllers for its children
// (cgroup-v2.rst, "No Internal Process Constraint"): EBUSY. When pyexec is the only process
// there, as in a delegated systemd unit (Delegate=yes) or a container's init, it moves itself
// into a leaf it creates, "pyexec-<pid>-server", and tries again (what systemd and container
// runtimes do for their own payloads). Otherwise the resource falls back to v1 or rlimits.
std::vector<std::string> EnableV2Controllers(const std::string& dir) {
  std::vector<std::string> enabled_now;
  Result<std::string> available = sys::ReadFile(dir + "/cgroup.controllers");
  Result<std::string> enabled = sys::ReadFile(dir + "/cgroup.subtree_control");
  if (!available.ok() || !enabled.ok()) {
    return enabled_now;
  }
  bool moved = false;
  for (const std::string controller : {"memory", "pids", "cpu"}) {
    if (!Contains(Words(*available), controller)) {
      continue;
    }
    if (Contains(Words(*enabled), controller)) {
      enabled_now.push_back(controller);
      continue;
    }
    Status status = sys::WriteFile(dir + "/cgroup.subtree_control", "+" + controller);
    if (!status.ok() && status.error().sys_errno == EBUSY && !moved && OnlyUsIn(dir)) {
      const std::string leaf = dir + "/pyexec-" + std::to_string(getpid()) + "-server";
      Status made = sys::MakeDirectory(leaf, 0755);
      if ((made.ok() || made.error().sys_errno == EEXIST) &&
          sys::WriteFile(leaf + "/cgroup.procs", "0").ok()) {
        moved = true;
        LogInfo("cgroups: moved pyexec into " + leaf + " to enable controllers in " + dir);
        status = sys::WriteFile(dir + "/cgroup.subtree_control", "+" + controller);
      }
    }
    if (!status.ok()) {
      LogWarning("cgroups: cannot enable the v2 " + controller +
                 " controller: " + status.error().ToString());
      continue;
    }
    enabled_now.push_back(controller);
  }
  return enabled_now;
}

}  // namespace

namespace {

struct Mount {
  std::string point;
  std::vector<std::string> options;  // the super options
};

std::optional<Mount> FindMount(const std::string& mountinfo, const std::string& fstype,
                               const std::string& controller) {
  for (const std::string& line : Split(mountinfo, '\n')) {
    // "36 35 0:31 / /sys/fs/cgroup/memory rw,relatime shared:14 - cgroup cgroup rw,memory"
    const size_t dash = line.find(" - ");
    if (dash == std::string::npos) {
      continue;
    }
    const std::vector<std::string> left = Split(line.substr(0, dash), ' ');
    const std::vector<std::string> right = Split(line.substr(dash + 3), ' ');
    if (left.size() < 5 || right.size() < 3 || right[0] != fstype) {
      continue;
    }
    if (left[3] != "/") {
      continue;  // a bind of a sub-cgroup, not the hierarchy's root
    }
    std::vector<std::string> options = Split(right[2], ',');
    if (controller.empty() || Contains(options, controller)) {
      return Mount{left[4], std::move(options)};
    }
  }
  return std::nullopt;
}

}  // namespace

std::string FindMountPoint(const std::string& mountinfo, const std::string& fstype,
                           const std::string& controller) {
  const std::optional<Mount> mount = FindMount(mountinfo, fstype, controller);
  return mount ? mount->point : "";
}

std::vector<std::string> FindMountOptions(const std::string& mountinfo, const std::string& fstype,
                                          const std::string& controller) {
  std::optional<Mount> mount = FindMount(mountinfo, fstype, controller);
  return mount ? std::move(mount->options) : std::vector<std::string>{};
}

std::string FindOwnPath(const std::string& proc_self_cgroup, const std::string& controller) {
  for (const std::string& line : Split(proc_self_cgroup, '\n')) {
    // "4:memory:/a/b" (v1) or "0::/a/b" (v2)
    const size_t first = line.find(':');
    const size_t second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) {
      continue;
    }
    const std::string controllers = line.substr(first + 1, second - first - 1);
    std::string path = line.substr(second + 1);
    if (controller.empty() ? (line.substr(0, first) == "0" && controllers.empty())
                           : Contains(Split(controllers, ','), controller)) {
      return path;
    }
  }
  return "";
}

bool HostCgroups::V2Has(const std::string& controller) const {
  return Contains(v2_controllers, controller);
}

std::string HostCgroups::MemoryBackend() const {
  if (v2.present() && V2Has("memory")) {
    return "v2";
  }
  return v1_memory.present() ? "v1" : "";
}

std::string HostCgroups::PidsBackend() const {
  if (v2.present() && V2Has("pids")) {
    return "v2";
  }
  return v1_pids.present() ? "v1" : "";
}

std::string HostCgroups::CpuBackend() const {
  if (v2.present()) {
    return "v2";  // cpu.stat exists in every v2 cgroup, with or without the cpu controller
  }
  return v1_cpuacct.present() ? "v1" : "";
}

std::string HostCgroups::Mode() const {
  const bool any_v1 = v1_memory.present() || v1_pids.present() || v1_cpuacct.present();
  if (v2.present() && any_v1) {
    return "hybrid";
  }
  if (v2.present()) {
    return "v2";
  }
  return any_v1 ? "v1" : "none";
}

HostCgroups Detect() {
  HostCgroups host;
  Result<std::string> mountinfo = sys::ReadFile("/proc/self/mountinfo", 4 << 20);
  Result<std::string> self_cgroup = sys::ReadFile("/proc/self/cgroup");
  if (!mountinfo.ok() || !self_cgroup.ok()) {
    LogWarning("cgroups: cannot read /proc/self/mountinfo or /proc/self/cgroup");
    return host;
  }
  const std::optional<Mount> v2_mount = FindMount(*mountinfo, "cgroup2", "");
  const std::string v2_own = FindOwnPath(*self_cgroup, "");
  if (v2_mount && !v2_own.empty()) {
    const std::string dir = v2_own == "/" ? v2_mount->point : v2_mount->point + v2_own;
    if (sys::PathExists(dir + "/cgroup.procs")) {
      host.v2.own_dir = dir;
      host.v2_controllers = EnableV2Controllers(dir);
      host.v2_favordynmods = Contains(v2_mount->options, "favordynmods");
    }
  }
  host.v1_memory = V1Hierarchy(*mountinfo, *self_cgroup, "memory");
  host.v1_pids = V1Hierarchy(*mountinfo, *self_cgroup, "pids");
  host.v1_cpuacct = V1Hierarchy(*mountinfo, *self_cgroup, "cpuacct");
  host.v1_memsw = host.v1_memory.present() &&
                  sys::PathExists(host.v1_memory.own_dir + "/memory.memsw.limit_in_bytes");
  // Paths in /proc/self/cgroup are relative to our cgroup namespace's root: only in the
  // initial one does "/" mean the root CPU group (its inode is fixed: PROC_CGROUP_INIT_INO).
  constexpr uint64_t kInitialCgroupNamespace = 0xEFFFFFFBU;
  Result<uint64_t> cgroup_ns = sys::InodeOf("/proc/self/ns/cgroup");
  const bool initial_namespace = cgroup_ns.ok() && *cgroup_ns == kInitialCgroupNamespace;
  Result<std::string> autogroup = sys::ReadFile("/proc/sys/kernel/sched_autogroup_enabled");
  std::string v2_root_control;
  if (v2_mount) {
    Result<std::string> control = sys::ReadFile(v2_mount->point + "/cgroup.subtree_control");
    v2_root_control = control.ok() ? *control : std::string();
  }
  host.own_cpu_groups =
      host.V2Has("cpu") ||
      (initial_namespace &&
       AutogroupsApply(autogroup.ok() && Words(*autogroup) == std::vector<std::string>{"1"},
                       *self_cgroup, v2_root_control));
  return host;
}

bool AutogroupsApply(bool autogroup_enabled, const std::string& proc_self_cgroup,
                     const std::string& v2_root_subtree_control) {
  if (!autogroup_enabled) {
    return false;
  }
  const std::string v1_cpu = FindOwnPath(proc_self_cgroup, "cpu");
  if (!v1_cpu.empty() && v1_cpu != "/") {
    return false;
  }
  const std::string v2 = FindOwnPath(proc_self_cgroup, "");
  return v2.empty() || v2 == "/" || !Contains(Words(v2_root_subtree_control), "cpu");
}

}  // namespace pyexec::cgroup
