// Creating and moving file descriptors: pipes, socket pairs, sealed memfds and SCM_RIGHTS
// passing. Every descriptor is created O_CLOEXEC. Used by the server and the zygote.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

#include "sys/unique_fd.h"
#include "util/result.h"

namespace pyexec::sys {

struct PipeEnds {
  UniqueFd read;
  UniqueFd write;
};

// pipe2(O_CLOEXEC); `nonblocking_read` sets O_NONBLOCK on the read end only.
Result<PipeEnds> MakePipe(bool nonblocking_read);

// socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC): message boundaries are preserved, and a
// message either arrives whole with its descriptors or not at all.
Result<PipeEnds> MakeSeqpacketPair();

// A memfd holding exactly `contents`, sealed against writes, growth and shrinking, so the
// receiver can trust that what it reads is what was written.
Result<UniqueFd> MakeSealedMemfd(const char* name, std::string_view contents);

// A sealed memfd holding the program `image`, reopened read-only: execveat() refuses a file
// that any descriptor holds open for writing (ETXTBSY), and memfd_create's own fd is O_RDWR.
Result<UniqueFd> MakeExecutableMemfd(const char* name, std::string_view image);

Result<UniqueFd> OpenReadOnly(const char* path);
Result<UniqueFd> OpenWriteOnly(const char* path);

Status SetNonBlocking(int fd);

// At most this many descriptors go with one datagram, either way.
inline constexpr size_t kMaxFdsPerDatagram = 64;

// Sends one datagram with `fds` attached (SCM_RIGHTS), MSG_NOSIGNAL. Allocates nothing.
Status SendWithFds(int socket, std::span<const std::byte> data, std::span<const int> fds);

struct Received {
  size_t bytes = 0;  // 0 with no fds means the peer closed the socket
  std::vector<UniqueFd> fds;
};
// Receives one datagram into `buffer`, taking ownership of any attached descriptors
// (MSG_CMSG_CLOEXEC). A truncated datagram or control message is a kProtocol error.
Result<Received> ReceiveWithFds(int socket, std::span<std::byte> buffer, size_t max_fds);

struct ReceivedInto {
  size_t bytes = 0;  // 0 with no fds means the peer closed the socket
  size_t fds = 0;    // the first `fds` of the caller's span now hold them
};
// The same without allocating: the descriptors go into `fds` (at most kMaxFdsPerDatagram; any
// that do not fit are closed, and that is a kProtocol error; on an error, those that did fit
// stay in `fds`, whose UniqueFds close them). For the zygote, whose writes to malloc's heap
// between forks would split the heap's huge pages.
Result<ReceivedInto> ReceiveWithFdsInto(int socket, std::span<std::byte> buffer,
                                        std::span<UniqueFd> fds);

// Writes all of `data`, retrying on EINTR and short writes (blocking fds only).
Status WriteAll(int fd, std::string_view data);

}  // namespace pyexec::sys
