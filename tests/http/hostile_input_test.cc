// Requests the server answers by itself, before any handler runs: malformed (400), header too
// large (431), body too large (413, early), too slow (408), and connections beyond the cap
// (503). Each answer is a JSON error, then the connection closes.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "http/server_fixture.h"

namespace pyexec::http::test {
namespace {

// The server's own error: JSON with the given type, Connection: close, and then the close.
void ExpectErrorThenClose(HttpClient& client, int status, const std::string& type) {
  Result<HttpResponse> response = client.ReadResponse();
  ASSERT_TRUE(response.ok()) << response.error().ToString();
  EXPECT_EQ(response->status, status);
  EXPECT_EQ(response->Header("Content-Type"), "application/json");
  EXPECT_EQ(response->Header("Connection"), "close");
  EXPECT_EQ(response->HeaderCount("X-Request-Id"), 1U);
  EXPECT_EQ(response->Header("Content-Length"), std::to_string(response->body.size()));
  const nlohmann::json body = nlohmann::json::parse(response->body, nullptr, false);
  ASSERT_FALSE(body.is_discarded()) << response->body;
  EXPECT_EQ(body["error"]["type"], type) << response->body;
  EXPECT_TRUE(body["error"]["message"].is_string()) << response->body;
  Result<std::string> rest = client.ReadUntilClosed();
  ASSERT_TRUE(rest.ok()) << rest.error().ToString();
  EXPECT_EQ(*rest, "");
}

TEST_F(HttpServerTest, Garbage_Gets400ThenClose) {
  StartServer();
  const std::vector<std::string> garbage = {
      "GARBAGE\r\n\r\n",
      std::string("\x01\x02\x03\xff\r\n\r\n"),
      "GET /echo HTTP/9.9\r\nHost: t\r\n\r\n",
      "GET /echo HTTP/1.1\r\nHost: t\r\nNo colon here\r\n\r\n",
      "GET /echo HTTP/1.1\r\nHost: t\r\nContent-Length: -5\r\n\r\n",
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
  };
  for (const std::string& request : garbage) {
    SCOPED_TRACE(request);
    Result<HttpClient> client = Connect();
    ASSERT_TRUE(client.ok()) << client.error().ToString();
    ASSERT_TRUE(client->Send(request).ok());
    ExpectErrorThenClose(*client, 400, "bad_request");
  }
  EXPECT_EQ(held_.size(), 0U);
}

TEST_F(HttpServerTest, Http11WithoutHost_Gets400) {
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  ASSERT_TRUE(client->Send("GET /echo HTTP/1.1\r\n\r\n").ok());
  ExpectErrorThenClose(*client, 400, "bad_request");
}

TEST_F(HttpServerTest, TransferEncodingOtherThanChunked_Gets400) {
  // Beast would read such a body as empty, and the body as the next request: smuggling.
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  ASSERT_TRUE(client
                  ->Send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n"
                         "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n")
                  .ok());
  ExpectErrorThenClose(*client, 400, "bad_request");
  EXPECT_EQ(held_.size(), 0U);
}

TEST_F(HttpServerTest, ContentLengthWithChunked_Gets400) {
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  ASSERT_TRUE(client
                  ->Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
                  .ok());
  ExpectErrorThenClose(*client, 400, "bad_request");
}

TEST_F(HttpServerTest, OversizedHeader_Gets431) {
  ServerConfig config;
  config.max_header_bytes = 1024;
  StartServer(config);
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  ASSERT_TRUE(
      client->Send(FormatRequest("GET", "/echo", "", {{"X-Big", std::string(2000, 'b')}})).ok());
  ExpectErrorThenClose(*client, 431, "header_too_large");
}

TEST_F(HttpServerTest, OversizedRequestLine_Gets431) {
  ServerConfig config;
  config.max_header_bytes = 1024;
  StartServer(config);
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  ASSERT_TRUE(client->Send(FormatRequest("GET", "/echo?" + std::string(4000, 'q'))).ok());
  ExpectErrorThenClose(*client, 431, "header_too_large");
}

TEST_F(HttpServerTest, HugeContentLength_Gets413BeforeAnyBodyByteIsSent) {
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  // Only the header: the 413 must come without the server waiting for the terabyte.
  ASSERT_TRUE(client
                  ->Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000000000\r\n"
                         "X-Request-Id: big-1\r\n\r\n")
                  .ok());
  ExpectErrorThenClose(*client, 413, "payload_too_large");
  const std::vector<AccessRecord> records = access_log_.WaitFor(1);
  ASSERT_EQ(records.size(), 1U);
  EXPECT_EQ(records[0].status, 413);
  EXPECT_EQ(records[0].request_id, "big-1");
  EXPECT_EQ(records[0].method, "POST");
  EXPECT_EQ(records[0].path, "/echo");
}

