#include "api/error_table.h"

#include <array>

namespace pyexec::api {
namespace {

// Types shared with the transport's own answers (src/http): payload_too_large and internal.
constexpr std::array kTable = {
    ApiErrorInfo{ApiErrorKind::kInvalidJson, 400, "invalid_json",
                 "the body is not JSON or nests too deeply"},
    ApiErrorInfo{ApiErrorKind::kInvalidRequest, 400, "invalid_request",
                 "not an object; `script` missing, not a string or blank; a limit out of range or "
                 "of the wrong type (the message names the field)"},
    ApiErrorInfo{ApiErrorKind::kPayloadTooLarge, 413, "payload_too_large",
                 "the body or the script is larger than the configured maximum"},
    ApiErrorInfo{ApiErrorKind::kUnsupportedMediaType, 415, "unsupported_media_type",
                 "a Content-Type other than application/json"},
    ApiErrorInfo{ApiErrorKind::kNotFound, 404, "not_found", "unknown path"},
    ApiErrorInfo{ApiErrorKind::kMethodNotAllowed, 405, "method_not_allowed",
                 "wrong method for the path (Allow lists the right one)"},
    ApiErrorInfo{ApiErrorKind::kQueueFull, 429, "queue_full",
                 "every worker is busy and the queue is full (Retry-After is set)"},
    ApiErrorInfo{ApiErrorKind::kQueueTimeout, 503, "queue_timeout",
                 "the request waited in the queue longer than its own timeout"},
    ApiErrorInfo{ApiErrorKind::kShuttingDown, 503, "shutting_down", "the service is stopping"},
    ApiErrorInfo{ApiErrorKind::kNotReady, 503, "not_ready", "executions cannot currently run"},
    ApiErrorInfo{ApiErrorKind::kInternal, 500, "internal",
                 "pyexec's own fault; the details are in the log under the request id"},
};

}  // namespace

std::span<const ApiErrorInfo> ApiErrorTable() { return kTable; }

const ApiErrorInfo& InfoOf(ApiErrorKind kind) {
  for (const ApiErrorInfo& info : kTable) {
    if (info.kind == kind) {
      return info;
    }
  }
  return kTable.back();
}

int HttpStatusOfVerdict(service::Verdict verdict) {
  return verdict == service::Verdict::kOk ? 200 : kScriptFailedStatus;
}

}  // namespace pyexec::api
