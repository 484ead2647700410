#include "http/connection.h"

#include <algorithm>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/beast/http/write.hpp>
#include <string_view>
#include <utility>

#include "http/endpoint.h"
#include "http/exchange.h"
#include "http/request_id.h"

namespace pyexec::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace beast_http = boost::beast::http;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

// One read's worth of bytes: the unparsed buffer holds at most max_header_bytes plus this.
constexpr size_t kReadChunk = size_t{16} * 1024;
// How much a closing connection drains before it gives up and closes anyway.
constexpr uint64_t kMaxLingerBytes = uint64_t{1024} * 1024;

std::string ToString(beast::string_view text) { return std::string(text.data(), text.size()); }

// A request whose target is absolute-form or '*' keeps it whole as its path; routes see it as
// unknown.
Request ToRequest(beast_http::request<beast_http::string_body>&& message) {
  Request request;
  request.method = ToString(message.method_string());
  request.target = ToString(message.target());
  request.path = std::string(PathOfTarget(request.target));
  request.version = static_cast<int>(message.version());
  request.headers.reserve(static_cast<size_t>(std::distance(message.begin(), message.end())));
  for (const auto& field : message) {
    request.headers.push_back(HeaderField{ToString(field.name_string()), ToString(field.value())});
  }
  request.body = std::move(message.body());
  return request;
}

std::optional<std::string_view> ClientRequestId(
    const beast_http::request<beast_http::string_body>& message) {
  const auto it = message.find(AsBeast(kRequestIdHeader));
  if (it == message.end()) {
    return std::nullopt;
  }
  return std::string_view(it->value().data(), it->value().size());
}

bool ExpectsContinue(const beast_http::request<beast_http::string_body>& message) {
  return message.version() >= 11 &&
         beast::iequals(message[beast_http::field::expect], "100-continue");
}

}  // namespace

Connection::Connection(asio::ip::tcp::socket socket, ConnectionContext& context)
    : context_(context),
      socket_(std::move(socket)),
      timer_(socket_.get_executor()),
      buffer_(context.config.max_header_bytes + kReadChunk),
      request_start_(Clock::now()) {
  error_code ec;
  const asio::ip::tcp::endpoint remote = socket_.remote_endpoint(ec);
  peer_ = ec ? std::string("unknown") : FormatEndpoint(remote);
  // Responses are written whole; do not hold their last segment back for an ACK.
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
}

// ---- Entry points from other threads -------------------------------------------------------

void Connection::Start() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] { self->Begin(); });
}

void Connection::PostResponse(uint64_t sequence, Response response) {
  asio::post(socket_.get_executor(),
             [self = shared_from_this(), sequence, response = std::move(response)]() mutable {
               self->OnResponse(sequence, std::move(response));
             });
}

void Connection::PostShutdown() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] { self->OnShutdown(); });
}

void Connection::PostClose() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] { self->Close(); });
}

// ---- Waiting for a request, and watching the peer meanwhile ---------------------------------

void Connection::Begin() {
  if (closed_) {
    return;
  }
  if (context_.shutting_down.load()) {
    Close();
    return;
  }
  // A new connection gets header_timeout from accept: one that says nothing is not idle.
  state_ = State::kAwaitingRequest;
  ArmDeadline(Deadline::kHeader, context_.config.header_timeout);
  StartRead();
}

// The one raw read into buffer_: while awaiting a request (to see its first byte), while a
// request is handled or answered (to see the peer leave, keeping what it pipelines), and while
// lingering (to drain). Beast's reads use buffer_ only when this is not outstanding.
void Connection::StartRead() {
  if (reading_ || closed_) {
    return;
  }
  const size_t room = buffer_.max_size() - buffer_.size();
  if (room == 0) {
    return;  // full of pipelined requests: TCP flow control holds the rest back
  }
  reading_ = true;
  socket_.async_read_some(buffer_.prepare(std::min(room, kReadChunk)),
                          [self = shared_from_this()](const error_code& ec, size_t bytes) {
                            self->OnReadSome(ec, bytes);
                          });
}