TEST_F(HttpServerTest, HugeContentLengthExpectingContinue_Gets413Instead) {
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  ASSERT_TRUE(client
                  ->Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000000000\r\n"
                         "Expect: 100-continue\r\n\r\n")
                  .ok());
  ExpectErrorThenClose(*client, 413, "payload_too_large");
}

TEST_F(HttpServerTest, ContentLengthAtTheCap_IsAccepted) {
  ServerConfig config;
  config.max_body_bytes = 1000;
  StartServer(config);
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  const std::string body(1000, 'c');
  Result<HttpResponse> response = client->RoundTrip(FormatRequest("POST", "/echo", body));
  ASSERT_TRUE(response.ok()) << response.error().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, body);
}

TEST_F(HttpServerTest, ChunkedBodyGrowingPastTheCap_Gets413AsSoonAsItCrosses) {
  ServerConfig config;
  config.max_body_bytes = 1000;
  StartServer(config);
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  // 1000 bytes fit; the next chunk's size line crosses the cap. The body never ends: the 413
  // must not wait for it.
  ASSERT_TRUE(client
                  ->Send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "3e8\r\n" +
                         std::string(1000, 'c') + "\r\n1\r\n")
                  .ok());
  ExpectErrorThenClose(*client, 413, "payload_too_large");
}

TEST_F(HttpServerTest, StalledHeader_Gets408ThenClose) {
  ServerConfig config;
  config.header_timeout = kShortTimeout;
  StartServer(config);
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  ASSERT_TRUE(client->Send("GET /echo HTTP/1.1\r\nHost: t\r\n").ok());  // no blank line
  ExpectErrorThenClose(*client, 408, "request_timeout");
}

TEST_F(HttpServerTest, SilentNewConnection_Gets408ThenClose) {
  ServerConfig config;
  config.header_timeout = kShortTimeout;
  StartServer(config);
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  ExpectErrorThenClose(*client, 408, "request_timeout");
}

TEST_F(HttpServerTest, StalledBody_Gets408ThenClose) {
  ServerConfig config;
  config.body_timeout = kShortTimeout;
  StartServer(config);
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  ASSERT_TRUE(client->Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc").ok());
  ExpectErrorThenClose(*client, 408, "request_timeout");
  EXPECT_EQ(held_.size(), 0U);
}

TEST_F(HttpServerTest, IdleKeptAliveConnection_IsClosedWithoutAnAnswer) {
  ServerConfig config;
  config.idle_keepalive_timeout = kShortTimeout;
  StartServer(config);
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  Result<HttpResponse> response = client->RoundTrip(FormatRequest("GET", "/text"));
  ASSERT_TRUE(response.ok()) << response.error().ToString();
  Result<std::string> rest = client->ReadUntilClosed();
  ASSERT_TRUE(rest.ok()) << rest.error().ToString();
  EXPECT_EQ(*rest, "");
  EXPECT_TRUE(server_->WaitUntilDrained(Deadline()));
}

TEST_F(HttpServerTest, ConnectionsBeyondTheCap_Get503ThenClose) {
  ServerConfig config;
  config.max_connections = 2;
  StartServer(config);
  // Two admitted connections: each has been answered, so each is counted.
  std::vector<HttpClient> admitted;
  for (int i = 0; i < 2; ++i) {
    Result<HttpClient> client = Connect();
    ASSERT_TRUE(client.ok()) << client.error().ToString();
    Result<HttpResponse> response = client->RoundTrip(FormatRequest("GET", "/text"));
    ASSERT_TRUE(response.ok()) << response.error().ToString();
    EXPECT_EQ(response->status, 200);
    admitted.push_back(std::move(*client));
  }
  Result<HttpClient> third = Connect();
  ASSERT_TRUE(third.ok()) << third.error().ToString();
  ExpectErrorThenClose(*third, 503, "overloaded");
  EXPECT_EQ(server_->connection_count(), 2U);

  // A slot frees when a connection closes.
  admitted.front().Close();
  ASSERT_TRUE(server_->WaitUntilConnectionsAtMost(1, Deadline()));
  Result<HttpClient> fourth = Connect();
  ASSERT_TRUE(fourth.ok()) << fourth.error().ToString();
  Result<HttpResponse> response = fourth->RoundTrip(FormatRequest("GET", "/text"));
  ASSERT_TRUE(response.ok()) << response.error().ToString();
  EXPECT_EQ(response->status, 200);
}

}  // namespace
}  // namespace pyexec::http::test
