// The HTTP transport serving well-formed requests over real sockets: routing to the handler,
// framing, keep-alive and Connection: close, HTTP/1.0, pipelining, request ids, the access log,
// IPv6, start-up errors and several io threads.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "http/request_id.h"
#include "http/server_fixture.h"

namespace pyexec::http::test {
namespace {

bool IsGeneratedId(const std::string& id) {
  return id.size() == 16 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// IPv4 sockets in CLOSE_WAIT (state 08 in /proc/net/tcp, see proc(5)) whose local port is
// `port`, the server's: connections whose client has closed and the server has not.
int CountCloseWait(uint16_t port) {
  std::ifstream table("/proc/net/tcp");
  std::string line;
  std::getline(table, line);  // the column names
  int count = 0;
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot;
    std::string local;
    std::string remote;
    std::string state;
    fields >> slot >> local >> remote >> state;
    const size_t colon = local.find(':');
    if (colon != std::string::npos && state == "08" &&
        std::stoul(local.substr(colon + 1), nullptr, 16) == port) {
      ++count;
    }
  }
  return count;
}

TEST_F(HttpServerTest, Echo_HandlerSeesMethodTargetPathAndBody) {
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  Result<HttpResponse> response = client->RoundTrip(FormatRequest("POST", "/echo?x=1", "hello"));
  ASSERT_TRUE(response.ok()) << response.error().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "hello");
  EXPECT_EQ(response->Header("Content-Type"), "text/plain");
  EXPECT_EQ(response->Header("X-Method"), "POST");
  EXPECT_EQ(response->Header("X-Target"), "/echo?x=1");
  EXPECT_EQ(response->Header("X-Path"), "/echo");
  EXPECT_EQ(response->Header("X-Version"), "11");
  EXPECT_EQ(response->Header("X-Peer").value_or("").rfind("127.0.0.1:", 0), 0U);
}

TEST_F(HttpServerTest, UnknownRoute_GetsTheHandlersJsonError) {
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  Result<HttpResponse> response = client->RoundTrip(FormatRequest("GET", "/nowhere"));
  ASSERT_TRUE(response.ok()) << response.error().ToString();
  EXPECT_EQ(response->status, 404);
  EXPECT_EQ(response->Header("Content-Type"), "application/json");
  const nlohmann::json body = nlohmann::json::parse(response->body);
  EXPECT_EQ(body["error"]["type"], "not_found");
  EXPECT_EQ(body["error"]["message"], "no route for /nowhere");
}

TEST_F(HttpServerTest, EveryResponse_CarriesContentLengthAndOneRequestId) {
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  for (const char* target : {"/echo", "/text", "/nowhere"}) {
    Result<HttpResponse> response = client->RoundTrip(FormatRequest("GET", target));
    ASSERT_TRUE(response.ok()) << response.error().ToString();
    EXPECT_EQ(response->Header("Content-Length"), std::to_string(response->body.size())) << target;
    EXPECT_EQ(response->HeaderCount("X-Request-Id"), 1U) << target;
    EXPECT_EQ(response->HeaderCount("Transfer-Encoding"), 0U) << target;
  }
}

TEST_F(HttpServerTest, KeepAlive_OneConnectionServesSeveralRequests) {
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  for (int i = 0; i < 5; ++i) {
    const std::string body = "request " + std::to_string(i);
    Result<HttpResponse> response = client->RoundTrip(FormatRequest("POST", "/echo", body));
    ASSERT_TRUE(response.ok()) << response.error().ToString();
    EXPECT_EQ(response->body, body);
    EXPECT_EQ(response->HeaderCount("Connection"), 0U);  // HTTP/1.1 keeps alive by default
  }
  EXPECT_EQ(server_->connection_count(), 1U);
}

TEST_F(HttpServerTest, ConnectionClose_IsAnsweredThenTheServerCloses) {
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  Result<HttpResponse> response =
      client->RoundTrip(FormatRequest("GET", "/text", "", {{"Connection", "close"}}));
  ASSERT_TRUE(response.ok()) << response.error().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->Header("Connection"), "close");
  Result<std::string> rest = client->ReadUntilClosed();
  ASSERT_TRUE(rest.ok()) << rest.error().ToString();
  EXPECT_EQ(*rest, "");
}

TEST_F(HttpServerTest, Http10_IsAnsweredInHttp10AndClosed) {
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  Result<HttpResponse> response = client->RoundTrip("GET /text HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(response.ok()) << response.error().ToString();
  EXPECT_EQ(response->version, 10);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "twelve bytes");
  Result<std::string> rest = client->ReadUntilClosed();
  ASSERT_TRUE(rest.ok()) << rest.error().ToString();
  EXPECT_EQ(*rest, "");
}

