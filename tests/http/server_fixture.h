// Test support for the http tests: a Server on 127.0.0.1, port 0, in this process, with a
// handler of a few routes; a queue of the exchanges it holds for the test to answer; and the
// access records it reported. Every wait is bounded by kWait.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "http/access_record.h"
#include "http/exchange.h"
#include "http/server.h"
#include "support/http_client.h"

namespace pyexec::http::test {

using pyexec::testing::FormatRequest;
using pyexec::testing::HttpClient;
using pyexec::testing::HttpHeaders;
using pyexec::testing::HttpResponse;

// A generous bound for anything a test waits for; reaching it means the test failed.
inline constexpr std::chrono::milliseconds kWait{std::chrono::seconds(10)};
// A deadline that will pass: for waits whose expected outcome is "not yet" (a request is held).
inline constexpr std::chrono::milliseconds kBriefWait{50};
// Short enough to keep timeout tests quick; the outcome never depends on its exact value.
inline constexpr std::chrono::milliseconds kShortTimeout{200};

std::chrono::steady_clock::time_point Deadline(std::chrono::milliseconds from_now = kWait);

// Exchanges the handler hands over (route /hold), for the test to answer from its own thread.
class ExchangeQueue {
 public:
  void Push(std::shared_ptr<Exchange> exchange);
  // The next exchange; nullptr when none arrives within `timeout`.
  std::shared_ptr<Exchange> Pop(std::chrono::milliseconds timeout = kWait);
  size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable pushed_;
  std::deque<std::shared_ptr<Exchange>> exchanges_;
};

class AccessLogRecorder {
 public:
  void Add(const AccessRecord& record);
  // The records once there are at least `count`; fewer when `timeout` passes first.
  std::vector<AccessRecord> WaitFor(size_t count, std::chrono::milliseconds timeout = kWait);

 private:
  std::mutex mutex_;
  std::condition_variable added_;
  std::vector<AccessRecord> records_;
};

// Routes:
//   /echo     200 text/plain with the request's body; X-Method, X-Target, X-Path, X-Version,
//             X-Peer and X-Seen-Request-Id describe what the handler saw
//   /text     200 text/plain "twelve bytes"
//   /hold     handed to `held`, answered by the test
//   /drop     dropped without a response
//   /headers  200 with extra fields, some of which the server must refuse
//   else      404, {"error": {"type": "not_found", ...}}
ExchangeHandler MakeTestHandler(ExchangeQueue* held);

class HttpServerTest : public ::testing::Test {
 protected:
  void TearDown() override;

  // A server with `config` (host and port as given: 127.0.0.1:0 by default) and the test
  // handler, started; the test fails when it does not start.
  void StartServer(ServerConfig config = {});
  Result<HttpClient> Connect(std::chrono::milliseconds io_timeout = kWait);

  ExchangeQueue held_;
  AccessLogRecorder access_log_;
  std::unique_ptr<Server> server_;
};

}  // namespace pyexec::http::test
