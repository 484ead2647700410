// pyexec-init: the init (pid 1) of one execution's pid namespace. The zygote starts it, from an
// image embedded in pyexec, just before it forks the execution into the same namespace as pid 2.
// It only reaps: processes the script orphans are reparented to it (pid_namespaces(7)), and it
// waits for them so none stays a zombie. The script is not pid 1, so signals it sends itself
// behave as everywhere else (`os.kill(os.getpid(), 9)` kills it). When the zygote kills this
// process, the kernel kills everything left in the namespace: that is how an execution ends.
//
// Built static and without libc (-nostdlib, its own _start, three system calls): exec'ing it
// costs no dynamic loading and no libc start-up. glibc's start-up probes the CPU's caches with
// cpuid, which traps to the hypervisor in a virtual machine: ~0.4 ms per execution, more than
// everything else this process does. Only macros come from the headers below.
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <cstdint>

namespace {

constexpr int64_t kSigsetBytes = 8;  // the kernel's sigset_t: 64 signals

int64_t Syscall4(int64_t number, int64_t a, int64_t b, int64_t c, int64_t d) {
  int64_t result = 0;
#if defined(__x86_64__)
  register int64_t r10 asm("r10") = d;
  asm volatile("syscall"
               : "=a"(result)
               : "a"(number), "D"(a), "S"(b), "d"(c), "r"(r10)
               : "rcx", "r11", "memory");
#elif defined(__aarch64__)
  register int64_t x8 asm("x8") = number;
  register int64_t x0 asm("x0") = a;
  register int64_t x1 asm("x1") = b;
  register int64_t x2 asm("x2") = c;
  register int64_t x3 asm("x3") = d;
  asm volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
  result = x0;
#else
#error "pyexec-init: no system call sequence for this architecture"
#endif
  return result;
}

}  // namespace

// The zygote set PR_SET_PDEATHSIG before exec; nothing else is inherited that matters. Every
// signal stays blocked (SIGKILL, which ends the execution, cannot be); a blocked SIGCHLD is
// queued even under its default disposition, and rt_sigtimedwait takes it: no handler, and no
// reaping wake-up is lost between the last wait4 and the wait for the next signal.
#if defined(__x86_64__)
#define PYEXEC_ENTRY_ALIGN __attribute__((force_align_arg_pointer))  // rsp is 16-aligned here
#else
#define PYEXEC_ENTRY_ALIGN
#endif
extern "C" [[noreturn]] PYEXEC_ENTRY_ALIGN void _start() {
  const uint64_t all = ~uint64_t{0};
  const uint64_t child = uint64_t{1} << (SIGCHLD - 1);
  Syscall4(SYS_rt_sigprocmask, SIG_SETMASK, reinterpret_cast<int64_t>(&all), 0, kSigsetBytes);
  for (;;) {
    while (Syscall4(SYS_wait4, -1, 0, WNOHANG, 0) > 0) {
    }
    Syscall4(SYS_rt_sigtimedwait, reinterpret_cast<int64_t>(&child), 0, 0, kSigsetBytes);
  }
}
