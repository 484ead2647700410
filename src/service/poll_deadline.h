// The timeout poll(2) takes for a wait that ends at `when`: whole milliseconds, rounded up (a
// wake-up before the deadline would only poll again), never negative. Used by the server's
// waits on children, cgroups and the zygote.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace pyexec::service {

inline int MillisecondsUntil(std::chrono::steady_clock::time_point when) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      when - std::chrono::steady_clock::now());
  return static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(left.count() + 1, 1 << 30)));
}

}  // namespace pyexec::service
