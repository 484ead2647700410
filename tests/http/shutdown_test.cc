// Graceful and forced shutdown: no new connections, idle ones closed, requests in flight
// finished (with Connection: close), the rest closed by force with their handlers told.
#include <gtest/gtest.h>

#include <cerrno>
#include <future>
#include <memory>
#include <string>

#include "http/server_fixture.h"

namespace pyexec::http::test {
namespace {

TEST_F(HttpServerTest, BeginShutdown_RefusesNewConnections) {
  StartServer();
  const uint16_t port = server_->port();
  server_->BeginShutdown();
  Result<HttpClient> client = HttpClient::Connect("127.0.0.1", port);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.error().sys_errno, ECONNREFUSED) << client.error().ToString();
}

TEST_F(HttpServerTest, BeginShutdown_ClosesIdleConnections) {
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  ASSERT_TRUE(client->RoundTrip(FormatRequest("GET", "/text")).ok());
  server_->BeginShutdown();
  Result<std::string> rest = client->ReadUntilClosed();
  ASSERT_TRUE(rest.ok()) << rest.error().ToString();
  EXPECT_EQ(*rest, "");
  // If the close raced with the end of the response, the server lingers until the client
  // closes too (or linger_timeout passes).
  client->Close();
  EXPECT_TRUE(server_->WaitUntilDrained(Deadline()));
}

TEST_F(HttpServerTest, BeginShutdown_LetsARequestInFlightFinish) {
  StartServer();
  Result<HttpClient> busy = Connect();
  ASSERT_TRUE(busy.ok()) << busy.error().ToString();
  Result<HttpClient> idle = Connect();
  ASSERT_TRUE(idle.ok()) << idle.error().ToString();
  ASSERT_TRUE(idle->RoundTrip(FormatRequest("GET", "/text")).ok());
  ASSERT_TRUE(busy->Send(FormatRequest("GET", "/hold")).ok());
  std::shared_ptr<Exchange> exchange = held_.Pop();
  ASSERT_NE(exchange, nullptr);

  server_->BeginShutdown();
  Result<std::string> idle_rest = idle->ReadUntilClosed();
  ASSERT_TRUE(idle_rest.ok()) << idle_rest.error().ToString();
  // The held request keeps its connection: the server cannot drain.
  EXPECT_FALSE(server_->WaitUntilDrained(Deadline(kBriefWait)));
  EXPECT_EQ(server_->connection_count(), 1U);

  exchange->Respond(Response{200, "text/plain", "finished", {}});
  Result<HttpResponse> response = busy->ReadResponse();
  ASSERT_TRUE(response.ok()) << response.error().ToString();
  EXPECT_EQ(response->body, "finished");
  EXPECT_EQ(response->Header("Connection"), "close");
  Result<std::string> busy_rest = busy->ReadUntilClosed();
  ASSERT_TRUE(busy_rest.ok()) << busy_rest.error().ToString();
  busy->Close();  // the server lingers after its last response until the client closes
  EXPECT_TRUE(server_->WaitUntilDrained(Deadline()));
  EXPECT_FALSE(exchange->client_gone());
}

TEST_F(HttpServerTest, ForceClose_ClosesPendingRequestsAndTellsTheirHandlers) {
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  ASSERT_TRUE(client->Send(FormatRequest("GET", "/hold")).ok());
  std::shared_ptr<Exchange> exchange = held_.Pop();
  ASSERT_NE(exchange, nullptr);
  auto gone = std::make_shared<std::promise<void>>();
  std::future<void> fired = gone->get_future();
  exchange->OnClientGone([gone] { gone->set_value(); });

  server_->BeginShutdown();
  server_->ForceClose();
  EXPECT_EQ(fired.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(server_->connection_count(), 0U);
  Result<std::string> rest = client->ReadUntilClosed();
  ASSERT_TRUE(rest.ok()) << rest.error().ToString();
  EXPECT_EQ(*rest, "");
  exchange->Respond(Response{});  // dropped: the server has stopped
}

TEST_F(HttpServerTest, Stop_DrainsIdleConnections) {
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  ASSERT_TRUE(client->RoundTrip(FormatRequest("GET", "/text")).ok());
  EXPECT_TRUE(server_->Stop(kWait));
  EXPECT_EQ(server_->connection_count(), 0U);
}

TEST_F(HttpServerTest, Destructor_WithOpenAndPendingConnections_IsTidy) {
  StartServer();
  Result<HttpClient> idle = Connect();
  ASSERT_TRUE(idle.ok()) << idle.error().ToString();
  ASSERT_TRUE(idle->RoundTrip(FormatRequest("GET", "/text")).ok());
  Result<HttpClient> busy = Connect();
  ASSERT_TRUE(busy.ok()) << busy.error().ToString();
  ASSERT_TRUE(busy->Send(FormatRequest("GET", "/hold")).ok());
  std::shared_ptr<Exchange> exchange = held_.Pop();
  ASSERT_NE(exchange, nullptr);
  Result<HttpClient> partial = Connect();
  ASSERT_TRUE(partial.ok()) << partial.error().ToString();
  ASSERT_TRUE(partial->Send("GET /text HTTP/1.1\r\n").ok());

  server_.reset();
  EXPECT_TRUE(exchange->client_gone());
  for (HttpClient* client : {&*idle, &*busy}) {
    Result<std::string> rest = client->ReadUntilClosed();
    EXPECT_TRUE(rest.ok()) << rest.error().ToString();
  }
  // Closed by force, perhaps with its bytes unread: a reset is as good as a close here.
  Result<std::string> rest = partial->ReadUntilClosed();
  EXPECT_TRUE(rest.ok() || rest.error().sys_errno == ECONNRESET) << rest.error().ToString();
}

}  // namespace
}  // namespace pyexec::http::test
