#include "load.h"

#include <algorithm>
#include <optional>
#include <thread>
#include <utility>

#include "http_client.h"

namespace pyexec::bench {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

// Opening a connection: the servers accept at once, unless something is badly wrong.
constexpr std::chrono::seconds kConnectTimeout{10};
// Between the last connection opened and the clients' first request: time to start threads.
constexpr std::chrono::milliseconds kStartDelay{100};
// Excerpts of unexpected bodies in error messages.
constexpr size_t kExcerptBytes = 300;

double MillisecondsBetween(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration<double, std::milli>(end - start).count();
}

std::string Excerpt(const std::string& text) {
  return text.size() <= kExcerptBytes ? text : text.substr(0, kExcerptBytes) + "...";
}

std::string RequestFor(const Target& target, const Workload& workload) {
  return FormatPost(target.port, "/execute", Json{{"script", workload.script}}.dump());
}

// nullopt when `reply` is the workload's expected answer; sets `memory_bytes` from its usage.
std::optional<std::string> CheckReply(const HttpReply& reply, const Target& target,
                                      const Workload& workload, double* memory_bytes) {
  if (reply.status != 200) {
    return "HTTP " + std::to_string(reply.status) + ": " + Excerpt(reply.body);
  }
  const Json body = Json::parse(reply.body, nullptr, false);
  if (!body.is_object()) {
    return "the body is not a JSON object: " + Excerpt(reply.body);
  }
  // pyexec's result document says its verdict; the baseline's has none.
  if (body.contains("status") && body["status"] != "ok") {
    return "status " + body["status"].dump() + ": " + Excerpt(reply.body);
  }
  if (!body.contains("result") || body["result"] != workload.expected_result) {
    return "result is not " + workload.expected_result.dump() + ": " + Excerpt(reply.body);
  }
  if (!body.contains("stdout") || body["stdout"] != workload.expected_stdout) {
    return "stdout is not " + Json(workload.expected_stdout).dump() + ": " + Excerpt(reply.body);
  }
  *memory_bytes = 0;
  if (body.contains("usage") && body["usage"].is_object() &&
      body["usage"].contains(target.memory_field) &&
      body["usage"][target.memory_field].is_number()) {
    *memory_bytes = body["usage"][target.memory_field].get<double>();
  }
  return std::nullopt;
}

// One request on `connection` (reopened first when the server closed it), answered before
// `deadline`, recorded in `result`; false when it failed. `phase_start` and `window_end` place
// the response in the phase.
bool SendOne(const Target& target, const Workload& workload, const std::string& request,
             Clock::time_point phase_start, Clock::time_point window_end,
             Clock::time_point deadline, HttpConnection* connection, PhaseResult* result) {
  const Clock::time_point start = Clock::now();
  if (!connection->open()) {
    Result<HttpConnection> reopened = HttpConnection::Connect(target.port, deadline);
    if (!reopened.ok()) {
      result->AddError("connect: " + reopened.error().ToString());
      return false;
    }
    *connection = std::move(reopened).value();
  }
  Result<HttpReply> reply = connection->RoundTrip(request, deadline);
  const Clock::time_point done = Clock::now();
  if (!reply.ok()) {
    result->AddError(reply.error().ToString());
    return false;
  }
  double memory_bytes = 0;
  if (std::optional<std::string> problem = CheckReply(*reply, target, workload, &memory_bytes)) {
    result->AddError(std::move(*problem));
    return false;
  }
  result->latencies_ms.push_back(MillisecondsBetween(start, done));
  result->memory_bytes.push_back(memory_bytes);
  result->last_response_s =
      std::max(result->last_response_s, std::chrono::duration<double>(done - phase_start).count());
  if (done <= window_end) {
    ++result->ok_in_window;
  } else {
    ++result->ok_after_window;
  }
  return true;
}

}  // namespace

double PhaseResult::Throughput() const {
  const uint64_t ok = ok_in_window + ok_after_window;
  return last_response_s > 0 ? static_cast<double>(ok) / last_response_s : 0;
}

