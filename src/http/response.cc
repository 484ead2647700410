#include "http/response.h"

#include "util/json_text.h"

namespace pyexec::http {

Response ErrorResponse(int status, std::string_view type, std::string_view message) {
  Response response;
  response.status = status;
  response.body = R"({"error": {"type": )";
  AppendJsonString(&response.body, type);
  response.body += R"(, "message": )";
  AppendJsonString(&response.body, message);
  response.body += "}}";
  return response;
}

}  // namespace pyexec::http
