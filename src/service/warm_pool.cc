#include "service/warm_pool.h"

#include <poll.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "util/log.h"

namespace pyexec::service {
namespace {

using Clock = std::chrono::steady_clock;

// How long a child may take to contain itself before the pool gives up on it.
constexpr std::chrono::seconds kSetupTimeout{30};
// After a child failed its set-up, the pool waits this long before it tries again (the next
// request makes its own and reports the failure).
constexpr std::chrono::seconds kFailureBackoff{1};
// The pool shrinks by one child at most this often.
constexpr std::chrono::seconds kShrinkInterval{1};
// How long an execution that found the pool empty waits for a child being made before it
// makes its own.
constexpr std::chrono::milliseconds kWaitForMaking{100};

}  // namespace

WarmPool::WarmPool(ChildFactory& factory, Limits limits, PoolConfig config)
    : factory_(factory),
      limits_(limits),
      config_(config),
      peak_at_(Clock::now()),
      second_at_(Clock::now()),
      recent_takes_(config.few_per_second, Clock::time_point()) {
  if (!wake_.ok()) {
    LogError("warm pool: " + wake_.error().ToString() + "; every execution makes its own child");
    return;
  }
  thread_ = std::thread([this] { Loop(); });
}

WarmPool::~WarmPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  added_.notify_all();
  if (wake_.ok()) {
    wake_->Raise();
  }
  if (thread_.joinable()) {
    thread_.join();
  }
  for (PreparedChild& child : idle_) {
    factory_.Retire(std::move(child));
  }
}

size_t WarmPool::TargetLocked() const {
  if (config_.max_idle == 0) {
    return 0;
  }
  const size_t demand = std::max(peak_, previous_peak_);
  const size_t floor = std::min(config_.min_idle, config_.max_idle);
  if (demand == 0) {
    return floor;
  }
  // Twice the executions in flight at once, and one more; and what starts while replacements
  // are being made (each takes several times as long as a short script).
  const double rate = static_cast<double>(std::max(takes_this_second_, takes_last_second_));
  const auto in_the_making = static_cast<size_t>(std::ceil(rate * make_ms_ / 1000.0));
  return std::clamp(std::max(2 * demand + 1, in_the_making + demand + 1), floor, config_.max_idle);
}

bool WarmPool::FewTakesLocked(Clock::time_point now) const {
  // The few_per_second-th most recent start (the clock's epoch until there were that many)
  // lies more than a second back: a burst stops counting a second after its end.
  return !recent_takes_.empty() && now - recent_takes_[next_take_slot_] > std::chrono::seconds(1);
}

bool WarmPool::SpareTimeLocked(Clock::time_point now, bool or_quiet_since) const {
  const auto gap = std::chrono::milliseconds(1000 / std::max<uint32_t>(config_.few_per_second, 1));
  return FewTakesLocked(now) &&
         (take_gap_ >= gap || (or_quiet_since && now - last_take_at_ >= gap));
}

void WarmPool::RollLocked(Clock::time_point now) {
  if (now - peak_at_ >= config_.demand_window) {
    previous_peak_ = peak_;
    peak_ = in_flight_;
    peak_at_ = now;
  }
  if (now - second_at_ >= std::chrono::seconds(1)) {
    takes_last_second_ = now - second_at_ < std::chrono::seconds(2) ? takes_this_second_ : 0;
    takes_this_second_ = 0;
    second_at_ = now;
  }
}

std::optional<PreparedChild> WarmPool::Take(const Limits& limits) {
  std::vector<PreparedChild> stale;
  std::optional<PreparedChild> taken;
  {
    std::unique_lock lock(mutex_);
    ++in_flight_;
    peak_ = std::max(peak_, in_flight_);
    const Clock::time_point now = Clock::now();
    RollLocked(now);
    ++takes_this_second_;
    if (!recent_takes_.empty()) {
      recent_takes_[next_take_slot_] = now;
      next_take_slot_ = (next_take_slot_ + 1) % recent_takes_.size();
    }
    take_gap_ = now - last_take_at_;
    last_take_at_ = now;
    if (CanServe(limits_, limits)) {
      if (idle_.empty() && making_ > 0) {
        // The wait is bounded, and the loop is told first so the pool grows for this demand.
        wake_->Raise();
        added_.wait_for(lock, kWaitForMaking, [this] { return !idle_.empty() || stopping_; });
      }
      while (!idle_.empty() && !taken) {
        PreparedChild child = std::move(idle_.front());
        idle_.pop_front();
        if (ChildFactory::StillWaiting(child)) {
          taken.emplace(std::move(child));
        } else {
          stale.push_back(std::move(child));  // it died (with its zygote, say)
          ++retired_;
        }
      }
    }
    ++(taken ? hits_ : misses_);
    if (taken) {
      // Alone, too: executions that overlap (long ones at a low rate, say) keep the cores
      // busy, and an exit at idle priority would wait for them.
      taken->idle_exit = config_.idle_exit_when_few && in_flight_ == 1 && SpareTimeLocked(now);
      idle_exits_ += taken->idle_exit ? 1 : 0;
    }
    if (taken && FewTakesLocked(now)) {
      defer_until_ = Clock::now() + config_.defer_replacement;
    }
  }
  if (wake_.ok()) {
    wake_->Raise();
  }
  for (PreparedChild& child : stale) {
    factory_.Retire(std::move(child));
  }
  return taken;
}

