// Small file and directory operations on explicit paths or directory fds, errno turned into
// Error at the call. Used by the server (cgroups, working directories).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sys/unique_fd.h"
#include "util/result.h"

namespace pyexec::sys {

// Reads a whole (small) file; fails beyond `max_bytes`.
Result<std::string> ReadFile(const std::string& path, size_t max_bytes = 1 << 20);
// open(O_WRONLY|O_TRUNC) + one write: the shape cgroup and /proc knobs expect.
Status WriteFile(const std::string& path, std::string_view contents);
// The same on a file opened before (a cgroup knob kept open, off the request's path): reads
// from offset 0 to the end with pread, or writes `contents` at offset 0 in one pwrite. `name`
// is for the error message.
Result<std::string> ReadOpenFile(int fd, std::string_view name, size_t max_bytes = 1 << 20);
Status WriteOpenFile(int fd, std::string_view name, std::string_view contents);
bool PathExists(const std::string& path);
// The inode number of what `path` leads to (stat(2), symbolic links followed).
Result<uint64_t> InodeOf(const std::string& path);

Status MakeDirectory(const std::string& path, unsigned mode);
// rmdir(); ENOENT counts as success.
Status RemoveDirectory(const std::string& path);

// A fresh private directory (mkdtemp, mode 0700) removed with everything in it on destruction.
// Removal never follows symlinks: it walks with openat(O_NOFOLLOW|O_DIRECTORY) and unlinkat.
class TempDir {
 public:
  static Result<TempDir> Create(const std::string& parent, const std::string& prefix);
  TempDir() = default;
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::string& path() const { return path_; }
  int fd() const { return fd_.get(); }

 private:
  void Cleanup();

  std::string path_;
  UniqueFd fd_;
};

}  // namespace pyexec::sys
