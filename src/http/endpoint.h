// IP endpoints as text, both ways, and Asio's error codes as pyexec Errors. Internal to the
// http library (the only code that includes Asio).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "util/result.h"

namespace pyexec::http {

// "127.0.0.1:8080", "[::1]:8080".
std::string FormatEndpoint(const boost::asio::ip::tcp::endpoint& endpoint);

// An IP literal and a port; kInvalidInput naming `host` when it is not an IP literal.
Result<boost::asio::ip::tcp::endpoint> ParseEndpoint(std::string_view host, uint16_t port);

// A system-category code becomes SysError(call, errno), so EADDRINUSE stays typed; any other
// category keeps its message.
Error AsioError(std::string call, const boost::system::error_code& ec);

}  // namespace pyexec::http
