#include "app/doctor.h"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "app/cli.h"
#include "cgroup/execution_cgroup.h"
#include "cgroup/host.h"
#include "sandbox/host_support.h"
#include "service/engine.h"
#include "sys/files.h"
#include "sys/process.h"
#include "zygote/client.h"

namespace pyexec::app {
namespace {

// The interpreter pyexec embeds is built from /usr/bin/python3-config (CMakeLists.txt); its
// executable imports from the same site-packages.
constexpr char kPython[] = "/usr/bin/python3";
constexpr char kPythonCheck[] =
    "import numpy, pandas, platform; "
    "print(numpy.__version__, pandas.__version__, platform.python_version())";
// A cold import of pandas from a slow disk takes seconds; this only bounds a hung interpreter.
constexpr std::chrono::seconds kPythonTimeout{60};
constexpr size_t kPythonOutputBytes = size_t{64} * 1024;

std::string LastLine(const std::string& text) {
  const size_t end = text.find_last_not_of("\n ");
  if (end == std::string::npos) {
    return "";
  }
  const size_t start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1,
                     end - (start == std::string::npos ? 0 : start + 1) + 1);
}

// Runs the system Python once with the environment the zygote gets, so that what it finds is
// what the zygote would find.
PythonCheck CheckPython() {
  PythonCheck check;
  if (!sys::PathExists(kPython)) {
    check.detail = std::string(kPython) + " does not exist";
    return check;
  }
  sys::SpawnSpec spec;
  spec.path = kPython;
  spec.argv = {kPython, "-c", kPythonCheck};
  spec.env = zygote::ZygoteEnvironment();
  Result<sys::CompletedProcess> run =
      sys::RunToCompletion(std::move(spec), kPythonTimeout, kPythonOutputBytes);
  if (!run.ok()) {
    check.detail = "cannot run " + std::string(kPython) + ": " + run.error().ToString();
    return check;
  }
  if (run->timed_out) {
    check.detail = "import numpy, pandas did not finish within " +
                   std::to_string(kPythonTimeout.count()) + " s";
    return check;
  }
  if (!WIFEXITED(run->wait_status) || WEXITSTATUS(run->wait_status) != 0) {
    check.detail = "import numpy, pandas " + sys::DescribeWaitStatus(run->wait_status) + ": " +
                   LastLine(run->err);
    return check;
  }
  std::istringstream words(run->out);
  words >> check.numpy_version >> check.pandas_version >> check.python_version;
  if (check.pandas_version.empty()) {
    check.detail = "unexpected output: " + LastLine(run->out);
    return check;
  }
  check.ok = true;
  check.detail = "numpy " + check.numpy_version + ", pandas " + check.pandas_version;
  return check;
}

// Does what Engine::Create does with cgroups (detect, create pyexec's tree, remove it again on
// return), so the enforcement reported is what a server started now would get.
CgroupPicture InspectCgroups() {
  CgroupPicture picture;
  picture.host = cgroup::Detect();
  Result<cgroup::CgroupTree> tree = cgroup::CgroupTree::Create(picture.host);
  picture.usable = tree.ok();
  if (tree.ok()) {
    picture.enforcement = service::DescribeEnforcement(&tree->host(), service::CgroupMode::kAuto,
                                                       /*jail=*/true);
  } else {
    picture.error = tree.error().ToString();
    picture.enforcement =
        service::DescribeEnforcement(nullptr, service::CgroupMode::kAuto, /*jail=*/true);
  }
  return picture;
}

}  // namespace

DoctorReport ExamineHost() {
  DoctorReport report;
  report.kernel = sandbox::KernelRelease();
  report.root = geteuid() == 0;
  report.initial_user_namespace = sandbox::InInitialUserNamespace();
  // First: the probes fork, and this process has no thread yet.
  const service::EngineConfig defaults;
  report.controls = sandbox::ProbeHostSupport(defaults.sandbox_uid, defaults.sandbox_gid);
  report.cgroups = InspectCgroups();
  report.python = CheckPython();
  for (const sandbox::ControlSupport& control : report.controls) {
    if (control.mandatory && !control.supported) {
      report.missing.push_back(control.name);
    }
  }
  if (!report.python.ok) {
    report.missing.emplace_back("python");
  }
  return report;
}

namespace {

nlohmann::ordered_json BackendJson(const std::string& backend) {
  return backend.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(backend);
}

}  // namespace

