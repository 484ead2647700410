#include "http/endpoint.h"

#include <boost/asio/ip/address.hpp>
#include <string>

namespace pyexec::http {

std::string FormatEndpoint(const boost::asio::ip::tcp::endpoint& endpoint) {
  const boost::asio::ip::address address = endpoint.address();
  const std::string port = std::to_string(endpoint.port());
  if (address.is_v6()) {
    return "[" + address.to_string() + "]:" + port;
  }
  return address.to_string() + ":" + port;
}

Result<boost::asio::ip::tcp::endpoint> ParseEndpoint(std::string_view host, uint16_t port) {
  boost::system::error_code ec;
  const boost::asio::ip::address address = boost::asio::ip::make_address(std::string(host), ec);
  if (ec) {
    return MakeError(ErrorCode::kInvalidInput,
                     "http server host '" + std::string(host) + "' is not an IP address");
  }
  return boost::asio::ip::tcp::endpoint(address, port);
}

Error AsioError(std::string call, const boost::system::error_code& ec) {
  if (ec.category() == boost::system::system_category()) {
    return SysError(std::move(call), ec.value());
  }
  return MakeError(ErrorCode::kSystem, std::move(call) + ": " + ec.message());
}

}  // namespace pyexec::http
