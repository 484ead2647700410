#include "support/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "util/strings.h"

namespace pyexec::testing {
namespace {

// No test response comes near this; a runaway server fails instead of exhausting memory.
constexpr size_t kMaxResponseBytes = size_t{64} * 1024 * 1024;

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

}  // namespace

std::optional<std::string> HttpResponse::Header(std::string_view name) const {
  for (const auto& [field, value] : headers) {
    if (EqualsIgnoringCase(field, name)) {
      return value;
    }
  }
  return std::nullopt;
}

size_t HttpResponse::HeaderCount(std::string_view name) const {
  size_t count = 0;
  for (const auto& header : headers) {
    if (EqualsIgnoringCase(header.first, name)) {
      ++count;
    }
  }
  return count;
}

std::string FormatRequest(std::string_view method, std::string_view target, std::string_view body,
                          const HttpHeaders& headers, std::string_view version) {
  std::string request;
  request.append(method).append(" ").append(target).append(" ").append(version).append("\r\n");
  request += "Host: test\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") {
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  for (const auto& [name, value] : headers) {
    request.append(name).append(": ").append(value).append("\r\n");
  }
  request += "\r\n";
  request.append(body);
  return request;
}

Result<HttpClient> HttpClient::Connect(std::string_view host, uint16_t port,
                                       std::chrono::milliseconds io_timeout) {
  sockaddr_storage address{};
  socklen_t address_size = 0;
  const std::string host_text(host);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
  if (inet_pton(AF_INET, host_text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    address_size = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host_text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    address_size = sizeof(sockaddr_in6);
  } else {
    return MakeError(ErrorCode::kInvalidInput, "http client: not an IP address: " + host_text);
  }
  sys::UniqueFd fd(socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return SysError("socket", errno);
  }
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(io_timeout).count();
  const timeval timeout{static_cast<time_t>(micros / 1000000),
                        static_cast<suseconds_t>(micros % 1000000)};
  if (setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0 ||
      setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout) != 0) {
    return SysError("setsockopt(SO_RCVTIMEO)", errno);
  }
  const int one = 1;
  if (setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
    return SysError("setsockopt(TCP_NODELAY)", errno);
  }
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), address_size) != 0) {
    return SysError("connect(" + host_text + ":" + std::to_string(port) + ")", errno);
  }
  return HttpClient(std::move(fd));
}

Status HttpClient::Send(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t sent = send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) {
        continue;
      }
      return SysError("send", errno);
    }
    bytes.remove_prefix(static_cast<size_t>(sent));
  }
  return OkStatus();
}

Result<size_t> HttpClient::Fill() {
  if (pending_.size() > kMaxResponseBytes) {
    return ProtocolError("response larger than " + std::to_string(kMaxResponseBytes));
  }
  std::array<char, size_t{64} * 1024> chunk{};
  while (true) {
    const ssize_t got = recv(fd_.get(), chunk.data(), chunk.size(), 0);
    if (got >= 0) {
      pending_.append(chunk.data(), static_cast<size_t>(got));
      return static_cast<size_t>(got);
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return MakeError(ErrorCode::kUnavailable, "http client: timed out waiting for the server");
    }
    return SysError("recv", errno);
  }
}

Result<std::string> HttpClient::ReadLine() {
  while (true) {
    const size_t end = pending_.find("\r\n");
    if (end != std::string::npos) {
      std::string line = pending_.substr(0, end);
      pending_.erase(0, end + 2);
      return line;
    }
    Result<size_t> got = Fill();
    if (!got.ok()) {
      return std::move(got).error();
    }
    if (*got == 0) {
      return ProtocolError("connection closed in the middle of a line");
    }
  }
}

