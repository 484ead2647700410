// The one table that maps what can go wrong with a request (and each script verdict) to an
// HTTP status and the `error.type` clients see. Pure data, used by the server's api layer, the
// OpenAPI test and docs/API.md.
#pragma once

#include <span>
#include <string_view>

#include "service/outcome.h"

namespace pyexec::api {

enum class ApiErrorKind {
  kInvalidJson,           // the body is not JSON, or nests too deeply
  kInvalidRequest,        // not an object, a field missing, of the wrong type or out of range
  kPayloadTooLarge,       // the body (the transport's own 413) or the script is above its cap
  kUnsupportedMediaType,  // a Content-Type other than application/json
  kNotFound,              // no such path
  kMethodNotAllowed,      // the path exists, the method does not (Allow is set)
  kQueueFull,             // every worker busy and the queue full (Retry-After is set)
  kQueueTimeout,          // the request waited in the queue longer than its own timeout
  kShuttingDown,          // the service is stopping
  kNotReady,              // executions cannot currently run
  kInternal,              // pyexec's own fault; the details are in the log only
};

struct ApiErrorInfo {
  ApiErrorKind kind;
  int status;
  std::string_view type;     // error.type
  std::string_view meaning;  // for the docs
};

// Every kind, in the order above.
std::span<const ApiErrorInfo> ApiErrorTable();
const ApiErrorInfo& InfoOf(ApiErrorKind kind);
inline int HttpStatusOf(ApiErrorKind kind) { return InfoOf(kind).status; }
inline std::string_view TypeOf(ApiErrorKind kind) { return InfoOf(kind).type; }

// A script's verdict: ok is 200, every failure of the script 422.
inline constexpr int kScriptFailedStatus = 422;
int HttpStatusOfVerdict(service::Verdict verdict);

}  // namespace pyexec::api