TEST_F(HttpServerTest, Http10WithKeepAlive_StaysOpen) {
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  for (int i = 0; i < 2; ++i) {
    Result<HttpResponse> response =
        client->RoundTrip("GET /text HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    ASSERT_TRUE(response.ok()) << response.error().ToString();
    EXPECT_EQ(response->version, 10);
    EXPECT_EQ(response->body, "twelve bytes");
    EXPECT_EQ(response->Header("Connection"), "keep-alive");
  }
}

TEST_F(HttpServerTest, Pipelined_RequestsAreAnsweredInOrder) {
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  const std::vector<std::string> bodies = {"one", "two", "three", "four"};
  std::string requests;
  for (const std::string& body : bodies) {
    requests += FormatRequest("POST", "/echo", body);
  }
  ASSERT_TRUE(client->Send(requests).ok());
  for (const std::string& body : bodies) {
    Result<HttpResponse> response = client->ReadResponse();
    ASSERT_TRUE(response.ok()) << response.error().ToString();
    EXPECT_EQ(response->body, body);
  }
}

TEST_F(HttpServerTest, Pipelined_BeyondTheReadBuffer_AllAnsweredInOrder) {
  // While the first request is held, the server stops reading once its bounded buffer is full;
  // the rest waits in the kernel and is read as the buffer empties.
  ServerConfig config;
  config.max_header_bytes = 1024;
  StartServer(config);
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  constexpr int kRequests = 600;  // about 34 KiB of requests: twice the 17 KiB buffer
  std::string requests = FormatRequest("GET", "/hold");
  for (int i = 0; i < kRequests; ++i) {
    requests += FormatRequest("POST", "/echo", std::to_string(i));
  }
  ASSERT_TRUE(client->Send(requests).ok());
  std::shared_ptr<Exchange> held = held_.Pop();
  ASSERT_NE(held, nullptr);
  held->Respond(Response{200, "text/plain", "held", {}});
  Result<HttpResponse> first = client->ReadResponse();
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  EXPECT_EQ(first->body, "held");
  for (int i = 0; i < kRequests; ++i) {
    Result<HttpResponse> response = client->ReadResponse();
    ASSERT_TRUE(response.ok()) << i << ": " << response.error().ToString();
    ASSERT_EQ(response->body, std::to_string(i));
  }
  EXPECT_FALSE(held->client_gone());
}

TEST_F(HttpServerTest, Head_GetsTheLengthWithoutTheBody) {
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  ASSERT_TRUE(client->Send(FormatRequest("HEAD", "/text")).ok());
  Result<HttpResponse> head = client->ReadResponse(/*head_request=*/true);
  ASSERT_TRUE(head.ok()) << head.error().ToString();
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->Header("Content-Length"), "12");
  // No stray body bytes: the next response on the connection parses.
  Result<HttpResponse> next = client->RoundTrip(FormatRequest("GET", "/text"));
  ASSERT_TRUE(next.ok()) << next.error().ToString();
  EXPECT_EQ(next->body, "twelve bytes");
}

TEST_F(HttpServerTest, BodyOfOneMebibyte_IsReceivedWhole) {
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  std::string body(size_t{1024} * 1024, 'x');
  body.front() = '<';
  body.back() = '>';
  Result<HttpResponse> response = client->RoundTrip(FormatRequest("POST", "/echo", body));
  ASSERT_TRUE(response.ok()) << response.error().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, body);
}

TEST_F(HttpServerTest, ChunkedBody_IsDecoded) {
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  Result<HttpResponse> response = client->RoundTrip(
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n");
  ASSERT_TRUE(response.ok()) << response.error().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "hello world");
}

TEST_F(HttpServerTest, ExpectContinue_Gets100ThenTheResponse) {
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  ASSERT_TRUE(client
                  ->Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                         "Expect: 100-continue\r\n\r\n")
                  .ok());
  Result<HttpResponse> interim = client->ReadResponse();
  ASSERT_TRUE(interim.ok()) << interim.error().ToString();
  EXPECT_EQ(interim->status, 100);
  Result<HttpResponse> response = client->RoundTrip("hello");
  ASSERT_TRUE(response.ok()) << response.error().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "hello");
}

TEST_F(HttpServerTest, ClientRequestId_IsEchoedAndSeenByTheHandler) {
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  const std::string id = "client-42.retry_1";
  Result<HttpResponse> response =
      client->RoundTrip(FormatRequest("GET", "/echo", "", {{"x-request-id", id}}));
  ASSERT_TRUE(response.ok()) << response.error().ToString();
  EXPECT_EQ(response->Header("X-Request-Id"), id);
  EXPECT_EQ(response->Header("X-Seen-Request-Id"), id);
}

