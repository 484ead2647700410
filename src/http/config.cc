#include "http/config.h"

#include <string>

namespace pyexec::http {
namespace {

// Below this a request line with a short target and a Host header does not fit.
constexpr size_t kMinHeaderBytes = 256;
// Beast's parser counts header bytes in 32 bits.
constexpr size_t kMaxHeaderBytes = size_t{1024} * 1024;
constexpr int kMaxIoThreads = 256;

Error Invalid(const std::string& what) {
  return MakeError(ErrorCode::kInvalidInput, "http server config: " + what);
}

}  // namespace

Status ValidateConfig(const ServerConfig& config) {
  if (config.max_header_bytes < kMinHeaderBytes || config.max_header_bytes > kMaxHeaderBytes) {
    return Invalid("max_header_bytes must be within [" + std::to_string(kMinHeaderBytes) + ", " +
                   std::to_string(kMaxHeaderBytes) + "]");
  }
  const std::chrono::milliseconds zero{0};
  if (config.header_timeout <= zero || config.body_timeout <= zero ||
      config.idle_keepalive_timeout <= zero || config.write_timeout <= zero ||
      config.linger_timeout <= zero) {
    return Invalid("every timeout must be positive");
  }
  if (config.max_connections == 0) {
    return Invalid("max_connections must be at least 1");
  }
  if (config.io_threads < 1 || config.io_threads > kMaxIoThreads) {
    return Invalid("io_threads must be within [1, " + std::to_string(kMaxIoThreads) + "]");
  }
  return OkStatus();
}

}  // namespace pyexec::http
