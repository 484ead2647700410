#include "service/prepared_child.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "sandbox/policy.h"
#include "service/poll_deadline.h"
#include "sys/fds.h"
#include "sys/process.h"
#include "util/log.h"

namespace pyexec::service {
namespace {

using Clock = std::chrono::steady_clock;

// A SetupFailure the child wrote, if any (the read end is non-blocking).
std::optional<sandbox::SetupFailure> ReadSetupFailure(int status_fd) {
  sandbox::SetupFailure failure;
  if (status_fd >= 0 && read(status_fd, &failure, sizeof(failure)) == sizeof(failure)) {
    return failure;
  }
  return std::nullopt;
}

sandbox::ExecutionRlimits RlimitsFor(const Limits& limits, const FactoryContext& context,
                                     uint64_t zygote_vm_bytes) {
  sandbox::ExecutionRlimits rlimits;
  rlimits.cpu_time_seconds = limits.cpu_seconds;
  rlimits.file_size_bytes = limits.file_size_bytes;
  rlimits.open_files = limits.open_files;
  if (!context.memory_by_cgroup) {
    // Coarse fallback: RLIMIT_AS counts the address space inherited from the zygote too.
    rlimits.address_space_bytes = zygote_vm_bytes + limits.memory_bytes;
  }
  if (!context.pids_by_cgroup) {
    rlimits.max_processes = limits.pids;
  }
  return rlimits;
}

// Children are numbered across every engine of the process: each one's cgroup is "x<id>" in the
// process's one tree, which tests share between engines.
uint64_t NextChildId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1);
}

}  // namespace

bool CanServe(const Limits& made, const Limits& wanted) {
  return wanted.memory_bytes <= made.memory_bytes && wanted.pids <= made.pids &&
         wanted.cpu_seconds <= made.cpu_seconds && wanted.file_size_bytes <= made.file_size_bytes &&
         wanted.open_files <= made.open_files && wanted.tmp_bytes == made.tmp_bytes &&
         wanted.memory_bytes > 0 && wanted.pids > 0 && wanted.cpu_seconds > 0 &&
         wanted.file_size_bytes > 0 && wanted.open_files > 0;
}

Error SetupFailureError(sandbox::SetupFailure failure) {
  failure.path[sizeof(failure.path) - 1] = '\0';
  std::string step = sandbox::StepName(static_cast<sandbox::Step>(failure.step));
  if (failure.path[0] != '\0') {
    step += std::string(" (") + failure.path + ")";
  }
  return MakeError(ErrorCode::kSetupFailed,
                   "child set-up failed at step " + step + ": " + std::strerror(failure.sys_errno));
}

Result<PreparedChild> ChildFactory::Begin(const Limits& limits, bool warm_up) {
  PreparedChild child;
  child.id = NextChildId();
  child.begun_at = Clock::now();
  child.limits = limits;
  if (context_.cgroups != nullptr) {
    // Built with append, not "x" + to_string(): GCC 12 -O3 warns falsely there (bug 105329).
    std::string name = "x";
    name += std::to_string(child.id);
    Result<cgroup::ExecutionCgroup> made = context_.cgroups->CreateExecution(
        name, cgroup::CgroupLimits{limits.memory_bytes, limits.pids});
    if (!made.ok()) {
      return std::move(made).error();
    }
    child.cgroup.emplace(std::move(made).value());
  }
  // A jailed child works in its own /tmp tmpfs: only an unjailed one needs a host directory.
  if (!context_.jail) {
    Result<sys::TempDir> workdir = sys::TempDir::Create(context_.work_parent, "pyexec-");
    if (!workdir.ok()) {
      return std::move(workdir).error();
    }
    child.workdir = std::move(workdir).value();
  }
  Result<sys::PipeEnds> channel = sys::MakeSeqpacketPair();
  Result<sys::PipeEnds> out = sys::MakePipe(true);
  Result<sys::PipeEnds> err = sys::MakePipe(true);
  Result<sys::PipeEnds> result = sys::MakePipe(true);
  Result<sys::PipeEnds> status = sys::MakePipe(true);
  Result<sys::PipeEnds> report = sys::MakeSeqpacketPair();
  for (const Error* failure :
       {channel.ok() ? nullptr : &channel.error(), out.ok() ? nullptr : &out.error(),
        err.ok() ? nullptr : &err.error(), result.ok() ? nullptr : &result.error(),
        status.ok() ? nullptr : &status.error(), report.ok() ? nullptr : &report.error()}) {
    if (failure != nullptr) {
      return *failure;
    }
  }

  zygote::ForkRequest request;
  request.execution_id = child.id;
  // The child's address space is the zygote's at the fork: the base of the RLIMIT_AS fallback,
  // now and at the hand-over (the zygote's own may have grown by then; the child's has not).
  child.address_base = context_.memory_by_cgroup ? 0 : context_.zygote->VirtualMemoryBytes();
  request.policy.rlimits = RlimitsFor(limits, context_, child.address_base);
  if (context_.jail) {
    request.policy.jail = 1;
    request.policy.sandbox_uid = context_.sandbox_uid;
    request.policy.sandbox_gid = context_.sandbox_gid;
    request.policy.tmp_size_bytes = limits.tmp_bytes;
    request.policy.flags = context_.test_relaxations & (sandbox::kPolicyTestNoSeccomp |
                                                        sandbox::kPolicyTestNoUserNamespaceLimit);
  }
  if (warm_up) {
    request.policy.flags |= sandbox::kPolicyWarmUp;
  }
  std::vector<int> fds = {report->write.get(),
                          channel->write.get(),
                          out->write.get(),
                          err->write.get(),
                          result->write.get(),
                          status->write.get(),
                          context_.jail ? context_.root_fd : child.workdir.fd()};
  if (child.cgroup) {
    for (const sys::UniqueFd& fd : child.cgroup->join_fds()) {
      fds.push_back(fd.get());
    }
    request.cgroup_fd_count = static_cast<uint32_t>(child.cgroup->join_fds().size());
  }
  if (Status sent = context_.zygote->RequestFork(request, fds); !sent.ok()) {
    return std::move(sent).error();
  }
  // The child holds the other ends now; ours must go, or EOF would never come.
  child.channel = std::move(channel->read);
  child.report = std::move(report->read);
  child.stdout_read = std::move(out->read);
  child.stderr_read = std::move(err->read);
  child.result_read = std::move(result->read);
  child.status_read = std::move(status->read);
  return child;
}

