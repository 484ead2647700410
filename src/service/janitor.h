// Janitor: finishes tearing executions down off the request's path. An execution's verdict is
// final once everything it started is dead (Engine::Run waits for that); what is left is
// removing its cgroup, which on cgroup v1 can take milliseconds. A full queue makes the caller
// remove its own (back-pressure). Runs in the server; one thread, created once.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <thread>

#include "cgroup/execution_cgroup.h"

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
  // Returns once everything handed over so far is removed.
  void Drain();

 private:
  void Loop();

  const size_t capacity_;
  std::mutex mutex_;
  std::condition_variable work_;
  std::condition_variable idle_;
  std::deque<cgroup::ExecutionCgroup> queue_;
  size_t busy_ = 0;  // removals in progress on the thread
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace pyexec::service
