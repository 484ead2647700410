// The script's filesystem: a private root on a fresh tmpfs holding read-only binds of what
// Python, numpy and pandas need, a synthesized /etc, a minimal /dev, a fresh /proc for the
// execution's pid namespace and a size-limited /tmp; entered with pivot_root. Runs only in the
// child, between fork and Python, inside its new mount namespace.
#pragma once

#include <cstdint>

namespace pyexec::sandbox {

// Builds the root on a fresh tmpfs, pivots into it and detaches the host's tree. Leaves the
// current directory at the script's /tmp. Fails the step (FailStep) on any error.
void EnterPrivateRoot(uint64_t tmp_size_bytes);

}  // namespace pyexec::sandbox
