// Hostile tests of the jail (EngineConfig::jail): each payload in tests/payloads/jail_*.py tries
// one way out of an execution's namespaces, private root or unprivileged ids. Every escape test
// also shows that its probe notices the breach where the control is absent: the same payload
// run by UnjailedEngine() (host root, no namespaces), or bait the test plants on
// purpose when the payload is destructive outside the jail (kill -1, daemons, filling /tmp).
// The seccomp filter is not tested here; where it refuses a call first, the assertions only
// require that the escape fails, and a seccomp-independent probe (/proc/net, /proc/sysvipc)
// covers the namespace behind it.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "sandbox/policy.h"
#include "sandbox/start.h"
#include "service/engine.h"
#include "support/engine_fixture.h"
#include "sys/event_fd.h"
#include "sys/files.h"
#include "sys/unique_fd.h"
#include "zygote/client.h"

namespace pyexec::testing {
namespace {

using ::testing::AnyOf;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

using Clock = std::chrono::steady_clock;

// The host ids a jailed script runs as (EngineConfig's defaults) and the ids it sees inside.
const uint32_t kSandboxUid = service::EngineConfig{}.sandbox_uid;
const uint32_t kSandboxGid = service::EngineConfig{}.sandbox_gid;
constexpr uint32_t kInsideId = 65534;

// JailedEngine() and UnjailedEngine() (tests/support) start a zygote each on first use, which
// must happen while the process has a single thread: tests that start threads call both first.
// Every test here plants root-owned bait, switches uids and expects the unjailed control to
// run as host root: without root the controls would fail for the wrong reason.
class JailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(geteuid(), 0u) << "the jail tests must run as root (they create namespaces, plant "
                                "root-owned bait and compare with an unjailed run as host root)";
  }
};

using JailFilesystem = JailTest;
using JailProc = JailTest;
using JailDevices = JailTest;
using JailPrivileges = JailTest;
using JailProcesses = JailTest;
using JailNetwork = JailTest;
using JailUts = JailTest;
using JailTmp = JailTest;
using JailIpc = JailTest;
using JailCgroup = JailTest;
using JailCompatibility = JailTest;

// --- Running payloads ----------------------------------------------------------------------

service::Execution RunJailed(std::string_view script,
                             const service::Limits& limits = DefaultLimits()) {
  Result<service::Execution> execution = JailedEngine().Run(script, limits);
  JailedEngine().FinishTeardown();
  if (!execution.ok()) {
    ADD_FAILURE() << "jailed engine error: " << execution.error().ToString();
    return service::Execution{};
  }
  return std::move(execution).value();
}

// main()'s value; null (and a test failure) when the run did not end with verdict ok.
nlohmann::json ResultOf(const service::Execution& run, const std::string& what) {
  if (VerdictOf(run) != "ok") {
    ADD_FAILURE() << what << ": verdict " << VerdictOf(run) << ": " << run.outcome.message << "\n"
                  << run.outcome.traceback << run.stderr_data;
    return nullptr;
  }
  return nlohmann::json::parse(run.outcome.result_json, nullptr, /*allow_exceptions=*/false);
}

nlohmann::json Jailed(const std::string& payload,
                      const nlohmann::json& params = nlohmann::json::object(),
                      const service::Limits& limits = DefaultLimits()) {
  return ResultOf(RunJailed(Payload(payload, params), limits), "jailed " + payload);
}

// The positive control: the same payload as host root without namespaces. Only for payloads
// that are harmless there.
nlohmann::json Unjailed(const std::string& payload,
                        const nlohmann::json& params = nlohmann::json::object()) {
  return ResultOf(RunUnjailed(Payload(payload, params)), "unjailed " + payload);
}

// object[key], or null when `object` is not an object or lacks it (operator[] on a const json
// asserts instead).
const nlohmann::json& Field(const nlohmann::json& object, const std::string& key) {
  static const nlohmann::json kNull;
  if (!object.is_object()) {
    return kNull;
  }
  const auto found = object.find(key);
  return found == object.end() ? kNull : *found;
}

// A string field as text; anything else as its JSON.
std::string Text(const nlohmann::json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

std::string RandomToken() {
  std::array<unsigned char, 12> bytes{};
  if (getrandom(bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size())) {
    ADD_FAILURE() << "getrandom: " << std::strerror(errno);
  }
  std::string token;
  constexpr char kHex[] = "0123456789abcdef";
  for (const unsigned char byte : bytes) {
    token += kHex[byte >> 4];
    token += kHex[byte & 0xf];
  }
  return token;
}

// --- Bait ----------------------------------------------------------------------------------

// A file holding `contents`, created exclusively with `mode`.
bool WriteNewFile(const std::string& path, const std::string& contents, mode_t mode) {
  sys::UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd) {
    ADD_FAILURE() << "cannot create " << path << ": " << std::strerror(errno);
    return false;
  }
  return write(fd.get(), contents.data(), contents.size()) == static_cast<ssize_t>(contents.size());
}

// A secret on the host: a fresh directory (0700) under `parent` holding a root-owned file
// (0600) with a random token. Removed with the directory at the end of the test.
class PlantedSecret {
 public:
  explicit PlantedSecret(const std::string& parent) : token_(RandomToken()) {
    Result<sys::TempDir> dir = sys::TempDir::Create(parent, "pyexec-jail-bait-");
    if (!dir.ok()) {
      ADD_FAILURE() << "cannot plant a secret under " << parent << ": " << dir.error().ToString();
      return;
    }
    dir_ = std::move(dir).value();
    path_ = dir_.path() + "/secret";
    ok_ = WriteNewFile(path_, "secret token " + token_ + "\n", 0600);
  }

  bool ok() const { return ok_; }
  const std::string& path() const { return path_; }
  const std::string& token() const { return token_; }

 private:
  sys::TempDir dir_;
  std::string path_;
  std::string token_;
  bool ok_ = false;
};

// The command line of `pid` with its NULs as spaces; empty when it is gone.
std::string CommandLineOf(pid_t pid) {
  // sys::ReadFile, not a stream: a process that exits while it is read fails the read with
  // ESRCH, which a std::filebuf throws as std::ios_failure (out of the test, with its
  // threads joinable: the whole test binary aborted).
  Result<std::string> read = sys::ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
  std::string line = read.ok() ? std::move(read).value() : std::string();
  for (char& c : line) {
    c = c == '\0' ? ' ' : c;
  }
  return line;
}

// A process the test exposes on purpose: /bin/sleep running as the sandbox's host uid and gid,
// under the name `name` (argv[0]) so that /proc scans find it. Without its pid namespace a
// jailed script, having the same host uid, could signal or trace it. Killed and reaped at the
// end of the test (and by PR_SET_PDEATHSIG if the test dies).
class SandboxUidBait {
 public:
  explicit SandboxUidBait(std::string name) : name_(std::move(name)) {
    // Everything the child needs is prepared before fork: after it, only system calls.
    char sleep_seconds[] = "1000";
    std::array<char*, 3> argv = {name_.data(), sleep_seconds, nullptr};
    const long uid = kSandboxUid;  // NOLINT(google-runtime-int): syscall(2) takes longs
    const long gid = kSandboxGid;  // NOLINT(google-runtime-int)
    pid_ = fork();
    if (pid_ == 0) {
      // Raw system calls: glibc's set*id wrappers synchronise threads, which a forked child
      // of a threaded process must not rely on.
      if (syscall(SYS_setgroups, 0, nullptr) == 0 && syscall(SYS_setresgid, gid, gid, gid) == 0 &&
          syscall(SYS_setresuid, uid, uid, uid) == 0 && prctl(PR_SET_PDEATHSIG, SIGKILL) == 0) {
        execv("/bin/sleep", argv.data());
      }
      _exit(127);
    }
    if (pid_ < 0) {
      ADD_FAILURE() << "fork: " << std::strerror(errno);
      return;
    }
    // Running once its command line is the bait's (exec has happened): a bounded wait.
    const Clock::time_point deadline = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < deadline && CommandLineOf(pid_).rfind(name_, 0) != 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  SandboxUidBait(const SandboxUidBait&) = delete;
  SandboxUidBait& operator=(const SandboxUidBait&) = delete;
  ~SandboxUidBait() { Kill(); }

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && CommandLineOf(pid_).rfind(name_, 0) == 0; }

  void Kill() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

 private:
  std::string name_;
  pid_t pid_ = -1;
};

// --- The host's view of processes ----------------------------------------------------------

struct HostProcess {
  pid_t pid = 0;
  pid_t parent = 0;
  std::string name;            // comm
  char state = '?';            // R, S, D, Z...
  std::vector<uint32_t> uids;  // real, effective, saved, filesystem
  std::string command_line;
};

