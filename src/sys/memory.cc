#include "sys/memory.h"

#include <sys/mman.h>
#include <sys/prctl.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "sys/files.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25  // Linux 6.1, newer than glibc 2.36's headers
#endif

namespace pyexec::sys {
namespace {

constexpr uint64_t kHugePage = uint64_t{2} * 1024 * 1024;

// [start, end) of the brk heap.
std::vector<std::pair<uint64_t, uint64_t>> AnonymousMappings() {
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  Result<std::string> maps = ReadFile("/proc/self/maps", 16 << 20);
  if (!maps.ok()) {
    return ranges;
  }
  size_t at = 0;
  while (at < maps->size()) {
    const size_t end_of_line = maps->find('\n', at);
    const std::string line = maps->substr(at, end_of_line - at);
    at = end_of_line == std::string::npos ? maps->size() : end_of_line + 1;
    uint64_t start = 0;
    uint64_t end = 0;
    char perms[5] = {};
    uint64_t offset = 0;
    unsigned major = 0;
    unsigned minor = 0;
    uint64_t inode = 1;
    int name_at = 0;
    // NOLINTNEXTLINE(cert-err34-c): every field is checked through the count
    if (sscanf(line.c_str(), "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %x:%x %" SCNu64 " %n", &start,
               &end, perms, &offset, &major, &minor, &inode, &name_at) < 7) {
      continue;
    }
    const std::string name = line.substr(static_cast<size_t>(name_at));
    // Only the brk heap: it is densely used (collapsing a sparse mapping would fill it with
    // zeroed huge pages; MADV_COLLAPSE ignores khugepaged's max_ptes_none). Python's objects
    // have their own reservation (HugePageArenas::Collapse).
    const bool anonymous = inode == 0 && name == "[heap]";
    if (anonymous && std::strncmp(perms, "rw-p", 4) == 0) {
      ranges.emplace_back(start, end);
    }
  }
  return ranges;
}

// MADV_COLLAPSE on [first, last), 2 MiB-aligned, a huge page at a time: the kernel fails the
// whole call if one page fails, and a caller may need to stop between pages.
void CollapseEach(uint64_t first, uint64_t last, const KeepGoing& keep_going,
                  HugePageReport* report) {
  for (uint64_t page = first; page < last && report->complete; page += kHugePage) {
    if (keep_going && !keep_going()) {
      report->complete = false;
      break;
    }
    report->candidate_bytes += kHugePage;
    void* address = reinterpret_cast<void*>(page);  // NOLINT(performance-no-int-to-ptr)
    if (madvise(address, kHugePage, MADV_COLLAPSE) == 0) {
      report->collapsed_bytes += kHugePage;
    }
  }
}

}  // namespace

HugePageReport CollapseHeapIntoHugePages(const KeepGoing& keep_going) {
  HugePageReport report;
  for (const auto& [start, end] : AnonymousMappings()) {
    const uint64_t first = (start + kHugePage - 1) & ~(kHugePage - 1);
    const uint64_t last = end & ~(kHugePage - 1);
    if (last <= first) {
      continue;
    }
    void* address = reinterpret_cast<void*>(first);  // NOLINT(performance-no-int-to-ptr)
    if (madvise(address, last - first, MADV_HUGEPAGE) != 0) {
      continue;
    }
    CollapseEach(first, last, keep_going, &report);
    if (!report.complete) {
      break;
    }
  }
  return report;
}

void SortMallocFreeChunks() {
  // A request in the large-bin range (1 KiB and more) that no chunk fits exactly makes malloc
  // sort its unsorted chunks (up to 10,000 of them) into bins. 32 KiB: the heap serves it
  // (below the mmap threshold), and freeing it alone does not reach the 64 KiB at which free()
  // consolidates and may trim the heap. Volatile: the compiler would drop a malloc-free pair.
  void* volatile probe = malloc(size_t{32} * 1024);
  free(probe);
}

void UseSmallPagesFromNowOn() { (void)prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0); }

