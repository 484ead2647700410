#include "http/request_id.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace pyexec::http {
namespace {

// splitmix64's finaliser: a bijection on 64-bit values, so distinct inputs give distinct ids.
uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

uint64_t ProcessKey() {
  static const uint64_t key =
      Mix(static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()));
  return key;
}

bool IsIdCharacter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

}  // namespace

std::string NewRequestId() {
  static std::atomic<uint64_t> counter{0};
  // key + n * odd constant is injective modulo 2^64, and so is Mix: no repeats within 2^64 ids.
  const uint64_t n = counter.fetch_add(1, std::memory_order_relaxed);
  uint64_t value = Mix(ProcessKey() + n * 0x9e3779b97f4a7c15ULL);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(16, '0');
  for (size_t i = id.size(); i-- > 0;) {
    id[i] = kHex[value & 0xf];
    value >>= 4;
  }
  return id;
}

bool IsSaneRequestId(std::string_view id) {
  return !id.empty() && id.size() <= kMaxRequestIdLength &&
         std::all_of(id.begin(), id.end(), IsIdCharacter);
}

std::string ChooseRequestId(std::optional<std::string_view> client_id) {
  if (client_id.has_value() && IsSaneRequestId(*client_id)) {
    return std::string(*client_id);
  }
  return NewRequestId();
}

}  // namespace pyexec::http
