#include "sandbox/host_support.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <sstream>
#include <utility>

#include "sandbox/policy.h"
#include "sys/fds.h"
#include "sys/files.h"
#include "sys/process.h"
#include "util/result.h"

namespace pyexec::sandbox {
namespace {

// A probe child finishes in well under a millisecond; this only bounds a wedged kernel call.
constexpr std::chrono::milliseconds kProbeTimeout{5000};

// prctl(2) reads its arguments as unsigned long: unused ones must be zero at that width.
constexpr uint64_t kUnused = 0;

// What a probe child reports when one of its steps fails: the step's index in the probe's step
// names and errno (0 when the call succeeded but did not take effect). Written as raw bytes in
// one write, smaller than PIPE_BUF, hence atomic.
struct StepFailure {
  int32_t step = -1;
  int32_t sys_errno = 0;
};

constexpr StepFailure kAllStepsDone{};

StepFailure Failed(int32_t step, int saved_errno) { return StepFailure{step, saved_errno}; }

// Waits for the probe child `pid`; SIGKILLs it after kProbeTimeout. Returns its wait status.
Result<int> WaitBounded(pid_t pid) {
  sys::UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) {
    const int saved = errno;
    kill(pid, SIGKILL);
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return SysError("pidfd_open", saved);
  }
  // Owning the child: whatever happens below, it is killed and reaped.
  sys::ChildProcess child(pid, std::move(pidfd));
  const auto deadline = std::chrono::steady_clock::now() + kProbeTimeout;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return MakeError(
          ErrorCode::kUnavailable,
          "probe did not finish within " + std::to_string(kProbeTimeout.count()) + " ms; killed");
    }
    pollfd polled{child.pidfd(), POLLIN, 0};
    const int ready = poll(&polled, 1, static_cast<int>(left.count()));
    if (ready > 0) {
      return child.Wait();
    }
    if (ready < 0 && errno != EINTR) {
      return SysError("poll(pidfd)", errno);
    }
  }
}

// Runs `body` in a forked child and turns its outcome into a ProbeResult. `body` runs after
// fork: it may make only raw syscalls (no allocation, no locks) and returns the first failing
// step, or kAllStepsDone. `steps` names each step, so a failure reads "<step>: <errno text>".
template <typename Body>
ProbeResult RunProbe(const std::vector<std::string>& steps, const std::string& success, Body body) {
  Result<sys::PipeEnds> pipe = sys::MakePipe(true);
  if (!pipe.ok()) {
    return {false, "probe not run: " + pipe.error().ToString()};
  }
  const int report_fd = pipe->write.get();
  const pid_t pid = fork();
  if (pid < 0) {
    return {false, "probe not run: " + SysError("fork", errno).ToString()};
  }
  if (pid == 0) {
    const StepFailure failure = body();
    if (failure.step < 0) {
      _exit(0);
    }
    // If this write fails the parent still sees exit 1 and reports the bare status.
    const ssize_t written = write(report_fd, &failure, sizeof(failure));
    (void)written;
    _exit(1);
  }
  pipe->write.Reset();
  Result<int> status = WaitBounded(pid);
  if (!status.ok()) {
    return {false, status.error().ToString()};
  }
  if (WIFEXITED(*status) && WEXITSTATUS(*status) == 0) {
    return {true, success};
  }
  StepFailure failure;
  const ssize_t got = read(pipe->read.get(), &failure, sizeof(failure));
  if (got == static_cast<ssize_t>(sizeof(failure)) && failure.step >= 0 &&
      static_cast<size_t>(failure.step) < steps.size()) {
    const std::string& call = steps[static_cast<size_t>(failure.step)];
    return {false, failure.sys_errno == 0 ? call + ": did not take effect"
                                          : SysError(call, failure.sys_errno).ToString()};
  }
  return {false, "probe child " + sys::DescribeWaitStatus(*status)};
}

ControlSupport Control(std::string name, bool mandatory, ProbeResult result) {
  return ControlSupport{std::move(name), result.supported, mandatory, std::move(result.detail)};
}

// "name=value" for each of `paths` that exists, "; "-separated; "" when none does.
std::string SysctlFacts(std::initializer_list<const char*> paths) {
  std::string facts;
  for (const char* path : paths) {
    Result<std::string> value = sys::ReadFile(path);
    if (!value.ok()) {
      continue;
    }
    while (!value->empty() && (value->back() == '\n' || value->back() == ' ')) {
      value->pop_back();
    }
    const std::string name(path);
    facts += "; " + name.substr(name.rfind('/') + 1) + "=" + *value;
  }
  return facts;
}

