// ServerConfig: where the HTTP transport listens and the limits it enforces on every connection
// before any handler runs. Plain data, read by the server process.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "util/result.h"

namespace pyexec::http {

struct ServerConfig {
  // An IP literal ("127.0.0.1", "0.0.0.0", "::1", "::"); host names are not resolved.
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: an ephemeral port, readable with Server::port() after Start()

  // The request line and header fields together; beyond it: 431.
  size_t max_header_bytes = size_t{16} * 1024;
  // A 1 MiB script plus its JSON envelope; a larger Content-Length is answered 413 before any
  // body byte is read, a chunked body as soon as it grows past it.
  size_t max_body_bytes = size_t{1024} * 1024 + size_t{64} * 1024;

  // From accept (or from a kept-alive request's first byte) to the end of the header block.
  std::chrono::milliseconds header_timeout{std::chrono::seconds(10)};
  // From the end of the header block to the end of the body.
  std::chrono::milliseconds body_timeout{std::chrono::seconds(30)};
  // Between a response and the next request's first byte; then the connection is closed.
  std::chrono::milliseconds idle_keepalive_timeout{std::chrono::seconds(60)};
  // Writing one response: a client that stops reading loses its connection.
  std::chrono::milliseconds write_timeout{std::chrono::seconds(30)};
  // After a connection's last response, how long unread request bytes are drained so that
  // closing does not reset the connection under the client before it reads that response.
  std::chrono::milliseconds linger_timeout{std::chrono::seconds(2)};

  // Open connections; one more is answered 503 and closed without being read.
  size_t max_connections = 1024;
  // Threads running the one io_context; handlers run on them and must not block.
  int io_threads = 1;
};

// kInvalidInput naming the first field out of range.
Status ValidateConfig(const ServerConfig& config);

}  // namespace pyexec::http
