#include "support/command.h"

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>

#include "sys/fds.h"
#include "sys/process.h"
#include "zygote/client.h"

namespace pyexec::testing {

CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& input,
                         const std::vector<std::string>& env, int timeout_seconds) {
  CommandResult result;
  Result<sys::PipeEnds> in = sys::MakePipe(false);
  Result<sys::PipeEnds> out = sys::MakePipe(true);
  Result<sys::PipeEnds> err = sys::MakePipe(true);
  if (!in.ok() || !out.ok() || !err.ok()) {
    return result;
  }
  sys::SpawnSpec spec;
  spec.path = argv.at(0);
  spec.argv = argv;
  spec.env = env;
  if (spec.env.empty()) {
    spec.env = zygote::ZygoteEnvironment();
  }
  spec.fd_map = {in->read.get(), out->write.get(), err->write.get()};
  Result<sys::ChildProcess> child = sys::Spawn(spec);
  if (!child.ok()) {
    return result;
  }
  in->read.Reset();
  out->write.Reset();
  err->write.Reset();
  // Small inputs fit the pipe buffer; tests do not send more than 64 KiB.
  (void)sys::WriteAll(in->write.get(), input);
  in->write.Reset();

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  std::array<sys::UniqueFd*, 2> fds = {&out->read, &err->read};
  std::array<std::string*, 2> sinks = {&result.out, &result.err};
  while (out->read || err->read) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      (void)child->Signal(SIGKILL);
      break;
    }
    std::array<pollfd, 2> polled{{{out->read.get(), POLLIN, 0}, {err->read.get(), POLLIN, 0}}};
    if (poll(polled.data(), polled.size(), static_cast<int>(left.count())) < 0 && errno != EINTR) {
      break;
    }
    for (size_t i = 0; i < 2; ++i) {
      if (polled[i].revents == 0) {
        continue;
      }
      char buffer[65536];
      const ssize_t got = read(fds[i]->get(), buffer, sizeof(buffer));
      if (got > 0) {
        sinks[i]->append(buffer, static_cast<size_t>(got));
      } else if (got == 0 || errno != EAGAIN) {
        fds[i]->Reset();
      }
    }
  }
  Result<int> status = child->Wait();
  if (status.ok() && WIFEXITED(*status)) {
    result.exit_code = WEXITSTATUS(*status);
  }
  return result;
}

CommandResult RunPyexec(const std::vector<std::string>& args, const std::string& input) {
  std::vector<std::string> argv = {PYEXEC_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, input);
}

}  // namespace pyexec::testing
