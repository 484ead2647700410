// Unit tests for zygote/protocol.h: messages survive Encode/Decode, and a message that breaks
// the framing contract (size, magic, version, descriptor count, report kind) is refused.
#include "zygote/protocol.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

namespace pyexec::zygote {
namespace {

ForkRequest SampleRequest(uint32_t cgroup_fd_count) {
  ForkRequest request;
  request.execution_id = 0x0123456789ABCDEFULL;
  request.cgroup_fd_count = cgroup_fd_count;
  request.policy.rlimits.cpu_time_seconds = 7;
  request.policy.rlimits.file_size_bytes = 64ULL << 20;
  request.policy.rlimits.open_files = 256;
  request.policy.rlimits.address_space_bytes = 1ULL << 33;
  request.policy.rlimits.max_processes = 128;
  request.policy.tmp_size_bytes = 16ULL << 20;
  return request;
}

std::vector<std::byte> Resized(std::span<const std::byte> encoded, size_t size) {
  std::vector<std::byte> bytes(encoded.begin(), encoded.end());
  bytes.resize(size, std::byte{0});
  return bytes;
}

// ---- ForkRequest ------------------------------------------------------------------------------

TEST(ForkRequestProtocol, RoundTripsEveryField) {
  const ForkRequest sent = SampleRequest(3);
  const std::optional<ForkRequest> received = DecodeForkRequest(Encode(sent), kFixedFdCount + 3);
  ASSERT_TRUE(received.has_value());
  EXPECT_EQ(received->magic, kMagic);
  EXPECT_EQ(received->version, kVersion);
  EXPECT_EQ(received->execution_id, sent.execution_id);
  EXPECT_EQ(received->cgroup_fd_count, 3u);
  EXPECT_EQ(received->policy.rlimits.cpu_time_seconds, 7u);
  EXPECT_EQ(received->policy.rlimits.file_size_bytes, sent.policy.rlimits.file_size_bytes);
  EXPECT_EQ(received->policy.rlimits.open_files, 256u);
  EXPECT_EQ(received->policy.rlimits.address_space_bytes, sent.policy.rlimits.address_space_bytes);
  EXPECT_EQ(received->policy.rlimits.max_processes, 128u);
  EXPECT_EQ(received->policy.tmp_size_bytes, sent.policy.tmp_size_bytes);
}

TEST(ForkRequestProtocol, AcceptsNoCgroupFdsAndTheMaximum) {
  EXPECT_TRUE(DecodeForkRequest(Encode(SampleRequest(0)), kFixedFdCount).has_value());
  EXPECT_TRUE(DecodeForkRequest(Encode(SampleRequest(kMaxCgroupFds)), kMaxRequestFds).has_value());
}

TEST(ForkRequestProtocol, EncodesToExactlyTheStructSize) {
  EXPECT_EQ(Encode(SampleRequest(0)).size(), sizeof(ForkRequest));
}

TEST(ForkRequestProtocol, RejectsWrongMagic) {
  ForkRequest request = SampleRequest(0);
  request.magic = kMagic + 1;
  EXPECT_FALSE(DecodeForkRequest(Encode(request), kFixedFdCount).has_value());
}

TEST(ForkRequestProtocol, RejectsWrongVersion) {
  ForkRequest request = SampleRequest(0);
  request.version = kVersion + 1;
  EXPECT_FALSE(DecodeForkRequest(Encode(request), kFixedFdCount).has_value());
  request.version = 0;
  EXPECT_FALSE(DecodeForkRequest(Encode(request), kFixedFdCount).has_value());
}

TEST(ForkRequestProtocol, RejectsWrongSize) {
  const auto bytes = Encode(SampleRequest(0));
  EXPECT_FALSE(DecodeForkRequest(Resized(bytes, bytes.size() - 1), kFixedFdCount).has_value());
  EXPECT_FALSE(DecodeForkRequest(Resized(bytes, bytes.size() + 1), kFixedFdCount).has_value());
  EXPECT_FALSE(DecodeForkRequest({}, kFixedFdCount).has_value());
}

TEST(ForkRequestProtocol, RejectsFdCountThatDoesNotMatchCgroupFdCount) {
  const auto bytes = Encode(SampleRequest(2));
  EXPECT_TRUE(DecodeForkRequest(bytes, kFixedFdCount + 2).has_value());
  EXPECT_FALSE(DecodeForkRequest(bytes, kFixedFdCount + 1).has_value());
  EXPECT_FALSE(DecodeForkRequest(bytes, kFixedFdCount + 3).has_value());
  EXPECT_FALSE(DecodeForkRequest(bytes, kFixedFdCount).has_value());
  EXPECT_FALSE(DecodeForkRequest(bytes, 0).has_value());
}

TEST(ForkRequestProtocol, RejectsMoreCgroupFdsThanTheMaximum) {
  EXPECT_FALSE(
      DecodeForkRequest(Encode(SampleRequest(kMaxCgroupFds + 1)), kMaxRequestFds + 1).has_value());
}

TEST(ForkRequestProtocol, RejectsCgroupFdCountThatWouldWrapTheFdTotal) {
  // kFixedFdCount + UINT32_MAX wraps to kFixedFdCount - 1 in 32 bits.
  const uint32_t huge = std::numeric_limits<uint32_t>::max();
  const auto bytes = Encode(SampleRequest(huge));
  EXPECT_FALSE(DecodeForkRequest(bytes, kFixedFdCount - 1).has_value());
  EXPECT_FALSE(DecodeForkRequest(bytes, size_t{kFixedFdCount} + huge).has_value());
}

// ---- Report -----------------------------------------------------------------------------------

TEST(ReportProtocol, RoundTripsEveryKindAndField) {
  for (const ReportKind kind :
       {ReportKind::kStarted, ReportKind::kExited, ReportKind::kForkFailed}) {
    Report sent;
    sent.kind = kind;
    sent.pid = 4242;
    sent.wait_status = 0x0900;
    sent.sys_errno = 11;
    sent.user_cpu_ns = 123456789;
    sent.system_cpu_ns = 987654321;
    sent.max_rss_bytes = 1ULL << 40;
    const std::optional<Report> received = DecodeReport(Encode(sent));
    ASSERT_TRUE(received.has_value()) << static_cast<uint32_t>(kind);
    EXPECT_EQ(received->kind, kind);
    EXPECT_EQ(received->pid, 4242);
    EXPECT_EQ(received->wait_status, 0x0900);
    EXPECT_EQ(received->sys_errno, 11);
    EXPECT_EQ(received->user_cpu_ns, 123456789u);
    EXPECT_EQ(received->system_cpu_ns, 987654321u);
    EXPECT_EQ(received->max_rss_bytes, 1ULL << 40);
  }
}

TEST(ReportProtocol, RejectsInvalidKind) {
  for (const uint32_t raw : {0u, 4u, 0xFFFFFFFFu}) {
    Report report;
    report.kind = static_cast<ReportKind>(raw);
    EXPECT_FALSE(DecodeReport(Encode(report)).has_value()) << raw;
  }
}

TEST(ReportProtocol, RejectsWrongMagic) {
  Report report;
  report.magic = 0;
  EXPECT_FALSE(DecodeReport(Encode(report)).has_value());
}

TEST(ReportProtocol, RejectsWrongSize) {
  const auto bytes = Encode(Report{});
  EXPECT_FALSE(DecodeReport(Resized(bytes, bytes.size() - 1)).has_value());
  EXPECT_FALSE(DecodeReport(Resized(bytes, bytes.size() + 1)).has_value());
  EXPECT_FALSE(DecodeReport({}).has_value());
}

TEST(ReportProtocol, RejectsAForkRequestSentAsAReport) {
  // Same magic, different message: the size tells them apart.
  static_assert(sizeof(ForkRequest) != sizeof(Report));
  EXPECT_FALSE(DecodeReport(Encode(SampleRequest(0))).has_value());
}

// ---- Ready ------------------------------------------------------------------------------------

TEST(ReadyProtocol, RoundTripsThePid) {
  Ready sent;
  sent.pid = 31337;
  const std::optional<Ready> received = DecodeReady(Encode(sent));
  ASSERT_TRUE(received.has_value());
  EXPECT_EQ(received->pid, 31337);
}

TEST(ReadyProtocol, RejectsWrongMagicVersionOrSize) {
  Ready wrong_magic;
  wrong_magic.magic = kMagic ^ 0xFF;
  EXPECT_FALSE(DecodeReady(Encode(wrong_magic)).has_value());

  Ready wrong_version;
  wrong_version.version = kVersion + 1;
  EXPECT_FALSE(DecodeReady(Encode(wrong_version)).has_value());

  const auto bytes = Encode(Ready{});
  EXPECT_FALSE(DecodeReady(Resized(bytes, bytes.size() - 1)).has_value());
  EXPECT_FALSE(DecodeReady(Resized(bytes, bytes.size() + 1)).has_value());
}

}  // namespace
}  // namespace pyexec::zygote
