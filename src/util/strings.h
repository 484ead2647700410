// Small string helpers shared by the command line, the zygote's argument parsing and HTTP.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pyexec {

// "numpy,,pandas" -> {"numpy", "pandas"}: the items of a comma-separated list, empty ones
// dropped.
std::vector<std::string> SplitCommaList(std::string_view text);

// `text` without leading and trailing spaces and tabs (HTTP's optional white space, RFC 9110
// section 5.6.3).
std::string_view TrimBlanks(std::string_view text);

}  // namespace pyexec
