// The zygote's memory layout, made cheap to fork: its anonymous memory backed by transparent
// huge pages, so that fork() copies one entry per 2 MiB instead of 512 and exit() tears down as
// few. A child writing to a shared huge page still copies only the 4 KiB it writes (the kernel
// splits the mapping on a copy-on-write fault). Used by the zygote after preloading, and again
// now and then to restore what its own writes split.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

namespace pyexec::sys {

struct HugePageReport {
  uint64_t candidate_bytes = 0;  // 2 MiB-aligned ranges considered
  uint64_t collapsed_bytes = 0;  // of which the kernel now backs with huge pages
  bool complete = true;          // false: stopped early by `keep_going`
};

// Asked before each huge page; false stops the work there (what is done stays done).
using KeepGoing = std::function<bool()>;

// madvise(MADV_HUGEPAGE) and MADV_COLLAPSE (Linux 6.1), one huge page at a time, on every
// 2 MiB-aligned range of the process's brk heap (malloc's). Best effort: where the kernel has no
// THP, or refuses a page, nothing changes but the report.
HugePageReport CollapseHeapIntoHugePages(const KeepGoing& keep_going = {});

// Makes malloc sort the free chunks it has not sorted yet into its bins: one 32 KiB request
// that no free chunk fits exactly, freed at once. Before each fork: otherwise a child's first
// sizeable allocation does it, writing to (so copying) pages all over the heap it shares with the
// zygote (~100 of them for every execution). Cheap when there is little to sort.
void SortMallocFreeChunks();

// In a forked child: memory it allocates from now on comes in 4 KiB pages, so that a child
// touching new memory is charged for what it uses, not for 2 MiB at a time. The huge pages it
// shares with the zygote stay mapped. Best effort.
void UseSmallPagesFromNowOn();

// A private anonymous mapping of its own, in 4 KiB pages (MADV_NOHUGEPAGE), unmapped on
// destruction: memory that a process writes often, kept out of malloc's heap (the zygote's
// bookkeeping between forks: each write to a heap page it shares with a child would copy that
// page and split the huge page around it). Empty when the mapping failed.
class AnonymousRegion {
 public:
  AnonymousRegion() = default;
  explicit AnonymousRegion(size_t bytes);
  AnonymousRegion(const AnonymousRegion&) = delete;
  AnonymousRegion& operator=(const AnonymousRegion&) = delete;
  ~AnonymousRegion();
  std::span<std::byte> bytes() const { return {base_, size_}; }

 private:
  std::byte* base_ = nullptr;
  size_t size_ = 0;
};

// One contiguous reservation of address space, backed by transparent huge pages where the
// kernel has them, handing out fixed-size blocks: Python's object arenas, which would otherwise
// be scattered 1 MiB mappings of 4 KiB pages. Not thread-safe (the GIL serializes its users).
class HugePageArenas {
 public:
  // Reserves `reserve_bytes` (MAP_NORESERVE: nothing is committed until touched) for blocks of
  // `block_bytes`, a divisor of 2 MiB. False when the reservation fails.
  bool Init(uint64_t reserve_bytes, uint64_t block_bytes);
  // A block, or nullptr once the reservation is used up (the caller falls back to mmap).
  void* Allocate();
  // Returns a block: its pages go back to the kernel, the block to the free list.
  void Free(void* block);
  // True when `pointer` is inside the reservation.
  bool Owns(const void* pointer) const;
  // MADV_COLLAPSE, one huge page at a time, on the part made writable so far: the blocks
  // Free() gave back split theirs (and are filled with zeroed memory again: the kernel ignores
  // khugepaged's max_ptes_none here), as do a forked process's writes. Best effort.
  HugePageReport Collapse(const KeepGoing& keep_going = {});
  // From now on Allocate() returns nullptr: a forked child's new arenas must be ordinary
  // mappings, which RLIMIT_AS counts (the reservation is address space it already has).
  void Seal() { sealed_ = true; }

 private:
  uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  uint64_t block_ = 0;
  uint64_t used_ = 0;          // bump pointer, in bytes from base_
  uint64_t writable_ = 0;      // [base_, base_ + writable_) is read-write, in whole huge pages
  void* free_list_ = nullptr;  // freed blocks, linked through their first word
  bool sealed_ = false;
};

}  // namespace pyexec::sys
