// The jail without root: `pyexec run` and `pyexec doctor` started by an ordinary user, where
// the kernel allows unprivileged user namespaces (as here and on most distributions). The
// zygote then makes the jail's namespaces inside a user namespace of its own, the script runs as
// that user's uid (65534 inside), and limits fall back to rlimits without a delegated cgroup
// subtree. The test, as root, plays the user with setpriv(1) and checks the containment that
// matters most from the outside; the root jail's full hostile suite is jail_test.cc.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/command.h"
#include "support/engine_fixture.h"
#include "sys/files.h"
#include "sys/unique_fd.h"

namespace pyexec::testing {
namespace {

using ::testing::HasSubstr;

// An id no account uses, distinct from the sandbox uid of the root jail (64000).
constexpr uint32_t kUserId = 64001;

// `argv` as uid/gid kUserId with no supplementary groups (setpriv(1)).
CommandResult RunCommandAsUser(const std::vector<std::string>& argv,
                               const std::string& input = "") {
  std::vector<std::string> full = {"/usr/bin/setpriv", "--reuid=" + std::to_string(kUserId),
                                   "--regid=" + std::to_string(kUserId), "--clear-groups", "--"};
  full.insert(full.end(), argv.begin(), argv.end());
  return RunCommand(full, input);
}

class Rootless : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(geteuid(), 0u) << "the rootless tests switch to an ordinary user with setpriv";
    // A copy of pyexec that the user can execute wherever the build directory is.
    Result<sys::TempDir> dir = sys::TempDir::Create("/tmp", "pyexec-rootless-test-");
    ASSERT_TRUE(dir.ok()) << dir.error().ToString();
    dir_ = std::move(dir).value();
    ASSERT_EQ(chmod(dir_.path().c_str(), 0755), 0);
    binary_ = dir_.path() + "/pyexec";
    std::error_code error;
    std::filesystem::copy_file(PYEXEC_BINARY, binary_, error);
    ASSERT_FALSE(error) << error.message();
    ASSERT_EQ(chmod(binary_.c_str(), 0755), 0);
  }

  // `pyexec ARGS...` as uid/gid kUserId with no supplementary groups.
  CommandResult RunAsUser(const std::vector<std::string>& args, const std::string& input = "") {
    std::vector<std::string> argv = {binary_};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommandAsUser(argv, input);
  }

  sys::TempDir dir_;
  std::string binary_;
};

TEST_F(Rootless, ReferenceExample_RunsAsAnOrdinaryUser) {
  const CommandResult result = RunAsUser({"run", "-"}, ReferenceExample());
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const nlohmann::json output = nlohmann::json::parse(result.out, nullptr, false);
  EXPECT_EQ(output["result"], nlohmann::json({{"status", 5}})) << result.out;
  EXPECT_EQ(output["stdout"], "Hello\n");
}

TEST_F(Rootless, Doctor_FindsEveryMandatoryControlAsAnOrdinaryUser) {
  const CommandResult result = RunAsUser({"doctor", "--json"});
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_THAT(result.out, HasSubstr("\"user_namespace\"")) << result.out;
}

// Without a delegated cgroup subtree the user's executions are bounded by rlimits: RLIMIT_AS
// for memory and RLIMIT_NPROC, counted in the script's own user namespace, for processes.
TEST_F(Rootless, MemoryBomb_IsStoppedByRlimitAs) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer reserves terabytes of address space: RLIMIT_AS cannot work";
#endif
  const CommandResult memory =
      RunAsUser({"run", "--memory-mb", "64", "-"},
                "def main():\n    block = bytearray(200 * 1024 * 1024)\n    return len(block)\n");
  EXPECT_EQ(memory.exit_code, 1) << memory.out << memory.err;
  EXPECT_EQ(nlohmann::json::parse(memory.out, nullptr, false)["status"], "memory_limit")
      << memory.out;
}

TEST_F(Rootless, ForkBomb_IsStoppedByRlimitNproc) {
  const CommandResult forks = RunAsUser({"run", "-"}, ReadPayload("fork_bomb_is_stopped.py"));
  ASSERT_EQ(forks.exit_code, 0) << forks.out << forks.err;
  const nlohmann::json result = nlohmann::json::parse(forks.out, nullptr, false)["result"];
  EXPECT_EQ(result["errno"], EAGAIN) << result;
  // The default limit (128) holds threads and processes together, pyexec-init included.
  EXPECT_LT(result["forked"].get<int>(), 128) << result;
  EXPECT_GT(result["forked"].get<int>(), 8) << result;
}

// Processes of kUserId on the host whose command line contains `tag`.
std::vector<pid_t> UserProcessesWith(const std::string& tag) {
  std::vector<pid_t> found;
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ignored)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    struct stat info {};
    if (stat(entry.path().c_str(), &info) != 0 || info.st_uid != kUserId) {
      continue;
    }
    // Not a stream: reading a process that has just exited fails with ESRCH, which a
    // std::filebuf throws.
    Result<std::string> command_line = sys::ReadFile(entry.path().string() + "/cmdline");
    if (command_line.ok() && command_line->find(tag) != std::string::npos) {
      found.push_back(std::stoi(name));
    }
  }
  return found;
}

