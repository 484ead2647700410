#include "sys/process.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <string>

#include "sys/fds.h"

namespace pyexec::sys {
namespace {

int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

// open + write + close, async-signal-safe (for a child between fork and exec).
bool WriteWhole(const char* path, const char* text) {
  const int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    return false;
  }
  const size_t length = strlen(text);
  const bool written = write(fd, text, length) == static_cast<ssize_t>(length);
  close(fd);
  return written;
}

}  // namespace

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    KillAndReap();
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::move(other.pidfd_);
  }
  return *this;
}

ChildProcess::~ChildProcess() { KillAndReap(); }

void ChildProcess::KillAndReap() {
  if (pid_ > 0) {
    (void)Signal(SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
  pidfd_.Reset();
}

Result<UniqueFd> OpenPidfd(pid_t pid) {
  UniqueFd pidfd(PidfdOpen(pid));
  if (!pidfd) {
    return SysError("pidfd_open(" + std::to_string(pid) + ")", errno);
  }
  return pidfd;
}

Status SignalPidfd(int pidfd, int signal_number) {
  if (syscall(SYS_pidfd_send_signal, pidfd, signal_number, nullptr, 0) != 0 && errno != ESRCH) {
    return SysError("pidfd_send_signal", errno);
  }
  return OkStatus();
}

Status ChildProcess::Signal(int signal_number) const {
  if (pid_ <= 0) {
    return OkStatus();
  }
  if (syscall(SYS_pidfd_send_signal, pidfd_.get(), signal_number, nullptr, 0) != 0 &&
      errno != ESRCH) {
    return SysError("pidfd_send_signal(" + std::to_string(pid_) + ")", errno);
  }
  return OkStatus();
}

Result<int> ChildProcess::Wait() {
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) {
      return SysError("waitpid(" + std::to_string(pid_) + ")", errno);
    }
  }
  pid_ = -1;
  pidfd_.Reset();
  return status;
}

Result<bool> ChildProcess::TryWait(int* wait_status) {
  if (pid_ <= 0) {
    return true;
  }
  const pid_t got = waitpid(pid_, wait_status, WNOHANG);
  if (got < 0) {
    return SysError("waitpid(" + std::to_string(pid_) + ", WNOHANG)", errno);
  }
  if (got == 0) {
    return false;
  }
  pid_ = -1;
  pidfd_.Reset();
  return true;
}

