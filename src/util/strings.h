// Small string helpers shared by the command line and the zygote's argument parsing.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pyexec {

// "numpy,,pandas" -> {"numpy", "pandas"}: the items of a comma-separated list, empty ones
// dropped.
std::vector<std::string> SplitCommaList(std::string_view text);

}  // namespace pyexec
