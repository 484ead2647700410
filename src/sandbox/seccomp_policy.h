// The seccomp-bpf policy of a jailed execution, built once in the zygote with libseccomp and
// installed by each child as the very last step before Python. Built in the zygote, installed
// in the child.
//
// Two filters, both evaluated by the kernel on every system call (the strictest action wins):
//  1. an allowlist: what Python, numpy, pandas, threads, subprocess and multiprocessing use
//     (../shared/SECURITY.md, section 3); anything else fails with EPERM rather than killing
//     the run; foreign architectures (i386 via int 0x80, x32) kill the process;
//  2. argument checks on calls the allowlist admits: clone with namespace flags (EPERM),
//     clone3 (ENOSYS, so glibc falls back to clone, whose flags filter 1 can see), terminal
//     injection ioctls compared on the low 32 bits the kernel uses (TIOCSTI, TIOCLINUX).
#pragma once

#include <linux/filter.h>

#include <vector>

#include "util/result.h"

namespace pyexec::sandbox {

struct SeccompProgram {
  std::vector<sock_filter> allowlist;
  std::vector<sock_filter> argument_checks;
};

// Compiles both filters to BPF (in the zygote, before any fork). `allow_idle_priority`: the
// calling thread may move itself to SCHED_IDLE (sched_setscheduler(0, SCHED_IDLE) only).
Result<SeccompProgram> BuildSeccompProgram(bool allow_idle_priority);

// Installs both filters on the calling thread (in the child, after no_new_privs). Returns 0 or
// the errno of the failing prctl: it runs between fork and Python, so it reports rather than
// allocates.
int InstallSeccompProgram(const SeccompProgram& program);

}  // namespace pyexec::sandbox
