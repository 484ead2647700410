// What the benchmarks report about the host they ran on: CPUs, kernel, CPU model, load average.
// Read from the benchmark process.
#pragma once

#include <string>

namespace pyexec::bench {

struct Machine {
  int nproc = 0;   // CPUs this process may run on, as nproc(1) counts them
  int online = 0;  // CPUs online
  std::string kernel;
  std::string cpu_model;
};

Machine DescribeMachine();

// The 1, 5 and 15 minute load averages: "0.52 0.40 0.30".
std::string LoadAverage();

}  // namespace pyexec::bench
