// The hand-over. A contained child announces on its script channel that it is ready, then waits
// (idle, in the warm pool) until the server sends its StartOrder and script; it lowers its
// rlimits to the order's and goes on to run the script. Runs only in the child, after
// ContainChild and before Python.
#pragma once

#include <cstdint>

#include "sandbox/policy.h"

namespace pyexec::sandbox {

// The names an idle and a started child carry (/proc/<pid>/comm): benchmarks and tests tell the
// pool's children from running executions by them.
inline constexpr char kIdleChildName[] = "pyexec-idle";
inline constexpr char kRunningChildName[] = "pyexec-run";

// Sends the ReadyNotice (with `ready_flags`, kReady* bits) on kScriptFd and blocks until the
// StartOrder arrives. On return the script is a sealed memfd at kScriptFd and the order's rlimits
// apply; the order is returned. A channel closed without an order retires the child:
// it exits 0 at once, having run nothing. A malformed order fails the step kAwaitScript.
StartOrder AwaitStart(uint32_t ready_flags);

}  // namespace pyexec::sandbox
