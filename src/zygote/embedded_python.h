// The embedded CPython of the zygote: start-up with an explicit, isolated configuration,
// preloading, and entering the runner in a forked child. Runs in the zygote process only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sys/memory.h"
#include "util/result.h"

namespace pyexec::zygote {

// Initialises CPython (Debian's /usr/bin/python3 prefix, isolated from the environment, UTF-8,
// unbuffered stdio), loads the runner module from the source compiled into pyexec, imports
// every module of `preload`, and freezes the heap (gc.freeze) so children do not dirty
// inherited pages by collecting them.
// `huge_page_arenas`: Python's object arenas from one huge-page reservation (sys/memory.h).
Status StartInterpreter(const std::vector<std::string>& preload, bool huge_page_arenas);

// MADV_COLLAPSE on the huge-page arenas made writable so far (none without
// `huge_page_arenas`): after StartInterpreter, and again to restore what later writes split.
sys::HugePageReport CollapseArenas(const sys::KeepGoing& keep_going = {});

// How each child gets a new key for numpy's global generator (see PrepareRunner).
enum class NumpyReseed {
  kNoNumpy,        // numpy not preloaded: a script that imports it seeds it itself
  kInC,            // written from getrandom straight into the generator's state
  kThroughRunner,  // numpy.random.set_state: numpy's layout was not the one expected
};
NumpyReseed HowNumpyIsReseeded();

// Python's fork hooks, around fork() in the zygote (reseed `random`; threading's is skipped
// until PrepareRunner puts it back).
void BeforeFork();
void AfterForkInParent();
void AfterForkInChild();

// In a contained child still waiting for its script: the per-child set-up, done before the
// request arrives: numpy's global generator gets a new key (from C where its layout checked
// out in the zygote, else through the runner), and the runner puts back threading's at-fork
// hook, which the zygote's own forks skip. With `warm_up`, the runner also compiles and runs a
// small script of its own, leaving no trace a script could see (python/pyexec_runner.py).
// Runs only code of pyexec's own. True when the warm-up was asked for and ran to its end.
bool PrepareRunner(bool warm_up);

// In a contained child: runs the runner on the script and _exits. Never returns. `idle_exit`
// (sandbox::kStartIdleExit): once the result is written, the process moves to SCHED_IDLE and
// yields before it exits.
[[noreturn]] void RunRunnerAndExit(int result_fd, int script_fd, uint64_t result_limit,
                                   bool idle_exit);

// "3.11.2".
std::string PythonVersion();

}  // namespace pyexec::zygote