AnonymousRegion::AnonymousRegion(size_t bytes) {
  void* mapped = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mapped == MAP_FAILED) {
    return;
  }
  (void)madvise(mapped, bytes, MADV_NOHUGEPAGE);  // best effort: THP may be off anyway
  base_ = static_cast<std::byte*>(mapped);
  size_ = bytes;
}

AnonymousRegion::~AnonymousRegion() {
  if (base_ != nullptr) {
    munmap(base_, size_);
  }
}

bool HugePageArenas::Init(uint64_t reserve_bytes, uint64_t block_bytes) {
  if (block_bytes == 0 || kHugePage % block_bytes != 0 || reserve_bytes % kHugePage != 0) {
    return false;
  }
  // Over-reserve by one huge page to align the start on one.
  // PROT_NONE until a block is handed out: under strict overcommit (vm.overcommit_memory=2)
  // only writable private memory is committed, by the zygote and again by every fork.
  void* mapped = mmap(nullptr, reserve_bytes + kHugePage, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mapped == MAP_FAILED) {
    return false;
  }
  const auto start = reinterpret_cast<uintptr_t>(mapped);
  const uintptr_t aligned = (start + kHugePage - 1) & ~(kHugePage - 1);
  if (aligned > start) {
    munmap(mapped, aligned - start);
  }
  const uintptr_t end = start + reserve_bytes + kHugePage;
  if (end > aligned + reserve_bytes) {
    munmap(reinterpret_cast<void*>(aligned + reserve_bytes),  // NOLINT(performance-no-int-to-ptr)
           end - aligned - reserve_bytes);
  }
  base_ = reinterpret_cast<uint8_t*>(aligned);  // NOLINT(performance-no-int-to-ptr)
  size_ = reserve_bytes;
  block_ = block_bytes;
  (void)madvise(base_, size_, MADV_HUGEPAGE);  // no THP on this kernel: 4 KiB pages, still works
  return true;
}

void* HugePageArenas::Allocate() {
  if (sealed_) {
    return nullptr;
  }
  if (free_list_ != nullptr) {
    void* block = free_list_;
    std::memcpy(&free_list_, block, sizeof(free_list_));
    return block;
  }
  if (base_ == nullptr || used_ + block_ > size_) {
    return nullptr;
  }
  void* block = base_ + used_;
  if (used_ + block_ > writable_) {
    // A huge page at a time: a 2 MiB range split between read-write and PROT_NONE could only
    // be backed by 4 KiB pages. Commits at most one huge page beyond what is handed out.
    if (mprotect(base_ + writable_, kHugePage, PROT_READ | PROT_WRITE) != 0) {
      return nullptr;  // not committable: the caller's ordinary mmap will say so
    }
    writable_ += kHugePage;
  }
  used_ += block_;
  return block;
}

void HugePageArenas::Free(void* block) {
  if (sealed_) {
    // Never handed out again: only give the pages back.
    (void)madvise(block, block_, MADV_DONTNEED);
    return;
  }
  // Keep the first page: it holds the free-list link.
  const uint64_t page = 4096;
  (void)madvise(static_cast<uint8_t*>(block) + page, block_ - page, MADV_DONTNEED);
  std::memcpy(block, &free_list_, sizeof(free_list_));
  free_list_ = block;
}

HugePageReport HugePageArenas::Collapse(const KeepGoing& keep_going) {
  HugePageReport report;
  const auto first = reinterpret_cast<uint64_t>(base_);
  CollapseEach(first, first + writable_, keep_going, &report);
  return report;
}

bool HugePageArenas::Owns(const void* pointer) const {
  const auto* byte = static_cast<const uint8_t*>(pointer);
  return base_ != nullptr && byte >= base_ && byte < base_ + size_;
}

}  // namespace pyexec::sys
