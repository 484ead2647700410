#include "http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <optional>
#include <utility>

#include "util/strings.h"

namespace pyexec::bench {
namespace {

// No benchmark response comes near these; a runaway server is an error, not memory exhaustion.
constexpr size_t kMaxHeaderBytes = size_t{64} * 1024;
constexpr size_t kMaxBodyBytes = size_t{64} * 1024 * 1024;
// Header fields and chunks per response: a server sending endless ones is an error.
constexpr int kMaxLines = 10000;

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) {
      return false;
    }
  }
  return true;
}

bool ParseNumber(std::string_view text, int base, uint64_t* value) {
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, *value, base);
  return ec == std::errc() && ptr == end && !text.empty();
}

Error ProtocolError(std::string message) {
  return MakeError(ErrorCode::kProtocol, "http client: " + std::move(message));
}

Error TimedOut() { return MakeError(ErrorCode::kUnavailable, "http client: deadline reached"); }

// Milliseconds left until `deadline` for poll(2), rounded up; 0 once it has passed.
int PollTimeout(HttpConnection::Clock::time_point deadline) {
  const auto left = deadline - HttpConnection::Clock::now();
  if (left <= HttpConnection::Clock::duration::zero()) {
    return 0;
  }
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<int64_t>(ms, int64_t{1000} * 1000));
}

// Waits until `fd` is ready for `events` or `deadline`; false at the deadline.
Result<bool> WaitFor(int fd, decltype(pollfd::events) events,
                     HttpConnection::Clock::time_point deadline) {
  // Bounded by the deadline: each pass waits at most until it.
  while (true) {
    const int timeout = PollTimeout(deadline);
    if (timeout == 0) {
      return false;
    }
    pollfd polled{fd, events, 0};
    const int ready = poll(&polled, 1, timeout);
    if (ready > 0) {
      return true;
    }
    if (ready < 0 && errno != EINTR) {
      return SysError("poll", errno);
    }
  }
}

std::string Host(uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

}  // namespace

std::string FormatPost(uint16_t port, std::string_view path, std::string_view json_body) {
  std::string request;
  request.reserve(json_body.size() + 160);
  request.append("POST ").append(path).append(" HTTP/1.1\r\nHost: ").append(Host(port));
  request.append("\r\nContent-Type: application/json\r\nContent-Length: ");
  request.append(std::to_string(json_body.size())).append("\r\n\r\n").append(json_body);
  return request;
}

std::string FormatGet(uint16_t port, std::string_view path) {
  std::string request;
  request.append("GET ").append(path).append(" HTTP/1.1\r\nHost: ").append(Host(port));
  request.append("\r\n\r\n");
  return request;
}

Result<HttpConnection> HttpConnection::Connect(uint16_t port, Clock::time_point deadline) {
  sys::UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return SysError("socket", errno);
  }
  const int one = 1;
  if (setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
    return SysError("setsockopt(TCP_NODELAY)", errno);
  }
  // A blocking connect(2) honours SO_SNDTIMEO: it bounds the wait when the backlog is full.
  const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
  if (left.count() <= 0) {
    return TimedOut();
  }
  const timeval timeout{static_cast<time_t>(left.count() / 1000000),
                        static_cast<suseconds_t>(left.count() % 1000000)};
  if (setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout) != 0) {
    return SysError("setsockopt(SO_SNDTIMEO)", errno);
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return SysError("connect(" + Host(port) + ")", errno);
  }
  return HttpConnection(std::move(fd));
}

Status HttpConnection::SendAll(std::string_view bytes, Clock::time_point deadline) {
  // Bounded by the deadline and by the bytes: each pass sends some or waits until the deadline.
  while (!bytes.empty()) {
    const ssize_t sent = send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent >= 0) {
      bytes.remove_prefix(static_cast<size_t>(sent));
      continue;
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return SysError("send", errno);
    }
    Result<bool> writable = WaitFor(fd_.get(), POLLOUT, deadline);
    if (!writable.ok()) {
      return std::move(writable).error();
    }
    if (!*writable) {
      return TimedOut();
    }
  }
  return OkStatus();
}

Result<size_t> HttpConnection::Fill(Clock::time_point deadline) {
  std::array<char, size_t{64} * 1024> chunk{};
  // Bounded by the deadline: each pass reads or waits until it.
  while (true) {
    const ssize_t got = recv(fd_.get(), chunk.data(), chunk.size(), MSG_DONTWAIT);
    if (got >= 0) {
      pending_.append(chunk.data(), static_cast<size_t>(got));
      return static_cast<size_t>(got);
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return SysError("recv", errno);
    }
    Result<bool> readable = WaitFor(fd_.get(), POLLIN, deadline);
    if (!readable.ok()) {
      return std::move(readable).error();
    }
    if (!*readable) {
      return TimedOut();
    }
  }
}

Result<std::string> HttpConnection::ReadLine(Clock::time_point deadline) {
  // Bounded by kMaxHeaderBytes: each pass finds the line or adds at least one byte.
  while (true) {
    const size_t end = pending_.find("\r\n");
    if (end != std::string::npos) {
      std::string line = pending_.substr(0, end);
      pending_.erase(0, end + 2);
      return line;
    }
    if (pending_.size() > kMaxHeaderBytes) {
      return ProtocolError("line longer than " + std::to_string(kMaxHeaderBytes) + " bytes");
    }
    Result<size_t> got = Fill(deadline);
    if (!got.ok()) {
      return std::move(got).error();
    }
    if (*got == 0) {
      return ProtocolError("connection closed by the server in the middle of a line");
    }
  }
}

