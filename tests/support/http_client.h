// Test support: a blocking HTTP/1.x client over one TCP connection. It sends raw bytes, so tests
// can send anything (malformed, partial, pipelined, stalled), and parses what comes back. Every
// read waits at most the connection's io timeout: a server that never answers fails the test
// instead of hanging it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sys/unique_fd.h"
#include "util/result.h"

namespace pyexec::testing {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  int version = 11;  // 10 or 11
  int status = 0;
  std::string reason;
  HttpHeaders headers;
  std::string body;

  // The first value of `name`, compared case-insensitively.
  std::optional<std::string> Header(std::string_view name) const;
  size_t HeaderCount(std::string_view name) const;
};

// "POST /echo HTTP/1.1" with Host, Content-Length (when there is a body, or for POST and PUT)
// and `headers`, then `body`.
std::string FormatRequest(std::string_view method, std::string_view target,
                          std::string_view body = {}, const HttpHeaders& headers = {},
                          std::string_view version = "HTTP/1.1");

class HttpClient {
 public:
  static constexpr std::chrono::milliseconds kDefaultIoTimeout{std::chrono::seconds(10)};

  // Connects to an IP literal ("127.0.0.1", "::1"). A refused connection is a kSystem error
  // with sys_errno ECONNREFUSED.
  static Result<HttpClient> Connect(std::string_view host, uint16_t port,
                                    std::chrono::milliseconds io_timeout = kDefaultIoTimeout);

  Status Send(std::string_view bytes);
  // The next response (1xx interim responses included). `head_request`: no body follows.
  // A timeout is kUnavailable; the connection closing before a whole response, kProtocol.
  Result<HttpResponse> ReadResponse(bool head_request = false);
  // Send(request) then ReadResponse().
  Result<HttpResponse> RoundTrip(std::string_view request);
  // Reads until the server closes its side; returns what arrived meanwhile. kUnavailable when
  // it has not closed within the io timeout.
  Result<std::string> ReadUntilClosed();

  void ShutdownWrite();
  void Close();  // FIN
  void Reset();  // SO_LINGER 0: the close sends a reset
  int fd() const { return fd_.get(); }

 private:
  explicit HttpClient(sys::UniqueFd fd) : fd_(std::move(fd)) {}
  // Reads more into pending_; 0 at end of stream.
  Result<size_t> Fill();
  Result<std::string> ReadLine();
  Result<std::string> ReadExactly(size_t size);
  Result<std::string> ReadChunkedBody();

  sys::UniqueFd fd_;
  std::string pending_;
};

}  // namespace pyexec::testing
