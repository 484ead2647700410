// What one execution can leave for the next, or learn about the host: nothing survives it (its
// processes, its cgroups, its working directory, its Python state), and it sees only a minimal
// environment, /dev/null on stdin and its own descriptors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cgroup/host.h"
#include "support/engine_fixture.h"
#include "sys/files.h"
#include "sys/process.h"
#include "zygote/client.h"

namespace pyexec::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

nlohmann::json ResultOf(const service::Execution& run) {
  return nlohmann::json::parse(run.outcome.result_json, nullptr, /*allow_exceptions=*/false);
}

// True when `pid` names a live process: it exists and is not a zombie (a zombie has released
// everything; it only waits for its parent, here the zygote, to reap it).
bool Alive(pid_t pid) {
  if (kill(pid, 0) != 0 && errno == ESRCH) {
    return false;
  }
  Result<std::string> stat = sys::ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat.ok()) {
    return false;
  }
  // "pid (comm) S ...": the state follows the last ')' (comm may contain parentheses).
  const size_t paren = stat->rfind(')');
  return paren != std::string::npos && paren + 2 < stat->size() && (*stat)[paren + 2] != 'Z';
}

// The Survivors and WorkingDirectory tests read host pids and host paths that the script
// reports, so they run unjailed (the positive-control engine): the kill and clean-up they check
// are the same code in both modes. Their jailed counterparts, which find the processes from the
// host, are JailProcesses.* and JailTmp.* in jail_test.cc.
TEST(Survivors, ProcessesAnExecutionStartedAreGoneAfterItEnds) {
  const service::Execution run = RunUnjailed(ReadPayload("started_processes_do_not_survive.py"));
  ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message << run.stderr_data;
  nlohmann::json pids = ResultOf(run);
  ASSERT_TRUE(pids["sleep"].is_number_integer()) << pids;
  ASSERT_TRUE(pids["daemon"].is_number_integer()) << pids;
  EXPECT_FALSE(Alive(pids["sleep"].get<pid_t>())) << "sleep 1000 survived: " << pids;
  EXPECT_FALSE(Alive(pids["daemon"].get<pid_t>())) << "the daemon survived: " << pids;
}

// The positive control: the same probe sees a process the test itself started.
TEST(Survivors, TheProbeSeesALiveProcess) {
  sys::SpawnSpec spec;
  spec.path = "/bin/sleep";
  spec.argv = {"sleep", "1000"};
  spec.env = {"PATH=/usr/bin:/bin"};
  Result<sys::ChildProcess> sleeper = sys::Spawn(spec);
  ASSERT_TRUE(sleeper.ok()) << sleeper.error().ToString();
  EXPECT_TRUE(Alive(sleeper->pid()));
  ASSERT_TRUE(sleeper->Signal(SIGKILL).ok());
  ASSERT_TRUE(sleeper->Wait().ok());
  EXPECT_FALSE(Alive(sleeper->pid()));
}

TEST(Survivors, ProcessesLeftBehindByATimedOutExecutionAreGone) {
  service::Limits limits = DefaultLimits();
  limits.timeout = std::chrono::seconds(2);
  const std::string script = ReadPayload("started_processes_do_not_survive.py") + R"py(
_original_main = main
def main():
    import sys, time
    pids = _original_main()
    sys.stdout.write("%d %d\n" % (pids["sleep"], pids["daemon"]))
    time.sleep(30)
)py";
  const service::Execution run = RunUnjailed(script, limits);
  ASSERT_EQ(VerdictOf(run), "timeout") << run.outcome.message << run.stderr_data;
  int sleep_pid = 0;
  int daemon_pid = 0;
  std::istringstream printed(run.stdout_data);
  ASSERT_TRUE(printed >> sleep_pid >> daemon_pid) << run.stdout_data;
  EXPECT_FALSE(Alive(sleep_pid));
  EXPECT_FALSE(Alive(daemon_pid));
}

// Subdirectories of `dir`.
std::vector<std::string> Subdirectories(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ignored)) {
    if (entry.is_directory(ignored)) {
      names.push_back(entry.path().filename().string());
    }
  }
  return names;
}