void Connection::OnReadSome(const error_code& ec, size_t bytes) {
  reading_ = false;
  if (closed_) {
    return;
  }
  buffer_.commit(bytes);
  switch (state_) {
    case State::kAwaitingRequest:
      ContinueAwaitingRequest(ec);
      return;
    case State::kHandling:
    case State::kWriting:
      WatchPeer(ec);
      return;
    case State::kLingering:
      ContinueLingering(ec);
      return;
    case State::kNew:
    case State::kReadingHeader:
    case State::kWritingContinue:
    case State::kReadingBody:
    case State::kClosed:
      return;  // no raw read is started in these states
  }
}

void Connection::ContinueAwaitingRequest(const error_code& ec) {
  if (timed_out_ && deadline_ == Deadline::kHeader) {
    FailRequest(RequestTimeout(context_.config.header_timeout, /*in_header=*/true));
    return;
  }
  if (buffer_.size() == 0) {
    if (ec || timed_out_) {
      Close();  // the peer left, or stayed idle too long: nothing to answer
      return;
    }
    StartRead();
    return;
  }
  if (deadline_ != Deadline::kHeader) {
    // A kept-alive connection's next request has begun: the header clock starts now.
    request_start_ = Clock::now();
    ArmDeadline(Deadline::kHeader, context_.config.header_timeout);
  }
  ReadHeader();  // also after an error: bytes already buffered are a request to answer
}

void Connection::WatchPeer(const error_code& ec) {
  if (!ec) {
    StartRead();  // pipelined bytes: kept in buffer_ for the next request
    return;
  }
  if (ec == asio::error::operation_aborted) {
    return;
  }
  // EOF or a reset before the response is written: whoever works on the request may stop.
  peer_gone_ = true;
  if (const std::shared_ptr<Exchange> exchange = exchange_.lock()) {
    exchange->NotifyClientGone();
  }
}

// ---- Reading one request with Beast ---------------------------------------------------------

void Connection::ReadHeader() {
  state_ = State::kReadingHeader;
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(context_.config.max_header_bytes));
  parser_->body_limit(static_cast<std::uint64_t>(context_.config.max_body_bytes));
  beast_http::async_read_header(
      socket_, buffer_, *parser_,
      [self = shared_from_this()](const error_code& ec, size_t) { self->OnHeader(ec); });
}

// How each Beast read completes: true when the parser has what it read; otherwise the read
// has been dealt with (ignored after a close, answered 408 after its deadline, classified by
// FailRead after an error).
bool Connection::ReadSucceeded(const error_code& ec) {
  if (closed_) {
    return false;
  }
  if (timed_out_) {
    const bool in_header = state_ == State::kReadingHeader;
    FailRequest(RequestTimeout(
        in_header ? context_.config.header_timeout : context_.config.body_timeout, in_header));
    return false;
  }
  if (ec) {
    FailRead(ec);
    return false;
  }
  return true;
}

void Connection::OnHeader(const error_code& ec) {
  if (!ReadSucceeded(ec)) {
    return;
  }
  const auto& message = parser_->get();
  // RFC 9112 section 3.2: an HTTP/1.1 request without exactly one Host is answered 400.
  if (message.version() >= 11 && message.count(beast_http::field::host) != 1) {
    FailRequest(BadRequest("an HTTP/1.1 request needs exactly one Host header"));
    return;
  }
  // Beast reads a body framed by anything but chunked as empty; refuse the ambiguity rather
  // than let the next "request" be this one's body (request smuggling, RFC 9112 section 6.1).
  if (message.count(beast_http::field::transfer_encoding) != 0 && !parser_->chunked()) {
    FailRequest(BadRequest("unsupported Transfer-Encoding: only chunked is accepted"));
    return;
  }
  if (parser_->is_done()) {
    Dispatch();
    return;
  }
  ArmDeadline(Deadline::kBody, context_.config.body_timeout);
  if (ExpectsContinue(message)) {
    // The length was acceptable (Beast refused a larger Content-Length already): invite the
    // body (RFC 9110 section 10.1.1).
    state_ = State::kWritingContinue;
    continue_.emplace(beast_http::status::continue_, 11);
    beast_http::async_write(socket_, *continue_,
                            [self = shared_from_this()](const error_code& write_ec, size_t) {
                              self->OnContinueWritten(write_ec);
                            });
    return;
  }
  ReadBody();
}