std::array<int, ChildFactory::kReadinessFds> ChildFactory::ReadinessFds(
    const PreparedChild& child) {
  return {child.started ? -1 : child.report.get(), child.ready ? -1 : child.channel.get(),
          child.status_read.get()};
}

Result<bool> ChildFactory::Progress(PreparedChild& child) {
  const auto died = [&child](const char* what) -> Error {
    if (std::optional<sandbox::SetupFailure> failure = ReadSetupFailure(child.status_read.get())) {
      return SetupFailureError(*failure);
    }
    return MakeError(ErrorCode::kZygoteDied,
                     std::string("child ") + std::to_string(child.id) + " " + what);
  };
  const std::array<int, kReadinessFds> fds = ReadinessFds(child);
  std::array<pollfd, 3> polled{{{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}, {fds[2], POLLIN, 0}}};
  if (poll(polled.data(), polled.size(), 0) < 0 && errno != EINTR) {
    return SysError("poll", errno);
  }
  if (polled[2].revents != 0) {
    // The child closes its status pipe only after the hand-over: anything now means it failed.
    return died("exited during set-up");
  }
  if (polled[0].revents != 0) {
    std::array<std::byte, sizeof(zygote::Report) + 1> buffer{};
    Result<sys::Received> got = sys::ReceiveWithFds(child.report.get(), buffer, 1);
    std::optional<zygote::Report> message;
    if (got.ok() && got->bytes > 0) {
      message = zygote::DecodeReport(std::span(buffer.data(), got->bytes));
    }
    if (!message) {
      return died("lost its zygote during set-up");
    }
    if (message->kind == zygote::ReportKind::kForkFailed) {
      return SysError("fork (in the zygote)", message->sys_errno);
    }
    if (message->kind != zygote::ReportKind::kStarted) {
      return died("exited during set-up");
    }
    child.pid = message->pid;
    if (!got->fds.empty()) {
      child.kill_handle = std::move(got->fds.front());
    }
    child.started = true;
  }
  if (polled[1].revents != 0) {
    sandbox::ReadyNotice notice;
    const ssize_t got = recv(child.channel.get(), &notice, sizeof(notice), MSG_DONTWAIT);
    if (got == static_cast<ssize_t>(sizeof(notice)) && notice.magic == sandbox::kHandOverMagic) {
      child.setup_cpu_ns = notice.setup_cpu_ns;
      child.warmed_up = (notice.flags & sandbox::kReadyWarmedUp) != 0;
      child.ready = true;
    } else if (got >= 0 || (errno != EAGAIN && errno != EINTR)) {
      return died("exited during set-up");
    }
  }
  if (!child.started || !child.ready) {
    return false;
  }
  // Joined long ago: the child needs no way back into its cgroups, nor do we.
  if (child.cgroup) {
    child.cgroup->CloseJoinFds();
  }
  return true;
}

