// Janitor: finishes tearing executions down off the request's path. An execution's verdict is
// final once everything it started is dead or can no longer run (Engine::Run sees to that);
// what is left is removing its cgroup, which has to wait until its last process has exited
// (an exit unmaps a copy of the zygote: milliseconds). Cgroups are waited for side by side, on
// v2's cgroup.events where there is one, so that one slow exit holds up no other removal. A
// full queue makes the caller remove its own (back-pressure). Runs in the server; one thread,
// created once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "cgroup/execution_cgroup.h"
#include "sys/event_fd.h"

namespace pyexec::service {

class Janitor {
 public:
  explicit Janitor(size_t capacity = 256);
  Janitor(const Janitor&) = delete;
  Janitor& operator=(const Janitor&) = delete;
  // Removes everything still queued, then joins the thread.
  ~Janitor();

  // Kills what is left in `cgroup` and removes it, soon. Never blocks for long: when the queue
  // is full the removal happens here.
  void Remove(cgroup::ExecutionCgroup cgroup);
  // Returns once everything handed over so far is removed (or given up: see kGiveUpAfter).
  void Drain();

  // A cgroup whose processes are still there this long after its hand-over is left in place
  // (with a warning) for CgroupTree's destructor or the next start's sweep.
  static constexpr std::chrono::seconds kGiveUpAfter{5};

 private:
  using Clock = std::chrono::steady_clock;
  struct Pending {
    cgroup::ExecutionCgroup cgroup;
    Clock::time_point give_up_at;
    Clock::time_point retry_at;         // tried again then, or when cgroup.events changes
    std::chrono::milliseconds backoff;  // without cgroup.events: the next wait, doubling
    bool killed = false;
  };

  void Loop();
  // One try at removing `entry`: true once there is nothing more to do for it.
  static bool Attempt(Pending& entry, Clock::time_point now);
  // Waits until a pending cgroup may be removable, a hand-over, or the next retry time.
  void Wait(std::vector<Pending>& pending);

  const size_t capacity_;
  std::optional<sys::EventFd> wake_;  // raised by Remove while the thread waits in poll
  std::mutex mutex_;
  std::condition_variable work_;
  std::condition_variable idle_;
  std::deque<cgroup::ExecutionCgroup> queue_;
  size_t busy_ = 0;  // cgroups the thread has taken and not removed yet
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace pyexec::service