nlohmann::ordered_json DoctorJson(const DoctorReport& report) {
  nlohmann::ordered_json controls = nlohmann::ordered_json::array();
  for (const sandbox::ControlSupport& control : report.controls) {
    controls.push_back({{"name", control.name},
                        {"supported", control.supported},
                        {"mandatory", control.mandatory},
                        {"detail", control.detail}});
  }
  const cgroup::HostCgroups& host = report.cgroups.host;
  nlohmann::ordered_json cgroups = {{"mode", host.Mode()},
                                    {"memory", BackendJson(host.MemoryBackend())},
                                    {"pids", BackendJson(host.PidsBackend())},
                                    {"cpu_accounting", BackendJson(host.CpuBackend())},
                                    {"cgroup_kill", host.CanKillTree()},
                                    {"v1_memsw", host.v1_memsw},
                                    {"v2_favordynmods", host.v2_favordynmods},
                                    {"own_cpu_groups", host.own_cpu_groups},
                                    {"usable", report.cgroups.usable}};
  if (!report.cgroups.usable) {
    cgroups["error"] = report.cgroups.error;
  }
  const service::Enforcement& e = report.cgroups.enforcement;
  const PythonCheck& python = report.python;
  nlohmann::ordered_json document = {
      {"ready", report.missing.empty()},
      {"missing", report.missing},
      {"kernel", report.kernel},
      {"root", report.root},
      {"initial_user_namespace", report.initial_user_namespace},
      {"controls", controls},
      {"cgroups", cgroups},
      {"enforcement",
       {{"cgroup_mode", e.cgroup_mode},
        {"memory", e.memory},
        {"pids", e.pids},
        {"kill", e.kill},
        {"cpu_accounting", e.cpu_accounting},
        {"cgroup_favordynmods", e.cgroup_favordynmods},
        {"idle_exit", e.idle_exit}}},
      {"python",
       {{"path", kPython},
        {"ok", python.ok},
        {"version", python.ok ? nlohmann::ordered_json(python.python_version)
                              : nlohmann::ordered_json(nullptr)},
        {"numpy", python.ok ? nlohmann::ordered_json(python.numpy_version)
                            : nlohmann::ordered_json(nullptr)},
        {"pandas", python.ok ? nlohmann::ordered_json(python.pandas_version)
                             : nlohmann::ordered_json(nullptr)},
        {"detail", python.detail}}},
  };
  return document;
}

namespace {

std::string Pad(const std::string& text, size_t width) {
  return text.size() >= width ? text + " " : text + std::string(width - text.size(), ' ');
}

std::string YesNo(bool value) { return value ? "yes" : "no"; }

std::string BackendText(const std::string& backend) { return backend.empty() ? "none" : backend; }

std::string RenderTable(const DoctorReport& report) {
  std::ostringstream out;
  out << "pyexec doctor: kernel " << report.kernel << ", "
      << (report.root ? "running as root" : "running as uid " + std::to_string(geteuid()))
      << (report.initial_user_namespace ? "" : " in a user namespace (a container?)") << "\n\n";
  constexpr size_t kNameWidth = 18;
  out << Pad("CONTROL", kNameWidth) << Pad("REQUIRED", 10) << Pad("SUPPORTED", 11) << "DETAIL\n";
  for (const sandbox::ControlSupport& control : report.controls) {
    out << Pad(control.name, kNameWidth) << Pad(YesNo(control.mandatory), 10)
        << Pad(control.supported ? "yes" : "NO", 11) << control.detail << "\n";
  }
  const cgroup::HostCgroups& host = report.cgroups.host;
  out << "\n"
      << Pad("cgroups", kNameWidth) << host.Mode() << ": memory "
      << BackendText(host.MemoryBackend()) << ", pids " << BackendText(host.PidsBackend())
      << ", cpu accounting " << BackendText(host.CpuBackend()) << ", cgroup.kill "
      << YesNo(host.CanKillTree()) << ", v1 memsw " << YesNo(host.v1_memsw)
      << ", cgroup2 favordynmods " << YesNo(host.v2_favordynmods)
      << ", each execution its own CPU group " << YesNo(host.own_cpu_groups) << "\n";
  if (host.v2.present() && !host.v2_favordynmods) {
    // Latency, not isolation: measured in docs/PERFORMANCE.md ("What is left").
    out << Pad("", kNameWidth)
        << "without favordynmods, a child joining its cgroups after an idle spell can hold "
           "cgroup_mutex for an RCU grace period (10-30 ms), which a running execution's "
           "cgroup.kill waits for; `mount -o remount,favordynmods <the cgroup2 mount>` (Linux "
           "6.0+) removes the wait\n";
  }
  if (!report.cgroups.usable) {
    out << Pad("", kNameWidth) << "pyexec cannot create its cgroups here: " << report.cgroups.error
        << "\n";
  }
  const service::Enforcement& e = report.cgroups.enforcement;
  out << Pad("enforcement", kNameWidth) << "memory: " << e.memory << "; pids: " << e.pids
      << "; kill: " << e.kill << "; cpu accounting: " << e.cpu_accounting
      << "; idle exit: " << YesNo(e.idle_exit) << "\n";
  out << Pad("python", kNameWidth) << kPython << ": " << report.python.detail << "\n\n";
  if (report.missing.empty()) {
    out << "ready: every mandatory control is supported and Python imports numpy and pandas\n";
  } else {
    out << "NOT READY, missing:";
    for (const std::string& name : report.missing) {
      out << " " << name;
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace

int RunDoctor(bool json) {
  const DoctorReport report = ExamineHost();
  std::cout << (json ? DoctorJson(report).dump(2) + "\n" : RenderTable(report)) << std::flush;
  return report.missing.empty() ? kExitOk : kExitNotReady;
}

}  // namespace pyexec::app
