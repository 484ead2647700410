// Connection: one accepted TCP connection, from its first byte to its close. It reads requests
// one at a time within the configured limits and deadlines, answers malformed, oversized and
// slow ones itself, hands the others to the handler as Exchanges, and writes their responses in
// order. Everything runs on the connection's strand of the server's io_context. Internal to the
// http library.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "http/connection_context.h"
#include "http/read_failure.h"
#include "http/response.h"
#include "http/wire_response.h"

namespace pyexec::http {

class Exchange;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // `socket` is connected and its executor is a strand of its own.
  Connection(boost::asio::ip::tcp::socket socket, ConnectionContext& context);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // The three entry points other threads use; each posts to the connection's strand.
  void Start();
  void PostResponse(uint64_t sequence, Response response);
  // Shutdown has begun: an idle connection closes now, a busy one after its response.
  void PostShutdown();
  // Closes now, whatever it is doing; a pending exchange learns that its client is gone.
  void PostClose();

 private:
  enum class State {
    kNew,
    kAwaitingRequest,  // no byte of the next request yet (the peer is watched for a close)
    kReadingHeader,    // Beast reads the header block
    kWritingContinue,  // 100 Continue
    kReadingBody,      // Beast reads the body
    kHandling,         // the handler has the exchange (the peer is watched for a close)
    kWriting,          // a response
    kLingering,        // after the last response: draining until the peer closes
    kClosed,
  };
  // Which deadline the timer enforces.
  enum class Deadline { kNone, kIdle, kHeader, kBody, kWrite, kLinger };

  void Begin();
  void StartRead();
  void OnReadSome(const boost::system::error_code& ec, size_t bytes);
  void ContinueAwaitingRequest(const boost::system::error_code& ec);
  void WatchPeer(const boost::system::error_code& ec);
  void ContinueLingering(const boost::system::error_code& ec);

  void ReadHeader();
  bool ReadSucceeded(const boost::system::error_code& ec);
  void OnHeader(const boost::system::error_code& ec);
  void OnContinueWritten(const boost::system::error_code& ec);
  void ReadBody();
  void OnBody(const boost::system::error_code& ec);
  void FailRead(const boost::system::error_code& ec);
  void FailRequest(const ReadFailure& failure);
  void Dispatch();

  void OnResponse(uint64_t sequence, Response response);
  void WriteResponse(Response response, bool keep_alive);
  void OnWritten(const boost::system::error_code& ec, size_t bytes);
  void ReportAccess(size_t bytes, bool complete);

  void LingeringClose();
  void OnShutdown();
  void Close();

  void ArmDeadline(Deadline deadline, std::chrono::milliseconds timeout);
  void DisarmDeadline();
  void OnTimer(const boost::system::error_code& ec, uint64_t generation);

  ConnectionContext& context_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer timer_;
  // Unparsed bytes: at most max_header_bytes plus one read, however much the peer pipelines.
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::optional<WireResponse> response_;
  std::optional<boost::beast::http::response<boost::beast::http::empty_body>> continue_;
  std::string peer_;

  State state_ = State::kNew;
  bool closed_ = false;
  bool reading_ = false;  // an async_read_some into buffer_ is outstanding
  // The peer closed or reset while a response was pending: that response is the last, and no
  // read may follow (after end of file one may never complete).
  bool peer_gone_ = false;

  Deadline deadline_ = Deadline::kNone;
  bool timed_out_ = false;
  uint64_t deadline_generation_ = 0;

  // The request being handled or answered, for the response and the access log.
  uint64_t sequence_ = 0;
  std::weak_ptr<Exchange> exchange_;
  std::string request_id_;
  std::string method_;
  std::string path_;
  unsigned version_ = 11;
  bool head_request_ = false;
  bool keep_alive_ = false;  // the request allows it (set when dispatched or written)
  int status_ = 0;
  uint64_t request_body_bytes_ = 0;
  std::chrono::steady_clock::time_point request_start_;
  uint64_t lingered_bytes_ = 0;
};

}  // namespace pyexec::http
