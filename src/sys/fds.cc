#include "sys/fds.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>

namespace pyexec::sys {

Result<PipeEnds> MakePipe(bool nonblocking_read) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return SysError("pipe2", errno);
  }
  PipeEnds ends{UniqueFd(fds[0]), UniqueFd(fds[1])};
  if (nonblocking_read) {
    if (Status s = SetNonBlocking(ends.read.get()); !s.ok()) {
      return std::move(s).error();
    }
  }
  return ends;
}

Result<PipeEnds> MakeSeqpacketPair() {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    return SysError("socketpair(AF_UNIX, SOCK_SEQPACKET)", errno);
  }
  return PipeEnds{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

Result<UniqueFd> MakeSealedMemfd(const char* name, std::string_view contents) {
  UniqueFd fd(memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) {
    return SysError(std::string("memfd_create(") + name + ")", errno);
  }
  if (Status s = WriteAll(fd.get(), contents); !s.ok()) {
    return std::move(s).error();
  }
  if (fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0) {
    return SysError("fcntl(F_ADD_SEALS)", errno);
  }
  // The reader starts at the beginning: the offset is shared with every copy of the fd.
  if (lseek(fd.get(), 0, SEEK_SET) != 0) {
    return SysError("lseek(memfd)", errno);
  }
  return fd;
}

Result<UniqueFd> MakeExecutableMemfd(const char* name, std::string_view image) {
  Result<UniqueFd> writable = MakeSealedMemfd(name, image);
  if (!writable.ok()) {
    return writable;
  }
  const std::string path = "/proc/self/fd/" + std::to_string(writable->get());
  return OpenReadOnly(path.c_str());
}

Result<UniqueFd> OpenReadOnly(const char* path) {
  UniqueFd fd(open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) {
    return SysError(std::string("open(") + path + ")", errno);
  }
  return fd;
}

Result<UniqueFd> OpenWriteOnly(const char* path) {
  UniqueFd fd(open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) {
    return SysError(std::string("open(") + path + ", O_WRONLY)", errno);
  }
  return fd;
}

Status SetNonBlocking(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    return SysError("fcntl(O_NONBLOCK)", errno);
  }
  return OkStatus();
}

Status SendWithFds(int socket, std::span<const std::byte> data, std::span<const int> fds) {
  iovec iov{const_cast<std::byte*>(data.data()), data.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (fds.size() > kMaxFdsPerDatagram) {
    return MakeError(ErrorCode::kInvalidInput, "sendmsg: more descriptors than supported");
  }
  // On the stack: the zygote sends its reports between forks (see ReceiveWithFdsInto).
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int) * kMaxFdsPerDatagram)> control{};
  if (!fds.empty()) {
    msg.msg_control = control.data();
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    if (cmsg == nullptr) {
      return MakeError(ErrorCode::kProtocol, "sendmsg: no room for descriptors");
    }
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(cmsg), fds.data(), sizeof(int) * fds.size());
  }
  while (true) {
    const ssize_t sent = sendmsg(socket, &msg, MSG_NOSIGNAL);
    if (sent >= 0) {
      if (static_cast<size_t>(sent) != data.size()) {
        return MakeError(ErrorCode::kProtocol, "sendmsg: short datagram");
      }
      return OkStatus();
    }
    if (errno != EINTR) {
      return SysError("sendmsg", errno);
    }
  }
}

Result<Received> ReceiveWithFds(int socket, std::span<std::byte> buffer, size_t max_fds) {
  if (max_fds > kMaxFdsPerDatagram) {
    return MakeError(ErrorCode::kInvalidInput, "recvmsg: more descriptors than supported");
  }
  std::array<UniqueFd, kMaxFdsPerDatagram> fds;
  Result<ReceivedInto> got = ReceiveWithFdsInto(socket, buffer, std::span(fds.data(), max_fds));
  if (!got.ok()) {
    return std::move(got).error();
  }
  Received received;
  received.bytes = got->bytes;
  for (size_t i = 0; i < got->fds; ++i) {
    received.fds.push_back(std::move(fds[i]));
  }
  return received;
}

Result<ReceivedInto> ReceiveWithFdsInto(int socket, std::span<std::byte> buffer,
                                        std::span<UniqueFd> fds) {
  if (fds.size() > kMaxFdsPerDatagram) {
    return MakeError(ErrorCode::kInvalidInput, "recvmsg: more descriptors than supported");
  }
  iovec iov{buffer.data(), buffer.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  // Room for fds.size() descriptors (CMSG_SPACE may round up to one more: counted below).
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int) * kMaxFdsPerDatagram)> control{};
  msg.msg_control = control.data();
  msg.msg_controllen = CMSG_SPACE(sizeof(int) * (fds.empty() ? 1 : fds.size()));
  ssize_t got = 0;
  do {
    got = recvmsg(socket, &msg, MSG_CMSG_CLOEXEC);
  } while (got < 0 && errno == EINTR);
  if (got < 0) {
    return SysError("recvmsg", errno);
  }
  ReceivedInto received;
  received.bytes = static_cast<size_t>(got);
  bool too_many = false;
  for (cmsghdr* cmsg = CMSG_FIRSTHDR(&msg); cmsg != nullptr; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
    if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
      const size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
        if (received.fds < fds.size()) {
          fds[received.fds++].Reset(fd);
        } else {
          close(fd);
          too_many = true;
        }
      }
    }
  }
  if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
    return MakeError(ErrorCode::kProtocol, "recvmsg: datagram or descriptors truncated");
  }
  if (too_many) {
    return MakeError(ErrorCode::kProtocol, "recvmsg: too many descriptors");
  }
  return received;
}

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t written = write(fd, data.data(), data.size());
    if (written < 0) {
      if (errno == EINTR) {
        continue;
      }
      return SysError("write", errno);
    }
    data.remove_prefix(static_cast<size_t>(written));
  }
  return OkStatus();
}

}  // namespace pyexec::sys
