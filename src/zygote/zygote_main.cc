#include "zygote/zygote_main.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory_resource>
#include <optional>
#include <span>
#include <string_view>

#include "sandbox/contain.h"
#include "sandbox/init_image.h"
#include "sandbox/pid_namespace.h"
#include "sandbox/policy.h"
#include "sandbox/start.h"
#include "sys/fds.h"
#include "sys/files.h"
#include "sys/memory.h"
#include "sys/process.h"
#include "util/log.h"
#include "util/strings.h"
#include "zygote/embedded_python.h"
#include "zygote/protocol.h"

namespace pyexec::zygote {
namespace {

uint64_t ToNanoseconds(const timeval& tv) {
  return static_cast<uint64_t>(tv.tv_sec) * 1000000000ULL +
         static_cast<uint64_t>(tv.tv_usec) * 1000ULL;
}

void SendReport(int fd, const Report& report) {
  // The server may have given up on this execution already (EPIPE): nothing to do then.
  (void)sys::SendWithFds(fd, Encode(report), {});
}

size_t CountThreads() {
  size_t count = 0;
  std::error_code ignored;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator("/proc/self/task", ignored)) {
    ++count;
  }
  return count;
}

[[noreturn]] void RunChild(const ForkRequest& request, std::span<sys::UniqueFd> fds,
                           pid_t zygote_pid, const sandbox::SeccompProgram& seccomp) {
  sys::UseSmallPagesFromNowOn();
  std::array<int, kMaxCgroupFds> cgroup_fd_numbers{};
  for (uint32_t i = 0; i < request.cgroup_fd_count; ++i) {
    cgroup_fd_numbers[i] = fds[kFixedFdCount + i].get();
  }
  const std::span<const int> cgroup_fds(cgroup_fd_numbers.data(), request.cgroup_fd_count);
  sandbox::ChildFds child_fds;
  child_fds.stdout_fd = fds[kStdoutFd].get();
  child_fds.stderr_fd = fds[kStderrFd].get();
  child_fds.result_fd = fds[kResultFd].get();
  child_fds.script_fd = fds[kScriptFd].get();
  child_fds.status_fd = fds[kStatusFd].get();
  child_fds.cwd_fd = fds[kCwdFd].get();
  child_fds.cgroup_join_fds = cgroup_fds;
  sandbox::ContainChild(request.policy, child_fds, zygote_pid, seccomp);
  const bool warmed_up = PrepareRunner((request.policy.flags & sandbox::kPolicyWarmUp) != 0);
  const sandbox::StartOrder order = sandbox::AwaitStart(warmed_up ? sandbox::kReadyWarmedUp : 0);
  sandbox::FinishSetup();
  RunRunnerAndExit(sandbox::kResultFd, sandbox::kScriptFd, order.result_limit_bytes,
                   (order.flags & sandbox::kStartIdleExit) != 0);
}

// RestoreHugePages: at the first idle moment (kIdleMs without a request) after this many
// forks. Never between requests: under sustained load the collapses mostly fail (the folios
// of exiting children are still referenced) while each costs 2-15 ms of the zygote's time,
// and what one restores is split again within a few hundred milliseconds (measured at 300
// executions a second: ~500 ms of collapse attempts per 1,024 forks, 0-6 MiB restored each).
constexpr uint64_t kCollapseWhenIdleAfterForks = 64;
constexpr int kIdleMs = 20;
constexpr std::chrono::milliseconds kCollapseStep{2};

class Zygote {
 public:
  Zygote(sandbox::SeccompProgram seccomp, sys::UniqueFd init_image, bool rootless)
      : seccomp_(std::move(seccomp)), init_image_(std::move(init_image)), rootless_(rootless) {
    if (bookkeeping_.bytes().empty()) {
      LogWarning("no mapping for the zygote's tables: they use malloc's heap (slower forks)");
    }
  }