Result<std::string> HttpConnection::ReadExactly(size_t size, Clock::time_point deadline) {
  // Bounded by `size`: each pass adds at least one byte or fails.
  while (pending_.size() < size) {
    Result<size_t> got = Fill(deadline);
    if (!got.ok()) {
      return std::move(got).error();
    }
    if (*got == 0) {
      return ProtocolError("connection closed after " + std::to_string(pending_.size()) + " of " +
                           std::to_string(size) + " body bytes");
    }
  }
  std::string bytes = pending_.substr(0, size);
  pending_.erase(0, size);
  return bytes;
}

Result<std::string> HttpConnection::ReadChunked(Clock::time_point deadline) {
  std::string body;
  for (int chunks = 0; chunks < kMaxLines; ++chunks) {
    Result<std::string> line = ReadLine(deadline);
    if (!line.ok()) {
      return std::move(line).error();
    }
    uint64_t size = 0;
    const std::string_view size_text = std::string_view{*line}.substr(0, line->find(';'));
    if (!ParseNumber(TrimBlanks(size_text), 16, &size) || size > kMaxBodyBytes - body.size()) {
      return ProtocolError("bad chunk size: " + *line);
    }
    if (size == 0) {
      for (int trailers = 0; trailers < kMaxLines; ++trailers) {
        Result<std::string> trailer = ReadLine(deadline);
        if (!trailer.ok()) {
          return std::move(trailer).error();
        }
        if (trailer->empty()) {
          return body;
        }
      }
      return ProtocolError("too many trailer fields");
    }
    Result<std::string> data = ReadExactly(size + 2, deadline);
    if (!data.ok()) {
      return std::move(data).error();
    }
    body.append(*data, 0, size);
  }
  return ProtocolError("too many chunks");
}

Result<HttpReply> HttpConnection::ReadReply(Clock::time_point deadline) {
  Result<std::string> status_line = ReadLine(deadline);
  if (!status_line.ok()) {
    return std::move(status_line).error();
  }
  // "HTTP/1.1 200 OK"
  const std::string_view line = *status_line;
  uint64_t status = 0;
  if (line.size() < 12 || line.substr(0, 5) != "HTTP/" || line[8] != ' ' ||
      !ParseNumber(line.substr(9, 3), 10, &status)) {
    return ProtocolError("bad status line: " + *status_line);
  }
  HttpReply reply;
  reply.status = static_cast<int>(status);
  const bool http10 = line.substr(5, 3) == "1.0";
  bool keep_alive = !http10;
  bool chunked = false;
  std::optional<uint64_t> length;
  for (int fields = 0;; ++fields) {
    if (fields == kMaxLines) {
      return ProtocolError("too many header fields");
    }
    Result<std::string> field = ReadLine(deadline);
    if (!field.ok()) {
      return std::move(field).error();
    }
    if (field->empty()) {
      break;
    }
    const size_t colon = field->find(':');
    if (colon == std::string::npos) {
      return ProtocolError("bad header field: " + *field);
    }
    const std::string_view name = std::string_view{*field}.substr(0, colon);
    const std::string_view value = TrimBlanks(std::string_view{*field}.substr(colon + 1));
    if (EqualsIgnoringCase(name, "Content-Length")) {
      uint64_t size = 0;
      if (!ParseNumber(value, 10, &size) || size > kMaxBodyBytes) {
        return ProtocolError("bad Content-Length: " + std::string(value));
      }
      length = size;
    } else if (EqualsIgnoringCase(name, "Transfer-Encoding")) {
      chunked = EqualsIgnoringCase(value, "chunked");
    } else if (EqualsIgnoringCase(name, "Connection")) {
      keep_alive = EqualsIgnoringCase(value, "keep-alive") ||
                   (!http10 && !EqualsIgnoringCase(value, "close"));
    }
  }
  reply.closes = !keep_alive;
  if (reply.status / 100 == 1 || reply.status == 204 || reply.status == 304) {
    return reply;
  }
  if (chunked) {
    Result<std::string> body = ReadChunked(deadline);
    if (!body.ok()) {
      return std::move(body).error();
    }
    reply.body = std::move(*body);
    return reply;
  }
  if (length.has_value()) {
    Result<std::string> body = ReadExactly(*length, deadline);
    if (!body.ok()) {
      return std::move(body).error();
    }
    reply.body = std::move(*body);
    return reply;
  }
  // No framing: the body ends with the connection.
  reply.closes = true;
  // Bounded by kMaxBodyBytes and the deadline.
  while (pending_.size() <= kMaxBodyBytes) {
    Result<size_t> got = Fill(deadline);
    if (!got.ok()) {
      return std::move(got).error();
    }
    if (*got == 0) {
      reply.body = std::exchange(pending_, std::string());
      return reply;
    }
  }
  return ProtocolError("body larger than " + std::to_string(kMaxBodyBytes) + " bytes");
}

Result<HttpReply> HttpConnection::RoundTrip(std::string_view request, Clock::time_point deadline) {
  if (!fd_.valid()) {
    return ProtocolError("the connection is closed");
  }
  if (Status sent = SendAll(request, deadline); !sent.ok()) {
    Close();
    return std::move(sent).error();
  }
  Result<HttpReply> reply = ReadReply(deadline);
  if (!reply.ok() || reply->closes) {
    Close();
    pending_.clear();
  }
  return reply;
}

}  // namespace pyexec::bench
