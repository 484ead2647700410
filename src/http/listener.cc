#include "http/listener.h"

#include <sys/socket.h>

#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/socket_base.hpp>
#include <cerrno>
#include <chrono>
#include <utility>

#include "http/connection.h"
#include "http/endpoint.h"
#include "http/request_id.h"
#include "http/wire_response.h"
#include "util/log.h"

namespace pyexec::http {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using tcp = boost::asio::ip::tcp;

// Connections taken per readiness wake-up before yielding to other work on the io threads.
constexpr int kAcceptBatch = 64;
// After running out of descriptors or memory: pending connections wait in the backlog.
constexpr std::chrono::milliseconds kAcceptBackoff{100};
// What an overloaded connection may already have sent, read and discarded before closing so
// that the close sends FIN rather than a reset that could destroy the 503 in flight.
constexpr size_t kOverloadDrainBytes = size_t{16} * 1024;

// accept4(2): errors that concern only the connection being accepted (or a signal); the next
// one may be fine. The man page asks to treat the network errors like EAGAIN.
bool IsTransientAcceptError(int error) {
  switch (error) {
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
    case EPERM:  // a firewall rule refused it
      return true;
    default:
      return false;
  }
}

}  // namespace

Result<std::unique_ptr<Listener>> Listener::Open(asio::io_context& io, ConnectionContext& context) {
  const ServerConfig& config = context.config;
  Result<tcp::endpoint> endpoint = ParseEndpoint(config.host, config.port);
  if (!endpoint.ok()) {
    return std::move(endpoint).error();
  }
  const std::string address = FormatEndpoint(*endpoint);
  const tcp protocol = endpoint->protocol();
  // Asio's acceptor opens without SOCK_CLOEXEC; the server forks (the zygote), so open it here.
  sys::UniqueFd fd(socket(protocol.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) {
    return SysError("socket(" + address + ")", errno);
  }
  auto strand = asio::make_strand(io);
  tcp::acceptor acceptor(strand);
  error_code ec;
  acceptor.assign(protocol, fd.get(), ec);
  if (ec) {
    return AsioError("assign(" + address + ")", ec);
  }
  static_cast<void>(fd.Release());  // the acceptor owns it now
  // A restarted server can bind while connections of the previous one sit in TIME_WAIT.
  acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (ec) {
    return AsioError("setsockopt(SO_REUSEADDR, " + address + ")", ec);
  }
  acceptor.bind(*endpoint, ec);
  if (ec) {
    return AsioError("bind(" + address + ")", ec);
  }
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return AsioError("listen(" + address + ")", ec);
  }
  const tcp::endpoint bound = acceptor.local_endpoint(ec);
  if (ec) {
    return AsioError("getsockname(" + address + ")", ec);
  }
  std::unique_ptr<Listener> listener(
      new Listener(io, context, std::move(strand), std::move(acceptor)));
  listener->port_ = bound.port();
  listener->address_ = FormatEndpoint(bound);
  listener->protocol_ = protocol;
  return listener;
}

Listener::Listener(asio::io_context& io, ConnectionContext& context,
                   asio::strand<asio::io_context::executor_type> strand, tcp::acceptor acceptor)
    : io_(io),
      context_(context),
      strand_(std::move(strand)),
      acceptor_(std::move(acceptor)),
      backoff_(strand_),
      protocol_(tcp::v4()) {}

void Listener::Start() {
  asio::post(strand_, [this] { WaitForConnection(); });
}

void Listener::Close() {
  if (closed_) {
    return;
  }
  closed_ = true;
  error_code ignored;
  acceptor_.close(ignored);
  backoff_.cancel();
}

void Listener::WaitForConnection() {
  if (closed_) {
    return;
  }
  acceptor_.async_wait(tcp::acceptor::wait_read, [this](const error_code& ec) { OnReadable(ec); });
}

void Listener::OnReadable(const error_code& ec) {
  if (closed_ || ec == asio::error::operation_aborted) {
    return;
  }
  if (ec) {
    LogWarning("http: waiting for connections on " + address_ + ": " + ec.message());
    BackOff();
    return;
  }
  for (int i = 0; i < kAcceptBatch; ++i) {
    sys::UniqueFd fd(
        accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!fd.valid()) {
      const int error = errno;
      if (error == EAGAIN || error == EWOULDBLOCK) {
        break;
      }
      if (IsTransientAcceptError(error)) {
        continue;
      }
      // EMFILE, ENFILE, ENOBUFS, ENOMEM: retrying at once would spin.
      LogWarning(SysError("accept4(" + address_ + ")", error).ToString());
      BackOff();
      return;
    }
    Admit(std::move(fd));
  }
  WaitForConnection();
}

void Listener::BackOff() {
  backoff_.expires_after(kAcceptBackoff);
  backoff_.async_wait([this](const error_code& ec) {
    if (!ec) {
      WaitForConnection();
    }
  });
}

void Listener::Admit(sys::UniqueFd fd) {
  if (context_.registry.size() >= context_.config.max_connections) {
    RejectOverloaded(std::move(fd));
    return;
  }
  tcp::socket socket(asio::make_strand(io_));
  error_code ec;
  socket.assign(protocol_, fd.get(), ec);
  if (ec) {
    LogWarning(AsioError("assign(accepted socket)", ec).ToString());
    return;
  }
  static_cast<void>(fd.Release());  // the socket owns it now
  auto connection = std::make_shared<Connection>(std::move(socket), context_);
  context_.registry.Add(connection);
  connection->Start();
}

// Answered without a Connection object, so a flood costs no memory beyond the moment: the 503
// fits in an empty socket send buffer, written non-blocking.
void Listener::RejectOverloaded(sys::UniqueFd fd) {
  tcp::socket socket(io_);
  error_code ec;
  socket.assign(protocol_, fd.get(), ec);
  if (ec) {
    return;
  }
  static_cast<void>(fd.Release());
  socket.non_blocking(true, ec);
  AccessRecord record;
  record.request_id = NewRequestId();
  record.status = 503;
  const tcp::endpoint remote = socket.remote_endpoint(ec);
  record.peer = ec ? std::string("unknown") : FormatEndpoint(remote);
  const std::string bytes = OverloadedResponseBytes(record.request_id);
  record.response_bytes = socket.write_some(asio::buffer(bytes), ec);
  record.complete = !ec && record.response_bytes == bytes.size();
  socket.shutdown(tcp::socket::shutdown_send, ec);
  std::array<char, 4096> discard{};
  for (size_t drained = 0; drained < kOverloadDrainBytes;) {
    const size_t n = socket.read_some(asio::buffer(discard), ec);
    if (ec || n == 0) {
      break;
    }
    drained += n;
  }
  socket.close(ec);
  if (context_.access_log) {
    context_.access_log(record);
  }
}

}  // namespace pyexec::http
