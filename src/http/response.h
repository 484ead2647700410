// Response: what a handler answers, and the JSON error document every server-made error uses.
// Plain data; the server adds framing (Content-Length, Connection, X-Request-Id) itself.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "http/request.h"

namespace pyexec::http {

inline constexpr std::string_view kJsonContentType = "application/json";

struct Response {
  int status = 200;  // 200..599; anything else is sent as 500
  std::string content_type = std::string(kJsonContentType);  // empty: no Content-Type
  std::string body;
  // Extra fields. Framing fields the server owns (Content-Length, Transfer-Encoding,
  // Connection, Keep-Alive, Upgrade, X-Request-Id, Content-Type) and malformed ones are dropped.
  std::vector<HeaderField> headers;
};

// {"error": {"type": "<type>", "message": "<message>"}}, application/json.
Response ErrorResponse(int status, std::string_view type, std::string_view message);

}  // namespace pyexec::http
