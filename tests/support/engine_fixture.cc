#include "support/engine_fixture.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <memory>

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

service::Limits DefaultLimits() { return service::Limits{}; }

service::Execution RunScript(std::string_view script, const service::Limits& limits) {
  Result<service::Execution> execution = SharedEngine().Run(script, limits);
  if (!execution.ok()) {
    ADD_FAILURE() << "engine error: " << execution.error().ToString();
    return service::Execution{};
  }
  return std::move(execution).value();
}

std::string ReadPayload(const std::string& name) {
  const std::string path = std::string(PYEXEC_PAYLOAD_DIR) + "/" + name;
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    ADD_FAILURE() << "cannot read payload " << path;
    return "";
  }
  return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

std::string VerdictOf(const service::Execution& execution) {
  return std::string(service::VerdictName(execution.outcome.verdict));
}

}  // namespace pyexec::testing
