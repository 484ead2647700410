// Admission: at most N executions at once on a fixed pool of worker threads, a bounded FIFO
// queue in front of them, a queue-wait deadline per job, and shutdown (refuse new work, let the
// running jobs finish within a grace period, then cancel them). Knows nothing of HTTP or
// Python: a job is a callback. Runs in the server process; its threads are created once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "sys/event_fd.h"

namespace pyexec::service {

struct AdmissionConfig {
  size_t max_concurrency = 1;  // worker threads, so executions at once
  size_t queue_capacity = 64;  // jobs waiting for a worker; one more is refused at once
};

// Why a job will never run.
enum class Rejection {
  kQueueFull,     // refused at Submit: every worker busy and the queue full
  kQueueTimeout,  // it waited in the queue past its deadline
  kShuttingDown,  // refused at Submit, or still queued when Shutdown began
  kCancelled,     // Cancel() while it was queued (the client went away)
};

std::string_view RejectionName(Rejection rejection);

struct Job {
  // Runs on a worker thread. `cancel` is raised by Cancel() and, after the grace period, by
  // Shutdown(): the job should stop soon after (Engine::Run watches it).
  std::function<void(const sys::EventFd& cancel)> run;
  // Called instead of `run` when the job was admitted but will never run, on the thread that
  // decided it (a worker, the deadline thread, or the caller of Cancel/Shutdown). Must not block.
  std::function<void(Rejection)> reject;
  // A job still queued at this point is rejected with kQueueTimeout.
  std::chrono::steady_clock::time_point queue_deadline =
      std::chrono::steady_clock::time_point::max();
  std::shared_ptr<sys::EventFd> cancel;  // required
};

struct AdmissionStats {
  size_t max_concurrency = 0;
  size_t queue_capacity = 0;
  size_t running = 0;
  size_t queued = 0;
  bool accepting = true;
  uint64_t completed = 0;
  uint64_t refused_full = 0;
  uint64_t expired = 0;
};

struct Admitted {
  bool admitted = false;
  Rejection rejection = Rejection::kQueueFull;  // when not admitted
  uint64_t id = 0;                              // when admitted: the ticket for Cancel()
};

class Admission {
 public:
  // Starts max_concurrency workers and one deadline thread. max_concurrency must be >= 1.
  explicit Admission(AdmissionConfig config);
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;
  // Shutdown(0, ...) if not done: queued jobs are rejected, running ones cancelled.
  ~Admission();

  // Never blocks. Refused (kQueueFull, kShuttingDown) means neither callback will be called.
  Admitted Submit(Job job);
  // The client of job `id` went away: a queued job is removed and rejected with kCancelled, a
  // running one has its cancel flag raised; an unknown (finished) id is ignored. Never blocks.
  void Cancel(uint64_t id);

  AdmissionStats stats() const;

  // Stops admitting (Submit refuses with kShuttingDown), rejects every queued job with
  // kShuttingDown, waits up to `grace` for the running jobs; then raises their cancel flags and
  // waits up to `cancel_wait` more. Finally joins every thread. True when every job finished
  // within the grace period. Once; later calls return false at once.
  bool Shutdown(std::chrono::milliseconds grace, std::chrono::milliseconds cancel_wait);

 private:
  void WorkerLoop();
  void DeadlineLoop();

  const AdmissionConfig config_;
  mutable std::mutex mutex_;
  std::condition_variable work_;     // a job was queued, or the threads must stop
  std::condition_variable changed_;  // the queue or the running set changed (Shutdown waits)
  // The deadline thread's own: a queued job expires before the time it sleeps until, or the
  // threads must stop. Only then is it woken, not at every job that comes and goes.
  std::condition_variable deadline_moved_;
  // The earliest deadline the deadline thread has been told of: what it sleeps until, or
  // earlier (stale) while it is awake; only ever too early, which costs a spurious wake-up.
  std::chrono::steady_clock::time_point deadline_watched_ =
      std::chrono::steady_clock::time_point::max();
  std::deque<std::pair<uint64_t, Job>> queue_;
  std::map<uint64_t, std::shared_ptr<sys::EventFd>> running_;
  uint64_t next_id_ = 1;
  bool accepting_ = true;
  bool stopping_ = false;  // threads exit once the queue is empty
  bool shut_down_ = false;
  uint64_t completed_ = 0;
  uint64_t refused_full_ = 0;
  uint64_t expired_ = 0;
  std::vector<std::thread> threads_;
};

}  // namespace pyexec::service
