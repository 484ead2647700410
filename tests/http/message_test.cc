// Unit tests for the plain-data side of the transport: config validation, header lookup,
// the JSON error document, and which handler fields and statuses reach the wire.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "http/config.h"
#include "http/request.h"
#include "http/response.h"
#include "http/wire_response.h"

namespace pyexec::http {
namespace {

TEST(ServerConfig, Defaults_AreValid) { EXPECT_TRUE(ValidateConfig(ServerConfig{}).ok()); }

TEST(ServerConfig, OutOfRangeFields_AreInvalidInput) {
  ServerConfig tiny_header;
  tiny_header.max_header_bytes = 10;
  ServerConfig no_connections;
  no_connections.max_connections = 0;
  ServerConfig zero_timeout;
  zero_timeout.body_timeout = std::chrono::milliseconds(0);
  ServerConfig no_threads;
  no_threads.io_threads = 0;
  for (const ServerConfig& config : {tiny_header, no_connections, zero_timeout, no_threads}) {
    const Status valid = ValidateConfig(config);
    ASSERT_FALSE(valid.ok());
    EXPECT_EQ(valid.error().code, ErrorCode::kInvalidInput);
  }
}

TEST(Request, HeaderLookup_IgnoresCaseAndReturnsTheFirst) {
  Request request;
  request.headers = {{"Content-Type", "a"}, {"X-Twice", "1"}, {"x-twice", "2"}};
  EXPECT_EQ(request.Header("content-type"), "a");
  EXPECT_EQ(request.Header("CONTENT-TYPE"), "a");
  EXPECT_EQ(request.Header("X-TWICE"), "1");
  EXPECT_FALSE(request.Header("Content-Typ").has_value());
  EXPECT_FALSE(request.Header("").has_value());
}

TEST(Request, PathOfTarget_DropsQueryAndFragment) {
  EXPECT_EQ(PathOfTarget("/execute"), "/execute");
  EXPECT_EQ(PathOfTarget("/execute?x=1&y=2"), "/execute");
  EXPECT_EQ(PathOfTarget("/a#frag"), "/a");
  EXPECT_EQ(PathOfTarget("*"), "*");
}

TEST(ErrorResponse, IsTheJsonErrorDocument) {
  const Response response = ErrorResponse(413, "payload_too_large", "too \"big\"\n");
  EXPECT_EQ(response.status, 413);
  EXPECT_EQ(response.content_type, "application/json");
  const nlohmann::json body = nlohmann::json::parse(response.body);
  EXPECT_EQ(
      body,
      (nlohmann::json{{"error", {{"type", "payload_too_large"}, {"message", "too \"big\"\n"}}}}));
}

TEST(WireResponse, StatusesOutsideTheRange_BecomeInternalErrors) {
  EXPECT_EQ(WireStatus(200), 200);
  EXPECT_EQ(WireStatus(599), 599);
  EXPECT_EQ(WireStatus(100), 500);
  EXPECT_EQ(WireStatus(0), 500);
  EXPECT_EQ(WireStatus(1000), 500);
  EXPECT_EQ(WireStatus(-1), 500);
}

TEST(WireResponse, ExtraFields_AreFiltered) {
  EXPECT_TRUE(IsAllowedExtraHeader({"X-Custom", "value with spaces\tand tab"}));
  EXPECT_TRUE(IsAllowedExtraHeader({"Retry-After", "1"}));
  for (const char* owned : {"Content-Length", "content-length", "Transfer-Encoding", "Connection",
                            "Keep-Alive", "Upgrade", "X-Request-Id", "Content-Type"}) {
    EXPECT_FALSE(IsAllowedExtraHeader({owned, "1"})) << owned;
  }
  EXPECT_FALSE(IsAllowedExtraHeader({"", "x"}));
  EXPECT_FALSE(IsAllowedExtraHeader({"Bad Name", "x"}));
  EXPECT_FALSE(IsAllowedExtraHeader({"X-A", "a\r\nSet-Cookie: x"}));
  EXPECT_FALSE(IsAllowedExtraHeader({"X-A", std::string("a\0b", 3)}));
  EXPECT_FALSE(IsAllowedExtraHeader({"X-A", std::string(size_t{100} * 1024, 'v')}));
}

TEST(WireResponse, FramingIsTheServers) {
  Response response{200, "text/plain", "hello", {{"Content-Length", "99"}, {"X-Ok", "1"}}};
  const WireResponse wire =
      ToWireResponse(response, WireOptions{11, /*keep_alive=*/false, false, "id-1"});
  EXPECT_EQ(wire[boost::beast::http::field::content_length], "5");
  EXPECT_EQ(wire["X-Request-Id"], "id-1");
  EXPECT_EQ(wire["X-Ok"], "1");
  EXPECT_EQ(wire[boost::beast::http::field::connection], "close");
  EXPECT_EQ(wire.body(), "hello");

  const WireResponse head = ToWireResponse(response, WireOptions{11, true, true, "id-2"});
  EXPECT_EQ(head[boost::beast::http::field::content_length], "5");
  EXPECT_EQ(head.body(), "");

  const WireResponse no_content =
      ToWireResponse(Response{204, "", "ignored", {}}, WireOptions{11, true, false, "id-3"});
  EXPECT_EQ(no_content.count(boost::beast::http::field::content_length), 0U);
  EXPECT_EQ(no_content.body(), "");
}

TEST(WireResponse, OverloadedBytes_AreACompleteResponse) {
  const std::string bytes = OverloadedResponseBytes("abc");
  EXPECT_EQ(bytes.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0U);
  const size_t end = bytes.find("\r\n\r\n");
  ASSERT_NE(end, std::string::npos);
  const std::string body = bytes.substr(end + 4);
  EXPECT_NE(bytes.find("Content-Length: " + std::to_string(body.size()) + "\r\n"),
            std::string::npos);
  EXPECT_NE(bytes.find("X-Request-Id: abc\r\n"), std::string::npos);
  EXPECT_NE(bytes.find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(body)["error"]["type"], "overloaded");
}

}  // namespace
}  // namespace pyexec::http
