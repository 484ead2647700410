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
  // What one 4 KiB page fault costs this kernel on this machine, median of a few rounds (0 if
  // it could not be measured): a first write to an anonymous page (zero-fill), and a first
  // write to a private page that is shared until then (copy-on-write, what a fork's child
  // pays for every page it writes). Every execution takes hundreds of each; on a virtual
  // machine they can cost ten times what they do on bare metal.
  double zero_fill_fault_us = 0;
  double copy_on_write_fault_us = 0;
};

Machine DescribeMachine();

// The 1, 5 and 15 minute load averages: "0.52 0.40 0.30".
std::string LoadAverage();

}  // namespace pyexec::bench
