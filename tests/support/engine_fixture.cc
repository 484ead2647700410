#include "support/engine_fixture.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "sys/files.h"

namespace pyexec::testing {

namespace {

// A started engine with `config`, or a failed test and an abort: every test after it would
// fail for the same reason.
std::unique_ptr<service::Engine> CreateOrAbort(const service::EngineConfig& config,
                                               const char* what) {
  Result<std::unique_ptr<service::Engine>> created = service::Engine::Create(config);
  if (!created.ok()) {
    ADD_FAILURE() << "cannot start the " << what << " engine: " << created.error().ToString();
    std::abort();
  }
  return std::move(created).value();
}

}  // namespace

service::Engine& SharedEngine() {
  static std::unique_ptr<service::Engine> engine = CreateOrAbort(service::EngineConfig{}, "shared");
  return *engine;
}

namespace {

// The engine of this process with the jail off, created on first use and kept.
service::Engine& EngineWithoutJail() {
  static std::unique_ptr<service::Engine> engine;
  if (!engine) {
    service::EngineConfig config;
    config.jail = false;
    engine = CreateOrAbort(config, "unjailed");
  }
  return *engine;
}

}  // namespace

service::Engine& JailedEngine() { return SharedEngine(); }

service::Engine& RelaxedEngine(uint32_t relaxations) {
  static std::map<uint32_t, std::unique_ptr<service::Engine>> engines;
  std::unique_ptr<service::Engine>& engine = engines[relaxations];
  if (!engine) {
    service::EngineConfig config;
    config.test_relaxations = relaxations;
    engine = CreateOrAbort(config, "relaxed");
  }
  return *engine;
}

service::Engine& UnjailedEngine() { return EngineWithoutJail(); }

service::Engine& EngineWithoutPool() {
  static std::unique_ptr<service::Engine> engine;
  if (!engine) {
    service::EngineConfig config;
    config.pool.max_idle = 0;
    engine = CreateOrAbort(config, "pool-less");
  }
  return *engine;
}

service::Execution RunUnjailed(std::string_view script, const service::Limits& limits) {
  Result<service::Execution> execution = UnjailedEngine().Run(script, limits);
  UnjailedEngine().FinishTeardown();
  if (!execution.ok()) {
    ADD_FAILURE() << "unjailed engine error: " << execution.error().ToString();
    return service::Execution{};
  }
  return std::move(execution).value();
}

service::Limits DefaultLimits() { return service::Limits{}; }

service::Execution RunScript(std::string_view script, const service::Limits& limits) {
  Result<service::Execution> execution = SharedEngine().Run(script, limits);
  SharedEngine().FinishTeardown();
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

std::string Payload(const std::string& name, const nlohmann::json& params) {
  // A JSON string literal is a valid Python string literal.
  return "import json as _pyexec_json\nPARAMS = _pyexec_json.loads(" +
         nlohmann::json(params.dump()).dump() + ")\n" + ReadPayload(name);
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

namespace {

// The parent of `pid` from /proc/<pid>/stat, or 0 when it is gone.
pid_t ParentOf(pid_t pid) {
  // Through sys::ReadFile: a filebuf throws when the process exits mid-read (ESRCH).
  Result<std::string> stat = sys::ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat.ok() || stat->empty()) {
    return 0;
  }
  const std::string& line = *stat;
  const size_t close = line.rfind(')');
  if (close == std::string::npos) {
    return 0;
  }
  std::istringstream fields(line.substr(close + 2));
  std::string state;
  pid_t parent = 0;
  fields >> state >> parent;
  return parent;
}

bool DescendsFrom(pid_t pid, pid_t ancestor) {
  for (int depth = 0; depth < 64 && pid > 1; ++depth) {
    pid = ParentOf(pid);
    if (pid == ancestor) {
      return true;
    }
  }
  return false;
}

std::vector<pid_t> ProcessesWithMarker(pid_t ancestor, const std::string& name) {
  std::vector<pid_t> found;
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ignored)) {
    const std::string pid_text = entry.path().filename().string();
    if (pid_text.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    const pid_t pid = static_cast<pid_t>(std::stol(pid_text));
    if (DescendsFrom(pid, ancestor) && sys::PathExists("/proc/" + pid_text + "/root/tmp/" + name)) {
      found.push_back(pid);
    }
  }
  return found;
}

}  // namespace

std::vector<pid_t> AwaitJailMarker(pid_t ancestor, const std::string& name, size_t count,
                                   std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  std::vector<pid_t> found = ProcessesWithMarker(ancestor, name);
  while (found.size() < count && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    found = ProcessesWithMarker(ancestor, name);
  }
  return found;
}

bool ProcessRunning(pid_t pid) {
  Result<std::string> stat = sys::ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat.ok() || stat->empty()) {
    return false;
  }
  const std::string& line = *stat;
  // "pid (comm) S ...": the state follows the last ')' (comm may contain spaces and parens).
  const size_t close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z' &&
         line[close + 2] != 'X';
}

std::string VerdictOf(const service::Execution& execution) {
  return std::string(service::VerdictName(execution.outcome.verdict));
}

}  // namespace pyexec::testing
