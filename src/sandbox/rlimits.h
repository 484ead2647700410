// The child's resource limits: the fixed ones every execution gets, and an execution's own,
// which a child applies twice: the maximums when it is made, its request's when it is handed
// its script (lowering needs no privilege). Runs only in the child, between fork and Python.
#pragma once

#include "sandbox/policy.h"

namespace pyexec::sandbox {

// RLIMIT_CORE, MEMLOCK, RTPRIO and MSGQUEUE, the same for every execution.
void ApplyFixedRlimits();

// Sets each non-zero limit of `rlimits` as both soft and hard limit (RLIMIT_CPU: hard one second
// above soft). Fails the step kRlimits on the first refusal.
void ApplyExecutionRlimits(const ExecutionRlimits& rlimits);

}  // namespace pyexec::sandbox