std::vector<HostProcess> HostProcesses() {
  std::vector<HostProcess> processes;
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ignored)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    HostProcess process;
    process.pid = static_cast<pid_t>(std::stol(name));
    Result<std::string> status_text = sys::ReadFile("/proc/" + name + "/status");
    std::istringstream status(status_text.ok() ? *status_text : std::string());
    std::string line;
    while (std::getline(status, line)) {
      std::istringstream fields(line.substr(line.find(':') + 1));
      if (line.rfind("PPid:", 0) == 0) {
        fields >> process.parent;
      } else if (line.rfind("Name:", 0) == 0) {
        fields >> process.name;
      } else if (line.rfind("State:", 0) == 0) {
        fields >> process.state;
      } else if (line.rfind("Uid:", 0) == 0) {
        uint32_t uid = 0;
        while (fields >> uid) {
          process.uids.push_back(uid);
        }
      }
    }
    if (process.uids.empty()) {
      continue;  // exited while we looked
    }
    process.command_line = CommandLineOf(process.pid);
    processes.push_back(std::move(process));
  }
  return processes;
}

// Processes on the host that run with the sandbox's uid and belong to this test: they descend
// from `zygote` (the jailed engine's) or carry `tag` in their command line. (Other test
// processes may run jailed executions concurrently, under the same uid.)
std::vector<HostProcess> SandboxProcessesOf(pid_t zygote, const std::string& tag) {
  const std::vector<HostProcess> all = HostProcesses();
  std::map<pid_t, pid_t> parents;
  for (const HostProcess& process : all) {
    parents[process.pid] = process.parent;
  }
  // A pool child still building its jail keeps the zygote's own name until it waits for a
  // script (sandbox::AwaitStart names it kIdleChildName): it has run nothing of a script yet.
  std::string zygote_name;
  for (const HostProcess& process : all) {
    zygote_name = process.pid == zygote ? process.name : zygote_name;
  }
  std::vector<HostProcess> found;
  for (const HostProcess& process : all) {
    bool sandbox_uid = false;
    for (const uint32_t uid : process.uids) {
      sandbox_uid = sandbox_uid || uid == kSandboxUid;
    }
    bool descends = false;
    pid_t ancestor = process.parent;
    for (int depth = 0; depth < 64 && ancestor > 1 && !descends; ++depth) {
      descends = ancestor == zygote;
      const auto up = parents.find(ancestor);
      ancestor = up == parents.end() ? 0 : up->second;
    }
    // Children waiting in the warm pool, or still being made, have run nothing; zombies run
    // nothing any more.
    const bool counts = process.name != sandbox::kIdleChildName &&
                        !(descends && process.name == zygote_name) && process.state != 'Z';
    if (counts && sandbox_uid &&
        (descends || process.command_line.find(tag) != std::string::npos)) {
      found.push_back(process);
    }
  }
  return found;
}

std::string Describe(const std::vector<HostProcess>& processes) {
  std::string text;
  for (const HostProcess& process : processes) {
    text += std::to_string(process.pid) + " (parent " + std::to_string(process.parent) +
            "): " + process.command_line + "\n";
  }
  return text;
}

// --- Host sockets the payloads try to reach --------------------------------------------------

// A listening TCP socket on the host's 127.0.0.1, on a port the kernel picks.
struct TcpListener {
  sys::UniqueFd fd;
  int port = 0;
};

