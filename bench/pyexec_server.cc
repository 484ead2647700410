#include "pyexec_server.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <thread>
#include <utility>

#include "http_client.h"
#include "util/strings.h"

namespace pyexec::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kPollInterval{50};

std::vector<std::string> ServerEnvironment() {
  std::vector<std::string> env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"};
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read before the benchmark starts any thread
  if (const char* home = getenv("HOME")) {
    env.push_back(std::string("HOME=") + home);
  }
  return env;
}

}  // namespace

Result<std::unique_ptr<PyexecServer>> PyexecServer::Start(const PyexecServerConfig& config) {
  if (access(config.binary.c_str(), X_OK) != 0) {
    return SysError("access(" + config.binary + ", X_OK)", errno);
  }
  std::unique_ptr<PyexecServer> server(new PyexecServer());
  Result<sys::TempDir> dir = sys::TempDir::Create("/tmp", "pyexec-http-bench-");
  if (!dir.ok()) {
    return std::move(dir).error();
  }
  server->dir_ = std::move(dir).value();
  server->log_path_ = server->dir_.path() + "/serve.log";
  const std::string port_file = server->dir_.path() + "/port";
  const std::string work_dir = server->dir_.path() + "/work";
  if (Status made = sys::MakeDirectory(work_dir, 0755); !made.ok()) {
    return std::move(made).error();
  }
  sys::UniqueFd log(
      open(server->log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!log.valid()) {
    return SysError("open(" + server->log_path_ + ")", errno);
  }

  sys::SpawnSpec spec;
  spec.path = config.binary;
  spec.argv = {config.binary, "serve",       "--host",  "127.0.0.1",  "--port",
               "0",           "--port-file", port_file, "--work-dir", work_dir};
  spec.argv.insert(spec.argv.end(), config.extra_args.begin(), config.extra_args.end());
  spec.env = ServerEnvironment();
  spec.fd_map = {-1, log.get(), log.get()};
  Result<sys::ChildProcess> child = sys::Spawn(spec);
  if (!child.ok()) {
    return std::move(child).error();
  }
  server->process_ = std::move(child).value();

  const Clock::time_point deadline = Clock::now() + config.start_limit;
  const auto failed = [&server](const std::string& why) {
    return MakeError(ErrorCode::kUnavailable,
                     "pyexec serve " + why + "; the end of its log:\n" + server->LogTail(4000));
  };
  // Bounded by the deadline: one look every kPollInterval.
  while (true) {
    int wait_status = 0;
    Result<bool> exited = server->process_.TryWait(&wait_status);
    if (!exited.ok()) {
      return std::move(exited).error();
    }
    if (*exited) {
      return failed(sys::DescribeWaitStatus(wait_status) + " before it was ready");
    }
    if (server->port_ == 0) {
      Result<std::string> text = sys::ReadFile(port_file, 64);
      uint64_t port = 0;
      if (text.ok()) {
        const std::string_view digits =
            TrimBlanks(std::string_view{*text}.substr(0, std::min(text->find('\n'), text->size())));
        const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
        if (ec == std::errc() && end == digits.data() + digits.size() && port > 0 &&
            port <= 65535) {
          server->port_ = static_cast<uint16_t>(port);
        }
      }
    }
    if (server->port_ != 0) {
      Result<nlohmann::json> health = server->Health(std::chrono::seconds(10));
      if (health.ok()) {
        server->health_ = std::move(health).value();
        return server;
      }
    }
    if (Clock::now() >= deadline) {
      return failed("was not ready within " + std::to_string(config.start_limit.count()) + " s");
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

PyexecServer::~PyexecServer() {
  if (process_.running()) {
    (void)Stop(std::chrono::seconds(60));
  }
}

Result<nlohmann::json> PyexecServer::Health(std::chrono::milliseconds timeout) const {
  const Clock::time_point deadline = Clock::now() + timeout;
  Result<HttpConnection> connection = HttpConnection::Connect(port_, deadline);
  if (!connection.ok()) {
    return std::move(connection).error();
  }
  Result<HttpReply> reply = connection->RoundTrip(FormatGet(port_, "/health"), deadline);
  if (!reply.ok()) {
    return std::move(reply).error();
  }
  nlohmann::json document = nlohmann::json::parse(reply->body, nullptr, false);
  if (reply->status != 200 || !document.is_object()) {
    return MakeError(ErrorCode::kUnavailable,
                     "GET /health: " + std::to_string(reply->status) + " " + reply->body);
  }
  return document;
}

std::string PyexecServer::LogTail(size_t bytes) const {
  Result<std::string> log = sys::ReadFile(log_path_, size_t{256} * 1024 * 1024);
  if (!log.ok()) {
    return "(" + log.error().ToString() + ")";
  }
  return log->size() <= bytes ? *log : log->substr(log->size() - bytes);
}

Result<int> PyexecServer::Stop(std::chrono::seconds limit) {
  if (!process_.running()) {
    return MakeError(ErrorCode::kInvalidInput, "pyexec serve is not running");
  }
  if (Status signalled = process_.Signal(SIGTERM); !signalled.ok()) {
    return std::move(signalled).error();
  }
  const Clock::time_point deadline = Clock::now() + limit;
  // Bounded by the deadline.
  while (Clock::now() < deadline) {
    int wait_status = 0;
    Result<bool> exited = process_.TryWait(&wait_status);
    if (!exited.ok()) {
      return std::move(exited).error();
    }
    if (*exited) {
      return wait_status;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  process_ = sys::ChildProcess();  // SIGKILL and reap
  return MakeError(ErrorCode::kUnavailable, "pyexec serve did not exit within " +
                                                std::to_string(limit.count()) +
                                                " s of SIGTERM; killed");
}

}  // namespace pyexec::bench
