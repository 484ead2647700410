// The zygote process: a single-threaded, pre-warmed interpreter that forks one contained child
// per request and reports each child's exit. Entered by `pyexec __zygote` (exec'd by
// ZygoteClient with a minimal environment); never returns.
#pragma once

#include <string>
#include <vector>

namespace pyexec::zygote {

inline constexpr int kControlFd = 3;
inline constexpr char kZygoteCommand[] = "__zygote";
// Tells the zygote that ZygoteClient started it in a user namespace of its own (rootless).
inline constexpr char kRootlessFlag[] = "--rootless";
inline constexpr char kHugePageArenasFlag[] = "--huge-page-arenas";
// The seccomp filter lets a child lower itself to SCHED_IDLE (ZygoteOptions::idle_exit).
inline constexpr char kIdleExitFlag[] = "--idle-exit";
// In the zygote's environment only until ZygoteMain starts (ZygoteClient sets it).
inline constexpr char kBindNowVariable[] = "LD_BIND_NOW";

// True for `<binary> __zygote ...`: how ZygoteClient execs the zygote. Every binary that
// starts an engine (pyexec, the test and benchmark programs) checks this first thing in main().
bool IsZygoteInvocation(int argc, char** argv);

// `<binary> __zygote --preload=a,b --log-level=L [--rootless]`: becomes the zygote; never
// returns.
[[noreturn]] void ZygoteEntry(int argc, char** argv);

// The control socket is descriptor 3. `preload` names the modules to import before forking.
// `rootless`: the zygote must be uid 0 of a user namespace that maps it onto a non-root host
// uid; it verifies that before serving, and its jailed children map onto that uid.
// `idle_exit`: the seccomp filter allows sched_setscheduler(0, SCHED_IDLE).
[[noreturn]] void ZygoteMain(const std::vector<std::string>& preload, bool rootless,
                             bool huge_page_arenas, bool idle_exit);

}  // namespace pyexec::zygote
