// The JSON document of one execution, shared by `pyexec run` and (later) the HTTP API:
// {"result", "stdout", "stderr", "status", "truncated", "error", "usage"}. Used by the server.
#pragma once

#include <string>
#include <string_view>

#include "service/engine.h"

namespace pyexec::api {

// main()'s result is embedded verbatim (already validated strict JSON), so big integers and
// floats reach the client exactly as Python wrote them.
std::string RenderExecution(const service::Execution& execution);

// {"status": "internal_error", "error": {"type": "internal_error", "message": ...}}
std::string RenderInternalError(std::string_view message);

}  // namespace pyexec::api