// Runs `script` jailed on an engine without a pool; `script` must create /tmp/<marker> and then
// wait for /tmp/go. While it waits, the test reads its cgroups from the host (in its cgroup
// namespace the script sees only "/"), then lets it go on. Afterwards every cgroup directory
// it ran in must be gone, and the engine's tree must hold no execution.
void ExpectCgroupsRemovedAfter(const std::string& script, const std::string& marker,
                               const service::Limits& limits, const std::string& verdict) {
  service::Engine& engine = EngineWithoutPool();
  std::optional<Result<service::Execution>> outcome;
  std::thread runner([&] { outcome.emplace(engine.Run(script, limits)); });
  const std::vector<pid_t> running =
      AwaitJailMarker(engine.zygote_pid(), marker, 1, std::chrono::seconds(30));
  std::string script_cgroups;
  if (running.size() == 1) {
    const std::string proc = "/proc/" + std::to_string(running[0]);
    Result<std::string> cgroups = sys::ReadFile(proc + "/cgroup");
    script_cgroups = cgroups.ok() ? *cgroups : "";
    std::ofstream(proc + "/root/tmp/go").put('1');
  }
  runner.join();
  engine.FinishTeardown();
  ASSERT_EQ(running.size(), 1u) << "the script never started";
  ASSERT_TRUE(outcome.has_value() && outcome->ok());
  ASSERT_EQ(VerdictOf(outcome->value()), verdict) << outcome->value().outcome.message;
  Result<std::string> mountinfo = sys::ReadFile("/proc/self/mountinfo", 4 << 20);
  Result<std::string> own_cgroups = sys::ReadFile("/proc/self/cgroup");
  ASSERT_TRUE(mountinfo.ok() && own_cgroups.ok());
  const std::string tree_name = "pyexec-" + std::to_string(getpid());

  int execution_dirs = 0;
  for (const auto& [fstype, controller] : std::vector<std::pair<std::string, std::string>>{
           {"cgroup2", ""}, {"cgroup", "memory"}, {"cgroup", "pids"}, {"cgroup", "cpuacct"}}) {
    const std::string mount = cgroup::FindMountPoint(*mountinfo, fstype, controller);
    const std::string script_path = cgroup::FindOwnPath(script_cgroups, controller);
    if (mount.empty() || script_path.find("/" + tree_name + "/x") == std::string::npos) {
      continue;  // this hierarchy is not used for executions here
    }
    ++execution_dirs;
    // The script ran inside this directory; it must be gone now.
    EXPECT_FALSE(sys::PathExists(mount + script_path)) << mount + script_path;
    // And the engine's own directory holds no execution at all.
    const std::string own_path = cgroup::FindOwnPath(*own_cgroups, controller);
    const std::string tree = (own_path == "/" ? mount : mount + own_path) + "/" + tree_name;
    EXPECT_TRUE(sys::PathExists(tree)) << tree;
    EXPECT_THAT(Subdirectories(tree), ::testing::IsEmpty()) << tree;
  }
  // The positive control: the probe did find the execution's directories. Where the engine uses
  // cgroups (SharedEngine's enforcement), the script must have run in one.
  if (engine.enforcement().memory_by_cgroup) {
    EXPECT_GE(execution_dirs, 1) << script_cgroups;
  }
}

std::string AwaitGoScript(const std::string& marker, const std::string& then) {
  return "import os, time\n"
         "def main():\n"
         "    open('/tmp/" +
         marker +
         "', 'w').close()\n"
         "    deadline = time.monotonic() + 30\n"
         "    while not os.path.exists('/tmp/go') and time.monotonic() < deadline:\n"
         "        time.sleep(0.005)\n" +
         then;
}

TEST(Cgroups, TheExecutionsCgroupDirectoriesAreRemovedAfterTheRun) {
  const std::string marker = "pyexec-cgroup-test-" + std::to_string(getpid());
  ExpectCgroupsRemovedAfter(AwaitGoScript(marker, ""), marker, DefaultLimits(), "ok");
}

TEST(Cgroups, TheExecutionsCgroupDirectoriesAreRemovedAfterATimeout) {
  const std::string marker = "pyexec-cgroup-test-" + std::to_string(getpid());
  service::Limits limits = DefaultLimits();
  // Long enough for the test to read the script's cgroups before the deadline kills it.
  limits.timeout = std::chrono::seconds(10);
  ExpectCgroupsRemovedAfter(AwaitGoScript(marker, "    time.sleep(60)\n"), marker, limits,
                            "timeout");
}

TEST(Rng, TwoRunsDrawDifferentNumbers) {
  constexpr char kDraw[] = R"py(
import random
import numpy as np
def main():
    return [random.random(), float(np.random.rand()), float(np.random.default_rng().random()),
            random.getrandbits(64), int(np.random.randint(0, 2**62)),
            float(np.random.standard_normal())]
)py";
  nlohmann::json first = ResultOf(RunScript(kDraw));
  nlohmann::json second = ResultOf(RunScript(kDraw));
  ASSERT_EQ(first.size(), 6u) << first;
  ASSERT_EQ(second.size(), 6u) << second;
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_NE(first[i], second[i]) << "draw " << i << " repeated: " << first << " " << second;
  }
}

