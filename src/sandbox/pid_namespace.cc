#include "sandbox/pid_namespace.h"

#include <sched.h>

#include <cerrno>

#include "sys/fds.h"

namespace pyexec::sandbox {

Result<PidNamespaceSwitch> PidNamespaceSwitch::Open() {
  Result<sys::UniqueFd> own = sys::OpenReadOnly("/proc/self/ns/pid");
  if (!own.ok()) {
    return std::move(own).error();
  }
  return PidNamespaceSwitch(std::move(own).value());
}

Status PidNamespaceSwitch::NewForNextChild() const {
  if (unshare(CLONE_NEWPID) != 0) {
    return SysError("unshare(CLONE_NEWPID)", errno);
  }
  return OkStatus();
}

Status PidNamespaceSwitch::Restore() const {
  if (setns(own_.get(), CLONE_NEWPID) != 0) {
    return SysError("setns(CLONE_NEWPID)", errno);
  }
  return OkStatus();
}

}  // namespace pyexec::sandbox