Result<ChildProcess> Spawn(const SpawnSpec& spec) {
  // Everything the child needs is prepared before fork: it must not allocate afterwards.
  std::vector<char*> argv;
  argv.reserve(spec.argv.size() + 1);
  for (const std::string& arg : spec.argv) {
    argv.push_back(const_cast<char*>(arg.c_str()));
  }
  argv.push_back(nullptr);
  std::vector<char*> envp;
  envp.reserve(spec.env.size() + 1);
  for (const std::string& entry : spec.env) {
    envp.push_back(const_cast<char*>(entry.c_str()));
  }
  envp.push_back(nullptr);
  UniqueFd dev_null(open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!dev_null) {
    return SysError("open(/dev/null)", errno);
  }
  // Move the sources above every target so dup2 never clobbers a source not yet copied.
  const int first_free = static_cast<int>(spec.fd_map.size()) + 3;
  std::vector<UniqueFd> staged;
  std::vector<int> sources;
  for (int source : spec.fd_map) {
    if (source < 0) {
      sources.push_back(-1);
      continue;
    }
    UniqueFd copy(fcntl(source, F_DUPFD_CLOEXEC, first_free));
    if (!copy) {
      return SysError("fcntl(F_DUPFD_CLOEXEC)", errno);
    }
    sources.push_back(copy.get());
    staged.push_back(std::move(copy));
  }
  const int null_fd = dev_null.get();
  const int target_count = static_cast<int>(spec.fd_map.size());

  const std::string uid_map = "0 " + std::to_string(geteuid()) + " 1\n";
  const std::string gid_map = "0 " + std::to_string(getegid()) + " 1\n";
  const bool namespaces = spec.new_user_and_pid_namespace;

  // clone() without a stack behaves as fork(), with namespaces for the child.
  const pid_t pid =
      namespaces ? static_cast<pid_t>(syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWPID | SIGCHLD,
                                              nullptr, nullptr, nullptr, 0))
                 : fork();
  if (pid < 0) {
    return SysError(namespaces ? "clone(CLONE_NEWUSER|CLONE_NEWPID)" : "fork", errno);
  }
  if (pid == 0) {
    // "deny" must precede an unprivileged gid_map (user_namespaces(7)).
    if (namespaces && (!WriteWhole("/proc/self/setgroups", "deny") ||
                       !WriteWhole("/proc/self/uid_map", uid_map.c_str()) ||
                       !WriteWhole("/proc/self/gid_map", gid_map.c_str()))) {
      _exit(126);
    }
    for (int target = 0; target < target_count; ++target) {
      const int source = sources[static_cast<size_t>(target)];
      if (source >= 0) {
        if (dup2(source, target) < 0) {
          _exit(127);
        }
      } else if (target <= 2 && dup2(null_fd, target) < 0) {
        _exit(127);
      }
    }
    for (int target = target_count; target <= 2; ++target) {
      if (dup2(null_fd, target) < 0) {
        _exit(127);
      }
    }
    const int keep = target_count > 3 ? target_count : 3;
    syscall(SYS_close_range, keep, ~0U, 0);
    execve(spec.path.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  UniqueFd pidfd(PidfdOpen(pid));
  if (!pidfd) {
    const int saved = errno;
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return SysError("pidfd_open", saved);
  }
  return ChildProcess(pid, std::move(pidfd));
}

Result<CompletedProcess> RunToCompletion(SpawnSpec spec, std::chrono::milliseconds timeout,
                                         size_t max_output_bytes) {
  Result<PipeEnds> out = MakePipe(true);
  if (!out.ok()) {
    return std::move(out).error();
  }
  Result<PipeEnds> err = MakePipe(true);
  if (!err.ok()) {
    return std::move(err).error();
  }
  spec.fd_map = {-1, out->write.get(), err->write.get()};
  Result<ChildProcess> child = Spawn(spec);
  if (!child.ok()) {
    return std::move(child).error();
  }
  out->write.Reset();
  err->write.Reset();

  CompletedProcess completed;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::array<UniqueFd*, 2> fds = {&out->read, &err->read};
  std::array<std::string*, 2> sinks = {&completed.out, &completed.err};
  // Until both pipes reach EOF (every writer, grandchildren included, has exited) or the
  // deadline passes.
  while (out->read || err->read) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      completed.timed_out = true;
      if (Status killed = child->Signal(SIGKILL); !killed.ok()) {
        return std::move(killed).error();
      }
      break;
    }
    std::array<pollfd, 2> polled{{{out->read.get(), POLLIN, 0}, {err->read.get(), POLLIN, 0}}};
    if (poll(polled.data(), polled.size(), static_cast<int>(left.count())) < 0) {
      if (errno == EINTR) {
        continue;
      }
      return SysError("poll", errno);
    }
    for (size_t i = 0; i < fds.size(); ++i) {
      if (polled[i].revents == 0) {
        continue;
      }
      std::array<char, 4096> buffer;
      const ssize_t got = read(fds[i]->get(), buffer.data(), buffer.size());
      if (got > 0) {
        const size_t room = max_output_bytes - std::min(max_output_bytes, sinks[i]->size());
        sinks[i]->append(buffer.data(), std::min(room, static_cast<size_t>(got)));
      } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
        fds[i]->Reset();
      }
    }
  }
  Result<int> status = child->Wait();
  if (!status.ok()) {
    return std::move(status).error();
  }
  completed.wait_status = *status;
  return completed;
}

std::string DescribeWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) {
    return "exited " + std::to_string(WEXITSTATUS(wait_status));
  }
  if (WIFSIGNALED(wait_status)) {
    const int sig = WTERMSIG(wait_status);
    const char* name = sigabbrev_np(sig);
    return "killed by signal " + std::to_string(sig) +
           (name ? std::string(" (SIG") + name + ")" : "");
  }
  return "status " + std::to_string(wait_status);
}

}  // namespace pyexec::sys
