// How a child reports its first failing set-up step: {step, errno, path} on the status
// descriptor, then _exit. Runs only in the child, between fork and Python.
#pragma once

#include "sandbox/setup_status.h"

namespace pyexec::sandbox {

// Where failures are written (the status pipe), set first thing in the child.
void SetStatusFd(int fd);
int StatusFd();

// Writes {step, sys_errno, path} (one write, atomic) and _exits with kSetupFailedExitCode.
[[noreturn]] void FailStep(Step step, int sys_errno, const char* path = "");

// FailStep(step, errno, path) unless `ok`.
void CheckStep(bool ok, Step step, const char* path = "");

}  // namespace pyexec::sandbox
