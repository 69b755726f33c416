#include "core/huge_page_memory.h"

#include <sys/mman.h>

#include <cstdint>
#include <new>
#include <utility>

namespace swapline {
namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;

std::size_t RoundUp(std::size_t bytes) { return (bytes + kHugePage - 1) / kHugePage * kHugePage; }

}  // namespace

HugePageMemory::HugePageMemory(std::size_t bytes) : bytes_(bytes) {
  if (bytes == 0) return;
  // Map a huge page more than needed and give back what lies outside the aligned span.
  const std::size_t span = RoundUp(bytes);
  void* mapped = mmap(nullptr, span + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED) throw std::bad_alloc();
  auto* start = static_cast<char*>(mapped);
  auto* aligned = reinterpret_cast<char*>(RoundUp(reinterpret_cast<std::uintptr_t>(start)));
  if (aligned > start) munmap(start, static_cast<std::size_t>(aligned - start));
  char* end = aligned + span;
  if (start + span + kHugePage > end) munmap(end, static_cast<std::size_t>(start + span + kHugePage - end));
  madvise(aligned, span, MADV_HUGEPAGE);  // advice: without it the block is ordinary memory
  data_ = aligned;
}

HugePageMemory::HugePageMemory(HugePageMemory&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

HugePageMemory& HugePageMemory::operator=(HugePageMemory&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) munmap(data_, RoundUp(bytes_));
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

HugePageMemory::~HugePageMemory() {
  if (data_ != nullptr) munmap(data_, RoundUp(bytes_));
}

}  // namespace swapline
