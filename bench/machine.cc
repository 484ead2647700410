#include "machine.h"

#include <sched.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <vector>

#include "sys/unique_fd.h"

namespace pyexec::bench {
namespace {

std::string ReadFirstLine(const char* path) {
  std::ifstream file(path);
  std::string line;
  std::getline(file, line);
  return line;
}

constexpr size_t kPage = 4096;
constexpr size_t kFaultPages = 2048;  // 8 MiB a round
constexpr int kFaultRounds = 5;

// Microseconds per page for a first write to each page of `mapping`.
double TimeFirstWrites(char* mapping) {
  const auto begun = std::chrono::steady_clock::now();
  for (size_t page = 0; page < kFaultPages; ++page) {
    // volatile: the store must happen, once per page.
    *static_cast<volatile char*>(mapping + page * kPage) = 1;
  }
  const std::chrono::duration<double, std::micro> took = std::chrono::steady_clock::now() - begun;
  return took.count() / kFaultPages;
}

// One round of each kind: a fresh anonymous mapping (zero-fill), and a private mapping of a
// memfd whose pages are in memory and mapped by a read first (each write copies one).
// Small pages only: a huge page would make one fault of 512 pages.
bool MeasureFaultRound(double* zero_fill_us, double* copy_on_write_us) {
  const size_t bytes = kFaultPages * kPage;
  void* anonymous =
      mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (anonymous == MAP_FAILED) {
    return false;
  }
  (void)madvise(anonymous, bytes, MADV_NOHUGEPAGE);
  *zero_fill_us = TimeFirstWrites(static_cast<char*>(anonymous));
  munmap(anonymous, bytes);

  const sys::UniqueFd file(memfd_create("pyexec-bench-faults", MFD_CLOEXEC));
  if (!file || ftruncate(file.get(), static_cast<off_t>(bytes)) != 0) {
    return false;
  }
  const std::vector<char> filler(bytes, 'x');
  if (pwrite(file.get(), filler.data(), bytes, 0) != static_cast<ssize_t>(bytes)) {
    return false;
  }
  void* shared = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE, file.get(), 0);
  if (shared == MAP_FAILED) {
    return false;
  }
  auto* pages = static_cast<char*>(shared);
  for (size_t page = 0; page < kFaultPages; ++page) {
    (void)*static_cast<volatile char*>(pages + page * kPage);  // mapped, shared, read-only
  }
  *copy_on_write_us = TimeFirstWrites(pages);
  munmap(shared, bytes);
  return true;
}

void MeasurePageFaults(Machine* machine) {
  std::vector<double> zero_fill;
  std::vector<double> copy_on_write;
  for (int round = 0; round < kFaultRounds; ++round) {
    double zero = 0;
    double copy = 0;
    if (MeasureFaultRound(&zero, &copy)) {
      zero_fill.push_back(zero);
      copy_on_write.push_back(copy);
    }
  }
  const auto median = [](std::vector<double>& values) {
    if (values.empty()) {
      return 0.0;
    }
    std::nth_element(values.begin(), values.begin() + values.size() / 2, values.end());
    return values[values.size() / 2];
  };
  machine->zero_fill_fault_us = median(zero_fill);
  machine->copy_on_write_fault_us = median(copy_on_write);
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
  MeasurePageFaults(&machine);
  return machine;
}

}  // namespace pyexec::bench
