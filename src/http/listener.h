// Listener: the server's listening socket and its accept loop. It admits connections up to
// max_connections into the registry and answers any beyond with an immediate 503. Runs on a
// strand of the server's io_context. Internal to the http library.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "http/connection_context.h"
#include "sys/unique_fd.h"
#include "util/result.h"

namespace pyexec::http {

class Listener {
 public:
  // Binds and listens on config.host:config.port. The socket is created SOCK_CLOEXEC (and every
  // accepted one too), so a process the server forks never inherits it.
  static Result<std::unique_ptr<Listener>> Open(boost::asio::io_context& io,
                                                ConnectionContext& context);
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  uint16_t port() const { return port_; }
  const std::string& address() const { return address_; }  // "127.0.0.1:41234", "[::1]:41234"
  const boost::asio::strand<boost::asio::io_context::executor_type>& strand() const {
    return strand_;
  }

  // Posts the first wait for a connection.
  void Start();
  // On the strand: closes the listening socket; connection attempts are refused from then on.
  void Close();

 private:
  Listener(boost::asio::io_context& io, ConnectionContext& context,
           boost::asio::strand<boost::asio::io_context::executor_type> strand,
           boost::asio::ip::tcp::acceptor acceptor);

  void WaitForConnection();
  void OnReadable(const boost::system::error_code& ec);
  void Admit(sys::UniqueFd fd);
  void RejectOverloaded(sys::UniqueFd fd);
  void BackOff();

  boost::asio::io_context& io_;
  ConnectionContext& context_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer backoff_;
  boost::asio::ip::tcp protocol_;
  uint16_t port_ = 0;
  std::string address_;
  bool closed_ = false;
};

}  // namespace pyexec::http