void Connection::OnContinueWritten(const error_code& ec) {
  continue_.reset();
  if (closed_) {
    return;
  }
  if (timed_out_) {
    FailRequest(RequestTimeout(context_.config.body_timeout, /*in_header=*/false));
    return;
  }
  if (ec) {
    Close();
    return;
  }
  ReadBody();
}

void Connection::ReadBody() {
  state_ = State::kReadingBody;
  beast_http::async_read(
      socket_, buffer_, *parser_,
      [self = shared_from_this()](const error_code& ec, size_t) { self->OnBody(ec); });
}

void Connection::OnBody(const error_code& ec) {
  if (ReadSucceeded(ec)) {
    Dispatch();
  }
}

void Connection::FailRead(const error_code& ec) {
  const std::optional<ReadFailure> failure =
      ClassifyReadError(ec, state_ == State::kReadingHeader, context_.config);
  if (!failure.has_value()) {
    Close();
    return;
  }
  FailRequest(*failure);
}

// Answers the request being read with the server's own error, then closes: after a framing
// error nothing later on the connection can be trusted to start at a request boundary.
void Connection::FailRequest(const ReadFailure& failure) {
  DisarmDeadline();
  request_id_.clear();
  method_.clear();
  path_.clear();
  if (parser_.has_value()) {
    // What Beast read before failing (413 comes with the whole header), for the id and the log.
    const auto& message = parser_->get();
    request_id_ = ChooseRequestId(ClientRequestId(message));
    method_ = ToString(message.method_string());
    path_ = std::string(PathOfTarget(ToString(message.target())));
    parser_.reset();
  } else {
    request_id_ = NewRequestId();
  }
  version_ = 11;
  head_request_ = false;
  request_body_bytes_ = 0;
  WriteResponse(failure.ToResponse(), /*keep_alive=*/false);
}

void Connection::Dispatch() {
  DisarmDeadline();
  state_ = State::kHandling;
  beast_http::request<beast_http::string_body> message = parser_->release();
  parser_.reset();
  request_id_ = ChooseRequestId(ClientRequestId(message));
  version_ = message.version();
  head_request_ = message.method() == beast_http::verb::head;
  keep_alive_ = message.keep_alive();
  request_body_bytes_ = message.body().size();
  Request request = ToRequest(std::move(message));
  method_ = request.method;
  path_ = request.path;

  ++sequence_;
  std::shared_ptr<Exchange> exchange(new Exchange(std::move(request), request_id_, peer_,
                                                  weak_from_this(), sequence_, context_.liveness));
  exchange_ = exchange;
  context_.handler(std::move(exchange));
  StartRead();  // watch for the peer leaving while the handler works
}

// ---- Writing responses ----------------------------------------------------------------------

void Connection::OnResponse(uint64_t sequence, Response response) {
  if (closed_ || state_ != State::kHandling || sequence != sequence_) {
    return;
  }
  const bool keep_alive = keep_alive_ && !peer_gone_ && !context_.shutting_down.load();
  WriteResponse(std::move(response), keep_alive);
}

void Connection::WriteResponse(Response response, bool keep_alive) {
  state_ = State::kWriting;
  keep_alive_ = keep_alive;
  status_ = WireStatus(response.status);
  response_.emplace(ToWireResponse(std::move(response),
                                   WireOptions{version_, keep_alive, head_request_, request_id_}));
  ArmDeadline(Deadline::kWrite, context_.config.write_timeout);
  beast_http::async_write(socket_, *response_,
                          [self = shared_from_this()](const error_code& ec, size_t bytes) {
                            self->OnWritten(ec, bytes);
                          });
}