// Without cgroups the deadline kills the execution's pid namespace through a pidfd of its init
// (the zygote's pid numbers are not the server's): a daemon in a session of its own goes too.
TEST_F(Rootless, Timeout_KillsTheWholeExecution) {
  const std::string tag = "9" + std::to_string(getpid() % 100000) + "7";  // sleep's argument
  const std::string script =
      "import subprocess, time\n"
      "def main():\n"
      "    subprocess.Popen(['/bin/sleep', '" +
      tag +
      "'], start_new_session=True)\n"
      "    time.sleep(120)\n";
  CommandResult result;
  std::thread runner([&] { result = RunAsUser({"run", "--timeout", "5", "-"}, script); });
  // Positive control: while the execution runs, the scan finds its daemon.
  bool seen = false;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!seen && std::chrono::steady_clock::now() < give_up) {
    seen = !UserProcessesWith(tag).empty();
    if (!seen) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  runner.join();
  EXPECT_TRUE(seen) << "the daemon was never seen running";
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_EQ(nlohmann::json::parse(result.out, nullptr, false)["status"], "timeout") << result.out;
  EXPECT_THAT(UserProcessesWith(tag), ::testing::IsEmpty());
}

TEST_F(Rootless, Jail_HidesTheUsersFilesAndTheHostAndDropsEverything) {
  // Bait of the very user pyexec runs as: a 0600 file in a 0700 directory, both its own.
  Result<sys::TempDir> bait_dir = sys::TempDir::Create("/tmp", "pyexec-rootless-bait-");
  ASSERT_TRUE(bait_dir.ok());
  const std::string secret = bait_dir->path() + "/secret";
  const std::string token = "rootless-token-" + std::to_string(getpid());
  std::ofstream(secret) << token << "\n";
  ASSERT_EQ(chown(bait_dir->path().c_str(), kUserId, kUserId), 0);
  ASSERT_EQ(chown(secret.c_str(), kUserId, kUserId), 0);
  ASSERT_EQ(chmod(secret.c_str(), 0600), 0);

  // A listener on the host's loopback.
  sys::UniqueFd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(listener);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(listener.get(), 4), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length), 0);
  const int port = ntohs(address.sin_port);

  const nlohmann::json params = {{"secret", secret}, {"token", token}, {"port", port}};
  const CommandResult result =
      RunAsUser({"run", "-"}, Payload("jail_rootless_contains_the_script.py", params));
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const nlohmann::json output = nlohmann::json::parse(result.out, nullptr, false);
  const nlohmann::json& jailed = output["result"];
  EXPECT_EQ(jailed["uid"], 65534) << jailed;
  EXPECT_EQ(jailed["gid"], 65534) << jailed;
  EXPECT_EQ(jailed["hostname"], "pyexec") << jailed;
  EXPECT_EQ(jailed["secret_readable"], false) << jailed;
  EXPECT_EQ(jailed["secret_dir_exists"], false) << jailed;
  EXPECT_EQ(jailed["home_or_root_exist"], false) << jailed;
  EXPECT_EQ(jailed["loopback_reachable"], false) << jailed;
  EXPECT_EQ(jailed["pids"], nlohmann::json({1, 2})) << jailed;  // pyexec-init and the script
  EXPECT_EQ(jailed["max_user_namespaces"], 0) << jailed;
  EXPECT_EQ(jailed["usr_writable"], false) << jailed;
  EXPECT_EQ(jailed["dev_writable"], false) << jailed;
  EXPECT_THAT(jailed["init_stderr"].get<std::string>(),
              ::testing::AnyOf("/dev/null", "Permission denied"))
      << jailed;
  EXPECT_EQ(jailed["status"]["CapEff"], "0000000000000000") << jailed;
  EXPECT_EQ(jailed["status"]["CapPrm"], "0000000000000000") << jailed;
  EXPECT_EQ(jailed["status"]["CapBnd"], "0000000000000000") << jailed;
  EXPECT_EQ(jailed["status"]["NoNewPrivs"], "1") << jailed;
  EXPECT_EQ(jailed["status"]["Seccomp"], "2") << jailed;

  // Positive controls: outside the jail the same user reads the secret, and the listener
  // accepts connections from the host's loopback.
  const CommandResult outside = RunCommandAsUser({"/bin/cat", secret});
  EXPECT_EQ(outside.exit_code, 0) << outside.err;
  EXPECT_THAT(outside.out, HasSubstr(token));
  sys::UniqueFd client(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(client);
  EXPECT_EQ(connect(client.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
}

}  // namespace
}  // namespace pyexec::testing
