#include "core/huge_page_memory.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

namespace swapline {
namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;

// The VmFlags line of the mapping in /proc/self/smaps that holds `address`; empty if none does.
std::string VmFlagsOf(const void* address) {
  const auto at = reinterpret_cast<std::uintptr_t>(address);
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    std::uintptr_t start = 0, end = 0;
    char dash = 0;
    std::istringstream range(line);
    if (range >> std::hex >> start >> dash >> end && dash == '-') {
      inside = start <= at && at < end;
    } else if (inside && line.rfind("VmFlags:", 0) == 0) {
      return line;
    }
  }
  return "";
}

TEST(HugePageMemoryTest, IsZeroedAlignedToAHugePageAndAdvisedForThem) {
  const std::size_t bytes = 5 * kHugePage + 123;
  HugePageMemory memory(bytes);
  ASSERT_NE(memory.data(), nullptr);
  EXPECT_EQ(memory.size(), bytes);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(memory.data()) % kHugePage, 0u);
  const auto* begin = static_cast<const unsigned char*>(memory.data());
  EXPECT_TRUE(std::all_of(begin, begin + bytes, [](unsigned char b) { return b == 0; }));
  std::fill_n(static_cast<unsigned char*>(memory.data()), bytes, 0xA5);
  // "hg": the kernel recorded MADV_HUGEPAGE for the whole block (smaps(5)).
  for (std::size_t offset : {std::size_t{0}, bytes - 1}) {
    const std::string flags = VmFlagsOf(begin + offset);
    ASSERT_FALSE(flags.empty()) << "no mapping holds offset " << offset;
    EXPECT_NE(flags.find(" hg"), std::string::npos) << flags;
  }
}

TEST(HugePageMemoryTest, MovesWithoutMovingTheBlockAndUnmapsIt) {
  HugePageMemory first(kHugePage);
  void* block = first.data();
  static_cast<char*>(block)[7] = 42;
  HugePageMemory second(std::move(first));
  EXPECT_EQ(first.data(), nullptr);
  EXPECT_EQ(first.size(), 0u);
  EXPECT_EQ(second.data(), block);
  EXPECT_EQ(static_cast<char*>(second.data())[7], 42);
  second = HugePageMemory();
  EXPECT_EQ(second.data(), nullptr);
  EXPECT_TRUE(VmFlagsOf(block).empty()) << "the block is still mapped";
}

TEST(HugePageMemoryTest, AnEmptyBlockMapsNothing) {
  HugePageMemory empty(0);
  EXPECT_EQ(empty.data(), nullptr);
  EXPECT_EQ(empty.size(), 0u);
}

}  // namespace
}  // namespace swapline