void Connection::OnWritten(const error_code& ec, size_t bytes) {
  DisarmDeadline();
  response_.reset();
  exchange_.reset();
  ReportAccess(bytes, !ec && !closed_);
  if (closed_) {
    return;
  }
  // With several io threads the peer's end of file (or reset) can reach the strand before this
  // completion, after OnResponse chose keep_alive_. Everything the peer sent has been read, so
  // closing cannot reset the response. Reading again may never complete: Asio's epoll reactor
  // is edge-triggered and, after a recv of 0 bytes, waits for an edge that a closed peer does
  // not send, leaving the connection in CLOSE_WAIT until a deadline.
  if (ec || peer_gone_) {
    Close();
    return;
  }
  if (!keep_alive_ || context_.shutting_down.load()) {
    LingeringClose();
    return;
  }
  state_ = State::kAwaitingRequest;
  if (buffer_.size() > 0) {
    // The next request is already here (pipelined).
    request_start_ = Clock::now();
    ArmDeadline(Deadline::kHeader, context_.config.header_timeout);
    if (reading_) {
      // Take the watching read back; its completion continues with this request.
      error_code ignored;
      socket_.cancel(ignored);
    } else {
      ReadHeader();
    }
    return;
  }
  ArmDeadline(Deadline::kIdle, context_.config.idle_keepalive_timeout);
  StartRead();  // nothing when the watching read is still outstanding: it carries on
}

void Connection::ReportAccess(size_t bytes, bool complete) {
  if (!context_.access_log) {
    return;
  }
  AccessRecord record;
  record.request_id = request_id_;
  record.method = method_;
  record.path = path_;
  record.peer = peer_;
  record.status = status_;
  record.duration = Clock::now() - request_start_;
  record.request_body_bytes = request_body_bytes_;
  record.response_bytes = bytes;
  record.complete = complete;
  context_.access_log(record);
}

// ---- Closing --------------------------------------------------------------------------------

// Closing a socket with unread bytes sends a reset, which can destroy the response we just
// wrote before the client reads it (RFC 9112 section 9.6). So: stop sending, drain what the
// peer still sends for a bounded time and size, then close.
void Connection::LingeringClose() {
  state_ = State::kLingering;
  error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  lingered_bytes_ += buffer_.size();
  buffer_.consume(buffer_.size());
  ArmDeadline(Deadline::kLinger, context_.config.linger_timeout);
  StartRead();
}

void Connection::ContinueLingering(const error_code& ec) {
  lingered_bytes_ += buffer_.size();
  buffer_.consume(buffer_.size());
  if (ec || lingered_bytes_ > kMaxLingerBytes) {
    Close();
    return;
  }
  StartRead();
}

void Connection::OnShutdown() {
  if (closed_) {
    return;
  }
  // Idle: nobody waits for anything on this connection. Otherwise the request in progress is
  // answered with Connection: close.
  if (state_ == State::kAwaitingRequest && buffer_.size() == 0) {
    Close();
  }
}

void Connection::Close() {
  if (closed_) {
    return;
  }
  const std::shared_ptr<Connection> self = shared_from_this();  // Remove() below may drop the last
  closed_ = true;
  state_ = State::kClosed;
  DisarmDeadline();
  error_code ignored;
  socket_.close(ignored);  // outstanding operations complete with operation_aborted
  if (const std::shared_ptr<Exchange> exchange = exchange_.lock()) {
    exchange->NotifyClientGone();  // nothing when it has been answered already
  }
  exchange_.reset();
  context_.registry.Remove(this);
}

// ---- Deadlines ------------------------------------------------------------------------------

// One timer per connection. A deadline that fires cancels the socket's operations; their
// completion handlers see timed_out_ and answer 408 (or close). A generation number discards a
// firing that raced with re-arming.
void Connection::ArmDeadline(Deadline deadline, std::chrono::milliseconds timeout) {
  deadline_ = deadline;
  timed_out_ = false;
  const uint64_t generation = ++deadline_generation_;
  timer_.expires_after(timeout);
  timer_.async_wait([self = shared_from_this(), generation](const error_code& ec) {
    self->OnTimer(ec, generation);
  });
}

void Connection::DisarmDeadline() {
  deadline_ = Deadline::kNone;
  timed_out_ = false;
  ++deadline_generation_;
  timer_.cancel();
}

void Connection::OnTimer(const error_code& ec, uint64_t generation) {
  if (ec || generation != deadline_generation_ || closed_) {
    return;
  }
  timed_out_ = true;
  if (deadline_ == Deadline::kWrite || deadline_ == Deadline::kLinger) {
    Close();  // a peer that does not read, or does not close: nothing more to tell it
    return;
  }
  error_code ignored;
  socket_.cancel(ignored);
}

}  // namespace pyexec::http
