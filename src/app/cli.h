// The command line: `pyexec run FILE.py`, `pyexec doctor`, `pyexec --help/--version`. Runs in
// the server process.
#pragma once

namespace pyexec::app {

// Exit codes of `pyexec run`.
inline constexpr int kExitOk = 0;
inline constexpr int kExitScriptFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitInternal = 3;
// Interrupted by SIGINT or SIGTERM: 128 + the signal's number, as shells report it.
// `pyexec doctor`: a mandatory control is missing or Python cannot import numpy and pandas.
inline constexpr int kExitNotReady = 1;

int RunCli(int argc, char** argv);

}  // namespace pyexec::app
