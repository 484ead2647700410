// ConnectionContext: what every connection of one server shares: the configuration, the
// handler, the access log, the registry and the shutdown flag. Owned by the server; it outlives
// the io threads, which are the only code that reads it from a connection.
#pragma once

#include <atomic>
#include <memory>

#include "http/access_record.h"
#include "http/config.h"
#include "http/connection_registry.h"
#include "http/exchange.h"
#include "http/io_liveness.h"

namespace pyexec::http {

struct ConnectionContext {
  ServerConfig config;
  ExchangeHandler handler;
  AccessLog access_log;  // may be empty
  ConnectionRegistry registry;
  std::shared_ptr<IoLiveness> liveness = std::make_shared<IoLiveness>();
  // Set by BeginShutdown: no more keep-alive; idle connections close.
  std::atomic<bool> shutting_down{false};
};

}  // namespace pyexec::http
