// `pyexec serve`: the HTTP service. Start-up order matters: the doctor probes and the zygote
// fork from a single-threaded process, then the admission workers and the io threads start;
// SIGTERM/SIGINT begin a graceful shutdown. Runs in the server process.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "service/engine.h"

namespace pyexec::app {

struct ServeOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  size_t max_concurrency = 0;  // 0: DefaultConcurrency()
  size_t queue = 64;
  size_t max_script_bytes = size_t{1024} * 1024;
  size_t max_connections = 256;
  // One: HTTP work is light next to executions (a few percent of the CPU at full load).
  int io_threads = 1;
  double header_timeout_seconds = 10;
  double body_timeout_seconds = 30;
  double shutdown_grace_seconds = 30;
  std::string port_file;  // when set, the bound port is written there once listening
};

// max(1, min(2 * cores, (RAM - 1 GiB) / memory_limit)): every execution may use its whole
// memory limit at once and the host keeps 1 GiB for itself.
size_t DefaultConcurrency(uint64_t memory_limit_bytes);

// Runs the service until SIGTERM or SIGINT; returns the process's exit code (0 after a
// graceful shutdown, kExitInternal when it could not start).
int RunServe(const ServeOptions& options, const service::EngineConfig& engine_config);

}  // namespace pyexec::app