Status ChildFactory::AwaitReady(PreparedChild& child, Clock::time_point deadline) {
  while (true) {
    Result<bool> ready = Progress(child);
    if (!ready.ok()) {
      return std::move(ready).error();
    }
    if (*ready) {
      return OkStatus();
    }
    const std::array<int, kReadinessFds> fds = ReadinessFds(child);
    std::array<pollfd, 3> polled{{{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}, {fds[2], POLLIN, 0}}};
    const int woke = poll(polled.data(), polled.size(), MillisecondsUntil(deadline));
    if (woke < 0 && errno != EINTR) {
      return SysError("poll", errno);
    }
    if (woke == 0) {
      return MakeError(ErrorCode::kUnavailable,
                       "child " + std::to_string(child.id) + " did not finish its set-up in time");
    }
  }
}

Result<PreparedChild> ChildFactory::Make(const Limits& limits) {
  Result<PreparedChild> child = Begin(limits);
  if (!child.ok()) {
    return child;
  }
  // No longer than the request may take, nor than any set-up should.
  const Clock::time_point deadline =
      Clock::now() + std::min<std::chrono::milliseconds>(limits.timeout, std::chrono::seconds(30));
  if (Status ready = AwaitReady(*child, deadline); !ready.ok()) {
    Retire(std::move(child).value());
    return std::move(ready).error();
  }
  return child;
}

bool ChildFactory::StillWaiting(const PreparedChild& child) {
  // Nothing may arrive on these before the hand-over but the child's (or its zygote's) end.
  std::array<pollfd, 2> polled{{{child.report.get(), POLLIN, 0}, {child.channel.get(), POLLIN, 0}}};
  return child.ready && poll(polled.data(), polled.size(), 0) == 0;
}

Status ChildFactory::Start(PreparedChild& child, std::string_view script, const Limits& limits) {
  if (child.cgroup) {
    if (Status s = child.cgroup->SetLimits(cgroup::CgroupLimits{limits.memory_bytes, limits.pids});
        !s.ok()) {
      return s;
    }
  }
  Result<sys::UniqueFd> script_fd = sys::MakeSealedMemfd("pyexec-script", script);
  if (!script_fd.ok()) {
    return std::move(script_fd).error();
  }
  sandbox::StartOrder order;
  order.rlimits = RlimitsFor(limits, context_, child.address_base);
  order.result_limit_bytes = limits.result_bytes;
  order.flags = child.idle_exit ? sandbox::kStartIdleExit : 0;
  const int fd = script_fd->get();
  const auto* bytes = reinterpret_cast<const std::byte*>(&order);
  if (Status sent = sys::SendWithFds(child.channel.get(), std::span(bytes, sizeof(order)),
                                     std::span<const int>(&fd, 1));
      !sent.ok()) {
    return sent;
  }
  child.channel.Reset();  // one order per child, ever
  return OkStatus();
}

void ChildFactory::Kill(const PreparedChild& child) const {
  if (child.cgroup) {
    if (Status s = child.cgroup->KillAll(); !s.ok()) {
      LogWarning("killing execution " + std::to_string(child.id) + ": " + s.error().ToString());
    }
  } else if (context_.jail && child.kill_handle) {
    // Without a cgroup: the namespace's init, and with it everything in the namespace.
    if (Status s = sys::SignalPidfd(child.kill_handle.get(), SIGKILL); !s.ok()) {
      LogWarning("killing execution " + std::to_string(child.id) + ": " + s.error().ToString());
    }
  } else if (child.pid > 0 && !context_.rootless) {
    // Unjailed (tests only), or jailed without a pidfd from the zygote: the zygote shares our
    // pid namespace, and the child's process group is the best handle on what it started (it
    // is a session leader). Processes that left the group can escape (unjailed; jailed, they
    // die with the namespace once the child is gone). A rootless zygote's pid numbers mean
    // nothing here: never signal them.
    kill(-child.pid, SIGKILL);
    kill(child.pid, SIGKILL);
  }
}

void ChildFactory::Retire(PreparedChild child) const {
  // An idle child exits by itself once its channel closes; one still running (or stuck in its
  // set-up) is killed: through its namespace's init at once, and by the janitor's kill of its
  // cgroup before the cgroup is removed.
  child.channel.Reset();
  if (!child.cgroup) {
    Kill(child);
    return;
  }
  if (child.kill_handle) {
    (void)sys::SignalPidfd(child.kill_handle.get(), SIGKILL);  // ESRCH once it is all over
  }
  context_.janitor->Remove(std::move(*child.cgroup));
}

}  // namespace pyexec::service
