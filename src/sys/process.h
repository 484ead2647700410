// Child processes of the calling process: spawning a program with an explicit environment and
// fd layout, waiting, signalling through a pidfd. Used by the server (to start the zygote) and
// by `pyexec doctor` (to run Python once).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "sys/unique_fd.h"
#include "util/result.h"

namespace pyexec::sys {

// A child process owned by this object: killed (SIGKILL) and reaped on destruction if still
// running. The pidfd makes signalling race-free against pid reuse.
class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(pid_t pid, UniqueFd pidfd) : pid_(pid), pidfd_(std::move(pidfd)) {}
  ChildProcess(ChildProcess&& other) noexcept
      : pid_(std::exchange(other.pid_, -1)), pidfd_(std::move(other.pidfd_)) {}
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_.get(); }
  bool running() const { return pid_ > 0; }

  Status Signal(int signal_number) const;
  // Blocks until the child exits; returns the wait status.
  Result<int> Wait();
  // True (and the status) when the child has exited, without blocking.
  Result<bool> TryWait(int* wait_status);

 private:
  void KillAndReap();

  pid_t pid_ = -1;
  UniqueFd pidfd_;
};

struct SpawnSpec {
  std::string path;               // absolute path of the program
  std::vector<std::string> argv;  // argv[0] included
  std::vector<std::string> env;   // the complete environment, "NAME=value"
  // fd_map[i] becomes descriptor i in the child (-1: /dev/null for 0..2, closed otherwise);
  // every other descriptor is closed.
  std::vector<int> fd_map;
  // The child starts as pid 1 of a new pid namespace inside a new user namespace in which it is
  // uid/gid 0, mapped onto the caller's effective ids only (setgroups denied): what an ordinary
  // user needs to make namespaces (user_namespaces(7)). The child writes its own maps before
  // exec, so it keeps every capability in the new namespace across exec; it exits 126 if it
  // cannot.
  bool new_user_and_pid_namespace = false;
};

// A pidfd for `pid` (as this process's pid namespace numbers it), O_CLOEXEC by default
// (pidfd_open(2)). A pidfd names the process whatever namespace the holder is in, so it can
// cross to a process that sees other pid numbers, and it never names a recycled pid.
Result<UniqueFd> OpenPidfd(pid_t pid);
// pidfd_send_signal(2); a process that has already exited is not an error.
Status SignalPidfd(int pidfd, int signal_number);

// fork + execve. Between the two the child only calls async-signal-safe functions (dup2,
// close_range, execve, _exit), so this is safe from a multi-threaded process.
Result<ChildProcess> Spawn(const SpawnSpec& spec);

struct CompletedProcess {
  int wait_status = 0;
  bool timed_out = false;  // it was SIGKILLed at the timeout
  std::string out;         // at most max_output_bytes of each stream; the rest is dropped
  std::string err;
};

// Spawns `spec` with standard input on /dev/null and standard output and error on pipes
// (spec.fd_map is replaced), collects both and waits for it to exit, SIGKILLing it after
// `timeout`. For short helper programs, not for executions.
Result<CompletedProcess> RunToCompletion(SpawnSpec spec, std::chrono::milliseconds timeout,
                                         size_t max_output_bytes);

// "exited 3", "killed by signal 9 (SIGKILL)".
std::string DescribeWaitStatus(int wait_status);

}  // namespace pyexec::sys
