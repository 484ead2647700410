#include "api/http_api.h"

#include <cstdio>
#include <utility>
#include <variant>

#include "api/error_table.h"
#include "api/execution_json.h"
#include "api/routes.h"
#include "http/response.h"
#include "util/log.h"

namespace pyexec::api {
namespace {

// Beyond this many unreported notes the oldest go: their clients left after being answered.
constexpr size_t kMaxNotes = 4096;
// Status logged for a request whose client left before its answer (nginx's convention).
constexpr int kClientGoneStatus = 499;

std::string NoteKey(std::string_view request_id, std::string_view peer) {
  std::string key(request_id);
  key += '\n';
  key += peer;
  return key;
}

http::Response MakeErrorResponse(const ApiError& error) {
  return http::ErrorResponse(HttpStatusOf(error.kind), TypeOf(error.kind), error.message);
}

std::string Printable(std::string_view text, size_t limit) {
  std::string out;
  for (const char c : text.substr(0, limit)) {
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return out;
}

std::string FormatMilliseconds(std::chrono::steady_clock::duration duration) {
  const double ms = std::chrono::duration<double, std::milli>(duration).count();
  char text[32];
  (void)snprintf(text, sizeof(text), "%.1f", ms);
  return text;
}

}  // namespace

HttpApi::HttpApi(HttpApiConfig config, Runner runner, service::Admission* admission)
    : config_(std::move(config)), runner_(std::move(runner)), admission_(admission) {}

void HttpApi::Handle(const std::shared_ptr<http::Exchange>& exchange) {
  const std::string& path = exchange->path();
  const std::string allowed = AllowedMethods(path);
  if (allowed.empty()) {
    Fail(exchange, ApiError{ApiErrorKind::kNotFound, "no such path: " + Printable(path, 200)});
    return;
  }
  bool method_ok = false;
  for (const Route& route : Routes()) {
    method_ok = method_ok || (route.path == path && route.method == exchange->method());
  }
  if (!method_ok) {
    const ApiError error{ApiErrorKind::kMethodNotAllowed, Printable(path, 200) + " accepts " +
                                                              allowed + ", not " +
                                                              Printable(exchange->method(), 20)};
    http::Response response = MakeErrorResponse(error);
    response.headers.push_back({"Allow", allowed});
    Remember(*exchange, std::string(TypeOf(error.kind)), 0);
    exchange->Respond(std::move(response));
    return;
  }
  if (path == kHealthPath) {
    HandleHealth(exchange);
  } else {
    HandleExecute(exchange);
  }
}

void HttpApi::HandleExecute(const std::shared_ptr<http::Exchange>& exchange) {
  if (shutting_down_) {
    Fail(exchange, ApiError{ApiErrorKind::kShuttingDown, "the service is shutting down"});
    return;
  }
  if (std::optional<ApiError> error = CheckContentType(exchange->Header("Content-Type"))) {
    Fail(exchange, *error);
    return;
  }
  std::variant<ExecuteRequest, ApiError> parsed =
      ParseExecuteRequest(exchange->body(), config_.rules);
  if (const ApiError* error = std::get_if<ApiError>(&parsed)) {
    Fail(exchange, *error);
    return;
  }
  ExecuteRequest& request = std::get<ExecuteRequest>(parsed);
  Result<service::Limits> limits = service::ApplyRequest(config_.maximum, request.limits);
  if (!limits.ok()) {
    Fail(exchange, ApiError{ApiErrorKind::kInvalidRequest, limits.error().message});
    return;
  }
  std::string reason;
  if (config_.ready && !config_.ready(&reason)) {
    Fail(exchange, ApiError{ApiErrorKind::kNotReady, reason});
    return;
  }
  Result<sys::EventFd> cancel = sys::EventFd::Create();
  if (!cancel.ok()) {
    LogError("request " + exchange->request_id() + ": " + cancel.error().ToString());
    Fail(exchange, ApiError{ApiErrorKind::kInternal,
                            "pyexec could not accept the request; see the service log for "
                            "request " +
                                exchange->request_id()});
    return;
  }
  service::Job job;
  job.cancel = std::make_shared<sys::EventFd>(std::move(cancel).value());
  // A request may wait in the queue for as long as it would be allowed to run.
  job.queue_deadline = std::chrono::steady_clock::now() + limits->timeout;
  job.run = [this, exchange, script = std::move(request.script), run_limits = *limits](
                const sys::EventFd& flag) { RunExecution(exchange, script, run_limits, flag); };
  job.reject = [this, exchange, queued_limits = *limits](service::Rejection rejection) {
    Rejected(exchange, rejection, queued_limits);
  };
  const service::Admitted admitted = admission_->Submit(std::move(job));
  if (!admitted.admitted) {
    Rejected(exchange, admitted.rejection, *limits);
    return;
  }
  // A dropped connection cancels the execution (or takes it out of the queue).
  exchange->OnClientGone([admission = admission_, id = admitted.id] { admission->Cancel(id); });
}

void HttpApi::RunExecution(const std::shared_ptr<http::Exchange>& exchange,
                           const std::string& script, const service::Limits& limits,
                           const sys::EventFd& cancel) {
  Result<service::Execution> execution = runner_(script, limits, &cancel);
  if (!execution.ok()) {
    if (execution.error().code == ErrorCode::kCancelled) {
      if (exchange->client_gone()) {
        Abandon(exchange, "cancelled");
      } else {
        Fail(exchange, ApiError{ApiErrorKind::kShuttingDown,
                                "the service shut down before the script finished"});
      }
      return;
    }
    // The details (paths, errno) are for the operator only.
    LogError("request " + exchange->request_id() + ": " + execution.error().ToString());
    Fail(exchange, ApiError{ApiErrorKind::kInternal,
                            "pyexec could not run the script; see the service log for request " +
                                exchange->request_id()});
    return;
  }
  http::Response response;
  response.status = HttpStatusOfVerdict(execution->outcome.verdict);
  response.body = RenderExecution(*execution);
  Remember(*exchange, std::string(service::VerdictName(execution->outcome.verdict)),
           execution->usage.memory_peak_bytes);
  exchange->Respond(std::move(response));
}

void HttpApi::Rejected(const std::shared_ptr<http::Exchange>& exchange,
                       service::Rejection rejection, const service::Limits& limits) {
  switch (rejection) {
    case service::Rejection::kQueueFull: {
      http::Response response = MakeErrorResponse(
          ApiError{ApiErrorKind::kQueueFull, "every worker is busy and the queue is full"});
      response.headers.push_back({"Retry-After", std::to_string(config_.retry_after.count())});
      Remember(*exchange, std::string(TypeOf(ApiErrorKind::kQueueFull)), 0);
      exchange->Respond(std::move(response));
      return;
    }
    case service::Rejection::kQueueTimeout:
      Fail(exchange, ApiError{ApiErrorKind::kQueueTimeout,
                              "the request waited in the queue longer than its timeout (" +
                                  std::to_string(limits.timeout.count()) + " ms)"});
      return;
    case service::Rejection::kShuttingDown:
      Fail(exchange, ApiError{ApiErrorKind::kShuttingDown, "the service is shutting down"});
      return;
    case service::Rejection::kCancelled:
      Abandon(exchange, "cancelled_in_queue");
      return;
  }
}

void HttpApi::HandleHealth(const std::shared_ptr<http::Exchange>& exchange) {
  const service::AdmissionStats stats = admission_->stats();
  std::string reason;
  bool ready = true;
  ApiErrorKind kind = ApiErrorKind::kNotReady;
  if (shutting_down_ || !stats.accepting) {
    ready = false;
    kind = ApiErrorKind::kShuttingDown;
    reason = "the service is shutting down";
  } else if (config_.ready && !config_.ready(&reason)) {
    ready = false;
  }
  nlohmann::ordered_json document = {{"status", ready ? "ok" : "unavailable"}};
  for (const auto& [key, value] : config_.health_fields.items()) {
    document[key] = value;
  }
  document["pool"] = {{"max_concurrency", stats.max_concurrency},
                      {"running", stats.running},
                      {"queue_capacity", stats.queue_capacity},
                      {"queued", stats.queued},
                      {"accepting", stats.accepting},
                      {"completed", stats.completed},
                      {"refused_queue_full", stats.refused_full},
                      {"expired_in_queue", stats.expired}};
  if (config_.live_health) {
    config_.live_health(&document);
  }
  if (!ready) {
    document["error"] = {{"type", TypeOf(kind)}, {"message", reason}};
  }
  http::Response response;
  response.status = ready ? 200 : HttpStatusOf(kind);
  response.body = document.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  Remember(*exchange, ready ? "ok" : std::string(TypeOf(kind)), 0);
  exchange->Respond(std::move(response));
}

void HttpApi::Fail(const std::shared_ptr<http::Exchange>& exchange, const ApiError& error) {
  Remember(*exchange, std::string(TypeOf(error.kind)), 0);
  exchange->Respond(MakeErrorResponse(error));
}

void HttpApi::Abandon(const std::shared_ptr<http::Exchange>& exchange, std::string_view verdict) {
  LogInfo("request id=" + exchange->request_id() + " method=" + exchange->method() +
          " path=" + Printable(exchange->path(), 200) +
          " status=" + std::to_string(kClientGoneStatus) + " verdict=" + std::string(verdict) +
          " peer=" + exchange->peer() + " (the client left before the answer)");
  exchange->Respond(http::ErrorResponse(kClientGoneStatus, "client_gone", "the client left"));
}

void HttpApi::Remember(const http::Exchange& exchange, std::string verdict,
                       uint64_t memory_peak_bytes) {
  std::lock_guard lock(notes_mutex_);
  if (notes_.size() >= kMaxNotes) {
    notes_.erase(notes_.begin());
  }
  notes_[NoteKey(exchange.request_id(), exchange.peer())] =
      Note{std::move(verdict), memory_peak_bytes};
}

void HttpApi::LogAccess(const http::AccessRecord& record) {
  Note note{"-", 0};
  {
    std::lock_guard lock(notes_mutex_);
    if (const auto found = notes_.find(NoteKey(record.request_id, record.peer));
        found != notes_.end()) {
      note = std::move(found->second);
      notes_.erase(found);
    }
  }
  // Scripts and outputs are never logged.
  LogInfo("request id=" + record.request_id +
          " method=" + (record.method.empty() ? "-" : Printable(record.method, 20)) +
          " path=" + (record.path.empty() ? "-" : Printable(record.path, 200)) +
          " status=" + std::to_string(record.status) + " verdict=" + note.verdict +
          " duration_ms=" + FormatMilliseconds(record.duration) +
          " memory_peak_bytes=" + std::to_string(note.memory_peak_bytes) + " peer=" + record.peer +
          (record.complete ? "" : " (write failed)"));
}

}  // namespace pyexec::api
