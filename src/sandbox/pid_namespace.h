// Fresh pid namespaces for the zygote's children: before a jailed fork the zygote makes its
// *next* child the init (pid 1) of a new pid namespace, and right after it switches back, so
// every execution gets a namespace of its own without an extra fork. Runs in the zygote.
#pragma once

#include "sys/unique_fd.h"
#include "util/result.h"

namespace pyexec::sandbox {

class PidNamespaceSwitch {
 public:
  // Keeps a handle on the zygote's own pid namespace (/proc/self/ns/pid).
  static Result<PidNamespaceSwitch> Open();

  // unshare(CLONE_NEWPID): the next fork()'s child is pid 1 of a new namespace.
  Status NewForNextChild() const;
  // setns(own, CLONE_NEWPID): later children are born in the zygote's namespace again (a second
  // unshare(CLONE_NEWPID) is EINVAL until then; see pid_namespaces(7)).
  Status Restore() const;

 private:
  explicit PidNamespaceSwitch(sys::UniqueFd own) : own_(std::move(own)) {}
  sys::UniqueFd own_;
};

}  // namespace pyexec::sandbox
