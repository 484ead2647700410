#include "sandbox/contain.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "sandbox/setup_status.h"

namespace pyexec::sandbox {
namespace {

// Descriptors are staged above this before being placed, so placing one never overwrites
// another that is still to be placed.
constexpr int kStagingFloor = 64;

int g_status_fd = -1;

[[noreturn]] void Fail(Step step, int sys_errno) { FailStep(static_cast<int>(step), sys_errno); }

void Check(bool ok, Step step) {
  if (!ok) {
    Fail(step, errno);
  }
}

void JoinCgroups(std::span<const int> join_fds) {
  for (int fd : join_fds) {
    // "0" names the writing process itself (Documentation/admin-guide/cgroup-v2.rst).
    Check(write(fd, "0", 1) == 1, Step::kJoinCgroup);
  }
}

void DieWithZygote(pid_t zygote_pid) {
  Check(prctl(PR_SET_PDEATHSIG, SIGKILL) == 0, Step::kParentDeathSignal);
  // The zygote may have died between fork and prctl: then PDEATHSIG never fires (nsjail #299).
  if (getppid() != zygote_pid) {
    Fail(Step::kCheckParent, ESRCH);
  }
}

void ResetSignals() {
  // The zygote blocks SIGCHLD for its signalfd; the script gets an ordinary mask.
  sigset_t none;
  sigemptyset(&none);
  Check(sigprocmask(SIG_SETMASK, &none, nullptr) == 0, Step::kSignalMask);
}

int Stage(int fd) {
  const int staged = fcntl(fd, F_DUPFD_CLOEXEC, kStagingFloor);
  Check(staged >= 0, Step::kStdio);
  return staged;
}

void Place(int staged, int target) { Check(dup2(staged, target) == target, Step::kStdio); }

void LayOutFds(const ChildFds& fds) {
  const int out = Stage(fds.stdout_fd);
  const int err = Stage(fds.stderr_fd);
  const int result = Stage(fds.result_fd);
  const int script = Stage(fds.script_fd);
  const int status = Stage(fds.status_fd);
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  Check(null_fd >= 0, Step::kStdio);
  Place(null_fd, STDIN_FILENO);  // input() sees EOF at once
  Place(out, STDOUT_FILENO);
  Place(err, STDERR_FILENO);
  Place(result, kResultFd);
  Place(script, kScriptFd);
  Place(status, kStatusFd);
  g_status_fd = kStatusFd;
  // The result and script descriptors must not leak into programs the script executes.
  Check(fcntl(kResultFd, F_SETFD, FD_CLOEXEC) == 0, Step::kStdio);
  Check(fcntl(kScriptFd, F_SETFD, FD_CLOEXEC) == 0, Step::kStdio);
  Check(fcntl(kStatusFd, F_SETFD, FD_CLOEXEC) == 0, Step::kStdio);
}

void SetLimit(int resource, uint64_t soft, uint64_t hard) {
  const rlimit limit{static_cast<rlim_t>(soft), static_cast<rlim_t>(hard)};
  Check(setrlimit(resource, &limit) == 0, Step::kRlimits);
}

void ApplyRlimits(const ChildPolicy& policy) {
  SetLimit(RLIMIT_CORE, 0, 0);  // core_pattern may pipe to a host helper
  if (policy.cpu_time_seconds > 0) {
    // Soft limit: SIGXCPU; hard limit one second later: SIGKILL (setrlimit(2)).
    SetLimit(RLIMIT_CPU, policy.cpu_time_seconds, policy.cpu_time_seconds + 1);
  }
  if (policy.file_size_bytes > 0) {
    SetLimit(RLIMIT_FSIZE, policy.file_size_bytes, policy.file_size_bytes);
  }
  if (policy.open_files > 0) {
    SetLimit(RLIMIT_NOFILE, policy.open_files, policy.open_files);
  }
  if (policy.address_space_bytes > 0) {
    SetLimit(RLIMIT_AS, policy.address_space_bytes, policy.address_space_bytes);
  }
  if (policy.max_processes > 0) {
    SetLimit(RLIMIT_NPROC, policy.max_processes, policy.max_processes);
  }
}

}  // namespace

void FailStep(int step, int sys_errno) {
  const SetupFailure failure{static_cast<uint32_t>(step), sys_errno};
  if (g_status_fd >= 0) {
    [[maybe_unused]] ssize_t ignored = write(g_status_fd, &failure, sizeof(failure));
  }
  _exit(kSetupFailedExitCode);
}

void ContainChild(const ChildPolicy& policy, const ChildFds& fds, pid_t zygote_pid) {
  g_status_fd = fds.status_fd;
  // The recipe, in order. Joining the cgroups comes first so that everything after it,
  // including any process the script starts, is counted and killable.
  JoinCgroups(fds.cgroup_join_fds);
  DieWithZygote(zygote_pid);
  Check(setsid() >= 0, Step::kNewSession);  // no controlling terminal (nsjail #310)
  ResetSignals();
  Check(fchdir(fds.cwd_fd) == 0, Step::kWorkingDirectory);
  LayOutFds(fds);
  ApplyRlimits(policy);
  Check(syscall(SYS_close_range, kStatusFd + 1, ~0U, 0) == 0, Step::kCloseFds);
}

void FinishSetup() {
  if (g_status_fd >= 0) {
    close(g_status_fd);
    g_status_fd = -1;
  }
}

}  // namespace pyexec::sandbox
