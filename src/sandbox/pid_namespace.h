// Fresh pid namespaces for the zygote's children: before a jailed fork the zygote opens a new
// pid namespace for its next children, starts pyexec-init in it as pid 1, forks the execution
// into it as pid 2, and switches back. Runs in the zygote.
#pragma once

#include <sys/types.h>

#include "sys/unique_fd.h"
#include "util/result.h"

namespace pyexec::sandbox {

class PidNamespaceSwitch {
 public:
  // Keeps a handle on the zygote's own pid namespace (/proc/self/ns/pid) and a pidfd of the
  // zygote itself (see StartInit).
  static Result<PidNamespaceSwitch> Open();

  // unshare(CLONE_NEWPID): the next fork()'s child is pid 1 of a new namespace.
  Status NewForNextChild() const;
  // Execs pyexec-init (`image_fd`, from sys::MakeExecutableMemfd) as that pid 1, with 0-2 on
  // /dev/null and no other descriptor, an empty environment and PR_SET_PDEATHSIG. Returns its pid
  // as the zygote sees it. It shares the zygote's memory only until its exec (CLONE_VM|CLONE_VFORK,
  // as posix_spawn does), so the zygote's page tables are not copied twice per execution.
  // A zygote killed before the child has set PR_SET_PDEATHSIG would never send the signal (and
  // getppid() says nothing in a new pid namespace): the child checks the zygote's pidfd after
  // setting it and gives up if the zygote has exited.
  Result<pid_t> StartInit(int image_fd) const;
  // setns(own, CLONE_NEWPID): later children are born in the zygote's namespace again (a second
  // unshare(CLONE_NEWPID) is EINVAL until then; see pid_namespaces(7)).
  Status Restore() const;

 private:
  PidNamespaceSwitch(sys::UniqueFd own, sys::UniqueFd self)
      : own_(std::move(own)), self_(std::move(self)) {}
  sys::UniqueFd own_;
  sys::UniqueFd self_;  // pidfd of the zygote
};

}  // namespace pyexec::sandbox
