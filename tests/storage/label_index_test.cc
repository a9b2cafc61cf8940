#include "storage/label_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <vector>

namespace nimify::storage {
namespace {

std::vector<std::uint32_t> Sorted(std::span<const std::uint32_t> s) {
  std::vector<std::uint32_t> v(s.begin(), s.end());
  std::sort(v.begin(), v.end());
  return v;
}

TEST(LabelIndexTest, MatchesAModelThroughAddsAndBatchedRemovals) {
  std::mt19937 rng(11);
  LabelIndex index;
  std::map<std::uint32_t, std::vector<LabelPair>> live;  // slot -> labels
  std::uint32_t next_slot = 0;
  std::vector<std::uint32_t> free_slots;
  for (int round = 0; round < 200; ++round) {
    // Add a few series (reusing freed slots, as the shard does).
    for (int i = 0; i < 20; ++i) {
      std::uint32_t slot;
      if (!free_slots.empty() && rng() % 2 == 0) {
        slot = free_slots.back();
        free_slots.pop_back();
      } else {
        slot = next_slot++;
      }
      std::vector<LabelPair> labels;
      for (std::uint32_t name = 1; name <= 4; ++name) {
        if (rng() % 4 == 0) continue;
        labels.push_back({name, 100 + static_cast<std::uint32_t>(rng() % (name * 3))});
      }
      index.Add(slot, labels);
      live[slot] = labels;
    }
    // Remove a random batch.
    std::vector<std::uint32_t> batch;
    for (const auto& [slot, labels] : live) {
      if (rng() % 3 == 0) batch.push_back(slot);
    }
    index.Remove(batch, [&](std::uint32_t slot) { return std::span<const LabelPair>(live[slot]); });
    for (std::uint32_t slot : batch) {
      live.erase(slot);
      free_slots.push_back(slot);
    }
    // Compare every list and every name's values with the model.
    std::map<std::pair<std::uint32_t, std::uint32_t>, std::vector<std::uint32_t>> want;
    for (const auto& [slot, labels] : live) {
      for (const LabelPair& l : labels) want[{l.name, l.value}].push_back(slot);
    }
    for (std::uint32_t name = 1; name <= 5; ++name) {
      std::set<std::uint32_t> values;
      index.ForEachValue(name, [&](std::uint32_t value, std::span<const std::uint32_t> slots) {
        EXPECT_TRUE(values.insert(value).second) << "value listed twice";
        auto it = want.find({name, value});
        ASSERT_NE(it, want.end()) << "stale list " << name << "=" << value;
        EXPECT_EQ(Sorted(slots), it->second);
      });
      for (std::uint32_t value = 100; value < 120; ++value) {
        auto it = want.find({name, value});
        EXPECT_EQ(Sorted(index.Postings(name, value)),
                  it == want.end() ? std::vector<std::uint32_t>{} : it->second);
        EXPECT_EQ(values.count(value) != 0, it != want.end());
      }
    }
    ASSERT_EQ(index.list_count(), want.size());
  }
}

// The small lists stay inline; crossing into the heap, moving and removing
// keep the contents and their order.
TEST(SlotListTest, GrowsFromInlineToHeapAndMovesAndRemoves) {
  std::vector<std::uint32_t> want;
  SlotList list;
  EXPECT_TRUE(list.empty());
  for (std::uint32_t i = 0; i < 37; ++i) {
    list.push_back(i * 3);
    want.push_back(i * 3);
    ASSERT_EQ(std::vector<std::uint32_t>(list.span().begin(), list.span().end()), want);
    EXPECT_EQ(list.HeapBytes() == 0, i < 2) << i;
  }
  SlotList moved(std::move(list));
  EXPECT_TRUE(list.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_EQ(std::vector<std::uint32_t>(moved.span().begin(), moved.span().end()), want);
  moved.RemoveIf([](std::uint32_t x) { return x % 2 == 1; });
  std::erase_if(want, [](std::uint32_t x) { return x % 2 == 1; });
  EXPECT_EQ(std::vector<std::uint32_t>(moved.span().begin(), moved.span().end()), want);

  SlotList small;
  small.push_back(7);
  small = std::move(moved);
  EXPECT_EQ(small.size(), want.size());
  small.Release();
  EXPECT_TRUE(small.empty());
  EXPECT_EQ(small.HeapBytes(), 0u);
  small.push_back(9);
  EXPECT_EQ(small.span()[0], 9u);

  SlotList inline_only;
  inline_only.push_back(1);
  inline_only.push_back(2);
  SlotList inline_moved(std::move(inline_only));
  EXPECT_EQ(inline_moved.size(), 2u);
  EXPECT_EQ(inline_moved.span()[1], 2u);
}

}  // namespace
}  // namespace nimify::storage