TEST_F(HttpServerTest, InsaneClientRequestId_IsReplacedByAGeneratedOne) {
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  const std::vector<std::string> insane = {std::string(kMaxRequestIdLength + 1, 'a'), "has space",
                                           "semi;colon", "quote\"d", "caf\xc3\xa9"};
  for (const std::string& id : insane) {
    Result<HttpResponse> response =
        client->RoundTrip(FormatRequest("GET", "/echo", "", {{"X-Request-Id", id}}));
    ASSERT_TRUE(response.ok()) << response.error().ToString();
    const std::string echoed = response->Header("X-Request-Id").value_or("");
    EXPECT_TRUE(IsGeneratedId(echoed)) << id << " -> " << echoed;
    EXPECT_EQ(response->Header("X-Seen-Request-Id"), echoed);
  }
}

TEST_F(HttpServerTest, GeneratedRequestIds_AreDistinct) {
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  std::set<std::string> ids;
  constexpr int kRequests = 20;
  for (int i = 0; i < kRequests; ++i) {
    Result<HttpResponse> response = client->RoundTrip(FormatRequest("GET", "/text"));
    ASSERT_TRUE(response.ok()) << response.error().ToString();
    const std::string id = response->Header("X-Request-Id").value_or("");
    EXPECT_TRUE(IsGeneratedId(id)) << id;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kRequests));
}

TEST_F(HttpServerTest, HandlerHeaders_ArePassedButCannotForgeFramingOrInject) {
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  Result<HttpResponse> response = client->RoundTrip(FormatRequest("GET", "/headers"));
  ASSERT_TRUE(response.ok()) << response.error().ToString();
  EXPECT_EQ(response->Header("X-Custom"), "yes");
  EXPECT_EQ(response->Header("Content-Length"), "2");
  EXPECT_EQ(response->HeaderCount("Content-Length"), 1U);
  EXPECT_NE(response->Header("X-Request-Id"), "forged");
  EXPECT_EQ(response->HeaderCount("X-Request-Id"), 1U);
  EXPECT_EQ(response->HeaderCount("Connection"), 0U);
  EXPECT_EQ(response->HeaderCount("Transfer-Encoding"), 0U);
  EXPECT_EQ(response->HeaderCount("Set-Cookie"), 0U);
  EXPECT_EQ(response->HeaderCount("X-Injected"), 0U);
  EXPECT_EQ(response->body, "{}");
  // The connection is still usable.
  Result<HttpResponse> next = client->RoundTrip(FormatRequest("GET", "/text"));
  ASSERT_TRUE(next.ok()) << next.error().ToString();
  EXPECT_EQ(next->body, "twelve bytes");
}

TEST_F(HttpServerTest, AccessLog_RecordsEachResponse) {
  StartServer();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  Result<HttpResponse> response =
      client->RoundTrip(FormatRequest("POST", "/echo?q=1", "abc", {{"X-Request-Id", "log-1"}}));
  ASSERT_TRUE(response.ok()) << response.error().ToString();
  const std::vector<AccessRecord> records = access_log_.WaitFor(1);
  ASSERT_EQ(records.size(), 1U);
  const AccessRecord& record = records[0];
  EXPECT_EQ(record.request_id, "log-1");
  EXPECT_EQ(record.method, "POST");
  EXPECT_EQ(record.path, "/echo");
  EXPECT_EQ(record.status, 200);
  EXPECT_EQ(record.request_body_bytes, 3U);
  EXPECT_GT(record.response_bytes, 3U);
  EXPECT_TRUE(record.complete);
  EXPECT_EQ(record.peer.rfind("127.0.0.1:", 0), 0U);
  EXPECT_GE(record.duration.count(), 0);
}

TEST_F(HttpServerTest, Ipv6Loopback_Serves) {
  ServerConfig config;
  config.host = "::1";
  StartServer(config);
  EXPECT_EQ(server_->address().rfind("[::1]:", 0), 0U) << server_->address();
  Result<HttpClient> client = Connect();
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  Result<HttpResponse> response = client->RoundTrip(FormatRequest("GET", "/echo"));
  ASSERT_TRUE(response.ok()) << response.error().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->Header("X-Peer").value_or("").rfind("[::1]:", 0), 0U);
}

TEST(HttpServerStart, PortInUse_IsATypedErrorNamingTheAddress) {
  Server first(ServerConfig{}, [](const std::shared_ptr<Exchange>&) {});
  ASSERT_TRUE(first.Start().ok());
  ServerConfig config;
  config.port = first.port();
  Server second(config, [](const std::shared_ptr<Exchange>&) {});
  const Status started = second.Start();
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code, ErrorCode::kSystem);
  EXPECT_EQ(started.error().sys_errno, EADDRINUSE);
  EXPECT_NE(started.error().message.find("127.0.0.1:" + std::to_string(first.port())),
            std::string::npos)
      << started.error().ToString();
}

