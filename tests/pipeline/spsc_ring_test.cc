#include "pipeline/spsc_ring.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <numeric>
#include <thread>
#include <vector>

namespace nimify::pipeline {
namespace {

using namespace std::chrono_literals;

struct Item {
  std::uint64_t seq = 0;
  std::uint64_t check = 0;
};

std::unique_ptr<SpscRing<Item>> MakeRing(std::size_t capacity) {
  auto ring = SpscRing<Item>::Create(capacity);
  EXPECT_TRUE(ring.ok()) << ring.status().ToString();
  return std::move(ring).value();
}

TEST(SpscRingTest, RejectsCapacitiesThatAreNotPowersOfTwo) {
  for (std::size_t bad : {0u, 1u, 3u, 6u, 1000u}) {
    auto ring = SpscRing<Item>::Create(bad);
    EXPECT_EQ(ring.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(SpscRing<Item>::Create(2).ok());
  EXPECT_TRUE(SpscRing<Item>::Create(1024).ok());
}

TEST(SpscRingTest, SinglePushPopAndRefusalWhenFull) {
  auto ring = MakeRing(4);
  for (std::uint64_t i = 0; i < 4; ++i) EXPECT_TRUE(ring->TryPush({i, i * 3}));
  EXPECT_FALSE(ring->TryPush({99, 0}));
  EXPECT_FALSE(ring->TryPush({98, 0}, /*count_refusal=*/false));
  EXPECT_EQ(ring->refused(), 1u);
  Item out;
  for (std::uint64_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(ring->TryPop(&out));
    EXPECT_EQ(out.seq, i);
    EXPECT_EQ(out.check, i * 3);
  }
  EXPECT_FALSE(ring->TryPop(&out));
  EXPECT_EQ(ring->pushed(), 4u);
  EXPECT_EQ(ring->popped(), 4u);
}

TEST(SpscRingTest, BatchesWrapAroundInOrder) {
  auto ring = MakeRing(8);
  std::uint64_t next_in = 0;
  std::uint64_t next_out = 0;
  std::vector<Item> batch;
  std::vector<Item> out(8);
  // Odd batch sizes walk the indices across the wrap point many times.
  for (int round = 0; round < 1000; ++round) {
    batch.clear();
    const std::size_t n = 1 + static_cast<std::size_t>(round % 7);
    for (std::size_t i = 0; i < n; ++i) batch.push_back({next_in + i, ~(next_in + i)});
    const std::size_t pushed = ring->TryPushBatch(batch);
    next_in += pushed;
    const std::size_t popped = ring->PopBatch(out.data(), 1 + static_cast<std::size_t>(round % 5));
    for (std::size_t i = 0; i < popped; ++i) {
      ASSERT_EQ(out[i].seq, next_out);
      ASSERT_EQ(out[i].check, ~next_out);
      ++next_out;
    }
  }
  while (std::size_t n = ring->PopBatch(out.data(), out.size())) {
    for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(out[i].seq, next_out++);
  }
  EXPECT_EQ(next_in, next_out);
  EXPECT_GT(ring->refused(), 0u);  // the batches did overflow sometimes
  EXPECT_EQ(ring->pushed() + ring->refused(), [&] {
    std::uint64_t total = 0;
    for (int round = 0; round < 1000; ++round) total += 1 + static_cast<std::uint64_t>(round % 7);
    return total;
  }());
}

TEST(SpscRingTest, PeekStopsAtTheWrapPoint) {
  auto ring = MakeRing(8);
  std::vector<Item> six(6);
  ASSERT_EQ(ring->TryPushBatch(six), 6u);
  std::vector<Item> out(8);
  ASSERT_EQ(ring->PopBatch(out.data(), 6), 6u);
  for (std::uint64_t i = 0; i < 5; ++i) ASSERT_TRUE(ring->TryPush({i, 0}));
  // Slots 6, 7 then 0, 1, 2: the first view has two items.
  auto view = ring->Peek(8);
  ASSERT_EQ(view.size(), 2u);
  EXPECT_EQ(view[0].seq, 0u);
  ring->Release(2);
  view = ring->Peek(8);
  ASSERT_EQ(view.size(), 3u);
  EXPECT_EQ(view[2].seq, 4u);
  ring->Release(3);
  EXPECT_TRUE(ring->Peek(8).empty());
}

TEST(SpscRingTest, StagedItemsAreInvisibleUntilPublished) {
  auto ring = MakeRing(4);
  ASSERT_TRUE(ring->TryStage({1, 0}));
  ASSERT_TRUE(ring->TryStage({2, 0}));
  EXPECT_EQ(ring->staged(), 2u);
  Item out;
  EXPECT_FALSE(ring->TryPop(&out));
  ring->Publish();
  EXPECT_EQ(ring->staged(), 0u);
  ASSERT_TRUE(ring->TryPop(&out));
  EXPECT_EQ(out.seq, 1u);
  // Staging counts against capacity.
  ASSERT_TRUE(ring->TryStage({3, 0}));
  ASSERT_TRUE(ring->TryStage({4, 0}));
  ASSERT_TRUE(ring->TryStage({5, 0}));
  EXPECT_FALSE(ring->TryStage({6, 0}));
  EXPECT_EQ(ring->refused(), 1u);
  EXPECT_FALSE(ring->TryStage({7, 0}, /*count_refusal=*/false));
  EXPECT_EQ(ring->refused(), 1u);
}

// A quiet publish makes items visible without the wake-up, which the caller
// sends separately; with nothing staged it reports that nothing was published.
TEST(SpscRingTest, QuietPublishThenNotifyWakesTheConsumer) {
  auto ring = MakeRing(8);
  EXPECT_FALSE(ring->PublishQuietly());
  std::atomic<std::uint64_t> got{0};
  std::thread consumer([&] {
    Item out;
    if (ring->PopWait(&out, 1, std::chrono::steady_clock::now() + 10s) == 1) got.store(out.seq);
  });
  ASSERT_TRUE(ring->TryStage({42, 0}));
  EXPECT_TRUE(ring->PublishQuietly());
  EXPECT_FALSE(ring->PublishQuietly());
  EXPECT_EQ(ring->staged(), 0u);
  ring->NotifyConsumer();
  consumer.join();
  EXPECT_EQ(got.load(), 42u);
}

TEST(SpscRingTest, PushWaitTimesOutAndCountsTheRest) {
  auto ring = MakeRing(2);
  std::vector<Item> items(5);
  const auto start = Clock::now();
  EXPECT_EQ(ring->PushWait(items, start + 30ms), 2u);
  EXPECT_GE(Clock::now() - start, 30ms);
  EXPECT_EQ(ring->refused(), 3u);
  Item out;
  EXPECT_FALSE(ring->StageWait({1, 0}, Clock::now() + 5ms));
  EXPECT_EQ(ring->refused(), 4u);
  ASSERT_TRUE(ring->TryPop(&out));
}

TEST(SpscRingTest, PopWaitTimesOutWhenEmpty) {
  auto ring = MakeRing(4);
  Item out;
  const auto start = Clock::now();
  EXPECT_EQ(ring->PopWait(&out, 1, start + 20ms), 0u);
  EXPECT_GE(Clock::now() - start, 20ms);
}

TEST(SpscRingTest, BlockedProducerResumesWhenTheConsumerMakesRoom) {
  auto ring = MakeRing(4);
  std::vector<Item> items(4);
  ASSERT_EQ(ring->TryPushBatch(items), 4u);
  std::atomic<bool> pushed{false};
  std::thread producer([&] {
    std::vector<Item> more = {{10, 0}, {11, 0}};
    EXPECT_EQ(ring->PushWait(more, Clock::now() + 10s), 2u);
    pushed = true;
  });
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(pushed.load());
  std::vector<Item> out(4);
  EXPECT_EQ(ring->PopBatch(out.data(), 4), 4u);
  producer.join();
  EXPECT_TRUE(pushed.load());
  EXPECT_EQ(ring->PopBatch(out.data(), 4), 2u);
  EXPECT_EQ(out[0].seq, 10u);
  EXPECT_EQ(ring->refused(), 0u);
}

// Two threads move 2M items through a small ring with blocking on both sides:
// every item arrives once, in order, intact.
TEST(SpscRingTest, TwoThreadsTransferEverythingInOrder) {
  constexpr std::uint64_t kItems = 2'000'000;
  auto ring = MakeRing(256);
  std::thread producer([&] {
    std::vector<Item> batch;
    std::uint64_t seq = 0;
    while (seq < kItems) {
      batch.clear();
      const std::uint64_t n = std::min<std::uint64_t>(1 + seq % 97, kItems - seq);
      for (std::uint64_t i = 0; i < n; ++i)
        batch.push_back({seq + i, (seq + i) * 0x9e3779b97f4a7c15ull});
      ASSERT_EQ(ring->PushWait(batch, kNoDeadline), n);
      seq += n;
    }
  });
  std::vector<Item> out(64);
  std::uint64_t expect = 0;
  while (expect < kItems) {
    const std::size_t n = ring->PopWait(out.data(), out.size(), Clock::now() + 10s);
    ASSERT_GT(n, 0u);
    for (std::size_t i = 0; i < n; ++i) {
      ASSERT_EQ(out[i].seq, expect);
      ASSERT_EQ(out[i].check, expect * 0x9e3779b97f4a7c15ull);
      ++expect;
    }
  }
  producer.join();
  EXPECT_EQ(ring->pushed(), kItems);
  EXPECT_EQ(ring->refused(), 0u);
}

}  // namespace
}  // namespace nimify::pipeline
