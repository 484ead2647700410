// HttpApi: the HTTP API of `pyexec serve`. It routes each request the transport hands over
// (POST /execute, GET /health), validates it, submits executions to the admission queue, and
// answers from the worker that ran them; it also writes the one log line per request. Runs in
// the server process: Handle on io threads (never blocks), executions on admission workers.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "api/execute_request.h"
#include "http/access_record.h"
#include "http/exchange.h"
#include "service/admission.h"
#include "service/engine.h"
#include "sys/event_fd.h"
#include "util/result.h"

namespace pyexec::api {

// Runs one execution, blocking (Engine::Run in the service; a fake in tests).
using Runner = std::function<Result<service::Execution>(
    std::string_view script, const service::Limits& limits, const sys::EventFd* cancel)>;

struct HttpApiConfig {
  RequestRules rules;
  service::Limits maximum;              // the engine's limits: the defaults and the maximums
  std::chrono::seconds retry_after{1};  // sent with 429
  // What /health reports besides the pool (version, Python, isolation), computed at start-up.
  nlohmann::ordered_json health_fields = nlohmann::ordered_json::object();
  // Whether executions can run now; on false, `reason` says why. Unset: always.
  std::function<bool(std::string* reason)> ready;
  // Figures that change while the service runs (the warm pool's), added to /health. Unset: none.
  std::function<void(nlohmann::ordered_json* document)> live_health;
};

class HttpApi {
 public:
  // `admission` must outlive the http::Server this api is installed in.
  HttpApi(HttpApiConfig config, Runner runner, service::Admission* admission);
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  // The http::ExchangeHandler.
  void Handle(const std::shared_ptr<http::Exchange>& exchange);
  // The http::AccessLog: one line per request.
  void LogAccess(const http::AccessRecord& record);
  // From now on /execute answers 503 shutting_down and /health 503.
  void BeginShutdown() { shutting_down_ = true; }

 private:
  struct Note {
    std::string verdict;
    uint64_t memory_peak_bytes = 0;
  };

  void HandleExecute(const std::shared_ptr<http::Exchange>& exchange);
  void HandleHealth(const std::shared_ptr<http::Exchange>& exchange);
  void RunExecution(const std::shared_ptr<http::Exchange>& exchange, const std::string& script,
                    const service::Limits& limits, const sys::EventFd& cancel);
  void Rejected(const std::shared_ptr<http::Exchange>& exchange, service::Rejection rejection,
                const service::Limits& limits);
  void Fail(const std::shared_ptr<http::Exchange>& exchange, const ApiError& error);
  // The client left before its answer: logged here (the transport writes nothing), answered
  // with a response that is dropped.
  void Abandon(const std::shared_ptr<http::Exchange>& exchange, std::string_view verdict);
  void Remember(const http::Exchange& exchange, std::string verdict, uint64_t memory_peak_bytes);

  const HttpApiConfig config_;
  const Runner runner_;
  service::Admission* const admission_;
  std::atomic<bool> shutting_down_{false};

  // Verdicts of answered requests until the transport reports them written (keyed by request
  // id and peer); bounded, since a response to a client that left is never reported.
  std::mutex notes_mutex_;
  std::map<std::string, Note> notes_;
};

}  // namespace pyexec::api