// open + write + close of a small /proc file, for a probe child (raw syscalls only). Returns 0
// or errno.
int WriteProcFile(const char* path, const std::string& contents) {
  const int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    return errno;
  }
  const ssize_t written = write(fd, contents.data(), contents.size());
  const int saved = written == static_cast<ssize_t>(contents.size()) ? 0
                    : written < 0                                    ? errno
                                                                     : EIO;
  close(fd);
  return saved;
}

// The user namespace as the jail makes it (privileges.cc): as root, first become the sandbox
// uid/gid, then unshare(CLONE_NEWUSER) unprivileged and map kInsideUid/kInsideGid onto the
// current ids from inside. So the knobs that only restrict unprivileged creation count too:
// max_user_namespaces (0 disables it; bubblewrap's --disable-userns), Debian's
// unprivileged_userns_clone, Ubuntu's AppArmor restriction (the namespace gets no
// capabilities, so writing the maps fails). Their values are added to the detail.
ControlSupport ProbeUserNamespace(uint32_t sandbox_uid, uint32_t sandbox_gid) {
  const bool switch_user = geteuid() == 0;
  const uint32_t uid = switch_user ? sandbox_uid : geteuid();
  const uint32_t gid = switch_user ? sandbox_gid : getegid();
  const std::string uid_text = std::to_string(uid);
  const std::string gid_text = std::to_string(gid);
  const std::string uid_map = std::to_string(kInsideUid) + " " + uid_text + " 1\n";
  const std::string gid_map = std::to_string(kInsideGid) + " " + gid_text + " 1\n";
  const std::string deny = "deny";
  const std::vector<std::string> steps = {
      "setgroups([])",
      "setresgid(" + gid_text + ")",
      "setresuid(" + uid_text + ")",
      "prctl(PR_SET_DUMPABLE, 1)",
      "unshare(CLONE_NEWUSER) as uid " + uid_text,
      "write(/proc/self/setgroups, deny)",
      "write(/proc/self/uid_map, " + std::to_string(kInsideUid) + " " + uid_text + " 1)",
      "write(/proc/self/gid_map, " + std::to_string(kInsideGid) + " " + gid_text + " 1)",
  };
  const std::string success = "unshare(CLONE_NEWUSER) as uid " + uid_text + " mapped to " +
                              std::to_string(kInsideUid) + " inside works";
  ProbeResult result = RunProbe(steps, success, [&]() {
    if (switch_user) {
      if (setgroups(0, nullptr) != 0) {
        return Failed(0, errno);
      }
      if (setresgid(gid, gid, gid) != 0) {
        return Failed(1, errno);
      }
      if (setresuid(uid, uid, uid) != 0) {
        return Failed(2, errno);
      }
    }
    // Leaving uid 0 made the process undumpable, and its /proc/self/*_map root's (EACCES).
    if (prctl(PR_SET_DUMPABLE, uint64_t{1}, kUnused, kUnused, kUnused) != 0) {
      return Failed(3, errno);
    }
    if (unshare(CLONE_NEWUSER) != 0) {
      return Failed(4, errno);
    }
    // "deny" must come before gid_map for an unprivileged writer (user_namespaces(7)).
    if (const int failed = WriteProcFile("/proc/self/setgroups", deny); failed != 0) {
      return Failed(5, failed);
    }
    if (const int failed = WriteProcFile("/proc/self/uid_map", uid_map); failed != 0) {
      return Failed(6, failed);
    }
    if (const int failed = WriteProcFile("/proc/self/gid_map", gid_map); failed != 0) {
      return Failed(7, failed);
    }
    return kAllStepsDone;
  });
  result.detail += SysctlFacts({"/proc/sys/user/max_user_namespaces",
                                "/proc/sys/kernel/unprivileged_userns_clone",
                                "/proc/sys/kernel/apparmor_restrict_unprivileged_userns"});
  return Control("user_namespace", true, std::move(result));
}