TcpListener ListenTcp() {
  TcpListener listener;
  listener.fd = sys::UniqueFd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (!listener.fd ||
      bind(listener.fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(listener.fd.get(), 8) != 0 ||
      getsockname(listener.fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ADD_FAILURE() << "cannot listen on 127.0.0.1: " << std::strerror(errno);
    return listener;
  }
  listener.port = ntohs(address.sin_port);
  return listener;
}

// A bound UDP socket on the host's 127.0.0.1.
TcpListener BindUdp() {
  TcpListener bound;
  bound.fd = sys::UniqueFd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (!bound.fd ||
      bind(bound.fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      getsockname(bound.fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ADD_FAILURE() << "cannot bind UDP on 127.0.0.1: " << std::strerror(errno);
    return bound;
  }
  bound.port = ntohs(address.sin_port);
  return bound;
}

// A listening unix socket with the abstract name `name` (in the host's network namespace).
sys::UniqueFd ListenAbstract(const std::string& name) {
  sys::UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path + 1, name.data(), name.size());  // sun_path[0] stays NUL
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  if (!fd || bind(fd.get(), reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      listen(fd.get(), 8) != 0) {
    ADD_FAILURE() << "cannot listen on @" << name << ": " << std::strerror(errno);
  }
  return fd;
}

// What a connection already queued on `listener` sent (the payloads connect, send, close
// before main() returns); nullopt when no connection is queued.
std::optional<std::string> AcceptQueued(const sys::UniqueFd& listener) {
  sys::UniqueFd connection(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!connection) {
    return std::nullopt;
  }
  std::array<char, 256> buffer{};
  const ssize_t received = recv(connection.get(), buffer.data(), buffer.size(), MSG_DONTWAIT);
  return std::string(buffer.data(), received > 0 ? static_cast<size_t>(received) : 0);
}

// A datagram already queued on `socket_fd` (loopback delivers during sendto); nullopt if none.
std::optional<std::string> ReceiveQueued(const sys::UniqueFd& socket_fd) {
  std::array<char, 256> buffer{};
  const ssize_t received = recv(socket_fd.get(), buffer.data(), buffer.size(), MSG_DONTWAIT);
  if (received < 0) {
    return std::nullopt;
  }
  return std::string(buffer.data(), static_cast<size_t>(received));
}

// Removes the SysV shared memory segment with `key` (if any) now and at the end of the test.
class ShmKeyGuard {
 public:
  explicit ShmKeyGuard(key_t key) : key_(key) { Remove(); }
  ShmKeyGuard(const ShmKeyGuard&) = delete;
  ShmKeyGuard& operator=(const ShmKeyGuard&) = delete;
  ~ShmKeyGuard() { Remove(); }

  key_t key() const { return key_; }
  bool ExistsOnHost() const { return shmget(key_, 0, 0) >= 0; }

 private:
  void Remove() const {
    const int id = shmget(key_, 0, 0);
    if (id >= 0) {
      shmctl(id, IPC_RMID, nullptr);
    }
  }

  key_t key_;
};

// A key unlikely to collide with another test process's.
key_t TestShmKey(int salt) {
  return static_cast<key_t>(0x50790000 | ((getpid() & 0xfff) << 4) | (salt & 0xf));
}

// ============================== Filesystem ==================================================

void ExpectSecretHiddenFromJailOnly(const std::string& parent) {
  PlantedSecret secret(parent);
  ASSERT_TRUE(secret.ok());
  const nlohmann::json params = {{"path", secret.path()}, {"token", secret.token()}};
  const nlohmann::json jailed = Jailed("jail_host_secret_is_unreadable.py", params);
  EXPECT_EQ(Field(jailed, "leaked"), false) << jailed;
  EXPECT_THAT(Text(Field(jailed, "error")), AnyOf(Eq("ENOENT"), Eq("EACCES"))) << jailed;
  // Positive control: as host root without namespaces, the same probe reads the token.
  const nlohmann::json unjailed = Unjailed("jail_host_secret_is_unreadable.py", params);
  EXPECT_EQ(Field(unjailed, "leaked"), true) << unjailed;
}

TEST_F(JailFilesystem, HostSecretInRoot_IsUnreadable) { ExpectSecretHiddenFromJailOnly("/root"); }

TEST_F(JailFilesystem, HostSecretInVarTmp_IsUnreadable) {
  ExpectSecretHiddenFromJailOnly("/var/tmp");
}

TEST_F(JailFilesystem, EtcShadow_IsUnreadable) {
  ASSERT_TRUE(sys::PathExists("/etc/shadow")) << "the control needs the host's /etc/shadow";
  // The payload reports only whether "root:" is in the file, never its contents.
  const nlohmann::json params = {{"path", "/etc/shadow"}, {"token", "root:"}};
  const nlohmann::json jailed = Jailed("jail_host_secret_is_unreadable.py", params);
  EXPECT_EQ(Field(jailed, "leaked"), false) << jailed;
  EXPECT_EQ(Text(Field(jailed, "error")), "ENOENT") << jailed;
  EXPECT_EQ(Field(Unjailed("jail_host_secret_is_unreadable.py", params), "leaked"), true);
}

TEST_F(JailFilesystem, SymlinksToHostPaths_LeadNowhere) {
  PlantedSecret secret("/root");
  ASSERT_TRUE(secret.ok());
  nlohmann::json params = {{"path", secret.path()}, {"token", secret.token()}, {"pid", 1}};
  const nlohmann::json jailed = Jailed("jail_symlink_to_host_path_leads_nowhere.py", params);
  EXPECT_EQ(Field(jailed, "direct"), false) << jailed;
  EXPECT_EQ(Field(jailed, "via_init"), false) << jailed;
  // Positive control: unjailed, both links reach the secret (the second through this test's
  // own /proc entry: the host's pid 1 may be out of root's reach on a container host).
  params["pid"] = getpid();
  const nlohmann::json unjailed = Unjailed("jail_symlink_to_host_path_leads_nowhere.py", params);
  EXPECT_EQ(Field(unjailed, "direct"), true) << unjailed;
  EXPECT_EQ(Field(unjailed, "via_init"), true) << unjailed;
}

TEST_F(JailFilesystem, HostDirectories_AreAbsent) {
  const std::vector<std::string> paths = {"/home", "/root",       "/var",     "/run",        "/srv",
                                          "/sys",  "/boot",       "/mnt",     "/media",      "/opt",
                                          "/work", "/etc/shadow", "/etc/ssh", "/etc/sudoers"};
  nlohmann::json on_host = nlohmann::json::object();
  for (const std::string& path : paths) {
    struct stat info {};
    on_host[path] = lstat(path.c_str(), &info) == 0;
  }
  ASSERT_EQ(on_host["/root"], true);
  ASSERT_EQ(on_host["/var"], true);
  ASSERT_EQ(on_host["/sys"], true);
  const nlohmann::json params = {{"paths", paths}};
  const nlohmann::json jailed = Jailed("jail_host_directories_are_absent.py", params);
  for (const std::string& path : paths) {
    EXPECT_EQ(Field(jailed, path), false) << path << " exists in the jail";
  }
  // Positive control: unjailed, the probe sees exactly what the host has.
  EXPECT_EQ(Unjailed("jail_host_directories_are_absent.py", params), on_host);
}

TEST_F(JailFilesystem, HostTmp_IsInvisible) {
  const std::string token = RandomToken();
  const std::string name = "pyexec-jail-bait-" + token;
  const std::string path = "/tmp/" + name;
  // World-readable on purpose: only the mount namespace can hide it.
  ASSERT_TRUE(WriteNewFile(path, token, 0644));
  const nlohmann::json params = {{"name", name}, {"token", token}};
  const nlohmann::json jailed = Jailed("jail_host_tmp_is_invisible.py", params);
  const nlohmann::json unjailed = Unjailed("jail_host_tmp_is_invisible.py", params);
  unlink(path.c_str());
  EXPECT_EQ(Field(jailed, "leaked"), false) << jailed;
  EXPECT_EQ(Text(Field(jailed, "error")), "ENOENT") << jailed;
  EXPECT_EQ(Field(jailed, "tmp_entries"), 0) << jailed;
  EXPECT_EQ(Field(unjailed, "leaked"), true) << unjailed;
}

TEST_F(JailFilesystem, HostDevShm_IsInvisible) {
  ASSERT_TRUE(sys::PathExists("/dev/shm")) << "the control needs the host's /dev/shm";
  const std::string token = RandomToken();
  const std::string name = "pyexec-jail-bait-" + token;
  const std::string path = "/dev/shm/" + name;
  ASSERT_TRUE(WriteNewFile(path, token, 0644));
  const nlohmann::json params = {{"name", name}, {"token", token}};
  const nlohmann::json jailed = Jailed("jail_host_dev_shm_is_invisible.py", params);
  const nlohmann::json unjailed = Unjailed("jail_host_dev_shm_is_invisible.py", params);
  unlink(path.c_str());
  EXPECT_EQ(Field(jailed, "leaked"), false) << jailed;
  EXPECT_EQ(Text(Field(jailed, "error")), "ENOENT") << jailed;
  // Positive control: unjailed, the probe reads the bait.
  EXPECT_EQ(Field(unjailed, "leaked"), true) << unjailed;
}

TEST_F(JailFilesystem, InheritedDescriptors_HoldNoDirectory) {
  const nlohmann::json jailed =
      Jailed("jail_descriptors_hold_no_host_directory.py", {{"open_first", nullptr}});
  ASSERT_TRUE(jailed.is_object()) << jailed;
  for (const auto& [fd, kind] : jailed.items()) {
    EXPECT_NE(kind, "dir") << "descriptor " << fd << " is a directory: " << jailed;
  }
  // stdin (/dev/null), stdout, stderr, /dev/null parked on 3, the result pipe.
  EXPECT_LE(jailed.size(), 5u) << jailed;
  // Positive control: a directory the script opens itself is seen by the same probe.
  const nlohmann::json control =
      Jailed("jail_descriptors_hold_no_host_directory.py", {{"open_first", "/"}});
  int directories = 0;
  for (const auto& [fd, kind] : control.items()) {
    directories += kind == "dir" ? 1 : 0;
  }
  EXPECT_EQ(directories, 1) << control;
}

TEST_F(JailFilesystem, RootUsrAndEtc_AreReadOnly) {
  const std::vector<std::string> read_only = {"/",        "/usr", "/usr/lib",
                                              "/usr/bin", "/etc", "/etc/alternatives"};
  std::vector<std::string> create_in = read_only;
  create_in.emplace_back("/dev");
  create_in.emplace_back("/tmp");
  std::vector<std::string> statvfs_of = read_only;
  statvfs_of.emplace_back("/tmp");
  const nlohmann::json jailed = Jailed("jail_root_and_usr_are_read_only.py",
                                       {{"create_in", create_in}, {"statvfs", statvfs_of}});
  const nlohmann::json& created = Field(jailed, "created");
  for (const std::string& dir : read_only) {
    EXPECT_EQ(Field(created, dir), nlohmann::json({"EROFS", "EROFS"})) << dir;
    EXPECT_EQ(Field(Field(jailed, "read_only"), dir), true) << dir;
  }
  // /dev is a writable tmpfs holding the device binds; the script's uid may not write there.
  EXPECT_THAT(Field(created, "/dev").dump(), Not(HasSubstr("ok"))) << jailed;
  // Positive control inside the jail: the probe creates in /tmp, a writable mount.
  EXPECT_EQ(Field(created, "/tmp"), nlohmann::json({"ok", "ok"})) << jailed;
  EXPECT_EQ(Field(Field(jailed, "read_only"), "/tmp"), false) << jailed;
  // And unjailed, the mount probe reports the host's /usr as writable (creating is tried in
  // the run's own working directory only).
  const nlohmann::json unjailed =
      Unjailed("jail_root_and_usr_are_read_only.py", {{"create_in", {"."}}, {"statvfs", {"/usr"}}});
  EXPECT_EQ(Field(Field(unjailed, "created"), "."), nlohmann::json({"ok", "ok"})) << unjailed;
  EXPECT_EQ(Field(Field(unjailed, "read_only"), "/usr"), false) << unjailed;
}

TEST_F(JailFilesystem, MappedLibraries_AreUnwritable) {
  const std::string library = "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0";
  ASSERT_TRUE(sys::PathExists(library));
  const nlohmann::json params = {{"library", library}};
  const nlohmann::json jailed = Jailed("jail_mapped_libraries_are_unwritable.py", params);
  // The probe's target is there and readable in the jail...
  EXPECT_EQ(Field(jailed, "library_magic"), "7f454c46") << jailed;
  // ...but not writable: denied for the sandbox uid, and on a read-only mount besides.
  EXPECT_THAT(Text(Field(jailed, "library")), AnyOf(Eq("EROFS"), Eq("EACCES"))) << jailed;
  EXPECT_EQ(Field(jailed, "library_read_only_mount"), true) << jailed;
  const nlohmann::json& mapped = Field(jailed, "mapped");
  EXPECT_GE(mapped.size(), 10u) << "numpy and pandas map many files: " << jailed;
  for (const auto& [path, outcome] : mapped.items()) {
    EXPECT_NE(outcome, "ok") << path << " is writable in the jail";
  }
  // The zygote's own binary, reached through the /proc/self/exe magic link (CVE-2019-5736).
  EXPECT_NE(Field(jailed, "exe"), "ok") << jailed;
  // Positive control: host root opens the same library for writing (and closes it unwritten).
  const nlohmann::json unjailed = Unjailed("jail_mapped_libraries_are_unwritable.py", params);
  EXPECT_EQ(Field(unjailed, "library"), "ok") << unjailed;
  EXPECT_EQ(Field(unjailed, "library_read_only_mount"), false) << unjailed;
}

// ============================== /proc =======================================================

TEST_F(JailProc, ShowsOnlyTheScriptAndItsChildren) {
  const nlohmann::json params = {{"host_pid", getpid()}};
  const nlohmann::json jailed = Jailed("jail_proc_shows_only_own_processes.py", params);
  // pid 1 is pyexec-init, which reaps orphans; the script is pid 2 (not init, so signals it
  // sends itself are not ignored).
  EXPECT_EQ(Field(jailed, "self"), 2) << jailed;
  EXPECT_EQ(Field(jailed, "visible"), nlohmann::json({1, 2, Field(jailed, "child")})) << jailed;
  EXPECT_EQ(Field(Field(jailed, "names"), "1"), "pyexec-init") << jailed;
  EXPECT_EQ(Field(jailed, "host_pid_visible"), false) << jailed;
  // Positive control: unjailed, the probe sees the host's processes, this test among them.
  const nlohmann::json unjailed = Unjailed("jail_proc_shows_only_own_processes.py", params);
  EXPECT_EQ(Field(unjailed, "host_pid_visible"), true) << unjailed;
  EXPECT_GT(Field(unjailed, "visible").size(), 2u) << unjailed;
}

TEST_F(JailProc, NamespaceInit_IsOpaqueToTheScript) {
  // pyexec-init is pid 1 and was started outside the jail: through /proc/1 it would lead to the
  // host's root, environment and descriptors if the script could reach it.
  const nlohmann::json jailed =
      Jailed("jail_namespace_init_is_opaque.py", {{"pid", 1}, {"signal", true}});
  for (const char* probe : {"root", "cwd", "environ", "fd", "maps", "kill"}) {
    EXPECT_NE(Field(jailed, probe), "ok") << probe << ": " << jailed;
  }
  // Positive control: as host root without namespaces, the same probe opens another host-root
  // process's /proc entries (this test's own).
  const nlohmann::json unjailed =
      Unjailed("jail_namespace_init_is_opaque.py", {{"pid", getpid()}, {"signal", false}});
  for (const char* probe : {"root", "cwd", "environ", "fd", "maps"}) {
    EXPECT_EQ(Field(unjailed, probe), "ok") << probe << ": " << unjailed;
  }
}

TEST_F(JailProc, IsAFreshProcMountedNosuidNodevNoexec) {
  const nlohmann::json jailed = Jailed("jail_proc_is_mounted_nosuid_nodev_noexec.py");
  const nlohmann::json& proc = Field(jailed, "/proc");
  EXPECT_EQ(Field(proc, "fstype"), "proc") << jailed;
  for (const char* option : {"nosuid", "nodev", "noexec"}) {
    EXPECT_THAT(Field(proc, "options").dump(), HasSubstr(std::string("\"") + option + "\""))
        << jailed;
  }
  EXPECT_THAT(Field(Field(jailed, "/proc/sys"), "options").dump(), HasSubstr("\"ro\"")) << jailed;
  // Positive control: the probe tells mounts apart (/tmp may run what it holds).
  EXPECT_THAT(Field(Field(jailed, "/tmp"), "options").dump(), Not(HasSubstr("noexec"))) << jailed;
}

TEST_F(JailProc, ProcSys_IsReadOnly) {
  const nlohmann::json jailed = Jailed("jail_proc_sys_is_read_only.py");
  const nlohmann::json& knobs = Field(jailed, "knobs");
  ASSERT_FALSE(knobs.empty()) << jailed;
  for (const auto& [knob, outcome] : knobs.items()) {
    EXPECT_NE(outcome, "ok") << knob << " opens for writing in the jail";
  }
  EXPECT_EQ(Field(Field(jailed, "read_only"), "/proc/sys"), true) << jailed;
  for (const auto& [dir, read_only] : Field(jailed, "read_only").items()) {
    EXPECT_EQ(read_only, true) << dir;
  }
  // Positive control: host root opens the knobs for writing (the payload never writes).
  const nlohmann::json unjailed = Unjailed("jail_proc_sys_is_read_only.py");
  EXPECT_EQ(Field(Field(unjailed, "knobs"), "/proc/sys/kernel/core_pattern"), "ok") << unjailed;
  EXPECT_EQ(Field(Field(unjailed, "read_only"), "/proc/sys"), false) << unjailed;
}

TEST_F(JailProc, MaskedFiles_ReadAsEmpty) {
  const nlohmann::json jailed = Jailed("jail_masked_proc_files_read_empty.py");
  const nlohmann::json unjailed = Unjailed("jail_masked_proc_files_read_empty.py");
  ASSERT_TRUE(unjailed.is_object()) << unjailed;
  int leaking_on_host = 0;
  for (const auto& [path, size] : unjailed.items()) {
    if (size.is_number() && size.get<int>() > 0) {
      // The positive control: host root reads kernel state from this file.
      ++leaking_on_host;
      EXPECT_TRUE(Field(jailed, path).is_null() || Field(jailed, path) == 0)
          << path << " leaks in the jail: " << jailed;
    }
  }
  EXPECT_GE(leaking_on_host, 1) << "no masked file leaks on this host: " << unjailed;
  for (const auto& [path, size] : jailed.items()) {
    EXPECT_TRUE(size.is_null() || size == 0) << path << ": " << size;
  }
}

// ============================== /dev ========================================================

TEST_F(JailDevices, OnlyTheFiveHarmlessDevicesExist) {
  const nlohmann::json jailed = Jailed("jail_only_five_device_nodes.py");
  const nlohmann::json expected = {{"null", "char 1:3"},
                                   {"zero", "char 1:5"},
                                   {"full", "char 1:7"},
                                   {"random", "char 1:8"},
                                   {"urandom", "char 1:9"},
                                   {"fd", "-> /proc/self/fd"},
                                   {"stdin", "-> /proc/self/fd/0"},
                                   {"stdout", "-> /proc/self/fd/1"},
                                   {"stderr", "-> /proc/self/fd/2"},
                                   {"shm", "dir"}};
  EXPECT_EQ(jailed, expected);
  // Positive control: unjailed, the probe lists the host's other devices.
  const nlohmann::json unjailed = Unjailed("jail_only_five_device_nodes.py");
  int devices = 0;
  for (const auto& [name, kind] : unjailed.items()) {
    devices += Text(kind).rfind("char ", 0) == 0 || Text(kind).rfind("block ", 0) == 0 ? 1 : 0;
  }
  EXPECT_GT(devices, 5) << unjailed;
}

TEST_F(JailDevices, DeviceNodes_CannotBeCreated) {
  const nlohmann::json jailed = Jailed("jail_device_nodes_cannot_be_created.py");
  EXPECT_EQ(Field(jailed, "mknod"), "EPERM") << jailed;
  // Positive control: host root creates the node (in its own working directory, removed).
  const nlohmann::json unjailed = Unjailed("jail_device_nodes_cannot_be_created.py");
  EXPECT_EQ(Field(unjailed, "mknod"), "ok") << unjailed;
  EXPECT_EQ(Field(unjailed, "is_char_device"), true) << unjailed;
}

// ============================== Privileges ==================================================

TEST_F(JailPrivileges, Ids_AreNobodyMappedToTheSandboxUid) {
  const nlohmann::json jailed = Jailed("jail_ids_are_unprivileged.py");
  const nlohmann::json inside = {kInsideId, kInsideId, kInsideId};
  EXPECT_EQ(Field(jailed, "uids"), inside) << jailed;
  EXPECT_EQ(Field(jailed, "gids"), inside) << jailed;
  EXPECT_EQ(Field(jailed, "groups"), nlohmann::json::array()) << jailed;
  // The only id mapped: nobody inside is the sandbox's host uid; host root is not mapped.
  EXPECT_EQ(Field(jailed, "uid_map"),
            nlohmann::json({std::to_string(kInsideId), std::to_string(kSandboxUid), "1"}));
  EXPECT_EQ(Field(jailed, "gid_map"),
            nlohmann::json({std::to_string(kInsideId), std::to_string(kSandboxGid), "1"}));
  // Positive control: unjailed, the probe reports root and the initial user namespace.
  const nlohmann::json unjailed = Unjailed("jail_ids_are_unprivileged.py");
  EXPECT_EQ(Field(unjailed, "uids"), nlohmann::json({0, 0, 0})) << unjailed;
  EXPECT_EQ(Field(unjailed, "uid_map"), nlohmann::json({"0", "0", "4294967295"})) << unjailed;
}

TEST_F(JailPrivileges, Capabilities_AreAllDroppedAndNoNewPrivsIsSet) {
  const nlohmann::json jailed = Jailed("jail_capabilities_are_dropped.py");
  for (const char* set : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
    EXPECT_EQ(Field(jailed, set), "0000000000000000") << set << ": " << jailed;
  }
  EXPECT_EQ(Field(jailed, "NoNewPrivs"), "1") << jailed;
  // Positive control: unjailed (host root), the probe reads capabilities.
  const nlohmann::json unjailed = Unjailed("jail_capabilities_are_dropped.py");
  EXPECT_NE(Field(unjailed, "CapEff"), "0000000000000000") << unjailed;
  EXPECT_NE(Field(unjailed, "CapBnd"), "0000000000000000") << unjailed;
}

TEST_F(JailPrivileges, SetuidRoot_Fails) {
  const nlohmann::json jailed = Jailed("jail_setuid_root_fails.py");
  for (const char* call : {"setuid", "setgid", "setresuid"}) {
    EXPECT_NE(Field(jailed, call), "ok") << call << ": " << jailed;
  }
  EXPECT_EQ(Field(jailed, "uid"), kInsideId) << jailed;
  // Positive control: for host root, the same calls succeed.
  const nlohmann::json unjailed = Unjailed("jail_setuid_root_fails.py");
  EXPECT_EQ(Field(unjailed, "setuid"), "ok") << unjailed;
  EXPECT_EQ(Field(unjailed, "uid"), 0) << unjailed;
}

TEST_F(JailPrivileges, Mount_Fails) {
  const nlohmann::json jailed =
      Jailed("jail_mount_fails.py", {{"only_in_private_namespace", false}});
  EXPECT_EQ(Field(jailed, "mount"), "EPERM") << jailed;
  // Positive control: host root mounts (inside a mount namespace of its own, so the host's
  // tree is untouched; the payload mounts nothing unless that namespace exists).
  const nlohmann::json unjailed =
      Unjailed("jail_mount_fails.py", {{"only_in_private_namespace", true}});
  EXPECT_EQ(Field(unjailed, "private"), "ok") << unjailed;
  EXPECT_EQ(Field(unjailed, "mount"), "ok") << unjailed;
}

TEST_F(JailPrivileges, Chroot_Fails) {
  EXPECT_EQ(Field(Jailed("jail_chroot_fails.py"), "chroot"), "EPERM");
  // Positive control: host root may chroot (to "/": nothing changes).
  EXPECT_EQ(Field(Unjailed("jail_chroot_fails.py"), "chroot"), "ok");
}

TEST_F(JailPrivileges, MountNamespace_CannotBeUnshared) {
  EXPECT_EQ(Field(Jailed("jail_mount_namespace_cannot_be_unshared.py"), "unshare"), "EPERM");
  // Positive control: host root may (only the script's own process moves).
  EXPECT_EQ(Field(Unjailed("jail_mount_namespace_cannot_be_unshared.py"), "unshare"), "ok");
}

TEST_F(JailPrivileges, NestedUserNamespaces_AreLimitedToNone) {
  Result<std::string> host_before = sys::ReadFile("/proc/sys/user/max_user_namespaces");
  ASSERT_TRUE(host_before.ok());
  const nlohmann::json jailed = Jailed("jail_nested_user_namespaces_are_impossible.py");
  EXPECT_EQ(Field(jailed, "max_user_namespaces"), 0) << jailed;
  EXPECT_EQ(Field(jailed, "errno"), EPERM) << jailed;  // seccomp refuses it first
  // The limit is the script's own namespace's: the host's is untouched (writing it from the
  // wrong namespace would have disabled user namespaces for the whole host).
  Result<std::string> host_after = sys::ReadFile("/proc/sys/user/max_user_namespaces");
  ASSERT_TRUE(host_after.ok());
  EXPECT_EQ(*host_after, *host_before);
  EXPECT_NE(std::stoll(*host_after), 0);

  // With only seccomp switched off, the limit alone refuses the namespace (ENOSPC:
  // user_namespaces(7), "the limit ... was reached").
  const nlohmann::json limit_only =
      ResultOf(RelaxedEngine(sandbox::kPolicyTestNoSeccomp)
                   .Run(Payload("jail_nested_user_namespaces_are_impossible.py"), DefaultLimits())
                   .value(),
               "jailed without seccomp");
  EXPECT_EQ(Field(limit_only, "max_user_namespaces"), 0) << limit_only;
  EXPECT_EQ(Field(limit_only, "errno"), ENOSPC) << limit_only;

  // Positive control: with the limit switched off as well, the same probe makes one.
  const nlohmann::json neither = ResultOf(
      RelaxedEngine(sandbox::kPolicyTestNoSeccomp | sandbox::kPolicyTestNoUserNamespaceLimit)
          .Run(Payload("jail_nested_user_namespaces_are_impossible.py"), DefaultLimits())
          .value(),
      "jailed without seccomp nor limit");
  EXPECT_NE(Field(neither, "max_user_namespaces"), 0) << neither;
  EXPECT_EQ(Field(neither, "unshare"), 0) << neither;
}

TEST_F(JailPrivileges, Rlimits_AreSetAndCannotBeRaised) {
  const nlohmann::json jailed = Jailed("jail_rlimits_cannot_be_raised.py");
  const nlohmann::json& limits = Field(jailed, "limits");
  EXPECT_EQ(Field(limits, "core"), nlohmann::json({0, 0})) << jailed;
  EXPECT_EQ(Field(limits, "memlock"), nlohmann::json({65536, 65536})) << jailed;
  EXPECT_EQ(Field(limits, "rtprio"), nlohmann::json({0, 0})) << jailed;
  EXPECT_EQ(Field(limits, "msgqueue"), nlohmann::json({0, 0})) << jailed;
  const service::Limits defaults = DefaultLimits();
  EXPECT_EQ(Field(limits, "nofile"), nlohmann::json({defaults.open_files, defaults.open_files}));
  EXPECT_EQ(Field(limits, "fsize"),
            nlohmann::json({defaults.file_size_bytes, defaults.file_size_bytes}));
  for (const char* name : {"core", "memlock", "rtprio", "msgqueue", "nofile", "fsize"}) {
    EXPECT_EQ(Field(Field(jailed, "raised"), name), false) << name << ": " << jailed;
  }
  EXPECT_EQ(Field(jailed, "soft_restored"), true) << jailed;
  // Positive control: host root raises the same hard limits where the host grants it
  // CAP_SYS_RESOURCE (some container hosts drop it from every bounding set: there nobody can,
  // which the probe must then report too).
  const nlohmann::json unjailed = Unjailed("jail_rlimits_cannot_be_raised.py");
  EXPECT_EQ(Field(unjailed, "soft_restored"), true) << unjailed;
  const bool host_can_raise = prctl(PR_CAPBSET_READ, CAP_SYS_RESOURCE) == 1;
  for (const char* name : {"core", "memlock", "nofile", "fsize"}) {
    EXPECT_EQ(Field(Field(unjailed, "raised"), name), host_can_raise) << name << ": " << unjailed;
  }
}

// Fail-closed: a control that cannot be applied ends the execution with an internal error
// naming the step, before any of the script runs. A sandbox uid of 0 is refused by the uid
// switch (privileges.cc), which makes a real set-up step fail on demand.
TEST_F(JailPrivileges, FailingSetupStep_IsAnErrorNamingTheStepAndTheScriptNeverRuns) {
  service::EngineConfig config;
  config.sandbox_uid = 0;
  Result<std::unique_ptr<service::Engine>> engine = service::Engine::Create(config);
  ASSERT_TRUE(engine.ok()) << engine.error().ToString();
  PlantedSecret marker_dir("/tmp");  // a host directory the script would write to unconfined
  ASSERT_TRUE(marker_dir.ok());
  const std::string marker = marker_dir.path() + ".ran";
  const std::string script = "open('" + marker + "', 'w').close()\ndef main():\n    return 1\n";
  Result<service::Execution> run = (*engine)->Run(script, DefaultLimits());
  ASSERT_FALSE(run.ok()) << "the script ran: " << run.value().outcome.message;
  EXPECT_EQ(run.error().code, ErrorCode::kSetupFailed) << run.error().ToString();
  EXPECT_THAT(run.error().ToString(), HasSubstr("switch_user")) << run.error().ToString();
  EXPECT_FALSE(sys::PathExists(marker));
  // Positive control: on an unjailed engine the same script does write the marker.
  const service::Execution unjailed = RunUnjailed(script);
  EXPECT_EQ(VerdictOf(unjailed), "ok") << unjailed.outcome.message;
  EXPECT_TRUE(sys::PathExists(marker));
  (void)std::remove(marker.c_str());
}

// ============================== Processes ===================================================

TEST_F(JailProcesses, HostProcesses_CannotBeSignalledOrTraced) {
  SandboxUidBait bait("pyexec-jail-bait-" + RandomToken());
  ASSERT_TRUE(bait.running());
  const nlohmann::json params = {{"pid", bait.pid()}};
  const nlohmann::json jailed = Jailed("jail_host_processes_cannot_be_reached.py", params);
  EXPECT_EQ(Field(jailed, "signal"), "ESRCH") << jailed;
  EXPECT_EQ(Field(jailed, "proc_entry"), false) << jailed;
  EXPECT_NE(Field(jailed, "ptrace"), "ok") << jailed;
  // Positive control: unjailed, the probe reaches the bait: signal 0, /proc, PTRACE_SEIZE
  // (which does not stop it; it is detached when the script exits).
  const nlohmann::json unjailed = Unjailed("jail_host_processes_cannot_be_reached.py", params);
  EXPECT_EQ(Field(unjailed, "signal"), "ok") << unjailed;
  EXPECT_EQ(Field(unjailed, "proc_entry"), true) << unjailed;
  EXPECT_EQ(Field(unjailed, "ptrace"), "ok") << unjailed;
  EXPECT_TRUE(bait.running());
}

TEST_F(JailProcesses, KillAll_KillsOnlyTheScriptsOwnProcesses) {
  service::Engine& engine = JailedEngine();
  // Bait: a process with the sandbox's host uid, which kill(-1) from that uid would reach
  // without the pid namespace.
  SandboxUidBait bait("pyexec-jail-bait-" + RandomToken());
  ASSERT_TRUE(bait.running());
  const pid_t bait_pid = bait.pid();
  const service::Execution run = RunJailed(Payload("jail_kill_all_reaches_only_own_processes.py"));
  ASSERT_THAT(VerdictOf(run), AnyOf(Eq("ok"), Eq("killed"))) << run.outcome.message;
  if (VerdictOf(run) == "ok") {
    // The payload did fire: its own children died of SIGKILL.
    EXPECT_EQ(ResultOf(run, "kill -1")["children"], nlohmann::json({-9, -9, -9}));
  }
  EXPECT_TRUE(ProcessRunning(bait_pid)) << "kill -9 -1 in the jail killed a host process";
  EXPECT_TRUE(ProcessRunning(engine.zygote_pid())) << "kill -9 -1 in the jail killed the zygote";
  // The engine still serves.
  const service::Execution next = RunJailed("def main():\n    return 42\n");
  EXPECT_EQ(VerdictOf(next), "ok") << next.outcome.message;
  EXPECT_EQ(next.outcome.result_json, "42");
  // Positive control: the probe notices a dead bait.
  bait.Kill();
  EXPECT_FALSE(ProcessRunning(bait_pid));
}

TEST_F(JailProcesses, DoubleForkedDaemon_DoesNotSurviveTheRun) {
  service::Engine& engine = JailedEngine();
  const std::string name = "pyexec-jail-daemon-" + RandomToken();
  const nlohmann::json jailed =
      Jailed("jail_daemon_does_not_survive.py", {{"name", name}, {"linger_seconds", 0}});
  EXPECT_GT(Field(jailed, "daemon"), 1) << "the daemon did not start: " << jailed;
  // The answer may come while the execution's processes are still exiting (killed, they can
  // run no user code: the test below); none is left once the teardown is done.
  engine.FinishTeardown();
  const std::vector<HostProcess> left = SandboxProcessesOf(engine.zygote_pid(), name);
  EXPECT_THAT(left, IsEmpty()) << Describe(left);
}

// True while `pid` may still run user code: it exists, is not a zombie, is not exiting
// (PF_EXITING: already past exit(2), say, with its memory on the way out) and has no SIGKILL
// pending (a task with SIGKILL pending never returns to user space: it only finishes exiting).
bool CanStillRun(pid_t pid) {
  Result<std::string> status = sys::ReadFile("/proc/" + std::to_string(pid) + "/status");
  Result<std::string> stat = sys::ReadFile("/proc/" + std::to_string(pid) + "/stat");
  // Unreadable, or cut short by an exit while it was read: gone.
  if (!status.ok() || !stat.ok() || stat->rfind(')') == std::string::npos ||
      stat->rfind(')') + 2 > stat->size()) {
    return false;
  }
  // stat: "pid (comm) state ppid pgrp session tty_nr tpgid flags ...": flags is the 7th field
  // after the comm's closing parenthesis.
  std::istringstream after_comm(stat->substr(stat->rfind(')') + 2));
  std::string skipped;
  for (int i = 0; i < 6 && after_comm >> skipped; ++i) {
  }
  uint64_t flags = 0;
  constexpr uint64_t kPfExiting = 0x4;  // include/linux/sched.h
  if (after_comm >> flags && (flags & kPfExiting) != 0) {
    return false;
  }
  const auto field = [&status](const std::string& key) {
    const size_t at = status->find("\n" + key + ":\t");
    return at == std::string::npos
               ? std::string()
               : status->substr(at + key.size() + 3,
                                status->find('\n', at + 1) - at - key.size() - 3);
  };
  const std::string state = field("State");
  if (state.empty() || state[0] == 'Z' || state[0] == 'X') {
    return false;
  }
  constexpr uint64_t kSigkillBit = uint64_t{1} << (SIGKILL - 1);
  for (const char* pending : {"SigPnd", "ShdPnd"}) {
    // A process that exits while it is read can leave the file cut short: gone, like an
    // unreadable one. (std::stoull would throw, and end the test with its thread joinable.)
    const std::string mask = field(pending);
    char* end = nullptr;
    const uint64_t bits = std::strtoull(mask.c_str(), &end, 16);
    if (mask.empty() || end == mask.c_str() || (bits & kSigkillBit) != 0) {
      return false;
    }
  }
  return true;
}

// The answer may come before the execution's processes are torn down (unmapping a copy of the
// zygote takes a while), but never while any of them can still run user code.
TEST_F(JailProcesses, WhenTheAnswerComes_NoProcessOfTheExecutionCanRunUserCode) {
  service::Engine& engine = EngineWithoutPool();  // before the thread: a single-threaded zygote
  const std::string name = "pyexec-jail-daemon-" + RandomToken();
  // The positive control first: while the execution lingers, the probe sees its daemon run.
  Result<sys::EventFd> cancel = sys::EventFd::Create();
  ASSERT_TRUE(cancel.ok());
  std::thread lingering([&] {
    (void)engine.Run(Payload("jail_daemon_does_not_survive.py",
                             {{"name", name + "-control"}, {"linger_seconds", 60}}),
                     DefaultLimits(), &*cancel);
  });
  bool control_seen = false;
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline && !control_seen) {
    for (const HostProcess& process : SandboxProcessesOf(engine.zygote_pid(), name)) {
      control_seen = control_seen || (process.command_line.rfind(name + "-control", 0) == 0 &&
                                      CanStillRun(process.pid));
    }
    if (!control_seen) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  cancel->Raise();
  lingering.join();
  ASSERT_TRUE(control_seen) << "the probe never saw the lingering execution's daemon run";

  Result<service::Execution> run = engine.Run(
      Payload("jail_daemon_does_not_survive.py", {{"name", name}, {"linger_seconds", 0}}),
      DefaultLimits());
  // At once, before anything else is torn down: every process left is dying.
  const std::vector<HostProcess> seen = SandboxProcessesOf(engine.zygote_pid(), name);
  ASSERT_TRUE(run.ok()) << run.error().ToString();
  ASSERT_EQ(VerdictOf(*run), "ok") << run->outcome.message << run->stderr_data;
  for (const HostProcess& process : seen) {
    EXPECT_FALSE(CanStillRun(process.pid)) << Describe({process});
  }
  engine.FinishTeardown();
  const std::vector<HostProcess> left = SandboxProcessesOf(engine.zygote_pid(), name);
  EXPECT_THAT(left, IsEmpty()) << Describe(left);
}

TEST_F(JailProcesses, IgnoringSignals_DoesNotOutliveTheDeadline) {
  service::Engine& engine = JailedEngine();
  service::Limits limits = DefaultLimits();
  limits.timeout = std::chrono::seconds(2);
  const service::Execution run =
      RunJailed(Payload("jail_ignoring_signals_does_not_outlive_the_deadline.py"), limits);
  EXPECT_EQ(VerdictOf(run), "timeout") << run.outcome.message << run.stderr_data;
  const std::vector<HostProcess> left = SandboxProcessesOf(engine.zygote_pid(), "no-tag");
  EXPECT_THAT(left, IsEmpty()) << Describe(left);
}

TEST_F(JailProcesses, OrphanedZombies_AreReapedByTheNamespaceInit) {
  const nlohmann::json jailed =
      Jailed("jail_orphaned_zombies_are_reaped.py", {{"own_zombie", false}});
  EXPECT_EQ(Field(jailed, "zombies"), nlohmann::json::array()) << jailed;
  // Positive control: the same scan finds a zombie the script keeps itself.
  const nlohmann::json control =
      Jailed("jail_orphaned_zombies_are_reaped.py", {{"own_zombie", true}});
  EXPECT_EQ(Field(control, "zombies").size(), 1u) << control;
}

// The positive control of the test above: the same scan, while an execution and its daemon
// run, finds them, with the sandbox's host uid.
TEST_F(JailProcesses, SandboxProcesses_AreSeenWhileTheRunLastsAndGoneAfterCancel) {
  service::Engine& engine = JailedEngine();  // before the thread: a single-threaded zygote
  const std::string name = "pyexec-jail-daemon-" + RandomToken();
  Result<sys::EventFd> cancel = sys::EventFd::Create();
  ASSERT_TRUE(cancel.ok());
  const std::string script =
      Payload("jail_daemon_does_not_survive.py", {{"name", name}, {"linger_seconds", 60}});
  std::optional<Result<service::Execution>> outcome;
  std::thread runner([&] { outcome.emplace(engine.Run(script, DefaultLimits(), &*cancel)); });
  std::vector<HostProcess> seen;
  bool daemon_seen = false;
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline && !daemon_seen) {
    seen = SandboxProcessesOf(engine.zygote_pid(), name);
    for (const HostProcess& process : seen) {
      daemon_seen = daemon_seen || process.command_line.rfind(name, 0) == 0;
    }
    if (!daemon_seen) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  cancel->Raise();
  runner.join();
  engine.FinishTeardown();

  ASSERT_TRUE(daemon_seen) << "the scan never found the daemon: " << Describe(seen);
  EXPECT_GE(seen.size(), 2u) << "the script and its daemon: " << Describe(seen);
  for (const HostProcess& process : seen) {
    EXPECT_EQ(process.uids, std::vector<uint32_t>(4, kSandboxUid)) << Describe({process});
  }
  ASSERT_TRUE(outcome.has_value());
  EXPECT_FALSE(outcome->ok());
  const std::vector<HostProcess> left = SandboxProcessesOf(engine.zygote_pid(), name);
  EXPECT_THAT(left, IsEmpty()) << Describe(left);
}

// ============================== Network =====================================================

TEST_F(JailNetwork, TcpToHostLoopback_Fails) {
  JailedEngine();
  UnjailedEngine();
  TcpListener listener = ListenTcp();
  ASSERT_GT(listener.port, 0);
  const std::string token = RandomToken();
  const nlohmann::json params = {{"port", listener.port}, {"token", token}};
  const nlohmann::json jailed = Jailed("jail_tcp_to_host_loopback_fails.py", params);
  EXPECT_NE(Field(jailed, "connect"), "ok") << jailed;
  EXPECT_EQ(AcceptQueued(listener.fd), std::nullopt) << "a jailed connection reached the host";
  // Positive control: unjailed, the probe connects and its token arrives.
  const nlohmann::json unjailed = Unjailed("jail_tcp_to_host_loopback_fails.py", params);
  EXPECT_EQ(Field(unjailed, "connect"), "ok") << unjailed;
  EXPECT_EQ(AcceptQueued(listener.fd), token);
}

TEST_F(JailNetwork, UdpToHost_NeverArrives) {
  JailedEngine();
  UnjailedEngine();
  TcpListener bound = BindUdp();
  ASSERT_GT(bound.port, 0);
  const std::string token = RandomToken();
  const nlohmann::json params = {{"port", bound.port}, {"token", token}};
  const nlohmann::json jailed = Jailed("jail_udp_to_host_fails.py", params);
  EXPECT_EQ(ReceiveQueued(bound.fd), std::nullopt) << "a jailed datagram reached the host";
  EXPECT_NE(Field(jailed, "sendto"), "ok") << "sent into a network with no route: " << jailed;
  // Positive control: unjailed, the datagram arrives.
  const nlohmann::json unjailed = Unjailed("jail_udp_to_host_fails.py", params);
  EXPECT_EQ(Field(unjailed, "sendto"), "ok") << unjailed;
  EXPECT_EQ(ReceiveQueued(bound.fd), token);
}

TEST_F(JailNetwork, HostAbstractUnixSocket_IsUnreachable) {
  JailedEngine();
  UnjailedEngine();
  const std::string name = "pyexec-jail-bait-" + RandomToken();
  sys::UniqueFd listener = ListenAbstract(name);
  ASSERT_TRUE(listener);
  const std::string token = RandomToken();
  const nlohmann::json params = {{"name", name}, {"token", token}};
  const nlohmann::json jailed = Jailed("jail_host_abstract_socket_is_unreachable.py", params);
  EXPECT_EQ(Field(jailed, "connect"), "ECONNREFUSED") << jailed;
  EXPECT_EQ(AcceptQueued(listener), std::nullopt) << "a jailed connection reached the host";
  // Positive control: unjailed, the probe connects (abstract names ignore file permissions).
  const nlohmann::json unjailed = Unjailed("jail_host_abstract_socket_is_unreachable.py", params);
  EXPECT_EQ(Field(unjailed, "connect"), "ok") << unjailed;
  EXPECT_EQ(AcceptQueued(listener), token);
}

TEST_F(JailNetwork, HostSockets_AreNotListedInProcNet) {
  JailedEngine();
  UnjailedEngine();
  TcpListener tcp = ListenTcp();
  const std::string name = "pyexec-jail-bait-" + RandomToken();
  sys::UniqueFd abstract = ListenAbstract(name);
  ASSERT_GT(tcp.port, 0);
  ASSERT_TRUE(abstract);
  const nlohmann::json params = {{"port", tcp.port}, {"name", name}};
  const nlohmann::json expected_hidden = {{"tcp_listener", false}, {"abstract_socket", false}};
  EXPECT_EQ(Jailed("jail_host_sockets_are_not_listed.py", params), expected_hidden);
  // Positive control: unjailed, the probe finds both in the host's tables.
  const nlohmann::json expected_seen = {{"tcp_listener", true}, {"abstract_socket", true}};
  EXPECT_EQ(Unjailed("jail_host_sockets_are_not_listed.py", params), expected_seen);
}

TEST_F(JailNetwork, Interfaces_AreOnlyLoopbackAndItIsDown) {
  const nlohmann::json jailed = Jailed("jail_network_has_only_loopback_down.py");
  EXPECT_EQ(Field(jailed, "interfaces"), nlohmann::json({"lo"})) << jailed;
  EXPECT_NE(Field(Field(jailed, "up"), "lo"), true) << jailed;
  EXPECT_EQ(Field(jailed, "ipv6_addresses"), 0) << jailed;
  EXPECT_EQ(Field(jailed, "ipv4_routes"), 0) << jailed;
  // Positive control: unjailed, the probe sees the host's loopback up.
  const nlohmann::json unjailed = Unjailed("jail_network_has_only_loopback_down.py");
  EXPECT_EQ(Field(Field(unjailed, "up"), "lo"), true) << unjailed;
}

TEST_F(JailNetwork, DnsResolution_Fails) {
  // The host resolves its own name (from its /etc/hosts or its resolver); the jail has neither.
  std::array<char, 256> hostname{};
  ASSERT_EQ(gethostname(hostname.data(), hostname.size() - 1), 0);
  const std::string host_name = hostname.data();
  ASSERT_NE(host_name, "pyexec");
  ASSERT_NE(host_name, "localhost");
  const nlohmann::json params = {{"names", {host_name, "example.com", "localhost"}}};
  const nlohmann::json jailed = Jailed("jail_dns_resolution_fails.py", params);
  EXPECT_NE(Field(jailed, host_name), "ok") << jailed;
  EXPECT_NE(Field(jailed, "example.com"), "ok") << jailed;
  // Positive control inside the jail: the resolver works for what the jail's /etc/hosts holds.
  EXPECT_EQ(Field(jailed, "localhost"), "ok") << jailed;
  // And unjailed, the probe resolves the host's name.
  const nlohmann::json unjailed = Unjailed("jail_dns_resolution_fails.py", params);
  EXPECT_EQ(Field(unjailed, host_name), "ok") << unjailed;
}

// ============================== UTS =========================================================

TEST_F(JailUts, Hostname_IsPyexec) {
  const nlohmann::json jailed = Jailed("jail_hostname_is_pyexec.py");
  EXPECT_EQ(jailed,
            nlohmann::json({{"gethostname", "pyexec"}, {"uname", "pyexec"}, {"proc", "pyexec"}}));
  // Positive control: unjailed, the probe reports the host's name.
  std::array<char, 256> hostname{};
  ASSERT_EQ(gethostname(hostname.data(), hostname.size() - 1), 0);
  ASSERT_NE(std::string(hostname.data()), "pyexec");
  EXPECT_EQ(Field(Unjailed("jail_hostname_is_pyexec.py"), "gethostname"), hostname.data());
}

// ============================== /tmp ========================================================

TEST_F(JailTmp, FillingBeyondTmpBytes_FailsWithEnospc) {
  service::Limits limits = DefaultLimits();
  limits.tmp_bytes = 8 * service::kMiB;
  const nlohmann::json filled =
      Jailed("jail_tmp_is_limited.py", {{"bytes", 16 * service::kMiB}}, limits);
  EXPECT_EQ(Field(filled, "error"), "ENOSPC") << filled;
  EXPECT_EQ(Field(filled, "size"), limits.tmp_bytes) << filled;
  EXPECT_LE(Field(filled, "written"), limits.tmp_bytes) << filled;
  EXPECT_GE(Field(filled, "written"), limits.tmp_bytes - service::kMiB) << filled;
  // Positive control (jailed only: unjailed, /tmp is the host's): within the limit, the same
  // probe writes everything; and the size follows Limits::tmp_bytes.
  const nlohmann::json within = Jailed("jail_tmp_is_limited.py", {{"bytes", 4 * service::kMiB}});
  EXPECT_EQ(Field(within, "error"), nullptr) << within;
  EXPECT_EQ(Field(within, "written"), 4 * service::kMiB) << within;
  EXPECT_EQ(Field(within, "size"), DefaultLimits().tmp_bytes) << within;
}

TEST_F(JailTmp, Pages_CountAgainstTheMemoryLimit) {
  ASSERT_EQ(JailedEngine().enforcement().memory.rfind("cgroup", 0), 0u)
      << "tmpfs pages are limited by the memory cgroup only; this host enforces memory with "
      << JailedEngine().enforcement().memory;
  // A /tmp larger than the memory limit: filling it must hit the memory limit (nsjail #71).
  service::Limits limits = DefaultLimits();
  limits.memory_bytes = 64 * service::kMiB;
  limits.tmp_bytes = 256 * service::kMiB;
  const service::Execution run =
      RunJailed(Payload("jail_tmp_is_limited.py", {{"bytes", 200 * service::kMiB}}), limits);
  EXPECT_EQ(VerdictOf(run), "memory_limit") << run.outcome.message << run.outcome.result_json;
  // Positive control: with memory to spare, the same amount fits.
  limits.memory_bytes = DefaultLimits().memory_bytes;
  const nlohmann::json fits =
      Jailed("jail_tmp_is_limited.py", {{"bytes", 200 * service::kMiB}}, limits);
  EXPECT_EQ(Field(fits, "error"), nullptr) << fits;
  EXPECT_EQ(Field(fits, "written"), 200 * service::kMiB) << fits;
}

TEST_F(JailTmp, Files_DoNotPersistToTheNextExecution) {
  const std::string name = "pyexec-jail-marker-" + RandomToken();
  const nlohmann::json first =
      Jailed("jail_tmp_does_not_persist.py", {{"name", name}, {"write", true}});
  // Positive control: within its run, the probe sees the file it wrote.
  EXPECT_EQ(Field(first, "exists"), true) << first;
  const nlohmann::json second =
      Jailed("jail_tmp_does_not_persist.py", {{"name", name}, {"write", false}});
  EXPECT_EQ(Field(second, "exists"), false) << second;
  EXPECT_EQ(Field(second, "entries"), nlohmann::json::array()) << second;
  // Nor did it land in the host's /tmp.
  EXPECT_FALSE(sys::PathExists("/tmp/" + name));
}

// ============================== IPC =========================================================

TEST_F(JailIpc, SysvSharedMemory_DoesNotCrossExecutions) {
  ShmKeyGuard guard(TestShmKey(1));
  const nlohmann::json create = {{"key", guard.key()}, {"create", true}};
  const nlohmann::json probe = {{"key", guard.key()}, {"create", false}};
  const nlohmann::json created = Jailed("jail_sysv_shm_does_not_cross_runs.py", create);
  ASSERT_TRUE(created.is_object());
  const nlohmann::json next = Jailed("jail_sysv_shm_does_not_cross_runs.py", probe);
  EXPECT_NE(Field(next, "shmget"), "ok") << "created: " << created << " next: " << next;
  EXPECT_EQ(Field(next, "listed"), false) << next;
  EXPECT_FALSE(guard.ExistsOnHost()) << "a jailed segment appeared on the host";
  // Positive control: unjailed, a segment one run creates is there in the next.
  const nlohmann::json unjailed_created = Unjailed("jail_sysv_shm_does_not_cross_runs.py", create);
  EXPECT_EQ(Field(unjailed_created, "created"), "ok") << unjailed_created;
  const nlohmann::json unjailed_next = Unjailed("jail_sysv_shm_does_not_cross_runs.py", probe);
  EXPECT_EQ(Field(unjailed_next, "shmget"), "ok") << unjailed_next;
  EXPECT_EQ(Field(unjailed_next, "listed"), true) << unjailed_next;
  EXPECT_TRUE(guard.ExistsOnHost());  // removed by the guard
}

TEST_F(JailIpc, HostSysvSharedMemory_IsInvisible) {
  ShmKeyGuard guard(TestShmKey(2));
  ASSERT_GE(shmget(guard.key(), 4096, IPC_CREAT | IPC_EXCL | 0600), 0) << std::strerror(errno);
  const nlohmann::json probe = {{"key", guard.key()}, {"create", false}};
  const nlohmann::json jailed = Jailed("jail_sysv_shm_does_not_cross_runs.py", probe);
  EXPECT_NE(Field(jailed, "shmget"), "ok") << jailed;
  EXPECT_EQ(Field(jailed, "listed"), false) << jailed;  // /proc/sysvipc: the ipc namespace's
  // Positive control: unjailed, the probe finds the host's segment both ways.
  const nlohmann::json unjailed = Unjailed("jail_sysv_shm_does_not_cross_runs.py", probe);
  EXPECT_EQ(Field(unjailed, "shmget"), "ok") << unjailed;
  EXPECT_EQ(Field(unjailed, "listed"), true) << unjailed;
}

// ============================== cgroups =====================================================

TEST_F(JailCgroup, HostCgroupPaths_AreHidden) {
  const nlohmann::json jailed = Jailed("jail_cgroup_namespace_hides_host_path.py");
  ASSERT_TRUE(jailed.is_array()) << jailed;
  for (const auto& path : jailed) {
    EXPECT_EQ(path, "/") << jailed;
  }
  // Positive control: unjailed, the probe shows where the execution sits in the host's tree
  // (pyexec-<pid>/x<id> when the engine uses cgroups, the host's own path otherwise).
  const nlohmann::json unjailed = Unjailed("jail_cgroup_namespace_hides_host_path.py");
  bool below_root = false;
  for (const auto& path : unjailed) {
    below_root = below_root || path != "/";
  }
  EXPECT_TRUE(below_root) << unjailed;
}

// ============================== What still works ============================================

TEST_F(JailCompatibility, NumpyAndPandas_Work) {
  const nlohmann::json expected = {{"trace", 34.0},
                                   {"singular", 4},
                                   {"fft", 8.0},
                                   {"sums", {{"a", 4}, {"b", 2}, {"c", 4}}},
                                   {"csv", "key,value"}};
  EXPECT_EQ(Jailed("jail_numpy_and_pandas_work.py"), expected);
}

TEST_F(JailCompatibility, Sqlite_WorksInTmp) {
  EXPECT_EQ(Jailed("jail_sqlite_works_in_tmp.py"), nlohmann::json({{"sum", 45}}));
}

TEST_F(JailCompatibility, Subprocess_RunsPrograms) {
  EXPECT_EQ(Jailed("jail_subprocess_runs_bin_true.py"),
            nlohmann::json({{"true", 0}, {"echo", "jailed"}}));
}

TEST_F(JailCompatibility, Threads_Work) {
  EXPECT_EQ(Jailed("jail_threads_work.py"), nlohmann::json({{"total", 31996000}, {"alive", 0}}));
}

TEST_F(JailCompatibility, ForkAfterThreads_LeavesOnlyTheForkingThread) {
  EXPECT_EQ(Jailed("jail_fork_after_threads_cleans_up.py"),
            nlohmann::json({{"before_fork", 2}, {"in_forked_process", "1 1"}}));
}

TEST_F(JailCompatibility, MultiprocessingPool_Works) {
  EXPECT_EQ(Jailed("jail_multiprocessing_pool_works.py"),
            nlohmann::json({{"squares", {0, 1, 4, 9, 16, 25, 36, 49, 64, 81}}, {"workers", true}}));
}

TEST_F(JailCompatibility, Environment_IsMinimal) {
  // Set before this process starts its engine (each test has its own process under ctest).
  const std::string secret = "s3cr3t-" + RandomToken();
  ASSERT_EQ(setenv("PYEXEC_TEST_SECRET", secret.c_str(), 1), 0);
  const nlohmann::json jailed = Jailed("jail_environment_is_minimal.py");
  nlohmann::json documented = nlohmann::json::object();
  for (const std::string& entry : zygote::ZygoteEnvironment()) {
    const size_t equals = entry.find('=');
    documented[entry.substr(0, equals)] = entry.substr(equals + 1);
  }
  // The probe reads the environment (positive control: PATH is there), and nothing else.
  EXPECT_EQ(Field(Field(jailed, "environ"), "PATH"), "/usr/local/bin:/usr/bin:/bin") << jailed;
  EXPECT_EQ(Field(jailed, "environ"), documented);
  // The exec-time environment in /proc/self/environ: unreadable (the script is not dumpable,
  // so the file belongs to root) or, if readable, without the test's secret.
  const std::string proc_environ = Text(Field(jailed, "proc_environ"));
  EXPECT_TRUE(proc_environ == "unreadable: EACCES" || proc_environ.find("PATH=") == 0)
      << proc_environ;
  EXPECT_THAT(proc_environ, Not(HasSubstr(secret)));
  ASSERT_EQ(unsetenv("PYEXEC_TEST_SECRET"), 0);
}

TEST_F(JailCompatibility, StandardStreams_Work) {
  const service::Execution run = RunJailed(Payload("jail_stdio_works.py"));
  const nlohmann::json result = ResultOf(run, "jail_stdio_works.py");
  EXPECT_EQ(run.stdout_data, "to stdout from the jail\n");
  EXPECT_EQ(run.stderr_data, "to stderr from the jail\n");
  EXPECT_EQ(result, nlohmann::json({{"stdin", ""}, {"stdin_target", "/dev/null"}}));
}

// /dev/stdout is a symlink to /proc/self/fd/1: opening it reopens the output pipe, which
// checks the pipe's owner and mode against the sandbox uid (not only the descriptor's).
TEST_F(JailCompatibility, DevStdoutAndDevStderr_AreWritable) {
  const service::Execution run = RunJailed(Payload("jail_dev_stdout_is_writable.py"));
  EXPECT_EQ(ResultOf(run, "jail_dev_stdout_is_writable.py"),
            nlohmann::json({{"stdout", "ok"}, {"stderr", "ok"}}));
  EXPECT_EQ(run.stdout_data, "via /dev/stdout\n");
  EXPECT_EQ(run.stderr_data, "via /dev/stderr\n");
}

}  // namespace
}  // namespace pyexec::testing
