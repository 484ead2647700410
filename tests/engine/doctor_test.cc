// `pyexec doctor` and the probes behind it, on the real kernel: every control the jail needs is
// found on this host (a host lacking one fails here rather than skipping), a control the kernel
// refuses is reported with the failing call and its errno, and the command's JSON and table
// name every control.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "sandbox/host_support.h"
#include "service/engine.h"
#include "support/command.h"
#include "sys/fds.h"
#include "sys/files.h"
#include "zygote/client.h"

namespace pyexec::testing {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Every control doctor reports, and whether the jail cannot run without it.
const std::map<std::string, bool>& ExpectedControls() {
  static const std::map<std::string, bool> kControls = {
      {"user_namespace", true},   {"pid_namespace", true}, {"net_namespace", true},
      {"mount_namespace", true},  {"pivot_root", true},    {"seccomp_filter", true},
      {"no_new_privs", true},     {"ipc_namespace", true}, {"uts_namespace", true},
      {"cgroup_namespace", true},
  };
  return kControls;
}

// The sandbox ids a server started with default flags uses, which doctor probes with.
const service::EngineConfig kDefaults;

nlohmann::json ParseReport(const CommandResult& result) {
  nlohmann::json parsed = nlohmann::json::parse(result.out, nullptr, false);
  EXPECT_TRUE(parsed.is_object()) << "stdout: " << result.out << "\nstderr: " << result.err;
  return parsed;
}

TEST(DoctorProbe, EveryMandatoryControlIsSupportedOnThisHost) {
  const std::vector<sandbox::ControlSupport> controls =
      sandbox::ProbeHostSupport(kDefaults.sandbox_uid, kDefaults.sandbox_gid);
  std::map<std::string, bool> seen;
  for (const sandbox::ControlSupport& control : controls) {
    seen[control.name] = control.mandatory;
    EXPECT_FALSE(control.detail.empty()) << control.name;
    if (control.mandatory) {
      EXPECT_TRUE(control.supported) << control.name << ": " << control.detail;
    }
  }
  EXPECT_EQ(seen, ExpectedControls());
  EXPECT_TRUE(sandbox::AllMandatorySupported(controls));
}

TEST(DoctorProbe, UnshareTheKernelRefuses_IsUnsupportedWithTheCallAndItsErrno) {
  // unshare(2) accepts only CLONE_NEW* and a few sharing flags: CLONE_PARENT is EINVAL.
  const sandbox::ProbeResult refused = sandbox::ProbeUnshare(CLONE_NEWUSER | CLONE_PARENT);
  EXPECT_FALSE(refused.supported);
  EXPECT_EQ(refused.detail, "unshare(CLONE_NEWUSER|0x8000): Invalid argument");
  // The same probe without the bad flag succeeds: the failure above is the flag's.
  const sandbox::ProbeResult accepted = sandbox::ProbeUnshare(CLONE_NEWUSER);
  EXPECT_TRUE(accepted.supported) << accepted.detail;
  EXPECT_EQ(accepted.detail, "unshare(CLONE_NEWUSER) works");
}

TEST(DoctorProbe, UnshareFlagsName_NamesEachNamespaceFlag) {
  EXPECT_EQ(sandbox::UnshareFlagsName(CLONE_NEWUSER | CLONE_NEWNET), "CLONE_NEWUSER|CLONE_NEWNET");
  EXPECT_EQ(sandbox::UnshareFlagsName(CLONE_NEWCGROUP), "CLONE_NEWCGROUP");
  EXPECT_EQ(sandbox::UnshareFlagsName(0), "0x0");
}

TEST(DoctorCli, Json_ExitsZeroAndReportsEveryControlAsSupported) {
  const CommandResult result = RunPyexec({"doctor", "--json"});
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  const nlohmann::json report = ParseReport(result);
  EXPECT_EQ(report["ready"], true) << report.dump(2);
  EXPECT_THAT(report["missing"], IsEmpty());
  EXPECT_TRUE(report["kernel"].is_string());
  EXPECT_TRUE(report["root"].is_boolean());
  EXPECT_TRUE(report["initial_user_namespace"].is_boolean());

  std::map<std::string, bool> seen;
  for (const nlohmann::json& control : report["controls"]) {
    const std::string name = control["name"];
    seen[name] = control["mandatory"];
    EXPECT_EQ(control["supported"], true) << control.dump();
    EXPECT_TRUE(control["detail"].is_string()) << control.dump();
  }
  EXPECT_EQ(seen, ExpectedControls());

  // The cgroup picture differs between hosts (hybrid here); its shape does not.
  const nlohmann::json& cgroups = report["cgroups"];
  EXPECT_THAT((std::set<std::string>{"hybrid", "v2", "v1", "none"}),
              Contains(cgroups["mode"].get<std::string>()));
  for (const char* backend : {"memory", "pids", "cpu_accounting"}) {
    EXPECT_TRUE(cgroups[backend].is_string() || cgroups[backend].is_null()) << cgroups.dump();
  }
  for (const char* flag :
       {"cgroup_kill", "v1_memsw", "v2_favordynmods", "own_cpu_groups", "usable"}) {
    EXPECT_TRUE(cgroups[flag].is_boolean()) << cgroups.dump();
  }
  for (const char* field : {"cgroup_mode", "memory", "pids", "kill", "cpu_accounting"}) {
    EXPECT_TRUE(report["enforcement"][field].is_string()) << report["enforcement"].dump();
  }
  EXPECT_TRUE(report["enforcement"]["cgroup_favordynmods"].is_boolean())
      << report["enforcement"].dump();
  EXPECT_TRUE(report["enforcement"]["idle_exit"].is_boolean()) << report["enforcement"].dump();
  // What the mount table says, read here without pyexec's parser: the options of the first
  // cgroup2 mount of a hierarchy's root (fields: id, parent, device, root, mount point, ...).
  Result<std::string> mountinfo = sys::ReadFile("/proc/self/mountinfo", 4 << 20);
  ASSERT_TRUE(mountinfo.ok());
  bool remounted = false;
  std::istringstream lines(*mountinfo);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string id, parent, device, root;
    fields >> id >> parent >> device >> root;
    if (root == "/" && line.find(" - cgroup2 ") != std::string::npos) {
      remounted = line.find("favordynmods") != std::string::npos;
      break;
    }
  }
  EXPECT_EQ(cgroups["v2_favordynmods"].get<bool>(), remounted) << *mountinfo;

