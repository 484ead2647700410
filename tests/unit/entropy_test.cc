#include "sys/entropy.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>

namespace pyexec::sys {
namespace {

TEST(FillRandom, FillsTheWholeBufferWithFreshBytesEachTime) {
  // 2,496 bytes: numpy's MT19937 key, what the zygote's children fill.
  std::array<uint8_t, 2496> first{};
  std::array<uint8_t, 2496> second{};
  ASSERT_TRUE(FillRandom(first.data(), first.size()));
  ASSERT_TRUE(FillRandom(second.data(), second.size()));
  EXPECT_NE(first, second);
  // The last 64 bytes were written too: all zero by chance has probability 2^-512.
  bool tail_written = false;
  for (size_t i = first.size() - 64; i < first.size(); ++i) {
    tail_written = tail_written || first[i] != 0;
  }
  EXPECT_TRUE(tail_written);
}

TEST(FillRandom, NothingToFillSucceeds) { EXPECT_TRUE(FillRandom(nullptr, 0)); }

}  // namespace
}  // namespace pyexec::sys
