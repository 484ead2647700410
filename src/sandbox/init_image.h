// The executable image of pyexec-init (sandbox/init/namespace_init.cc), linked into pyexec so
// that the zygote execs it from a sealed memfd and never from a path on disk. Read by the zygote.
#pragma once

#include <string_view>

namespace pyexec::sandbox {

std::string_view InitImage();

}  // namespace pyexec::sandbox
