#include "e2e/service_fixture.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "sandbox/start.h"
#include "sys/files.h"

namespace pyexec::e2e {
namespace {

using Clock = std::chrono::steady_clock;

std::string ReadWholeFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

std::vector<std::string> ServiceEnvironment() {
  std::vector<std::string> env = {
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
      "HOME=/root"};
  for (const char* name : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"}) {
    if (const char* value = getenv(name)) {  // NOLINT(concurrency-mt-unsafe): before threads
      env.push_back(std::string(name) + "=" + value);
    }
  }
  return env;
}

// The parent pid of `pid` from /proc/<pid>/stat, or -1; `zombie` says whether it is one.
pid_t ParentOf(pid_t pid, bool* zombie) {
  const std::string stat = ReadWholeFile("/proc/" + std::to_string(pid) + "/stat");
  const size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 4 >= stat.size()) {
    return -1;
  }
  std::istringstream rest(stat.substr(close + 2));
  char state = '?';
  pid_t parent = -1;
  rest >> state >> parent;
  *zombie = state == 'Z' || state == 'X';
  return parent;
}

}  // namespace

std::unique_ptr<Service> Service::Start(const std::vector<std::string>& args) {
  std::unique_ptr<Service> service(new Service());
  Result<sys::TempDir> dir = sys::TempDir::Create("/tmp", "pyexec-e2e-");
  if (!dir.ok()) {
    ADD_FAILURE() << dir.error().ToString();
    return nullptr;
  }
  service->dir_ = std::move(dir).value();
  service->work_dir_ = service->dir_.path() + "/work";
  service->log_path_ = service->dir_.path() + "/service.log";
  std::filesystem::create_directory(service->work_dir_);
  const std::string port_file = service->dir_.path() + "/port";
  sys::UniqueFd log(
      open(service->log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!log) {
    ADD_FAILURE() << "cannot create " << service->log_path_;
    return nullptr;
  }
  sys::SpawnSpec spec;
  spec.path = PYEXEC_BINARY;
  spec.argv = {PYEXEC_BINARY, "serve",       "--host",  "127.0.0.1",  "--port",
               "0",           "--port-file", port_file, "--work-dir", service->work_dir_};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.env = ServiceEnvironment();
  spec.fd_map = {-1, log.get(), log.get()};
  Result<sys::ChildProcess> child = sys::Spawn(spec);
  if (!child.ok()) {
    ADD_FAILURE() << child.error().ToString();
    return nullptr;
  }
  service->process_ = std::move(child).value();
  const bool up = WaitUntil([&] { return sys::PathExists(port_file) || !service->running(); },
                            std::chrono::duration_cast<std::chrono::milliseconds>(kStartLimit));
  if (!up || !service->running()) {
    ADD_FAILURE() << "pyexec serve did not start; its log:\n" << service->Log();
    return nullptr;
  }
  service->port_ = static_cast<uint16_t>(std::stoi(ReadWholeFile(port_file)));
  return service;
}

Service::~Service() {
  if (!exited_ && process_.running()) {
    (void)StopWith(SIGTERM);
  }
}

bool Service::running() {
  if (exited_) {
    return false;
  }
  int status = 0;
  Result<bool> done = process_.TryWait(&status);
  if (done.ok() && *done) {
    exited_ = true;
  }
  return !exited_;
}

std::string Service::Log() const { return ReadWholeFile(log_path_); }

int Service::StopWith(int signal_number, std::chrono::seconds limit) {
  if (exited_) {
    return -1;
  }
  (void)process_.Signal(signal_number);
  const auto deadline = Clock::now() + limit;
  int status = 0;
  while (Clock::now() < deadline) {
    Result<bool> done = process_.TryWait(&status);
    if (!done.ok()) {
      return -1;
    }
    if (*done) {
      exited_ = true;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;  // the destructor of process_ kills it
}

Service& SharedService() {
  static std::unique_ptr<Service> service = Service::Start();
  if (service == nullptr) {
    ADD_FAILURE() << "the shared service did not start";
    std::abort();
  }
  return *service;
}

Reply Send(uint16_t port, std::string_view method, std::string_view target, std::string_view body,
           const HttpHeaders& headers, std::chrono::seconds io_timeout) {
  Reply reply;
  Result<testing::HttpClient> client = testing::HttpClient::Connect(
      "127.0.0.1", port, std::chrono::duration_cast<std::chrono::milliseconds>(io_timeout));
  if (!client.ok()) {
    reply.error = client.error().ToString();
    return reply;
  }
  Result<testing::HttpResponse> response =
      client->RoundTrip(testing::FormatRequest(method, target, body, headers));
  if (!response.ok()) {
    reply.error = response.error().ToString();
    return reply;
  }
  reply.response = std::move(response).value();
  reply.status = reply.response.status;
  reply.json = nlohmann::json::parse(reply.response.body, nullptr, false);
  return reply;
}

Reply Execute(uint16_t port, const nlohmann::json& body, std::chrono::seconds io_timeout) {
  return Send(port, "POST", "/execute", body.dump(), {{"Content-Type", "application/json"}},
              io_timeout);
}

nlohmann::json ScriptBody(std::string_view script, nlohmann::json extra) {
  extra["script"] = std::string(script);
  return extra;
}

Reply Health(uint16_t port) { return Send(port, "GET", "/health"); }

bool WaitUntil(const std::function<bool()>& predicate, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  for (;;) {
    if (predicate()) {
      return true;
    }
    if (Clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::vector<pid_t> Descendants(pid_t root) {
  std::vector<std::pair<pid_t, pid_t>> links;  // (pid, parent)
  DIR* proc = opendir("/proc");
  if (proc == nullptr) {
    return {};
  }
  while (const dirent* entry = readdir(proc)) {
    char* end = nullptr;
    const int64_t pid = strtoll(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0') {
      continue;
    }
    bool zombie = false;
    const pid_t parent = ParentOf(static_cast<pid_t>(pid), &zombie);
    if (parent > 0 && !zombie) {
      links.emplace_back(static_cast<pid_t>(pid), parent);
    }
  }
  closedir(proc);
  std::vector<pid_t> found;
  std::vector<pid_t> frontier = {root};
  for (size_t round = 0; round < 64 && !frontier.empty(); ++round) {
    std::vector<pid_t> next;
    for (const auto& [pid, parent] : links) {
      for (const pid_t ancestor : frontier) {
        if (parent == ancestor) {
          next.push_back(pid);
        }
      }
    }
    found.insert(found.end(), next.begin(), next.end());
    frontier = std::move(next);
  }
  return found;
}

namespace {

std::string PidNamespaceOf(pid_t pid) {
  std::error_code error;
  return std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/ns/pid", error).string();
}

std::string NameOf(pid_t pid) {
  // Through sys::ReadFile: a filebuf throws when the process exits mid-read (ESRCH).
  Result<std::string> comm = sys::ReadFile("/proc/" + std::to_string(pid) + "/comm");
  if (!comm.ok()) {
    return "";
  }
  return comm->substr(0, comm->find('\n'));
}

}  // namespace

std::vector<pid_t> WarmPoolProcesses(pid_t service_pid) {
  const std::vector<pid_t> all = Descendants(service_pid);
  std::set<std::string> pool_namespaces;
  for (const pid_t pid : all) {
    if (NameOf(pid) == sandbox::kIdleChildName) {
      pool_namespaces.insert(PidNamespaceOf(pid));
    }
  }
  pool_namespaces.erase("");
  std::vector<pid_t> pool;
  for (const pid_t pid : all) {
    if (pool_namespaces.count(PidNamespaceOf(pid)) != 0) {
      pool.push_back(pid);
    }
  }
  return pool;
}

std::vector<pid_t> DescendantsBesidesThePool(pid_t service_pid) {
  const std::vector<pid_t> pool = WarmPoolProcesses(service_pid);
  std::vector<pid_t> rest;
  for (const pid_t pid : Descendants(service_pid)) {
    if (std::find(pool.begin(), pool.end(), pid) == pool.end()) {
      rest.push_back(pid);
    }
  }
  return rest;
}

pid_t ZygoteOf(pid_t service_pid) {
  for (const pid_t pid : Descendants(service_pid)) {
    bool zombie = false;
    if (ParentOf(pid, &zombie) == service_pid && !zombie) {
      return pid;
    }
  }
  return -1;
}

bool ProcessAlive(pid_t pid) {
  bool zombie = false;
  return ParentOf(pid, &zombie) >= 0 && !zombie;
}

std::vector<std::string> CgroupTrees(pid_t service_pid) {
  std::vector<std::string> trees;
  const std::string name = "pyexec-" + std::to_string(service_pid);
  std::error_code error;
  auto it = std::filesystem::recursive_directory_iterator(
      "/sys/fs/cgroup", std::filesystem::directory_options::skip_permission_denied, error);
  for (; !error && it != std::filesystem::recursive_directory_iterator(); it.increment(error)) {
    if (!it->is_directory(error)) {
      continue;
    }
    if (it->path().filename() == name) {
      trees.push_back(it->path().string());
      it.disable_recursion_pending();
    } else if (it.depth() >= 6) {
      it.disable_recursion_pending();
    }
  }
  return trees;
}

size_t ExecutionCgroupCount(pid_t service_pid) {
  const std::vector<pid_t> pool = WarmPoolProcesses(service_pid);
  size_t count = 0;
  for (const std::string& tree : CgroupTrees(service_pid)) {
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(tree, error)) {
      if (!entry.is_directory(error)) {
        continue;
      }
      // A warm pool child's cgroup holds that child and nothing else.
      std::ifstream procs(entry.path() / "cgroup.procs");
      bool pool_only = true;
      bool any = false;
      for (pid_t pid = 0; procs >> pid;) {
        any = true;
        pool_only = pool_only && std::find(pool.begin(), pool.end(), pid) != pool.end();
      }
      if (!any || !pool_only) {
        ++count;
      }
    }
  }
  return count;
}

int OpenFdCount(pid_t pid) { return DirectoryEntryCount("/proc/" + std::to_string(pid) + "/fd"); }

std::string DescribeFds(pid_t pid) {
  std::string text;
  std::error_code error;
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", error)) {
    const std::string target = std::filesystem::read_symlink(entry.path(), error).string();
    text += entry.path().filename().string() + " -> " + target;
    if (target.rfind("socket:[", 0) == 0) {
      const std::string inode = target.substr(8, target.size() - 9);
      for (const char* table : {"tcp", "tcp6", "unix"}) {
        std::istringstream lines(ReadWholeFile("/proc/" + std::to_string(pid) + "/net/" + table));
        for (std::string line; std::getline(lines, line);) {
          if (line.find(" " + inode + " ") != std::string::npos ||
              line.find(" " + inode) == line.size() - inode.size() - 1) {
            text += std::string(" (") + table + ": " + line + ")";
          }
        }
      }
    }
    text += ", ";
  }
  return text;
}

int DirectoryEntryCount(const std::string& path) {
  std::error_code error;
  std::filesystem::directory_iterator it(path, error);
  if (error) {
    return -1;
  }
  int count = 0;
  for (; it != std::filesystem::directory_iterator(); it.increment(error)) {
    if (error) {
      break;
    }
    ++count;
  }
  return count;
}

std::string ReferenceScript() {
  return ReadWholeFile(std::string(PYEXEC_SOURCE_DIR) + "/examples/reference.py");
}

}  // namespace pyexec::e2e
