// ReadFailure: how the server itself answers a request it could not read (malformed, too
// large, too slow), before any handler runs. Internal to the http library.
#pragma once

#include <boost/system/error_code.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "http/config.h"
#include "http/response.h"

namespace pyexec::http {

struct ReadFailure {
  int status = 400;
  std::string_view type;  // the JSON error's "type"
  std::string message;

  Response ToResponse() const { return ErrorResponse(status, type, message); }
};

// What reading a request with Beast failing with `ec` is answered; nullopt when there is no one
// to answer (the peer closed or reset the connection, or the read was cancelled).
// `in_header` says whether the header block was still being read.
std::optional<ReadFailure> ClassifyReadError(const boost::system::error_code& ec, bool in_header,
                                             const ServerConfig& config);

ReadFailure BadRequest(std::string message);
ReadFailure RequestTimeout(std::chrono::milliseconds timeout, bool in_header);

}  // namespace pyexec::http