// A private root: tmpfs on a fresh directory, pivot_root into it, detach the old root. All of
// it happens in the child's own mount namespace, made private first, so nothing propagates to
// the host; the directory is removed once the child has exited.
ProbeResult ProbePivotRoot(int namespace_base) {
  Result<sys::TempDir> dir = sys::TempDir::Create("/tmp", "pyexec-doctor-");
  if (!dir.ok()) {
    return {false, "probe not run: " + dir.error().ToString()};
  }
  const std::string& path = dir->path();
  const char* new_root = path.c_str();
  const int flags = namespace_base | CLONE_NEWNS;
  const std::vector<std::string> steps = {
      "unshare(" + UnshareFlagsName(flags) + ")",
      "mount(/, MS_REC|MS_PRIVATE)",
      "mount(tmpfs, " + path + ")",
      "chdir(" + path + ")",
      "pivot_root(., .)",
      "umount2(old root, MNT_DETACH)",
  };
  return RunProbe(steps, "pivot_root into a tmpfs in a private mount namespace works",
                  [flags, new_root]() {
                    if (unshare(flags) != 0) {
                      return Failed(0, errno);
                    }
                    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
                      return Failed(1, errno);
                    }
                    if (mount("tmpfs", new_root, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                              "size=16k,mode=0700") != 0) {
                      return Failed(2, errno);
                    }
                    if (chdir(new_root) != 0) {
                      return Failed(3, errno);
                    }
                    // pivot_root(".", ".") stacks the old root on the new one, and detaching
                    // it leaves only the tmpfs (pivot_root(2), NOTES; runc does the same).
                    if (syscall(SYS_pivot_root, ".", ".") != 0) {
                      return Failed(4, errno);
                    }
                    if (umount2(".", MNT_DETACH) != 0) {
                      return Failed(5, errno);
                    }
                    return kAllStepsDone;
                  });
}

// The value of the "Seccomp:" line of /proc/self/status, or "" when the line is absent (a
// kernel without CONFIG_SECCOMP).
std::string SeccompStatusField() {
  Result<std::string> status = sys::ReadFile("/proc/self/status");
  if (!status.ok()) {
    return "";
  }
  const std::string key = "\nSeccomp:";
  const size_t at = status->find(key);
  if (at == std::string::npos) {
    return "";
  }
  const size_t start = status->find_first_not_of(" \t", at + key.size());
  const size_t end = status->find('\n', at + key.size());
  if (start == std::string::npos || start >= end) {
    return "";
  }
  return status->substr(start, end - start);
}

// Filter mode is available when the kernel reports a seccomp mode for this process and a
// child can install a one-instruction allow-all filter (after no_new_privs, as the jail does).
ProbeResult ProbeSeccompFilter() {
  const int mode = prctl(PR_GET_SECCOMP, kUnused, kUnused, kUnused, kUnused);
  if (mode < 0) {
    return {false, SysError("prctl(PR_GET_SECCOMP)", errno).ToString()};
  }
  const std::string field = SeccompStatusField();
  if (field.empty()) {
    return {false, "no Seccomp: field in /proc/self/status (kernel without CONFIG_SECCOMP)"};
  }
  std::string success = "an allow-all filter installs (SECCOMP_MODE_FILTER); Seccomp: " + field;
  if (mode == SECCOMP_MODE_FILTER) {
    success += "; pyexec itself already runs under a filter, which the jail's stacks on";
  }
  sock_filter allow_all{static_cast<uint16_t>(BPF_RET | BPF_K), 0, 0, SECCOMP_RET_ALLOW};
  const sock_fprog program{1, &allow_all};
  const sock_fprog* program_ptr = &program;
  const std::vector<std::string> steps = {
      "prctl(PR_SET_NO_NEW_PRIVS)",
      "prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER)",
      "prctl(PR_GET_SECCOMP) after installing a filter",
  };
  return RunProbe(steps, success, [program_ptr]() {
    if (prctl(PR_SET_NO_NEW_PRIVS, uint64_t{1}, kUnused, kUnused, kUnused) != 0) {
      return Failed(0, errno);
    }
    if (prctl(PR_SET_SECCOMP, uint64_t{SECCOMP_MODE_FILTER}, program_ptr) != 0) {
      return Failed(1, errno);
    }
    const int now = prctl(PR_GET_SECCOMP, kUnused, kUnused, kUnused, kUnused);
    if (now != SECCOMP_MODE_FILTER) {
      return Failed(2, now < 0 ? errno : 0);
    }
    return kAllStepsDone;
  });
}

