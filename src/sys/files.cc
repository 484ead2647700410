#include "sys/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <vector>

#include "sys/fds.h"

namespace pyexec::sys {

namespace {

// Reads to the end: from where `fd` is (read), or from offset 0 (pread, for a file kept open).
Result<std::string> ReadToEnd(int fd, std::string_view name, size_t max_bytes, bool from_start) {
  std::string contents;
  char buffer[4096];
  while (true) {
    const ssize_t got = from_start
                            ? pread(fd, buffer, sizeof(buffer), static_cast<off_t>(contents.size()))
                            : read(fd, buffer, sizeof(buffer));
    if (got < 0) {
      if (errno == EINTR) {
        continue;
      }
      return SysError("read(" + std::string(name) + ")", errno);
    }
    if (got == 0) {
      return contents;
    }
    contents.append(buffer, static_cast<size_t>(got));
    if (contents.size() > max_bytes) {
      return MakeError(ErrorCode::kProtocol, "read(" + std::string(name) + "): file too large");
    }
  }
}

// One write: where `fd` is (write), or at offset 0 (pwrite, for a file kept open).
Status WriteOnce(int fd, std::string_view name, std::string_view contents, bool at_start) {
  const ssize_t written = at_start ? pwrite(fd, contents.data(), contents.size(), 0)
                                   : write(fd, contents.data(), contents.size());
  if (written < 0) {
    return SysError("write(" + std::string(name) + ", \"" + std::string(contents) + "\")", errno);
  }
  if (static_cast<size_t>(written) != contents.size()) {
    return MakeError(ErrorCode::kSystem, "write(" + std::string(name) + "): short write");
  }
  return OkStatus();
}

}  // namespace

Result<std::string> ReadOpenFile(int fd, std::string_view name, size_t max_bytes) {
  return ReadToEnd(fd, name, max_bytes, /*from_start=*/true);
}

Status WriteOpenFile(int fd, std::string_view name, std::string_view contents) {
  return WriteOnce(fd, name, contents, /*at_start=*/true);
}

Result<std::string> ReadFile(const std::string& path, size_t max_bytes) {
  Result<UniqueFd> fd = OpenReadOnly(path.c_str());
  if (!fd.ok()) {
    return std::move(fd).error();
  }
  return ReadToEnd(fd->get(), path, max_bytes, /*from_start=*/false);
}

Status WriteFile(const std::string& path, std::string_view contents) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY));
  if (!fd) {
    return SysError("open(" + path + ")", errno);
  }
  return WriteOnce(fd.get(), path, contents, /*at_start=*/false);
}

bool PathExists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

Result<uint64_t> InodeOf(const std::string& path) {
  struct stat status {};
  if (stat(path.c_str(), &status) != 0) {
    return SysError("stat(" + path + ")", errno);
  }
  return static_cast<uint64_t>(status.st_ino);
}

Status MakeDirectory(const std::string& path, unsigned mode) {
  if (mkdir(path.c_str(), mode) != 0) {
    return SysError("mkdir(" + path + ")", errno);
  }
  return OkStatus();
}

Status RemoveDirectory(const std::string& path) {
  if (rmdir(path.c_str()) != 0 && errno != ENOENT) {
    return SysError("rmdir(" + path + ")", errno);
  }
  return OkStatus();
}

namespace {

// Empties the directory open at `dir_fd` without following any symlink. Depth is bounded so a
// hostile tree cannot exhaust the stack; what is left beyond it stays (and is logged by rmdir).
void RemoveContents(int dir_fd, int depth) {
  if (depth > 64) {
    return;
  }
  const int list_fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  if (list_fd < 0) {
    return;
  }
  DIR* dir = fdopendir(list_fd);
  if (dir == nullptr) {
    close(list_fd);
    return;
  }
  std::vector<std::string> subdirs;
  while (dirent* entry = readdir(dir)) {
    const std::string name = entry->d_name;
    if (name == "." || name == "..") {
      continue;
    }
    if (unlinkat(dir_fd, name.c_str(), 0) != 0 && (errno == EISDIR || errno == EPERM)) {
      subdirs.push_back(name);
    }
  }
  closedir(dir);
  for (const std::string& name : subdirs) {
    UniqueFd child(openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (child) {
      RemoveContents(child.get(), depth + 1);
    }
    unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR);
  }
}

}  // namespace

Result<TempDir> TempDir::Create(const std::string& parent, const std::string& prefix) {
  std::string templ = parent + "/" + prefix + "XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    return SysError("mkdtemp(" + templ + ")", errno);
  }
  TempDir dir;
  dir.path_ = templ;
  dir.fd_.Reset(open(templ.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir.fd_) {
    const int saved = errno;
    rmdir(templ.c_str());
    dir.path_.clear();
    return SysError("open(" + templ + ")", saved);
  }
  return dir;
}

TempDir::TempDir(TempDir&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::move(other.fd_)) {
  other.path_.clear();
}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    Cleanup();
    path_ = std::move(other.path_);
    fd_ = std::move(other.fd_);
    other.path_.clear();
  }
  return *this;
}

TempDir::~TempDir() { Cleanup(); }

void TempDir::Cleanup() {
  if (fd_) {
    RemoveContents(fd_.get(), 0);
    fd_.Reset();
  }
  if (!path_.empty()) {
    rmdir(path_.c_str());
    path_.clear();
  }
}

}  // namespace pyexec::sys
