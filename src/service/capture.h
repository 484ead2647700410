// CapturedOutput: a stream's bytes kept up to a cap, the rest counted and dropped, so a script
// that floods its output cannot exhaust the server's memory (snekbox PR #81). Used by the
// server's supervisor.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pyexec::service {

class CapturedOutput {
 public:
  explicit CapturedOutput(uint64_t cap) : cap_(cap) {}

  // Keeps what fits under the cap; returns false once anything was dropped.
  bool Append(std::string_view bytes);
  // Cuts a truncated capture back to a UTF-8 character boundary (call once, at the end).
  void Finish();

  const std::string& data() const { return data_; }
  bool truncated() const { return total_ > data_.size(); }
  uint64_t total_bytes() const { return total_; }

 private:
  uint64_t cap_;
  uint64_t total_ = 0;
  std::string data_;
};

}  // namespace pyexec::service
