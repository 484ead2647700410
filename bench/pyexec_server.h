// PyexecServer: a `pyexec serve` child of the benchmark on 127.0.0.1 and a port of its own
// choosing (--port 0 --port-file), its stderr in a log file, ready once GET /health answers 200;
// stopped with SIGTERM, and SIGKILLed if it does not exit in time. Runs in the benchmark process.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sys/files.h"
#include "sys/process.h"
#include "util/result.h"

namespace pyexec::bench {

struct PyexecServerConfig {
  std::string binary;                   // absolute path of the pyexec executable
  std::vector<std::string> extra_args;  // after `serve --host 127.0.0.1 --port 0 ...`
  std::chrono::seconds start_limit{120};
};

class PyexecServer {
 public:
  // Starts it and waits until GET /health answers 200; an error (with the end of its log) when
  // it exits or is not ready within config.start_limit.
  static Result<std::unique_ptr<PyexecServer>> Start(const PyexecServerConfig& config);
  PyexecServer(const PyexecServer&) = delete;
  PyexecServer& operator=(const PyexecServer&) = delete;
  ~PyexecServer();  // Stop() when still running

  uint16_t port() const { return port_; }
  pid_t pid() const { return process_.pid(); }
  // The /health document when ready.
  const nlohmann::json& health() const { return health_; }

  // A fresh GET /health, or an error.
  Result<nlohmann::json> Health(std::chrono::milliseconds timeout) const;
  // The last `bytes` of what it wrote on stderr.
  std::string LogTail(size_t bytes) const;

  // SIGTERM to the pid it started, then waits up to `limit`; the wait status, or an error when
  // it had to be SIGKILLed. Once.
  Result<int> Stop(std::chrono::seconds limit);

 private:
  PyexecServer() = default;

  sys::TempDir dir_;  // port file, log, work dir; removed last
  std::string log_path_;
  sys::ChildProcess process_;
  uint16_t port_ = 0;
  nlohmann::json health_;
};

}  // namespace pyexec::bench
