// Request: one HTTP request as the server read it, already held to ServerConfig's limits.
// Plain data, independent of the HTTP library underneath. Used by the server process.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pyexec::http {

struct HeaderField {
  std::string name;
  std::string value;
};

struct Request {
  std::string method;                // as sent ("GET", "POST"): methods are case-sensitive
  std::string target;                // the request-target as sent: "/execute?debug=1"
  std::string path;                  // the target without its query: "/execute"
  int version = 11;                  // 10 or 11
  std::vector<HeaderField> headers;  // in arrival order, names as sent
  std::string body;                  // de-chunked when it came chunked

  // The value of the first field called `name` (ASCII case-insensitive); nullopt when absent.
  std::optional<std::string_view> Header(std::string_view name) const;
};

// ASCII case-insensitive equality, as header names compare (RFC 9110 section 5.1).
bool EqualsIgnoringCase(std::string_view a, std::string_view b);

// "/a/b?x=1" -> "/a/b".
std::string_view PathOfTarget(std::string_view target);

}  // namespace pyexec::http
