#include "sys/event_fd.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace pyexec::sys {

Result<EventFd> EventFd::Create() {
  UniqueFd fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!fd) {
    return SysError("eventfd", errno);
  }
  return EventFd(std::move(fd));
}

void EventFd::Raise() const noexcept {
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t ignored = write(fd_.get(), &one, sizeof(one));
}

void EventFd::Clear() const noexcept {
  uint64_t count = 0;
  [[maybe_unused]] const ssize_t ignored = read(fd_.get(), &count, sizeof(count));  // non-blocking
}

bool EventFd::Raised() const {
  pollfd polled{fd_.get(), POLLIN, 0};
  return poll(&polled, 1, 0) == 1;
}

}  // namespace pyexec::sys
