#include "service/admission.h"

#include <algorithm>
#include <utility>

namespace pyexec::service {

using Clock = std::chrono::steady_clock;

std::string_view RejectionName(Rejection rejection) {
  switch (rejection) {
    case Rejection::kQueueFull:
      return "queue_full";
    case Rejection::kQueueTimeout:
      return "queue_timeout";
    case Rejection::kShuttingDown:
      return "shutting_down";
    case Rejection::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

Admission::Admission(AdmissionConfig config) : config_(config) {
  const size_t workers = std::max<size_t>(1, config_.max_concurrency);
  threads_.reserve(workers + 1);
  for (size_t i = 0; i < workers; ++i) {
    threads_.emplace_back([this] { WorkerLoop(); });
  }
  threads_.emplace_back([this] { DeadlineLoop(); });
}

Admission::~Admission() { (void)Shutdown(std::chrono::milliseconds(0), std::chrono::hours(1)); }

Admitted Admission::Submit(Job job) {
  std::lock_guard lock(mutex_);
  if (!accepting_) {
    return Admitted{false, Rejection::kShuttingDown, 0};
  }
  if (queue_.size() + running_.size() >= config_.max_concurrency + config_.queue_capacity) {
    ++refused_full_;
    return Admitted{false, Rejection::kQueueFull, 0};
  }
  const uint64_t id = next_id_++;
  if (job.queue_deadline < deadline_watched_) {
    deadline_watched_ = job.queue_deadline;
    deadline_moved_.notify_one();
  }
  queue_.emplace_back(id, std::move(job));
  work_.notify_one();
  return Admitted{true, Rejection::kQueueFull, id};
}

void Admission::Cancel(uint64_t id) {
  std::unique_lock lock(mutex_);
  const auto queued = std::find_if(queue_.begin(), queue_.end(),
                                   [id](const auto& entry) { return entry.first == id; });
  if (queued != queue_.end()) {
    Job job = std::move(queued->second);
    queue_.erase(queued);
    changed_.notify_all();
    lock.unlock();
    job.reject(Rejection::kCancelled);
    return;
  }
  if (const auto running = running_.find(id); running != running_.end()) {
    running->second->Raise();
  }
}

AdmissionStats Admission::stats() const {
  std::lock_guard lock(mutex_);
  AdmissionStats stats;
  stats.max_concurrency = config_.max_concurrency;
  stats.queue_capacity = config_.queue_capacity;
  stats.running = running_.size();
  stats.queued = queue_.size();
  stats.accepting = accepting_;
  stats.completed = completed_;
  stats.refused_full = refused_full_;
  stats.expired = expired_;
  return stats;
}

bool Admission::Shutdown(std::chrono::milliseconds grace, std::chrono::milliseconds cancel_wait) {
  std::deque<std::pair<uint64_t, Job>> rejected;
  {
    std::lock_guard lock(mutex_);
    if (shut_down_) {
      return false;
    }
    shut_down_ = true;
    accepting_ = false;
    rejected.swap(queue_);
    changed_.notify_all();
  }
  for (auto& [id, job] : rejected) {
    job.reject(Rejection::kShuttingDown);
  }
  rejected.clear();
  std::unique_lock lock(mutex_);
  const bool drained = changed_.wait_for(lock, grace, [this] { return running_.empty(); });
  if (!drained) {
    for (const auto& [id, cancel] : running_) {
      cancel->Raise();
    }
    changed_.wait_for(lock, cancel_wait, [this] { return running_.empty(); });
  }
  stopping_ = true;
  work_.notify_all();
  changed_.notify_all();
  deadline_moved_.notify_all();
  lock.unlock();
  for (std::thread& thread : threads_) {
    thread.join();
  }
  threads_.clear();
  return drained;
}

void Admission::WorkerLoop() {
  for (;;) {
    std::unique_lock lock(mutex_);
    work_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) {
      return;
    }
    auto [id, job] = std::move(queue_.front());
    queue_.pop_front();
    const bool expired = Clock::now() >= job.queue_deadline;
    if (expired) {
      ++expired_;
    } else {
      running_.emplace(id, job.cancel);
    }
    changed_.notify_all();
    lock.unlock();
    if (expired) {
      job.reject(Rejection::kQueueTimeout);
      continue;
    }
    job.run(*job.cancel);
    job = Job{};  // release what the job holds before it counts as finished
    lock.lock();
    running_.erase(id);
    ++completed_;
    changed_.notify_all();
  }
}

// Workers are all busy while a job waits, so the queue-wait deadline needs a thread of its own.
// It sleeps until the earliest deadline in the queue and is woken early only by a job that
// expires sooner (Submit): a job leaving the queue can only make that time later, and the
// thread finds out when it wakes. (It used to be woken at every submission, start and end of
// a job, three times per request, taking the lock the workers wait for each time.)
void Admission::DeadlineLoop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    Clock::time_point earliest = Clock::time_point::max();
    for (const auto& entry : queue_) {
      earliest = std::min(earliest, entry.second.queue_deadline);
    }
    const Clock::time_point now = Clock::now();
    if (earliest > now) {
      deadline_watched_ = earliest;
      if (earliest == Clock::time_point::max()) {
        deadline_moved_.wait(lock);
      } else {
        deadline_moved_.wait_until(lock, earliest);
      }
      continue;
    }
    std::vector<Job> expired;
    for (auto it = queue_.begin(); it != queue_.end();) {
      if (it->second.queue_deadline <= now) {
        expired.push_back(std::move(it->second));
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
    expired_ += expired.size();
    changed_.notify_all();
    lock.unlock();
    for (Job& job : expired) {
      job.reject(Rejection::kQueueTimeout);
    }
    expired.clear();
    lock.lock();
  }
}

}  // namespace pyexec::service
