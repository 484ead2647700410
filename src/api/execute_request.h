// POST /execute's body: the media type check, a nesting pre-scan that keeps a hostile body from
// exhausting the stack, and the validation of each field. Pure functions, used by the server's
// api layer.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "api/error_table.h"
#include "service/limits.h"

namespace pyexec::api {

struct ApiError {
  ApiErrorKind kind = ApiErrorKind::kInternal;
  std::string message;
};

struct ExecuteRequest {
  std::string script;
  service::LimitRequest limits;  // unset fields take the server's maximum
};

struct RequestRules {
  size_t max_script_bytes = 1 * service::kMiB;  // UTF-8 bytes of `script`
  size_t max_depth = 32;                        // nesting of arrays and objects in the body
};

// nullopt when `content_type` is acceptable: absent, or application/json (any case) with no
// charset or a UTF-8 one. Otherwise kUnsupportedMediaType.
std::optional<ApiError> CheckContentType(std::optional<std::string_view> content_type);

// The deepest nesting of arrays and objects in `text`, outside strings; scanning stops once
// it exceeds `limit` (and returns limit + 1). Not a validator: only bounds what the parser sees.
size_t NestingDepth(std::string_view text, size_t limit);

// Parses and validates a body. The message of every error names the field (or the body).
std::variant<ExecuteRequest, ApiError> ParseExecuteRequest(std::string_view body,
                                                           const RequestRules& rules);

}  // namespace pyexec::api
