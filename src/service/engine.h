// Engine: runs executions. It owns the zygote client and pyexec's cgroup tree, and supervises
// each execution from fork request to verdict: its deadline, output caps, cgroup, and the
// removal of everything it started. Runs in the server; Run() is thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cgroup/execution_cgroup.h"
#include "service/janitor.h"
#include "service/limits.h"
#include "service/outcome.h"
#include "service/prepared_child.h"
#include "service/warm_pool.h"
#include "sys/event_fd.h"
#include "util/result.h"
#include "zygote/client.h"

namespace pyexec::service {

enum class CgroupMode { kAuto, kOff };

struct EngineConfig {
  Limits limits;  // defaults, and the maximums a caller may lower
  std::vector<std::string> preload = {"numpy", "pandas"};
  CgroupMode cgroups = CgroupMode::kAuto;
  std::string work_parent = "/tmp";  // where per-execution working directories are made
  std::string log_level = "warning";
  // The jail: namespaces, a private read-only root, an unprivileged uid, seccomp (see
  // SECURITY.md). Always on in pyexec; only tests turn it off, for the positive controls that
  // prove a probe would notice the breach the jail prevents.
  bool jail = true;
  uint32_t sandbox_uid = 64000;  // a host uid no other process uses; never 0 (root only)
  uint32_t sandbox_gid = 64000;
  // Tests only: sandbox::kPolicyTestNo* bits, each switching off one control of the jail so a
  // hostile test can show its probe would notice the breach. No flag or variable sets these.
  uint32_t test_relaxations = 0;
  // Children made ahead of demand with `limits` (requests with other limits that a child cannot
  // be lowered to make their own). max_idle 0: every execution makes its own child.
  PoolConfig pool;
};

struct Usage {
  int64_t wall_ms = 0;
  int64_t cpu_ms = 0;
  uint64_t memory_peak_bytes = 0;
};

struct Execution {
  Outcome outcome;
  std::string stdout_data;
  std::string stderr_data;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  Usage usage;
};

// What enforces each limit on this host, for `pyexec doctor` and /health.
struct Enforcement {
  std::string cgroup_mode;        // "hybrid", "v2", "v1", "none" or "off"
  std::string memory;             // "cgroup v1", "cgroup v2", "rlimit (RLIMIT_AS)"
  std::string pids;               // "cgroup v1", "cgroup v2", "rlimit (RLIMIT_NPROC)"
  std::string kill;               // "cgroup.kill", "cgroup.procs", "pid namespace", "process group"
  std::string cpu_accounting;     // "cgroup v2", "cgroup v1", "rusage"
  bool memory_by_cgroup = false;  // false: the RLIMIT_AS fallback applies
  bool pids_by_cgroup = false;    // false: the RLIMIT_NPROC fallback applies
  // Not a limit but the paced tail latency: cgroup2 mounted with favordynmods (see
  // cgroup::HostCgroups::v2_favordynmods), where pyexec uses cgroup2.
  bool cgroup_favordynmods = false;
  // Not a limit either: executions taken when few may exit at idle priority once answered
  // (sandbox::kStartIdleExit): where the answer does not wait for the exit (cgroup.kill) and
  // each execution is a CPU group of its own (cgroup::HostCgroups::own_cpu_groups).
  bool idle_exit = false;
};

// What enforces each limit given pyexec's cgroup tree (`host`: the hierarchies it was created
// in; nullptr when there is none) under `mode`, for jailed executions or not. Engine::Create
// and `pyexec doctor` share it.
Enforcement DescribeEnforcement(const cgroup::HostCgroups* host, CgroupMode mode, bool jail);

class Engine {
 public:
  // Starts the zygote (preloading takes a few hundred ms) and sets up the cgroup tree. Call
  // before any other thread exists: the zygote must come from a single-threaded process.
  static Result<std::unique_ptr<Engine>> Create(const EngineConfig& config);

  // Runs one script under `limits`. The script failing is an Outcome; an Error means pyexec
  // could not run it (the zygote died, set-up failed, the host refused a resource). Raising
  // `cancel` kills the execution and returns kCancelled once it is gone.
  Result<Execution> Run(std::string_view script, const Limits& limits,
                        const sys::EventFd* cancel = nullptr);

  const EngineConfig& config() const { return config_; }
  const Enforcement& enforcement() const { return enforcement_; }
  // Started by an ordinary user: the zygote has a user namespace of its own, and scripts run as
  // that user's uid (seen as 65534 inside) rather than as the sandbox uid.
  bool rootless() const { return rootless_; }
  pid_t zygote_pid() { return zygote_->pid(); }
  // Its restarts and last death; never waits for a restart in progress.
  zygote::ZygoteStats zygote_stats() { return zygote_->stats(); }
  PoolStats pool_stats() const;
  // Waits until the cgroups of finished executions are removed (they go in the background).
  void FinishTeardown() { janitor_->Drain(); }

 private:
  Engine() = default;
  // One attempt of Run in one child. `lost_before_start`: the child died before the script
  // started (nothing of it ran), so Run may try again.
  Result<Execution> RunOnce(std::string_view script, const Limits& limits,
                            const sys::EventFd* cancel, bool* lost_before_start);
  // A child ready to be handed `limits`: from the pool, or made now.
  Result<PreparedChild> Acquire(const Limits& limits, bool use_pool, bool* pooled);

  EngineConfig config_;
  Enforcement enforcement_;
  std::optional<cgroup::CgroupTree> cgroups_;
  std::unique_ptr<zygote::ZygoteClient> zygote_;
  sys::UniqueFd root_fd_;  // jail only: the placeholder working directory of fork requests
  bool rootless_ = false;
  // The verdict is given as soon as the runner's message is complete, killing the execution
  // then: only where one write kills a whole cgroup (cgroup.kill). Elsewhere it waits for the
  // zygote's exit report, which comes once the pid namespace is empty.
  bool answer_early_ = false;
  // Declared in teardown order, last first: the pool retires its children into the janitor,
  // which removes their cgroups while the zygote still reaps them.
  std::unique_ptr<Janitor> janitor_;
  std::unique_ptr<ChildFactory> factory_;
  std::unique_ptr<WarmPool> pool_;
};

}  // namespace pyexec::service
