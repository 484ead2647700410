#include "app/cli.h"

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "api/execution_json.h"
#include "app/doctor.h"
#include "app/serve.h"
#include "service/engine.h"
#include "service/limits.h"
#include "util/log.h"
#include "util/strings.h"

#ifndef PYEXEC_VERSION
#define PYEXEC_VERSION "0.0.0"
#endif

namespace pyexec::app {
namespace {

// Options shared by every command that starts an engine.
struct EngineFlags {
  double max_timeout_seconds = 30;
  int64_t max_memory_mb = 512;
  std::string preload = "numpy,pandas";
  std::string cgroups = "auto";
  std::string log_level = "warning";
  std::string work_dir = "/tmp";
  service::PoolConfig pool;

  // The warm pool's bounds: only for commands that serve many executions.
  void RegisterPool(CLI::App* command) {
    command
        ->add_option("--pool-min", pool.min_idle,
                     "Children kept jailed and ready for a script even when idle")
        ->envname("PYEXEC_POOL_MIN")
        ->check(CLI::Range(0, 256))
        ->capture_default_str();
    command
        ->add_option("--pool-max", pool.max_idle,
                     "Most children kept ready under load; 0: no pool (each request makes its own)")
        ->envname("PYEXEC_POOL_MAX")
        ->check(CLI::Range(0, 256))
        ->capture_default_str();
  }

  void Register(CLI::App* command) {
    command
        ->add_option("--max-timeout", max_timeout_seconds,
                     "Largest wall-clock timeout in seconds; also the default")
        ->envname("PYEXEC_MAX_TIMEOUT")
        ->check(CLI::Range(0.001, 86400.0))
        ->capture_default_str();
    command
        ->add_option("--max-memory-mb", max_memory_mb,
                     "Largest memory limit in MiB; also the default")
        ->envname("PYEXEC_MAX_MEMORY_MB")
        ->check(CLI::Range(int64_t{service::kMinMemoryMb}, int64_t{1} << 20))
        ->capture_default_str();
    command
        ->add_option("--preload", preload,
                     "Comma-separated modules the zygote imports before forking")
        ->envname("PYEXEC_PRELOAD")
        ->capture_default_str();
    command
        ->add_option("--cgroups", cgroups,
                     "auto: per-execution cgroups where the host allows, rlimits otherwise; "
                     "off: rlimits only")
        ->envname("PYEXEC_CGROUPS")
        ->check(CLI::IsMember({"auto", "off"}))
        ->capture_default_str();
    command->add_option("--log-level", log_level, "debug, info, warning, error or off")
        ->envname("PYEXEC_LOG_LEVEL")
        ->check(CLI::IsMember({"debug", "info", "warning", "error", "off"}))
        ->capture_default_str();
    command
        ->add_option("--work-dir", work_dir,
                     "Directory under which each execution gets a fresh working directory")
        ->envname("PYEXEC_WORK_DIR")
        ->check(CLI::ExistingDirectory)
        ->capture_default_str();
  }