void WarmPool::Done() {
  bool replacement_waits = false;
  {
    std::lock_guard lock(mutex_);
    --in_flight_;
    const Clock::time_point now = Clock::now();
    replacement_waits = in_flight_ == 0 && now < defer_until_;
    if (replacement_waits) {
      // The replacement waited for this execution's end; it begins once its answer is out.
      defer_until_ = std::min(defer_until_, now + config_.settle_after_done);
    }
  }
  if (replacement_waits && wake_.ok()) {
    wake_->Raise();  // the pool's thread waits until the new defer_until_
  }
}

PoolStats WarmPool::stats() const {
  std::lock_guard lock(mutex_);
  PoolStats stats;
  stats.idle = idle_.size();
  stats.target = TargetLocked();
  stats.in_flight = in_flight_;
  stats.hits = hits_;
  stats.misses = misses_;
  stats.retired = retired_;
  stats.failures = failures_;
  stats.warmed_up = warmed_up_;
  stats.idle_exits = idle_exits_;
  return stats;
}

void WarmPool::Loop() {
  std::vector<PreparedChild> making;  // begun, not ready yet; only this thread touches it
  Clock::time_point last_shrink = Clock::now();
  Clock::time_point retry_at = Clock::now();  // after a failure, no new child before this
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const Clock::time_point now = Clock::now();
    RollLocked(now);
    const size_t target = TargetLocked();
    const Clock::time_point defer_until = defer_until_;  // read under the lock
    // One execution running, or none just after one (Done shortened the wait to
    // settle_after_done); more in flight means demand is up, and nothing is held back.
    const bool defer = in_flight_ <= 1 && !idle_.empty() && now < defer_until;
    // Start what is missing. The zygote forks them one after another; each then builds its
    // own jail on whichever core is free. Deferring holds back one child only, the running
    // execution's replacement: one owed to an execution that has ended is begun even if the
    // next take has begun a new wait (requests back to back below 50 a second would otherwise
    // empty the pool before any replacement began).
    const size_t held_back = defer ? 1 : 0;
    // Also a child begun well after the last start (the pool growing back in a quiet spell
    // that followed a burst): the gap between the burst's last two starts says nothing then.
    const bool warm_up = config_.warm_up_when_few && SpareTimeLocked(now, /*or_quiet_since=*/true);
    while (idle_.size() + making.size() + held_back < target && now >= retry_at && !stopping_) {
      lock.unlock();
      Result<PreparedChild> child = factory_.Begin(limits_, warm_up);
      lock.lock();
      if (!child.ok()) {
        LogWarning("warm pool: " + child.error().ToString());
        ++failures_;
        retry_at = Clock::now() + kFailureBackoff;
        break;
      }
      making.push_back(std::move(child).value());
    }
    making_ = making.size();
    if (idle_.size() > target && making.empty() && now - last_shrink >= kShrinkInterval) {
      PreparedChild child = std::move(idle_.front());
      idle_.pop_front();
      ++retired_;
      last_shrink = now;
      lock.unlock();
      factory_.Retire(std::move(child));
      lock.lock();
      continue;
    }
    lock.unlock();

    // Wait for progress of the children being made, a Take, or the next second.
    std::vector<pollfd> polled = {{wake_->fd(), POLLIN, 0}};
    for (const PreparedChild& child : making) {
      for (const int fd : ChildFactory::ReadinessFds(child)) {
        polled.push_back({fd, POLLIN, 0});
      }
    }
    int timeout_ms = 1000;
    if (defer) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(defer_until - now);
      timeout_ms = static_cast<int>(std::clamp<int64_t>(left.count(), 1, 1000));
    }
    (void)poll(polled.data(), polled.size(), timeout_ms);
    if (polled[0].revents != 0) {
      wake_->Clear();
    }
    // Only a child whose descriptors woke the poll can have progressed (or one past its time):
    // checking every child at every wake-up cost a poll per child per wake-up.
    std::vector<bool> woke(making.size(), false);
    for (size_t i = 0; i < making.size(); ++i) {
      for (size_t k = 0; k < ChildFactory::kReadinessFds; ++k) {
        woke[i] = woke[i] || polled[1 + (i * ChildFactory::kReadinessFds) + k].revents != 0;
      }
    }
    std::vector<PreparedChild> ready;
    for (size_t i = 0, slot = 0; i < making.size(); ++slot) {
      const bool expired = Clock::now() - making[i].begun_at > kSetupTimeout;
      if (!woke[slot] && !expired) {
        ++i;
        continue;
      }
      Result<bool> progress = factory_.Progress(making[i]);
      if (progress.ok() && !*progress && !expired) {
        ++i;
        continue;
      }
      PreparedChild child = std::move(making[i]);
      making.erase(making.begin() + static_cast<std::ptrdiff_t>(i));
      if (progress.ok() && *progress) {
        ready.push_back(std::move(child));
        continue;
      }
      LogWarning("warm pool: " + (progress.ok() ? std::string("a child's set-up timed out")
                                                : progress.error().ToString()));
      factory_.Retire(std::move(child));
      std::lock_guard failed(mutex_);
      ++failures_;
      retry_at = Clock::now() + kFailureBackoff;
    }
    lock.lock();
    making_ = making.size();
    for (PreparedChild& child : ready) {
      const double ms =
          std::chrono::duration<double, std::milli>(Clock::now() - child.begun_at).count();
      make_ms_ = 0.8 * make_ms_ + 0.2 * ms;
      warmed_up_ += child.warmed_up ? 1 : 0;
      idle_.push_back(std::move(child));
    }
    if (!ready.empty()) {
      added_.notify_all();
    }
  }
  lock.unlock();
  for (PreparedChild& child : making) {
    factory_.Retire(std::move(child));
  }
}

}  // namespace pyexec::service
