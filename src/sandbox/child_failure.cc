#include "sandbox/child_failure.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pyexec::sandbox {
namespace {

int g_status_fd = -1;

}  // namespace

void SetStatusFd(int fd) { g_status_fd = fd; }
int StatusFd() { return g_status_fd; }

void FailStep(Step step, int sys_errno, const char* path) {
  SetupFailure failure;
  failure.step = static_cast<uint32_t>(step);
  failure.sys_errno = sys_errno;
  strncpy(failure.path, path, sizeof(failure.path) - 1);
  if (g_status_fd >= 0) {
    [[maybe_unused]] const ssize_t ignored = write(g_status_fd, &failure, sizeof(failure));
  }
  _exit(kSetupFailedExitCode);
}

void CheckStep(bool ok, Step step, const char* path) {
  if (!ok) {
    FailStep(step, errno, path);
  }
}

}  // namespace pyexec::sandbox
