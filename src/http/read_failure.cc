#include "http/read_failure.h"

#include <boost/asio/error.hpp>
#include <boost/beast/http/error.hpp>
#include <string>

namespace pyexec::http {

namespace beast_http = boost::beast::http;

ReadFailure BadRequest(std::string message) {
  return ReadFailure{400, "bad_request", std::move(message)};
}

ReadFailure RequestTimeout(std::chrono::milliseconds timeout, bool in_header) {
  return ReadFailure{408, "request_timeout",
                     std::string("the request ") + (in_header ? "header" : "body") +
                         " did not arrive within " + std::to_string(timeout.count()) + " ms"};
}

std::optional<ReadFailure> ClassifyReadError(const boost::system::error_code& ec, bool in_header,
                                             const ServerConfig& config) {
  if (ec == beast_http::error::header_limit ||
      (in_header && ec == beast_http::error::buffer_overflow)) {
    return ReadFailure{
        431, "header_too_large",
        "the request header exceeds " + std::to_string(config.max_header_bytes) + " bytes"};
  }
  if (ec == beast_http::error::body_limit) {
    return ReadFailure{
        413, "payload_too_large",
        "the request body exceeds " + std::to_string(config.max_body_bytes) + " bytes"};
  }
  if (ec.category() == beast_http::make_error_code(beast_http::error::bad_method).category() &&
      ec != beast_http::error::end_of_stream && ec != beast_http::error::partial_message &&
      ec != beast_http::error::need_more) {
    return BadRequest("malformed request: " + ec.message());
  }
  // end_of_stream, partial_message, eof, connection_reset, operation_aborted, ...: the peer
  // left (or we are closing); nobody reads an answer.
  return std::nullopt;
}

}  // namespace pyexec::http
