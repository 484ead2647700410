#include "service/limits.h"

#include <cmath>
#include <string>

namespace pyexec::service {
namespace {

std::string FormatSeconds(std::chrono::milliseconds ms) {
  const double seconds = static_cast<double>(ms.count()) / 1000.0;
  std::string text = std::to_string(seconds);
  text.erase(text.find_last_not_of('0') + 1);
  if (!text.empty() && text.back() == '.') {
    text.pop_back();
  }
  return text;
}

}  // namespace

Result<Limits> ApplyRequest(const Limits& maximum, const LimitRequest& request) {
  Limits limits = maximum;
  if (request.timeout_seconds) {
    const double seconds = *request.timeout_seconds;
    const double max_seconds = static_cast<double>(maximum.timeout.count()) / 1000.0;
    if (!std::isfinite(seconds) || seconds <= 0 || seconds > max_seconds) {
      return MakeError(ErrorCode::kInvalidInput, "timeout must be a number of seconds in (0, " +
                                                     FormatSeconds(maximum.timeout) + "]");
    }
    // Round up to a whole millisecond so that a tiny positive timeout is not zero.
    // Clamped: seconds * 1000.0 can land just above a whole maximum (2.007 -> 2007.0000000000002).
    limits.timeout =
        std::min(maximum.timeout,
                 std::chrono::milliseconds(static_cast<int64_t>(std::ceil(seconds * 1000.0))));
    limits.cpu_seconds =
        std::min<uint64_t>(maximum.cpu_seconds, static_cast<uint64_t>(std::ceil(seconds)));
  }
  if (request.memory_mb) {
    const int64_t max_mb = static_cast<int64_t>(maximum.memory_bytes / kMiB);
    if (*request.memory_mb < static_cast<int64_t>(kMinMemoryMb) || *request.memory_mb > max_mb) {
      return MakeError(ErrorCode::kInvalidInput, "memory_mb must be an integer in [" +
                                                     std::to_string(kMinMemoryMb) + ", " +
                                                     std::to_string(max_mb) + "]");
    }
    limits.memory_bytes = static_cast<uint64_t>(*request.memory_mb) * kMiB;
  }
  return limits;
}

}  // namespace pyexec::service