  [[noreturn]] void Loop() {
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, nullptr);
    signal_fd_.Reset(signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!signal_fd_) {
      LogError("signalfd failed");
      _exit(1);
    }
    while (true) {
      // After some forks, the first idle moment restores the huge pages (see RestoreHugePages).
      const int timeout = forks_since_collapse_ >= kCollapseWhenIdleAfterForks ? kIdleMs : -1;
      std::array<pollfd, 2> polled{{{kControlFd, POLLIN, 0}, {signal_fd_.get(), POLLIN, 0}}};
      const int ready = poll(polled.data(), polled.size(), timeout);
      if (ready < 0) {
        if (errno == EINTR) {
          continue;
        }
        LogError("poll failed");
        _exit(1);
      }
      if (ready == 0) {
        (void)RestoreHugePages();  // what a request stopped is done at the next idle moment
        continue;
      }
      if (polled[1].revents != 0) {
        ReapChildren();
      }
      if (polled[0].revents != 0) {
        HandleRequest();
      }
    }
  }

 private:
  // Every write of ours to a huge page shared with a child splits our mapping of it into 4 KiB
  // pages (the kernel copies only the page written), and the next fork copies 512 entries
  // for it instead of one. Our writes between forks are few (this loop's allocations and
  // stack, Python's fork hooks), but they add up over thousands of forks: collapse the heap
  // and Python's arenas again. Pages already huge cost nothing; a split one is copied once
  // (the children keep the old pages until they exit), which takes the zygote 5-50 ms in all.
  // A request arriving stops it at the next huge page once it has worked for kCollapseStep; the
  // rest is done at the next idle moment, so that no fork waits for more than about one step.
  // False when it stopped early.
  bool RestoreHugePages() {
    const auto start = std::chrono::steady_clock::now();
    const sys::KeepGoing within_step_or_idle = [start] {
      if (std::chrono::steady_clock::now() - start < kCollapseStep) {
        return true;
      }
      pollfd control{kControlFd, POLLIN, 0};
      return poll(&control, 1, 0) == 0;
    };
    const sys::HugePageReport heap = sys::CollapseHeapIntoHugePages(within_step_or_idle);
    sys::HugePageReport arenas;
    if (heap.complete) {
      arenas = CollapseArenas(within_step_or_idle);
    }
    const bool complete = heap.complete && arenas.complete;
    const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - start;
    LogDebug("after " + std::to_string(forks_since_collapse_) + " forks, huge pages back " +
             std::to_string(heap.collapsed_bytes >> 20) + " MiB of the heap and " +
             std::to_string(arenas.collapsed_bytes >> 20) + " MiB of Python's arenas (" +
             std::to_string(took.count()) + " ms" +
             (complete ? ")" : ", stopped early for a request)"));
    if (complete) {
      forks_since_collapse_ = 0;
    }
    return complete;
  }

