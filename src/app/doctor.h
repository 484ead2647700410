// `pyexec doctor`: checks, without starting the zygote, whether this host can run pyexec's
// jail (each kernel control, probed), how its limits would be enforced (cgroups), and whether
// the system Python imports numpy and pandas. Runs in the CLI process, before any thread.
#pragma once

namespace pyexec::app {

// Prints the report (a table, or one JSON object with `json`) on standard output. Returns
// kExitOk when every mandatory control is supported and Python works, kExitNotReady otherwise.
int RunDoctor(bool json);

}  // namespace pyexec::app