void PhaseResult::AddError(std::string message) {
  ++errors;
  if (error_messages.size() < kMaxErrorMessages) {
    error_messages.push_back(std::move(message));
  }
}

void PhaseResult::Merge(PhaseResult&& other) {
  last_response_s = std::max(last_response_s, other.last_response_s);
  ok_in_window += other.ok_in_window;
  ok_after_window += other.ok_after_window;
  errors += other.errors;
  for (std::string& message : other.error_messages) {
    if (error_messages.size() < kMaxErrorMessages) {
      error_messages.push_back(std::move(message));
    }
  }
  latencies_ms.insert(latencies_ms.end(), other.latencies_ms.begin(), other.latencies_ms.end());
  memory_bytes.insert(memory_bytes.end(), other.memory_bytes.begin(), other.memory_bytes.end());
}

PhaseResult RunSequential(const Target& target, const Workload& workload,
                          const SequentialSpec& spec) {
  PhaseResult result;
  result.clients = 1;
  const std::string request = RequestFor(target, workload);
  const Clock::time_point start = Clock::now();
  const Clock::time_point stop = start + spec.time_limit;
  HttpConnection connection;
  result.latencies_ms.reserve(spec.requests);
  // Bounded by the request count and the time limit.
  for (size_t i = 0; i < spec.requests && Clock::now() < stop; ++i) {
    if (i > 0 && spec.pause.count() > 0) {
      std::this_thread::sleep_for(spec.pause);  // pacing, not synchronisation
    }
    const Clock::time_point deadline = Clock::now() + spec.request_timeout;
    (void)SendOne(target, workload, request, start, Clock::time_point::max(), deadline, &connection,
                  &result);
  }
  result.window_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

PhaseResult RunClosedLoop(const Target& target, const Workload& workload,
                          const ClosedLoopSpec& spec) {
  PhaseResult total;
  total.clients = spec.clients;
  const std::string request = RequestFor(target, workload);

  // Every connection is open before the window starts, so that connecting is not measured.
  std::vector<HttpConnection> connections;
  connections.reserve(static_cast<size_t>(spec.clients));
  const Clock::time_point connect_deadline = Clock::now() + kConnectTimeout;
  for (int i = 0; i < spec.clients; ++i) {
    Result<HttpConnection> connection = HttpConnection::Connect(target.port, connect_deadline);
    if (!connection.ok()) {
      total.AddError("connect: " + connection.error().ToString());
      connections.emplace_back();
      continue;
    }
    connections.push_back(std::move(connection).value());
  }

  const Clock::time_point start = Clock::now() + kStartDelay;
  const Clock::time_point window_end = start + spec.duration;
  const Clock::time_point deadline = window_end + spec.drain_limit;
  std::vector<PhaseResult> results(static_cast<size_t>(spec.clients));
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(spec.clients));
  for (size_t i = 0; i < connections.size(); ++i) {
    if (!connections[i].open()) {
      continue;
    }
    threads.emplace_back([&, i] {
      std::this_thread::sleep_until(start);
      // Bounded by the request count and the window; the last request by the drain deadline.
      for (uint64_t sent = 0; sent < spec.max_requests_per_client && Clock::now() < window_end;
           ++sent) {
        (void)SendOne(target, workload, request, start, window_end, deadline, &connections[i],
                      &results[i]);
      }
    });
  }
  if (spec.sample) {
    std::this_thread::sleep_until(start);
    // Bounded by the window: one sample per period.
    for (Clock::time_point next = start + spec.sample_period; next < window_end;
         next += spec.sample_period) {
      std::this_thread::sleep_until(next);
      spec.sample();
    }
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  for (PhaseResult& result : results) {
    total.Merge(std::move(result));
  }
  total.window_seconds = std::chrono::duration<double>(spec.duration).count();
  return total;
}

}  // namespace pyexec::bench
