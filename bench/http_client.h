// HttpConnection: the load generator's end of one keep-alive HTTP/1.1 connection to a server on
// 127.0.0.1. Blocking, one request at a time, with a deadline on every wait; it reads
// Content-Length and chunked bodies. Used by pyexec_http_bench, one connection per client
// thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "sys/unique_fd.h"
#include "util/result.h"

namespace pyexec::bench {

struct HttpReply {
  int status = 0;
  std::string body;
  bool closes = false;  // the server sent Connection: close (or HTTP/1.0 without keep-alive)
};

// "POST <path> HTTP/1.1" with Host, Content-Type: application/json and Content-Length.
std::string FormatPost(uint16_t port, std::string_view path, std::string_view json_body);
// "GET <path> HTTP/1.1" with Host.
std::string FormatGet(uint16_t port, std::string_view path);

class HttpConnection {
 public:
  using Clock = std::chrono::steady_clock;

  // A connection to 127.0.0.1:`port` (TCP_NODELAY, SOCK_CLOEXEC), made before `deadline`.
  static Result<HttpConnection> Connect(uint16_t port, Clock::time_point deadline);

  HttpConnection() = default;

  // Sends `request` whole and reads one response, before `deadline` (else kUnavailable and the
  // connection is closed: its state is unknown). A response that asks to close closes it.
  Result<HttpReply> RoundTrip(std::string_view request, Clock::time_point deadline);

  bool open() const { return fd_.valid(); }
  void Close() { fd_.Reset(); }

 private:
  explicit HttpConnection(sys::UniqueFd fd) : fd_(std::move(fd)) {}

  Status SendAll(std::string_view bytes, Clock::time_point deadline);
  // Waits for bytes and appends them to pending_; 0 at end of stream.
  Result<size_t> Fill(Clock::time_point deadline);
  Result<std::string> ReadLine(Clock::time_point deadline);
  Result<std::string> ReadExactly(size_t size, Clock::time_point deadline);
  Result<std::string> ReadChunked(Clock::time_point deadline);
  Result<HttpReply> ReadReply(Clock::time_point deadline);

  sys::UniqueFd fd_;
  std::string pending_;  // received, not yet parsed
};

}  // namespace pyexec::bench
