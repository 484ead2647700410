# One INTERFACE target carries the warning and sanitizer flags every pyexec target uses.
add_library(pyexec_options INTERFACE)
target_compile_options(pyexec_options INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion -Wnon-virtual-dtor
  -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual
  -Wimplicit-fallthrough -Werror)
target_compile_definitions(pyexec_options INTERFACE PYEXEC_VERSION="${PROJECT_VERSION}")
if(PYEXEC_SANITIZE)
  target_compile_options(pyexec_options INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_link_options(pyexec_options INTERFACE -fsanitize=address,undefined)
endif()
