#include "support/engine_fixture.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <thread>

#include "sys/files.h"

namespace pyexec::testing {

service::Engine& SharedEngine() {
  static std::unique_ptr<service::Engine> engine = [] {
    Result<std::unique_ptr<service::Engine>> created =
        service::Engine::Create(service::EngineConfig{});
    if (!created.ok()) {
      ADD_FAILURE() << "cannot start the engine: " << created.error().ToString();
      std::abort();
    }
    return std::move(created).value();
  }();
  return *engine;
}

namespace {

// An engine of this process with `jail` on or off, created on first use and kept.
service::Engine& EngineWithJail(bool jail) {
  static std::unique_ptr<service::Engine> engines[2];
  std::unique_ptr<service::Engine>& engine = engines[jail ? 1 : 0];
  if (!engine) {
    service::EngineConfig config;
    config.jail = jail;
    Result<std::unique_ptr<service::Engine>> created = service::Engine::Create(config);
    if (!created.ok()) {
      ADD_FAILURE() << "cannot start the " << (jail ? "jailed" : "unjailed")
                    << " engine: " << created.error().ToString();
      std::abort();
    }
    engine = std::move(created).value();
  }
  return *engine;
}

}  // namespace

service::Engine& JailedEngine() { return EngineWithJail(true); }

service::Engine& UnjailedEngine() { return EngineWithJail(false); }

service::Execution RunUnjailed(std::string_view script, const service::Limits& limits) {
  Result<service::Execution> execution = UnjailedEngine().Run(script, limits);
  if (!execution.ok()) {
    ADD_FAILURE() << "unjailed engine error: " << execution.error().ToString();
    return service::Execution{};
  }
  return std::move(execution).value();
}

service::Limits DefaultLimits() { return service::Limits{}; }

service::Execution RunScript(std::string_view script, const service::Limits& limits) {
  Result<service::Execution> execution = SharedEngine().Run(script, limits);
  if (!execution.ok()) {
    ADD_FAILURE() << "engine error: " << execution.error().ToString();
    return service::Execution{};
  }
  return std::move(execution).value();
}

namespace {

std::string ReadText(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    ADD_FAILURE() << "cannot read " << path;
    return "";
  }
  return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

}  // namespace

std::string ReadPayload(const std::string& name) {
  return ReadText(std::string(PYEXEC_PAYLOAD_DIR) + "/" + name);
}

std::string ReferenceExample() {
  return ReadText(std::string(PYEXEC_SOURCE_DIR) + "/examples/reference.py");
}

bool AwaitFile(const std::string& path, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (sys::PathExists(path)) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return sys::PathExists(path);
}

bool ProcessRunning(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) {
    return false;
  }
  // "pid (comm) S ...": the state follows the last ')' (comm may contain spaces and parens).
  const size_t close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z' &&
         line[close + 2] != 'X';
}

std::string VerdictOf(const service::Execution& execution) {
  return std::string(service::VerdictName(execution.outcome.verdict));
}

}  // namespace pyexec::testing
