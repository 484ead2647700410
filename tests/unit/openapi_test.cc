// docs/openapi.json describes exactly what the server implements: the same paths, methods and
// status codes as the api layer's route table, every error type of the status table and every
// verdict.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "api/error_table.h"
#include "api/routes.h"
#include "service/outcome.h"

namespace pyexec::api {
namespace {

nlohmann::json LoadOpenApi() {
  std::ifstream file(std::string(PYEXEC_SOURCE_DIR) + "/docs/openapi.json");
  std::ostringstream text;
  text << file.rdbuf();
  return nlohmann::json::parse(text.str(), nullptr, false);
}

std::string Lower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) {
    c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  return lower;
}

std::set<int> StatusKeys(const nlohmann::json& object) {
  std::set<int> statuses;
  for (const auto& [key, value] : object.items()) {
    statuses.insert(std::stoi(key));
  }
  return statuses;
}

TEST(OpenApi, ParsesAsOpenApi31) {
  const nlohmann::json spec = LoadOpenApi();
  ASSERT_TRUE(spec.is_object()) << "docs/openapi.json does not parse";
  EXPECT_EQ(spec["openapi"].get<std::string>().substr(0, 4), "3.1.");
  EXPECT_TRUE(spec["info"]["title"].is_string());
  EXPECT_TRUE(spec["info"]["version"].is_string());
}

TEST(OpenApi, PathsMethodsAndStatusesMatchTheRouteTable) {
  const nlohmann::json spec = LoadOpenApi();
  ASSERT_TRUE(spec.is_object());
  std::set<std::pair<std::string, std::string>> documented;
  for (const auto& [path, operations] : spec["paths"].items()) {
    for (const auto& [method, operation] : operations.items()) {
      documented.emplace(path, method);
    }
  }
  std::set<std::pair<std::string, std::string>> served;
  for (const Route& route : Routes()) {
    served.emplace(std::string(route.path), Lower(route.method));
    SCOPED_TRACE(std::string(route.method) + " " + std::string(route.path));
    const nlohmann::json& operation = spec["paths"][std::string(route.path)][Lower(route.method)];
    ASSERT_TRUE(operation.is_object());
    EXPECT_EQ(StatusKeys(operation["responses"]),
              std::set<int>(route.statuses.begin(), route.statuses.end()));
  }
  EXPECT_EQ(documented, served);
  const std::span<const int> any = AnyRequestStatuses();
  EXPECT_EQ(StatusKeys(spec["x-pyexec-any-request-responses"]),
            std::set<int>(any.begin(), any.end()));
}

TEST(OpenApi, EveryErrorTypeAndEveryVerdictIsDocumented) {
  const nlohmann::json spec = LoadOpenApi();
  ASSERT_TRUE(spec.is_object());
  const nlohmann::json& schemas = spec["components"]["schemas"];
  const nlohmann::json& types =
      schemas["Error"]["properties"]["error"]["properties"]["type"]["enum"];
  for (const ApiErrorInfo& info : ApiErrorTable()) {
    EXPECT_NE(std::find(types.begin(), types.end(), std::string(info.type)), types.end())
        << info.type;
  }
  std::set<std::string> verdicts;
  for (const nlohmann::json& name : schemas["Verdict"]["enum"]) {
    verdicts.insert(name.get<std::string>());
    const std::optional<service::Verdict> verdict = service::ParseVerdict(name.get<std::string>());
    ASSERT_TRUE(verdict.has_value()) << name;
    EXPECT_EQ(HttpStatusOfVerdict(*verdict), 422) << name;
  }
  EXPECT_EQ(verdicts.size(), 9u);
}

}  // namespace
}  // namespace pyexec::api
