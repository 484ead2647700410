// The messages between the server and the zygote: a fork request (with the execution's
// descriptors attached by SCM_RIGHTS) and the reports the zygote sends back on the
// execution's own report socket. Shared by both sides; the zygote never sees script bytes.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "sandbox/policy.h"

namespace pyexec::zygote {

inline constexpr uint32_t kMagic = 0x50594558;  // "PYEX"
inline constexpr uint32_t kVersion = 2;

// Descriptors attached to a fork request, in this order, then `cgroup_fd_count` cgroup.procs
// descriptors.
enum RequestFd : uint32_t {
  kReportFd = 0,  // SEQPACKET socket: the zygote's reports for this execution
  kScriptFd,      // SEQPACKET socket: the hand-over (sandbox/start.h), then the script
  kStdoutFd,
  kStderrFd,
  kResultFd,
  kStatusFd,  // set-up failures
  kCwdFd,     // the working directory
  kFixedFdCount,
};
inline constexpr uint32_t kMaxCgroupFds = 8;
inline constexpr uint32_t kMaxRequestFds = kFixedFdCount + kMaxCgroupFds;

struct ForkRequest {
  uint32_t magic = kMagic;
  uint32_t version = kVersion;
  uint64_t execution_id = 0;
  uint32_t cgroup_fd_count = 0;
  uint32_t reserved = 0;
  sandbox::ChildPolicy policy;
};

enum class ReportKind : uint32_t { kStarted = 1, kExited = 2, kForkFailed = 3 };

struct Report {
  uint32_t magic = kMagic;
  ReportKind kind = ReportKind::kStarted;
  int32_t pid = 0;
  int32_t wait_status = 0;  // kExited
  int32_t sys_errno = 0;    // kForkFailed
  uint32_t reserved = 0;
  uint64_t user_cpu_ns = 0;  // kExited: rusage of the child and the descendants it waited for
  uint64_t system_cpu_ns = 0;
  uint64_t max_rss_bytes = 0;
};

// The zygote's first message on the control socket once its interpreter is warm.
struct Ready {
  uint32_t magic = kMagic;
  uint32_t version = kVersion;
  int32_t pid = 0;
  uint32_t reserved = 0;
};

// Encoding is a byte copy (both ends are the same binary), into an array: the zygote's loop
// allocates nothing (zygote_main.cc). Decoding checks size, magic and version, and the fd count
// against the declared cgroup descriptors.
template <typename T>
std::array<std::byte, sizeof(T)> Encode(const T& message) {
  std::array<std::byte, sizeof(T)> bytes;
  std::memcpy(bytes.data(), &message, sizeof(T));
  return bytes;
}
std::optional<ForkRequest> DecodeForkRequest(std::span<const std::byte> bytes, size_t fd_count);
std::optional<Report> DecodeReport(std::span<const std::byte> bytes);
std::optional<Ready> DecodeReady(std::span<const std::byte> bytes);

}  // namespace pyexec::zygote
