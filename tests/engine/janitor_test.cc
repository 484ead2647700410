// Removing executions' cgroups off the request's path: an execution's cgroup can be removed
// only once its last process has exited, which the janitor learns from v2's cgroup.events
// instead of retrying rmdir; whatever is still running in a handed-over cgroup is killed.
// Real cgroups of this host, real processes.
#include "service/janitor.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "cgroup/execution_cgroup.h"
#include "cgroup/host.h"
#include "sys/files.h"
#include "sys/unique_fd.h"

namespace pyexec::testing {
namespace {

// A process in an execution's cgroup, blocked until `release` is closed (or it is killed).
struct Member {
  pid_t pid = -1;
  sys::UniqueFd release;
};

// Forked before any thread of the test exists; the child makes only async-signal-safe calls.
Member JoinedProcess(const cgroup::ExecutionCgroup& cgroup) {
  int hold[2];
  int joined[2];
  if (pipe2(hold, O_CLOEXEC) != 0 || pipe2(joined, O_CLOEXEC) != 0) {
    return {};
  }
  const pid_t pid = fork();
  if (pid == 0) {
    close(hold[1]);
    close(joined[0]);
    for (const sys::UniqueFd& fd : cgroup.join_fds()) {
      if (write(fd.get(), "0", 1) != 1) {
        _exit(2);
      }
    }
    if (write(joined[1], "j", 1) != 1) {
      _exit(3);
    }
    char byte = 0;
    (void)read(hold[0], &byte, 1);  // returns at EOF: the test closed its end
    _exit(0);
  }
  close(hold[0]);
  close(joined[1]);
  char byte = 0;
  const bool ok = pid > 0 && read(joined[0], &byte, 1) == 1;  // it is in every hierarchy now
  close(joined[0]);
  Member member{pid, sys::UniqueFd(hold[1])};
  if (!ok) {
    member.pid = -1;
  }
  return member;
}

bool AllExist(const std::vector<std::string>& dirs) {
  for (const std::string& dir : dirs) {
    if (!sys::PathExists(dir)) {
      return false;
    }
  }
  return !dirs.empty();
}

bool NoneExists(const std::vector<std::string>& dirs) {
  for (const std::string& dir : dirs) {
    if (sys::PathExists(dir)) {
      return false;
    }
  }
  return true;
}

class JanitorCgroups : public ::testing::Test {
 protected:
  void SetUp() override {
    host_ = cgroup::Detect();
    if (host_.Mode() == "none") {
      GTEST_SKIP() << "no cgroup hierarchy is usable here";
    }
    Result<cgroup::CgroupTree> tree = cgroup::CgroupTree::Create(host_);
    ASSERT_TRUE(tree.ok()) << tree.error().ToString();
    tree_ = std::move(tree).value();
  }

  cgroup::ExecutionCgroup Make(const std::string& name) {
    Result<cgroup::ExecutionCgroup> made =
        tree_.CreateExecution(name, cgroup::CgroupLimits{64 << 20, 16});
    EXPECT_TRUE(made.ok()) << made.error().ToString();
    return made.ok() ? std::move(made).value() : cgroup::ExecutionCgroup();
  }

