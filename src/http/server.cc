#include "http/server.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "http/connection.h"
#include "http/connection_context.h"
#include "http/listener.h"
#include "util/log.h"

namespace pyexec::http {
namespace {

namespace asio = boost::asio;

// How long a shutdown step waits for the io threads to run what it posted. They run it at once
// unless a handler blocks an io thread, which handlers must not do.
constexpr std::chrono::seconds kIoStepTimeout{10};

}  // namespace

struct Server::Core {
  Core(ServerConfig config, ExchangeHandler handler, AccessLog access_log) {
    context.config = std::move(config);
    context.handler = std::move(handler);
    context.access_log = std::move(access_log);
  }

  bool OnIoThread() { return io.get_executor().running_in_this_thread(); }
  void CloseListener();
  void StopIoThreads();

  ConnectionContext context;
  // Declared after the context and before the listener: destroyed after the listener, and its
  // destruction (which destroys pending handlers, and with them connections) happens while the
  // context still exists.
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::unique_ptr<Listener> listener;
  std::vector<std::thread> threads;
  bool started = false;
  bool stopped = false;
};

void Server::Core::CloseListener() {
  if (!listener) {
    return;
  }
  auto closed = std::make_shared<std::promise<void>>();
  std::future<void> done = closed->get_future();
  asio::post(listener->strand(), [this, closed] {
    listener->Close();
    closed->set_value();
  });
  if (!OnIoThread() && done.wait_for(kIoStepTimeout) != std::future_status::ready) {
    LogWarning("http: the io threads did not close the listening socket in time");
  }
}

void Server::Core::StopIoThreads() {
  work.reset();
  io.stop();
  for (std::thread& thread : threads) {
    thread.join();
  }
  threads.clear();
}

Server::Server(ServerConfig config, ExchangeHandler handler, AccessLog access_log)
    : core_(std::make_unique<Core>(std::move(config), std::move(handler), std::move(access_log))) {}

Server::~Server() {
  if (core_->started && !core_->stopped) {
    BeginShutdown();
    ForceClose();
  }
}

Status Server::Start() {
  Core& core = *core_;
  if (core.started) {
    return MakeError(ErrorCode::kInvalidInput, "http server already started");
  }
  if (Status valid = ValidateConfig(core.context.config); !valid.ok()) {
    return valid;
  }
  if (!core.context.handler) {
    return MakeError(ErrorCode::kInvalidInput, "http server needs a handler");
  }
  Result<std::unique_ptr<Listener>> listener = Listener::Open(core.io, core.context);
  if (!listener.ok()) {
    return std::move(listener).error();
  }
  core.listener = std::move(*listener);
  core.work.emplace(asio::make_work_guard(core.io));
  core.listener->Start();
  core.started = true;
  for (int i = 0; i < core.context.config.io_threads; ++i) {
    // std::thread reports pthread_create's failure only by throwing: turn it into an Error here.
    try {
      core.threads.emplace_back([&io = core.io] { io.run(); });
    } catch (const std::system_error& error) {
      if (core.threads.empty()) {
        // Nothing runs the io_context: nothing was accepted, and nothing can close the listener.
        core.work.reset();
        core.listener.reset();
        core.context.liveness->MarkDead();
        core.stopped = true;
      } else {
        ForceClose();
      }
      return SysError("pthread_create(http io thread)", error.code().value());
    }
  }
  LogInfo("http: listening on " + core.listener->address() + " with " +
          std::to_string(core.context.config.io_threads) + " io thread(s)");
  return OkStatus();
}

uint16_t Server::port() const { return core_->listener ? core_->listener->port() : 0; }

std::string Server::address() const {
  return core_->listener ? core_->listener->address() : std::string();
}

size_t Server::connection_count() const { return core_->context.registry.size(); }

void Server::BeginShutdown() {
  Core& core = *core_;
  if (!core.started || core.stopped || core.context.shutting_down.exchange(true)) {
    return;
  }
  // Stop accepting first, so that no connection is admitted after the snapshot below.
  core.CloseListener();
  for (const std::shared_ptr<Connection>& connection : core.context.registry.Snapshot()) {
    connection->PostShutdown();
  }
}

bool Server::WaitUntilDrained(std::chrono::steady_clock::time_point deadline) const {
  return WaitUntilConnectionsAtMost(0, deadline);
}

bool Server::WaitUntilConnectionsAtMost(size_t count,
                                        std::chrono::steady_clock::time_point deadline) const {
  return core_->context.registry.WaitUntilAtMost(count, deadline);
}

void Server::ForceClose() {
  Core& core = *core_;
  if (!core.started || core.stopped) {
    return;
  }
  if (core.OnIoThread()) {
    LogError("http: Server::ForceClose called on an io thread; ignored");
    return;
  }
  core.context.shutting_down.store(true);
  core.CloseListener();
  for (const std::shared_ptr<Connection>& connection : core.context.registry.Snapshot()) {
    connection->PostClose();
  }
  if (!core.context.registry.WaitUntilAtMost(0,
                                             std::chrono::steady_clock::now() + kIoStepTimeout)) {
    LogWarning("http: the io threads did not close every connection in time");
  }
  core.StopIoThreads();
  // From here on Exchange::Respond drops its response instead of posting it.
  core.context.liveness->MarkDead();
  core.context.registry.Clear();
  core.stopped = true;
}

bool Server::Stop(std::chrono::milliseconds grace) {
  BeginShutdown();
  const bool drained = WaitUntilDrained(std::chrono::steady_clock::now() + grace);
  ForceClose();
  return drained;
}

}  // namespace pyexec::http
