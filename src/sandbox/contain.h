// The recipe a freshly forked child follows before the first byte of the script runs: join
// the execution's cgroups, tie its life to the zygote, lay out its descriptors, apply its
// rlimits. Runs only in the child, between fork and Python.
#pragma once

#include <sys/types.h>

#include <span>

#include "sandbox/policy.h"
#include "sandbox/seccomp_policy.h"

namespace pyexec::sandbox {

// Where the child finds things once ContainChild has returned.
inline constexpr int kResultFd = 3;  // main()'s verdict and value, to the server
// The script channel until the hand-over (start.h), then the script (a sealed memfd), read once
// by the runner.
inline constexpr int kScriptFd = 4;
inline constexpr int kStatusFd = 5;  // set-up failures; closed by FinishSetup()

struct ChildFds {
  int stdout_fd = -1;
  int stderr_fd = -1;
  int result_fd = -1;
  int script_fd = -1;
  int status_fd = -1;
  int cwd_fd = -1;
  std::span<const int> cgroup_join_fds;
};

// Applies the recipe in order. On the first failing step it writes a SetupFailure to the
// status descriptor and _exits with kSetupFailedExitCode: it returns only on success, with
// 0 = /dev/null, 1 = stdout, 2 = stderr and the k*Fd above, every other descriptor closed.
// With policy.jail, `seccomp` is installed as the very last step.
void ContainChild(const ChildPolicy& policy, const ChildFds& fds, pid_t zygote_pid,
                  const SeccompProgram& seccomp);

// Writes the set-up-complete record and closes the status descriptor: from here on the server
// takes an exit as the script's.
void FinishSetup();

}  // namespace pyexec::sandbox
