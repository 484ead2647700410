#include "sandbox/start.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sandbox/child_failure.h"
#include "sandbox/contain.h"
#include "sandbox/policy.h"
#include "sandbox/rlimits.h"

namespace pyexec::sandbox {
namespace {

uint64_t CpuNanoseconds() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) {
    return 0;
  }
  const auto ns = [](const timeval& tv) {
    return static_cast<uint64_t>(tv.tv_sec) * 1000000000ULL +
           static_cast<uint64_t>(tv.tv_usec) * 1000ULL;
  };
  return ns(usage.ru_utime) + ns(usage.ru_stime);
}

void SetName(const char* name) {
  // Best effort: only observers (benchmarks, tests) read it.
  (void)prctl(PR_SET_NAME, name, 0, 0, 0);
}

// Receives the order and its one descriptor; returns the descriptor. Exits 0 when the server
// closed the channel instead.
int ReceiveOrder(StartOrder* order) {
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
  iovec data{order, sizeof(*order)};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  ssize_t got = -1;
  do {
    got = recvmsg(kScriptFd, &message, MSG_CMSG_CLOEXEC);
  } while (got < 0 && errno == EINTR);
  if (got == 0) {
    _exit(0);  // retired unused: nothing of a script ever ran here
  }
  CheckStep(got >= 0, Step::kAwaitScript);
  int script = -1;
  int extra = 0;
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr;
       header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) {
      continue;
    }
    const size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof(int));
      if (script < 0) {
        script = fd;
      } else {
        close(fd);
        ++extra;
      }
    }
  }
  if (static_cast<size_t>(got) != sizeof(*order) || order->magic != kHandOverMagic || script < 0 ||
      extra != 0 || (message.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
    FailStep(Step::kAwaitScript, EPROTO);
  }
  return script;
}

}  // namespace

StartOrder AwaitStart(uint32_t ready_flags) {
  SetName(kIdleChildName);
  ReadyNotice notice;
  notice.flags = ready_flags;
  notice.setup_cpu_ns = CpuNanoseconds();
  ssize_t sent = -1;
  do {
    sent = send(kScriptFd, &notice, sizeof(notice), MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0 && errno == EPIPE) {
    _exit(0);  // the server dropped this child before it was ready
  }
  CheckStep(sent == static_cast<ssize_t>(sizeof(notice)), Step::kAwaitScript);

  StartOrder order;
  const int script = ReceiveOrder(&order);
  ApplyExecutionRlimits(order.rlimits);
  // The script takes the channel's place (the runner reads it there); the channel is done.
  CheckStep(dup3(script, kScriptFd, O_CLOEXEC) == kScriptFd, Step::kAwaitScript);
  close(script);
  SetName(kRunningChildName);
  return order;
}

}  // namespace pyexec::sandbox
