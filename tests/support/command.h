// Test support: runs a program (the real pyexec binary) with arguments, standard input and an
// environment, and collects its exit status and both outputs.
#pragma once

#include <string>
#include <vector>

namespace pyexec::testing {

struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string out;
  std::string err;
};

// Runs `argv` (argv[0] is the program's path) with `input` on stdin. `env` replaces the
// environment when not empty. The program is killed after `timeout_seconds`.
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& input = "",
                         const std::vector<std::string>& env = {}, int timeout_seconds = 120);

// PYEXEC_BINARY with `args`.
CommandResult RunPyexec(const std::vector<std::string>& args, const std::string& input = "");

}  // namespace pyexec::testing
