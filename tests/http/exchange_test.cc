// Exchanges as a handler uses them: answered later and from other threads, told when the client
// leaves (and only then), answered for the handler when it drops one, harmless after the server
// is gone.
#include "http/exchange.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "http/server_fixture.h"

namespace pyexec::http::test {
namespace {

// Counts the callback's runs and signals the first one.
struct GoneSignal {
  std::atomic<int> runs{0};
  std::promise<void> first;
  std::shared_future<void> fired = first.get_future().share();

  std::function<void()> Callback(const std::shared_ptr<GoneSignal>& self) {
    return [self] {
      if (self->runs.fetch_add(1) == 0) {
        self->first.set_value();
      }
    };
  }
  bool WaitFired(std::chrono::milliseconds timeout = kWait) const {
    return fired.wait_for(timeout) == std::future_status::ready;
  }
};

TEST_F(HttpServerTest, Exchange_ExposesTheRequest) {
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  ASSERT_TRUE(
      client->Send(FormatRequest("POST", "/hold?q=1", "payload", {{"X-Thing", "Value"}})).ok());
  std::shared_ptr<Exchange> exchange = held_.Pop();
  ASSERT_NE(exchange, nullptr);
  EXPECT_EQ(exchange->method(), "POST");
  EXPECT_EQ(exchange->target(), "/hold?q=1");
  EXPECT_EQ(exchange->path(), "/hold");
  EXPECT_EQ(exchange->body(), "payload");
  EXPECT_EQ(exchange->Header("x-thing"), "Value");
  EXPECT_EQ(exchange->Header("X-THING"), "Value");
  EXPECT_EQ(exchange->Header("content-length"), "7");
  EXPECT_FALSE(exchange->Header("X-Absent").has_value());
  EXPECT_EQ(exchange->request().version, 11);
  EXPECT_EQ(exchange->peer().rfind("127.0.0.1:", 0), 0U) << exchange->peer();
  EXPECT_FALSE(exchange->request_id().empty());
  exchange->Respond(Response{204, "", "", {}});
  Result<HttpResponse> response = client->ReadResponse();
  ASSERT_TRUE(response.ok()) << response.error().ToString();
  EXPECT_EQ(response->status, 204);
  EXPECT_EQ(response->Header("X-Request-Id"), exchange->request_id());
}

TEST_F(HttpServerTest, RespondFromAnotherThread_IsDelivered) {
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  ASSERT_TRUE(client->Send(FormatRequest("GET", "/hold")).ok());
  std::shared_ptr<Exchange> exchange = held_.Pop();
  ASSERT_NE(exchange, nullptr);
  std::thread worker([exchange] {
    exchange->Respond(Response{201, "text/plain", "from a worker", {{"X-Worker", "1"}}});
  });
  worker.join();
  Result<HttpResponse> response = client->ReadResponse();
  ASSERT_TRUE(response.ok()) << response.error().ToString();
  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(response->body, "from a worker");
  EXPECT_EQ(response->Header("X-Worker"), "1");
}

TEST_F(HttpServerTest, ClientClosingWhileHandled_FiresOnClientGoneOnce) {
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  ASSERT_TRUE(client->Send(FormatRequest("GET", "/hold")).ok());
  std::shared_ptr<Exchange> exchange = held_.Pop();
  ASSERT_NE(exchange, nullptr);
  auto gone = std::make_shared<GoneSignal>();
  exchange->OnClientGone(gone->Callback(gone));
  EXPECT_FALSE(exchange->client_gone());
  client->Close();
  ASSERT_TRUE(gone->WaitFired());
  EXPECT_TRUE(exchange->client_gone());
  exchange->Respond(Response{200, "text/plain", "too late", {}});  // harmless
  EXPECT_TRUE(server_->WaitUntilDrained(Deadline()));
  EXPECT_EQ(gone->runs.load(), 1);
}

TEST_F(HttpServerTest, ClientResettingWhileHandled_FiresOnClientGone) {
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  ASSERT_TRUE(client->Send(FormatRequest("GET", "/hold")).ok());
  std::shared_ptr<Exchange> exchange = held_.Pop();
  ASSERT_NE(exchange, nullptr);
  auto gone = std::make_shared<GoneSignal>();
  exchange->OnClientGone(gone->Callback(gone));
  client->Reset();
  ASSERT_TRUE(gone->WaitFired());
  exchange->Respond(Response{200, "text/plain", "too late", {}});
  EXPECT_TRUE(server_->WaitUntilDrained(Deadline()));
  EXPECT_EQ(gone->runs.load(), 1);
}

TEST_F(HttpServerTest, OnClientGoneRegisteredAfterTheClientLeft_RunsAtOnce) {
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  ASSERT_TRUE(client->Send(FormatRequest("GET", "/hold")).ok());
  std::shared_ptr<Exchange> exchange = held_.Pop();
  ASSERT_NE(exchange, nullptr);
  auto gone = std::make_shared<GoneSignal>();
  exchange->OnClientGone(gone->Callback(gone));
  client->Close();
  ASSERT_TRUE(gone->WaitFired());
  bool ran = false;
  const std::thread::id registering_thread = std::this_thread::get_id();
  std::thread::id running_thread;
  exchange->OnClientGone([&] {
    ran = true;
    running_thread = std::this_thread::get_id();
  });
  EXPECT_TRUE(ran);
  EXPECT_EQ(running_thread, registering_thread);
  exchange->Respond(Response{});
}

TEST_F(HttpServerTest, PipelinedBytesWhileHandled_AreNotADisconnect) {
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  ASSERT_TRUE(client->Send(FormatRequest("GET", "/hold")).ok());
  std::shared_ptr<Exchange> exchange = held_.Pop();
  ASSERT_NE(exchange, nullptr);
  auto gone = std::make_shared<GoneSignal>();
  exchange->OnClientGone(gone->Callback(gone));
  ASSERT_TRUE(client->Send(FormatRequest("POST", "/echo", "second")).ok());
  exchange->Respond(Response{200, "text/plain", "first", {}});
  Result<HttpResponse> first = client->ReadResponse();
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  EXPECT_EQ(first->body, "first");
  Result<HttpResponse> second = client->ReadResponse();
  ASSERT_TRUE(second.ok()) << second.error().ToString();
  EXPECT_EQ(second->body, "second");
  EXPECT_FALSE(exchange->client_gone());
  EXPECT_EQ(gone->runs.load(), 0);
}

TEST_F(HttpServerTest, SecondRespond_IsIgnored) {
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  ASSERT_TRUE(client->Send(FormatRequest("GET", "/hold")).ok());
  std::shared_ptr<Exchange> exchange = held_.Pop();
  ASSERT_NE(exchange, nullptr);
  exchange->Respond(Response{201, "text/plain", "first", {}});
  exchange->Respond(Response{202, "text/plain", "second", {}});
  Result<HttpResponse> response = client->ReadResponse();
  ASSERT_TRUE(response.ok()) << response.error().ToString();
  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(response->body, "first");
  // Nothing stray follows: the next exchange on the connection gets its own answer.
  Result<HttpResponse> next = client->RoundTrip(FormatRequest("GET", "/text"));
  ASSERT_TRUE(next.ok()) << next.error().ToString();
  EXPECT_EQ(next->status, 200);
  EXPECT_EQ(next->body, "twelve bytes");
}

TEST_F(HttpServerTest, ExchangeDroppedByTheHandler_Gets500) {
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  Result<HttpResponse> response = client->RoundTrip(FormatRequest("GET", "/drop"));
  ASSERT_TRUE(response.ok()) << response.error().ToString();
  EXPECT_EQ(response->status, 500);
  EXPECT_NE(response->body.find("\"internal\""), std::string::npos) << response->body;
  // The connection stays usable.
  Result<HttpResponse> next = client->RoundTrip(FormatRequest("GET", "/text"));
  ASSERT_TRUE(next.ok()) << next.error().ToString();
  EXPECT_EQ(next->status, 200);
}

TEST_F(HttpServerTest, RespondAfterTheServerIsGone_IsHarmless) {
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  ASSERT_TRUE(client->Send(FormatRequest("GET", "/hold")).ok());
  std::shared_ptr<Exchange> exchange = held_.Pop();
  ASSERT_NE(exchange, nullptr);
  server_.reset();
  exchange->Respond(Response{200, "text/plain", "nobody listens", {}});
  exchange.reset();
  Result<std::string> rest = client->ReadUntilClosed();
  ASSERT_TRUE(rest.ok()) << rest.error().ToString();
  EXPECT_EQ(*rest, "");
}

}  // namespace
}  // namespace pyexec::http::test
