#include "service/janitor.h"

#include <utility>

#include "util/log.h"

namespace pyexec::service {
namespace {

void RemoveNow(cgroup::ExecutionCgroup& cgroup) {
  if (Status s = cgroup.Remove(); !s.ok()) {
    LogWarning("removing an execution's cgroup: " + s.error().ToString());
  }
}

}  // namespace

Janitor::Janitor(size_t capacity) : capacity_(capacity), thread_([this] { Loop(); }) {}

Janitor::~Janitor() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_.notify_all();
  thread_.join();
}

void Janitor::Remove(cgroup::ExecutionCgroup cgroup) {
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() < capacity_) {
      queue_.push_back(std::move(cgroup));
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

void Janitor::Loop() {
  std::unique_lock lock(mutex_);
  while (true) {
    work_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) {
      return;  // stopping, and everything is removed
    }
    cgroup::ExecutionCgroup next = std::move(queue_.front());
    queue_.pop_front();
    ++busy_;
    lock.unlock();
    RemoveNow(next);
    lock.lock();
    --busy_;
    if (queue_.empty() && busy_ == 0) {
      idle_.notify_all();
    }
  }
}

}  // namespace pyexec::service
