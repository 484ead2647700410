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
  }
  return "unknown";
}

}  // namespace pyexec::sandbox