TEST(Environment, ScriptsSeeOnlyAMinimalEnvironment) {
  // Set before this process starts its engine (each test runs in its own process under ctest);
  // the engine must not pass it on either way.
  const std::string secret = "s3cr3t-" + std::to_string(getpid());
  ASSERT_EQ(setenv("PYEXEC_TEST_SECRET", secret.c_str(), 1), 0);
  const service::Execution run = RunScript(R"py(
import os
def main():
    with open("/proc/self/cmdline", "rb") as f:
        cmdline = f.read().decode("utf-8", "replace")
    with open("/proc/self/environ", "rb") as f:
        environ = f.read().decode("utf-8", "replace")
    return {"environ": dict(os.environ), "cmdline": cmdline, "proc_environ": environ}
)py");
  ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message;
  nlohmann::json result = ResultOf(run);
  nlohmann::json& environ = result["environ"];
  // The probe reads the environment (positive control): PATH is there.
  EXPECT_EQ(environ.value("PATH", ""), "/usr/local/bin:/usr/bin:/bin");
  EXPECT_FALSE(environ.contains("PYEXEC_TEST_SECRET")) << environ;
  // Exactly the documented environment: nothing of the test process's own.
  nlohmann::json documented = nlohmann::json::object();
  for (const std::string& entry : zygote::ZygoteEnvironment()) {
    const size_t equals = entry.find('=');
    documented[entry.substr(0, equals)] = entry.substr(equals + 1);
  }
  EXPECT_EQ(environ, documented);
  EXPECT_THAT(result["proc_environ"].get<std::string>(), HasSubstr("PATH="));
  EXPECT_THAT(result["proc_environ"].get<std::string>(), Not(HasSubstr(secret)));
  EXPECT_THAT(result["cmdline"].get<std::string>(), Not(HasSubstr(secret)));
  EXPECT_FALSE(result["cmdline"].get<std::string>().empty());
}

TEST(Descriptors, StdinIsDevNull) {
  const service::Execution run = RunScript(R"py(
import os, sys
def main():
    return [os.readlink("/proc/self/fd/0"), sys.stdin.read(), os.read(0, 10).decode()]
)py");
  ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message;
  EXPECT_EQ(ResultOf(run), nlohmann::json({"/dev/null", "", ""}));
}

// The script's open descriptors, {"fd": "pipe" or the path}; OPEN_FIRST names a file it opens
// before looking.
constexpr char kListDescriptors[] = R"py(
import os, stat
OPEN_FIRST = None
def main():
    kept = open(OPEN_FIRST) if OPEN_FIRST else None
    fds = {}
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            mode = os.fstat(fd).st_mode  # the listing's own descriptor is closed by now
        except OSError:
            continue
        fds[name] = "pipe" if stat.S_ISFIFO(mode) else os.readlink("/proc/self/fd/" + name)
    return fds
)py";

nlohmann::json ListDescriptors(const std::string& open_first) {
  std::string script = kListDescriptors;
  if (!open_first.empty()) {
    script.replace(script.find("OPEN_FIRST = None"), 17, "OPEN_FIRST = '" + open_first + "'");
  }
  const service::Execution run = RunScript(script);
  EXPECT_EQ(VerdictOf(run), "ok") << run.outcome.message;
  return ResultOf(run);
}

TEST(Descriptors, OnlyStdioAndTheResultChannelAreOpen) {
  nlohmann::json fds = ListDescriptors("");
  ASSERT_TRUE(fds.is_object()) << fds;
  EXPECT_EQ(fds.value("0", ""), "/dev/null") << fds;
  EXPECT_EQ(fds.value("1", ""), "pipe") << fds;
  EXPECT_EQ(fds.value("2", ""), "pipe") << fds;
  fds.erase("0");
  fds.erase("1");
  fds.erase("2");
  // What remains: the runner's result channel (one pipe) and /dev/null on descriptor 3, where
  // the runner parks it away from stray writes. Nothing of the zygote or the server.
  int pipes = 0;
  for (const auto& [fd, target] : fds.items()) {
    if (target == "pipe") {
      ++pipes;
    } else {
      EXPECT_EQ(fd, "3") << fds;
      EXPECT_EQ(target, "/dev/null") << fds;
    }
  }
  EXPECT_EQ(pipes, 1) << fds;
  EXPECT_LE(fds.size(), 2u) << fds;
}

// The positive control: a descriptor the script holds is seen by the same probe.
TEST(Descriptors, TheProbeSeesADescriptorTheScriptOpened) {
  const nlohmann::json fds = ListDescriptors("/etc/hostname");
  bool seen = false;
  for (const auto& [fd, target] : fds.items()) {
    seen = seen || target == "/etc/hostname";
  }
  EXPECT_TRUE(seen) << fds;
}

