// Bytes from the kernel's random number generator, for seeds a forked child must not share
// with its siblings. Used in the zygote's children, after fork: no allocation, no error object
// (a child that cannot get them falls back to Python's way of reseeding).
#pragma once

#include <cstddef>

namespace pyexec::sys {

// Fills `buffer` from getrandom(2), blocking only until the kernel's pool is initialised (once
// per boot). False on any other failure; the buffer's contents are unspecified then.
// Async-signal-safe.
bool FillRandom(void* buffer, size_t size);

}  // namespace pyexec::sys
