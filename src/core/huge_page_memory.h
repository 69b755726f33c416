// HugePageMemory: a fixed block of zeroed memory placed on transparent huge pages
// where the kernel gives them.
//
// A large table read at random spends much of its time on address translation: the
// landmark model's 66 MB of leaves span 16 000 pages of 4 KiB, so most of a fit's
// 7 500 leaf reads missed the TLB and walked the page tables, the more so when other
// work shares the caches (beside a process reading memory at random, a fit took 2.1 ms
// instead of 1.15; on huge pages 0.95). On 2 MiB pages the table spans 33. The block is
// mmapped on a 2 MiB boundary and advised MADV_HUGEPAGE, since kernels set to
// "madvise" (Debian's default) give huge pages only to memory that asks; where the
// kernel gives none, it is ordinary memory and works the same.
//
// Errors: a block that cannot be mapped throws std::bad_alloc, as operator new does.
//
// Thread safety: as a plain array; the block does not move when the object does.
#pragma once

#include <cstddef>

namespace swapline {

class HugePageMemory {
 public:
  HugePageMemory() = default;
  explicit HugePageMemory(std::size_t bytes);
  HugePageMemory(HugePageMemory&& other) noexcept;
  HugePageMemory& operator=(HugePageMemory&& other) noexcept;
  HugePageMemory(const HugePageMemory&) = delete;
  HugePageMemory& operator=(const HugePageMemory&) = delete;
  ~HugePageMemory();

  void* data() const { return data_; }
  std::size_t size() const { return bytes_; }

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace swapline
