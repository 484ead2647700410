#include "service/capture.h"

#include "util/json_text.h"

namespace pyexec::service {

bool CapturedOutput::Append(std::string_view bytes) {
  total_ += bytes.size();
  if (data_.size() < cap_) {
    const size_t room = static_cast<size_t>(cap_ - data_.size());
    data_.append(bytes.substr(0, room));
  }
  return total_ == data_.size();
}

void CapturedOutput::Finish() {
  if (truncated()) {
    data_.resize(Utf8TrimIncomplete(data_));
  }
}

}  // namespace pyexec::service