  // Allocates nothing on its way to the fork and back (see Zygote::bookkeeping_) but
  // SortMallocFreeChunks' probe, which is meant to, and what it logs when something fails.
  void HandleRequest() {
    static_assert(kMaxRequestFds <= sys::kMaxFdsPerDatagram);
    std::array<std::byte, sizeof(ForkRequest) + 1> buffer{};
    std::array<sys::UniqueFd, kMaxRequestFds> received_fds;
    Result<sys::ReceivedInto> received = sys::ReceiveWithFdsInto(kControlFd, buffer, received_fds);
    if (!received.ok()) {
      LogWarning("dropping a malformed request: " + received.error().ToString());
      return;
    }
    if (received->bytes == 0 && received->fds == 0) {
      // The server closed the control socket: it is gone or shutting down. The children die
      // with us (PR_SET_PDEATHSIG).
      _exit(0);
    }
    std::optional<ForkRequest> request =
        DecodeForkRequest(std::span(buffer.data(), received->bytes), received->fds);
    if (!request) {
      LogWarning("dropping a request that does not decode");
      return;  // closing the report socket tells the server
    }
    const std::span<sys::UniqueFd> fds(received_fds.data(), received->fds);
    const pid_t self = getpid();
    const bool jail = request->policy.jail != 0;
    // Whether the jail is rootless is the zygote's own fact, checked at start-up; a request
    // cannot claim it (mapping the script onto "our uid 0" is safe only when that is not root).
    request->policy.flags &= ~sandbox::kPolicyRootless;
    if (rootless_) {
      request->policy.flags |= sandbox::kPolicyRootless;
    }
    Report report;
    report.kind = ReportKind::kForkFailed;
    pid_t init = 0;
    if (jail) {
      Result<pid_t> started = StartNamespaceInit();
      if (!started.ok()) {
        LogError("cannot give the execution a pid namespace: " + started.error().ToString());
        report.sys_errno = started.error().sys_errno;
        SendReport(fds[kReportFd].get(), report);
        return;
      }
      init = *started;
    }
    sys::SortMallocFreeChunks();
    BeforeFork();
    const pid_t pid = fork();
    if (pid == 0) {
      AfterForkInChild();
      RunChild(*request, fds, self, seccomp_);
    }
    const int fork_errno = errno;
    AfterForkInParent();
    if (jail) {
      if (Status restored = pid_namespaces_->Restore(); !restored.ok()) {
        // Later children would share this namespace: stop serving instead.
        LogError(restored.error().ToString());
        _exit(1);
      }
    }
    if (pid < 0) {
      if (init > 0) {
        kill(init, SIGKILL);  // reaped with the other strays
      }
      report.sys_errno = fork_errno;
      SendReport(fds[kReportFd].get(), report);
      return;
    }
    ++forks_since_collapse_;
    report.kind = ReportKind::kStarted;
    report.pid = pid;
    // With the report goes a pidfd of what ends the whole execution when killed: the namespace's
    // init when jailed, else the child. The server cannot use our pid numbers: in a rootless
    // zygote they belong to our own pid namespace, not to the server's.
    Result<sys::UniqueFd> kill_handle = sys::OpenPidfd(init > 0 ? init : pid);
    if (!kill_handle.ok()) {
      LogWarning("execution started without a kill handle: " + kill_handle.error().ToString());
    }
    const int handle_fd = kill_handle.ok() ? kill_handle->get() : -1;
    (void)sys::SendWithFds(
        fds[kReportFd].get(), Encode(report),
        handle_fd >= 0 ? std::span<const int>(&handle_fd, 1) : std::span<const int>());
    // Keep only the report socket; the other descriptors belong to the child now.
    Child& child = children_[pid];
    child.report_socket = std::move(fds[kReportFd]);
    child.init = init;
    if (init > 0) {
      inits_.emplace(init, pid);
    }
  }

  // A new pid namespace for the next fork, with pyexec-init as its pid 1. On failure the
  // zygote's own namespace is restored for its next children.
  Result<pid_t> StartNamespaceInit() {
    if (!pid_namespaces_.ok()) {
      return pid_namespaces_.error();
    }
    if (Status s = pid_namespaces_->NewForNextChild(); !s.ok()) {
      return std::move(s).error();
    }
    Result<pid_t> init = pid_namespaces_->StartInit(init_image_.get());
    if (!init.ok()) {
      if (Status restored = pid_namespaces_->Restore(); !restored.ok()) {
        LogError(restored.error().ToString());
        _exit(1);
      }
    }
    return init;
  }

  void ReapChildren() {
    signalfd_siginfo info;
    while (read(signal_fd_.get(), &info, sizeof(info)) == sizeof(info)) {
    }
    while (true) {
      int status = 0;
      rusage usage{};
      const pid_t pid = wait4(-1, &status, WNOHANG, &usage);
      if (pid <= 0) {
        return;
      }
      if (auto init = inits_.find(pid); init != inits_.end()) {
        // The namespace is empty now: the kernel reaps an init only after everything in it.
        const pid_t child_pid = init->second;
        inits_.erase(init);
        if (auto it = children_.find(child_pid); it != children_.end()) {
          it->second.init = 0;
          if (it->second.exit) {
            SendReport(it->second.report_socket.get(), *it->second.exit);
            children_.erase(it);
          }
        }
        continue;
      }
      auto it = children_.find(pid);
      if (it == children_.end()) {
        continue;  // an orphan of an unjailed execution (we are its subreaper) or a failed init
      }
      Report report;
      report.kind = ReportKind::kExited;
      report.pid = pid;
      report.wait_status = status;
      report.user_cpu_ns = ToNanoseconds(usage.ru_utime);
      report.system_cpu_ns = ToNanoseconds(usage.ru_stime);
      report.max_rss_bytes = static_cast<uint64_t>(usage.ru_maxrss) * 1024;
      if (it->second.init > 0) {
        // main() is done: killing its init kills everything left in the namespace. The report
        // waits until the init is reaped, so the server hears of the exit only once nothing of
        // the execution can run. The init is still unreaped here, so its pid is still ours.
        kill(it->second.init, SIGKILL);
        it->second.exit = report;
        continue;
      }
      SendReport(it->second.report_socket.get(), report);
      children_.erase(it);
    }
  }

