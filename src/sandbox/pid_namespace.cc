#include "sandbox/pid_namespace.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstddef>

#include "sys/fds.h"
#include "sys/process.h"

namespace pyexec::sandbox {
namespace {

struct InitLaunch {
  int image_fd = -1;
  int zygote_pidfd = -1;
  int failed_errno = 0;  // written by the child before it gives up, read after CLONE_VFORK
};

// The launching child runs on this while the (single-threaded) zygote is suspended.
alignas(64) std::array<std::byte, size_t{32} * 1024> init_launch_stack;

// Runs in the child, in the zygote's memory: raw system calls only, then exec or _exit.
int LaunchInit(void* argument) {
  auto* launch = static_cast<InitLaunch*>(argument);
  // Its standard streams go nowhere: the zygote's stderr is the server's log, and pid 1 is
  // the one process of the namespace that does not run as the script's uid.
  const int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(null_fd, 1) < 0 || dup2(null_fd, 2) < 0 ||
      prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 ||
      syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    launch->failed_errno = errno;
    _exit(127);
  }
  // Killed before the line above, the zygote sent no parent-death signal: nobody would end
  // this init. Killed after it, the signal comes. (The fence: the setting is stored before the
  // zygote's state is read.)
  std::atomic_thread_fence(std::memory_order_seq_cst);
  pollfd zygote{launch->zygote_pidfd, POLLIN, 0};
  if (poll(&zygote, 1, 0) > 0 && (zygote.revents & POLLIN) != 0) {
    launch->failed_errno = ESRCH;
    _exit(127);
  }
  char name[] = "pyexec-init";
  char* argv[] = {name, nullptr};
  char* envp[] = {nullptr};
  syscall(SYS_execveat, launch->image_fd, "", argv, envp, AT_EMPTY_PATH);
  launch->failed_errno = errno;
  _exit(127);
}

}  // namespace

Result<PidNamespaceSwitch> PidNamespaceSwitch::Open() {
  Result<sys::UniqueFd> own = sys::OpenReadOnly("/proc/self/ns/pid");
  if (!own.ok()) {
    return std::move(own).error();
  }
  Result<sys::UniqueFd> self = sys::OpenPidfd(getpid());
  if (!self.ok()) {
    return std::move(self).error();
  }
  return PidNamespaceSwitch(std::move(own).value(), std::move(self).value());
}

Status PidNamespaceSwitch::NewForNextChild() const {
  if (unshare(CLONE_NEWPID) != 0) {
    return SysError("unshare(CLONE_NEWPID)", errno);
  }
  return OkStatus();
}

Result<pid_t> PidNamespaceSwitch::StartInit(int image_fd) const {
  InitLaunch launch;
  launch.image_fd = image_fd;
  launch.zygote_pidfd = self_.get();
  // No signal handler may run in the child while it borrows the zygote's memory.
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &previous);
  const pid_t pid = clone(LaunchInit, init_launch_stack.data() + init_launch_stack.size(),
                          CLONE_VM | CLONE_VFORK | SIGCHLD, &launch);
  const int clone_errno = errno;
  sigprocmask(SIG_SETMASK, &previous, nullptr);
  if (pid < 0) {
    return SysError("clone(pyexec-init)", clone_errno);
  }
  if (launch.failed_errno != 0) {
    waitpid(pid, nullptr, 0);
    return SysError("execveat(pyexec-init)", launch.failed_errno);
  }
  return pid;
}

Status PidNamespaceSwitch::Restore() const {
  if (setns(own_.get(), CLONE_NEWPID) != 0) {
    return SysError("setns(CLONE_NEWPID)", errno);
  }
  return OkStatus();
}

}  // namespace pyexec::sandbox
