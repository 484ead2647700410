#include "app/serve.h"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <utility>

#include "api/http_api.h"
#include "app/cli.h"
#include "app/doctor.h"
#include "http/server.h"
#include "service/admission.h"
#include "sys/event_fd.h"
#include "util/log.h"

#ifndef PYEXEC_VERSION
#define PYEXEC_VERSION "0.0.0"
#endif

namespace pyexec::app {
namespace {

// Running executions get the grace period; those still running are then cancelled and get
// this long to be killed and cleaned up.
constexpr std::chrono::seconds kCancelWait{10};
// After the executions: responses still being written.
constexpr std::chrono::seconds kDrainWait{5};
// The body's JSON around the script: quotes, escapes are counted in the script's cap by the
// parser, not here; this covers the field names and the limits.
constexpr size_t kEnvelopeBytes = size_t{64} * 1024;

const sys::EventFd* g_stop = nullptr;
volatile sig_atomic_t g_stop_signal = 0;

void OnStopSignal(int signal_number) {
  g_stop_signal = signal_number;
  if (g_stop != nullptr) {
    g_stop->Raise();
  }
}

// A handler rather than a blocked mask: threads started later (and the zygote, when a worker
// restarts it) keep the default signal mask.
Status InstallStopHandlers(const sys::EventFd* stop) {
  g_stop = stop;
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  for (int signal_number : {SIGINT, SIGTERM}) {
    if (sigaction(signal_number, &action, nullptr) != 0) {
      return SysError("sigaction", errno);
    }
  }
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  if (sigaction(SIGPIPE, &ignore, nullptr) != 0) {
    return SysError("sigaction(SIGPIPE)", errno);
  }
  return OkStatus();
}

std::chrono::milliseconds Milliseconds(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(std::ceil(seconds * 1000.0)));
}

// What /health reports besides the pool: fixed at start-up.
nlohmann::ordered_json HealthFields(const DoctorReport& report, const service::Engine& engine) {
  nlohmann::ordered_json controls = nlohmann::ordered_json::object();
  for (const sandbox::ControlSupport& control : report.controls) {
    controls[control.name] = control.supported;
  }
  const service::Enforcement& e = engine.enforcement();
  return {
      {"version", PYEXEC_VERSION},
      {"python",
       {{"version", report.python.python_version},
        {"numpy", report.python.numpy_version},
        {"pandas", report.python.pandas_version}}},
      {"isolation",
       {{"jail", engine.config().jail},
        {"ready", report.missing.empty()},
        {"missing", report.missing},
        {"controls", controls},
        {"enforcement",
         {{"cgroup_mode", e.cgroup_mode},
          {"memory", e.memory},
          {"pids", e.pids},
          {"kill", e.kill},
          {"cpu_accounting", e.cpu_accounting},
          {"cgroup_favordynmods", e.cgroup_favordynmods},
          {"idle_exit", e.idle_exit}}}}},
  };
}

bool WaitForStop(const sys::EventFd& stop) {
  for (;;) {
    pollfd polled{stop.fd(), POLLIN, 0};
    const int ready = poll(&polled, 1, -1);
    if (ready > 0) {
      return true;
    }
    if (ready < 0 && errno != EINTR) {
      LogError(SysError("poll(stop)", errno).ToString());
      return false;
    }
  }
}

}  // namespace

size_t DefaultConcurrency(uint64_t memory_limit_bytes) {
  const int64_t cores = sysconf(_SC_NPROCESSORS_ONLN);
  const int64_t pages = sysconf(_SC_PHYS_PAGES);
  const int64_t page_size = sysconf(_SC_PAGESIZE);
  const uint64_t by_cores = cores > 0 ? 2 * static_cast<uint64_t>(cores) : 2;
  uint64_t by_memory = by_cores;
  if (pages > 0 && page_size > 0 && memory_limit_bytes > 0) {
    const uint64_t ram = static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size);
    const uint64_t reserve = uint64_t{1} << 30;
    by_memory = ram > reserve ? (ram - reserve) / memory_limit_bytes : 0;
  }
  return static_cast<size_t>(std::max<uint64_t>(1, std::min(by_cores, by_memory)));
}

