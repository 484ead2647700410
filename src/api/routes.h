// The routes the HTTP API serves and every status each one can answer: the source of truth the
// handler dispatches on and the OpenAPI test compares docs/openapi.json with. Pure data, used
// by the server's api layer.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace pyexec::api {

inline constexpr std::string_view kExecutePath = "/execute";
inline constexpr std::string_view kHealthPath = "/health";

struct Route {
  std::string_view method;
  std::string_view path;
  std::span<const int> statuses;  // ascending
};

std::span<const Route> Routes();

// What any request may get besides its route's statuses: 404 (unknown path) and 405 (wrong
// method), answered by the api; 400 (malformed), 408 (too slow), 431 (header too large) and 503
// (too many connections), answered by the transport before any route is chosen.
std::span<const int> AnyRequestStatuses();

// The methods `path` accepts, comma-separated for Allow ("POST"); empty for an unknown path.
std::string AllowedMethods(std::string_view path);

}  // namespace pyexec::api
