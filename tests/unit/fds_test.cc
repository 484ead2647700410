// Unit tests for sys::SendWithFds and sys::ReceiveWithFds(Into): descriptors passed over a real
// socketpair, received close-on-exec and referring to the same files; more than the receiver
// has room for is an error that leaks none of them; a closed peer reads as 0 bytes.
#include "sys/fds.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <span>
#include <vector>

#include "sys/unique_fd.h"

namespace pyexec::sys {
namespace {

struct Pair {
  UniqueFd a;
  UniqueFd b;
};

Pair SeqPacketPair() {
  int fds[2] = {-1, -1};
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
  return Pair{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

Pipe MakePipe() {
  int fds[2] = {-1, -1};
  EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

bool SameFile(int a, int b) {
  struct stat sa {};
  struct stat sb {};
  return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

// True once no write end of the pipe is open anywhere in this process: its read end reports
// POLLHUP.
bool EveryWriteEndClosed(int read_end) {
  pollfd polled{read_end, POLLIN, 0};
  return poll(&polled, 1, 0) == 1 && (polled.revents & POLLHUP) != 0;
}

const std::array<std::byte, 3> kData = {std::byte{'a'}, std::byte{'b'}, std::byte{'c'}};

TEST(ReceiveWithFdsInto, TakesTheDatagramAndItsDescriptors_CloseOnExec) {
  Pair pair = SeqPacketPair();
  Pipe first = MakePipe();
  Pipe second = MakePipe();
  const std::array<int, 2> sent = {first.write.get(), second.write.get()};
  ASSERT_TRUE(SendWithFds(pair.a.get(), kData, sent).ok());

  std::array<std::byte, 8> buffer{};
  std::array<UniqueFd, 4> fds;
  Result<ReceivedInto> got = ReceiveWithFdsInto(pair.b.get(), buffer, fds);
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  EXPECT_EQ(got->bytes, kData.size());
  EXPECT_EQ(buffer[2], std::byte{'c'});
  ASSERT_EQ(got->fds, 2u);
  EXPECT_TRUE(SameFile(fds[0].get(), first.write.get()));
  EXPECT_TRUE(SameFile(fds[1].get(), second.write.get()));
  EXPECT_FALSE(SameFile(fds[0].get(), second.write.get()));  // control: the check can fail
  for (int i = 0; i < 2; ++i) {
    EXPECT_NE(fcntl(fds[i].get(), F_GETFD) & FD_CLOEXEC, 0);
  }
  EXPECT_FALSE(fds[2]);
}

// `count` descriptors sent, room for `room`. On x86-64 the control message for an odd room has
// space for one more (CMSG_SPACE rounds up to 8 bytes): with room for one, the kernel installs
// two, and the second is ours to close (alone: 2 sent; with MSG_CTRUNC for the rest: 5 sent);
// with room for two, the kernel drops the rest itself (MSG_CTRUNC).
void ExpectTooManyLeakNothing(size_t room, int count) {
  Pair pair = SeqPacketPair();
  std::vector<Pipe> pipes;
  std::vector<int> sent;
  for (int i = 0; i < count; ++i) {
    pipes.push_back(MakePipe());
    sent.push_back(pipes.back().write.get());
  }
  ASSERT_TRUE(SendWithFds(pair.a.get(), kData, sent).ok());
  for (Pipe& p : pipes) {
    p.write.Reset();  // only the copies in flight are left
    EXPECT_FALSE(EveryWriteEndClosed(p.read.get())) << "control: a copy is still in flight";
  }

  std::array<std::byte, 8> buffer{};
  std::array<UniqueFd, 2> fds;
  Result<ReceivedInto> got = ReceiveWithFdsInto(pair.b.get(), buffer, std::span(fds.data(), room));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, ErrorCode::kProtocol) << got.error().ToString();
  fds = {};  // what did fit is the caller's to close
  for (size_t i = 0; i < pipes.size(); ++i) {
    EXPECT_TRUE(EveryWriteEndClosed(pipes[i].read.get()))
        << "descriptor " << i << " of " << count << " leaked with room for " << room;
  }
}

TEST(ReceiveWithFdsInto, MoreDescriptorsThanRoom_IsAnErrorAndClosesEveryOneOfThem) {
  ExpectTooManyLeakNothing(1, 2);
  ExpectTooManyLeakNothing(1, 5);
  ExpectTooManyLeakNothing(2, 5);
}

TEST(ReceiveWithFdsInto, APeerThatClosed_ReadsAsNothing) {
  Pair pair = SeqPacketPair();
  pair.a.Reset();
  std::array<std::byte, 8> buffer{};
  std::array<UniqueFd, 2> fds;
  Result<ReceivedInto> got = ReceiveWithFdsInto(pair.b.get(), buffer, fds);
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  EXPECT_EQ(got->bytes, 0u);
  EXPECT_EQ(got->fds, 0u);
}

TEST(ReceiveWithFds, IsTheSameIntoAVector) {
  Pair pair = SeqPacketPair();
  Pipe pipe = MakePipe();
  const std::array<int, 1> sent = {pipe.write.get()};
  ASSERT_TRUE(SendWithFds(pair.a.get(), kData, sent).ok());
  std::array<std::byte, 8> buffer{};
  Result<Received> got = ReceiveWithFds(pair.b.get(), buffer, 1);
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  EXPECT_EQ(got->bytes, kData.size());
  ASSERT_EQ(got->fds.size(), 1u);
  EXPECT_TRUE(SameFile(got->fds[0].get(), pipe.write.get()));

  ASSERT_TRUE(
      SendWithFds(pair.a.get(), kData, std::array<int, 2>{pipe.write.get(), pipe.read.get()}).ok());
  EXPECT_FALSE(ReceiveWithFds(pair.b.get(), buffer, 1).ok()) << "two descriptors, room for one";
}

TEST(SendWithFds, MoreDescriptorsThanADatagramCarries_IsRefusedAndSendsNothing) {
  Pair pair = SeqPacketPair();
  Pipe pipe = MakePipe();
  const std::vector<int> sent(kMaxFdsPerDatagram + 1, pipe.write.get());
  Status status = SendWithFds(pair.a.get(), kData, sent);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kInvalidInput);
  pollfd polled{pair.b.get(), POLLIN, 0};
  EXPECT_EQ(poll(&polled, 1, 0), 0) << "a datagram was sent";
  // Control: the most a datagram carries does go.
  const std::vector<int> most(kMaxFdsPerDatagram, pipe.write.get());
  ASSERT_TRUE(SendWithFds(pair.a.get(), kData, most).ok());
  EXPECT_EQ(poll(&polled, 1, 0), 1);
}

}  // namespace
}  // namespace pyexec::sys
