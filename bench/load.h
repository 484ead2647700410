// The load generator of pyexec_http_bench: sequential requests on one keep-alive connection, and
// closed-loop load from N clients (one connection and one thread each) for a fixed time. Every
// response is checked against the workload's expected result; anything else is an error. Runs
// in the benchmark process.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pyexec::bench {

// One script and what its main() must return and print.
struct Workload {
  std::string name;
  std::string script;
  nlohmann::json expected_result;
  std::string expected_stdout;
};

// A server under test.
struct Target {
  std::string name;  // "pyexec", "baseline"
  uint16_t port = 0;
  // The memory an execution cost, as the response reports it: usage.<memory_field>, in bytes.
  std::string memory_field;
};

// Error messages kept per phase: enough to diagnose, never a flood.
inline constexpr size_t kMaxErrorMessages = 3;

struct PhaseResult {
  int clients = 1;
  double window_seconds = 0;                // the load window (closed loop) or the elapsed time
  double last_response_s = 0;               // from the first request to the last checked response
  uint64_t ok_in_window = 0;                // checked responses that arrived within the window
  uint64_t ok_after_window = 0;             // checked responses to requests in flight at its end
  uint64_t errors = 0;                      // any other outcome of a request
  std::vector<std::string> error_messages;  // the first kMaxErrorMessages
  std::vector<double> latencies_ms;         // of the checked responses, send to last byte
  std::vector<double> memory_bytes;         // usage.<memory_field> of the checked responses

  // Checked responses per second: every request was sent within the window, and the clock runs
  // until the last of them was answered. Counting only the responses inside the window would
  // be biased low for a slow server whose answers come in waves (the baseline: 4 interpreters
  // at a time, ~0.7 s per wave on 2 cores).
  double Throughput() const;
  void AddError(std::string message);
  void Merge(PhaseResult&& other);
};

struct SequentialSpec {
  size_t requests = 100;
  std::chrono::milliseconds time_limit{std::chrono::seconds(300)};  // no new request after it
  std::chrono::milliseconds request_timeout{std::chrono::seconds(60)};
  // Idle time between a response and the next request: 0 is back to back (the latency of a
  // server kept busy by one client); a pause shows the latency of a server at rest.
  std::chrono::milliseconds pause{0};
};

// `requests` requests one after the other on one connection (reconnecting only when the server
// closes it), `pause` apart, stopping early at the time limit.
PhaseResult RunSequential(const Target& target, const Workload& workload,
                          const SequentialSpec& spec);

struct ClosedLoopSpec {
  int clients = 1;
  std::chrono::milliseconds duration{std::chrono::seconds(5)};
  // After the window, how long requests still in flight may take before they count as errors.
  std::chrono::milliseconds drain_limit{std::chrono::seconds(120)};
  uint64_t max_requests_per_client = 1000000;
  // Called on the calling thread every `sample_period` while the window is open (may be empty).
  std::function<void()> sample;
  std::chrono::milliseconds sample_period{std::chrono::milliseconds(250)};
};

// `clients` connections, each sending the next request as soon as its previous response has
// arrived, from the same start for `duration`; then each waits for its request in flight.
PhaseResult RunClosedLoop(const Target& target, const Workload& workload,
                          const ClosedLoopSpec& spec);

}  // namespace pyexec::bench
