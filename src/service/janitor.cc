#include "service/janitor.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <utility>

#include "service/poll_deadline.h"
#include "util/log.h"

namespace pyexec::service {
namespace {

// Without cgroup.events (v1 only), tries at 1, 2, 4 ... up to 64 ms apart.
constexpr std::chrono::milliseconds kFirstRetry{1};
constexpr std::chrono::milliseconds kLongestRetry{64};
// With it, the notification says when; a try without one only guards against a missed one.
constexpr std::chrono::milliseconds kEventsRecheck{250};

void RemoveNow(cgroup::ExecutionCgroup& cgroup) {
  if (Status s = cgroup.Remove(); !s.ok()) {
    LogWarning("removing an execution's cgroup: " + s.error().ToString());
  }
}

}  // namespace

Janitor::Janitor(size_t capacity) : capacity_(capacity) {
  if (Result<sys::EventFd> wake = sys::EventFd::Create(); wake.ok()) {
    wake_.emplace(std::move(wake).value());
  }  // without it the thread's waits are bounded at 1 ms instead (Wait)
  thread_ = std::thread([this] { Loop(); });
}

Janitor::~Janitor() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_.notify_all();
  if (wake_) {
    wake_->Raise();
  }
  thread_.join();
}

void Janitor::Remove(cgroup::ExecutionCgroup cgroup) {
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() + busy_ < capacity_) {
      queue_.push_back(std::move(cgroup));
      if (busy_ > 0 && wake_) {
        wake_->Raise();  // the thread waits in poll, not on the condition variable
      }
      work_.notify_one();
      return;
    }
  }
  RemoveNow(cgroup);
}

void Janitor::Drain() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return queue_.empty() && busy_ == 0; });
}

bool Janitor::Attempt(Pending& entry, Clock::time_point now) {
  using Removal = cgroup::ExecutionCgroup::Removal;
  Result<Removal> removed = entry.cgroup.TryRemove();
  if (!removed.ok()) {
    LogWarning("removing an execution's cgroup: " + removed.error().ToString());
    return true;
  }
  if (*removed == Removal::kRemoved) {
    return true;
  }
  if (now >= entry.give_up_at) {
    LogWarning("cgroups: an execution's processes are still there " +
               std::to_string(kGiveUpAfter.count()) + " s after its end; its cgroup is left");
    entry.cgroup.Abandon();
    return true;
  }
  // Usually they are exiting already (killed with the answer, or by Retire); whatever is not
  // is SIGKILLed here: once through cgroup.kill, or at every try where processes are listed
  // and killed one by one (v1), since one may have forked in between.
  if (!entry.killed || entry.cgroup.populated_fd() < 0) {
    (void)entry.cgroup.KillAll();
    entry.killed = true;
  }
  if (*removed == Removal::kPopulated && entry.cgroup.populated_fd() >= 0) {
    entry.retry_at = now + kEventsRecheck;
  } else {  // no cgroup.events, or it said empty and an rmdir still found a process
    entry.retry_at = now + entry.backoff;
    entry.backoff = std::min(entry.backoff * 2, kLongestRetry);
  }
  return false;
}

void Janitor::Wait(std::vector<Pending>& pending) {
  std::vector<pollfd> polled;
  std::vector<size_t> owner;  // polled[i + first] belongs to pending[owner[i]]
  if (wake_) {
    polled.push_back({wake_->fd(), POLLIN, 0});
  }
  const size_t first = polled.size();
  Clock::time_point next = Clock::now() + std::chrono::seconds(1);
  for (size_t i = 0; i < pending.size(); ++i) {
    next = std::min(next, pending[i].retry_at);
    if (pending[i].cgroup.populated_fd() >= 0) {
      polled.push_back({pending[i].cgroup.populated_fd(), POLLPRI, 0});
      owner.push_back(i);
    }
  }
  const int timeout = wake_ ? MillisecondsUntil(next) : std::min(MillisecondsUntil(next), 1);
  if (poll(polled.data(), polled.size(), timeout) <= 0) {
    return;  // timed out (or EINTR): whatever is due is tried now
  }
  if (wake_ && polled[0].revents != 0) {
    wake_->Clear();
  }
  const Clock::time_point now = Clock::now();
  for (size_t i = 0; i < owner.size(); ++i) {
    if (polled[first + i].revents != 0) {
      pending[owner[i]].retry_at = now;  // "populated" changed: most likely to 0
    }
  }
}

void Janitor::Loop() {
  std::vector<Pending> pending;  // only this thread touches it
  std::unique_lock lock(mutex_);
  while (true) {
    const Clock::time_point taken = Clock::now();
    while (!queue_.empty()) {
      pending.push_back(
          Pending{std::move(queue_.front()), taken + kGiveUpAfter, taken, kFirstRetry});
      queue_.pop_front();
    }
    busy_ = pending.size();
    if (pending.empty()) {
      idle_.notify_all();
      if (stopping_) {
        return;  // everything is removed
      }
      work_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      continue;
    }
    lock.unlock();
    const Clock::time_point now = Clock::now();
    for (size_t i = 0; i < pending.size();) {
      if (pending[i].retry_at <= now && Attempt(pending[i], now)) {
        pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
    if (!pending.empty()) {
      Wait(pending);
    }
    lock.lock();
  }
}

}  // namespace pyexec::service
