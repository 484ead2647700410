// WireResponse: a handler's Response turned into the Beast message a connection writes, with
// the framing the server owns (Content-Length, Connection, X-Request-Id). Internal to the http
// library.
#pragma once

#include <boost/beast/core/string_type.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <string>
#include <string_view>

#include "http/request.h"
#include "http/response.h"

namespace pyexec::http {

using WireResponse = boost::beast::http::response<boost::beast::http::string_body>;

inline constexpr std::string_view kRequestIdHeader = "X-Request-Id";

// Beast 1.74 speaks boost::string_view.
inline boost::beast::string_view AsBeast(std::string_view text) {
  return {text.data(), text.size()};
}

struct WireOptions {
  unsigned version = 11;  // the request's: 10 or 11
  bool keep_alive = false;
  bool head_request = false;  // HEAD: the body's Content-Length, without the body
  std::string_view request_id;
};

WireResponse ToWireResponse(Response response, const WireOptions& options);

// The status sent for a handler's `status`: itself within 200..599, else 500.
int WireStatus(int status);

// Whether a handler's extra field may be sent: a token name, a value of visible characters,
// spaces and tabs, both of bounded size, and not a field the server owns.
bool IsAllowedExtraHeader(const HeaderField& field);

// The whole 503 written to a connection beyond max_connections, which is then closed unread.
std::string OverloadedResponseBytes(std::string_view request_id);

}  // namespace pyexec::http