  cgroup::HostCgroups host_;
  cgroup::CgroupTree tree_;
};

TEST_F(JanitorCgroups, TryRemove_LeavesACgroupWithAProcess_AndCgroupEventsSaysWhenItIsGone) {
  cgroup::ExecutionCgroup cgroup = Make("janitor-try");
  Member member = JoinedProcess(cgroup);
  ASSERT_GT(member.pid, 0);
  cgroup.CloseJoinFds();
  const std::vector<std::string> dirs = cgroup.dirs();
  ASSERT_TRUE(AllExist(dirs));

  // A process is in it: nothing is removed, and the process is not touched.
  using Removal = cgroup::ExecutionCgroup::Removal;
  Result<Removal> first = cgroup.TryRemove();
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  EXPECT_NE(*first, Removal::kRemoved);
  if (host_.v2.present()) {
    EXPECT_EQ(*first, Removal::kPopulated);  // said by cgroup.events, before any rmdir
  }
  EXPECT_TRUE(AllExist(dirs));
  EXPECT_EQ(kill(member.pid, 0), 0);

  if (host_.v2.present()) {
    // The notification the janitor waits for: none while the process lives (the read in
    // TryRemove took in every change so far), one once it has exited.
    ASSERT_GE(cgroup.populated_fd(), 0);
    pollfd before{cgroup.populated_fd(), POLLPRI, 0};
    EXPECT_EQ(poll(&before, 1, 0), 0);
    member.release.Reset();
    pollfd after{cgroup.populated_fd(), POLLPRI, 0};
    EXPECT_EQ(poll(&after, 1, 10000), 1);
    EXPECT_NE(after.revents & POLLPRI, 0);
  } else {
    member.release.Reset();
  }
  int status = 0;
  ASSERT_EQ(waitpid(member.pid, &status, 0), member.pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;

  Result<Removal> second = cgroup.TryRemove();
  ASSERT_TRUE(second.ok()) << second.error().ToString();
  EXPECT_EQ(*second, Removal::kRemoved);
  EXPECT_TRUE(NoneExists(dirs));
  EXPECT_TRUE(cgroup.dirs().empty());
}

TEST_F(JanitorCgroups, HandedOver_WhatStillRunsIsKilledAndEveryCgroupRemoved) {
  cgroup::ExecutionCgroup busy = Make("janitor-busy");
  cgroup::ExecutionCgroup empty = Make("janitor-empty");
  Member member = JoinedProcess(busy);
  ASSERT_GT(member.pid, 0);
  busy.CloseJoinFds();
  std::vector<std::string> dirs = busy.dirs();
  dirs.insert(dirs.end(), empty.dirs().begin(), empty.dirs().end());
  ASSERT_TRUE(AllExist(dirs));
  {
    service::Janitor janitor;  // its thread starts after the fork above
    janitor.Remove(std::move(busy));
    janitor.Remove(std::move(empty));
    janitor.Drain();
    EXPECT_TRUE(NoneExists(dirs));
  }
  // The member never saw its release: it was SIGKILLed, and has exited (its cgroup is gone).
  int status = 0;
  const pid_t reaped = waitpid(member.pid, &status, WNOHANG);
  if (reaped == 0) {
    kill(member.pid, SIGKILL);
    (void)waitpid(member.pid, &status, 0);
    FAIL() << "the process in the handed-over cgroup is still running";
  }
  ASSERT_EQ(reaped, member.pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
}

TEST_F(JanitorCgroups, TwoTreesInOneProcess_RemovingOneLeavesTheOthersCgroups) {
  cgroup::ExecutionCgroup kept = Make("janitor-kept");
  ASSERT_TRUE(AllExist(kept.dirs()));
  std::vector<std::string> other_dirs;
  {
    Result<cgroup::CgroupTree> other = cgroup::CgroupTree::Create(host_);
    ASSERT_TRUE(other.ok()) << other.error().ToString();
    Result<cgroup::ExecutionCgroup> made =
        other->CreateExecution("janitor-other", cgroup::CgroupLimits{64 << 20, 16});
    ASSERT_TRUE(made.ok()) << made.error().ToString();
    other_dirs = made->dirs();
    ASSERT_TRUE(AllExist(other_dirs));
    // Positive control: the two trees' cgroups are different directories.
    for (const std::string& dir : other_dirs) {
      for (const std::string& mine : kept.dirs()) {
        EXPECT_NE(dir.substr(0, dir.rfind('/')), mine.substr(0, mine.rfind('/')));
      }
    }
  }  // the other tree and its execution are removed here
  EXPECT_TRUE(NoneExists(other_dirs));
  EXPECT_TRUE(AllExist(kept.dirs()));
}

}  // namespace
}  // namespace pyexec::testing
