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

int MillisecondsUntil(Clock::time_point when) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(when - Clock::now());
  return static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(left.count() + 1, 1 << 30)));
}

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
  Result<std::unique_ptr<zygote::ZygoteClient>> client = zygote::ZygoteClient::Start(options);
  if (!client.ok()) {
    return std::move(client).error();
  }
  engine->zygote_ = std::move(client).value();
  return engine;
}

Result<Execution> Engine::Run(std::string_view script, const Limits& limits,
                              const sys::EventFd* cancel) {
  const uint64_t id = next_id_.fetch_add(1);
  PhaseTrace trace;
  const Clock::time_point start = trace.start;

  std::optional<cgroup::ExecutionCgroup> cgroup;
  if (cgroups_) {
    // Built with append, not "x" + to_string(): GCC 12 -O3 warns falsely there (bug 105329).
    std::string name = "x";
    name += std::to_string(id);
    Result<cgroup::ExecutionCgroup> made =
        cgroups_->CreateExecution(name, cgroup::CgroupLimits{limits.memory_bytes, limits.pids});
    if (!made.ok()) {
      return std::move(made).error();
    }
    cgroup.emplace(std::move(made).value());
  }
  // A jailed child works in its own /tmp tmpfs: only an unjailed one needs a host directory.
  Result<sys::TempDir> workdir = config_.jail
                                     ? Result<sys::TempDir>(sys::TempDir())
                                     : sys::TempDir::Create(config_.work_parent, "pyexec-");
  Result<sys::UniqueFd> script_fd = sys::MakeSealedMemfd("pyexec-script", script);
  Result<sys::PipeEnds> out = sys::MakePipe(true);
  Result<sys::PipeEnds> err = sys::MakePipe(true);
  Result<sys::PipeEnds> result = sys::MakePipe(true);
  Result<sys::PipeEnds> status = sys::MakePipe(true);
  Result<sys::PipeEnds> report = sys::MakeSeqpacketPair();
  for (const Error* failure :
       {workdir.ok() ? nullptr : &workdir.error(), script_fd.ok() ? nullptr : &script_fd.error(),
        out.ok() ? nullptr : &out.error(), err.ok() ? nullptr : &err.error(),
        result.ok() ? nullptr : &result.error(), status.ok() ? nullptr : &status.error(),
        report.ok() ? nullptr : &report.error()}) {
    if (failure != nullptr) {
      return *failure;
    }
  }

  zygote::ForkRequest request;
  request.execution_id = id;
  request.policy.cpu_time_seconds = limits.cpu_seconds;
  request.policy.file_size_bytes = limits.file_size_bytes;
  request.policy.open_files = limits.open_files;
  request.policy.result_limit_bytes = limits.result_bytes;
  if (config_.jail) {
    request.policy.jail = 1;
    request.policy.sandbox_uid = config_.sandbox_uid;
    request.policy.sandbox_gid = config_.sandbox_gid;
    request.policy.tmp_size_bytes = limits.tmp_bytes;
    request.policy.flags = config_.test_relaxations & (sandbox::kPolicyTestNoSeccomp |
                                                       sandbox::kPolicyTestNoUserNamespaceLimit);
  }
  if (!enforcement_.memory_by_cgroup) {
    // Coarse fallback: RLIMIT_AS counts the address space inherited from the zygote too.
    request.policy.address_space_bytes = zygote_->VirtualMemoryBytes() + limits.memory_bytes;
  }
  if (!enforcement_.pids_by_cgroup) {
    request.policy.max_processes = limits.pids;
  }
  std::vector<int> fds = {report->write.get(),
                          script_fd->get(),
                          out->write.get(),
                          err->write.get(),
                          result->write.get(),
                          status->write.get(),
                          config_.jail ? root_fd_.get() : workdir->fd()};
  if (cgroup) {
    for (const sys::UniqueFd& fd : cgroup->join_fds()) {
      fds.push_back(fd.get());
    }
    request.cgroup_fd_count = static_cast<uint32_t>(cgroup->join_fds().size());
  }
  trace.prepared = Clock::now();
  if (Status sent = zygote_->RequestFork(request, fds); !sent.ok()) {
    return std::move(sent).error();
  }
  trace.sent = Clock::now();
  // The child holds the write ends now; ours must go, or EOF would never come.
  report->write.Reset();
  script_fd->Reset();
  out->write.Reset();
  err->write.Reset();
  result->write.Reset();
  status->write.Reset();

  Stream stdout_stream{std::move(out->read), CapturedOutput(limits.stdout_bytes)};
  Stream stderr_stream{std::move(err->read), CapturedOutput(limits.stderr_bytes)};
  Stream result_stream{std::move(result->read),
                       CapturedOutput(limits.result_bytes + kEnvelopeAllowance)};
  sys::UniqueFd status_fd = std::move(status->read);
  sys::UniqueFd report_fd = std::move(report->read);

  Observation seen;
  seen.timeout = limits.timeout;
  seen.result_limit_bytes = limits.result_bytes;
  seen.memory_limit_bytes = limits.memory_bytes;
  seen.cpu_seconds_limit = limits.cpu_seconds;
  pid_t child = -1;           // as the zygote numbers it: valid here only when unjailed
  sys::UniqueFd kill_handle;  // pidfd from the zygote (see kill_execution)
  std::optional<sandbox::SetupFailure> setup_failure;
  zygote::Report exit_report;
  bool zygote_lost = false;
  bool cancelled = false;
  const Clock::time_point deadline = start + limits.timeout;
  Clock::time_point stop_waiting = Clock::time_point::max();

  const auto kill_execution = [&]() {
    if (cgroup) {
      if (Status s = cgroup->KillAll(); !s.ok()) {
        LogWarning("killing execution " + std::to_string(id) + ": " + s.error().ToString());
      }
    } else if (config_.jail && kill_handle) {
      // Without a cgroup: the namespace's init, and with it everything in the namespace.
      if (Status s = sys::SignalPidfd(kill_handle.get(), SIGKILL); !s.ok()) {
        LogWarning("killing execution " + std::to_string(id) + ": " + s.error().ToString());
      }
    } else if (child > 0 && !rootless_) {
      // Unjailed (tests only), or jailed without a pidfd from the zygote: the zygote shares our
      // pid namespace, and the child's process group is the best handle on what it started (it
      // is a session leader). Processes that left the group can escape (unjailed; jailed, they
      // die with the namespace once the child is gone). A rootless zygote's pid numbers mean
      // nothing here: never signal them.
      kill(-child, SIGKILL);
      kill(child, SIGKILL);
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
      if (!message) {
        // The zygote closes the socket after the exit report; closed (or garbled) before it
        // means the zygote is gone.
        report_fd.Reset();
        if (seen.exited) {
          continue;
        }
        zygote_lost = true;
        break;
      }
      if (message->kind == zygote::ReportKind::kStarted) {
        child = message->pid;
        if (!got->fds.empty()) {
          kill_handle = std::move(got->fds.front());
        }
        trace.started = Clock::now();
      } else if (message->kind == zygote::ReportKind::kForkFailed) {
        return SysError("fork (in the zygote)", message->sys_errno);
      } else {
        exit_report = *message;
        seen.exited = true;
        trace.exited = Clock::now();
        seen.wait_status = message->wait_status;
        // main() is done: nothing the execution started may outlive it.
        kill_execution();
        stop_waiting = Clock::now() + kDrainGrace;
      }
    }
    if (polled[1].revents != 0) {
      sandbox::SetupFailure failure;
      const ssize_t got = read(status_fd.get(), &failure, sizeof(failure));
      if (got == sizeof(failure)) {
        setup_failure = failure;
      }
      if (got == 0 || got == sizeof(failure)) {
        status_fd.Reset();
      }
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
  }
  if (cancelled) {
    kill_execution();
    return MakeError(ErrorCode::kCancelled, "execution " + std::to_string(id) + " was cancelled");
  }
  if (zygote_lost) {
    kill_execution();
    return MakeError(ErrorCode::kZygoteDied,
                     "the zygote died while execution " + std::to_string(id) + " was running");
  }
  if (setup_failure) {
    setup_failure->path[sizeof(setup_failure->path) - 1] = '\0';
    std::string step = sandbox::StepName(static_cast<sandbox::Step>(setup_failure->step));
    if (setup_failure->path[0] != '\0') {
      step += std::string(" (") + setup_failure->path + ")";
    }
    return MakeError(ErrorCode::kSetupFailed, "child set-up failed at step " + step + ": " +
                                                  std::strerror(setup_failure->sys_errno));
  }

  trace.drained = Clock::now();
  Execution execution;
  execution.usage.wall_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  seen.cpu_used_ns = exit_report.user_cpu_ns + exit_report.system_cpu_ns;
  execution.usage.memory_peak_bytes = exit_report.max_rss_bytes;
  if (cgroup) {
    const cgroup::CgroupUsage usage = cgroup->ReadUsage();
    seen.oom_kills = usage.oom_kills;
    if (usage.cpu_measured) {
      seen.cpu_used_ns = std::max(seen.cpu_used_ns, usage.cpu_usage_ns);
    }
    if (usage.memory_measured) {
      execution.usage.memory_peak_bytes = usage.memory_peak_bytes;
    }
    if (Status s = cgroup->Remove(); !s.ok()) {
      LogWarning("removing the cgroup of execution " + std::to_string(id) + ": " +
                 s.error().ToString());
    }
  }
  trace.removed = Clock::now();
  if (GetLogLevel() <= LogLevel::kDebug) {
    LogDebug("execution " + std::to_string(id) + ": " + trace.Describe());
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
