#include "api/execute_request.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "util/strings.h"

namespace pyexec::api {
namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string LowerCase(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) {
    c = Lower(c);
  }
  return lower;
}

ApiError Invalid(std::string message) {
  return ApiError{ApiErrorKind::kInvalidRequest, std::move(message)};
}

bool IsBlank(std::string_view text) {
  for (const char c : text) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v') {
      return false;
    }
  }
  return true;
}

std::optional<ApiError> ReadTimeout(const nlohmann::json& value, ExecuteRequest* request) {
  if (value.is_null()) {
    return std::nullopt;
  }
  if (!value.is_number()) {
    return Invalid("field 'timeout' must be a number of seconds");
  }
  request->limits.timeout_seconds = value.get<double>();
  return std::nullopt;
}

std::optional<ApiError> ReadMemory(const nlohmann::json& value, ExecuteRequest* request) {
  if (value.is_null()) {
    return std::nullopt;
  }
  constexpr char kNotInteger[] = "field 'memory_mb' must be an integer number of MiB";
  if (value.is_number_unsigned()) {
    const uint64_t mb = value.get<uint64_t>();
    request->limits.memory_mb = mb > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
                                    ? std::numeric_limits<int64_t>::max()
                                    : static_cast<int64_t>(mb);
    return std::nullopt;
  }
  if (value.is_number_integer()) {
    request->limits.memory_mb = value.get<int64_t>();
    return std::nullopt;
  }
  if (value.is_number_float()) {
    // 512.0 is an integer to JSON Schema; 512.5 is not.
    const double mb = value.get<double>();
    if (!std::isfinite(mb) || std::trunc(mb) != mb) {
      return Invalid(kNotInteger);
    }
    constexpr double kLargest = 9.0e18;
    request->limits.memory_mb =
        std::fabs(mb) > kLargest ? std::numeric_limits<int64_t>::max() : static_cast<int64_t>(mb);
    return std::nullopt;
  }
  return Invalid(kNotInteger);
}

}  // namespace

std::optional<ApiError> CheckContentType(std::optional<std::string_view> content_type) {
  if (!content_type) {
    return std::nullopt;
  }
  std::string_view rest = *content_type;
  const size_t semicolon = rest.find(';');
  const std::string media = LowerCase(TrimBlanks(rest.substr(0, semicolon)));
  ApiError unsupported{ApiErrorKind::kUnsupportedMediaType,
                       "Content-Type must be application/json, not '" +
                           std::string(content_type->substr(0, 100)) + "'"};
  if (media != "application/json") {
    return unsupported;
  }
  rest = semicolon == std::string_view::npos ? std::string_view() : rest.substr(semicolon + 1);
  while (!rest.empty()) {
    const size_t next = rest.find(';');
    const std::string_view parameter = TrimBlanks(rest.substr(0, next));
    rest = next == std::string_view::npos ? std::string_view() : rest.substr(next + 1);
    const size_t equals = parameter.find('=');
    if (equals == std::string_view::npos) {
      continue;
    }
    if (LowerCase(TrimBlanks(parameter.substr(0, equals))) != "charset") {
      continue;
    }
    std::string_view charset = TrimBlanks(parameter.substr(equals + 1));
    if (charset.size() >= 2 && charset.front() == '"' && charset.back() == '"') {
      charset = charset.substr(1, charset.size() - 2);
    }
    const std::string lower = LowerCase(charset);
    if (lower != "utf-8" && lower != "utf8") {
      unsupported.message =
          "the body must be UTF-8 JSON, not charset '" + std::string(charset.substr(0, 40)) + "'";
      return unsupported;
    }
  }
  return std::nullopt;
}

size_t NestingDepth(std::string_view text, size_t limit) {
  size_t depth = 0;
  size_t deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      ++depth;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > limit) {
          return limit + 1;
        }
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

std::variant<ExecuteRequest, ApiError> ParseExecuteRequest(std::string_view body,
                                                           const RequestRules& rules) {
  if (NestingDepth(body, rules.max_depth) > rules.max_depth) {
    return ApiError{ApiErrorKind::kInvalidJson, "the body nests arrays or objects deeper than " +
                                                    std::to_string(rules.max_depth) + " levels"};
  }
  // Not throwing: a parse error gives a discarded value. NaN and Infinity are not JSON, so
  // they fail here.
  const nlohmann::json document = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    return ApiError{ApiErrorKind::kInvalidJson,
                    "the body is not valid JSON (UTF-8, no NaN or Infinity)"};
  }
  if (!document.is_object()) {
    return Invalid("the body must be a JSON object with a 'script' field");
  }
  ExecuteRequest request;
  const auto script = document.find("script");
  if (script == document.end()) {
    return Invalid("field 'script' is required");
  }
  if (!script->is_string()) {
    return Invalid("field 'script' must be a string");
  }
  const std::string& text = script->get_ref<const std::string&>();
  if (text.size() > rules.max_script_bytes) {
    return ApiError{ApiErrorKind::kPayloadTooLarge, "field 'script' is " +
                                                        std::to_string(text.size()) +
                                                        " bytes of UTF-8; the maximum is " +
                                                        std::to_string(rules.max_script_bytes)};
  }
  if (IsBlank(text)) {
    return Invalid("field 'script' must not be blank");
  }
  request.script = text;
  if (const auto timeout = document.find("timeout"); timeout != document.end()) {
    if (std::optional<ApiError> error = ReadTimeout(*timeout, &request)) {
      return *std::move(error);
    }
  }
  if (const auto memory = document.find("memory_mb"); memory != document.end()) {
    if (std::optional<ApiError> error = ReadMemory(*memory, &request)) {
      return *std::move(error);
    }
  }
  return request;
}

}  // namespace pyexec::api
