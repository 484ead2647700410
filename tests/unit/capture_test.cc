// Unit tests for service/capture.h: output under the cap is kept exactly, output over it is cut,
// counted and flagged, and a cut capture never ends in half a UTF-8 character.
#include "service/capture.h"

#include <gtest/gtest.h>

#include <string>

namespace pyexec::service {
namespace {

TEST(CapturedOutput, KeepsOutputUnderTheCapExactly) {
  CapturedOutput output(16);
  EXPECT_TRUE(output.Append("hello "));
  EXPECT_TRUE(output.Append(std::string("\0wor\xFFld", 7)));
  output.Finish();
  EXPECT_EQ(output.data(), std::string("hello \0wor\xFFld", 13));
  EXPECT_FALSE(output.truncated());
  EXPECT_EQ(output.total_bytes(), 13u);
}

TEST(CapturedOutput, KeepsOutputExactlyAtTheCap) {
  CapturedOutput output(5);
  EXPECT_TRUE(output.Append("abc"));
  EXPECT_TRUE(output.Append("de"));
  output.Finish();
  EXPECT_EQ(output.data(), "abcde");
  EXPECT_FALSE(output.truncated());
  EXPECT_EQ(output.total_bytes(), 5u);
}

TEST(CapturedOutput, EmptyAppendsChangeNothing) {
  CapturedOutput output(5);
  EXPECT_TRUE(output.Append(""));
  EXPECT_EQ(output.data(), "");
  EXPECT_FALSE(output.truncated());
  EXPECT_EQ(output.total_bytes(), 0u);
}

TEST(CapturedOutput, CutsOutputOverTheCapAndCountsEveryByte) {
  CapturedOutput output(5);
  EXPECT_TRUE(output.Append("abc"));
  EXPECT_FALSE(output.Append("defgh"));
  EXPECT_EQ(output.data(), "abcde");
  EXPECT_TRUE(output.truncated());
  EXPECT_EQ(output.total_bytes(), 8u);
}

TEST(CapturedOutput, KeepsCountingAfterTheCapIsReached) {
  CapturedOutput output(4);
  EXPECT_TRUE(output.Append("abcd"));
  EXPECT_FALSE(output.Append("e"));
  EXPECT_FALSE(output.Append(std::string(1000, 'x')));
  EXPECT_FALSE(output.Append(""));
  EXPECT_EQ(output.data(), "abcd");
  EXPECT_TRUE(output.truncated());
  EXPECT_EQ(output.total_bytes(), 1005u);
}

TEST(CapturedOutput, OneLargeAppendIsCutToTheCap) {
  CapturedOutput output(1000);
  EXPECT_FALSE(output.Append(std::string(1 << 20, 'y')));
  EXPECT_EQ(output.data(), std::string(1000, 'y'));
  EXPECT_EQ(output.total_bytes(), uint64_t{1} << 20);
}

TEST(CapturedOutput, FinishTrimsACharacterCutByTheCap) {
  // "ab€": the cap of 4 keeps only the first two of the euro sign's three bytes.
  CapturedOutput output(4);
  EXPECT_FALSE(output.Append("ab\xE2\x82\xAC"));
  EXPECT_EQ(output.data(), "ab\xE2\x82");
  output.Finish();
  EXPECT_EQ(output.data(), "ab");
  EXPECT_TRUE(output.truncated());
  EXPECT_EQ(output.total_bytes(), 5u);
}

TEST(CapturedOutput, FinishTrimsACutFourByteCharacter) {
  CapturedOutput output(4);
  EXPECT_FALSE(output.Append("a\xF0\x9F\x98\x80"));
  output.Finish();
  EXPECT_EQ(output.data(), "a");
  EXPECT_TRUE(output.truncated());
}

TEST(CapturedOutput, FinishKeepsACompleteCharacterEndingAtTheCap) {
  CapturedOutput output(5);
  EXPECT_FALSE(output.Append("ab\xE2\x82\xAC!"));
  output.Finish();
  EXPECT_EQ(output.data(), "ab\xE2\x82\xAC");
  EXPECT_TRUE(output.truncated());
}

TEST(CapturedOutput, FinishKeepsAnIncompleteCharacterWhenNothingWasCut) {
  // The script itself wrote half a character: that is its output, not our cut.
  CapturedOutput output(16);
  EXPECT_TRUE(output.Append("ab\xE2\x82"));
  output.Finish();
  EXPECT_EQ(output.data(), "ab\xE2\x82");
  EXPECT_FALSE(output.truncated());
}

TEST(CapturedOutput, ZeroCapKeepsNothingButCounts) {
  CapturedOutput output(0);
  EXPECT_TRUE(output.Append(""));
  EXPECT_FALSE(output.Append("abc"));
  output.Finish();
  EXPECT_EQ(output.data(), "");
  EXPECT_TRUE(output.truncated());
  EXPECT_EQ(output.total_bytes(), 3u);
}

TEST(CapturedOutput, ZeroCapWithNoOutputIsNotTruncated) {
  CapturedOutput output(0);
  output.Finish();
  EXPECT_EQ(output.data(), "");
  EXPECT_FALSE(output.truncated());
  EXPECT_EQ(output.total_bytes(), 0u);
}

}  // namespace
}  // namespace pyexec::service