TEST(WorkingDirectory, IsFreshEmptyAndRemovedAfterTheRun) {
  const service::Execution run = RunUnjailed(R"py(
import os
def main():
    before = sorted(os.listdir("."))
    with open("scratch.txt", "w") as f:
        f.write("hello")
    os.mkdir("sub")
    with open("sub/deeper.txt", "w") as f:
        f.write("x")
    return {"cwd": os.getcwd(), "before": before, "wrote": os.path.exists("scratch.txt")}
)py");
  ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message;
  nlohmann::json result = ResultOf(run);
  const std::string cwd = result["cwd"].get<std::string>();
  EXPECT_THAT(cwd, StartsWith("/tmp/pyexec-"));
  EXPECT_EQ(result["before"], nlohmann::json::array());
  EXPECT_TRUE(result["wrote"].get<bool>());  // the directory was real and writable
  EXPECT_FALSE(sys::PathExists(cwd)) << cwd;
}

TEST(WorkingDirectory, FileWrittenInOneRunIsNotVisibleToTheNext) {
  const service::Execution first = RunUnjailed(R"py(
import os
def main():
    with open("marker.txt", "w") as f:
        f.write("from run 1")
    return {"cwd": os.getcwd(), "seen": os.path.exists("marker.txt")}
)py");
  ASSERT_EQ(VerdictOf(first), "ok") << first.outcome.message;
  EXPECT_TRUE(ResultOf(first)["seen"].get<bool>());
  const service::Execution second = RunUnjailed(R"py(
import os
def main():
    return {"cwd": os.getcwd(), "seen": os.path.exists("marker.txt"), "entries": os.listdir(".")}
)py");
  ASSERT_EQ(VerdictOf(second), "ok") << second.outcome.message;
  nlohmann::json result = ResultOf(second);
  EXPECT_FALSE(result["seen"].get<bool>());
  EXPECT_EQ(result["entries"], nlohmann::json::array());
  EXPECT_NE(result["cwd"], ResultOf(first)["cwd"]);
}

TEST(PythonState, ModuleStateDoesNotPersistBetweenRuns) {
  constexpr char kProbeAndMutate[] = R"py(
import builtins, math, numpy, sys, types
counter = globals().get("counter", 0) + 1
def main():
    seen = {
        "builtins": hasattr(builtins, "pyexec_leak"),
        "numpy": hasattr(numpy, "pyexec_leak"),
        "fake_module": "pyexec_fake_module" in sys.modules,
        "sqrt_patched": math.sqrt(4) != 2.0,
    }
    builtins.pyexec_leak = True
    numpy.pyexec_leak = True
    sys.modules["pyexec_fake_module"] = types.ModuleType("pyexec_fake_module")
    math.sqrt = lambda x: -1.0
    # The positive control: within this run, every mutation is visible.
    mutated = [hasattr(builtins, "pyexec_leak"), hasattr(numpy, "pyexec_leak"),
               "pyexec_fake_module" in sys.modules, math.sqrt(4) == -1.0]
    return {"seen": seen, "mutated": mutated, "counter": counter}
)py";
  const nlohmann::json expected = {
      {"seen",
       {{"builtins", false}, {"numpy", false}, {"fake_module", false}, {"sqrt_patched", false}}},
      {"mutated", {true, true, true, true}},
      {"counter", 1}};
  for (int run_number = 1; run_number <= 2; ++run_number) {
    const service::Execution run = RunScript(kProbeAndMutate);
    ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message;
    EXPECT_EQ(ResultOf(run), expected) << "run " << run_number;
  }
}

TEST(PythonState, ScriptRunsAsMain) {
  const service::Execution run = RunScript(R"py(
import sys
at_module_level = __name__
def main():
    return [at_module_level, __name__, sys.modules["__main__"].main is main, sys.argv]
)py");
  ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message;
  EXPECT_EQ(ResultOf(run), nlohmann::json({"__main__", "__main__", true, {"main.py"}}));
}

TEST(PythonState, OsNumpyAndPandasImportAndAGroupbyWorks) {
  const service::Execution run = RunScript(R"py(
import os
import numpy as np
import pandas as pd
def main():
    frame = pd.DataFrame({"key": ["a", "b", "a", "c", "b"], "value": [1, 2, 3, 4, 5]})
    sums = frame.groupby("key")["value"].sum()
    return {"sums": {k: int(v) for k, v in sums.items()},
            "mean": float(np.mean(frame["value"].to_numpy())),
            "sep": os.sep}
)py");
  ASSERT_EQ(VerdictOf(run), "ok") << run.outcome.message << run.stderr_data;
  EXPECT_EQ(
      ResultOf(run),
      nlohmann::json({{"sums", {{"a", 4}, {"b", 7}, {"c", 4}}}, {"mean", 3.0}, {"sep", "/"}}));
}

}  // namespace
}  // namespace pyexec::testing
