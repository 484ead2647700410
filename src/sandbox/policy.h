// Plain data describing what the child must be confined to: built by the server from an
// execution's limits, carried to the zygote in a fork request, applied by contain.cc.
#pragma once

#include <cstdint>

namespace pyexec::sandbox {

// The rlimits of one execution. A child is made with the operator's maximums (ChildPolicy) and
// lowered to its request's when it is handed its script (StartOrder): lowering needs no
// privilege, so a child that waited in the warm pool can still take any request's limits.
struct ExecutionRlimits {
  uint64_t cpu_time_seconds = 0;     // RLIMIT_CPU (soft; hard = soft + 1), 0: unlimited
  uint64_t file_size_bytes = 0;      // RLIMIT_FSIZE, 0: unlimited
  uint64_t open_files = 0;           // RLIMIT_NOFILE, 0: inherited
  uint64_t address_space_bytes = 0;  // RLIMIT_AS: only when no memory cgroup exists
  uint64_t max_processes = 0;        // RLIMIT_NPROC: only when no pids cgroup exists
};

// Fixed-size and trivially copyable: it crosses the zygote socket as bytes.
struct ChildPolicy {
  ExecutionRlimits rlimits;
  // The jail (namespaces, private root, unprivileged ids); see contain.cc.
  uint32_t jail = 0;            // 1: contain in namespaces and a private root
  uint32_t sandbox_uid = 0;     // host uid the script runs as (never 0)
  uint32_t sandbox_gid = 0;     // host gid the script runs as (never 0)
  uint32_t flags = 0;           // kPolicy* bits
  uint64_t tmp_size_bytes = 0;  // size of the script's /tmp (tmpfs, charged to its memory)
};

// The zygote runs unprivileged, as uid 0 of a user namespace of its own that maps only the
// invoking user (pyexec started by an ordinary user): the script's ids map onto that user's, not
// onto sandbox_uid/gid, and /dev's nodes are bind-mounted rather than created. Set by the
// zygote itself from what it verified at start-up, never taken from a request.
inline constexpr uint32_t kPolicyRootless = 1U << 0;
// Test-only relaxations, each switching off exactly one control so that a hostile test can show
// that its probe notices the breach (the positive control). Engine config can set them; no flag
// or environment variable of pyexec can.
inline constexpr uint32_t kPolicyTestNoSeccomp = 1U << 1;
inline constexpr uint32_t kPolicyTestNoUserNamespaceLimit = 1U << 2;
// The child runs a small script of pyexec's own while it waits for its request (the runner's
// warm-up, see python/pyexec_runner.py): what the first compile and run in a fresh child copy
// of the zygote's pages is copied before the request instead of on its path. Asked for by the
// warm pool when executions are few, when the spare CPU it costs is there.
inline constexpr uint32_t kPolicyWarmUp = 1U << 3;

// The hand-over, on the child's script channel (a SEQPACKET socket at kScriptFd). The contained
// child sends a ReadyNotice and waits; the server answers with one StartOrder carrying the
// script as a sealed memfd (SCM_RIGHTS), or closes the channel to retire the child unused.
inline constexpr uint32_t kHandOverMagic = 0x50595354;  // "PYST"

// ReadyNotice::flags: the child ran the warm-up (kPolicyWarmUp) to its end.
inline constexpr uint32_t kReadyWarmedUp = 1U << 0;

struct ReadyNotice {
  uint32_t magic = kHandOverMagic;
  uint32_t flags = 0;         // kReady* bits
  uint64_t setup_cpu_ns = 0;  // CPU the child spent on its set-up, not the script's to pay for
};

// StartOrder::flags: once its result is written, the child moves to SCHED_IDLE and yields
// before it exits, so that the threads answering it are not kept waiting behind its exit on a
// busy core. Only when executions are few, and where each execution is a CPU group of its own
// (service::Enforcement::idle_exit): elsewhere an exit at idle priority waits for a free core,
// which a saturated host may not have for a long time.
inline constexpr uint32_t kStartIdleExit = 1U << 0;

struct StartOrder {
  uint32_t magic = kHandOverMagic;
  uint32_t flags = 0;               // kStart* bits
  ExecutionRlimits rlimits;         // the request's: each at most the child's current limit
  uint64_t result_limit_bytes = 0;  // largest result the runner may send
};

// The ids the script sees inside its user namespace.
inline constexpr uint32_t kInsideUid = 65534;
inline constexpr uint32_t kInsideGid = 65534;
inline constexpr char kSandboxHostname[] = "pyexec";

}  // namespace pyexec::sandbox