TEST(HttpServerStart, HostName_IsInvalidInput) {
  ServerConfig config;
  config.host = "localhost";
  Server server(config, [](const std::shared_ptr<Exchange>&) {});
  const Status started = server.Start();
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(started.error().message.find("localhost"), std::string::npos);
}

TEST(HttpServerStart, BadConfigOrMissingHandler_IsInvalidInput) {
  ServerConfig config;
  config.io_threads = 0;
  Server no_threads(config, [](const std::shared_ptr<Exchange>&) {});
  const Status threads_status = no_threads.Start();
  ASSERT_FALSE(threads_status.ok());
  EXPECT_EQ(threads_status.error().code, ErrorCode::kInvalidInput);

  Server no_handler(ServerConfig{}, nullptr);
  const Status handler_status = no_handler.Start();
  ASSERT_FALSE(handler_status.ok());
  EXPECT_EQ(handler_status.error().code, ErrorCode::kInvalidInput);
}

TEST(HttpServerStart, SecondStart_IsRefused) {
  Server server(ServerConfig{}, [](const std::shared_ptr<Exchange>&) {});
  ASSERT_TRUE(server.Start().ok());
  const Status again = server.Start();
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kInvalidInput);
}

TEST_F(HttpServerTest, SeveralIoThreads_ServeConcurrentClients) {
  ServerConfig config;
  config.io_threads = 4;
  StartServer(config);
  constexpr int kClients = 8;
  constexpr int kRequestsEach = 25;
  std::atomic<int> answered{0};
  std::vector<std::string> failures(kClients);
  std::vector<std::thread> clients;
  clients.reserve(kClients);
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      Result<HttpClient> client = Connect();
      if (!client.ok()) {
        failures[c] = client.error().ToString();
        return;
      }
      for (int i = 0; i < kRequestsEach; ++i) {
        const std::string body = std::to_string(c) + "/" + std::to_string(i);
        Result<HttpResponse> response = client->RoundTrip(FormatRequest("POST", "/echo", body));
        if (!response.ok() || response->body != body) {
          failures[c] =
              response.ok() ? "wrong body " + response->body : response.error().ToString();
          return;
        }
        ++answered;
      }
    });
  }
  for (std::thread& thread : clients) {
    thread.join();
  }
  for (int c = 0; c < kClients; ++c) {
    EXPECT_EQ(failures[c], "") << "client " << c;
  }
  EXPECT_EQ(answered.load(), kClients * kRequestsEach);
}

// A server with GetParam() io threads.
class HttpServerIoThreadsTest : public HttpServerTest, public ::testing::WithParamInterface<int> {};

// Each client's close must be seen as soon as its kept-alive response is written, whichever io
// thread sees the close first: the idle timeout (60 s here) must not be what closes it.
TEST_P(HttpServerIoThreadsTest, ClientClosingAfterAKeptAliveResponse_IsClosedAtOnce) {
  ServerConfig config;
  config.io_threads = GetParam();
  config.idle_keepalive_timeout = std::chrono::seconds(60);
  StartServer(config);
  // The close racing the end of the write is missed now and then, not every time: enough
  // rounds of enough clients make a regression fail nearly every run.
  constexpr int kRounds = 10;
  constexpr int kClients = 40;
  constexpr std::chrono::seconds kCloseWait{5};
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::string> failures(kClients);
    std::vector<std::thread> clients;
    clients.reserve(kClients);
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&, c] {
        Result<HttpClient> client = Connect();
        if (!client.ok()) {
          failures[c] = client.error().ToString();
          return;
        }
        Result<HttpResponse> response = client->RoundTrip(FormatRequest("GET", "/text"));
        if (!response.ok() || response->status != 200 || response->HeaderCount("Connection") != 0) {
          failures[c] = response.ok() ? "unexpected response " + std::to_string(response->status)
                                      : response.error().ToString();
        }
        client->Close();
      });
    }
    for (std::thread& thread : clients) {
      thread.join();
    }
    for (int c = 0; c < kClients; ++c) {
      ASSERT_EQ(failures[c], "") << "round " << round << ", client " << c;
    }
    ASSERT_TRUE(server_->WaitUntilDrained(Deadline(kCloseWait)))
        << "round " << round << ": " << server_->connection_count() << " of " << kClients
        << " connections still open, " << CountCloseWait(server_->port())
        << " of them in CLOSE_WAIT";
  }
}

INSTANTIATE_TEST_SUITE_P(SeveralIoThreads, HttpServerIoThreadsTest, ::testing::Values(2, 4),
                         [](const ::testing::TestParamInfo<int>& param_info) {
                           return std::to_string(param_info.param) + "IoThreads";
                         });

}  // namespace
}  // namespace pyexec::http::test
