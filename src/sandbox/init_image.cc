#include "sandbox/init_image.h"

// PYEXEC_INIT_IMAGE is the path of the static pyexec-init binary that CMake builds first; the
// assembler copies its bytes into .rodata (`.incbin`), so no generated source is needed.
#ifndef PYEXEC_INIT_IMAGE
#error "PYEXEC_INIT_IMAGE must name the pyexec-init binary"
#endif

// NOLINTBEGIN(hicpp-no-assembler)
asm(".pushsection .rodata.pyexec_init, \"a\", @progbits\n"
    ".balign 16\n"
    "pyexec_init_image_begin:\n"
    ".incbin \"" PYEXEC_INIT_IMAGE
    "\"\n"
    "pyexec_init_image_end:\n"
    ".popsection\n");
// NOLINTEND(hicpp-no-assembler)

extern "C" {
extern const char pyexec_init_image_begin[];  // NOLINT(readability-identifier-naming)
extern const char pyexec_init_image_end[];    // NOLINT(readability-identifier-naming)
}

namespace pyexec::sandbox {

std::string_view InitImage() {
  return {pyexec_init_image_begin,
          static_cast<size_t>(pyexec_init_image_end - pyexec_init_image_begin)};
}

}  // namespace pyexec::sandbox
