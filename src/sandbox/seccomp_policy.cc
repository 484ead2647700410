#include "sandbox/seccomp_policy.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <string>

namespace pyexec::sandbox {
namespace {

// What the interpreter and its libraries need (strace of import, matmul/SVD/FFT, threads,
// groupby, CSV/pickle/gzip/sqlite round trips, sleep, multiprocessing.Pool), plus calls glibc
// may pick instead on other paths (vDSO fallbacks, *at variants, faulthandler's sigaltstack).
constexpr std::array kAllowed = {
    // files and descriptors
    "read",
    "write",
    "readv",
    "writev",
    "pread64",
    "pwrite64",
    "preadv",
    "pwritev",
    "open",
    "openat",
    "close",
    "close_range",
    "lseek",
    "fstat",
    "stat",
    "lstat",
    "newfstatat",
    "statx",
    "statfs",
    "fstatfs",
    "access",
    "faccessat",
    "faccessat2",
    "readlink",
    "readlinkat",
    "getdents64",
    "getcwd",
    "chdir",
    "fchdir",
    "mkdir",
    "mkdirat",
    "rmdir",
    "unlink",
    "unlinkat",
    "rename",
    "renameat",
    "renameat2",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
    "chmod",
    "fchmod",
    "fchmodat",
    "utimensat",
    "truncate",
    "ftruncate",
    "fallocate",
    "fsync",
    "fdatasync",
    "umask",
    "dup",
    "dup2",
    "dup3",
    "pipe",
    "pipe2",
    "fcntl",
    "ioctl",
    "copy_file_range",
    "sendfile",
    "getxattr",
    "lgetxattr",
    "fgetxattr",
    "listxattr",
    "llistxattr",
    "flistxattr",
    // waiting
    "poll",
    "ppoll",
    "select",
    "pselect6",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
    "epoll_pwait",
    "eventfd2",
    "futex",
    "nanosleep",
    "clock_nanosleep",
    "sched_yield",
    "restart_syscall",
    // memory
    "brk",
    "mmap",
    "munmap",
    "mprotect",
    "mremap",
    "madvise",
    "msync",
    "mincore",
    // processes, threads, signals
    "clone",
    "clone3",
    "fork",
    "vfork",
    "execve",
    "wait4",
    "waitid",
    "exit",
    "exit_group",
    "set_tid_address",
    "set_robust_list",
    "rseq",
    "arch_prctl",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigpending",
    "sigaltstack",
    "kill",
    "tgkill",
    "tkill",
    "getpid",
    "gettid",
    "getppid",
    "getpgrp",
    "getpgid",
    "setpgid",
    "getsid",
    "setsid",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getresuid",
    "getresgid",
    "getgroups",
    "sched_getaffinity",
    "getpriority",
    "alarm",
    "setitimer",
    "getitimer",
    "timer_create",
    "timer_settime",
    "timer_gettime",
    "timer_delete",
    // information
    "clock_gettime",
    "clock_getres",
    "gettimeofday",
    "time",
    "getrandom",
    "uname",
    "sysinfo",
    "getrusage",
    "times",
    "getrlimit",
    // local sockets (multiprocessing): the family is checked below
    "socketpair",
    "connect",
    "bind",
    "listen",
    "accept",
    "accept4",
    "sendto",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "shutdown",
    "getsockname",
    "getpeername",
    "setsockopt",
    "getsockopt",
};

// Namespace flags a clone(2) from the script may not carry: no nested namespaces (user
// namespaces are the doorway to most recent kernel LPEs).
constexpr std::array<uint64_t, 7> kNamespaceFlags = {CLONE_NEWUSER,  CLONE_NEWNS,  CLONE_NEWPID,
                                                     CLONE_NEWNET,   CLONE_NEWIPC, CLONE_NEWUTS,
                                                     CLONE_NEWCGROUP};

class Context {
 public:
  explicit Context(uint32_t default_action) : ctx_(seccomp_init(default_action)) {}
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  ~Context() {
    if (ctx_ != nullptr) {
      seccomp_release(ctx_);
    }
  }
  scmp_filter_ctx get() const { return ctx_; }

