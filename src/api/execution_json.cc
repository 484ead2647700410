#include "api/execution_json.h"

#include "util/json_text.h"

namespace pyexec::api {
namespace {

void AppendField(std::string* out, std::string_view key, std::string_view string_value) {
  out->append(",");
  AppendJsonString(out, key);
  out->append(":");
  AppendJsonString(out, string_value);
}

void AppendNumber(std::string* out, std::string_view key, int64_t value) {
  out->append(",");
  AppendJsonString(out, key);
  out->append(":");
  out->append(std::to_string(value));
}

std::string RenderError(const service::Outcome& outcome) {
  std::string error = "{\"type\":";
  AppendJsonString(&error, service::VerdictName(outcome.verdict));
  AppendField(&error, "message", outcome.message);
  if (!outcome.exception_type.empty()) {
    AppendField(&error, "exception", outcome.exception_type);
  }
  if (!outcome.traceback.empty()) {
    AppendField(&error, "traceback", outcome.traceback);
  }
  if (outcome.line) {
    AppendNumber(&error, "line", *outcome.line);
  }
  if (outcome.column) {
    AppendNumber(&error, "column", *outcome.column);
  }
  if (outcome.exit_code) {
    AppendNumber(&error, "exit_code", *outcome.exit_code);
  }
  if (outcome.signal) {
    AppendNumber(&error, "signal", *outcome.signal);
  }
  if (!outcome.path.empty()) {
    AppendField(&error, "path", outcome.path);
  }
  error.append("}");
  return error;
}

}  // namespace

std::string RenderExecution(const service::Execution& execution) {
  const service::Outcome& outcome = execution.outcome;
  const bool ok = outcome.verdict == service::Verdict::kOk;
  std::string out;
  out.reserve(outcome.result_json.size() + execution.stdout_data.size() +
              execution.stderr_data.size() + 512);
  out.append("{\"result\":");
  out.append(ok ? outcome.result_json : std::string("null"));
  AppendField(&out, "stdout", execution.stdout_data);
  AppendField(&out, "stderr", execution.stderr_data);
  AppendField(&out, "status", service::VerdictName(outcome.verdict));
  out.append(",\"truncated\":{\"stdout\":");
  out.append(execution.stdout_truncated ? "true" : "false");
  out.append(",\"stderr\":");
  out.append(execution.stderr_truncated ? "true" : "false");
  out.append("}");
  if (!ok) {
    out.append(",\"error\":");
    out.append(RenderError(outcome));
  }
  out.append(",\"usage\":{\"wall_ms\":");
  out.append(std::to_string(execution.usage.wall_ms));
  AppendNumber(&out, "cpu_ms", execution.usage.cpu_ms);
  out.append(",\"memory_peak_bytes\":");
  out.append(std::to_string(execution.usage.memory_peak_bytes));
  out.append("}}");
  return out;
}

std::string RenderInternalError(std::string_view message) {
  std::string out = "{\"status\":\"internal_error\",\"error\":{\"type\":\"internal_error\"";
  AppendField(&out, "message", message);
  out.append("}}");
  return out;
}

}  // namespace pyexec::api
