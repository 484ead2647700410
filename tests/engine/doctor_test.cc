// `pyexec doctor` and the probes behind it, on the real kernel: every control the jail needs is
// found on this host (a host lacking one fails here rather than skipping), a control the kernel
// refuses is reported with the failing call and its errno, and the command's JSON and table
// name every control.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sched.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "sandbox/host_support.h"
#include "support/command.h"
#include "sys/files.h"

namespace pyexec::testing {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Every control doctor reports, and whether the jail cannot run without it.
const std::map<std::string, bool>& ExpectedControls() {
  static const std::map<std::string, bool> kControls = {
      {"user_namespace", true},    {"pid_namespace", true},  {"net_namespace", true},
      {"mount_namespace", true},   {"pivot_root", true},     {"seccomp_filter", true},
      {"no_new_privs", true},      {"ipc_namespace", false}, {"uts_namespace", false},
      {"cgroup_namespace", false},
  };
  return kControls;
}

nlohmann::json ParseReport(const CommandResult& result) {
  nlohmann::json parsed = nlohmann::json::parse(result.out, nullptr, false);
  EXPECT_TRUE(parsed.is_object()) << "stdout: " << result.out << "\nstderr: " << result.err;
  return parsed;
}

TEST(DoctorProbe, EveryMandatoryControlIsSupportedOnThisHost) {
  const std::vector<sandbox::ControlSupport> controls = sandbox::ProbeHostSupport();
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
  for (const char* flag : {"cgroup_kill", "v1_memsw", "usable"}) {
    EXPECT_TRUE(cgroups[flag].is_boolean()) << cgroups.dump();
  }
  for (const char* field : {"cgroup_mode", "memory", "pids", "kill", "cpu_accounting"}) {
    EXPECT_TRUE(report["enforcement"][field].is_string()) << report["enforcement"].dump();
  }

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

// Positive control for the whole command: inside a user namespace whose limit of nested user
// namespaces is 0 (bubblewrap's --disable-userns trick; the host's limit is untouched), the
// user namespace probe fails, and doctor says so and exits 1.
TEST(DoctorCli, UserNamespacesDisabled_ExitsOneAndNamesThem) {
  const std::string unshare = "/usr/bin/unshare";
  ASSERT_TRUE(sys::PathExists(unshare)) << "this test needs util-linux's unshare";
  const CommandResult result = RunCommand(
      {unshare, "--user", "--map-root-user", "/bin/sh", "-c",
       "echo 0 > /proc/sys/user/max_user_namespaces && exec \"$0\" doctor --json", PYEXEC_BINARY});
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  const nlohmann::json report = ParseReport(result);
  EXPECT_EQ(report["ready"], false);
  EXPECT_THAT(report["missing"], Contains("user_namespace"));
  for (const nlohmann::json& control : report["controls"]) {
    if (control["name"] == "user_namespace") {
      EXPECT_EQ(control["supported"], false);
      EXPECT_THAT(control["detail"].get<std::string>(),
                  HasSubstr("unshare(CLONE_NEWUSER): No space left on device"));
      EXPECT_THAT(control["detail"].get<std::string>(), HasSubstr("max_user_namespaces=0"));
    }
  }
}

}  // namespace
}  // namespace pyexec::testing
