// Children made ahead of their requests. ChildFactory asks the zygote for a child with an
// execution's maximum limits; the child joins its cgroup, builds its jail and waits on its
// script channel (sandbox/start.h). Handing it a request (Start) lowers its limits to the
// request's and sends the script; the deadline starts there. A child serves one execution and
// is never reused; one retired unused exits without running anything. Runs in the server.
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cgroup/execution_cgroup.h"
#include "sandbox/setup_status.h"
#include "service/janitor.h"
#include "service/limits.h"
#include "sys/files.h"
#include "sys/unique_fd.h"
#include "util/result.h"
#include "zygote/client.h"

namespace pyexec::service {

struct PreparedChild {
  uint64_t id = 0;  // names its cgroup ("x<id>") and its log lines
  Limits limits;    // made with these: the most a request it serves may ask for
  std::optional<cgroup::ExecutionCgroup> cgroup;
  sys::TempDir workdir;   // unjailed (tests only): its working directory on the host
  sys::UniqueFd channel;  // the script channel's server end
  sys::UniqueFd report;   // the zygote's reports on this child
  sys::UniqueFd stdout_read;
  sys::UniqueFd stderr_read;
  sys::UniqueFd result_read;
  sys::UniqueFd status_read;  // set-up failures, up to and including the hand-over
  sys::UniqueFd kill_handle;  // pidfd from the zygote: the namespace's init (jailed) or the child
  pid_t pid = -1;             // as the zygote numbers it: meaningful here only when unjailed
  uint64_t setup_cpu_ns = 0;  // what the child's set-up cost, from its ReadyNotice
  uint64_t address_base = 0;  // RLIMIT_AS fallback: the zygote's address space when forked
  bool started = false;       // the zygote's Started report arrived
  bool ready = false;         // its ReadyNotice arrived too
  bool warmed_up = false;     // its notice says it ran the runner's warm-up
  bool idle_exit = false;     // Start asks it for sandbox::kStartIdleExit (WarmPool::Take)
  std::chrono::steady_clock::time_point begun_at;
};

// True when a child made with `made` can serve a request with `wanted`: every limit the child
// enforces itself is at most the one it has (rlimits and cgroup limits can only be lowered at
// the hand-over), and /tmp, a mounted tmpfs, is the same size.
bool CanServe(const Limits& made, const Limits& wanted);

// The error a child's SetupFailure record stands for.
Error SetupFailureError(sandbox::SetupFailure failure);

struct FactoryContext {
  bool jail = true;
  bool rootless = false;
  uint32_t sandbox_uid = 0;
  uint32_t sandbox_gid = 0;
  uint32_t test_relaxations = 0;  // EngineConfig::test_relaxations
  std::string work_parent;        // unjailed working directories
  bool memory_by_cgroup = false;
  bool pids_by_cgroup = false;
  int root_fd = -1;  // jailed: the placeholder working directory of fork requests
  const cgroup::CgroupTree* cgroups = nullptr;
  zygote::ZygoteClient* zygote = nullptr;
  Janitor* janitor = nullptr;
};

class ChildFactory {
 public:
  explicit ChildFactory(FactoryContext context) : context_(std::move(context)) {}

  // Sends the fork request; the child contains itself in the background. Not ready yet.
  // `warm_up`: the child runs the runner's warm-up before it says it is ready
  // (sandbox::kPolicyWarmUp): for the warm pool when it has the time, never on a request's path.
  Result<PreparedChild> Begin(const Limits& limits, bool warm_up = false);
  // What to poll (POLLIN) for a begun child's progress towards ready: -1 for nothing.
  static constexpr size_t kReadinessFds = 3;
  static std::array<int, kReadinessFds> ReadinessFds(const PreparedChild& child);
  // Takes in what has arrived for a begun child, without blocking: true once it is ready, an
  // error once it has failed.
  Result<bool> Progress(PreparedChild& child);
  // Waits until the child begun is ready, or has failed, or `deadline` passed.
  Status AwaitReady(PreparedChild& child, std::chrono::steady_clock::time_point deadline);
  // Begin and AwaitReady.
  Result<PreparedChild> Make(const Limits& limits);

  // True while a ready child can still be handed a request: it (or its zygote) has not died.
  static bool StillWaiting(const PreparedChild& child);
  // The hand-over: applies `limits` (CanServe(child.limits, limits) must hold) and sends the
  // script. An error means the child never got it and must be retired.
  Status Start(PreparedChild& child, std::string_view script, const Limits& limits);

  // Kills everything the child's execution started (cgroup, else its namespace's init, else
  // its process group when unjailed).
  void Kill(const PreparedChild& child) const;
  // Retires a child (used or not): kills what is left, and gives its cgroup to the janitor.
  void Retire(PreparedChild child) const;

  const FactoryContext& context() const { return context_; }

 private:
  const FactoryContext context_;
};

}  // namespace pyexec::service
