#include "cgroup/execution_cgroup.h"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <mutex>
#include <sstream>
#include <thread>

#include "sys/fds.h"
#include "sys/files.h"
#include "util/log.h"

namespace pyexec::cgroup {
namespace {

constexpr char kParentPrefix[] = "pyexec-";

std::vector<std::string> ListSubdirectories(const std::string& dir) {
  std::vector<std::string> names;
  DIR* handle = opendir(dir.c_str());
  if (handle == nullptr) {
    return names;
  }
  while (dirent* entry = readdir(handle)) {
    const std::string name = entry->d_name;
    if (entry->d_type == DT_DIR && name != "." && name != "..") {
      names.push_back(name);
    }
  }
  closedir(handle);
  return names;
}

std::vector<pid_t> ReadPids(const std::string& dir) {
  std::vector<pid_t> pids;
  Result<std::string> text = sys::ReadFile(dir + "/cgroup.procs", 16 << 20);
  if (!text.ok()) {
    return pids;
  }
  std::istringstream stream(*text);
  pid_t pid = 0;
  while (stream >> pid) {
    pids.push_back(pid);
  }
  return pids;
}

// rmdir `dir`; while processes are still in it, SIGKILL them (v2 cgroup.kill when available)
// and retry, waiting a bounded time for exiting processes to leave. A directory already gone
// counts as removed.
Status KillAndRemove(const std::string& dir, bool v2) {
  // Usually the execution is over and its processes gone: one rmdir, no other file touched.
  Status removed = sys::RemoveDirectory(dir);  // ENOENT is success
  if (removed.ok() || removed.error().sys_errno != EBUSY) {
    return removed;
  }
  if (v2) {
    (void)sys::WriteFile(dir + "/cgroup.kill", "1");  // absent before Linux 5.14: kill() below
  }
  // Processes leave the cgroup once the kernel has finished tearing them down; a SIGKILLed
  // process does so within milliseconds. Bounded at ~5 s so a stuck task cannot hang us.
  for (int attempt = 0; attempt < 5000; ++attempt) {
    for (pid_t pid : ReadPids(dir)) {
      kill(pid, SIGKILL);
    }
    removed = sys::RemoveDirectory(dir);
    if (removed.ok() || removed.error().sys_errno != EBUSY) {
      return removed;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return removed;
}

bool ProcessAlive(pid_t pid) { return kill(pid, 0) == 0 || errno == EPERM; }

// Removes "pyexec-<pid>[-<n>]" directories under `own_dir` whose pyexec process is gone.
void SweepStale(const std::string& own_dir, bool v2) {
  for (const std::string& name : ListSubdirectories(own_dir)) {
    if (name.rfind(kParentPrefix, 0) != 0) {
      continue;
    }
    const pid_t pid =
        static_cast<pid_t>(std::strtol(name.c_str() + sizeof(kParentPrefix) - 1, nullptr, 10));
    if (pid <= 0 || ProcessAlive(pid)) {
      continue;
    }
    const std::string parent = own_dir + "/" + name;
    for (const std::string& child : ListSubdirectories(parent)) {
      (void)KillAndRemove(parent + "/" + child, v2);
    }
    if (Status s = KillAndRemove(parent, v2); s.ok()) {
      LogInfo("cgroups: removed stale " + parent);
    }
  }
}

// Trivially destructible, so that a tree destroyed during static destruction (a test's shared
// engine) still finds them: which numbers live trees hold, 1 to kTreeNumbers; past that, each
// tree gets a number never used before.
constexpr unsigned kTreeNumbers = 64;
std::mutex tree_numbers_mutex;
std::array<bool, kTreeNumbers + 1> tree_number_in_use{};
unsigned tree_numbers_past_the_table = kTreeNumbers;

}  // namespace

TreeNumber TreeNumber::Claim() {
  std::lock_guard lock(tree_numbers_mutex);
  for (unsigned number = 1; number <= kTreeNumbers; ++number) {
    if (!tree_number_in_use.at(number)) {
      tree_number_in_use.at(number) = true;
      return TreeNumber(number);
    }
  }
  return TreeNumber(++tree_numbers_past_the_table);
}

TreeNumber& TreeNumber::operator=(TreeNumber&& other) noexcept {
  if (this != &other) {
    Release();
    value_ = std::exchange(other.value_, 0);
  }
  return *this;
}

void TreeNumber::Release() {
  if (value_ != 0) {
    std::lock_guard lock(tree_numbers_mutex);
    if (value_ <= kTreeNumbers) {
      tree_number_in_use.at(value_) = false;
    }
    value_ = 0;
  }
}

uint64_t ReadKeyedValue(const std::string& text, const std::string& key) {
  std::istringstream stream(text);
  std::string name;
  uint64_t value = 0;
  while (stream >> name >> value) {
    if (name == key) {
      return value;
    }
  }
  return 0;
}

Result<CgroupTree> CgroupTree::Create(const HostCgroups& host) {
  CgroupTree tree;
  tree.host_ = host;
  // "pyexec-<pid>"; a tree made while another of this process exists (tests run several
  // engines) gets "pyexec-<pid>-<n>": one tree's removal must not take another's cgroups with
  // it. The sweep reads the pid either way.
  tree.number_ = TreeNumber::Claim();
  const unsigned number = tree.number_.value();
  const std::string name = kParentPrefix + std::to_string(getpid()) +
                           (number == 1 ? std::string() : "-" + std::to_string(number));
  auto make = [&tree, &name](const std::string& own_dir, bool v2) -> Result<std::string> {
    SweepStale(own_dir, v2);
    const std::string dir = own_dir + "/" + name;
    if (Status s = sys::MakeDirectory(dir, 0755); !s.ok() && s.error().sys_errno != EEXIST) {
      return std::move(s).error();
    }
    tree.created_.emplace_back(dir, v2);
    return dir;
  };
  if (host.v2.present()) {
    Result<std::string> dir = make(host.v2.own_dir, true);
    if (!dir.ok()) {
      return std::move(dir).error();
    }
    tree.v2_dir_ = *dir;
    // Children of our directory get the controllers we were able to enable for ourselves.
    for (const std::string& controller : host.v2_controllers) {
      if (Status s = sys::WriteFile(tree.v2_dir_ + "/cgroup.subtree_control", "+" + controller);
          !s.ok()) {
        return std::move(s).error();
      }
    }
  }
  auto v1 = [&make](const Hierarchy& hierarchy, std::string* out) -> Status {
    if (!hierarchy.present()) {
      return OkStatus();
    }
    Result<std::string> dir = make(hierarchy.own_dir, false);
    if (!dir.ok()) {
      return std::move(dir).error();
    }
    *out = *dir;
    return OkStatus();
  };
  if (host.MemoryBackend() == "v2") {
    tree.memory_dir_ = tree.v2_dir_;
  } else if (Status s = v1(host.v1_memory, &tree.memory_dir_); !s.ok()) {
    return std::move(s).error();
  }
  if (host.PidsBackend() == "v2") {
    tree.pids_dir_ = tree.v2_dir_;
  } else if (Status s = v1(host.v1_pids, &tree.pids_dir_); !s.ok()) {
    return std::move(s).error();
  }
  if (host.CpuBackend() == "v1") {
    if (Status s = v1(host.v1_cpuacct, &tree.cpuacct_dir_); !s.ok()) {
      return std::move(s).error();
    }
  }
  return tree;
}

CgroupTree::~CgroupTree() {
  for (const auto& [dir, v2] : created_) {
    for (const std::string& child : ListSubdirectories(dir)) {
      (void)KillAndRemove(dir + "/" + child, v2);
    }
    if (Status s = KillAndRemove(dir, v2); !s.ok()) {
      LogWarning("cgroups: " + s.error().ToString());
    }
  }
}

Result<ExecutionCgroup> CgroupTree::CreateExecution(const std::string& name,
                                                    const CgroupLimits& limits) const {
  ExecutionCgroup cgroup;
  auto make = [&cgroup, &name](const std::string& parent) -> Result<std::string> {
    const std::string dir = parent + "/" + name;
    for (const std::string& existing : cgroup.dirs_) {
      if (existing == dir) {
        return dir;  // the same v2 directory serves several resources
      }
    }
    if (Status s = sys::MakeDirectory(dir, 0755); !s.ok()) {
      return std::move(s).error();
    }
    cgroup.dirs_.push_back(dir);
    return dir;
  };
  if (!v2_dir_.empty()) {
    Result<std::string> dir = make(v2_dir_);
    if (!dir.ok()) {
      return std::move(dir).error();
    }
    cgroup.kill_dir_ = *dir;
    cgroup.cpu_dir_ = *dir;
    cgroup.cpu_v2_ = true;
  }
  if (!memory_dir_.empty()) {
    Result<std::string> dir = make(memory_dir_);
    if (!dir.ok()) {
      return std::move(dir).error();
    }
    cgroup.memory_dir_ = *dir;
    cgroup.memory_v2_ = memory_dir_ == v2_dir_;
    cgroup.memsw_ = !cgroup.memory_v2_ && host_.v1_memsw;
    cgroup.limits_.memory_bytes = limits.memory_bytes;
    if (limits.memory_bytes > 0) {
      const std::string bytes = std::to_string(limits.memory_bytes);
      if (cgroup.memory_v2_) {
        // memory.swap.max=0 as well: otherwise the limit only covers RAM (nsjail #186, #342).
        for (const auto& [file, value] : {std::pair<std::string, std::string>{"memory.max", bytes},
                                          {"memory.swap.max", "0"},
                                          {"memory.oom.group", "1"}}) {
          if (sys::PathExists(*dir + "/" + file)) {
            if (Status s = sys::WriteFile(*dir + "/" + file, value); !s.ok()) {
              return std::move(s).error();
            }
          }
        }
      } else {
        if (Status s = sys::WriteFile(*dir + "/memory.limit_in_bytes", bytes); !s.ok()) {
          return std::move(s).error();
        }
        // memsw = RAM + swap; equal to the RAM limit means no swap at all. It must be written
        // after memory.limit_in_bytes (the kernel requires memsw >= limit).
        if (host_.v1_memsw) {
          if (Status s = sys::WriteFile(*dir + "/memory.memsw.limit_in_bytes", bytes); !s.ok()) {
            return std::move(s).error();
          }
        }
      }
    }
  }
  if (!pids_dir_.empty()) {
    Result<std::string> dir = make(pids_dir_);
    if (!dir.ok()) {
      return std::move(dir).error();
    }
    cgroup.pids_dir_ = *dir;
    cgroup.limits_.pids_max = limits.pids_max;
    if (limits.pids_max > 0) {
      if (Status s = sys::WriteFile(*dir + "/pids.max", std::to_string(limits.pids_max)); !s.ok()) {
        return std::move(s).error();
      }
    }
  }
  if (!cpuacct_dir_.empty()) {
    Result<std::string> dir = make(cpuacct_dir_);
    if (!dir.ok()) {
      return std::move(dir).error();
    }
    cgroup.cpu_dir_ = *dir;
  }
  for (const std::string& dir : cgroup.dirs_) {
    Result<sys::UniqueFd> fd = sys::OpenWriteOnly((dir + "/cgroup.procs").c_str());
    if (!fd.ok()) {
      return std::move(fd).error();
    }
    cgroup.join_fds_.push_back(std::move(fd).value());
  }
  const auto keep_open = [](const std::string& path, bool write) {
    Result<sys::UniqueFd> fd =
        write ? sys::OpenWriteOnly(path.c_str()) : sys::OpenReadOnly(path.c_str());
    return fd.ok() ? std::move(fd).value() : sys::UniqueFd();
  };
  if (!cgroup.kill_dir_.empty()) {
    cgroup.kill_fd_ = keep_open(cgroup.kill_dir_ + "/cgroup.kill", true);
    cgroup.populated_fd_ = keep_open(cgroup.kill_dir_ + "/cgroup.events", false);
  }
  if (!cgroup.memory_dir_.empty()) {
    cgroup.peak_fd_ = keep_open(cgroup.memory_dir_ + cgroup.PeakFile(), false);
    cgroup.events_fd_ = keep_open(cgroup.memory_dir_ + cgroup.EventsFile(), false);
  }
  if (!cgroup.cpu_dir_.empty()) {
    cgroup.cpu_fd_ = keep_open(cgroup.cpu_dir_ + cgroup.CpuFile(), false);
  }
  return cgroup;
}

ExecutionCgroup::ExecutionCgroup(ExecutionCgroup&& other) noexcept
    : dirs_(std::move(other.dirs_)),
      kill_dir_(std::move(other.kill_dir_)),
      memory_dir_(std::move(other.memory_dir_)),
      memory_v2_(other.memory_v2_),
      memsw_(other.memsw_),
      limits_(other.limits_),
      pids_dir_(std::move(other.pids_dir_)),
      cpu_dir_(std::move(other.cpu_dir_)),
      cpu_v2_(other.cpu_v2_),
      join_fds_(std::move(other.join_fds_)),
      kill_fd_(std::move(other.kill_fd_)),
      peak_fd_(std::move(other.peak_fd_)),
      events_fd_(std::move(other.events_fd_)),
      cpu_fd_(std::move(other.cpu_fd_)),
      populated_fd_(std::move(other.populated_fd_)) {
  other.dirs_.clear();
}

ExecutionCgroup& ExecutionCgroup::operator=(ExecutionCgroup&& other) noexcept {
  if (this != &other) {
    (void)Remove();
    dirs_ = std::move(other.dirs_);
    other.dirs_.clear();
    kill_dir_ = std::move(other.kill_dir_);
    memory_dir_ = std::move(other.memory_dir_);
    memory_v2_ = other.memory_v2_;
    memsw_ = other.memsw_;
    limits_ = other.limits_;
    pids_dir_ = std::move(other.pids_dir_);
    cpu_dir_ = std::move(other.cpu_dir_);
    cpu_v2_ = other.cpu_v2_;
    join_fds_ = std::move(other.join_fds_);
    kill_fd_ = std::move(other.kill_fd_);
    peak_fd_ = std::move(other.peak_fd_);
    events_fd_ = std::move(other.events_fd_);
    cpu_fd_ = std::move(other.cpu_fd_);
    populated_fd_ = std::move(other.populated_fd_);
  }
  return *this;
}

ExecutionCgroup::~ExecutionCgroup() {
  if (Status s = Remove(); !s.ok()) {
    LogWarning("cgroups: " + s.error().ToString());
  }
}

Status ExecutionCgroup::KillAll() const {
  if (kill_fd_) {
    return sys::WriteOpenFile(kill_fd_.get(), kill_dir_ + "/cgroup.kill", "1");
  }
  if (!kill_dir_.empty()) {
    return sys::WriteFile(kill_dir_ + "/cgroup.kill", "1");
  }
  // v1 has no cgroup.kill: kill what is listed until nothing is (bounded passes).
  for (int pass = 0; pass < 100; ++pass) {
    bool any = false;
    for (const std::string& dir : dirs_) {
      for (pid_t pid : ReadPids(dir)) {
        kill(pid, SIGKILL);
        any = true;
      }
    }
    if (!any) {
      break;
    }
  }
  return OkStatus();
}

bool ExecutionCgroup::Empty() const {
  for (const std::string& dir : dirs_) {
    if (!ReadPids(dir).empty()) {
      return false;
    }
  }
  return true;
}

const char* ExecutionCgroup::PeakFile() const {
  return memory_v2_ ? "/memory.peak" : "/memory.max_usage_in_bytes";
}

const char* ExecutionCgroup::EventsFile() const {
  return memory_v2_ ? "/memory.events" : "/memory.oom_control";
}

const char* ExecutionCgroup::CpuFile() const { return cpu_v2_ ? "/cpu.stat" : "/cpuacct.usage"; }

CgroupUsage ExecutionCgroup::ReadUsage() const {
  // From the descriptor opened with the cgroup, or by path where it could not be opened then.
  const auto read = [](const sys::UniqueFd& fd, const std::string& path) {
    return fd ? sys::ReadOpenFile(fd.get(), path) : sys::ReadFile(path);
  };
  CgroupUsage usage;
  if (!memory_dir_.empty()) {
    if (Result<std::string> peak = read(peak_fd_, memory_dir_ + PeakFile()); peak.ok()) {
      usage.memory_peak_bytes = std::strtoull(peak->c_str(), nullptr, 10);
      usage.memory_measured = true;
    }
    if (Result<std::string> events = read(events_fd_, memory_dir_ + EventsFile()); events.ok()) {
      usage.oom_kills = ReadKeyedValue(*events, "oom_kill");
    }
  }
  if (!cpu_dir_.empty()) {
    if (Result<std::string> text = read(cpu_fd_, cpu_dir_ + CpuFile()); text.ok()) {
      usage.cpu_usage_ns = cpu_v2_ ? ReadKeyedValue(*text, "usage_usec") * 1000
                                   : std::strtoull(text->c_str(), nullptr, 10);
      usage.cpu_measured = true;
    }
  }
  return usage;
}

Status ExecutionCgroup::SetLimits(const CgroupLimits& limits) {
  if (limits.memory_bytes > 0 && limits.memory_bytes != limits_.memory_bytes &&
      !memory_dir_.empty()) {
    const std::string bytes = std::to_string(limits.memory_bytes);
    if (memory_v2_) {
      if (Status s = sys::WriteFile(memory_dir_ + "/memory.max", bytes); !s.ok()) {
        return s;
      }
    } else {
      // The kernel keeps memsw >= limit at every step: lower the limit first, raise memsw first.
      const bool lowering = limits_.memory_bytes == 0 || limits.memory_bytes < limits_.memory_bytes;
      std::vector<std::string> files = {"/memory.limit_in_bytes"};
      if (memsw_) {
        files.insert(lowering ? files.end() : files.begin(), "/memory.memsw.limit_in_bytes");
      }
      for (const std::string& file : files) {
        if (Status s = sys::WriteFile(memory_dir_ + file, bytes); !s.ok()) {
          return s;
        }
      }
    }
    limits_.memory_bytes = limits.memory_bytes;
  }
  if (limits.pids_max > 0 && limits.pids_max != limits_.pids_max && !pids_dir_.empty()) {
    if (Status s = sys::WriteFile(pids_dir_ + "/pids.max", std::to_string(limits.pids_max));
        !s.ok()) {
      return s;
    }
    limits_.pids_max = limits.pids_max;
  }
  return OkStatus();
}

Status ExecutionCgroup::Remove() {
  CloseFiles();
  Status result = OkStatus();
  for (const std::string& dir : dirs_) {
    if (Status s = KillAndRemove(dir, dir == kill_dir_); !s.ok()) {
      result = std::move(s);
    }
  }
  dirs_.clear();
  return result;
}

void ExecutionCgroup::CloseFiles() {
  join_fds_.clear();
  kill_fd_.Reset();
  peak_fd_.Reset();
  events_fd_.Reset();
  cpu_fd_.Reset();
  populated_fd_.Reset();
}

Result<ExecutionCgroup::Removal> ExecutionCgroup::TryRemove() {
  if (populated_fd_) {
    // Checked first: while processes are exiting, an rmdir would only fail with EBUSY.
    Result<std::string> events = sys::ReadOpenFile(populated_fd_.get(), "cgroup.events");
    if (events.ok() && ReadKeyedValue(*events, "populated") != 0) {
      return Removal::kPopulated;
    }
  }
  Status failure = OkStatus();
  while (!dirs_.empty()) {
    Status removed = sys::RemoveDirectory(dirs_.front());  // ENOENT is success
    if (!removed.ok() && removed.error().sys_errno == EBUSY && failure.ok()) {
      return Removal::kBusy;  // a process is still in this hierarchy's cgroup
    }
    if (!removed.ok()) {
      failure = std::move(removed);
    }
    if (dirs_.front() == kill_dir_) {
      populated_fd_.Reset();  // a removed file would poll as changed for ever
    }
    dirs_.erase(dirs_.begin());
  }
  CloseFiles();
  if (!failure.ok()) {
    return std::move(failure).error();
  }
  return Removal::kRemoved;
}

void ExecutionCgroup::Abandon() {
  CloseFiles();
  dirs_.clear();
}

}  // namespace pyexec::cgroup
