#include "sandbox/setup_status.h"

namespace pyexec::sandbox {

const char* StepName(Step step) {
  switch (step) {
    case Step::kJoinCgroup:
      return "join_cgroup";
    case Step::kParentDeathSignal:
      return "parent_death_signal";
    case Step::kCheckParent:
      return "check_parent";
    case Step::kNewSession:
      return "new_session";
    case Step::kSignalMask:
      return "signal_mask";
    case Step::kStdio:
      return "stdio";
    case Step::kWorkingDirectory:
      return "working_directory";
    case Step::kRlimits:
      return "rlimits";
    case Step::kCloseFds:
      return "close_fds";
    case Step::kStartRunner:
      return "start_runner";
    case Step::kNamespaces:
      return "namespaces";
    case Step::kMountPrivate:
      return "mount_private";
    case Step::kRootTmpfs:
      return "root_tmpfs";
    case Step::kBindMount:
      return "bind_mount";
    case Step::kCreateNode:
      return "create_node";
    case Step::kMountProc:
      return "mount_proc";
    case Step::kMaskPath:
      return "mask_path";
    case Step::kMountTmp:
      return "mount_tmp";
    case Step::kPivotRoot:
      return "pivot_root";
    case Step::kHostname:
      return "hostname";
    case Step::kSwitchUser:
      return "switch_user";
    case Step::kUserNamespace:
      return "user_namespace";
    case Step::kLimitUserNamespaces:
      return "limit_user_namespaces";
    case Step::kDropCapabilities:
      return "drop_capabilities";
    case Step::kNoNewPrivs:
      return "no_new_privs";
    case Step::kSeccomp:
      return "seccomp";
    case Step::kAwaitScript:
      return "await_script";
  }
  return "unknown";
}

}  // namespace pyexec::sandbox