Result<std::string> HttpClient::ReadExactly(size_t size) {
  while (pending_.size() < size) {
    Result<size_t> got = Fill();
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

Result<std::string> HttpClient::ReadChunkedBody() {
  std::string body;
  while (true) {
    Result<std::string> line = ReadLine();
    if (!line.ok()) {
      return std::move(line).error();
    }
    uint64_t size = 0;
    const std::string_view size_text = std::string_view{*line}.substr(0, line->find(';'));
    if (!ParseNumber(TrimBlanks(size_text), 16, &size) || size > kMaxResponseBytes) {
      return ProtocolError("bad chunk size: " + *line);
    }
    if (size == 0) {
      break;
    }
    Result<std::string> data = ReadExactly(size + 2);
    if (!data.ok()) {
      return std::move(data).error();
    }
    body.append(*data, 0, size);
  }
  while (true) {  // trailer fields, up to the empty line
    Result<std::string> line = ReadLine();
    if (!line.ok()) {
      return std::move(line).error();
    }
    if (line->empty()) {
      return body;
    }
  }
}

Result<HttpResponse> HttpClient::ReadResponse(bool head_request) {
  Result<std::string> status_line = ReadLine();
  if (!status_line.ok()) {
    return std::move(status_line).error();
  }
  // "HTTP/1.1 200 OK"
  HttpResponse response;
  const std::string_view line = *status_line;
  if (line.size() < 12 || line.substr(0, 5) != "HTTP/" || line[8] != ' ') {
    return ProtocolError("bad status line: " + *status_line);
  }
  response.version = line.substr(5, 3) == "1.0" ? 10 : 11;
  uint64_t status = 0;
  if (!ParseNumber(line.substr(9, 3), 10, &status)) {
    return ProtocolError("bad status code: " + *status_line);
  }
  response.status = static_cast<int>(status);
  response.reason = std::string(TrimBlanks(line.substr(12)));
  while (true) {
    Result<std::string> field = ReadLine();
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
    response.headers.emplace_back(
        field->substr(0, colon),
        std::string(TrimBlanks(std::string_view{*field}.substr(colon + 1))));
  }
  if (head_request || response.status / 100 == 1 || response.status == 204 ||
      response.status == 304) {
    return response;
  }
  const std::optional<std::string> encoding = response.Header("Transfer-Encoding");
  if (encoding.has_value() && EqualsIgnoringCase(*encoding, "chunked")) {
    Result<std::string> body = ReadChunkedBody();
    if (!body.ok()) {
      return std::move(body).error();
    }
    response.body = std::move(*body);
    return response;
  }
  const std::optional<std::string> length = response.Header("Content-Length");
  if (length.has_value()) {
    uint64_t size = 0;
    if (!ParseNumber(*length, 10, &size) || size > kMaxResponseBytes) {
      return ProtocolError("bad Content-Length: " + *length);
    }
    Result<std::string> body = ReadExactly(size);
    if (!body.ok()) {
      return std::move(body).error();
    }
    response.body = std::move(*body);
    return response;
  }
  Result<std::string> rest = ReadUntilClosed();  // no framing: the body ends with the connection
  if (!rest.ok()) {
    return std::move(rest).error();
  }
  response.body = std::move(*rest);
  return response;
}

Result<HttpResponse> HttpClient::RoundTrip(std::string_view request) {
  if (Status sent = Send(request); !sent.ok()) {
    return std::move(sent).error();
  }
  return ReadResponse();
}

Result<std::string> HttpClient::ReadUntilClosed() {
  while (true) {
    Result<size_t> got = Fill();
    if (!got.ok()) {
      return std::move(got).error();
    }
    if (*got == 0) {
      return std::exchange(pending_, std::string());
    }
  }
}

void HttpClient::ShutdownWrite() { static_cast<void>(shutdown(fd_.get(), SHUT_WR)); }

void HttpClient::Close() { fd_.Reset(); }

void HttpClient::Reset() {
  const linger abort_on_close{1, 0};
  static_cast<void>(
      setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close));
  fd_.Reset();
}

}  // namespace pyexec::testing
