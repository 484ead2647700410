#include "service/engine.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "sandbox/policy.h"
#include "sandbox/setup_status.h"
#include "service/capture.h"
#include "service/poll_deadline.h"
#include "sys/fds.h"
#include "sys/files.h"
#include "sys/process.h"
#include "util/log.h"

namespace pyexec::service {
namespace {

using Clock = std::chrono::steady_clock;

// How long the supervisor keeps reading output after the child exited and the rest of the
// execution was killed: the kernel closes the pipes within milliseconds of the kill.
constexpr std::chrono::milliseconds kDrainGrace{2000};
// How long it waits for the zygote's exit report after killing a timed-out execution.
constexpr std::chrono::milliseconds kKillGrace{5000};
// The runner's envelope line is small; this bounds it on the result channel.
constexpr uint64_t kEnvelopeAllowance = uint64_t{1024} * 1024;

// One pipe the supervisor reads to EOF into a capped capture.
struct Stream {
  sys::UniqueFd fd;
  CapturedOutput capture;
  // Reads what is available; false when the writer side is closed (EOF) or failed.
  bool Drain() {
    std::array<char, 65536> buffer;
    while (true) {
      const ssize_t got = read(fd.get(), buffer.data(), buffer.size());
      if (got > 0) {
        capture.Append(std::string_view(buffer.data(), static_cast<size_t>(got)));
        continue;
      }
      if (got < 0 && errno == EINTR) {
        continue;
      }
      if (got < 0 && errno == EAGAIN) {
        return true;
      }
      fd.Reset();
      return false;
    }
  }
};

// Timestamps of one execution's phases, logged at debug level: where the time goes.
struct PhaseTrace {
  Clock::time_point start = Clock::now();
  Clock::time_point prepared, sent, started, exited, drained, removed;