  const nlohmann::json& python = report["python"];
  EXPECT_EQ(python["path"], "/usr/bin/python3");
  EXPECT_EQ(python["ok"], true) << python.dump();
  EXPECT_TRUE(python["numpy"].is_string()) << python.dump();
  EXPECT_TRUE(python["pandas"].is_string()) << python.dump();
}

TEST(DoctorCli, Table_NamesEveryControlAndSaysReady) {
  const CommandResult result = RunPyexec({"doctor"});
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  for (const auto& [name, mandatory] : ExpectedControls()) {
    EXPECT_THAT(result.out, HasSubstr(name));
  }
  for (const char* line : {"cgroups", "enforcement", "python", "ready:"}) {
    EXPECT_THAT(result.out, HasSubstr(line));
  }
}

// Runs `pyexec doctor --json` in a user namespace where ids 0..65535 are the host's own (so the
// sandbox uid exists there and doctor runs as root) and which allows no further user namespace:
// max_user_namespaces is 0 in it (bubblewrap's --disable-userns; the host's limit is
// untouched). Writing a map of more than one id needs root.
CommandResult RunDoctorWithUserNamespacesDisabled() {
  CommandResult result;
  Result<sys::PipeEnds> ready = sys::MakePipe(false);
  Result<sys::PipeEnds> go = sys::MakePipe(false);
  Result<sys::PipeEnds> out = sys::MakePipe(false);
  if (!ready.ok() || !go.ok() || !out.ok()) {
    ADD_FAILURE() << "pipe";
    return result;
  }
  std::vector<std::string> env = zygote::ZygoteEnvironment();
  std::vector<char*> envp;
  envp.reserve(env.size() + 1);
  for (std::string& entry : env) {
    envp.push_back(entry.data());
  }
  envp.push_back(nullptr);
  std::string binary = PYEXEC_BINARY;
  std::string doctor = "doctor";
  std::string json = "--json";
  std::vector<char*> argv = {binary.data(), doctor.data(), json.data(), nullptr};
  const int ready_fd = ready->write.get();
  const int go_fd = go->read.get();
  const int out_fd = out->write.get();

  const pid_t pid = fork();
  if (pid == 0) {
    char byte = 0;
    if (unshare(CLONE_NEWUSER) != 0 || write(ready_fd, &byte, 1) != 1 ||
        read(go_fd, &byte, 1) != 1) {
      _exit(120);
    }
    const int limit = open("/proc/sys/user/max_user_namespaces", O_WRONLY | O_CLOEXEC);
    if (limit < 0 || write(limit, "0", 1) != 1 || dup2(out_fd, STDOUT_FILENO) < 0) {
      _exit(121);
    }
    execve(binary.c_str(), argv.data(), envp.data());
    _exit(122);
  }
  EXPECT_GT(pid, 0) << "fork";
  if (pid <= 0) {
    return result;
  }
  ready->write.Reset();
  go->read.Reset();
  out->write.Reset();
  char byte = 0;
  if (read(ready->read.get(), &byte, 1) == 1) {
    const std::string proc = "/proc/" + std::to_string(pid);
    Status uid_map = sys::WriteFile(proc + "/uid_map", "0 0 65536\n");
    Status gid_map = sys::WriteFile(proc + "/gid_map", "0 0 65536\n");
    EXPECT_TRUE(uid_map.ok() && gid_map.ok()) << "writing the maps needs root";
    if (uid_map.ok() && gid_map.ok()) {
      EXPECT_EQ(write(go->write.get(), &byte, 1), 1);
    }
  }
  go->write.Reset();
  char buffer[4096];
  ssize_t got = 0;
  while ((got = read(out->read.get(), buffer, sizeof(buffer))) > 0) {
    result.out.append(buffer, static_cast<size_t>(got));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// Positive control for the whole command: with user namespaces disabled, the user namespace
// probe fails at unshare, and doctor says so and exits 1.
TEST(DoctorCli, UserNamespacesDisabled_ExitsOneAndNamesThem) {
  ASSERT_EQ(geteuid(), 0u) << "this test writes a multi-id user namespace map: run it as root";
  const CommandResult result = RunDoctorWithUserNamespacesDisabled();
  EXPECT_EQ(result.exit_code, 1) << result.out;
  const nlohmann::json report = ParseReport(result);
  EXPECT_EQ(report["ready"], false);
  EXPECT_EQ(report["root"], true);
  EXPECT_EQ(report["initial_user_namespace"], false);
  EXPECT_EQ(report["missing"], nlohmann::json::array({"user_namespace"})) << report.dump(2);
  for (const nlohmann::json& control : report["controls"]) {
    if (control["name"] == "user_namespace") {
      EXPECT_EQ(control["supported"], false);
      EXPECT_THAT(control["detail"].get<std::string>(),
                  HasSubstr("unshare(CLONE_NEWUSER) as uid " +
                            std::to_string(kDefaults.sandbox_uid) + ": No space left on device"));
      EXPECT_THAT(control["detail"].get<std::string>(), HasSubstr("max_user_namespaces=0"));
    } else {
      EXPECT_EQ(control["supported"], true) << control.dump();
    }
  }
}

}  // namespace
}  // namespace pyexec::testing
