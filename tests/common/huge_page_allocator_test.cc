#include "common/huge_page_allocator.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace nimify::common {
namespace {

struct Slot {
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  std::uint64_t c = 0;
};

// The mapping (from /proc/self/smaps) that holds `p`, as its whole entry.
std::string SmapsEntryOf(const void* p) {
  std::ifstream smaps("/proc/self/smaps");
  const auto addr = reinterpret_cast<std::uintptr_t>(p);
  std::string line, entry;
  bool in = false;
  while (std::getline(smaps, line)) {
    std::uintptr_t begin = 0, end = 0;
    char dash = 0;
    std::istringstream head(line);
    if (head >> std::hex >> begin >> dash >> end && dash == '-') {
      if (in) return entry;
      in = addr >= begin && addr < end;
      entry.clear();
    }
    if (in) entry += line + "\n";
  }
  return in ? entry : "";
}

TEST(HugePageAllocatorTest, LargeArraysAreAlignedZeroedAndAdvised) {
  HugePageAllocator<Slot> alloc;
  const std::size_t n = (3 * kHugePageBytes) / sizeof(Slot) + 5;  // over 3 MiB
  Slot* p = alloc.allocate(n);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % kHugePageBytes, 0u);
  // A fresh anonymous mapping reads as zeros, to its last element.
  EXPECT_EQ(p[0].a, 0u);
  EXPECT_EQ(p[n - 1].c, 0u);
  p[n - 1].c = 7;
  const std::string entry = SmapsEntryOf(p);
  ASSERT_FALSE(entry.empty());
  // The advice marks the mapping ("hg" in VmFlags) whether or not the kernel
  // then grants huge pages; a kernel built without them refuses it.
  if (std::ifstream("/sys/kernel/mm/transparent_hugepage/enabled").good()) {
    EXPECT_NE(entry.find(" hg"), std::string::npos) << entry;
  }
  alloc.deallocate(p, n);
}

TEST(HugePageAllocatorTest, SmallArraysComeFromTheHeap) {
  HugePageAllocator<Slot> alloc;
  Slot* p = alloc.allocate(16);
  ASSERT_NE(p, nullptr);
  const std::string entry = SmapsEntryOf(p);
  EXPECT_EQ(entry.find(" hg"), std::string::npos) << entry;
  alloc.deallocate(p, 16);
}

TEST(HugePageAllocatorTest, VectorGrowsAcrossTheThresholdKeepingItsElements) {
  std::vector<Slot, HugePageAllocator<Slot>> v;
  const std::size_t n = (5 * kHugePageBytes) / sizeof(Slot);
  for (std::size_t i = 0; i < n; ++i) v.push_back(Slot{i, i * 2, i * 3});
  for (std::size_t i = 0; i < n; i += 997) {
    ASSERT_EQ(v[i].a, i);
    ASSERT_EQ(v[i].c, i * 3);
  }
  EXPECT_EQ(v.back().b, (n - 1) * 2);
  v.assign(64, Slot{});  // shrinks the contents, keeps the capacity
  v.shrink_to_fit();     // back to a heap allocation
  EXPECT_EQ(v.size(), 64u);
}

TEST(HugePageAllocatorTest, RefusesImpossibleSizes) {
  HugePageAllocator<Slot> alloc;
  EXPECT_THROW((void)alloc.allocate(SIZE_MAX / 2), std::bad_array_new_length);
}

}  // namespace
}  // namespace nimify::common