int RunServe(const ServeOptions& options, const service::EngineConfig& engine_config) {
  // 1. Probes fork children: before any thread exists.
  const DoctorReport report = ExamineHost();
  for (const std::string& name : report.missing) {
    LogWarning("serve: " + name + " is missing (see `pyexec doctor`)");
  }
  // 2. The zygote, also from a single-threaded process.
  Result<std::unique_ptr<service::Engine>> engine = service::Engine::Create(engine_config);
  if (!engine.ok()) {
    LogError("serve: pyexec could not start: " + engine.error().ToString());
    return kExitInternal;
  }
  Result<sys::EventFd> stop = sys::EventFd::Create();
  if (!stop.ok()) {
    LogError("serve: " + stop.error().ToString());
    return kExitInternal;
  }
  if (Status installed = InstallStopHandlers(&*stop); !installed.ok()) {
    LogError("serve: " + installed.error().ToString());
    return kExitInternal;
  }

  // 3. Threads: admission workers, then the transport's io threads.
  service::AdmissionConfig admission_config;
  admission_config.max_concurrency = options.max_concurrency > 0
                                         ? options.max_concurrency
                                         : DefaultConcurrency(engine_config.limits.memory_bytes);
  admission_config.queue_capacity = options.queue;
  auto admission = std::make_unique<service::Admission>(admission_config);

  api::HttpApiConfig api_config;
  api_config.rules.max_script_bytes = options.max_script_bytes;
  api_config.maximum = engine_config.limits;
  api_config.health_fields = HealthFields(report, **engine);
  const bool controls_ready = sandbox::AllMandatorySupported(report.controls);
  api_config.ready = [controls_ready](std::string* reason) {
    if (!controls_ready) {
      *reason = "this host lacks a mandatory isolation control (see `pyexec doctor`)";
    }
    return controls_ready;
  };
  service::Engine* engine_ptr = engine->get();
  api_config.live_health = [engine_ptr](nlohmann::ordered_json* document) {
    const service::PoolStats pool = engine_ptr->pool_stats();
    const service::PoolConfig& config = engine_ptr->config().pool;
    (*document)["warm_pool"] = {{"idle", pool.idle},
                                {"target", pool.target},
                                {"min_idle", config.min_idle},
                                {"max_idle", config.max_idle},
                                {"in_flight", pool.in_flight},
                                {"hits", pool.hits},
                                {"misses", pool.misses},
                                {"retired", pool.retired},
                                {"setup_failures", pool.failures},
                                {"warmed_up", pool.warmed_up},
                                {"idle_exits", pool.idle_exits}};
    const zygote::ZygoteStats zygote = engine_ptr->zygote_stats();
    nlohmann::ordered_json last_exit = nullptr;
    if (zygote.deaths > 0) {
      const std::chrono::duration<double> ago =
          std::chrono::steady_clock::now() - zygote.last_exit_at;
      last_exit = {{"how", zygote.last_exit}, {"seconds_ago", std::round(ago.count() * 10) / 10}};
    }
    (*document)["zygote"] = {
        {"pid", zygote.pid > 0 ? nlohmann::ordered_json(zygote.pid) : nullptr},
        {"restarts", zygote.restarts},
        {"deaths", zygote.deaths},
        {"failed_starts", zygote.failed_starts},
        {"last_exit", last_exit},
        {"start_error",
         zygote.start_error.empty() ? nullptr : nlohmann::ordered_json(zygote.start_error)}};
  };
  api::HttpApi api(
      std::move(api_config),
      [engine_ptr](std::string_view script, const service::Limits& limits,
                   const sys::EventFd* cancel) { return engine_ptr->Run(script, limits, cancel); },
      admission.get());

  http::ServerConfig server_config;
  server_config.host = options.host;
  server_config.port = options.port;
  server_config.max_body_bytes = options.max_script_bytes + kEnvelopeBytes;
  server_config.max_connections = options.max_connections;
  server_config.io_threads = options.io_threads;
  server_config.header_timeout = Milliseconds(options.header_timeout_seconds);
  server_config.body_timeout = Milliseconds(options.body_timeout_seconds);
  auto server = std::make_unique<http::Server>(
      server_config,
      [&api](const std::shared_ptr<http::Exchange>& exchange) { api.Handle(exchange); },
      [&api](const http::AccessRecord& record) { api.LogAccess(record); });
  if (Status started = server->Start(); !started.ok()) {
    LogError("serve: " + started.error().ToString());
    server.reset();
    (void)admission->Shutdown(std::chrono::milliseconds(0), kCancelWait);
    return kExitInternal;
  }
  if (!options.port_file.empty()) {
    // Written whole under a temporary name, then renamed: a reader never sees half a number.
    const std::string temporary = options.port_file + ".tmp";
    std::ofstream(temporary) << server->port() << "\n";
    if (std::rename(temporary.c_str(), options.port_file.c_str()) != 0) {
      LogError("serve: cannot write the port file " + options.port_file);
    }
  }
  // Always printed, whatever the log level: how scripts and tests learn the port.
  const std::string listening = "pyexec serve: listening on " + server->address() + " (" +
                                std::to_string(admission_config.max_concurrency) +
                                " executions at once, queue " +
                                std::to_string(admission_config.queue_capacity) + ")\n";
  [[maybe_unused]] const ssize_t ignored = write(STDERR_FILENO, listening.data(), listening.size());

  // 4. Until SIGTERM/SIGINT, then: stop accepting, finish or cancel executions, close.
  (void)WaitForStop(*stop);
  LogInfo("serve: signal " + std::to_string(g_stop_signal) + ": shutting down");
  const auto begun = std::chrono::steady_clock::now();
  api.BeginShutdown();
  server->BeginShutdown();
  const bool finished =
      admission->Shutdown(Milliseconds(options.shutdown_grace_seconds), kCancelWait);
  if (!finished) {
    LogWarning("serve: executions still running after the grace period were cancelled");
  }
  (void)server->WaitUntilDrained(std::chrono::steady_clock::now() + kDrainWait);
  server->ForceClose();
  server.reset();
  admission.reset();
  engine->reset();  // the zygote exits, the cgroup tree is removed
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - begun);
  LogInfo("serve: stopped in " + std::to_string(took.count()) + " ms");
  return kExitOk;
}

}  // namespace pyexec::app
