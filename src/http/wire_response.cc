#include "http/wire_response.h"

#include <algorithm>
#include <array>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <utility>

#include "util/log.h"

namespace pyexec::http {
namespace {

namespace beast_http = boost::beast::http;

// Beast refuses fields of 64 KiB or more by throwing; handlers' fields stay far below.
constexpr size_t kMaxExtraNameBytes = 256;
constexpr size_t kMaxExtraValueBytes = size_t{8} * 1024;

constexpr std::array<std::string_view, 7> kServerOwnedFields = {
    "Content-Length", "Transfer-Encoding", "Connection",  "Keep-Alive",
    "Upgrade",        "X-Request-Id",      "Content-Type"};

bool IsTokenCharacter(char c) {
  constexpr std::string_view kPunctuation = "!#$%&'*+-.^_`|~";
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         kPunctuation.find(c) != std::string_view::npos;
}

bool IsFieldValueCharacter(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte == '\t' || (byte >= 0x20 && byte != 0x7f);
}

// 1xx, 204 and 304 responses carry no body and no Content-Length (RFC 9110 section 8.6).
bool StatusForbidsBody(int status) { return status == 204 || status == 304; }

}  // namespace

int WireStatus(int status) { return (status >= 200 && status <= 599) ? status : 500; }

bool IsAllowedExtraHeader(const HeaderField& field) {
  if (field.name.empty() || field.name.size() > kMaxExtraNameBytes ||
      field.value.size() > kMaxExtraValueBytes) {
    return false;
  }
  if (!std::all_of(field.name.begin(), field.name.end(), IsTokenCharacter) ||
      !std::all_of(field.value.begin(), field.value.end(), IsFieldValueCharacter)) {
    return false;
  }
  return std::none_of(
      kServerOwnedFields.begin(), kServerOwnedFields.end(),
      [&](std::string_view owned) { return EqualsIgnoringCase(owned, field.name); });
}

WireResponse ToWireResponse(Response response, const WireOptions& options) {
  const int status = WireStatus(response.status);
  if (status != response.status) {
    LogError("http: handler answered status " + std::to_string(response.status) + " for request " +
             std::string(options.request_id) + "; sent 500 instead");
    response = ErrorResponse(500, "internal", "the request handler gave an invalid status");
  }
  WireResponse message;
  message.version(options.version);
  message.result(static_cast<unsigned>(status));
  const std::string& content_type = response.content_type;
  if (!content_type.empty()) {
    if (content_type.size() <= kMaxExtraValueBytes &&
        std::all_of(content_type.begin(), content_type.end(), IsFieldValueCharacter)) {
      message.set(beast_http::field::content_type, content_type);
    } else {
      LogWarning("http: dropped a malformed Content-Type of request " +
                 std::string(options.request_id));
    }
  }
  for (const HeaderField& field : response.headers) {
    if (IsAllowedExtraHeader(field)) {
      message.insert(field.name, field.value);
    } else {
      LogWarning("http: dropped response field '" + field.name.substr(0, kMaxExtraNameBytes) +
                 "' of request " + std::string(options.request_id));
    }
  }
  message.set(AsBeast(kRequestIdHeader), AsBeast(options.request_id));
  if (StatusForbidsBody(status)) {
    message.body().clear();
  } else if (options.head_request) {
    message.content_length(response.body.size());
  } else {
    message.content_length(response.body.size());
    message.body() = std::move(response.body);
  }
  message.keep_alive(options.keep_alive);
  return message;
}

std::string OverloadedResponseBytes(std::string_view request_id) {
  const Response response =
      ErrorResponse(503, "overloaded", "the server has too many open connections");
  std::string bytes = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: ";
  bytes += response.content_type;
  bytes += "\r\nContent-Length: " + std::to_string(response.body.size());
  bytes += "\r\nX-Request-Id: ";
  bytes += request_id;
  bytes += "\r\nConnection: close\r\n\r\n";
  bytes += response.body;
  return bytes;
}

}  // namespace pyexec::http
