# The CPython the zygote embeds, from python3-config --embed (Debian's libpython3.11).
execute_process(COMMAND "${PYEXEC_PYTHON_CONFIG}" --includes
                OUTPUT_VARIABLE _py_includes OUTPUT_STRIP_TRAILING_WHITESPACE
                RESULT_VARIABLE _py_result)
if(NOT _py_result EQUAL 0)
  message(FATAL_ERROR "${PYEXEC_PYTHON_CONFIG} failed: install python3-dev (scripts/install-deps.sh)")
endif()
execute_process(COMMAND "${PYEXEC_PYTHON_CONFIG}" --embed --ldflags
                OUTPUT_VARIABLE _py_ldflags OUTPUT_STRIP_TRAILING_WHITESPACE)
separate_arguments(_py_includes UNIX_COMMAND "${_py_includes}")
separate_arguments(_py_ldflags UNIX_COMMAND "${_py_ldflags}")
set(_py_dirs "")
foreach(_flag IN LISTS _py_includes)
  string(REGEX REPLACE "^-I" "" _dir "${_flag}")
  list(APPEND _py_dirs "${_dir}")
endforeach()
list(REMOVE_DUPLICATES _py_dirs)

add_library(pyexec_python INTERFACE)
# SYSTEM: warnings in Python's headers are not ours to fix.
target_include_directories(pyexec_python SYSTEM INTERFACE ${_py_dirs})
target_link_options(pyexec_python INTERFACE ${_py_ldflags})
target_link_libraries(pyexec_python INTERFACE ${_py_ldflags})
message(STATUS "Embedding Python from ${PYEXEC_PYTHON_CONFIG}: ${_py_dirs}")