  struct Child {
    sys::UniqueFd report_socket;  // to the server, for this execution
    pid_t init = 0;               // its pid namespace's init while that lives; 0 unjailed
    std::optional<Report> exit;   // held back until the init is reaped
  };

  const sandbox::SeccompProgram seccomp_;
  const sys::UniqueFd init_image_;  // pyexec-init, exec'd as each pid namespace's pid 1
  const bool rootless_;             // uid 0 of our own user namespace, not host root
  sys::UniqueFd signal_fd_;
  Result<sandbox::PidNamespaceSwitch> pid_namespaces_ = sandbox::PidNamespaceSwitch::Open();
  // The tables below change at every fork and exit. In malloc's heap, each change wrote to
  // pages the zygote shares with its children (a tree's rebalancing touches nodes allocated
  // long ago, malloc its chunk headers): ~20 heap pages copied per fork, and the heap's huge
  // pages split for good (2 of 12 MiB left huge at 16 clients), so that every fork copied
  // ~2,500 more page-table entries. Here they take a few 4 KiB pages of their own, and the
  // heap stays huge: 14 copy-on-write faults per fork instead of 30, ~10% less of the zygote's
  // CPU per fork (the children now split the heap's huge pages they write to, so the machine's
  // total stayed the same). Past 1 MiB (~5,000 jailed executions at once), the heap again.
  static constexpr size_t kBookkeepingBytes = size_t{1} << 20;
  sys::AnonymousRegion bookkeeping_{kBookkeepingBytes};
  std::pmr::monotonic_buffer_resource bookkeeping_buffer_{
      bookkeeping_.bytes().data(), bookkeeping_.bytes().size(), std::pmr::new_delete_resource()};
  std::pmr::unsynchronized_pool_resource bookkeeping_pool_{&bookkeeping_buffer_};
  std::pmr::map<pid_t, Child> children_{&bookkeeping_pool_};  // the executions' main processes
  std::pmr::map<pid_t, pid_t> inits_{&bookkeeping_pool_};     // init pid -> its execution's main
  uint64_t forks_since_collapse_ = 0;
};

}  // namespace

bool IsZygoteInvocation(int argc, char** argv) {
  return argc >= 2 && std::string_view(argv[1]) == kZygoteCommand;
}

void ZygoteEntry(int argc, char** argv) {
  std::vector<std::string> preload;
  LogLevel level = LogLevel::kWarning;
  bool rootless = false;
  bool huge_page_arenas = false;
  bool idle_exit = false;
  for (int i = 2; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.rfind("--preload=", 0) == 0) {
      preload = SplitCommaList(arg.substr(10));
    } else if (arg.rfind("--log-level=", 0) == 0) {
      ParseLogLevel(arg.substr(12), &level);
    } else if (arg == kRootlessFlag) {
      rootless = true;
    } else if (arg == kHugePageArenasFlag) {
      huge_page_arenas = true;
    } else if (arg == kIdleExitFlag) {
      idle_exit = true;
    }
  }
  SetLogLevel(level);
  ZygoteMain(preload, rootless, huge_page_arenas, idle_exit);
}

namespace {

// True when this process is uid and gid 0 of a user namespace whose only mapping is one id onto
// a non-root id outside ("0 1000 1"): what ZygoteClient makes for an ordinary user.
bool IsRootOfOwnUserNamespace() {
  for (const char* path : {"/proc/self/uid_map", "/proc/self/gid_map"}) {
    Result<std::string> map = sys::ReadFile(path);
    if (!map.ok()) {
      return false;
    }
    unsigned inside = 1;
    unsigned outside = 0;
    unsigned count = 0;
    int consumed = 0;
    // NOLINTNEXTLINE(cert-err34-c): the whole line is checked through `consumed`
    if (sscanf(map->c_str(), " %u %u %u\n%n", &inside, &outside, &count, &consumed) != 3 ||
        static_cast<size_t>(consumed) != map->size() || inside != 0 || outside == 0 || count != 1) {
      return false;
    }
  }
  return geteuid() == 0 && getegid() == 0;
}

}  // namespace

