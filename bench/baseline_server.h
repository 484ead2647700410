// BaselineServer: the reference model (a Flask service with threads that starts a fresh Python per
// request) behind pyexec's own HTTP transport, so that both sides of pyexec_http_bench have the
// same HTTP layer. POST /execute {"script": ...} runs the script in a fresh /usr/bin/python3
// (baseline_python.h) on one of a fixed pool of worker threads and answers
// {"result": ..., "stdout": ..., "usage": {...}}; GET /health answers 200. Runs in the benchmark
// process.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "util/result.h"

namespace pyexec::bench {

struct BaselineServerConfig {
  size_t workers = 4;            // interpreters at once
  size_t queue_capacity = 4096;  // requests waiting for a worker; one more is answered 429
  std::chrono::milliseconds python_timeout{std::chrono::seconds(60)};  // then killed, 500
};

class BaselineServer {
 public:
  // Listens on 127.0.0.1 and a free port, and starts the workers.
  static Result<std::unique_ptr<BaselineServer>> Start(const BaselineServerConfig& config);
  BaselineServer(const BaselineServer&) = delete;
  BaselineServer& operator=(const BaselineServer&) = delete;
  ~BaselineServer();  // Stop()

  uint16_t port() const;
  // Requests running or queued.
  size_t busy() const;
  // Closes the listener and the connections, lets running interpreters finish, joins the
  // threads. Idempotent.
  void Stop();

  struct Core;

 private:
  explicit BaselineServer(std::unique_ptr<Core> core);

  std::unique_ptr<Core> core_;
};

}  // namespace pyexec::bench
