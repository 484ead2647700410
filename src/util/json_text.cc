#include "util/json_text.h"

#include <cstdint>
#include <vector>

namespace pyexec {
namespace {

// Length of the valid UTF-8 sequence starting at text[i], or 0 if invalid (RFC 3629 table).
size_t Utf8SequenceLength(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
  const uint8_t b0 = byte(i);
  if (b0 < 0x80) {
    return 1;
  }
  size_t length = 0;
  uint8_t low = 0x80;
  uint8_t high = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 3;
    if (b0 == 0xE0) {
      low = 0xA0;  // no overlong forms
    } else if (b0 == 0xED) {
      high = 0x9F;  // no UTF-16 surrogates
    }
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 4;
    if (b0 == 0xF0) {
      low = 0x90;
    } else if (b0 == 0xF4) {
      high = 0x8F;  // nothing above U+10FFFF
    }
  } else {
    return 0;
  }
  if (i + length > text.size()) {
    return 0;
  }
  if (byte(i + 1) < low || byte(i + 1) > high) {
    return 0;
  }
  for (size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) {
      return 0;
    }
  }
  return length;
}

class Validator {
 public:
  Validator(std::string_view text, size_t max_depth) : text_(text), max_depth_(max_depth) {}

  Status Run() {
    SkipSpace();
    if (Status s = Value(); !s.ok()) {
      return s;
    }
    SkipSpace();
    if (pos_ != text_.size()) {
      return Fail("unexpected data after the value");
    }
    return OkStatus();
  }

 private:
  enum class Frame : uint8_t { kArray, kObject };

