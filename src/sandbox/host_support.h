// Whether this host's kernel offers each isolation control the jail uses (namespaces,
// pivot_root, seccomp, no_new_privs), found by trying each one in a short-lived forked child so
// that neither the calling process nor the host changes. Runs in `pyexec doctor`, before any
// thread exists.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pyexec::sandbox {

struct ControlSupport {
  std::string name;  // "user_namespace", "pid_namespace", ..., "pivot_root", "seccomp_filter"
  bool supported = false;
  bool mandatory = false;  // the jail cannot run without it
  std::string detail;      // what was tried and, on failure, the failing call and its errno
};

// Probes every control, mandatory ones first. Each probe forks a child that only makes raw
// syscalls and _exits; each child is waited for, with a bound. As root, the user namespace is
// probed as the jail creates it: after switching to `sandbox_uid`/`sandbox_gid`.
std::vector<ControlSupport> ProbeHostSupport(uint32_t sandbox_uid, uint32_t sandbox_gid);

// True when every mandatory control in `controls` is supported.
bool AllMandatorySupported(const std::vector<ControlSupport>& controls);

// The outcome of one probe.
struct ProbeResult {
  bool supported = false;
  std::string detail;
};

// Building blocks, exposed for tests.
// Forks a child that calls unshare(flags): supported when the call succeeds. The detail names
// the call and, on failure, its errno ("unshare(CLONE_NEWNET): Operation not permitted").
ProbeResult ProbeUnshare(int flags);
// "CLONE_NEWUSER|CLONE_NEWNET"; bits without a name are shown in hex.
std::string UnshareFlagsName(int flags);

// The kernel's release string (uname -r), or "unknown".
std::string KernelRelease();
// False when this process runs in a user namespace other than the host's (a container, or
// `unshare --user`): there "root" has capabilities only over that namespace's resources. Read
// from /proc/self/uid_map, which maps every id onto itself only in the initial namespace.
bool InInitialUserNamespace();

}  // namespace pyexec::sandbox
