#include "sys/entropy.h"

#include <sys/random.h>
#include <sys/types.h>

#include <cerrno>
#include <cstdint>

namespace pyexec::sys {

bool FillRandom(void* buffer, size_t size) {
  auto* next = static_cast<uint8_t*>(buffer);
  while (size > 0) {
    const ssize_t got = getrandom(next, size, 0);
    if (got < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    next += got;
    size -= static_cast<size_t>(got);
  }
  return true;
}

}  // namespace pyexec::sys
