// Unit tests for service/limits.h: a caller may lower the operator's limits, never raise them,
// and an out-of-range value is refused with a message naming the field.
#include "service/limits.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <string>

namespace pyexec::service {
namespace {

using std::chrono::milliseconds;

// The operator's maximums used by most tests: 10 s, 256 MiB, 10 s of CPU.
Limits Maximum() {
  Limits maximum;
  maximum.timeout = milliseconds(10000);
  maximum.memory_bytes = 256 * kMiB;
  maximum.cpu_seconds = 10;
  return maximum;
}

LimitRequest Timeout(double seconds) { return LimitRequest{seconds, std::nullopt}; }
LimitRequest MemoryMb(int64_t mb) { return LimitRequest{std::nullopt, mb}; }

void ExpectRefused(const Result<Limits>& result, const std::string& field) {
  ASSERT_FALSE(result.ok()) << "accepted, expected " << field << " to be refused";
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(result.error().message.rfind(field + " ", 0), 0u)
      << "message does not start with the field name: " << result.error().message;
}

TEST(ApplyRequest, EmptyRequestKeepsEveryMaximum) {
  Limits maximum = Maximum();
  maximum.stdout_bytes = 123;
  maximum.stderr_bytes = 456;
  maximum.result_bytes = 789;
  maximum.pids = 12;
  maximum.file_size_bytes = 345;
  maximum.open_files = 67;
  const Result<Limits> limits = ApplyRequest(maximum, LimitRequest{});
  ASSERT_TRUE(limits.ok()) << limits.error().ToString();
  EXPECT_EQ(limits->timeout, milliseconds(10000));
  EXPECT_EQ(limits->memory_bytes, 256 * kMiB);
  EXPECT_EQ(limits->cpu_seconds, 10u);
  EXPECT_EQ(limits->stdout_bytes, 123u);
  EXPECT_EQ(limits->stderr_bytes, 456u);
  EXPECT_EQ(limits->result_bytes, 789u);
  EXPECT_EQ(limits->pids, 12u);
  EXPECT_EQ(limits->file_size_bytes, 345u);
  EXPECT_EQ(limits->open_files, 67u);
}

TEST(ApplyRequest, DefaultLimitsAreTheDocumentedOnes) {
  const Limits defaults;
  EXPECT_EQ(defaults.timeout, milliseconds(30000));
  EXPECT_EQ(defaults.memory_bytes, 512 * kMiB);
  EXPECT_EQ(defaults.cpu_seconds, 30u);
}

TEST(ApplyRequest, LowersTimeout) {
  const Result<Limits> limits = ApplyRequest(Maximum(), Timeout(2.5));
  ASSERT_TRUE(limits.ok()) << limits.error().ToString();
  EXPECT_EQ(limits->timeout, milliseconds(2500));
  EXPECT_EQ(limits->memory_bytes, 256 * kMiB);
}

TEST(ApplyRequest, AcceptsTimeoutEqualToTheMaximum) {
  const Result<Limits> limits = ApplyRequest(Maximum(), Timeout(10.0));
  ASSERT_TRUE(limits.ok()) << limits.error().ToString();
  EXPECT_EQ(limits->timeout, milliseconds(10000));
  EXPECT_EQ(limits->cpu_seconds, 10u);
}

TEST(ApplyRequest, LowersMemory) {
  const Result<Limits> limits = ApplyRequest(Maximum(), MemoryMb(64));
  ASSERT_TRUE(limits.ok()) << limits.error().ToString();
  EXPECT_EQ(limits->memory_bytes, 64 * kMiB);
  EXPECT_EQ(limits->timeout, milliseconds(10000));
}

TEST(ApplyRequest, AcceptsMemoryAtBothEndsOfTheRange) {
  const Result<Limits> floor = ApplyRequest(Maximum(), MemoryMb(16));
  ASSERT_TRUE(floor.ok()) << floor.error().ToString();
  EXPECT_EQ(floor->memory_bytes, 16 * kMiB);
  const Result<Limits> ceiling = ApplyRequest(Maximum(), MemoryMb(256));
  ASSERT_TRUE(ceiling.ok()) << ceiling.error().ToString();
  EXPECT_EQ(ceiling->memory_bytes, 256 * kMiB);
}

TEST(ApplyRequest, LowersBothAtOnce) {
  const Result<Limits> limits = ApplyRequest(Maximum(), LimitRequest{1.0, 32});
  ASSERT_TRUE(limits.ok()) << limits.error().ToString();
  EXPECT_EQ(limits->timeout, milliseconds(1000));
  EXPECT_EQ(limits->memory_bytes, 32 * kMiB);
}

TEST(ApplyRequest, RefusesTimeoutAboveTheMaximum) {
  ExpectRefused(ApplyRequest(Maximum(), Timeout(10.001)), "timeout");
  ExpectRefused(ApplyRequest(Maximum(), Timeout(3600)), "timeout");
}

TEST(ApplyRequest, RefusesMemoryAboveTheMaximum) {
  ExpectRefused(ApplyRequest(Maximum(), MemoryMb(257)), "memory_mb");
  ExpectRefused(ApplyRequest(Maximum(), MemoryMb(std::numeric_limits<int64_t>::max())),
                "memory_mb");
}

TEST(ApplyRequest, RefusesZeroNegativeAndNonFiniteTimeouts) {
  ExpectRefused(ApplyRequest(Maximum(), Timeout(0.0)), "timeout");
  ExpectRefused(ApplyRequest(Maximum(), Timeout(-0.0)), "timeout");
  ExpectRefused(ApplyRequest(Maximum(), Timeout(-1.0)), "timeout");
  ExpectRefused(ApplyRequest(Maximum(), Timeout(std::nan(""))), "timeout");
  ExpectRefused(ApplyRequest(Maximum(), Timeout(std::numeric_limits<double>::infinity())),
                "timeout");
  ExpectRefused(ApplyRequest(Maximum(), Timeout(-std::numeric_limits<double>::infinity())),
                "timeout");
}

TEST(ApplyRequest, RefusesMemoryBelowTheFloor) {
  ExpectRefused(ApplyRequest(Maximum(), MemoryMb(15)), "memory_mb");
  ExpectRefused(ApplyRequest(Maximum(), MemoryMb(0)), "memory_mb");
  ExpectRefused(ApplyRequest(Maximum(), MemoryMb(-1)), "memory_mb");
  ExpectRefused(ApplyRequest(Maximum(), MemoryMb(std::numeric_limits<int64_t>::min())),
                "memory_mb");
}

TEST(ApplyRequest, ErrorMessagesStateTheAllowedRange) {
  const Result<Limits> timeout = ApplyRequest(Maximum(), Timeout(11));
  ASSERT_FALSE(timeout.ok());
  EXPECT_NE(timeout.error().message.find("(0, 10]"), std::string::npos) << timeout.error().message;

  const Result<Limits> memory = ApplyRequest(Maximum(), MemoryMb(1000));
  ASSERT_FALSE(memory.ok());
  EXPECT_NE(memory.error().message.find("[16, 256]"), std::string::npos) << memory.error().message;
}

TEST(ApplyRequest, InvalidMemoryIsRefusedEvenWithAValidTimeout) {
  ExpectRefused(ApplyRequest(Maximum(), LimitRequest{1.0, 4}), "memory_mb");
}

TEST(ApplyRequest, TinyPositiveTimeoutRoundsUpToAtLeastOneMillisecond) {
  for (const double seconds : {1e-9, 1e-6, 0.0001, 0.0009, std::numeric_limits<double>::min()}) {
    const Result<Limits> limits = ApplyRequest(Maximum(), Timeout(seconds));
    ASSERT_TRUE(limits.ok()) << seconds;
    EXPECT_GE(limits->timeout, milliseconds(1)) << seconds;
    EXPECT_GE(limits->cpu_seconds, 1u) << seconds;
  }
}

TEST(ApplyRequest, FractionalMillisecondsRoundUp) {
  const Result<Limits> limits = ApplyRequest(Maximum(), Timeout(1.0005));
  ASSERT_TRUE(limits.ok());
  EXPECT_EQ(limits->timeout, milliseconds(1001));
}

TEST(ApplyRequest, CpuSecondsFollowALoweredTimeout) {
  const Result<Limits> whole = ApplyRequest(Maximum(), Timeout(3.0));
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->cpu_seconds, 3u);

  const Result<Limits> fraction = ApplyRequest(Maximum(), Timeout(2.2));
  ASSERT_TRUE(fraction.ok());
  EXPECT_EQ(fraction->cpu_seconds, 3u);  // RLIMIT_CPU counts whole seconds: round up
}

TEST(ApplyRequest, CpuSecondsNeverExceedTheMaximum) {
  Limits maximum = Maximum();
  maximum.cpu_seconds = 2;
  const Result<Limits> limits = ApplyRequest(maximum, Timeout(9.0));
  ASSERT_TRUE(limits.ok());
  EXPECT_EQ(limits->cpu_seconds, 2u);
}

TEST(ApplyRequest, TimeoutNeverExceedsTheMaximumAfterRounding) {
  // 2.007 * 1000 is 2007.0000000000002 in binary floating point: rounding it up must not take
  // the timeout past a maximum of exactly 2007 ms.
  Limits maximum = Maximum();
  maximum.timeout = milliseconds(2007);
  const Result<Limits> limits = ApplyRequest(maximum, Timeout(2.007));
  ASSERT_TRUE(limits.ok()) << limits.error().ToString();
  EXPECT_LE(limits->timeout, maximum.timeout);
}

}  // namespace
}  // namespace pyexec::service
