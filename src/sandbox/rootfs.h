// The script's filesystem: a private root on a fresh tmpfs holding read-only binds of what
// Python, numpy and pandas need, a synthesized /etc, a minimal /dev, a fresh /proc for the
// execution's pid namespace and a size-limited /tmp; entered with pivot_root. Runs only in the
// child, between fork and Python, inside its new mount namespace.
#pragma once

#include <cstdint>

namespace pyexec::sandbox {

struct RootOptions {
  uint64_t tmp_size_bytes = 0;
  // Bind-mount /dev's nodes from the host instead of creating them: in a user namespace other
  // than the initial one mknod of a device is EPERM (the rootless zygote).
  bool bind_devices = false;
};

// Builds the root on a fresh tmpfs, pivots into it and detaches the host's tree. Leaves the
// current directory at the script's /tmp. Fails the step (FailStep) on any error. Returns an
// O_PATH descriptor of the new procfs's sys directory on the procfs mount itself, beneath the
// read-only bind that covers /proc/sys, for DisableNestedUserNamespaces; O_CLOEXEC, and the
// caller must close it before any script code runs.
int EnterPrivateRoot(const RootOptions& options);

}  // namespace pyexec::sandbox