void ZygoteMain(const std::vector<std::string>& preload, bool rootless, bool huge_page_arenas,
                bool idle_exit) {
  SetLogTag("zygote");
  // The dynamic loader has read it (ZygoteClient sets it): every symbol is bound before the
  // first fork, and no child resolves one lazily (a symbol search, a GOT page copied). Not for
  // scripts.
  unsetenv(kBindNowVariable);
  if (rootless && !IsRootOfOwnUserNamespace()) {
    LogError("started as rootless, but not uid 0 of a user namespace mapping one non-root id");
    _exit(1);
  }
  // Scripts map onto the invoking user: if that user owns pyexec's binary, a script can chmod it
  // through /proc/self/exe (writing it is refused while it runs: ETXTBSY).
  struct stat binary {};
  if (rootless && stat("/proc/self/exe", &binary) == 0 && binary.st_uid == 0) {
    LogWarning(
        "the pyexec binary is owned by the user running it: install it owned by root "
        "(see SECURITY.md, rootless)");
  }
  // The zygote ends when the server's end of the control socket closes (the server exited or
  // died), not through PR_SET_PDEATHSIG: that fires when the *thread* that forked us exits,
  // and the server may restart the zygote from any of its threads.
  // Processes that executions orphan are reparented to us, not to init, and reaped here.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  setsid();  // a terminal's Ctrl-C goes to the server, which decides what to do
  if (Status s = StartInterpreter(preload, huge_page_arenas); !s.ok()) {
    LogError("cannot start the interpreter: " + s.error().ToString());
    _exit(1);
  }
  if (HowNumpyIsReseeded() == NumpyReseed::kInC) {
    LogInfo("numpy's global generator: a new key from getrandom in each child, written in C");
  } else if (HowNumpyIsReseeded() == NumpyReseed::kThroughRunner) {
    LogWarning(
        "numpy's global generator is not laid out as expected: each child sets its new key "
        "through numpy.random.set_state (slower)");
  }
  // fork() copies only the calling thread: a preload that started a thread (an OpenBLAS pool,
  // say) could hand children a held lock. Refuse to serve rather than deadlock later.
  if (const size_t threads = CountThreads(); threads != 1) {
    LogError("the zygote has " + std::to_string(threads) +
             " threads after preloading; it must be single-threaded to fork safely");
    _exit(1);
  }
  // Last before serving: fewer page-table entries for every fork to copy and exit to tear down.
  const sys::HugePageReport huge = sys::CollapseHeapIntoHugePages();
  const sys::HugePageReport arenas = CollapseArenas();
  LogInfo("huge pages back " + std::to_string(huge.collapsed_bytes >> 20) + " of " +
          std::to_string(huge.candidate_bytes >> 20) + " MiB of the heap and " +
          std::to_string(arenas.collapsed_bytes >> 20) + " of " +
          std::to_string(arenas.candidate_bytes >> 20) + " MiB of Python's arenas");
  Ready ready;
  ready.pid = getpid();
  if (!sys::SendWithFds(kControlFd, Encode(ready), {}).ok()) {
    _exit(1);
  }
  // Compiled once, here: each child only loads it.
  Result<sandbox::SeccompProgram> seccomp = sandbox::BuildSeccompProgram(idle_exit);
  if (!seccomp.ok()) {
    LogError("cannot build the seccomp policy: " + seccomp.error().ToString());
    _exit(1);
  }
  Result<sys::UniqueFd> init_image = sys::MakeExecutableMemfd("pyexec-init", sandbox::InitImage());
  if (!init_image.ok()) {
    LogError("cannot load pyexec-init: " + init_image.error().ToString());
    _exit(1);
  }
  Zygote(std::move(seccomp).value(), std::move(init_image).value(), rootless).Loop();
}

}  // namespace pyexec::zygote
