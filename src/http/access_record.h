// AccessRecord: what the server reports after each response it writes (handler-made or its
// own error answers), for the api layer's access log. Called on an io thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace pyexec::http {

struct AccessRecord {
  std::string request_id;
  std::string method;  // empty when the request line could not be read
  std::string path;    // likewise
  std::string peer;    // "127.0.0.1:50312", "[::1]:50312"
  int status = 0;
  // From the request's first byte (a connection's first request: from accept) to the response's
  // last byte handed to the kernel.
  std::chrono::steady_clock::duration duration{};
  uint64_t request_body_bytes = 0;
  uint64_t response_bytes = 0;  // written: status line, fields and body
  bool complete = true;         // false when the write failed (the client went away)
};

// Must not block: it runs on an io thread.
using AccessLog = std::function<void(const AccessRecord&)>;

}  // namespace pyexec::http
