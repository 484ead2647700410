#include "machine.h"

#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

namespace pyexec::bench {
namespace {

std::string ReadFirstLine(const char* path) {
  std::ifstream file(path);
  std::string line;
  std::getline(file, line);
  return line;
}

}  // namespace

std::string LoadAverage() {
  const std::string line = ReadFirstLine("/proc/loadavg");
  // "0.52 0.40 0.30 1/123 4567": the three averages.
  size_t end = 0;
  for (int field = 0; field < 3 && end != std::string::npos; ++field) {
    end = line.find(' ', end == 0 ? 0 : end + 1);
  }
  return line.substr(0, end);
}

Machine DescribeMachine() {
  Machine machine;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    machine.nproc = CPU_COUNT(&set);
  }
  machine.online = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  utsname names{};
  if (uname(&names) == 0) {
    machine.kernel = std::string(names.sysname) + " " + names.release + " " + names.version + " " +
                     names.machine;
  }
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  // Bounded by /proc/cpuinfo's length; the first "model name" line ends it.
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) {
        machine.cpu_model = line.substr(std::min(colon + 2, line.size()));
      }
      break;
    }
  }
  return machine;
}

}  // namespace pyexec::bench
