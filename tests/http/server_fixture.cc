#include "http/server_fixture.h"

#include <string>
#include <utility>

namespace pyexec::http::test {

std::chrono::steady_clock::time_point Deadline(std::chrono::milliseconds from_now) {
  return std::chrono::steady_clock::now() + from_now;
}

void ExchangeQueue::Push(std::shared_ptr<Exchange> exchange) {
  std::lock_guard lock(mutex_);
  exchanges_.push_back(std::move(exchange));
  pushed_.notify_all();
}

std::shared_ptr<Exchange> ExchangeQueue::Pop(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!pushed_.wait_for(lock, timeout, [&] { return !exchanges_.empty(); })) {
    return nullptr;
  }
  std::shared_ptr<Exchange> exchange = std::move(exchanges_.front());
  exchanges_.pop_front();
  return exchange;
}

size_t ExchangeQueue::size() const {
  std::lock_guard lock(mutex_);
  return exchanges_.size();
}

void AccessLogRecorder::Add(const AccessRecord& record) {
  std::lock_guard lock(mutex_);
  records_.push_back(record);
  added_.notify_all();
}

std::vector<AccessRecord> AccessLogRecorder::WaitFor(size_t count,
                                                     std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  added_.wait_for(lock, timeout, [&] { return records_.size() >= count; });
  return records_;
}

ExchangeHandler MakeTestHandler(ExchangeQueue* held) {
  return [held](std::shared_ptr<Exchange> exchange) {
    const std::string& path = exchange->path();
    if (path == "/echo") {
      Response response;
      response.content_type = "text/plain";
      response.body = exchange->body();
      response.headers = {{"X-Method", exchange->method()},
                          {"X-Target", exchange->target()},
                          {"X-Path", exchange->path()},
                          {"X-Version", std::to_string(exchange->request().version)},
                          {"X-Peer", exchange->peer()},
                          {"X-Seen-Request-Id", exchange->request_id()}};
      exchange->Respond(std::move(response));
    } else if (path == "/text") {
      exchange->Respond(Response{200, "text/plain", "twelve bytes", {}});
    } else if (path == "/hold") {
      held->Push(std::move(exchange));
    } else if (path == "/drop") {
      // Dropped: the server answers 500 for it.
    } else if (path == "/headers") {
      Response response;
      response.body = "{}";
      response.headers = {{"X-Custom", "yes"},
                          {"Content-Length", "999"},
                          {"X-Request-Id", "forged"},
                          {"Connection", "close"},
                          {"Transfer-Encoding", "chunked"},
                          {"Bad Name", "x"},
                          {"X-Injected", "a\r\nSet-Cookie: stolen=1"}};
      exchange->Respond(std::move(response));
    } else {
      exchange->Respond(ErrorResponse(404, "not_found", "no route for " + path));
    }
  };
}

void HttpServerTest::TearDown() { server_.reset(); }

void HttpServerTest::StartServer(ServerConfig config) {
  server_ =
      std::make_unique<Server>(std::move(config), MakeTestHandler(&held_),
                               [this](const AccessRecord& record) { access_log_.Add(record); });
  const Status started = server_->Start();
  ASSERT_TRUE(started.ok()) << started.error().ToString();
  ASSERT_NE(server_->port(), 0);
}

Result<HttpClient> HttpServerTest::Connect(std::chrono::milliseconds io_timeout) {
  const std::string address = server_->address();
  const std::string host = address.front() == '[' ? address.substr(1, address.find(']') - 1)
                                                  : address.substr(0, address.rfind(':'));
  return HttpClient::Connect(host, server_->port(), io_timeout);
}

}  // namespace pyexec::http::test
