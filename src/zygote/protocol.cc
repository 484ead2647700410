#include "zygote/protocol.h"

#include <cstring>
#include <type_traits>

namespace pyexec::zygote {
namespace {

template <typename T>
std::optional<T> DecodeBytes(std::span<const std::byte> bytes) {
  static_assert(std::is_trivially_copyable_v<T>);
  if (bytes.size() != sizeof(T)) {
    return std::nullopt;
  }
  T message;
  std::memcpy(&message, bytes.data(), sizeof(T));
  if (message.magic != kMagic) {
    return std::nullopt;
  }
  return message;
}

}  // namespace

std::optional<ForkRequest> DecodeForkRequest(std::span<const std::byte> bytes, size_t fd_count) {
  std::optional<ForkRequest> request = DecodeBytes<ForkRequest>(bytes);
  if (!request || request->version != kVersion || request->cgroup_fd_count > kMaxCgroupFds ||
      fd_count != kFixedFdCount + request->cgroup_fd_count) {
    return std::nullopt;
  }
  return request;
}

std::optional<Report> DecodeReport(std::span<const std::byte> bytes) {
  std::optional<Report> report = DecodeBytes<Report>(bytes);
  if (!report) {
    return std::nullopt;
  }
  switch (report->kind) {
    case ReportKind::kStarted:
    case ReportKind::kExited:
    case ReportKind::kForkFailed:
      return report;
  }
  return std::nullopt;
}

std::optional<Ready> DecodeReady(std::span<const std::byte> bytes) {
  std::optional<Ready> ready = DecodeBytes<Ready>(bytes);
  if (!ready || ready->version != kVersion) {
    return std::nullopt;
  }
  return ready;
}

}  // namespace pyexec::zygote
