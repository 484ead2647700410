// ZygoteClient: the server's handle on the zygote process: starts it (fork + exec of pyexec
// itself with a minimal environment), sends fork requests, and restarts it when it has died.
// Runs in the server; thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "sys/process.h"
#include "sys/unique_fd.h"
#include "util/result.h"
#include "zygote/protocol.h"

namespace pyexec::zygote {

struct ZygoteOptions {
  std::vector<std::string> preload;  // modules imported before the first fork
  std::string log_level = "warning";
  std::chrono::milliseconds start_timeout{120000};
  // Started by an ordinary user: the zygote runs as pid 1 of its own pid namespace and uid 0 of
  // its own user namespace (mapping only that user), where it may make the jail's namespaces.
  bool rootless = false;
  // Python's arenas in one huge-page reservation (cheaper forks). Only where a memory cgroup
  // limits executions: the reservation is address space every child has, which the RLIMIT_AS
  // fallback could not tell from what the script maps.
  bool huge_page_arenas = false;
  // Children may lower themselves to SCHED_IDLE (the seccomp filter allows it): only where
  // each execution is a CPU group of its own (cgroup::HostCgroups::own_cpu_groups), so that
  // such a task can never starve (sandbox::kStartIdleExit).
  bool idle_exit = false;
};

// The environment the zygote (and so every script) gets: nothing of the server's own, except
// the OpenBLAS CPU hints that keep BLAS correct on some processors and, in sanitizer builds,
// the sanitizer options. (The zygote is also started with LD_BIND_NOW, which it unsets before
// Python starts.)
std::vector<std::string> ZygoteEnvironment();

// What the client knows of its zygotes' lives, for /health: a zygote that dies is restarted by
// the next fork request, which would otherwise leave no trace but a log line.
struct ZygoteStats {
  pid_t pid = -1;  // the zygote now; -1 while none runs (a death not yet replaced, a failed start)
  uint64_t restarts = 0;       // zygotes started after the first, each after one had died
  uint64_t failed_starts = 0;  // starts that failed (the request that asked for one failed too)
  uint64_t deaths = 0;         // zygotes seen to have died
  std::string last_exit;       // how the last zygote to die ended ("killed by signal 9 ..."), or ""
  std::chrono::steady_clock::time_point last_exit_at{};  // when that death was seen
  std::string start_error;  // why the latest start failed; "" once one has succeeded since
};

class ZygoteClient {
 public:
  // Starts the zygote and waits until it has preloaded. Call before any thread exists when
  // possible; it is also safe later (the fork is followed only by exec).
  static Result<std::unique_ptr<ZygoteClient>> Start(const ZygoteOptions& options);

  // Sends a fork request with its descriptors (see protocol.h for their order). If the zygote
  // has died, it is restarted first; the request is never lost to a dead zygote.
  Status RequestFork(const ForkRequest& request, std::span<const int> fds);

  pid_t pid();
  // Never waits for a start in progress (it may take seconds): reads what the last start and
  // the last check found, and checks the zygote itself only if no request holds the client.
  ZygoteStats stats();
  // The zygote's virtual memory size, the base an RLIMIT_AS fallback must add to.
  uint64_t VirtualMemoryBytes();

 private:
  explicit ZygoteClient(ZygoteOptions options) : options_(std::move(options)) {}
  Status SpawnLocked();
  Status SpawnOnceLocked();
  // False once the zygote has exited (recording how) or its control socket has failed.
  bool AliveLocked();
  // Logs and records a death; the zygote is reaped already.
  void RecordDeathLocked(const std::string& how);
  // Reaps (killing it if it still runs after a grace) a zygote whose socket failed.
  void ReapAfterSocketFailureLocked();

  const ZygoteOptions options_;
  std::mutex mutex_;
  sys::ChildProcess process_;
  sys::UniqueFd control_;
  bool started_before_ = false;  // under mutex_
  std::atomic<uint64_t> last_virtual_memory_bytes_{0};
  std::mutex stats_mutex_;  // never held while waiting for anything
  ZygoteStats stats_;       // under stats_mutex_
};

}  // namespace pyexec::zygote
