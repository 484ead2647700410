// WarmPool: children made ahead of demand (PreparedChild), so that a request only has to hand
// its script over. A background thread keeps `target` children ready: one more than the most
// executions that were in flight at once lately, within [min_idle, max_idle]. Children beyond
// the target for a whole demand window are retired one per second, so an idle service keeps
// only min_idle. Every child is used once or retired, never reused. Runs in the server.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "service/limits.h"
#include "service/prepared_child.h"
#include "sys/event_fd.h"

namespace pyexec::service {

struct PoolConfig {
  size_t min_idle = 2;  // kept ready even when nothing has run lately
  size_t max_idle = 8;  // at most this many ready at once; 0: no pool (each makes its own)
  // How long a burst of demand keeps the pool large after it ended.
  std::chrono::milliseconds demand_window{10000};
  // While one execution runs and a ready child is left, its replacement is begun once it is
  // done, or after this long, when executions are few (few_per_second): a child joining its
  // cgroups after an idle spell can hold cgroup_mutex through an RCU grace period (10-30 ms),
  // which that execution's cgroup.kill, and so its answer, would wait for.
  std::chrono::milliseconds defer_replacement{20};
  // Once that execution is done, its replacement waits this much longer (within
  // defer_replacement): the execution's answer is being written and its processes torn down,
  // and a fork of the zygote begun at that moment takes a core from them (0.05-0.2 ms more on
  // the answer's path, measured on 2 cores). Only one replacement is ever held back: one owed
  // to an execution that has ended is begun even while the next one runs.
  std::chrono::milliseconds settle_after_done{2};
  // Children begun in spare time (few_per_second: under 50 executions in the last second, the
  // last two at least 20 ms apart) run the runner's warm-up before they are ready
  // (ChildFactory::Begin): the first compile and run in a fresh child copy ~200 pages of the
  // zygote's, 0.2-0.3 ms of the paced p50 on this kind of machine, and the warm-up copies them
  // ahead. Not at higher rates: there the CPU it costs (~1 ms a child) is taken from the executions
  // themselves.
  bool warm_up_when_few = true;
  // Executions taken when executions are few (as above) and none other is running are asked to
  // exit at idle priority once their result is written (sandbox::kStartIdleExit; the engine
  // turns this off unless Enforcement::idle_exit, and asks only where the answer does not wait
  // for the exit): on a core where the threads answering the request were woken, the exit
  // (~1.5 ms of unmapping) would run first. Not at higher rates: where no core is ever free,
  // such exits could wait a long time, holding their memory and their cgroup.
  bool idle_exit_when_few = true;
  // "Executions are few" while fewer than this many began in the last second; "spare time"
  // while they are few and the last two began at least 1/few_per_second apart (a burst after a
  // quiet spell is not few from its second execution on). defer_replacement applies when few:
  // the kernel waits for a grace period only at a join that follows no other one closely
  // (rcu_sync idle), and holding replacements back at higher rates would only empty the pool;
  // the warm-up and the idle exit need spare time. 0: never few.
  uint32_t few_per_second = 50;
};

struct PoolStats {
  size_t idle = 0;    // ready children
  size_t target = 0;  // what the pool is filling to
  size_t in_flight = 0;
  uint64_t hits = 0;        // executions that found a ready child
  uint64_t misses = 0;      // executions that had to make their own
  uint64_t retired = 0;     // children retired unused (shrinking, stale, or dead)
  uint64_t failures = 0;    // children that failed their set-up in the background
  uint64_t warmed_up = 0;   // children made ready with the warm-up run (warm_up_when_few)
  uint64_t idle_exits = 0;  // executions taken to be asked to exit at idle priority
};

class WarmPool {
 public:
  // Children are made by `factory` with `limits` (the operator's maximums). Starts the thread.
  WarmPool(ChildFactory& factory, Limits limits, PoolConfig config);
  WarmPool(const WarmPool&) = delete;
  WarmPool& operator=(const WarmPool&) = delete;
  // Stops the thread and retires every idle child.
  ~WarmPool();

  // A ready child that can serve `limits`: one waiting, or, when none is but some are being
  // made, the first of those to be ready (within a bound: sooner than a child made for the
  // request alone, which would also slow those down). Counts the execution as in flight until
  // Done().
  std::optional<PreparedChild> Take(const Limits& limits);
  void Done();

  PoolStats stats() const;

 private:
  void Loop();
  size_t TargetLocked() const;
  // Rolls the demand windows forward to `now`.
  void RollLocked(std::chrono::steady_clock::time_point now);
  // Fewer than few_per_second executions began in the second before `now`.
  bool FewTakesLocked(std::chrono::steady_clock::time_point now) const;
  // FewTakesLocked, and the last two began at least 1/few_per_second apart (or, with
  // `or_quiet_since`, the last one began that long before `now`).
  bool SpareTimeLocked(std::chrono::steady_clock::time_point now,
                       bool or_quiet_since = false) const;

  ChildFactory& factory_;
  const Limits limits_;
  const PoolConfig config_;
  mutable std::mutex mutex_;
  Result<sys::EventFd> wake_ = sys::EventFd::Create();  // raised by Take and on stopping
  std::condition_variable added_;                       // a child became ready
  size_t making_ = 0;                                   // children begun and not ready yet
  std::deque<PreparedChild> idle_;
  size_t in_flight_ = 0;
  size_t peak_ = 0;  // most in flight at once since peak_at_
  std::chrono::steady_clock::time_point peak_at_;
  size_t previous_peak_ = 0;  // the window before
  // Executions started in this second and the one before, and how long a child takes to be
  // made (a moving average): children needed while replacements are being made.
  uint64_t takes_this_second_ = 0;
  uint64_t takes_last_second_ = 0;
  std::chrono::steady_clock::time_point second_at_;
  // When the last few_per_second executions began (a ring; the clock's epoch until then), for
  // FewTakesLocked: next_take_slot_ holds the oldest.
  std::vector<std::chrono::steady_clock::time_point> recent_takes_;
  size_t next_take_slot_ = 0;
  double make_ms_ = 10.0;
  // When the last execution began (the clock's epoch before the first), and how long after
  // the one before it.
  std::chrono::steady_clock::time_point last_take_at_;
  std::chrono::steady_clock::duration take_gap_ = std::chrono::steady_clock::duration::max();
  // Until then, while one execution runs (or has just ended: settle_after_done) and a child is
  // ready, no replacement is begun (PoolConfig::defer_replacement).
  std::chrono::steady_clock::time_point defer_until_;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
  uint64_t retired_ = 0;
  uint64_t failures_ = 0;
  uint64_t warmed_up_ = 0;
  uint64_t idle_exits_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace pyexec::service
