// pyexec-init: the init (pid 1) of one execution's pid namespace. The zygote starts it, from an
// image embedded in pyexec, just before it forks the execution into the same namespace as pid 2.
// It only reaps: processes the script orphans are reparented to it (pid_namespaces(7)), and it
// waits for them so none stays a zombie. The script is not pid 1, so signals it sends itself
// behave as everywhere else (`os.kill(os.getpid(), 9)` kills it). When the zygote kills this
// process, the kernel kills everything left in the namespace: that is how an execution ends.
//
// Built static, against libc only, so that exec'ing it costs no dynamic loading.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

void OnChild(int /*signal*/) {}  // only interrupts sigsuspend

}  // namespace

int main() {
  // The zygote set PR_SET_PDEATHSIG before exec; nothing else to inherit. All signals stay
  // blocked but SIGCHLD, and only inside sigsuspend, so no reaping wake-up is ever lost.
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  struct sigaction on_child = {};
  on_child.sa_handler = OnChild;
  sigemptyset(&on_child.sa_mask);
  sigaction(SIGCHLD, &on_child, nullptr);
  sigset_t waiting = all;
  sigdelset(&waiting, SIGCHLD);
  for (;;) {
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    sigsuspend(&waiting);
  }
}