  Error Fail(std::string_view what) const {
    return MakeError(ErrorCode::kInvalidInput,
                     "invalid JSON at byte " + std::to_string(pos_) + ": " + std::string(what));
  }

  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return text_[pos_]; }

  void SkipSpace() {
    while (!AtEnd() && (Peek() == ' ' || Peek() == '\t' || Peek() == '\n' || Peek() == '\r')) {
      ++pos_;
    }
  }

  // Iterative: containers push a frame instead of recursing.
  Status Value() {
    std::vector<Frame> stack;
    while (true) {
      SkipSpace();
      if (AtEnd()) {
        return Fail("unexpected end of input");
      }
      const char c = Peek();
      if (c == '[' || c == '{') {
        if (stack.size() >= max_depth_) {
          return Fail("nesting deeper than " + std::to_string(max_depth_));
        }
        ++pos_;
        SkipSpace();
        const bool empty = !AtEnd() && Peek() == (c == '[' ? ']' : '}');
        if (empty) {
          ++pos_;
        } else {
          stack.push_back(c == '[' ? Frame::kArray : Frame::kObject);
          if (c == '{') {
            if (Status s = Key(); !s.ok()) {
              return s;
            }
          }
          continue;  // parse the first element
        }
      } else if (c == '"') {
        if (Status s = String(); !s.ok()) {
          return s;
        }
      } else if (c == '-' || (c >= '0' && c <= '9')) {
        if (Status s = Number(); !s.ok()) {
          return s;
        }
      } else if (!Literal("true") && !Literal("false") && !Literal("null")) {
        return Fail("unexpected character");
      }
      // A value is complete: close containers or move to the next element.
      while (true) {
        if (stack.empty()) {
          return OkStatus();
        }
        SkipSpace();
        if (AtEnd()) {
          return Fail("unexpected end of input");
        }
        const Frame top = stack.back();
        if (Peek() == ',') {
          ++pos_;
          if (top == Frame::kObject) {
            SkipSpace();
            if (Status s = Key(); !s.ok()) {
              return s;
            }
          }
          break;
        }
        if (Peek() == (top == Frame::kArray ? ']' : '}')) {
          ++pos_;
          stack.pop_back();
          continue;
        }
        return Fail(top == Frame::kArray ? "expected ',' or ']'" : "expected ',' or '}'");
      }
    }
  }

  Status Key() {
    if (AtEnd() || Peek() != '"') {
      return Fail("expected a string key");
    }
    if (Status s = String(); !s.ok()) {
      return s;
    }
    SkipSpace();
    if (AtEnd() || Peek() != ':') {
      return Fail("expected ':'");
    }
    ++pos_;
    return OkStatus();
  }

  bool Literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) == word) {
      pos_ += word.size();
      return true;
    }
    return false;
  }

  static bool IsDigit(char c) { return c >= '0' && c <= '9'; }

  Status Number() {
    if (Peek() == '-') {
      ++pos_;
    }
    if (AtEnd() || !IsDigit(Peek())) {
      return Fail("invalid number");
    }
    if (Peek() == '0') {
      ++pos_;
      if (!AtEnd() && IsDigit(Peek())) {
        return Fail("leading zero in number");
      }
    } else {
      while (!AtEnd() && IsDigit(Peek())) {
        ++pos_;
      }
    }
    if (!AtEnd() && Peek() == '.') {
      ++pos_;
      if (AtEnd() || !IsDigit(Peek())) {
        return Fail("invalid fraction");
      }
      while (!AtEnd() && IsDigit(Peek())) {
        ++pos_;
      }
    }
    if (!AtEnd() && (Peek() == 'e' || Peek() == 'E')) {
      ++pos_;
      if (!AtEnd() && (Peek() == '+' || Peek() == '-')) {
        ++pos_;
      }
      if (AtEnd() || !IsDigit(Peek())) {
        return Fail("invalid exponent");
      }
      while (!AtEnd() && IsDigit(Peek())) {
        ++pos_;
      }
    }
    return OkStatus();
  }

  static bool IsHex(char c) {
    return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  }

  Status String() {
    ++pos_;  // opening quote
    while (true) {
      if (AtEnd()) {
        return Fail("unterminated string");
      }
      const auto c = static_cast<uint8_t>(Peek());
      if (c == '"') {
        ++pos_;
        return OkStatus();
      }
      if (c < 0x20) {
        return Fail("raw control character in string");
      }
      if (c == '\\') {
        ++pos_;
        if (AtEnd()) {
          return Fail("unterminated escape");
        }
        const char e = Peek();
        if (e == 'u') {
          for (int k = 1; k <= 4; ++k) {
            if (pos_ + k >= text_.size() || !IsHex(text_[pos_ + k])) {
              return Fail("invalid \\u escape");
            }
          }
          pos_ += 5;
        } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                   e == 'r' || e == 't') {
          ++pos_;
        } else {
          return Fail("invalid escape");
        }
        continue;
      }
      const size_t length = Utf8SequenceLength(text_, pos_);
      if (length == 0) {
        return Fail("invalid UTF-8");
      }
      pos_ += length;
    }
  }

  std::string_view text_;
  size_t max_depth_;
  size_t pos_ = 0;
};

}  // namespace

Status ValidateJson(std::string_view text, size_t max_depth) {
  return Validator(text, max_depth).Run();
}

void AppendJsonString(std::string* out, std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->reserve(out->size() + bytes.size() + 2);
  out->push_back('"');
  size_t i = 0;
  while (i < bytes.size()) {
    const auto c = static_cast<uint8_t>(bytes[i]);
    if (c >= 0x80) {
      const size_t length = Utf8SequenceLength(bytes, i);
      if (length == 0) {
        out->append("\xEF\xBF\xBD");  // U+FFFD REPLACEMENT CHARACTER
        ++i;
      } else {
        out->append(bytes.substr(i, length));
        i += length;
      }
      continue;
    }
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 0xF]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out->push_back('"');
}

size_t Utf8TrimIncomplete(std::string_view bytes) {
  // Find the start of the last character: at most three continuation bytes back.
  size_t start = bytes.size();
  for (int back = 0; back < 4 && start > 0; ++back) {
    --start;
    const auto c = static_cast<uint8_t>(bytes[start]);
    if ((c & 0xC0) != 0x80) {
      size_t needed = 1;
      if ((c & 0xE0) == 0xC0) {
        needed = 2;
      } else if ((c & 0xF0) == 0xE0) {
        needed = 3;
      } else if ((c & 0xF8) == 0xF0) {
        needed = 4;
      }
      return bytes.size() - start < needed ? start : bytes.size();
    }
  }
  return bytes.size();
}

}  // namespace pyexec
