// The steps of the child's set-up and the record a failing step reports to the server through
// the status pipe. Shared by the child (writer, after fork) and the server (reader).
#pragma once

#include <cstdint>

namespace pyexec::sandbox {

enum class Step : uint32_t {
  kJoinCgroup = 1,
  kParentDeathSignal,
  kCheckParent,
  kNewSession,
  kSignalMask,
  kStdio,
  kWorkingDirectory,
  kRlimits,
  kCloseFds,
  kStartRunner,
  // The jail (policy.jail), in the order contain.cc applies it.
  kNamespaces,
  kMountPrivate,
  kRootTmpfs,
  kBindMount,
  kCreateNode,
  kMountProc,
  kMaskPath,
  kMountTmp,
  kPivotRoot,
  kHostname,
  kSwitchUser,
  kUserNamespace,
  kLimitUserNamespaces,
  kDropCapabilities,
  kNoNewPrivs,
  kSeccomp,
  // The hand-over (start.cc).
  kAwaitScript,
};

const char* StepName(Step step);

// Written as raw bytes (one write, smaller than PIPE_BUF, hence atomic).
struct SetupFailure {
  uint32_t step = 0;
  int32_t sys_errno = 0;
  char path[120] = {};  // the path a mount step failed on, NUL-terminated ("" otherwise)
};

// A record with this step is no failure: the child was handed its script and everything of
// its set-up succeeded; from here on the script runs (FinishSetup writes it). An execution that
// ends without it ran nothing of its script.
inline constexpr uint32_t kSetupCompleteStep = 0;

// The exit code of a child whose set-up failed (after it wrote a SetupFailure).
inline constexpr int kSetupFailedExitCode = 125;

}  // namespace pyexec::sandbox
