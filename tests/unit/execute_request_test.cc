// POST /execute's body rules and the status table, without a server.
#include "api/execute_request.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "api/error_table.h"
#include "api/routes.h"

namespace pyexec::api {
namespace {

using ::testing::HasSubstr;

ApiError ErrorOf(std::string_view body, RequestRules rules = {}) {
  std::variant<ExecuteRequest, ApiError> parsed = ParseExecuteRequest(body, rules);
  EXPECT_TRUE(std::holds_alternative<ApiError>(parsed)) << body;
  return std::holds_alternative<ApiError>(parsed) ? std::get<ApiError>(parsed) : ApiError{};
}

TEST(ContentType, JsonWithOrWithoutUtf8Charset_OrAbsent_IsAccepted) {
  for (const char* type : {"application/json", "APPLICATION/JSON", " application/json ",
                           "application/json; charset=utf-8", "application/json;charset=UTF8",
                           "application/json; charset=\"utf-8\"", "application/json; q=1"}) {
    EXPECT_FALSE(CheckContentType(type).has_value()) << type;
  }
  EXPECT_FALSE(CheckContentType(std::nullopt).has_value());
}

TEST(ContentType, OtherMediaTypesOrCharsets_AreUnsupported) {
  for (const char* type : {"text/plain", "application/jsonx", "application/x-json", "",
                           "application/json; charset=latin1", "text/json"}) {
    const std::optional<ApiError> error = CheckContentType(type);
    ASSERT_TRUE(error.has_value()) << type;
    EXPECT_EQ(error->kind, ApiErrorKind::kUnsupportedMediaType);
  }
}

TEST(NestingDepth, CountsOutsideStringsAndStopsPastTheLimit) {
  EXPECT_EQ(NestingDepth("{}", 10), 1u);
  EXPECT_EQ(NestingDepth("[[1], {\"a\": [2]}]", 10), 3u);
  EXPECT_EQ(NestingDepth(R"({"s": "[[[[[[\"[[["})", 2), 1u);
  EXPECT_EQ(NestingDepth(std::string(1000000, '['), 32), 33u);
}

TEST(ParseExecuteRequest, ValidBody_GivesScriptAndLimits) {
  std::variant<ExecuteRequest, ApiError> parsed = ParseExecuteRequest(
      R"({"script": "def main():\n    return 1\n", "timeout": 2.5, "memory_mb": 64.0,
          "other": {"ignored": [1, 2]}})",
      {});
  ASSERT_TRUE(std::holds_alternative<ExecuteRequest>(parsed));
  const ExecuteRequest& request = std::get<ExecuteRequest>(parsed);
  EXPECT_EQ(request.script, "def main():\n    return 1\n");
  EXPECT_EQ(request.limits.timeout_seconds, 2.5);
  EXPECT_EQ(request.limits.memory_mb, 64);
}

TEST(ParseExecuteRequest, NullLimits_AreAbsent) {
  std::variant<ExecuteRequest, ApiError> parsed =
      ParseExecuteRequest(R"({"script": "x", "timeout": null, "memory_mb": null})", {});
  ASSERT_TRUE(std::holds_alternative<ExecuteRequest>(parsed));
  EXPECT_FALSE(std::get<ExecuteRequest>(parsed).limits.timeout_seconds.has_value());
  EXPECT_FALSE(std::get<ExecuteRequest>(parsed).limits.memory_mb.has_value());
}

TEST(ParseExecuteRequest, EachProblem_IsReportedWithTheFieldName) {
  struct Case {
    const char* body;
    ApiErrorKind kind;
    const char* names;
  };
  for (const Case& c : {
           Case{"nope", ApiErrorKind::kInvalidJson, "JSON"},
           Case{R"({"script": "x", "timeout": NaN})", ApiErrorKind::kInvalidJson, "JSON"},
           Case{"[]", ApiErrorKind::kInvalidRequest, "object"},
           Case{"{}", ApiErrorKind::kInvalidRequest, "'script'"},
           Case{R"({"script": ["x"]})", ApiErrorKind::kInvalidRequest, "'script'"},
           Case{R"({"script": ""})", ApiErrorKind::kInvalidRequest, "'script'"},
           Case{R"({"script": "x", "timeout": "1"})", ApiErrorKind::kInvalidRequest, "'timeout'"},
           Case{R"({"script": "x", "timeout": false})", ApiErrorKind::kInvalidRequest, "'timeout'"},
           Case{R"({"script": "x", "memory_mb": 1.5})", ApiErrorKind::kInvalidRequest,
                "'memory_mb'"},
           Case{R"({"script": "x", "memory_mb": [1]})", ApiErrorKind::kInvalidRequest,
                "'memory_mb'"},
       }) {
    const ApiError error = ErrorOf(c.body);
    EXPECT_EQ(error.kind, c.kind) << c.body;
    EXPECT_THAT(error.message, HasSubstr(c.names)) << c.body;
  }
}

TEST(ParseExecuteRequest, TooDeep_IsRejectedBeforeParsing) {
  const ApiError error = ErrorOf("{\"script\": \"x\", \"a\": " + std::string(100000, '[') +
                                 std::string(100000, ']') + "}");
  EXPECT_EQ(error.kind, ApiErrorKind::kInvalidJson);
  EXPECT_THAT(error.message, HasSubstr("32"));
}

TEST(ParseExecuteRequest, ScriptAboveItsCap_IsTooLarge) {
  RequestRules rules;
  rules.max_script_bytes = 10;
  EXPECT_EQ(ErrorOf(R"({"script": "12345678901"})", rules).kind, ApiErrorKind::kPayloadTooLarge);
  // The cap counts UTF-8 bytes: five two-byte characters fit exactly.
  EXPECT_TRUE(std::holds_alternative<ExecuteRequest>(
      ParseExecuteRequest("{\"script\": \"\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\"}", rules)));
}

TEST(ErrorTable, TypesAreDistinctAndStatusesAreErrors) {
  std::set<std::string_view> types;
  for (const ApiErrorInfo& info : ApiErrorTable()) {
    EXPECT_TRUE(types.insert(info.type).second) << info.type;
    EXPECT_GE(info.status, 400);
    EXPECT_EQ(&InfoOf(info.kind), &info);
  }
  EXPECT_EQ(HttpStatusOf(ApiErrorKind::kQueueFull), 429);
  EXPECT_EQ(HttpStatusOf(ApiErrorKind::kQueueTimeout), 503);
  EXPECT_EQ(HttpStatusOf(ApiErrorKind::kInternal), 500);
}

TEST(ErrorTable, OkIs200AndEveryOtherVerdict422) {
  EXPECT_EQ(HttpStatusOfVerdict(service::Verdict::kOk), 200);
  for (service::Verdict verdict :
       {service::Verdict::kSyntaxError, service::Verdict::kMissingMain,
        service::Verdict::kException, service::Verdict::kNotSerializable,
        service::Verdict::kTimeout, service::Verdict::kMemoryLimit, service::Verdict::kKilled,
        service::Verdict::kExit, service::Verdict::kResultTooLarge}) {
    EXPECT_EQ(HttpStatusOfVerdict(verdict), 422) << service::VerdictName(verdict);
  }
}

TEST(Routes, AllowListsTheMethodsOfAKnownPathOnly) {
  EXPECT_EQ(AllowedMethods("/execute"), "POST");
  EXPECT_EQ(AllowedMethods("/health"), "GET");
  EXPECT_EQ(AllowedMethods("/nope"), "");
}

}  // namespace
}  // namespace pyexec::api