  service::EngineConfig ToConfig() const {
    service::EngineConfig config;
    config.limits.timeout =
        std::chrono::milliseconds(static_cast<int64_t>(std::ceil(max_timeout_seconds * 1000.0)));
    config.limits.cpu_seconds = static_cast<uint64_t>(std::ceil(max_timeout_seconds));
    config.limits.memory_bytes = static_cast<uint64_t>(max_memory_mb) * service::kMiB;
    config.preload = SplitCommaList(preload);
    config.cgroups = cgroups == "off" ? service::CgroupMode::kOff : service::CgroupMode::kAuto;
    config.log_level = log_level;
    config.work_parent = work_dir;
    config.pool = pool;
    return config;
  }
};

// The signal that interrupted `pyexec run`, and the flag the running execution watches.
volatile sig_atomic_t g_interrupted_by = 0;
const sys::EventFd* g_cancel = nullptr;

void OnInterrupt(int signal_number) {
  g_interrupted_by = signal_number;
  if (g_cancel != nullptr) {
    g_cancel->Raise();
  }
}

// SIGINT/SIGTERM cancel the execution instead of killing pyexec outright, so its processes,
// cgroups and working directory are still cleaned up.
Status InstallInterruptHandlers(const sys::EventFd* cancel) {
  g_cancel = cancel;
  struct sigaction action {};
  action.sa_handler = OnInterrupt;
  sigemptyset(&action.sa_mask);
  for (int signal_number : {SIGINT, SIGTERM}) {
    if (sigaction(signal_number, &action, nullptr) != 0) {
      return SysError("sigaction", errno);
    }
  }
  return OkStatus();
}

bool ReadScript(const std::string& path, std::string* script, std::string* problem) {
  if (path == "-") {
    script->assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    return true;
  }
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    *problem = path + " is a directory";
    return false;
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    *problem = "cannot read " + path;
    return false;
  }
  script->assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  return true;
}

int ExitCodeFor(const service::Outcome& outcome) {
  return outcome.verdict == service::Verdict::kOk ? kExitOk : kExitScriptFailed;
}

int Run(const EngineFlags& flags, const std::string& path, const service::LimitRequest& request) {
  std::string script;
  std::string problem;
  if (!ReadScript(path, &script, &problem)) {
    std::cerr << "pyexec run: " << problem << "\n";
    return kExitUsage;
  }
  service::EngineConfig config = flags.ToConfig();
  config.pool.max_idle = 0;  // one execution: its child is made for it, none ahead
  Result<service::Limits> limits = service::ApplyRequest(config.limits, request);
  if (!limits.ok()) {
    std::cerr << "pyexec run: " << limits.error().message << "\n";
    return kExitUsage;
  }
  Result<std::unique_ptr<service::Engine>> engine = service::Engine::Create(config);
  if (!engine.ok()) {
    LogError(engine.error().ToString());
    std::cout << api::RenderInternalError("pyexec could not start: " + engine.error().ToString())
              << "\n";
    return kExitInternal;
  }
  Result<sys::EventFd> cancel = sys::EventFd::Create();
  if (!cancel.ok() || !InstallInterruptHandlers(&*cancel).ok()) {
    std::cout << api::RenderInternalError("pyexec could not set up signal handling") << "\n";
    return kExitInternal;
  }
  Result<service::Execution> execution = (*engine)->Run(script, *limits, &*cancel);
  if (!execution.ok() && execution.error().code == ErrorCode::kCancelled) {
    std::cerr << "pyexec run: interrupted; the execution was killed and cleaned up\n";
    return 128 + g_interrupted_by;
  }
  if (!execution.ok()) {
    LogError(execution.error().ToString());
    std::cout << api::RenderInternalError(execution.error().ToString()) << "\n";
    return kExitInternal;
  }
  std::cout << api::RenderExecution(*execution) << "\n";
  return ExitCodeFor(execution->outcome);
}

}  // namespace