 private:
  scmp_filter_ctx ctx_;
};

Error SeccompError(const std::string& what, int rc) {
  return Error{ErrorCode::kUnavailable, "libseccomp: " + what, -rc};
}

// seccomp_export_bpf writes to a descriptor (libseccomp 2.5 has no in-memory export): a memfd.
Result<std::vector<sock_filter>> Export(const Context& context) {
  const int fd = memfd_create("pyexec-seccomp", MFD_CLOEXEC);
  if (fd < 0) {
    return SysError("memfd_create", errno);
  }
  std::vector<sock_filter> program;
  if (const int rc = seccomp_export_bpf(context.get(), fd); rc != 0) {
    close(fd);
    return SeccompError("seccomp_export_bpf", rc);
  }
  const off_t size = lseek(fd, 0, SEEK_END);
  if (size <= 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0) {
    close(fd);
    return MakeError(ErrorCode::kUnavailable, "libseccomp exported an invalid program");
  }
  program.resize(static_cast<size_t>(size) / sizeof(sock_filter));
  const ssize_t got = pread(fd, program.data(), static_cast<size_t>(size), 0);
  close(fd);
  if (got != size) {
    return SysError("pread(seccomp program)", errno);
  }
  return program;
}

Result<std::vector<sock_filter>> BuildAllowlist(bool allow_idle_priority) {
  Context context(SCMP_ACT_ERRNO(EPERM));
  if (context.get() == nullptr) {
    return MakeError(ErrorCode::kUnavailable, "seccomp_init failed");
  }
  // A system call of another ABI (i386 through int 0x80, x32) kills the process: the
  // allowlist speaks of native calls only.
  if (int rc = seccomp_attr_set(context.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
      rc != 0) {
    return SeccompError("SCMP_FLTATR_ACT_BADARCH", rc);
  }
  // A binary search over the ~170 allowed calls instead of a linear scan: a shorter program
  // for the kernel to check and JIT when each child installs it, and fewer instructions run
  // on every system call.
  if (int rc = seccomp_attr_set(context.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2); rc != 0) {
    return SeccompError("SCMP_FLTATR_CTL_OPTIMIZE", rc);
  }
  for (const char* name : kAllowed) {
    const int number = seccomp_syscall_resolve_name(name);
    if (number == __NR_SCMP_ERROR) {
      return MakeError(ErrorCode::kUnavailable, std::string("unknown system call ") + name);
    }
    if (int rc = seccomp_rule_add(context.get(), SCMP_ACT_ALLOW, number, 0); rc != 0) {
      return SeccompError(std::string("allow ") + name, rc);
    }
  }
  // Sockets: local ones only (multiprocessing); no network families at all. EQ compares all
  // 64 bits, which can only make this stricter than the kernel's int.
  if (int rc = seccomp_rule_add(context.get(), SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
                                SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
      rc != 0) {
    return SeccompError("allow socket(AF_UNIX)", rc);
  }
  // Resource limits of the calling process only (prlimit64 on another pid: no).
  if (int rc = seccomp_rule_add(context.get(), SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1,
                                SCMP_A0(SCMP_CMP_EQ, 0));
      rc != 0) {
    return SeccompError("allow prlimit64(0)", rc);
  }
  // personality: only querying or keeping PER_LINUX (other personalities widen the ABI).
  for (uint64_t persona : {uint64_t{0}, uint64_t{0xffffffff}}) {
    if (int rc = seccomp_rule_add(context.get(), SCMP_ACT_ALLOW, SCMP_SYS(personality), 1,
                                  SCMP_A0(SCMP_CMP_EQ, persona));
        rc != 0) {
      return SeccompError("allow personality", rc);
    }
  }
  // prctl: naming threads and reading state; nothing that changes privileges or memory maps.
  for (uint64_t option :
       {uint64_t{PR_SET_NAME}, uint64_t{PR_GET_NAME}, uint64_t{PR_GET_DUMPABLE},
        uint64_t{PR_SET_NO_NEW_PRIVS}, uint64_t{PR_GET_NO_NEW_PRIVS}, uint64_t{PR_GET_SECCOMP},
        uint64_t{PR_SET_SECCOMP}, uint64_t{PR_CAPBSET_READ}}) {
    if (int rc = seccomp_rule_add(context.get(), SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
                                  SCMP_A0(SCMP_CMP_EQ, option));
        rc != 0) {
      return SeccompError("allow prctl", rc);
    }
  }
  // Where asked (each execution a CPU group of its own, so that it cannot starve), the calling
  // thread may move itself to SCHED_IDLE, the lowest priority there is (the runner does once
  // its result is written, zygote/embedded_python.cc); no other policy, thread or process.
  if (allow_idle_priority) {
    if (int rc = seccomp_rule_add(context.get(), SCMP_ACT_ALLOW, SCMP_SYS(sched_setscheduler), 2,
                                  SCMP_A0(SCMP_CMP_EQ, 0), SCMP_A1(SCMP_CMP_EQ, SCHED_IDLE));
        rc != 0) {
      return SeccompError("allow sched_setscheduler(0, SCHED_IDLE)", rc);
    }
  }
  // Further filters can only restrict: seccomp(2) stays available (SECURITY.md).
  if (int rc = seccomp_rule_add(context.get(), SCMP_ACT_ALLOW, SCMP_SYS(seccomp), 0); rc != 0) {
    return SeccompError("allow seccomp", rc);
  }
  return Export(context);
}

Result<std::vector<sock_filter>> BuildArgumentChecks() {
  Context context(SCMP_ACT_ALLOW);
  if (context.get() == nullptr) {
    return MakeError(ErrorCode::kUnavailable, "seccomp_init failed");
  }
  if (int rc = seccomp_attr_set(context.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
      rc != 0) {
    return SeccompError("SCMP_FLTATR_ACT_BADARCH", rc);
  }
  for (uint64_t flag : kNamespaceFlags) {
    if (int rc = seccomp_rule_add(context.get(), SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                                  SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag));
        rc != 0) {
      return SeccompError("deny clone(CLONE_NEW*)", rc);
    }
  }
  // clone3 passes its flags in memory, out of a filter's sight: ENOSYS makes glibc use clone.
  if (int rc = seccomp_rule_add(context.get(), SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
      rc != 0) {
    return SeccompError("clone3 ENOSYS", rc);
  }
  // The kernel takes an ioctl's request as 32 bits: compare only those, or TIOCSTI | 1 << 32
  // would slip through (CVE-2017-5226 in bubblewrap, then sandboxes everywhere).
  for (uint64_t request : {uint64_t{TIOCSTI}, uint64_t{TIOCLINUX}, uint64_t{TIOCSETD}}) {
    if (int rc = seccomp_rule_add(context.get(), SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                                  SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffULL, request));
        rc != 0) {
      return SeccompError("deny ioctl", rc);
    }
  }
  return Export(context);
}

}  // namespace

Result<SeccompProgram> BuildSeccompProgram(bool allow_idle_priority) {
  Result<std::vector<sock_filter>> allowlist = BuildAllowlist(allow_idle_priority);
  if (!allowlist.ok()) {
    return std::move(allowlist).error();
  }
  Result<std::vector<sock_filter>> checks = BuildArgumentChecks();
  if (!checks.ok()) {
    return std::move(checks).error();
  }
  return SeccompProgram{std::move(allowlist).value(), std::move(checks).value()};
}

int InstallSeccompProgram(const SeccompProgram& program) {
  for (const std::vector<sock_filter>* filter : {&program.allowlist, &program.argument_checks}) {
    sock_fprog fprog{static_cast<uint16_t>(filter->size()),
                     const_cast<sock_filter*>(filter->data())};
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) != 0) {
      return errno;
    }
  }
  return 0;
}

}  // namespace pyexec::sandbox
