// Who the script runs as, and with what: an unprivileged host uid/gid seen as 65534 inside a
// user namespace of its own, no capabilities in any set, securebits locked, no_new_privs.
// Runs only in the child, between fork and Python.
#pragma once

#include <cstdint>

namespace pyexec::sandbox {

// setgroups([]), setresgid(gid), setresuid(uid): from here on the host sees only `uid`/`gid`.
// The kernel clears the permitted and effective capabilities as the uids leave 0.
void SwitchToSandboxUser(uint32_t uid, uint32_t gid);

// unshare(CLONE_NEWUSER) and map kInsideUid/kInsideGid to the (already current) ids `uid`/`gid`
// of the parent namespace, with setgroups denied. Writing one's own maps needs the process to be
// dumpable (after setresuid it is not, and /proc/self/*_map would be EACCES); it stays so for
// /proc/self/fd.
void EnterUserNamespace(uint32_t uid, uint32_t gid);

// Writes 0 to user.max_user_namespaces of the user namespace just entered (bubblewrap's
// --disable-userns): no namespace below it can ever hold another, whatever seccomp lets through.
// The sysctl is per user namespace and resolved against the *caller's* namespace at lookup
// (kernel/ucount.c), so it is opened now, from inside, through `proc_sys_fd`: the procfs's
// writable sys directory beneath the read-only bind that covers /proc/sys (rootfs.h). Closes
// `proc_sys_fd` either way.
void DisableNestedUserNamespaces(int proc_sys_fd);

// Every capability out of every set (bounding, ambient, inheritable, permitted, effective),
// securebits locked so none can come back through setuid(0) or exec, then no_new_privs.
void DropAllPrivileges();

}  // namespace pyexec::sandbox
