// Unit tests for sys::HugePageArenas, the zygote's reservation for Python's object arenas: its
// blocks, its free list, its seal, and that it becomes writable (so THP-backable) in whole huge
// pages; and for sys::AnonymousRegion, the zygote's bookkeeping memory. Real mappings, read back
// from /proc/self/smaps.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "sys/files.h"
#include "sys/memory.h"

namespace pyexec::sys {
namespace {

constexpr uint64_t kHugePage = uint64_t{2} << 20;
constexpr uint64_t kBlock = uint64_t{1} << 20;
constexpr uint64_t kReserve = uint64_t{64} << 20;

struct Mapping {
  uint64_t start = 0;
  uint64_t end = 0;
  std::string perms;
  uint64_t anon_huge_kb = 0;
  std::string vm_flags;  // "rd wr mr mw me ac nh", say
};

// The mapping of /proc/self/smaps that contains `address`.
Mapping MappingOf(const void* address) {
  const auto target = reinterpret_cast<uint64_t>(address);
  Result<std::string> smaps = ReadFile("/proc/self/smaps", 64 << 20);
  EXPECT_TRUE(smaps.ok());
  Mapping found;
  bool inside = false;
  size_t at = 0;
  while (smaps.ok() && at < smaps->size()) {
    const size_t end_of_line = smaps->find('\n', at);
    const std::string line = smaps->substr(at, end_of_line - at);
    at = end_of_line == std::string::npos ? smaps->size() : end_of_line + 1;
    uint64_t start = 0;
    uint64_t end = 0;
    char perms[5] = {};
    // NOLINTNEXTLINE(cert-err34-c): the count is checked
    if (sscanf(line.c_str(), "%" SCNx64 "-%" SCNx64 " %4s ", &start, &end, perms) == 3) {
      if (inside) {
        break;
      }
      inside = target >= start && target < end;
      if (inside) {
        found = Mapping{start, end, perms, 0, ""};
      }
      continue;
    }
    uint64_t kb = 0;
    // NOLINTNEXTLINE(cert-err34-c): the count is checked
    if (inside && sscanf(line.c_str(), "AnonHugePages: %" SCNu64 " kB", &kb) == 1) {
      found.anon_huge_kb = kb;
    }
    if (inside && line.rfind("VmFlags:", 0) == 0) {
      found.vm_flags = line.substr(8) + " ";
    }
  }
  return found;
}

// THP enabled, and MADV_COLLAPSE (Linux 6.1) able to make one huge page of a scratch mapping
// right now (it cannot on an older kernel, or with memory too fragmented).
bool CollapseWorksHere() {
  Result<std::string> enabled = ReadFile("/sys/kernel/mm/transparent_hugepage/enabled", 4096);
  if (!enabled.ok() || enabled->find("[never]") != std::string::npos) {
    return false;
  }
  HugePageArenas scratch;
  if (!scratch.Init(kHugePage, kBlock)) {
    return false;
  }
  auto* block = static_cast<uint8_t*>(scratch.Allocate());
  if (block == nullptr) {
    return false;
  }
  block[0] = 1;
  return scratch.Collapse().collapsed_bytes == kHugePage;
}

TEST(HugePageArenas, RejectsBlocksThatDoNotDivideAHugePageAndPartialHugePages) {
  HugePageArenas odd_block;
  EXPECT_FALSE(odd_block.Init(kReserve, 3 << 20));
  HugePageArenas partial;
  EXPECT_FALSE(partial.Init(kReserve + kBlock, kBlock));
  HugePageArenas fine;
  EXPECT_TRUE(fine.Init(kReserve, kBlock));
}

TEST(HugePageArenas, HandsOutAdjacentBlocksMadeWritableAHugePageAtATime) {
  HugePageArenas arenas;
  ASSERT_TRUE(arenas.Init(kReserve, kBlock));
  auto* first = static_cast<uint8_t*>(arenas.Allocate());
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(reinterpret_cast<uint64_t>(first) % kHugePage, 0U);
  EXPECT_TRUE(arenas.Owns(first));
  // One block handed out, the whole huge page around it writable: a 2 MiB range split between
  // read-write and PROT_NONE could never be backed by a huge page.
  const Mapping writable = MappingOf(first);
  EXPECT_EQ(writable.perms, "rw-p");
  EXPECT_EQ(writable.start, reinterpret_cast<uint64_t>(first));
  EXPECT_EQ(writable.end - writable.start, kHugePage);
  // Control: beyond it, the reservation is still not committed.
  EXPECT_EQ(MappingOf(first + kHugePage).perms, "---p");

  auto* second = static_cast<uint8_t*>(arenas.Allocate());
  EXPECT_EQ(second, first + kBlock);
  auto* third = static_cast<uint8_t*>(arenas.Allocate());
  EXPECT_EQ(third, first + 2 * kBlock);
  EXPECT_EQ(MappingOf(first).end - reinterpret_cast<uint64_t>(first), 2 * kHugePage);
  std::memset(third, 1, kBlock);
}

TEST(HugePageArenas, ReusesFreedBlocksUntilSealed) {
  HugePageArenas arenas;
  ASSERT_TRUE(arenas.Init(kReserve, kBlock));
  void* first = arenas.Allocate();
  void* second = arenas.Allocate();
  ASSERT_NE(second, nullptr);
  arenas.Free(first);
  EXPECT_EQ(arenas.Allocate(), first);
  arenas.Seal();
  EXPECT_EQ(arenas.Allocate(), nullptr);
  EXPECT_FALSE(arenas.Owns(&arenas));
}

TEST(HugePageArenas, RunsOutAtTheEndOfTheReservation) {
  HugePageArenas arenas;
  ASSERT_TRUE(arenas.Init(kHugePage, kBlock));
  EXPECT_NE(arenas.Allocate(), nullptr);
  EXPECT_NE(arenas.Allocate(), nullptr);
  EXPECT_EQ(arenas.Allocate(), nullptr);
}

TEST(HugePageArenas, CollapseBacksWhatWasHandedOutWithHugePages) {
  if (!CollapseWorksHere()) {
    GTEST_SKIP() << "no MADV_COLLAPSE here (THP disabled, a kernel before 6.1, or fragmentation)";
  }
  HugePageArenas arenas;
  ASSERT_TRUE(arenas.Init(kReserve, kBlock));
  auto* first = static_cast<uint8_t*>(arenas.Allocate());
  auto* second = static_cast<uint8_t*>(arenas.Allocate());
  ASSERT_NE(second, nullptr);
  std::memset(first, 1, kBlock);
  std::memset(second, 2, kBlock);
  // Freeing a block gives back its pages but the first: the huge page is split.
  arenas.Free(second);
  EXPECT_EQ(MappingOf(first).anon_huge_kb, 0U);
  const HugePageReport report = arenas.Collapse();
  EXPECT_TRUE(report.complete);
  EXPECT_EQ(report.candidate_bytes, kHugePage);
  EXPECT_EQ(report.collapsed_bytes, kHugePage);
  EXPECT_EQ(MappingOf(first).anon_huge_kb, kHugePage / 1024);
  EXPECT_EQ(first[kBlock - 1], 1);
}

TEST(HugePageArenas, CollapseStopsWhenAskedBetweenHugePages) {
  HugePageArenas arenas;
  ASSERT_TRUE(arenas.Init(kReserve, kBlock));
  for (int i = 0; i < 4; ++i) {  // two huge pages
    ASSERT_NE(arenas.Allocate(), nullptr);
  }
  int asked = 0;
  const HugePageReport report = arenas.Collapse([&asked] { return ++asked < 2; });
  EXPECT_FALSE(report.complete);
  EXPECT_EQ(asked, 2);
  EXPECT_EQ(report.candidate_bytes, kHugePage);  // the first one only
  // Control: not stopped, it considers both.
  const HugePageReport whole = arenas.Collapse([] { return true; });
  EXPECT_TRUE(whole.complete);
  EXPECT_EQ(whole.candidate_bytes, 2 * kHugePage);
}

// True when nothing is mapped at [base, base + bytes): a mapping placed there without
// replacing anything lands exactly there (it is removed again).
bool NothingMappedAt(std::byte* base, size_t bytes) {
  void* probe =
      mmap(base, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (probe == MAP_FAILED) {
    return false;
  }
  munmap(probe, bytes);
  return probe == base;
}

TEST(AnonymousRegion, IsAWritableMappingOfItsOwnInSmallPages_UnmappedWhenDestroyed) {
  if (!PathExists("/sys/kernel/mm/transparent_hugepage")) {
    GTEST_SKIP() << "no transparent huge pages in this kernel: MADV_NOHUGEPAGE means nothing";
  }
  constexpr size_t kBytes = size_t{1} << 20;
  std::byte* base = nullptr;
  {
    const AnonymousRegion region(kBytes);
    ASSERT_EQ(region.bytes().size(), kBytes);
    base = region.bytes().data();
    base[0] = std::byte{1};
    base[kBytes - 1] = std::byte{2};
    const Mapping mapping = MappingOf(base);
    EXPECT_LE(mapping.start, reinterpret_cast<uint64_t>(base));
    EXPECT_GE(mapping.end, reinterpret_cast<uint64_t>(base) + kBytes);
    EXPECT_EQ(mapping.perms, "rw-p");
    EXPECT_NE(mapping.vm_flags.find(" nh "), std::string::npos) << mapping.vm_flags;
    EXPECT_FALSE(NothingMappedAt(base, kBytes)) << "control: the probe sees the region";
  }
  EXPECT_TRUE(NothingMappedAt(base, kBytes)) << "still mapped after destruction";

  // Control: a mapping without MADV_NOHUGEPAGE has no "nh", so the check above can fail.
  void* plain = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(plain, MAP_FAILED);
  static_cast<std::byte*>(plain)[0] = std::byte{1};
  const Mapping control = MappingOf(plain);
  EXPECT_NE(control.start, 0u);
  EXPECT_EQ(control.vm_flags.find(" nh "), std::string::npos) << control.vm_flags;
  munmap(plain, kBytes);
}

}  // namespace
}  // namespace pyexec::sys