int RunCli(int argc, char** argv) {
  CLI::App app(
      "pyexec: run untrusted Python scripts in a fresh sandboxed process, fast.\n"
      "Each script defines main(); pyexec prints main()'s JSON result, its output and a "
      "verdict.",
      "pyexec");
  app.set_version_flag("--version", std::string("pyexec ") + PYEXEC_VERSION);
  app.require_subcommand(1);

  EngineFlags run_flags;
  std::string path;
  std::optional<double> timeout;
  std::optional<int64_t> memory_mb;
  CLI::App* run = app.add_subcommand(
      "run",
      "Run one script in a fresh sandboxed process and print its result as JSON.\n"
      "Exit code: 0 ok, 1 the script failed, 2 usage error, 3 internal error.");
  run->add_option("FILE", path, "The script (a file defining main()), or - for standard input")
      ->required();
  run->add_option("--timeout", timeout, "Wall-clock timeout in seconds (at most --max-timeout)");
  run->add_option("--memory-mb", memory_mb, "Memory limit in MiB (at most --max-memory-mb)");
  run_flags.Register(run);

  EngineFlags serve_flags;
  serve_flags.log_level = "info";  // the service logs one line per request at info
  ServeOptions serve_options;
  CLI::App* serve = app.add_subcommand(
      "serve",
      "Serve the HTTP API (POST /execute, GET /health) until SIGTERM or SIGINT.\n"
      "Prints \"pyexec serve: listening on HOST:PORT\" on stderr once ready.");
  serve->add_option("--host", serve_options.host, "IP address to listen on (not a host name)")
      ->envname("PYEXEC_HOST")
      ->capture_default_str();
  serve->add_option("--port", serve_options.port, "TCP port; 0 picks a free one")
      ->envname("PYEXEC_PORT")
      ->capture_default_str();
  serve
      ->add_option("--max-concurrency", serve_options.max_concurrency,
                   "Executions at once; 0: max(1, min(2 x cores, (RAM - 1 GiB) / "
                   "--max-memory-mb))")
      ->envname("PYEXEC_MAX_CONCURRENCY")
      ->check(CLI::Range(0, 4096))
      ->capture_default_str();
  serve
      ->add_option("--queue", serve_options.queue,
                   "Requests waiting for a free slot; beyond it: 429 at once")
      ->envname("PYEXEC_QUEUE")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  serve
      ->add_option("--max-script-bytes", serve_options.max_script_bytes,
                   "Largest script in UTF-8 bytes (the body may be 64 KiB more)")
      ->envname("PYEXEC_MAX_SCRIPT_BYTES")
      ->check(CLI::Range(1, 64 * 1024 * 1024))
      ->capture_default_str();
  serve
      ->add_option("--max-connections", serve_options.max_connections,
                   "Open connections; one more is answered 503 and closed")
      ->envname("PYEXEC_MAX_CONNECTIONS")
      ->check(CLI::Range(1, 65536))
      ->capture_default_str();
  serve->add_option("--io-threads", serve_options.io_threads, "Threads serving connections")
      ->envname("PYEXEC_IO_THREADS")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  serve
      ->add_option("--header-timeout", serve_options.header_timeout_seconds,
                   "Seconds a client has to send the request line and header fields")
      ->envname("PYEXEC_HEADER_TIMEOUT")
      ->check(CLI::Range(0.01, 3600.0))
      ->capture_default_str();
  serve
      ->add_option("--body-timeout", serve_options.body_timeout_seconds,
                   "Seconds a client has to send the body once the header is in")
      ->envname("PYEXEC_BODY_TIMEOUT")
      ->check(CLI::Range(0.01, 3600.0))
      ->capture_default_str();
  serve
      ->add_option("--shutdown-grace", serve_options.shutdown_grace_seconds,
                   "On SIGTERM/SIGINT, seconds running executions get to finish before they "
                   "are killed")
      ->envname("PYEXEC_SHUTDOWN_GRACE")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  serve
      ->add_option("--port-file", serve_options.port_file,
                   "Write the bound port to this file once listening")
      ->envname("PYEXEC_PORT_FILE");
  serve_flags.Register(serve);
  serve_flags.RegisterPool(serve);

  bool doctor_json = false;
  CLI::App* doctor = app.add_subcommand(
      "doctor",
      "Check that this host can run the jail, how it would enforce limits, and Python.\n"
      "Exit code: 0 ready, 1 a mandatory control or Python is missing, 2 usage error.");
  doctor->add_flag("--json", doctor_json, "Print one JSON object instead of a table");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? kExitOk : kExitUsage;
  }
  LogLevel level = LogLevel::kWarning;
  ParseLogLevel(serve->parsed() ? serve_flags.log_level : run_flags.log_level, &level);
  SetLogLevel(level);
  if (run->parsed()) {
    return Run(run_flags, path, service::LimitRequest{timeout, memory_mb});
  }
  if (serve->parsed()) {
    service::EngineConfig config = serve_flags.ToConfig();
    // The zygote logs start-ups and failures only; info is for the service's request lines.
    if (level < LogLevel::kWarning && level != LogLevel::kDebug) {
      config.log_level = "warning";
    }
    return RunServe(serve_options, config);
  }
  if (doctor->parsed()) {
    return RunDoctor(doctor_json);
  }
  return kExitUsage;
}

}  // namespace pyexec::app
