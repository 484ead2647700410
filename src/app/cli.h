// The command line: `pyexec run FILE.py`, `pyexec --help/--version`, and the hidden
// `pyexec __zygote` entry the server execs its zygote through. Runs in the server process
// (or, for __zygote, becomes the zygote).
#pragma once

namespace pyexec::app {

// Exit codes of `pyexec run`.
inline constexpr int kExitOk = 0;
inline constexpr int kExitScriptFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitInternal = 3;

int RunCli(int argc, char** argv);

// `pyexec __zygote --preload=a,b --log-level=L`: never returns.
[[noreturn]] void ZygoteEntry(int argc, char** argv);

}  // namespace pyexec::app
