#include "zygote/client.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <sstream>

#include "sys/fds.h"
#include "sys/files.h"
#include "util/log.h"
#include "zygote/zygote_main.h"

namespace pyexec::zygote {
namespace {

// How long a zygote whose control socket failed is given to finish exiting on its own.
constexpr int kExitGraceMs = 1000;

}  // namespace

std::vector<std::string> ZygoteEnvironment() {
  std::vector<std::string> env = {
      "PATH=/usr/local/bin:/usr/bin:/bin",
      "LANG=C.UTF-8",
      "LC_ALL=C.UTF-8",
      "HOME=/tmp",
      // One BLAS/OpenMP thread: the zygote must stay single-threaded to fork safely, and an
      // execution should not start a thread per core.
      "OPENBLAS_NUM_THREADS=1",
      "OMP_NUM_THREADS=1",
      "MKL_NUM_THREADS=1",
      "NUMEXPR_NUM_THREADS=1",
  };
  std::vector<const char*> passed = {"OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"};
#if defined(__SANITIZE_ADDRESS__)
  passed.push_back("UBSAN_OPTIONS");
  passed.push_back("LSAN_OPTIONS");
  // A script's segfault (ctypes) must end its process with SIGSEGV as in a normal build, not
  // with ASan's report and exit 1: the zygote and its children leave SEGV to the kernel.
  const char* asan = std::getenv("ASAN_OPTIONS");
  env.push_back(std::string("ASAN_OPTIONS=") + (asan ? std::string(asan) + ":" : "") +
                "handle_segv=0:handle_sigbus=0:handle_sigfpe=0");
#endif
  for (const char* name : passed) {
    if (const char* value = std::getenv(name)) {
      env.push_back(std::string(name) + "=" + value);
    }
  }
  return env;
}

Result<std::unique_ptr<ZygoteClient>> ZygoteClient::Start(const ZygoteOptions& options) {
  std::unique_ptr<ZygoteClient> client(new ZygoteClient(options));
  std::lock_guard lock(client->mutex_);
  if (Status s = client->SpawnLocked(); !s.ok()) {
    return std::move(s).error();
  }
  return client;
}

void ZygoteClient::RecordDeathLocked(const std::string& how) {
  LogWarning("the zygote " + how + "; the next fork request starts a new one");
  control_.Reset();
  std::lock_guard stats_lock(stats_mutex_);
  stats_.pid = -1;
  ++stats_.deaths;
  stats_.last_exit = how;
  stats_.last_exit_at = std::chrono::steady_clock::now();
}

void ZygoteClient::ReapAfterSocketFailureLocked() {
  // Its control socket failed before it was seen to exit. The kernel closes a dying process's
  // descriptors before it becomes a zombie: give it a moment to finish exiting on its own, so
  // that its own status is reported; one that still runs no longer answers, and is killed.
  pollfd polled{process_.pidfd(), POLLIN, 0};
  const bool exited_alone = poll(&polled, 1, kExitGraceMs) == 1;
  if (!exited_alone) {
    (void)process_.Signal(SIGKILL);
  }
  Result<int> status = process_.Wait();  // bounded: it has exited, or SIGKILL cannot be caught
  std::string how = status.ok() ? sys::DescribeWaitStatus(*status) : "could not be waited for";
  if (!exited_alone) {
    how += " (its control socket had failed; pyexec killed it)";
  }
  RecordDeathLocked(how);
}

Status ZygoteClient::SpawnLocked() {
  if (process_.running()) {
    ReapAfterSocketFailureLocked();
  }
  control_.Reset();
  process_ = sys::ChildProcess();
  Status started = SpawnOnceLocked();
  if (!started.ok()) {
    LogWarning("starting the zygote failed: " + started.error().ToString());
  }
  std::lock_guard stats_lock(stats_mutex_);
  if (started.ok()) {
    stats_.pid = process_.pid();
    stats_.restarts += started_before_ ? 1 : 0;
    stats_.start_error.clear();
    started_before_ = true;
  } else {
    stats_.pid = -1;
    ++stats_.failed_starts;
    // /health is for anyone who can reach the service: the zygote's own verdicts only (they
    // name no path), the failing call and errno go to the log.
    stats_.start_error = started.error().code == ErrorCode::kUnavailable
                             ? started.error().message
                             : "a system call failed (the service log says which)";
  }
  return started;
}

Status ZygoteClient::SpawnOnceLocked() {
  Result<sys::PipeEnds> pair = sys::MakeSeqpacketPair();
  if (!pair.ok()) {
    return std::move(pair).error();
  }
  std::string preload;
  for (const std::string& name : options_.preload) {
    preload += (preload.empty() ? "" : ",") + name;
  }
  sys::SpawnSpec spec;
  spec.path = "/proc/self/exe";  // this very binary, even if its path has changed since
  spec.argv = {"pyexec-zygote", kZygoteCommand, "--preload=" + preload,
               "--log-level=" + options_.log_level};
  if (options_.huge_page_arenas) {
    spec.argv.emplace_back(kHugePageArenasFlag);
  }
  if (options_.idle_exit) {
    spec.argv.emplace_back(kIdleExitFlag);
  }
  if (options_.rootless) {
    spec.argv.emplace_back(kRootlessFlag);
    spec.new_user_and_pid_namespace = true;
  }
  spec.env = ZygoteEnvironment();
  // Read once by the dynamic loader at exec: every later dlopen() binds at once too. ZygoteMain
  // unsets it before Python starts, so os.environ never has it (the exec-time block that
  // /proc/self/environ shows still does; it holds nothing secret).
  spec.env.push_back(std::string(kBindNowVariable) + "=1");
  spec.fd_map = {-1, -1, STDERR_FILENO, pair->write.get()};
  Result<sys::ChildProcess> child = sys::Spawn(spec);
  if (!child.ok()) {
    return std::move(child).error();
  }
  pair->write.Reset();
  // Wait for the zygote's Ready: it comes once numpy and pandas are imported.
  pollfd polled{pair->read.get(), POLLIN, 0};
  const int ready = poll(&polled, 1, static_cast<int>(options_.start_timeout.count()));
  if (ready <= 0) {
    return MakeError(ErrorCode::kUnavailable,
                     ready == 0 ? "the zygote did not become ready in time" : "poll failed");
  }
  std::array<std::byte, sizeof(Ready) + 1> buffer{};
  Result<sys::Received> received = sys::ReceiveWithFds(pair->read.get(), buffer, 0);
  std::optional<Ready> message;
  if (received.ok()) {
    message = DecodeReady(std::span(buffer.data(), received->bytes));
  }
  if (!message) {
    int status = 0;
    Result<int> waited = child->Wait();
    if (waited.ok()) {
      status = *waited;
    }
    return MakeError(
        ErrorCode::kUnavailable,
        "the zygote failed to start (" + sys::DescribeWaitStatus(status) + "); its log says why");
  }
  process_ = std::move(child).value();
  control_ = std::move(pair->read);
  LogInfo("zygote " + std::to_string(process_.pid()) + " ready");
  return OkStatus();
}

bool ZygoteClient::AliveLocked() {
  if (!process_.running()) {
    return false;
  }
  int status = 0;
  Result<bool> exited = process_.TryWait(&status);
  if (exited.ok() && *exited) {
    RecordDeathLocked(sys::DescribeWaitStatus(status));
    return false;
  }
  return control_.valid();
}

Status ZygoteClient::RequestFork(const ForkRequest& request, std::span<const int> fds) {
  std::lock_guard lock(mutex_);
  const auto bytes = Encode(request);
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!AliveLocked()) {
      if (Status s = SpawnLocked(); !s.ok()) {
        return s;
      }
    }
    Status sent = sys::SendWithFds(control_.get(), bytes, fds);
    if (sent.ok()) {
      return sent;
    }
    // EPIPE/ECONNRESET: it died after our check. The request never arrived: send it again to a
    // new zygote.
    LogWarning("sending to the zygote failed: " + sent.error().ToString());
    control_.Reset();
  }
  return MakeError(ErrorCode::kZygoteDied, "the zygote could not be reached");
}

pid_t ZygoteClient::pid() {
  std::lock_guard lock(mutex_);
  return process_.pid();
}

ZygoteStats ZygoteClient::stats() {
  if (std::unique_lock lock(mutex_, std::try_to_lock); lock.owns_lock()) {
    (void)AliveLocked();  // records a death nobody has asked the zygote to fork since
  }
  std::lock_guard stats_lock(stats_mutex_);
  return stats_;
}

uint64_t ZygoteClient::VirtualMemoryBytes() {
  const pid_t zygote = pid();
  Result<std::string> status = sys::ReadFile("/proc/" + std::to_string(zygote) + "/status");
  if (status.ok()) {
    std::istringstream lines(*status);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.rfind("VmSize:", 0) == 0) {
        const uint64_t bytes = std::strtoull(line.c_str() + 7, nullptr, 10) * 1024;
        last_virtual_memory_bytes_.store(bytes, std::memory_order_relaxed);
        return bytes;
      }
    }
  }
  // A zygote that has died (a zombie has no VmSize), before the next fork request restarts it:
  // the next zygote preloads the same modules, so the last size read is the best base.
  return last_virtual_memory_bytes_.load(std::memory_order_relaxed);
}

}  // namespace pyexec::zygote
