// Error and Result<T>: the typed failure values every layer returns instead of throwing.
// Used by every process (server, zygote, child before Python).
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace pyexec {

// What kind of infrastructure failure happened. The user's script failing is never an Error:
// it is an Outcome (see service/outcome.h).
enum class ErrorCode {
  kSystem,        // a syscall failed; sys_errno says why
  kInvalidInput,  // a caller's value is out of range or malformed
  kProtocol,      // a peer (zygote, child) sent something that breaks the framing contract
  kZygoteDied,    // the zygote exited while an execution depended on it
  kSetupFailed,   // the child could not finish its set-up before running Python
  kUnavailable,   // a needed host feature is missing
  kCancelled,     // the caller cancelled the execution (a signal, a dropped connection)
};

struct Error {
  ErrorCode code = ErrorCode::kSystem;
  std::string message;  // what failed, with the call and its argument: "mkdir(/sys/fs/...)"
  int sys_errno = 0;    // errno at the failing call, 0 when not a syscall failure

  // "mkdir(/sys/fs/cgroup/pids/x): Permission denied"
  std::string ToString() const;
};

Error SysError(std::string call, int saved_errno);
Error MakeError(ErrorCode code, std::string message);

// std::expected-shaped: GCC 12 has no std::expected.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : state_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { return std::get<1>(state_); }
  Error&& error() && { return std::get<1>(std::move(state_)); }

 private:
  std::variant<T, Error> state_;
};

// Result<void>.
struct Ok {};
using Status = Result<Ok>;
inline Status OkStatus() { return Ok{}; }

}  // namespace pyexec
