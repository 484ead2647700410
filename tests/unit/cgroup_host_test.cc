// Unit tests for the pure parsers of cgroup/host.h (mountinfo, /proc/self/cgroup) and of
// cgroup/execution_cgroup.h (keyed counter files), on texts as real hosts write them.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "cgroup/execution_cgroup.h"
#include "cgroup/host.h"

namespace pyexec::cgroup {
namespace {

// ---- (a) a v1/v2 hybrid (systemd's "hybrid" layout, as on Ubuntu 20.04) -----------------------

constexpr char kHybridMountinfo[] =
    "22 28 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "25 22 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
    "26 25 0:24 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 "
    "cgroup2 rw\n"
    "27 25 0:25 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup "
    "cgroup rw,xattr,name=systemd\n"
    "31 25 0:29 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:15 - cgroup "
    "cgroup rw,cpuset\n"
    "32 25 0:30 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:16 - cgroup "
    "cgroup rw,memory\n"
    "33 25 0:31 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup "
    "rw,pids\n"
    "34 25 0:32 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:18 - cgroup "
    "cgroup rw,cpu,cpuacct\n";

constexpr char kHybridSelfCgroup[] =
    "12:pids:/process_api/abc\n"
    "11:cpu,cpuacct:/process_api/abc\n"
    "8:cpuset:/\n"
    "4:memory:/process_api/abc\n"
    "1:name=systemd:/process_api/abc\n"
    "0::/\n";

TEST(FindMountPoint, HybridFindsEachV1ControllerHierarchy) {
  EXPECT_EQ(FindMountPoint(kHybridMountinfo, "cgroup", "memory"), "/sys/fs/cgroup/memory");
  EXPECT_EQ(FindMountPoint(kHybridMountinfo, "cgroup", "pids"), "/sys/fs/cgroup/pids");
  EXPECT_EQ(FindMountPoint(kHybridMountinfo, "cgroup", "cpuset"), "/sys/fs/cgroup/cpuset");
}

TEST(FindMountPoint, HybridFindsTheUnifiedHierarchy) {
  EXPECT_EQ(FindMountPoint(kHybridMountinfo, "cgroup2", ""), "/sys/fs/cgroup/unified");
}

TEST(FindMountPoint, MatchesWholeControllerNamesOnly) {
  // "cpu" must not match the "cpuset" hierarchy listed before the "cpu,cpuacct" one.
  EXPECT_EQ(FindMountPoint(kHybridMountinfo, "cgroup", "cpu"), "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(FindMountPoint(kHybridMountinfo, "cgroup", "mem"), "");
  EXPECT_EQ(FindMountPoint(kHybridMountinfo, "cgroup", "systemd"), "");
}

TEST(FindMountPoint, IgnoresOtherFilesystemTypes) {
  // Neither a tmpfs whose options mention "memory" nor a cgroup2 mount is a v1 hierarchy.
  const std::string mountinfo =
      "50 25 0:40 / /mnt/memory rw,relatime - tmpfs memory rw,memory\n"
      "51 25 0:41 / /mnt/unified rw,relatime - cgroup2 cgroup2 rw,memory\n";
  EXPECT_EQ(FindMountPoint(mountinfo, "cgroup", "memory"), "");
  EXPECT_EQ(FindMountPoint(kHybridMountinfo, "tmpfs", ""), "/sys/fs/cgroup");
}

TEST(FindMountPoint, V1ControllerIsNotFoundAsCgroup2) {
  EXPECT_EQ(FindMountPoint(kHybridMountinfo, "cgroup2", "memory"), "");
}

TEST(FindOwnPath, HybridFindsTheV1PathOfEachController) {
  EXPECT_EQ(FindOwnPath(kHybridSelfCgroup, "memory"), "/process_api/abc");
  EXPECT_EQ(FindOwnPath(kHybridSelfCgroup, "pids"), "/process_api/abc");
  EXPECT_EQ(FindOwnPath(kHybridSelfCgroup, "cpuset"), "/");
}

TEST(FindOwnPath, HybridFindsTheV2Path) { EXPECT_EQ(FindOwnPath(kHybridSelfCgroup, ""), "/"); }

TEST(FindOwnPath, NamedHierarchyIsNotAController) {
  EXPECT_EQ(FindOwnPath(kHybridSelfCgroup, "systemd"), "");
  EXPECT_EQ(FindOwnPath(kHybridSelfCgroup, "name=systemd"), "/process_api/abc");
}

TEST(FindOwnPath, AbsentControllerIsEmpty) {
  EXPECT_EQ(FindOwnPath(kHybridSelfCgroup, "hugetlb"), "");
  EXPECT_EQ(FindOwnPath("", "memory"), "");
  EXPECT_EQ(FindOwnPath("", ""), "");
}

// ---- (b) pure v2 ------------------------------------------------------------------------------

constexpr char kV2Mountinfo[] =
    "24 29 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "29 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw,errors=remount-ro\n"
    "35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";

constexpr char kV2SelfCgroup[] = "0::/system.slice/x.service\n";

TEST(FindMountOptions, PureV2ReadsTheSuperOptionsOfTheUnifiedMount) {
  EXPECT_EQ(FindMountOptions(kV2Mountinfo, "cgroup2", ""),
            (std::vector<std::string>{"rw", "nsdelegate", "memory_recursiveprot"}));
  EXPECT_EQ(FindMountOptions(kHybridMountinfo, "cgroup2", ""), (std::vector<std::string>{"rw"}));
}

TEST(FindMountOptions, FavordynmodsIsASuperOption) {
  constexpr char kRemounted[] =
      "35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
      "rw,nsdelegate,favordynmods,memory_recursiveprot\n";
  const std::vector<std::string> options = FindMountOptions(kRemounted, "cgroup2", "");
  EXPECT_NE(std::find(options.begin(), options.end(), "favordynmods"), options.end());
}

TEST(FindMountOptions, NoSuchMountHasNoOptions) {
  EXPECT_TRUE(FindMountOptions(kV2Mountinfo, "cgroup", "memory").empty());
}

TEST(FindMountOptions, AV1HierarchyHasItsControllersAmongItsOptions) {
  EXPECT_EQ(FindMountOptions(kHybridMountinfo, "cgroup", "memory"),
            (std::vector<std::string>{"rw", "memory"}));
}

TEST(FindMountPoint, PureV2FindsTheUnifiedHierarchy) {
  EXPECT_EQ(FindMountPoint(kV2Mountinfo, "cgroup2", ""), "/sys/fs/cgroup");
}

TEST(FindMountPoint, PureV2HasNoV1Hierarchy) {
  EXPECT_EQ(FindMountPoint(kV2Mountinfo, "cgroup", "memory"), "");
  EXPECT_EQ(FindMountPoint(kV2Mountinfo, "cgroup", ""), "");
}

TEST(FindOwnPath, PureV2FindsTheUnifiedPath) {
  EXPECT_EQ(FindOwnPath(kV2SelfCgroup, ""), "/system.slice/x.service");
}

TEST(FindOwnPath, PureV2HasNoV1Path) {
  EXPECT_EQ(FindOwnPath(kV2SelfCgroup, "memory"), "");
  EXPECT_EQ(FindOwnPath(kV2SelfCgroup, "pids"), "");
}

TEST(FindOwnPath, V2PathMayContainColons) {
  // containerd with the systemd cgroup driver names scopes "<slice>:cri-containerd:<id>".
  EXPECT_EQ(FindOwnPath("0::/kubepods.slice/kubepods-pod1.slice/cri-containerd:abc123\n", ""),
            "/kubepods.slice/kubepods-pod1.slice/cri-containerd:abc123");
}

TEST(FindOwnPath, LastLineWithoutNewlineIsRead) {
  EXPECT_EQ(FindOwnPath("0::/system.slice/x.service", ""), "/system.slice/x.service");
}

// ---- (c) pure v1 with combined controllers ----------------------------------------------------

constexpr char kV1Mountinfo[] =
    "20 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw,data=ordered\n"
    "25 20 0:21 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "26 25 0:22 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:5 master:1 - "
    "cgroup cgroup rw,cpu,cpuacct\n"
    "27 25 0:23 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime - cgroup cgroup "
    "rw,memory\n"
    "28 25 0:24 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:7 - cgroup cgroup "
    "rw,pids\n";

constexpr char kV1SelfCgroup[] =
    "5:pids:/user.slice/user-1000.slice/session-2.scope\n"
    "4:memory:/user.slice/user-1000.slice/session-2.scope\n"
    "3:cpu,cpuacct:/user.slice\n"
    "1:name=systemd:/user.slice/user-1000.slice/session-2.scope\n";

TEST(FindMountPoint, V1FindsEitherNameOfACombinedHierarchy) {
  EXPECT_EQ(FindMountPoint(kV1Mountinfo, "cgroup", "cpuacct"), "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(FindMountPoint(kV1Mountinfo, "cgroup", "cpu"), "/sys/fs/cgroup/cpu,cpuacct");
}

TEST(FindMountPoint, V1ReadsLinesWithAnyNumberOfOptionalFields) {
  // Line 27 has no optional field, line 26 has two.
  EXPECT_EQ(FindMountPoint(kV1Mountinfo, "cgroup", "memory"), "/sys/fs/cgroup/memory");
  EXPECT_EQ(FindMountPoint(kV1Mountinfo, "cgroup", "pids"), "/sys/fs/cgroup/pids");
}

TEST(FindMountPoint, V1HasNoUnifiedHierarchy) {
  EXPECT_EQ(FindMountPoint(kV1Mountinfo, "cgroup2", ""), "");
}

TEST(FindOwnPath, V1FindsEitherNameOfACombinedController) {
  EXPECT_EQ(FindOwnPath(kV1SelfCgroup, "cpuacct"), "/user.slice");
  EXPECT_EQ(FindOwnPath(kV1SelfCgroup, "cpu"), "/user.slice");
  EXPECT_EQ(FindOwnPath(kV1SelfCgroup, "memory"), "/user.slice/user-1000.slice/session-2.scope");
}

TEST(FindOwnPath, V1HasNoUnifiedPath) { EXPECT_EQ(FindOwnPath(kV1SelfCgroup, ""), ""); }

// ---- (d) a bind of a sub-cgroup ---------------------------------------------------------------

TEST(FindMountPoint, IgnoresABindOfASubCgroup) {
  // Docker without a cgroup namespace: the container sees its own cgroup bound where the
  // hierarchy's root would be.
  const std::string mountinfo =
      "1070 1069 0:30 /docker/0123abcd /sys/fs/cgroup/memory ro,nosuid,nodev,noexec,relatime "
      "master:16 - cgroup cgroup rw,memory\n"
      "1071 1069 0:24 /docker/0123abcd /sys/fs/cgroup/unified ro,nosuid,nodev,noexec,relatime "
      "master:10 - cgroup2 cgroup2 rw\n";
  EXPECT_EQ(FindMountPoint(mountinfo, "cgroup", "memory"), "");
  EXPECT_EQ(FindMountPoint(mountinfo, "cgroup2", ""), "");
}

TEST(FindMountPoint, PrefersTheRootMountOverAnEarlierBindOfASubCgroup) {
  const std::string mountinfo =
      "40 25 0:30 /process_api /srv/jail/memory rw,relatime - cgroup cgroup rw,memory\n"
      "32 25 0:30 / /sys/fs/cgroup/memory rw,relatime shared:16 - cgroup cgroup rw,memory\n";
  EXPECT_EQ(FindMountPoint(mountinfo, "cgroup", "memory"), "/sys/fs/cgroup/memory");
}

TEST(FindMountPoint, SkipsMalformedLines) {
  const std::string mountinfo =
      "garbage\n"
      "\n"
      "1 2 - cgroup cgroup rw,memory\n"
      "32 25 0:30 / /sys/fs/cgroup/memory rw - cgroup\n"
      "33 25 0:30 / /mnt/memory rw,relatime - cgroup cgroup rw,memory\n";
  EXPECT_EQ(FindMountPoint(mountinfo, "cgroup", "memory"), "/mnt/memory");
  EXPECT_EQ(FindMountPoint("", "cgroup2", ""), "");
}

// ---- ReadKeyedValue ---------------------------------------------------------------------------

constexpr char kMemoryEvents[] =
    "low 0\n"
    "high 0\n"
    "max 1734\n"
    "oom 3\n"
    "oom_kill 2\n"
    "oom_group_kill 0\n";

TEST(ReadKeyedValue, ReadsMemoryEvents) {
  EXPECT_EQ(ReadKeyedValue(kMemoryEvents, "oom_kill"), 2u);
  EXPECT_EQ(ReadKeyedValue(kMemoryEvents, "oom"), 3u);
  EXPECT_EQ(ReadKeyedValue(kMemoryEvents, "max"), 1734u);
  EXPECT_EQ(ReadKeyedValue(kMemoryEvents, "oom_group_kill"), 0u);
}

TEST(ReadKeyedValue, MatchesWholeKeysOnly) {
  EXPECT_EQ(ReadKeyedValue("oom_group_kill 5\noom_kill 1\n", "oom_kill"), 1u);
  EXPECT_EQ(ReadKeyedValue("oom_kill 1\n", "kill"), 0u);
  EXPECT_EQ(ReadKeyedValue("oom_kill 1\n", "oom"), 0u);
}

TEST(ReadKeyedValue, ReadsCpuStat) {
  const std::string cpu_stat =
      "usage_usec 2458301\n"
      "user_usec 2101977\n"
      "system_usec 356324\n"
      "core_sched.force_idle_usec 0\n"
      "nr_periods 0\n"
      "nr_throttled 0\n"
      "throttled_usec 0\n"
      "nr_bursts 0\n"
      "burst_usec 0\n";
  EXPECT_EQ(ReadKeyedValue(cpu_stat, "usage_usec"), 2458301u);
  EXPECT_EQ(ReadKeyedValue(cpu_stat, "system_usec"), 356324u);
  EXPECT_EQ(ReadKeyedValue(cpu_stat, "burst_usec"), 0u);
}

TEST(ReadKeyedValue, ReadsV1MemoryOomControl) {
  const std::string oom_control =
      "oom_kill_disable 0\n"
      "under_oom 0\n"
      "oom_kill 4\n";
  EXPECT_EQ(ReadKeyedValue(oom_control, "oom_kill"), 4u);
  EXPECT_EQ(ReadKeyedValue(oom_control, "under_oom"), 0u);
}

TEST(ReadKeyedValue, AbsentKeyIsZero) {
  // memory.oom_control before Linux 4.13 has no oom_kill line.
  EXPECT_EQ(ReadKeyedValue("oom_kill_disable 0\nunder_oom 0\n", "oom_kill"), 0u);
  EXPECT_EQ(ReadKeyedValue("", "oom_kill"), 0u);
}

TEST(ReadKeyedValue, ReadsTheFullUnsignedRange) {
  EXPECT_EQ(ReadKeyedValue("usage_usec 18446744073709551615\n", "usage_usec"),
            18446744073709551615u);
}

TEST(ReadKeyedValue, ReadsTheLastLineWithoutNewline) {
  EXPECT_EQ(ReadKeyedValue("low 0\noom_kill 9", "oom_kill"), 9u);
}

// ---- autogroups -------------------------------------------------------------------------------

TEST(AutogroupsApply, InTheRootCpuGroupWithTheSysctlOn) {
  EXPECT_TRUE(AutogroupsApply(true, "1:cpu:/\n2:cpuacct:/\n4:memory:/a\n0::/\n", ""));
  EXPECT_TRUE(AutogroupsApply(true, "4:memory:/a\n0::/\n", ""));  // no v1 cpu hierarchy
  // Not in v2's root, but cpu is enabled nowhere in v2: still the root CPU group.
  EXPECT_TRUE(AutogroupsApply(true, kV2SelfCgroup, "memory pids\n"));
}

TEST(AutogroupsApply, NotWithTheSysctlOff) {
  EXPECT_FALSE(AutogroupsApply(false, "1:cpu:/\n0::/\n", ""));
}

TEST(AutogroupsApply, NotInAnotherCpuGroup) {
  EXPECT_FALSE(AutogroupsApply(true, kHybridSelfCgroup, ""));  // cpu,cpuacct:/process_api/abc
  EXPECT_FALSE(AutogroupsApply(true, kV2SelfCgroup, "cpu memory pids\n"));
}

}  // namespace
}  // namespace pyexec::cgroup
