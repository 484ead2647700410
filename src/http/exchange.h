// Exchange: one request and the promise of its response, handed to the server's handler. The
// handler may keep it, pass it to another thread and answer later. Used by the server process.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "http/request.h"
#include "http/response.h"

namespace pyexec::http {

class Connection;
class IoLiveness;

class Exchange {
 public:
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;
  // An exchange dropped without a response is answered 500 (type "internal"), so that a
  // handler's mistake cannot hold a connection forever.
  ~Exchange();

  const Request& request() const { return request_; }
  const std::string& method() const { return request_.method; }
  const std::string& target() const { return request_.target; }
  const std::string& path() const { return request_.path; }
  const std::string& body() const { return request_.body; }
  // First value of the header `name`, compared case-insensitively.
  std::optional<std::string_view> Header(std::string_view name) const {
    return request_.Header(name);
  }
  // The client's X-Request-Id when sane, else a generated one; echoed in the response.
  const std::string& request_id() const { return request_id_; }
  const std::string& peer() const { return peer_; }  // "127.0.0.1:50312", "[::1]:50312"

  // Sends `response`. Callable from any thread, once: later calls are ignored (and logged).
  // Returns at once; the write happens on the connection's io thread. A response for a client
  // that has gone, or for a server that has stopped, is dropped.
  void Respond(Response response);

  // `callback` runs exactly once if the response can no longer be delivered before Respond is
  // called: the peer closed or reset the connection (bytes it sends meanwhile are kept as
  // pipelined requests, not taken for a disconnect), or the server force-closed it. It runs on
  // an io thread and must not block; when the client is already gone at registration, it runs
  // at once on the calling thread. A second registration replaces the first.
  void OnClientGone(std::function<void()> callback);
  bool client_gone() const;

 private:
  friend class Connection;
  Exchange(Request request, std::string request_id, std::string peer,
           std::weak_ptr<Connection> connection, uint64_t sequence,
           std::shared_ptr<IoLiveness> liveness);

  // From the connection's io thread.
  void NotifyClientGone();

  const Request request_;
  const std::string request_id_;
  const std::string peer_;
  const std::weak_ptr<Connection> connection_;
  const uint64_t sequence_;  // which request of the connection this answers
  const std::shared_ptr<IoLiveness> liveness_;

  mutable std::mutex mutex_;
  bool responded_ = false;
  bool client_gone_ = false;
  std::function<void()> on_client_gone_;
};

// Receives every request. Runs on an io thread, concurrently for different connections when
// io_threads > 1; it must not block (hand slow work to another thread and Respond from there).
using ExchangeHandler = std::function<void(std::shared_ptr<Exchange>)>;

}  // namespace pyexec::http
