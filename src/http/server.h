// Server: pyexec's HTTP/1.1 transport. It listens, reads requests within ServerConfig's limits
// (answering malformed, oversized, slow and excess ones itself with JSON errors) and hands each
// request to one handler as an Exchange; it knows nothing of routes or executions. A fixed set
// of io threads runs everything; nothing here starts a thread per connection or per request.
// Runs in the server process. Asio and Beast stay behind this header.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "http/access_record.h"
#include "http/config.h"
#include "http/exchange.h"
#include "util/result.h"

namespace pyexec::http {

class Server {
 public:
  // `handler` receives every request that was read whole (see ExchangeHandler); `access_log`,
  // when set, is called after each response is written, the server's own errors included.
  Server(ServerConfig config, ExchangeHandler handler, AccessLog access_log = {});
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  // Stops without waiting: BeginShutdown() then ForceClose(). Must not run on an io thread.
  ~Server();

  // Validates the config, binds, listens and starts the io threads. Errors: kInvalidInput for a
  // bad config or host, kSystem with errno for the socket calls, named with the address
  // ("bind(127.0.0.1:8080): Address already in use"). Once only.
  Status Start();

  uint16_t port() const;        // the bound port after Start(); 0 before
  std::string address() const;  // "127.0.0.1:41234", "[::1]:41234"; empty before Start()
  size_t connection_count() const;

  // Graceful shutdown, first step: the listening socket is closed (when this returns, unless
  // called on an io thread, a new connection is refused) and idle connections are closed;
  // requests being read or handled keep their connection until their response is written, with
  // Connection: close. Idempotent.
  void BeginShutdown();
  // True once every connection has closed; false if `deadline` comes first.
  bool WaitUntilDrained(std::chrono::steady_clock::time_point deadline) const;
  // True once at most `count` connections are open; false if `deadline` comes first.
  bool WaitUntilConnectionsAtMost(size_t count,
                                  std::chrono::steady_clock::time_point deadline) const;
  // Closes every connection (pending exchanges see OnClientGone; their responses are dropped),
  // stops and joins the io threads. Must not be called on an io thread. Idempotent.
  void ForceClose();
  // BeginShutdown(), WaitUntilDrained(now + grace), ForceClose(); true when it drained in time.
  bool Stop(std::chrono::milliseconds grace);

 private:
  struct Core;
  std::unique_ptr<Core> core_;
};

}  // namespace pyexec::http
