// Test support for the end-to-end tests: the real `pyexec serve` binary started on 127.0.0.1
// port 0 (it writes the bound port to a file), real HTTP through a raw-socket client, and what a
// test needs to prove nothing leaked (the service's descendants, cgroups, descriptors, working
// directories). Every wait is bounded.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "support/http_client.h"
#include "sys/files.h"
#include "sys/process.h"

namespace pyexec::e2e {

using testing::HttpHeaders;

// Generous bounds: reaching one means the test failed.
inline constexpr std::chrono::seconds kStartLimit{90};
inline constexpr std::chrono::seconds kIoTimeout{60};
inline constexpr std::chrono::seconds kStopLimit{60};

class Service {
 public:
  // `pyexec serve --port 0 --port-file ... --work-dir <fresh dir> args...`; nullptr (and a test
  // failure) when it does not come up within kStartLimit.
  static std::unique_ptr<Service> Start(const std::vector<std::string>& args = {});
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;
  ~Service();  // SIGTERM, then SIGKILL when it does not exit within kStopLimit

  uint16_t port() const { return port_; }
  pid_t pid() const { return process_.pid(); }
  bool running();
  const std::string& work_dir() const { return work_dir_; }
  // What the service wrote on stderr so far.
  std::string Log() const;

  // Sends `signal_number`, waits up to `limit` for the exit; the exit code, or -1 (killed by a
  // signal, or still running at the limit).
  int StopWith(int signal_number, std::chrono::seconds limit = kStopLimit);

 private:
  Service() = default;

  sys::TempDir dir_;
  std::string work_dir_;
  std::string log_path_;
  sys::ChildProcess process_;
  uint16_t port_ = 0;
  bool exited_ = false;
};

// The service shared by the tests of one process (default flags), started on first use.
Service& SharedService();

struct Reply {
  int status = 0;  // 0: no response (the error says why)
  std::string error;
  testing::HttpResponse response;
  nlohmann::json json;  // the body parsed; discarded when it is not JSON

  std::optional<std::string> Header(std::string_view name) const { return response.Header(name); }
};

// One request on a fresh connection.
Reply Send(uint16_t port, std::string_view method, std::string_view target,
           std::string_view body = {}, const HttpHeaders& headers = {},
           std::chrono::seconds io_timeout = kIoTimeout);
// POST /execute with `body` (dumped) as application/json.
Reply Execute(uint16_t port, const nlohmann::json& body,
              std::chrono::seconds io_timeout = kIoTimeout);
// {"script": script} plus `extra` fields.
nlohmann::json ScriptBody(std::string_view script, nlohmann::json extra = nlohmann::json::object());
Reply Health(uint16_t port);

// Polls `predicate` every 20 ms until it holds or `limit` passes.
bool WaitUntil(const std::function<bool()>& predicate, std::chrono::milliseconds limit);

// Live (non-zombie) processes descended from `root`, `root` excluded.
std::vector<pid_t> Descendants(pid_t root);
// The children waiting in the service's warm pool (named "pyexec-idle") and the init of each
// one's pid namespace: processes that ran nothing of any script.
std::vector<pid_t> WarmPoolProcesses(pid_t service_pid);
// Descendants(service_pid) but the warm pool's: the zygote and what executions left running.
std::vector<pid_t> DescendantsBesidesThePool(pid_t service_pid);
// The service's own child, its zygote (the doctor's probes are gone by the time it listens);
// -1 when there is none.
pid_t ZygoteOf(pid_t service_pid);
bool ProcessAlive(pid_t pid);
// Directories named pyexec-<pid> anywhere under /sys/fs/cgroup: the service's cgroup trees.
std::vector<std::string> CgroupTrees(pid_t service_pid);
// Execution cgroups (subdirectories) inside those trees.
size_t ExecutionCgroupCount(pid_t service_pid);
// Entries of /proc/<pid>/fd; -1 when unreadable.
int OpenFdCount(pid_t pid);
// "0 -> /dev/null, 1 -> pipe:[123], ...": for failure messages.
std::string DescribeFds(pid_t pid);
// Entries of a directory; -1 when it does not exist.
int DirectoryEntryCount(const std::string& path);

// examples/reference.py.
std::string ReferenceScript();

}  // namespace pyexec::e2e
