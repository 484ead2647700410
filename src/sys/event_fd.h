// EventFd: a one-way wake-up flag another thread or a signal handler can raise and a poll
// loop can wait on. Used by the server to cancel executions.
#pragma once

#include "sys/unique_fd.h"
#include "util/result.h"

namespace pyexec::sys {

class EventFd {
 public:
  static Result<EventFd> Create();

  // Raises the flag. Async-signal-safe (one write(2)), callable from a signal handler.
  void Raise() const noexcept;
  bool Raised() const;
  // Lowers the flag again (for flags used as repeated wake-ups).
  void Clear() const noexcept;
  int fd() const { return fd_.get(); }

 private:
  explicit EventFd(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace pyexec::sys
