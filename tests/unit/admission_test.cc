// Admission without Python: jobs are callbacks the test holds and releases, so every wait is on
// observable state (a future, a counter), never a sleep.
#include "service/admission.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace pyexec::service {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::seconds kWait{10};

// A gate jobs wait at until the test opens it.
class Gate {
 public:
  void Open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    opened_.notify_all();
  }
  void Wait() {
    std::unique_lock lock(mutex_);
    opened_.wait_for(lock, kWait, [this] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable opened_;
  bool open_ = false;
};

std::shared_ptr<sys::EventFd> NewCancel() {
  Result<sys::EventFd> fd = sys::EventFd::Create();
  EXPECT_TRUE(fd.ok());
  return std::make_shared<sys::EventFd>(std::move(fd).value());
}

// A job that waits at `gate` (or until cancelled) and reports how it ended.
struct Probe {
  std::promise<std::string> ended;  // "ran", "cancelled" or the rejection's name
  std::future<std::string> result = ended.get_future();
};

Job GatedJob(Gate* gate, Probe* probe, std::atomic<int>* running = nullptr,
             std::atomic<int>* peak = nullptr,
             Clock::time_point deadline = Clock::time_point::max()) {
  Job job;
  job.cancel = NewCancel();
  job.queue_deadline = deadline;
  job.run = [gate, probe, running, peak](const sys::EventFd& cancel) {
    if (running != nullptr) {
      const int now = ++*running;
      int seen = peak->load();
      while (now > seen && !peak->compare_exchange_weak(seen, now)) {
      }
    }
    gate->Wait();
    if (running != nullptr) {
      --*running;
    }
    probe->ended.set_value(cancel.Raised() ? "cancelled" : "ran");
  };
  job.reject = [probe](Rejection rejection) {
    probe->ended.set_value(std::string(RejectionName(rejection)));
  };
  return job;
}

// A job that runs until its cancel flag is raised.
Job CancellableJob(Probe* probe) {
  Job job;
  job.cancel = NewCancel();
  job.run = [probe](const sys::EventFd& cancel) {
    pollfd polled{cancel.fd(), POLLIN, 0};
    const int ready = poll(&polled, 1, static_cast<int>(kWait.count() * 1000));
    probe->ended.set_value(ready == 1 ? "cancelled" : "not cancelled");
  };
  job.reject = [probe](Rejection rejection) {
    probe->ended.set_value(std::string(RejectionName(rejection)));
  };
  return job;
}

bool WaitForRunning(const Admission& admission, size_t running) {
  const auto deadline = Clock::now() + kWait;
  while (Clock::now() < deadline) {
    if (admission.stats().running == running) {
      return true;
    }
    std::this_thread::yield();
  }
  return false;
}

// Queues a job gated like GatedJob that may wait in the queue until `deadline`.
bool SubmitUntil(Admission& admission, Gate* gate, Probe* probe, Clock::time_point deadline) {
  return admission.Submit(GatedJob(gate, probe, nullptr, nullptr, deadline)).admitted;
}

std::string Get(Probe& probe) {
  if (probe.result.wait_for(kWait) != std::future_status::ready) {
    return "no result";
  }
  return probe.result.get();
}

TEST(Admission, NeverRunsMoreThanMaxConcurrencyAtOnce) {
  Admission admission({.max_concurrency = 2, .queue_capacity = 10});
  Gate gate;
  std::atomic<int> running{0};
  std::atomic<int> peak{0};
  std::vector<std::unique_ptr<Probe>> probes;
  for (int i = 0; i < 6; ++i) {
    probes.push_back(std::make_unique<Probe>());
    EXPECT_TRUE(admission.Submit(GatedJob(&gate, probes.back().get(), &running, &peak)).admitted);
  }
  ASSERT_TRUE(WaitForRunning(admission, 2));
  EXPECT_EQ(admission.stats().queued, 4u);
  gate.Open();
  for (auto& probe : probes) {
    EXPECT_EQ(Get(*probe), "ran");
  }
  EXPECT_EQ(peak.load(), 2);
}

TEST(Admission, FullQueue_IsRefusedAtOnceWithoutCallingTheJob) {
  Admission admission({.max_concurrency = 1, .queue_capacity = 1});
  Gate gate;
  Probe first;
  Probe second;
  Probe third;
  ASSERT_TRUE(admission.Submit(GatedJob(&gate, &first)).admitted);
  ASSERT_TRUE(WaitForRunning(admission, 1));
  ASSERT_TRUE(admission.Submit(GatedJob(&gate, &second)).admitted);
  const Admitted refused = admission.Submit(GatedJob(&gate, &third));
  EXPECT_FALSE(refused.admitted);
  EXPECT_EQ(refused.rejection, Rejection::kQueueFull);
  EXPECT_EQ(admission.stats().refused_full, 1u);
  gate.Open();
  EXPECT_EQ(Get(first), "ran");
  EXPECT_EQ(Get(second), "ran");
  EXPECT_NE(third.result.wait_for(std::chrono::milliseconds(0)), std::future_status::ready);
}

TEST(Admission, QueuedPastItsDeadline_IsRejectedWhileTheWorkerIsStillBusy) {
  Admission admission({.max_concurrency = 1, .queue_capacity = 4});
  Gate gate;
  Probe busy;
  Probe late;
  ASSERT_TRUE(admission.Submit(GatedJob(&gate, &busy)).admitted);
  ASSERT_TRUE(WaitForRunning(admission, 1));
  ASSERT_TRUE(SubmitUntil(admission, &gate, &late, Clock::now() + std::chrono::milliseconds(50)));
  EXPECT_EQ(Get(late), "queue_timeout");  // the gate is still closed
  EXPECT_EQ(admission.stats().expired, 1u);
  gate.Open();
  EXPECT_EQ(Get(busy), "ran");
}

// The deadline thread sleeps until the earliest deadline it knows of: a job queued later with
// a sooner deadline must wake it, or it would wait behind the patient job's hour.
TEST(Admission, ASoonerDeadlineQueuedBehindALaterOne_StillExpiresOnTime) {
  Admission admission({.max_concurrency = 1, .queue_capacity = 4});
  Gate gate;
  Probe busy;
  Probe patient;
  Probe late;
  ASSERT_TRUE(admission.Submit(GatedJob(&gate, &busy)).admitted);
  ASSERT_TRUE(WaitForRunning(admission, 1));
  ASSERT_TRUE(SubmitUntil(admission, &gate, &patient, Clock::now() + std::chrono::hours(1)));
  ASSERT_TRUE(SubmitUntil(admission, &gate, &late, Clock::now() + std::chrono::milliseconds(50)));
  EXPECT_EQ(Get(late), "queue_timeout");  // the gate is still closed
  EXPECT_EQ(admission.stats().queued, 1u);
  gate.Open();
  EXPECT_EQ(Get(busy), "ran");
  EXPECT_EQ(Get(patient), "ran");
}

TEST(Admission, CancelQueued_RemovesItAndCancelRunning_RaisesItsFlag) {
  Admission admission({.max_concurrency = 1, .queue_capacity = 4});
  Probe running;
  Gate gate;
  Probe queued;
  const Admitted first = admission.Submit(CancellableJob(&running));
  ASSERT_TRUE(WaitForRunning(admission, 1));
  const Admitted second = admission.Submit(GatedJob(&gate, &queued));
  admission.Cancel(second.id);
  EXPECT_EQ(Get(queued), "cancelled");
  EXPECT_EQ(admission.stats().queued, 0u);
  admission.Cancel(first.id);
  EXPECT_EQ(Get(running), "cancelled");
  admission.Cancel(12345);  // unknown: ignored
  gate.Open();
}

TEST(Admission, Shutdown_RejectsTheQueueAndLetsRunningJobsFinish) {
  Admission admission({.max_concurrency = 1, .queue_capacity = 4});
  Gate gate;
  Probe running;
  Probe queued;
  ASSERT_TRUE(admission.Submit(GatedJob(&gate, &running)).admitted);
  ASSERT_TRUE(WaitForRunning(admission, 1));
  ASSERT_TRUE(admission.Submit(GatedJob(&gate, &queued)).admitted);
  std::future<bool> drained =
      std::async(std::launch::async, [&] { return admission.Shutdown(kWait, kWait); });
  EXPECT_EQ(Get(queued), "shutting_down");
  Probe after;
  const Admitted refused = admission.Submit(GatedJob(&gate, &after));
  EXPECT_FALSE(refused.admitted);
  EXPECT_EQ(refused.rejection, Rejection::kShuttingDown);
  gate.Open();
  EXPECT_EQ(Get(running), "ran");
  EXPECT_TRUE(drained.get());
}

TEST(Admission, Shutdown_AfterTheGraceCancelsWhatStillRuns) {
  Admission admission({.max_concurrency = 2, .queue_capacity = 0});
  Probe first;
  Probe second;
  ASSERT_TRUE(admission.Submit(CancellableJob(&first)).admitted);
  ASSERT_TRUE(admission.Submit(CancellableJob(&second)).admitted);
  ASSERT_TRUE(WaitForRunning(admission, 2));
  EXPECT_FALSE(admission.Shutdown(std::chrono::milliseconds(50), kWait));
  EXPECT_EQ(Get(first), "cancelled");
  EXPECT_EQ(Get(second), "cancelled");
  EXPECT_FALSE(admission.stats().accepting);
}

TEST(Admission, ZeroQueue_AdmitsOnlyWhatAWorkerCanTake) {
  Admission admission({.max_concurrency = 1, .queue_capacity = 0});
  Gate gate;
  Probe first;
  Probe second;
  ASSERT_TRUE(admission.Submit(GatedJob(&gate, &first)).admitted);
  EXPECT_FALSE(admission.Submit(GatedJob(&gate, &second)).admitted);
  gate.Open();
  EXPECT_EQ(Get(first), "ran");
}

}  // namespace
}  // namespace pyexec::service
