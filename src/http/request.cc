#include "http/request.h"

#include <algorithm>

namespace pyexec::http {
namespace {

char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](char x, char y) { return LowerAscii(x) == LowerAscii(y); });
}

std::string_view PathOfTarget(std::string_view target) {
  return target.substr(0, target.find_first_of("?#"));
}

std::optional<std::string_view> Request::Header(std::string_view name) const {
  for (const HeaderField& field : headers) {
    if (EqualsIgnoringCase(field.name, name)) {
      return std::string_view{field.value};
    }
  }
  return std::nullopt;
}

}  // namespace pyexec::http
