#include "baseline_server.h"

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "baseline_python.h"
#include "http/config.h"
#include "http/exchange.h"
#include "http/response.h"
#include "http/server.h"

namespace pyexec::bench {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

// Responses still being written at Stop() get this long.
constexpr std::chrono::seconds kStopGrace{5};

// A fixed set of threads taking jobs from a bounded FIFO queue: the reference service's
// threaded request handling, without a thread per request.
class WorkerPool {
 public:
  WorkerPool(size_t workers, size_t queue_capacity) : queue_capacity_(queue_capacity) {
    threads_.reserve(workers);
    for (size_t i = 0; i < workers; ++i) {
      threads_.emplace_back([this] { WorkerLoop(); });
    }
  }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;
  ~WorkerPool() { Stop(); }

  // False when the queue is full or the pool stopping: the job will not run.
  bool Submit(std::function<void()> job) {
    const std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= queue_capacity_) {
      return false;
    }
    queue_.push_back(std::move(job));
    work_.notify_one();
    return true;
  }

  size_t busy() const {
    const std::lock_guard lock(mutex_);
    return queue_.size() + running_;
  }

  // Drops the queued jobs (their exchanges answer 500 as they are destroyed), lets the running
  // ones finish and joins the threads. Idempotent.
  void Stop() {
    std::deque<std::function<void()>> dropped;
    {
      const std::lock_guard lock(mutex_);
      stopping_ = true;
      dropped.swap(queue_);
      work_.notify_all();
    }
    dropped.clear();
    for (std::thread& thread : threads_) {
      if (thread.joinable()) {
        thread.join();
      }
    }
  }

 private:
  // Runs until Stop(): each pass runs one job or ends the loop.
  void WorkerLoop() {
    std::unique_lock lock(mutex_);
    while (true) {
      work_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) {
        return;
      }
      std::function<void()> job = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
      lock.unlock();
      job();
      job = nullptr;  // the exchange it holds goes before the pool counts the job done
      lock.lock();
      --running_;
    }
  }

  const size_t queue_capacity_;
  mutable std::mutex mutex_;
  std::condition_variable work_;
  std::deque<std::function<void()>> queue_;
  size_t running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

http::Response JsonResponse(int status, const Json& document) {
  http::Response response;
  response.status = status;
  // Python's json.dumps escapes everything outside ASCII, so nothing needs replacing; replace
  // rather than throw if something ever did.
  response.body = document.dump(-1, ' ', false, Json::error_handler_t::replace);
  return response;
}

// One request, on a worker thread: a fresh interpreter runs the script.
void Execute(const std::shared_ptr<http::Exchange>& exchange, const std::string& script,
             std::chrono::milliseconds timeout) {
  if (exchange->client_gone()) {
    exchange->Respond(http::ErrorResponse(503, "client_gone", "the client left"));
    return;
  }
  const Clock::time_point start = Clock::now();
  const Result<BaselineRun> run = RunBaselinePython(script, timeout);
  const double wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  std::string problem;
  std::optional<Json> printed = ParseBaselineOutput(run, &problem);
  if (!printed.has_value()) {
    exchange->Respond(http::ErrorResponse(500, "internal", problem));
    return;
  }
  // ru_maxrss is in KiB (getrusage(2)).
  (*printed)["usage"] = {{"wall_ms", wall_ms},
                         {"cpu_ms", CpuMilliseconds(run->usage)},
                         {"max_rss_bytes", static_cast<uint64_t>(run->usage.ru_maxrss) * 1024}};
  exchange->Respond(JsonResponse(200, *printed));
}

}  // namespace

struct BaselineServer::Core {
  explicit Core(const BaselineServerConfig& server_config)
      : config(server_config), pool(server_config.workers, server_config.queue_capacity) {}

  // The http::ExchangeHandler, on the io thread: routes and validates, never blocks.
  void Handle(const std::shared_ptr<http::Exchange>& exchange) {
    if (exchange->path() == "/health") {
      if (exchange->method() != "GET") {
        exchange->Respond(http::ErrorResponse(405, "method_not_allowed", "GET only"));
        return;
      }
      exchange->Respond(JsonResponse(200, Json{{"status", "ok"}}));
      return;
    }
    if (exchange->path() != "/execute") {
      exchange->Respond(http::ErrorResponse(404, "not_found", "no such path"));
      return;
    }
    if (exchange->method() != "POST") {
      exchange->Respond(http::ErrorResponse(405, "method_not_allowed", "POST only"));
      return;
    }
    const Json body = Json::parse(exchange->body(), nullptr, false);
    if (!body.is_object() || !body.contains("script") || !body["script"].is_string()) {
      exchange->Respond(http::ErrorResponse(400, "invalid_request", "script must be a string"));
      return;
    }
    std::string script = body["script"].get<std::string>();
    const std::chrono::milliseconds timeout = config.python_timeout;
    const bool queued = pool.Submit(
        [exchange, script = std::move(script), timeout] { Execute(exchange, script, timeout); });
    if (!queued) {
      exchange->Respond(http::ErrorResponse(429, "queue_full", "every worker is busy"));
    }
  }

  const BaselineServerConfig config;
  WorkerPool pool;
  std::unique_ptr<http::Server> server;
  bool stopped = false;
};

BaselineServer::BaselineServer(std::unique_ptr<Core> core) : core_(std::move(core)) {}

BaselineServer::~BaselineServer() { Stop(); }

Result<std::unique_ptr<BaselineServer>> BaselineServer::Start(const BaselineServerConfig& config) {
  if (config.workers == 0) {
    return MakeError(ErrorCode::kInvalidInput, "baseline: at least one worker");
  }
  auto core = std::make_unique<Core>(config);
  http::ServerConfig server_config;
  server_config.host = "127.0.0.1";
  server_config.port = 0;
  server_config.io_threads = 1;
  Core* handler_core = core.get();
  core->server = std::make_unique<http::Server>(
      server_config, [handler_core](const std::shared_ptr<http::Exchange>& exchange) {
        handler_core->Handle(exchange);
      });
  if (Status started = core->server->Start(); !started.ok()) {
    core->pool.Stop();
    return std::move(started).error();
  }
  return std::unique_ptr<BaselineServer>(new BaselineServer(std::move(core)));
}

uint16_t BaselineServer::port() const { return core_->server->port(); }

size_t BaselineServer::busy() const { return core_->pool.busy(); }

void BaselineServer::Stop() {
  if (core_ == nullptr || core_->stopped) {
    return;
  }
  core_->stopped = true;
  core_->server->BeginShutdown();
  core_->pool.Stop();
  (void)core_->server->Stop(kStopGrace);
}

}  // namespace pyexec::bench
