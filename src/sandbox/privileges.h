// Who the script runs as, and with what: an unprivileged host uid/gid seen as 65534 inside a
// user namespace of its own, no capabilities in any set, securebits locked, no_new_privs.
// Runs only in the child, between fork and Python.
#pragma once

#include <cstdint>

namespace pyexec::sandbox {

// setgroups([]), setresgid(gid), setresuid(uid): from here on the host sees only `uid`/`gid`.
// The kernel clears the permitted and effective capabilities as the uids leave 0.
void SwitchToSandboxUser(uint32_t uid, uint32_t gid);

// unshare(CLONE_NEWUSER) and map kInsideUid/kInsideGid to the (already current) host ids, with
// setgroups denied. Writing one's own maps needs the process to be dumpable (after setresuid
// it is not, and /proc/self/*_map would be EACCES); it stays so for /proc/self/fd.
void EnterUserNamespace(uint32_t uid, uint32_t gid);

// Every capability out of every set (bounding, ambient, inheritable, permitted, effective),
// securebits locked so none can come back through setuid(0) or exec, then no_new_privs.
void DropAllPrivileges();

}  // namespace pyexec::sandbox
