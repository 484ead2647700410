// The zygote process: a single-threaded, pre-warmed interpreter that forks one contained child
// per request and reports each child's exit. Entered by `pyexec __zygote` (exec'd by
// ZygoteClient with a minimal environment); never returns.
#pragma once

#include <string>
#include <vector>

namespace pyexec::zygote {

// The control socket is descriptor 3. `preload` names the modules to import before forking.
[[noreturn]] void ZygoteMain(const std::vector<std::string>& preload);

inline constexpr int kControlFd = 3;

}  // namespace pyexec::zygote
