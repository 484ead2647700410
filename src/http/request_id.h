// Request ids: the short id that names one request in responses (X-Request-Id) and logs.
// A client's own id is kept when it is harmless to echo and to log. Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pyexec::http {

inline constexpr size_t kMaxRequestIdLength = 64;

// 16 lowercase hex digits, unique within the process (a bijection of a counter, keyed per
// process so ids differ across restarts). Not a secret: ids are echoed and logged.
std::string NewRequestId();

// 1..64 characters of [A-Za-z0-9._-]: nothing that could split a log line or a header.
bool IsSaneRequestId(std::string_view id);

// `client_id` when it is sane, a new id otherwise.
std::string ChooseRequestId(std::optional<std::string_view> client_id);

}  // namespace pyexec::http
