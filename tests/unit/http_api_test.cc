// HttpApi on a real http::Server (127.0.0.1, port 0) with a fake runner instead of the engine:
// what the api does with each kind of runner outcome, with readiness and with shutdown, without
// Python.
#include "api/http_api.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>

#include <atomic>
#include <cerrno>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "http/server.h"
#include "support/http_client.h"

namespace pyexec::api {
namespace {

using ::testing::HasSubstr;
using testing::HttpClient;
using ::testing::Not;

constexpr std::chrono::seconds kWait{10};

class HttpApiTest : public ::testing::Test {
 protected:
  void Start(Runner runner, std::function<bool(std::string*)> ready = {}) {
    admission_ = std::make_unique<service::Admission>(
        service::AdmissionConfig{.max_concurrency = 1, .queue_capacity = 4});
    HttpApiConfig config;
    config.health_fields = {{"version", "test"}};
    config.ready = std::move(ready);
    api_ = std::make_unique<HttpApi>(std::move(config), std::move(runner), admission_.get());
    server_ = std::make_unique<http::Server>(
        http::ServerConfig{},
        [this](const std::shared_ptr<http::Exchange>& exchange) { api_->Handle(exchange); },
        [this](const http::AccessRecord& record) { api_->LogAccess(record); });
    ASSERT_TRUE(server_->Start().ok());
  }

  void TearDown() override {
    if (server_) {
      server_->Stop(std::chrono::seconds(1));
    }
    if (admission_) {
      admission_->Shutdown(std::chrono::seconds(0), kWait);
    }
  }

  struct Reply {
    int status = 0;
    nlohmann::json json;
    std::string body;
  };

  Reply Send(std::string_view method, std::string_view path, std::string_view body = {}) {
    Reply reply;
    Result<HttpClient> client = HttpClient::Connect("127.0.0.1", server_->port(), kWait);
    if (!client.ok()) {
      return reply;
    }
    Result<testing::HttpResponse> response = client->RoundTrip(
        testing::FormatRequest(method, path, body, {{"Content-Type", "application/json"}}));
    if (response.ok()) {
      reply.status = response->status;
      reply.body = response->body;
      reply.json = nlohmann::json::parse(response->body, nullptr, false);
    }
    return reply;
  }

  static constexpr std::string_view kBody = R"({"script": "def main():\n    return 1\n"})";

  std::unique_ptr<service::Admission> admission_;
  std::unique_ptr<HttpApi> api_;
  std::unique_ptr<http::Server> server_;
};

TEST_F(HttpApiTest, RunnerError_IsAGeneric500WithoutHostDetails) {
  Start([](std::string_view, const service::Limits&, const sys::EventFd*) {
    return Result<service::Execution>(SysError("mkdir(/sys/fs/cgroup/memory/pyexec-1/x1)", ENOENT));
  });
  const Reply reply = Send("POST", "/execute", kBody);
  EXPECT_EQ(reply.status, 500);
  EXPECT_EQ(reply.json["error"]["type"], "internal");
  EXPECT_THAT(reply.body, Not(HasSubstr("/sys")));
  EXPECT_THAT(reply.body, Not(HasSubstr("No such file")));
}

TEST_F(HttpApiTest, Verdicts_Are200Or422WithTheDocument) {
  Start([](std::string_view script, const service::Limits&, const sys::EventFd*) {
    service::Execution execution;
    if (script.find("fail") != std::string_view::npos) {
      execution.outcome.verdict = service::Verdict::kException;
      execution.outcome.message = "ValueError: x";
    } else {
      execution.outcome.result_json = "[1,2]";
    }
    execution.stdout_data = "out";
    return Result<service::Execution>(std::move(execution));
  });
  const Reply ok = Send("POST", "/execute", kBody);
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.json["result"], nlohmann::json({1, 2}));
  const Reply failed = Send("POST", "/execute", R"({"script": "fail"})");
  EXPECT_EQ(failed.status, 422);
  EXPECT_EQ(failed.json["error"]["type"], "exception");
  EXPECT_EQ(failed.json["stdout"], "out");
}

TEST_F(HttpApiTest, ClientGone_RaisesTheCancelFlagOfItsExecution) {
  std::promise<void> started;
  std::promise<bool> cancelled;
  Start([&](std::string_view, const service::Limits&, const sys::EventFd* cancel) {
    started.set_value();
    pollfd polled{cancel->fd(), POLLIN, 0};
    const bool raised = poll(&polled, 1, static_cast<int>(kWait.count() * 1000)) == 1;
    cancelled.set_value(raised);
    return Result<service::Execution>(MakeError(ErrorCode::kCancelled, "cancelled"));
  });
  Result<HttpClient> client = HttpClient::Connect("127.0.0.1", server_->port(), kWait);
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(client->Send(testing::FormatRequest("POST", "/execute", kBody)).ok());
  ASSERT_EQ(started.get_future().wait_for(kWait), std::future_status::ready);
  client->Reset();
  std::future<bool> result = cancelled.get_future();
  ASSERT_EQ(result.wait_for(kWait), std::future_status::ready);
  EXPECT_TRUE(result.get());
}

TEST_F(HttpApiTest, CancelledWhileTheClientWaits_IsShuttingDown503) {
  Start([](std::string_view, const service::Limits&, const sys::EventFd*) {
    return Result<service::Execution>(MakeError(ErrorCode::kCancelled, "cancelled"));
  });
  const Reply reply = Send("POST", "/execute", kBody);
  EXPECT_EQ(reply.status, 503);
  EXPECT_EQ(reply.json["error"]["type"], "shutting_down");
}

TEST_F(HttpApiTest, NotReady_Is503ForExecuteAndHealth) {
  std::atomic<int> runs{0};
  Start(
      [&](std::string_view, const service::Limits&, const sys::EventFd*) {
        ++runs;
        return Result<service::Execution>(service::Execution{});
      },
      [](std::string* reason) {
        *reason = "no jail here";
        return false;
      });
  const Reply execute = Send("POST", "/execute", kBody);
  EXPECT_EQ(execute.status, 503);
  EXPECT_EQ(execute.json["error"]["type"], "not_ready");
  const Reply health = Send("GET", "/health");
  EXPECT_EQ(health.status, 503);
  EXPECT_EQ(health.json["status"], "unavailable");
  EXPECT_EQ(health.json["error"]["type"], "not_ready");
  EXPECT_EQ(health.json["version"], "test");
  EXPECT_EQ(runs.load(), 0);
}

TEST_F(HttpApiTest, AfterBeginShutdown_HealthAndExecuteAre503ShuttingDown) {
  Start([](std::string_view, const service::Limits&, const sys::EventFd*) {
    return Result<service::Execution>(service::Execution{});
  });
  EXPECT_EQ(Send("GET", "/health").status, 200);
  api_->BeginShutdown();
  const Reply health = Send("GET", "/health");
  EXPECT_EQ(health.status, 503);
  EXPECT_EQ(health.json["error"]["type"], "shutting_down");
  const Reply execute = Send("POST", "/execute", kBody);
  EXPECT_EQ(execute.status, 503);
  EXPECT_EQ(execute.json["error"]["type"], "shutting_down");
}

}  // namespace
}  // namespace pyexec::api
