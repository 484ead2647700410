// `pyexec doctor`: checks, without starting the zygote, whether this host can run pyexec's
// jail (each kernel control, probed), how its limits would be enforced (cgroups), and whether
// the system Python imports numpy and pandas. Runs in the CLI process, before any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cgroup/host.h"
#include "sandbox/host_support.h"
#include "service/engine.h"

namespace pyexec::app {

struct PythonCheck {
  bool ok = false;
  std::string python_version;  // platform.python_version()
  std::string numpy_version;
  std::string pandas_version;
  std::string detail;
};

struct CgroupPicture {
  cgroup::HostCgroups host;
  bool usable = false;  // pyexec's cgroup tree could be created here
  std::string error;    // why not, when it could not
  service::Enforcement enforcement;
};

struct DoctorReport {
  std::string kernel;
  bool root = false;
  bool initial_user_namespace = true;
  std::vector<sandbox::ControlSupport> controls;
  CgroupPicture cgroups;
  PythonCheck python;
  std::vector<std::string> missing;  // mandatory controls not supported, and "python"
};

// Probes everything the report says. Forks short-lived children: call before any thread exists
// (`pyexec serve` runs it at start-up and keeps the result for /health).
DoctorReport ExamineHost();

// The report as `pyexec doctor --json` prints it.
nlohmann::ordered_json DoctorJson(const DoctorReport& report);

// Prints the report (a table, or one JSON object with `json`) on standard output. Returns
// kExitOk when every mandatory control is supported and Python works, kExitNotReady otherwise.
int RunDoctor(bool json);

}  // namespace pyexec::app