  static double Ms(Clock::time_point from, Clock::time_point to) {
    return to < from ? 0.0 : std::chrono::duration<double, std::milli>(to - from).count();
  }
  std::string Describe() const {
    char text[256];
    (void)snprintf(text, sizeof(text),
                   "prepare %.2f ms, request %.2f, fork %.2f, run %.2f, drain %.2f, "
                   "cgroup removal %.2f",
                   Ms(start, prepared), Ms(prepared, sent), Ms(sent, started), Ms(started, exited),
                   Ms(exited, drained), Ms(drained, removed));
    return text;
  }
};

}  // namespace

Enforcement DescribeEnforcement(const cgroup::HostCgroups* host, CgroupMode mode, bool jail) {
  Enforcement e;
  e.cgroup_mode = host ? host->Mode() : mode == CgroupMode::kOff ? "off" : "none";
  const auto backend = [](const std::string& name) { return "cgroup " + name; };
  const std::string memory_backend = host ? host->MemoryBackend() : "";
  const std::string pids_backend = host ? host->PidsBackend() : "";
  e.memory_by_cgroup = !memory_backend.empty();
  e.pids_by_cgroup = !pids_backend.empty();
  e.memory = e.memory_by_cgroup ? backend(memory_backend) : "rlimit (RLIMIT_AS)";
  // The kernel never applies RLIMIT_NPROC to root (fork(2)): say so rather than claim a limit.
  // A jailed script is never root: it runs as the sandbox uid in a user namespace of its own,
  // where the count covers only its own processes (per-namespace ucounts, Linux 5.14+).
  e.pids = e.pids_by_cgroup         ? backend(pids_backend)
           : jail || geteuid() != 0 ? "rlimit (RLIMIT_NPROC)"
                                    : "none (RLIMIT_NPROC does not apply to root)";
  // Without cgroups a jailed execution ends with its pid namespace (its init is killed).
  e.kill = host && host->CanKillTree() ? "cgroup.kill"
           : host                      ? "cgroup.procs"
           : jail                      ? "pid namespace"
                                       : "process group";
  e.cpu_accounting = host && !host->CpuBackend().empty() ? backend(host->CpuBackend()) : "rusage";
  e.cgroup_favordynmods = host && host->v2.present() && host->v2_favordynmods;
  e.idle_exit = jail && host && host->CanKillTree() && host->own_cpu_groups;
  return e;
}

Result<std::unique_ptr<Engine>> Engine::Create(const EngineConfig& config) {
  std::unique_ptr<Engine> engine(new Engine());
  engine->config_ = config;
  if (config.cgroups == CgroupMode::kAuto) {
    const cgroup::HostCgroups host = cgroup::Detect();
    Result<cgroup::CgroupTree> tree = cgroup::CgroupTree::Create(host);
    if (tree.ok()) {
      engine->cgroups_.emplace(std::move(tree).value());
    } else {
      LogWarning("cgroups unavailable, falling back to rlimits: " + tree.error().ToString());
    }
  }
  engine->enforcement_ = DescribeEnforcement(engine->cgroups_ ? &engine->cgroups_->host() : nullptr,
                                             config.cgroups, config.jail);

  if (config.jail) {
    // The fork request always carries a working directory; a jailed child ignores it.
    Result<sys::UniqueFd> root = sys::OpenReadOnly("/");
    if (!root.ok()) {
      return std::move(root).error();
    }
    engine->root_fd_ = std::move(root).value();
  }
  zygote::ZygoteOptions options;
  options.preload = config.preload;
  options.log_level = config.log_level;
  // Only root can make the jail's namespaces directly; anyone else gets them through a user
  // namespace of the zygote's own (where unprivileged user namespaces are allowed).
  engine->rootless_ = config.jail && geteuid() != 0;
  options.rootless = engine->rootless_;
  options.huge_page_arenas = engine->enforcement_.memory_by_cgroup;
  options.idle_exit = engine->enforcement_.idle_exit;
  Result<std::unique_ptr<zygote::ZygoteClient>> client = zygote::ZygoteClient::Start(options);
  if (!client.ok()) {
    return std::move(client).error();
  }
  engine->zygote_ = std::move(client).value();

  engine->janitor_ = std::make_unique<Janitor>();
  FactoryContext context;
  context.jail = config.jail;
  context.rootless = engine->rootless_;
  context.sandbox_uid = config.sandbox_uid;
  context.sandbox_gid = config.sandbox_gid;
  context.test_relaxations = config.test_relaxations;
  context.work_parent = config.work_parent;
  context.memory_by_cgroup = engine->enforcement_.memory_by_cgroup;
  context.pids_by_cgroup = engine->enforcement_.pids_by_cgroup;
  context.root_fd = engine->root_fd_.get();
  context.cgroups = engine->cgroups_ ? &*engine->cgroups_ : nullptr;
  context.zygote = engine->zygote_.get();
  context.janitor = engine->janitor_.get();
  engine->factory_ = std::make_unique<ChildFactory>(std::move(context));
  engine->answer_early_ = engine->cgroups_ && engine->cgroups_->host().CanKillTree();
  if (config.pool.max_idle > 0) {
    // Enforcement::idle_exit includes cgroup.kill: the answer never waits for such an exit.
    PoolConfig pool = config.pool;
    pool.idle_exit_when_few = pool.idle_exit_when_few && engine->enforcement_.idle_exit;
    engine->pool_ = std::make_unique<WarmPool>(*engine->factory_, config.limits, pool);
  }
  return engine;
}

PoolStats Engine::pool_stats() const { return pool_ ? pool_->stats() : PoolStats{}; }

Result<PreparedChild> Engine::Acquire(const Limits& limits, bool use_pool, bool* pooled) {
  if (pool_ && use_pool) {
    if (std::optional<PreparedChild> child = pool_->Take(limits)) {
      *pooled = true;
      return std::move(*child);
    }
  }
  *pooled = false;
  return factory_->Make(limits);
}

Result<Execution> Engine::Run(std::string_view script, const Limits& limits,
                              const sys::EventFd* cancel) {
  // A child that dies before its script starts (killed while it waited in the pool, say) ran
  // nothing of it: the script runs in another child, and the request never hears of it.
  for (int attempt = 0;; ++attempt) {
    bool lost_before_start = false;
    Result<Execution> execution = RunOnce(script, limits, cancel, &lost_before_start);
    if (!lost_before_start || attempt == 2) {
      return execution;
    }
    LogWarning(execution.error().ToString() + "; running the script in another child");
  }
}

Result<Execution> Engine::RunOnce(std::string_view script, const Limits& limits,
                                  const sys::EventFd* cancel, bool* lost_before_start) {
  PhaseTrace trace;
  // Counted in flight for the pool's sizing from here until the verdict.
  struct InFlight {
    WarmPool* pool;
    ~InFlight() {
      if (pool != nullptr) {
        pool->Done();
      }
    }
  };
  PreparedChild child;
  bool pooled = false;
  bool counted = false;  // the pool counts this execution in flight (it asked the pool)
  {
    // A pooled child that died since it was made (with its zygote, say) cannot take the
    // script; that is never the request's failure: it gets a child made for it.
    Status started = OkStatus();
    for (int attempt = 0; attempt < 3; ++attempt) {
      // After a pooled child could not take the request (its limits could not be lowered, say),
      // one made for it.
      const bool use_pool = attempt == 0 && pool_ != nullptr;
      counted = use_pool;
      Result<PreparedChild> acquired = Acquire(limits, use_pool, &pooled);
      if (!acquired.ok()) {
        if (counted) {
          pool_->Done();
        }
        return std::move(acquired).error();
      }
      child = std::move(acquired).value();
      started = factory_->Start(child, script, limits);
      if (started.ok()) {
        break;
      }
      LogWarning("execution " + std::to_string(child.id) + " could not be started (" +
                 (pooled ? "pooled" : "new") + " child): " + started.error().ToString());
      factory_->Retire(std::move(child));
      child = PreparedChild();
      if (counted) {
        pool_->Done();
        counted = false;
      }
    }
    if (!started.ok()) {
      return std::move(started).error();
    }
  }
  InFlight in_flight{counted ? pool_.get() : nullptr};
  const uint64_t id = child.id;
  trace.prepared = Clock::now();
  trace.sent = trace.prepared;
  trace.started = trace.prepared;
  // The execution's clock starts at the hand-over: a child's time in the pool is not the
  // script's.
  const Clock::time_point start = trace.prepared;

  Stream stdout_stream{std::move(child.stdout_read), CapturedOutput(limits.stdout_bytes)};
  Stream stderr_stream{std::move(child.stderr_read), CapturedOutput(limits.stderr_bytes)};
  Stream result_stream{std::move(child.result_read),
                       CapturedOutput(limits.result_bytes + kEnvelopeAllowance)};
  sys::UniqueFd& status_fd = child.status_read;
  sys::UniqueFd& report_fd = child.report;

  Observation seen;
  seen.timeout = limits.timeout;
  seen.result_limit_bytes = limits.result_bytes;
  seen.memory_limit_bytes = limits.memory_bytes;
  seen.cpu_seconds_limit = limits.cpu_seconds;
  std::optional<sandbox::SetupFailure> setup_failure;
  zygote::Report exit_report;
  bool zygote_lost = false;
  bool cancelled = false;
  const Clock::time_point deadline = start + limits.timeout;
  Clock::time_point stop_waiting = Clock::time_point::max();
  const auto kill_execution = [&]() { factory_->Kill(child); };
  // Whatever way Run returns, the child is retired: killed if still running, its cgroup
  // removed in the background.
  struct Retirement {
    ChildFactory& factory;
    PreparedChild& child;
    ~Retirement() { factory.Retire(std::move(child)); }
  } retirement{*factory_, child};

  bool script_started = false;  // the child's set-up-complete record arrived
  const auto read_status = [&]() {
    sandbox::SetupFailure record;
    const ssize_t got = read(status_fd.get(), &record, sizeof(record));
    if (got == sizeof(record) && record.step == sandbox::kSetupCompleteStep) {
      script_started = true;
      return;  // EOF follows
    }
    if (got == sizeof(record)) {
      setup_failure = record;
    }
    if (got == 0 || got == sizeof(record)) {
      status_fd.Reset();
    }
  };

  while (true) {
    const bool streams_open = stdout_stream.fd || stderr_stream.fd || result_stream.fd;
    if (seen.exited && (!streams_open || Clock::now() >= stop_waiting)) {
      break;
    }
    if (!seen.exited && Clock::now() >= stop_waiting) {
      zygote_lost = true;  // killed long ago and still no exit report
      break;
    }
    if (!seen.timed_out && !seen.exited && Clock::now() >= deadline) {
      seen.timed_out = true;
      kill_execution();
      stop_waiting = Clock::now() + kKillGrace;
    }
    const int cancel_fd = cancel != nullptr && !cancelled ? cancel->fd() : -1;
    std::array<pollfd, 6> polled{{{report_fd.get(), POLLIN, 0},
                                  {status_fd.get(), POLLIN, 0},
                                  {stdout_stream.fd.get(), POLLIN, 0},
                                  {stderr_stream.fd.get(), POLLIN, 0},
                                  {result_stream.fd.get(), POLLIN, 0},
                                  {cancel_fd, POLLIN, 0}}};
    const Clock::time_point wake =
        seen.timed_out || seen.exited || cancelled ? stop_waiting : deadline;
    if (poll(polled.data(), polled.size(), MillisecondsUntil(wake)) < 0 && errno != EINTR) {
      kill_execution();
      return SysError("poll", errno);
    }
    if (polled[5].revents != 0 && !seen.exited) {
      cancelled = true;
      kill_execution();
      stop_waiting = Clock::now() + kKillGrace;
    }
    if (polled[0].revents != 0) {
      std::array<std::byte, sizeof(zygote::Report) + 1> buffer{};
      Result<sys::Received> got = sys::ReceiveWithFds(report_fd.get(), buffer, 1);
      std::optional<zygote::Report> message;
      if (got.ok() && got->bytes > 0) {
        message = zygote::DecodeReport(std::span(buffer.data(), got->bytes));
      }
      if (!message || message->kind != zygote::ReportKind::kExited) {
        // The zygote closes the socket after the exit report; closed (or garbled) before it
        // means the zygote is gone.
        report_fd.Reset();
        if (seen.exited) {
          continue;
        }
        zygote_lost = true;
        break;
      }
      exit_report = *message;
      seen.exited = true;
      trace.exited = Clock::now();
      seen.wait_status = message->wait_status;
      // Jailed, the zygote reports the exit only once the execution's pid namespace is empty:
      // nothing of it can run any more. Unjailed (tests), what it left behind is killed now.
      if (!config_.jail) {
        kill_execution();
      }
      stop_waiting = Clock::now() + kDrainGrace;
    }
    if (polled[1].revents != 0) {
      read_status();
    }
    for (Stream* stream : {&stdout_stream, &stderr_stream, &result_stream}) {
      const size_t index = stream == &stdout_stream ? 2 : stream == &stderr_stream ? 3 : 4;
      if (polled[index].revents != 0) {
        stream->Drain();
      }
    }
    if (result_stream.capture.truncated() && !seen.result_overflow) {
      seen.result_overflow = true;
      kill_execution();
    }
    if (answer_early_ && child.cgroup && !seen.exited && !seen.result_overflow &&
        polled[4].revents != 0 && EnvelopeComplete(result_stream.capture.data()) &&
        child.cgroup->KillAll().ok()) {
      // The runner has said all it will say: the verdict is known. cgroup.kill leaves nothing
      // of the execution able to run user code once the write returns; tearing its processes
      // down (unmapping the zygote's pages) goes on after the answer, off the request's path.
      // Everything main() printed was written before its result: it is in the pipes already.
      // (Had the kill failed, the exit report would be awaited as everywhere else.)
      seen.answered_early = true;
      trace.exited = Clock::now();
      stdout_stream.Drain();
      stderr_stream.Drain();
      break;
    }
  }
  if (status_fd && !script_started && !setup_failure) {
    read_status();  // the record may still be in the pipe
  }
  if (cancelled) {
    kill_execution();
    return MakeError(ErrorCode::kCancelled, "execution " + std::to_string(id) + " was cancelled");
  }
  if (!script_started && !setup_failure && !seen.timed_out && !seen.answered_early) {
    *lost_before_start = true;
    return MakeError(ErrorCode::kZygoteDied, "the child of execution " + std::to_string(id) +
                                                 " died before its script started");
  }
  if (zygote_lost) {
    kill_execution();
    return MakeError(ErrorCode::kZygoteDied,
                     "the zygote died while execution " + std::to_string(id) + " was running");
  }
  if (setup_failure) {
    return SetupFailureError(*setup_failure);
  }

  trace.drained = Clock::now();
  Execution execution;
  execution.usage.wall_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  // The child's set-up ran before the hand-over: it is not the script's CPU time.
  const auto script_share = [&child](uint64_t ns) {
    return ns > child.setup_cpu_ns ? ns - child.setup_cpu_ns : 0;
  };
  seen.cpu_used_ns = script_share(exit_report.user_cpu_ns + exit_report.system_cpu_ns);
  execution.usage.memory_peak_bytes = exit_report.max_rss_bytes;
  if (child.cgroup) {
    const cgroup::CgroupUsage usage = child.cgroup->ReadUsage();
    seen.oom_kills = usage.oom_kills;
    if (usage.cpu_measured) {
      seen.cpu_used_ns = std::max(seen.cpu_used_ns, script_share(usage.cpu_usage_ns));
    }
    if (usage.memory_measured) {
      execution.usage.memory_peak_bytes = usage.memory_peak_bytes;
    }
  }
  trace.removed = Clock::now();
  if (GetLogLevel() <= LogLevel::kDebug) {
    LogDebug("execution " + std::to_string(id) + (pooled ? " (pooled child): " : " (new child): ") +
             trace.Describe());
  }
  execution.usage.cpu_ms = static_cast<int64_t>(seen.cpu_used_ns / 1000000);
  seen.result_channel = result_stream.capture.data();
  execution.outcome = Classify(seen);
  stdout_stream.capture.Finish();
  stderr_stream.capture.Finish();
  execution.stdout_data = stdout_stream.capture.data();
  execution.stderr_data = stderr_stream.capture.data();
  execution.stdout_truncated = stdout_stream.capture.truncated();
  execution.stderr_truncated = stderr_stream.capture.truncated();
  return execution;
}

}  // namespace pyexec::service
