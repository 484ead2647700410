#include "util/result.h"

#include <cstring>

namespace pyexec {

std::string Error::ToString() const {
  if (sys_errno == 0) {
    return message;
  }
  return message + ": " + std::strerror(sys_errno);
}

Error SysError(std::string call, int saved_errno) {
  return Error{ErrorCode::kSystem, std::move(call), saved_errno};
}

Error MakeError(ErrorCode code, std::string message) { return Error{code, std::move(message), 0}; }

}  // namespace pyexec
