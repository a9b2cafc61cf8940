#include "storage/packed_labels.h"

#include <gtest/gtest.h>

#include <random>
#include <utility>
#include <vector>

namespace nimify::storage {
namespace {

TEST(PackedLabelsTest, RoundTripsSmallAndLargeSetsAndMoves) {
  std::mt19937 rng(23);
  for (int trial = 0; trial < 500; ++trial) {
    std::vector<LabelPair> labels;
    const int n = static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) {
      // Ids of every varint width, including the largest.
      const std::uint32_t width = rng() % 5;
      const std::uint32_t value =
          width == 4 ? UINT32_MAX - (rng() % 3) : rng() % (1u << (7 * (width + 1)));
      labels.push_back({static_cast<std::uint32_t>(i), value});
    }
    PackedLabels packed;
    packed.Assign(labels);
    ASSERT_EQ(packed.size(), labels.size());
    ASSERT_EQ(packed.Unpack(), labels);
    PackedLabels moved(std::move(packed));
    EXPECT_TRUE(packed.empty());  // NOLINT(bugprone-use-after-move): documented moved-from state
    ASSERT_EQ(moved.Unpack(), labels);
    PackedLabels assigned;
    assigned.Assign(std::vector<LabelPair>{{1, 2}});
    assigned = std::move(moved);
    ASSERT_EQ(assigned.Unpack(), labels);
    std::size_t varint_bytes = 0;
    for (const LabelPair& l : labels) {
      for (std::uint32_t v : {l.name, l.value}) {
        varint_bytes += 1;
        while (v >= 0x80) {
          v >>= 7;
          ++varint_bytes;
        }
      }
    }
    EXPECT_EQ(assigned.HeapBytes() > 0, varint_bytes > 28) << varint_bytes;
  }
}

TEST(PackedLabelsTest, TypicalSeriesNeedNoAllocation) {
  // Six labels with ids below 2^14 pack into at most 24 bytes.
  PackedLabels packed;
  packed.Assign(
      std::vector<LabelPair>{{0, 9000}, {1, 12000}, {2, 300}, {3, 16000}, {4, 5}, {5, 16383}});
  EXPECT_EQ(packed.HeapBytes(), 0u);
  PackedLabels big;
  std::vector<LabelPair> many(10, LabelPair{200'000, 300'000});
  big.Assign(many);
  EXPECT_GT(big.HeapBytes(), 0u);
  EXPECT_EQ(big.Unpack(), many);
  big.ForEach([](LabelPair) { return false; });  // early stop compiles and returns
}

}  // namespace
}  // namespace nimify::storage
