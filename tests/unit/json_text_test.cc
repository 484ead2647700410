// Unit tests for util/json_text.h: the strict validator that decides whether a child's result
// may be embedded verbatim, the JSON string writer, and the UTF-8 trimming of cut output.
#include "util/json_text.h"

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace pyexec {
namespace {

constexpr size_t kDepth = 64;

bool Valid(std::string_view text, size_t max_depth = kDepth) {
  return ValidateJson(text, max_depth).ok();
}

std::string Quoted(std::string_view bytes) {
  std::string out;
  AppendJsonString(&out, bytes);
  return out;
}

// What a strict parser reads back from AppendJsonString's output.
std::string ParsedBack(std::string_view bytes) {
  return nlohmann::json::parse(Quoted(bytes)).get<std::string>();
}

std::string Nested(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

// ---- ValidateJson: what is accepted -----------------------------------------------------------

TEST(ValidateJson, AcceptsEveryKindOfValue) {
  EXPECT_TRUE(Valid("null"));
  EXPECT_TRUE(Valid("true"));
  EXPECT_TRUE(Valid("false"));
  EXPECT_TRUE(Valid("0"));
  EXPECT_TRUE(Valid("-0"));
  EXPECT_TRUE(Valid("-12.5e+3"));
  EXPECT_TRUE(Valid("1E-7"));
  EXPECT_TRUE(Valid("0.1"));
  EXPECT_TRUE(Valid(R"("text")"));
  EXPECT_TRUE(Valid("[]"));
  EXPECT_TRUE(Valid("{}"));
  EXPECT_TRUE(Valid(R"({"a":[1,{"b":null}],"c":"d"})"));
}

TEST(ValidateJson, AcceptsIntegersBeyondSixtyFourBits) {
  EXPECT_TRUE(Valid("18446744073709551617"));
  EXPECT_TRUE(Valid("-18446744073709551617"));
  EXPECT_TRUE(Valid("[18446744073709551617,1e400]"));
}

TEST(ValidateJson, AcceptsWhitespaceAroundAndBetweenTokens) {
  EXPECT_TRUE(Valid(" \t\r\n1 \t\r\n"));
  EXPECT_TRUE(Valid(" { \"a\" : [ 1 , 2 ] , \"b\" : { } } "));
  EXPECT_TRUE(Valid("[ ]"));
}

TEST(ValidateJson, RejectsWhitespaceThatJsonDoesNotDefine) {
  EXPECT_FALSE(Valid("\f1"));
  EXPECT_FALSE(Valid("1\v"));
  EXPECT_FALSE(
      Valid("[1,\xC2\xA0"
            "2]"));  // U+00A0 NO-BREAK SPACE
}

TEST(ValidateJson, AcceptsEveryValidEscape) {
  EXPECT_TRUE(Valid(R"("\" \\ \/ \b \f \n \r \t \u00e9 \uABCD")"));
}

TEST(ValidateJson, AcceptsValidMultiByteUtf8AtEveryLength) {
  EXPECT_TRUE(Valid("\"\xC3\xA9\""));                  // U+00E9
  EXPECT_TRUE(Valid("\"\xE2\x82\xAC\""));              // U+20AC
  EXPECT_TRUE(Valid("\"\xED\x9F\xBF\""));              // U+D7FF, just below the surrogates
  EXPECT_TRUE(Valid("\"\xEE\x80\x80\""));              // U+E000, just above them
  EXPECT_TRUE(Valid("\"\xF0\x9F\x98\x80\""));          // U+1F600
  EXPECT_TRUE(Valid("\"\xF4\x8F\xBF\xBF\""));          // U+10FFFF, the last code point
  EXPECT_TRUE(Valid("\"\xE2\x80\xA8\xE2\x80\xA9\""));  // U+2028 and U+2029 raw
}

TEST(ValidateJson, AcceptsDelRawInStrings) {
  // RFC 8259 only forbids U+0000..U+001F unescaped.
  EXPECT_TRUE(Valid("\"\x7F\""));
}

// ---- ValidateJson: what is rejected -----------------------------------------------------------

TEST(ValidateJson, RejectsNaN) {
  EXPECT_FALSE(Valid("NaN"));
  EXPECT_FALSE(Valid("[NaN]"));
  EXPECT_FALSE(Valid("-NaN"));
}

TEST(ValidateJson, RejectsInfinity) {
  EXPECT_FALSE(Valid("Infinity"));
  EXPECT_FALSE(Valid("-Infinity"));
  EXPECT_FALSE(Valid(R"({"x":Infinity})"));
}

TEST(ValidateJson, RejectsTrailingCommas) {
  EXPECT_FALSE(Valid("[1,]"));
  EXPECT_FALSE(Valid("[1 , ]"));
  EXPECT_FALSE(Valid(R"({"a":1,})"));
  EXPECT_FALSE(Valid("[,]"));
  EXPECT_FALSE(Valid("[,1]"));
  EXPECT_FALSE(Valid("{,}"));
  EXPECT_FALSE(Valid("[1,,2]"));
}

TEST(ValidateJson, RejectsLeadingZeros) {
  EXPECT_FALSE(Valid("01"));
  EXPECT_FALSE(Valid("-01"));
  EXPECT_FALSE(Valid("00"));
  EXPECT_FALSE(Valid("[007]"));
}

TEST(ValidateJson, RejectsMalformedNumbers) {
  EXPECT_FALSE(Valid("-"));
  EXPECT_FALSE(Valid("+1"));
  EXPECT_FALSE(Valid(".5"));
  EXPECT_FALSE(Valid("1."));
  EXPECT_FALSE(Valid("1.e5"));
  EXPECT_FALSE(Valid("1e"));
  EXPECT_FALSE(Valid("1e+"));
  EXPECT_FALSE(Valid("0x10"));
  EXPECT_FALSE(Valid("1_000"));
}

TEST(ValidateJson, RejectsBadLiterals) {
  EXPECT_FALSE(Valid("True"));
  EXPECT_FALSE(Valid("nul"));
  EXPECT_FALSE(Valid("None"));
  EXPECT_FALSE(Valid("undefined"));
  EXPECT_FALSE(Valid("'single'"));
}

TEST(ValidateJson, RejectsBadEscapes) {
  EXPECT_FALSE(Valid(R"("\x41")"));
  EXPECT_FALSE(Valid(R"("\a")"));
  EXPECT_FALSE(Valid(R"("\'")"));
  EXPECT_FALSE(Valid(R"("\U0041")"));
  EXPECT_FALSE(Valid(R"("\u12")"));
  EXPECT_FALSE(Valid(R"("\u12G4")"));
  EXPECT_FALSE(Valid(R"("\u")"));
  EXPECT_FALSE(Valid("\"\\"));     // escape cut by the end of input
  EXPECT_FALSE(Valid("\"\\u00"));  // \u escape cut by the end of input
}

TEST(ValidateJson, RejectsRawControlCharactersInStrings) {
  for (int c = 0; c < 0x20; ++c) {
    std::string text = "\"a";
    text.push_back(static_cast<char>(c));
    text += "b\"";
    EXPECT_FALSE(Valid(text)) << "control character " << c;
  }
}

TEST(ValidateJson, RejectsUnterminatedInput) {
  EXPECT_FALSE(Valid(""));
  EXPECT_FALSE(Valid("   "));
  EXPECT_FALSE(Valid("\"abc"));
  EXPECT_FALSE(Valid("["));
  EXPECT_FALSE(Valid("[1"));
  EXPECT_FALSE(Valid("[1,"));
  EXPECT_FALSE(Valid("{"));
  EXPECT_FALSE(Valid(R"({"a")"));
  EXPECT_FALSE(Valid(R"({"a":)"));
  EXPECT_FALSE(Valid(R"({"a":1)"));
  EXPECT_FALSE(Valid("tru"));
}

TEST(ValidateJson, RejectsMismatchedBrackets) {
  EXPECT_FALSE(Valid("[}"));
  EXPECT_FALSE(Valid("{]"));
  EXPECT_FALSE(Valid(R"({"a":[1}])"));
  EXPECT_FALSE(Valid("]"));
}

TEST(ValidateJson, RejectsMalformedObjects) {
  EXPECT_FALSE(Valid("{1:2}"));
  EXPECT_FALSE(Valid("{a:1}"));
  EXPECT_FALSE(Valid(R"({"a" 1})"));
  EXPECT_FALSE(Valid(R"({"a":1 "b":2})"));
  EXPECT_FALSE(Valid(R"({"a"})"));
  EXPECT_FALSE(Valid(R"({"a":1,"b"})"));
}

TEST(ValidateJson, RejectsMoreThanOneValue) {
  EXPECT_FALSE(Valid("1 2"));
  EXPECT_FALSE(Valid("[] []"));
  EXPECT_FALSE(Valid("{}{}"));
  EXPECT_FALSE(Valid("null,"));
  EXPECT_FALSE(Valid("\"a\"\"b\""));
  EXPECT_FALSE(Valid("truefalse"));
}

TEST(ValidateJson, RejectsInvalidUtf8InStrings) {
  EXPECT_FALSE(Valid("\"\x80\""));  // lone continuation byte
  EXPECT_FALSE(Valid("\"\xBF\""));
  EXPECT_FALSE(Valid("\"\xC3\""));          // lead byte, no continuation
  EXPECT_FALSE(Valid("\"\xC3\x41\""));      // lead byte, ASCII after it
  EXPECT_FALSE(Valid("\"\xE2\x82\""));      // 3-byte sequence cut short
  EXPECT_FALSE(Valid("\"\xF0\x9F\x98\""));  // 4-byte sequence cut short
  EXPECT_FALSE(Valid("\"\xFE\""));
  EXPECT_FALSE(Valid("\"\xFF\""));
  EXPECT_FALSE(Valid("\"\xF5\x80\x80\x80\""));  // lead byte beyond U+10FFFF's
  EXPECT_FALSE(Valid("\"\xF4\x90\x80\x80\""));  // U+110000
  EXPECT_FALSE(Valid("\xC3\xA9"));              // non-ASCII outside a string
}

TEST(ValidateJson, RejectsOverlongUtf8) {
  EXPECT_FALSE(Valid("\"\xC0\x80\""));          // U+0000 in two bytes
  EXPECT_FALSE(Valid("\"\xC1\xBF\""));          // U+007F in two bytes
  EXPECT_FALSE(Valid("\"\xE0\x80\x80\""));      // U+0000 in three bytes
  EXPECT_FALSE(Valid("\"\xE0\x9F\xBF\""));      // U+07FF in three bytes
  EXPECT_FALSE(Valid("\"\xF0\x80\x80\x80\""));  // U+0000 in four bytes
  EXPECT_FALSE(Valid("\"\xF0\x8F\xBF\xBF\""));  // U+FFFF in four bytes
}

TEST(ValidateJson, RejectsUtf8EncodedSurrogates) {
  EXPECT_FALSE(Valid("\"\xED\xA0\x80\""));  // U+D800
  EXPECT_FALSE(Valid("\"\xED\xAF\xBF\""));  // U+DBFF
  EXPECT_FALSE(Valid("\"\xED\xB0\x80\""));  // U+DC00
  EXPECT_FALSE(Valid("\"\xED\xBF\xBF\""));  // U+DFFF
  // A surrogate pair encoded as two 3-byte sequences (CESU-8) is not UTF-8 either.
  EXPECT_FALSE(Valid("\"\xED\xA0\xBD\xED\xB8\x80\""));
}

TEST(ValidateJson, RejectsInvalidUtf8InObjectKeys) { EXPECT_FALSE(Valid("{\"\xC0\x80\":1}")); }

TEST(ValidateJson, ErrorNamesTheByteOffsetAndTheProblem) {
  const Status status = ValidateJson("[1,]", kDepth);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(status.error().message.find("byte 3"), std::string::npos) << status.error().message;

  const Status leading = ValidateJson("[01]", kDepth);
  ASSERT_FALSE(leading.ok());
  EXPECT_NE(leading.error().message.find("leading zero"), std::string::npos)
      << leading.error().message;
}

// ---- ValidateJson: nesting --------------------------------------------------------------------

TEST(ValidateJson, AcceptsNestingExactlyAtMaxDepth) {
  EXPECT_TRUE(Valid(Nested(10), 10));
  EXPECT_TRUE(Valid(R"({"a":{"b":{}}})", 3));
  EXPECT_TRUE(Valid("[[1,2],[3,[]]]", 3));
}

TEST(ValidateJson, RejectsNestingOneBeyondMaxDepth) {
  EXPECT_FALSE(Valid(Nested(11), 10));
  EXPECT_FALSE(Valid(R"({"a":{"b":{}}})", 2));
  EXPECT_FALSE(Valid("[[1,2],[3,[]]]", 2));
}

TEST(ValidateJson, CountsEmptyContainersAsALevel) {
  EXPECT_FALSE(Valid("[]", 0));
  EXPECT_FALSE(Valid("{}", 0));
  EXPECT_TRUE(Valid("[]", 1));
  EXPECT_TRUE(Valid("1", 0));
}

TEST(ValidateJson, MillionDeepArrayFailsAtTheDepthLimitWithoutRecursing) {
  const std::string deep = Nested(1000000);
  const auto start = std::chrono::steady_clock::now();
  const Status status = ValidateJson(deep, 10000);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(status.ok());
  // It stops at the first bracket beyond the limit, not at the end of the text.
  EXPECT_NE(status.error().message.find("byte 10000"), std::string::npos) << status.error().message;
  EXPECT_LT(elapsed, std::chrono::seconds(1));
}

TEST(ValidateJson, MillionDeepArrayUnderAHigherLimitIsValidatedIteratively) {
  // Recursion a million frames deep would overflow the stack: this must return.
  EXPECT_TRUE(Valid(Nested(1000000), 1000000));
  EXPECT_FALSE(Valid(std::string(1000000, '[') + std::string(999999, ']'), 1000000));
}

TEST(ValidateJson, MillionDeepObjectFailsAtTheDepthLimit) {
  std::string deep;
  for (int i = 0; i < 1000000; ++i) {
    deep += "{\"a\":";
  }
  EXPECT_FALSE(Valid(deep, 10000));
}

// ---- AppendJsonString -------------------------------------------------------------------------

TEST(AppendJsonString, QuotesPlainText) { EXPECT_EQ(Quoted("hello"), R"("hello")"); }

TEST(AppendJsonString, AppendsToExistingText) {
  std::string out = "[";
  AppendJsonString(&out, "a");
  out += ",";
  AppendJsonString(&out, "");
  out += "]";
  EXPECT_EQ(out, R"(["a",""])");
}

TEST(AppendJsonString, EscapesQuoteBackslashAndShortFormControls) {
  EXPECT_EQ(Quoted("\"\\\n\r\t\b\f"), R"("\"\\\n\r\t\b\f")");
}

TEST(AppendJsonString, EscapesOtherControlCharactersAsUnicode) {
  EXPECT_EQ(Quoted(std::string_view("\0", 1)), R"("\u0000")");
  EXPECT_EQ(Quoted("\x01\x1F"), R"("\u0001\u001f")");
  EXPECT_EQ(Quoted("\x1B[0m"), R"("\u001b[0m")");
}

TEST(AppendJsonString, LeavesSlashUnescaped) { EXPECT_EQ(Quoted("a/b"), R"("a/b")"); }

TEST(AppendJsonString, KeepsValidMultiByteUtf8Raw) {
  EXPECT_EQ(Quoted("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"),
            "\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"");
}

TEST(AppendJsonString, KeepsLineAndParagraphSeparatorsRaw) {
  EXPECT_EQ(Quoted("a\xE2\x80\xA8"
                   "b\xE2\x80\xA9"),
            "\"a\xE2\x80\xA8"
            "b\xE2\x80\xA9\"");
}

TEST(AppendJsonString, ReplacesEachInvalidByteWithReplacementCharacter) {
  const std::string kFffd = "\xEF\xBF\xBD";
  EXPECT_EQ(Quoted("a\xFF"
                   "b"),
            "\"a" + kFffd + "b\"");
  EXPECT_EQ(Quoted("\x80"), "\"" + kFffd + "\"");
  EXPECT_EQ(Quoted("\xC0\x80"), "\"" + kFffd + kFffd + "\"");              // overlong NUL
  EXPECT_EQ(Quoted("\xED\xA0\x80"), "\"" + kFffd + kFffd + kFffd + "\"");  // U+D800
  EXPECT_EQ(Quoted("\xE2\x82"), "\"" + kFffd + kFffd + "\"");              // cut at the end
  EXPECT_EQ(Quoted("\xE2\x82"
                   "A"),
            "\"" + kFffd + kFffd + "A\"");  // cut before ASCII
}

TEST(AppendJsonString, ValidUtf8RoundTripsThroughAStrictParser) {
  const std::string samples[] = {
      std::string("nul\0inside", 10),
      "\xE2\x80\xA8\xE2\x80\xA9",
      "tab\tquote\"back\\slash/\x7F",
      "\xF4\x8F\xBF\xBF\xEE\x80\x80\xED\x9F\xBF",
      "\x01\x02\x1F\x1E",
  };
  for (const std::string& sample : samples) {
    EXPECT_EQ(ParsedBack(sample), sample);
  }
  std::string all_ascii;
  for (int c = 0; c < 0x80; ++c) {
    all_ascii.push_back(static_cast<char>(c));
  }
  EXPECT_EQ(ParsedBack(all_ascii), all_ascii);
}

TEST(AppendJsonString, OutputIsValidJsonForEveryOneAndTwoByteInput) {
  for (int a = 0; a < 256; ++a) {
    const std::string one(1, static_cast<char>(a));
    ASSERT_TRUE(Valid(Quoted(one))) << "byte " << a;
    for (int b = 0; b < 256; ++b) {
      const std::string two = {static_cast<char>(a), static_cast<char>(b)};
      ASSERT_TRUE(Valid(Quoted(two))) << "bytes " << a << " " << b;
    }
  }
}

TEST(AppendJsonString, OutputIsValidJsonForThreeByteInputsAroundTheUtf8Edges) {
  for (const int lead : {0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5}) {
    for (int b = 0; b < 256; ++b) {
      for (int c = 0; c < 256; ++c) {
        const std::string three = {static_cast<char>(lead), static_cast<char>(b),
                                   static_cast<char>(c)};
        ASSERT_TRUE(Valid(Quoted(three))) << lead << " " << b << " " << c;
      }
    }
  }
}

// ---- Utf8TrimIncomplete -----------------------------------------------------------------------

TEST(Utf8TrimIncomplete, KeepsCompleteText) {
  EXPECT_EQ(Utf8TrimIncomplete(""), 0u);
  EXPECT_EQ(Utf8TrimIncomplete("abc"), 3u);
  EXPECT_EQ(Utf8TrimIncomplete("a\xC3\xA9"), 3u);
  EXPECT_EQ(Utf8TrimIncomplete("a\xE2\x82\xAC"), 4u);
  EXPECT_EQ(Utf8TrimIncomplete("a\xF0\x9F\x98\x80"), 5u);
  EXPECT_EQ(Utf8TrimIncomplete("\xF0\x9F\x98\x80\xC3\xA9"), 6u);
}

TEST(Utf8TrimIncomplete, DropsACutTwoByteSequence) {
  EXPECT_EQ(Utf8TrimIncomplete("ab\xC3"), 2u);
  EXPECT_EQ(Utf8TrimIncomplete("\xC3"), 0u);
}

TEST(Utf8TrimIncomplete, DropsACutThreeByteSequence) {
  EXPECT_EQ(Utf8TrimIncomplete("ab\xE2"), 2u);
  EXPECT_EQ(Utf8TrimIncomplete("ab\xE2\x82"), 2u);
}

TEST(Utf8TrimIncomplete, DropsACutFourByteSequence) {
  EXPECT_EQ(Utf8TrimIncomplete("ab\xF0"), 2u);
  EXPECT_EQ(Utf8TrimIncomplete("ab\xF0\x9F"), 2u);
  EXPECT_EQ(Utf8TrimIncomplete("ab\xF0\x9F\x98"), 2u);
  EXPECT_EQ(Utf8TrimIncomplete("\xF0\x9F\x98"), 0u);
}

TEST(Utf8TrimIncomplete, DropsOnlyTheLastCutCharacter) {
  EXPECT_EQ(Utf8TrimIncomplete("\xC3\xA9\xE2\x82\xAC\xF0\x9F"), 5u);
}

}  // namespace
}  // namespace pyexec