ProbeResult ProbeNoNewPrivs() {
  const std::vector<std::string> steps = {"prctl(PR_SET_NO_NEW_PRIVS)",
                                          "prctl(PR_GET_NO_NEW_PRIVS)"};
  return RunProbe(steps, "prctl(PR_SET_NO_NEW_PRIVS) works", []() {
    if (prctl(PR_SET_NO_NEW_PRIVS, uint64_t{1}, kUnused, kUnused, kUnused) != 0) {
      return Failed(0, errno);
    }
    const int now = prctl(PR_GET_NO_NEW_PRIVS, kUnused, kUnused, kUnused, kUnused);
    if (now != 1) {
      return Failed(1, now < 0 ? errno : 0);
    }
    return kAllStepsDone;
  });
}

}  // namespace

std::string UnshareFlagsName(int flags) {
  static constexpr std::pair<int, const char*> kNames[] = {
      {CLONE_NEWUSER, "CLONE_NEWUSER"},     {CLONE_NEWPID, "CLONE_NEWPID"},
      {CLONE_NEWNET, "CLONE_NEWNET"},       {CLONE_NEWNS, "CLONE_NEWNS"},
      {CLONE_NEWIPC, "CLONE_NEWIPC"},       {CLONE_NEWUTS, "CLONE_NEWUTS"},
      {CLONE_NEWCGROUP, "CLONE_NEWCGROUP"},
  };
  std::string name;
  unsigned rest = static_cast<unsigned>(flags);
  for (const auto& [flag, flag_name] : kNames) {
    if ((rest & static_cast<unsigned>(flag)) != 0) {
      name += (name.empty() ? "" : "|") + std::string(flag_name);
      rest &= ~static_cast<unsigned>(flag);
    }
  }
  if (rest != 0 || name.empty()) {
    char hex[16];
    (void)snprintf(hex, sizeof(hex), "0x%x", rest);
    name += (name.empty() ? "" : "|") + std::string(hex);
  }
  return name;
}

ProbeResult ProbeUnshare(int flags) {
  const std::string call = "unshare(" + UnshareFlagsName(flags) + ")";
  return RunProbe({call}, call + " works",
                  [flags]() { return unshare(flags) == 0 ? kAllStepsDone : Failed(0, errno); });
}

std::vector<ControlSupport> ProbeHostSupport(uint32_t sandbox_uid, uint32_t sandbox_gid) {
  // Root creates the other namespaces directly, as the jail does; without root they need a
  // user namespace to be created in.
  const int base = geteuid() == 0 ? 0 : CLONE_NEWUSER;
  std::vector<ControlSupport> controls;
  controls.push_back(ProbeUserNamespace(sandbox_uid, sandbox_gid));
  controls.push_back(Control("pid_namespace", true, ProbeUnshare(base | CLONE_NEWPID)));
  controls.push_back(Control("net_namespace", true, ProbeUnshare(base | CLONE_NEWNET)));
  controls.push_back(Control("mount_namespace", true, ProbeUnshare(base | CLONE_NEWNS)));
  controls.push_back(Control("pivot_root", true, ProbePivotRoot(base)));
  controls.push_back(Control("seccomp_filter", true, ProbeSeccompFilter()));
  controls.push_back(Control("no_new_privs", true, ProbeNoNewPrivs()));
  // The jail unshares these with the mount and network namespaces in one call (contain.cc):
  // without any of them, no execution can start, so each is mandatory too.
  controls.push_back(Control("ipc_namespace", true, ProbeUnshare(base | CLONE_NEWIPC)));
  controls.push_back(Control("uts_namespace", true, ProbeUnshare(base | CLONE_NEWUTS)));
  controls.push_back(Control("cgroup_namespace", true, ProbeUnshare(base | CLONE_NEWCGROUP)));
  return controls;
}

bool AllMandatorySupported(const std::vector<ControlSupport>& controls) {
  for (const ControlSupport& control : controls) {
    if (control.mandatory && !control.supported) {
      return false;
    }
  }
  return true;
}

std::string KernelRelease() {
  utsname name{};
  if (uname(&name) != 0) {
    return "unknown";
  }
  return name.release;
}

bool InInitialUserNamespace() {
  Result<std::string> map = sys::ReadFile("/proc/self/uid_map");
  if (!map.ok()) {
    return true;  // no user namespaces at all (or no /proc): then this is the only one
  }
  std::istringstream fields(*map);
  std::string inside, outside, count, more;
  fields >> inside >> outside >> count;
  return inside == "0" && outside == "0" && count == "4294967295" && !(fields >> more);
}

}  // namespace pyexec::sandbox
