#include "baseline_python.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <string>
#include <utility>
#include <vector>

#include "sys/fds.h"
#include "sys/process.h"  // DescribeWaitStatus

namespace pyexec::bench {
namespace {

using Clock = std::chrono::steady_clock;

// What the reference Flask + nsjail service does per request, minus HTTP and nsjail: a new
// interpreter imports numpy and pandas, runs the script's main() with its stdout captured, and
// prints {"result": ..., "stdout": ...}. The script arrives as argv[1].
constexpr char kBaselineWrapper[] = R"(import contextlib, io, json, sys
import numpy, pandas
captured = io.StringIO()
namespace = {"__name__": "main"}
with contextlib.redirect_stdout(captured):
    exec(compile(sys.argv[1], "main.py", "exec"), namespace)
    result = namespace["main"]()
print(json.dumps({"result": result, "stdout": captured.getvalue()}))
)";

// Reads what is available on non-blocking `fd` into `out`; false once it reached EOF.
bool DrainInto(int fd, std::string* out) {
  std::array<char, 16384> buffer{};
  // Bounded by the pipe's contents: each read takes up to 16 KiB until EAGAIN or EOF.
  while (true) {
    const ssize_t got = read(fd, buffer.data(), buffer.size());
    if (got > 0) {
      out->append(buffer.data(), static_cast<size_t>(got));
      continue;
    }
    if (got == 0) {
      return false;
    }
    return errno == EAGAIN || errno == EINTR;
  }
}

// Waits for `pid` and collects its rusage, retrying on EINTR.
Status WaitForChild(pid_t pid, BaselineRun* run) {
  while (wait4(pid, &run->wait_status, 0, &run->usage) < 0) {
    if (errno != EINTR) {
      return SysError("wait4(" + std::to_string(pid) + ")", errno);
    }
  }
  return OkStatus();
}

// posix_spawn rather than sys::Spawn: wait4 then gives this one interpreter's CPU time and peak
// RSS, as the reference service's subprocess call would see them.
Result<pid_t> StartInterpreter(std::string_view script, int out, int err) {
  std::vector<std::string> arguments = {kBaselinePython, "-c", kBaselineWrapper,
                                        std::string(script)};
  std::vector<std::string> environment = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8",
                                          "OPENBLAS_NUM_THREADS=1"};
  std::vector<char*> argv;
  argv.reserve(arguments.size() + 1);
  for (std::string& argument : arguments) {
    argv.push_back(argument.data());
  }
  argv.push_back(nullptr);
  std::vector<char*> envp;
  envp.reserve(environment.size() + 1);
  for (std::string& entry : environment) {
    envp.push_back(entry.data());
  }
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out, 1);
  posix_spawn_file_actions_adddup2(&actions, err, 2);
  // Every descriptor of this process is O_CLOEXEC; closing the rest anyway keeps another
  // thread's pipes and sockets out of the interpreter whatever a library did (glibc >= 2.34).
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  pid_t pid = -1;
  const int failed =
      posix_spawn(&pid, kBaselinePython, &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (failed != 0) {
    return SysError(std::string("posix_spawn(") + kBaselinePython + ")", failed);
  }
  return pid;
}

}  // namespace

Result<BaselineRun> RunBaselinePython(std::string_view script, std::chrono::milliseconds timeout) {
  Result<sys::PipeEnds> out = sys::MakePipe(true);
  if (!out.ok()) {
    return std::move(out).error();
  }
  Result<sys::PipeEnds> err = sys::MakePipe(true);
  if (!err.ok()) {
    return std::move(err).error();
  }
  Result<pid_t> pid = StartInterpreter(script, out->write.get(), err->write.get());
  if (!pid.ok()) {
    return std::move(pid).error();
  }
  // The child holds the write ends now; ours must go, or EOF would never come.
  out->write.Reset();
  err->write.Reset();

  BaselineRun run;
  const Clock::time_point deadline = Clock::now() + timeout;
  bool out_open = true;
  bool err_open = true;
  // Bounded by the deadline: the child is killed there and the loop ends.
  while (out_open || err_open) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      run.timed_out = true;
      kill(*pid, SIGKILL);  // not reaped yet: the pid is still ours
      break;
    }
    std::array<pollfd, 2> polled{{{out_open ? out->read.get() : -1, POLLIN, 0},
                                  {err_open ? err->read.get() : -1, POLLIN, 0}}};
    if (poll(polled.data(), polled.size(), static_cast<int>(left.count())) < 0 && errno != EINTR) {
      const int saved = errno;
      kill(*pid, SIGKILL);
      (void)WaitForChild(*pid, &run);
      return SysError("poll", saved);
    }
    if (out_open && polled[0].revents != 0) {
      out_open = DrainInto(out->read.get(), &run.out);
    }
    if (err_open && polled[1].revents != 0) {
      err_open = DrainInto(err->read.get(), &run.err);
    }
  }
  if (Status waited = WaitForChild(*pid, &run); !waited.ok()) {
    return std::move(waited).error();
  }
  return run;
}

std::optional<nlohmann::json> ParseBaselineOutput(const Result<BaselineRun>& run,
                                                  std::string* problem) {
  if (!run.ok()) {
    *problem = "running " + std::string(kBaselinePython) + ": " + run.error().ToString();
    return std::nullopt;
  }
  if (run->timed_out) {
    *problem = "timed out, killed";
    return std::nullopt;
  }
  if (!WIFEXITED(run->wait_status) || WEXITSTATUS(run->wait_status) != 0) {
    *problem = sys::DescribeWaitStatus(run->wait_status) + ": " + run->err;
    return std::nullopt;
  }
  nlohmann::json printed = nlohmann::json::parse(run->out, nullptr, false);
  if (!printed.is_object() || !printed.contains("result") || !printed.contains("stdout")) {
    *problem = "unexpected output " + run->out;
    return std::nullopt;
  }
  return printed;
}

double CpuMilliseconds(const rusage& usage) {
  const auto milliseconds = [](const timeval& time) {
    return static_cast<double>(time.tv_sec) * 1000.0 + static_cast<double>(time.tv_usec) / 1000.0;
  };
  return milliseconds(usage.ru_utime) + milliseconds(usage.ru_stime);
}

}  // namespace pyexec::bench
