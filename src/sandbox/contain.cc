#include "sandbox/contain.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "sandbox/child_failure.h"
#include "sandbox/privileges.h"
#include "sandbox/rlimits.h"
#include "sandbox/rootfs.h"

namespace pyexec::sandbox {
namespace {

// Descriptors are staged above this before being placed, so placing one never overwrites
// another that is still to be placed.
constexpr int kStagingFloor = 64;

void Check(bool ok, Step step) { CheckStep(ok, step); }

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
    FailStep(Step::kCheckParent, ESRCH);
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

// Moves `fd` above the descriptors LayOutFds places, so that placing them cannot overwrite it.
int KeepAboveLayout(int fd) {
  const int moved = Stage(fd);
  close(fd);
  return moved;
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
  SetStatusFd(kStatusFd);
  // The result and script descriptors must not leak into programs the script executes.
  Check(fcntl(kResultFd, F_SETFD, FD_CLOEXEC) == 0, Step::kStdio);
  Check(fcntl(kScriptFd, F_SETFD, FD_CLOEXEC) == 0, Step::kStdio);
  Check(fcntl(kStatusFd, F_SETFD, FD_CLOEXEC) == 0, Step::kStdio);
}

}  // namespace

void ContainChild(const ChildPolicy& policy, const ChildFds& fds, pid_t zygote_pid,
                  const SeccompProgram& seccomp) {
  SetStatusFd(fds.status_fd);
  // The recipe, in order. Joining the cgroups comes first so that everything after it,
  // including any process the script starts, is counted and killable.
  JoinCgroups(fds.cgroup_join_fds);
  if (policy.jail != 0) {
    // Forked into its own pid namespace, the child cannot see the zygote (getppid() is 0);
    // if the zygote dies first, the server sees it and kills the execution's cgroup.
    Check(prctl(PR_SET_PDEATHSIG, SIGKILL) == 0, Step::kParentDeathSignal);
  } else {
    DieWithZygote(zygote_pid);
  }
  Check(setsid() >= 0, Step::kNewSession);  // no controlling terminal (nsjail #310)
  ResetSignals();
  const bool rootless = (policy.flags & kPolicyRootless) != 0;
  int proc_sys_fd = -1;
  if (policy.jail != 0) {
    // Still privileged here (host root, or root of the rootless zygote's user namespace): these
    // namespaces belong to that user namespace, so nothing the script can become later (it
    // gets a user namespace of its own below) may mount, configure the network or change the
    // hostname in them.
    Check(unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP) == 0,
          Step::kNamespaces);
    proc_sys_fd = KeepAboveLayout(
        EnterPrivateRoot({.tmp_size_bytes = policy.tmp_size_bytes, .bind_devices = rootless}));
    Check(sethostname(kSandboxHostname, sizeof(kSandboxHostname) - 1) == 0, Step::kHostname);
  } else {
    Check(fchdir(fds.cwd_fd) == 0, Step::kWorkingDirectory);
  }
  LayOutFds(fds);
  if (policy.jail != 0) {
    if (rootless) {
      // Uid 0 of the zygote's namespace is the invoking user, who owns the output pipes; it has
      // no other uid to switch to. The script's namespace maps 65534 onto it.
      EnterUserNamespace(0, 0);
    } else {
      // The output pipes were made by the server as root, mode 0600: reopening them through
      // /dev/stdout (/proc/self/fd/1) checks the pipe's owner, so give them to the sandbox user.
      for (int fd : {STDOUT_FILENO, STDERR_FILENO}) {
        Check(fchown(fd, policy.sandbox_uid, policy.sandbox_gid) == 0, Step::kStdio);
      }
      SwitchToSandboxUser(policy.sandbox_uid, policy.sandbox_gid);
      EnterUserNamespace(policy.sandbox_uid, policy.sandbox_gid);
    }
    if ((policy.flags & kPolicyTestNoUserNamespaceLimit) != 0) {
      close(proc_sys_fd);
    } else {
      DisableNestedUserNamespaces(proc_sys_fd);
    }
    DropAllPrivileges();
    // Changing credentials cleared the parent-death signal (prctl(2)): set it again.
    Check(prctl(PR_SET_PDEATHSIG, SIGKILL) == 0, Step::kParentDeathSignal);
  }
  ApplyFixedRlimits();
  ApplyExecutionRlimits(policy.rlimits);
  Check(syscall(SYS_close_range, kStatusFd + 1, ~0U, 0) == 0, Step::kCloseFds);
  if (policy.jail != 0 && (policy.flags & kPolicyTestNoSeccomp) == 0) {
    // Last: everything above needed calls the filter denies (SECURITY.md, nsjail's order).
    if (const int error = InstallSeccompProgram(seccomp); error != 0) {
      FailStep(Step::kSeccomp, error);
    }
  }
}

void FinishSetup() {
  if (StatusFd() >= 0) {
    const SetupFailure complete{kSetupCompleteStep, 0, {}};
    // One write below PIPE_BUF: whole or not at all. Without the record the server would take
    // the script for never started and run it again in another child: so a child that cannot
    // write it stops here, before any of the script runs.
    if (write(StatusFd(), &complete, sizeof(complete)) != static_cast<ssize_t>(sizeof(complete))) {
      _exit(kSetupFailedExitCode);
    }
    close(StatusFd());
    SetStatusFd(-1);
  }
}

}  // namespace pyexec::sandbox
