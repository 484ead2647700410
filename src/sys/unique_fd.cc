#include "sys/unique_fd.h"

#include <unistd.h>

namespace pyexec::sys {

void UniqueFd::Reset(int fd) {
  if (fd_ >= 0) {
    // close() always releases the descriptor on Linux, even on EINTR: never retry.
    close(fd_);
  }
  fd_ = fd;
}

}  // namespace pyexec::sys
