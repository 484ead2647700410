#include "sandbox/privileges.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "sandbox/child_failure.h"
#include "sandbox/policy.h"

namespace pyexec::sandbox {
namespace {

void WriteProcFile(const char* path, const char* contents) {
  const int fd = open(path, O_WRONLY | O_CLOEXEC);
  CheckStep(fd >= 0, Step::kUserNamespace, path);
  const size_t length = strlen(contents);
  CheckStep(write(fd, contents, length) == static_cast<ssize_t>(length), Step::kUserNamespace,
            path);
  close(fd);
}

}  // namespace

void SwitchToSandboxUser(uint32_t uid, uint32_t gid) {
  // Never run a script as host root, whatever the configuration says.
  if (uid == 0 || gid == 0) {
    FailStep(Step::kSwitchUser, EPERM);
  }
  CheckStep(setgroups(0, nullptr) == 0, Step::kSwitchUser);
  CheckStep(setresgid(gid, gid, gid) == 0, Step::kSwitchUser);
  CheckStep(setresuid(uid, uid, uid) == 0, Step::kSwitchUser);
}

void EnterUserNamespace(uint32_t uid, uint32_t gid) {
  CheckStep(prctl(PR_SET_DUMPABLE, 1) == 0, Step::kUserNamespace);
  CheckStep(unshare(CLONE_NEWUSER) == 0, Step::kUserNamespace);
  char map[64];
  // "deny" must come before gid_map for an unprivileged writer (user_namespaces(7)).
  WriteProcFile("/proc/self/setgroups", "deny");
  (void)snprintf(map, sizeof(map), "%u %u 1\n", kInsideUid, uid);
  WriteProcFile("/proc/self/uid_map", map);
  (void)snprintf(map, sizeof(map), "%u %u 1\n", kInsideGid, gid);
  WriteProcFile("/proc/self/gid_map", map);
  // The process stays dumpable: a non-dumpable process's /proc/self entries belong to root, so
  // /dev/stdout (/proc/self/fd/1) would be EACCES. Nothing privileged is left to protect (no
  // capabilities, no core dumps: RLIMIT_CORE is 0; ptrace is denied by seccomp).
}

void DisableNestedUserNamespaces(int proc_sys_fd) {
  constexpr const char* kPath = "/proc/sys/user/max_user_namespaces";
  const int fd = openat(proc_sys_fd, "user/max_user_namespaces", O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    FailStep(Step::kLimitUserNamespaces, errno, kPath);
  }
  close(proc_sys_fd);
  CheckStep(write(fd, "0\n", 2) == 2, Step::kLimitUserNamespaces, kPath);
  close(fd);
}

void DropAllPrivileges() {
  // The creator of a user namespace holds every capability in it: give them all up.
  // Lock the securebits first (that needs CAP_SETPCAP, which we still have).
  CheckStep(prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_SETUID_FIXUP |
                                         SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_NOROOT |
                                         SECBIT_NOROOT_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
                                         SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED) == 0,
            Step::kDropCapabilities);
  for (int cap = 0; cap <= 63; ++cap) {
    if (prctl(PR_CAPBSET_DROP, cap) != 0 && errno != EINVAL) {  // EINVAL: beyond the last cap
      FailStep(Step::kDropCapabilities, errno);
    }
  }
  CheckStep(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == 0, Step::kDropCapabilities);
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  CheckStep(syscall(SYS_capset, &header, data) == 0, Step::kDropCapabilities);
  CheckStep(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, Step::kNoNewPrivs);
}

}  // namespace pyexec::sandbox
