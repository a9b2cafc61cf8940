// A bounded single-producer/single-consumer ring that moves items between two
// threads in batches, and parks (never spins) when it is empty or full.
//
//   NIMIFY_ASSIGN_OR_RETURN(auto ring, SpscRing<Item>::Create(1024));
//   ring->TryPushBatch(items);                         // producer thread
//   std::size_t n = ring->PopWait(out, 64, deadline);  // consumer thread
//
// Items can also be staged (written into the ring without being visible) and
// published together, so one release store and one wake-up check cover a batch.
#ifndef NIMIFY_PIPELINE_SPSC_RING_H_
#define NIMIFY_PIPELINE_SPSC_RING_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <type_traits>

#include "nimify/status.h"
#include "pipeline/event_count.h"

namespace nimify::pipeline {

// One x86-64 cache line; std::hardware_destructive_interference_size is not
// ABI-stable in GCC 12 (it warns), so the constant is spelt out.
inline constexpr std::size_t kCacheLineSize = 64;

// Thread safety
//   Exactly one producer thread calls the producer methods and exactly one
//   consumer thread the consumer methods; counters may be read from any thread.
//   Indices are 64-bit and only grow (they never wrap in practice), so
//   `tail - head` is the number of readable items.
//   Orderings:
//   - producer: writes slots, then `tail_.store(release)`: publishes the slot
//     contents to a consumer that loads `tail_` with acquire.
//   - consumer: reads slots, then `head_.store(release)`: the producer's
//     acquire load of `head_` proves those reads finished before it reuses a slot.
//   - each side keeps a private copy of the other's index and reloads it only
//     when that copy says empty/full, so the shared lines move rarely.
//   - parking uses EventCount (see event_count.h); a publish or release calls
//     Notify(), which costs a fence and a load when nobody sleeps.
//   Invariant: head_ <= tail_ <= write_ <= head_ + capacity.
template <typename T>
class SpscRing {
  static_assert(std::is_trivially_copyable_v<T> && std::is_default_constructible_v<T>,
                "ring items are copied as plain values");

 public:
  // `capacity` must be a power of two in [2, 2^30]. When `consumer_signal` is
  // given the ring notifies it after each publish instead of its own event
  // count, so one consumer can sleep on many rings (it must outlive the ring).
  static Result<std::unique_ptr<SpscRing>> Create(std::size_t capacity,
                                                  EventCount* consumer_signal = nullptr) {
    if (capacity < 2 || capacity > (std::size_t{1} << 30) || (capacity & (capacity - 1)) != 0) {
      return Status::InvalidArgument(
          "ring capacity must be a power of two between 2 and 2^30, got " +
          std::to_string(capacity));
    }
    return std::unique_ptr<SpscRing>(new SpscRing(capacity, consumer_signal));
  }

  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  std::size_t capacity() const noexcept { return mask_ + 1; }

  // ---- Producer side -------------------------------------------------------

  // Places and publishes one item; false when full, counted as refused unless
  // `count_refusal` is false (for control items that the caller retries).
  bool TryPush(const T& item, bool count_refusal = true) noexcept {
    if (!Place(item)) {
      if (count_refusal) CountRefused(1);
      return false;
    }
    Publish();
    return true;
  }

  // Places as many leading items as fit and publishes them; returns how many.
  // The rest are counted as refused.
  std::size_t TryPushBatch(std::span<const T> items) noexcept {
    const std::size_t placed = PlaceSome(items);
    if (placed != 0) Publish();
    if (placed != items.size()) CountRefused(items.size() - placed);
    return placed;
  }

  // Places all items, parking while the ring is full, until `deadline`.
  // Returns how many were placed; the rest are counted as refused.
  std::size_t PushWait(std::span<const T> items, Deadline deadline) noexcept {
    std::size_t placed = 0;
    while (true) {
      placed += PlaceSome(items.subspan(placed));
      Publish();
      if (placed == items.size()) return placed;
      if (!WaitForSpace(deadline)) {
        CountRefused(items.size() - placed);
        return placed;
      }
    }
  }

  // Writes an item without publishing it; false when full, counted as
  // refused unless `count_refusal` is false.
  bool TryStage(const T& item, bool count_refusal = true) noexcept {
    if (Place(item)) return true;
    if (count_refusal) CountRefused(1);
    return false;
  }

  // Like TryStage, but when full publishes what is staged and parks until
  // there is room or `deadline` passes (then false, counted as refused).
  bool StageWait(const T& item, Deadline deadline) noexcept {
    while (!Place(item)) {
      Publish();
      if (!WaitForSpace(deadline)) {
        CountRefused(1);
        return false;
      }
    }
    return true;
  }

  // StageWait with a relative limit; reads the clock only when the ring is full.
  template <typename Rep, typename Period>
  bool StageWaitFor(const T& item, std::chrono::duration<Rep, Period> max_wait) noexcept {
    if (Place(item)) return true;
    return StageWait(item, Clock::now() + max_wait);
  }

  // Items written but not yet published.
  std::size_t staged() const noexcept {
    return static_cast<std::size_t>(prod_.write - prod_.tail.load(std::memory_order_relaxed));
  }

  // Makes every staged item visible to the consumer and wakes it if it sleeps.
  void Publish() noexcept {
    if (PublishQuietly()) NotifyConsumer();
  }

  // Publish without the wake-up: returns whether anything was published, and
  // then the caller must call NotifyConsumer() (after publishing to other
  // rings, so that a woken consumer finds all of them filled).
  bool PublishQuietly() noexcept {
    // relaxed: only this thread writes tail_.
    if (prod_.write == prod_.tail.load(std::memory_order_relaxed)) return false;
    // release: the slot writes above become visible with the new tail.
    prod_.tail.store(prod_.write, std::memory_order_release);
    return true;
  }
  void NotifyConsumer() noexcept { consumer_signal_->Notify(); }

  // ---- Consumer side -------------------------------------------------------

  // A view of up to `max` readable items, contiguous in memory (so it may stop
  // at the wrap point). Follow with Release(n) for n <= the view's size.
  std::span<const T> Peek(std::size_t max) noexcept {
    // relaxed: only this thread writes head_.
    const std::uint64_t head = cons_.head.load(std::memory_order_relaxed);
    if (cons_.cached_tail == head) {
      // acquire: pairs with Publish's release, so the slots are fully written.
      cons_.cached_tail = prod_.tail.load(std::memory_order_acquire);
    }
    const std::uint64_t offset = head & mask_;
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(
        {cons_.cached_tail - head, static_cast<std::uint64_t>(max), capacity() - offset}));
    return {slots_.get() + offset, n};
  }

  // Frees the first n peeked items for the producer.
  void Release(std::size_t n) noexcept {
    if (n == 0) return;
    const std::uint64_t head = cons_.head.load(std::memory_order_relaxed) + n;
    // release: our reads of the freed slots happen before the producer reuses them.
    cons_.head.store(head, std::memory_order_release);
    // A blocked producer waits for wake_free_ slots (see WaitForSpace). The
    // cached tail is at most the real one, so this never undercounts the free
    // space and never skips a wake-up the producer waits for.
    if (capacity() - (cons_.cached_tail - head) >= wake_free_) not_full_.Notify();
  }

  // Copies out up to `max` items; returns how many.
  std::size_t PopBatch(T* out, std::size_t max) noexcept {
    std::size_t popped = 0;
    // Two rounds at most: before and after the wrap point.
    for (int round = 0; round < 2 && popped < max; ++round) {
      const std::span<const T> view = Peek(max - popped);
      if (view.empty()) break;
      std::copy(view.begin(), view.end(), out + popped);
      popped += view.size();
      Release(view.size());
    }
    return popped;
  }

  bool TryPop(T* out) noexcept { return PopBatch(out, 1) == 1; }

  // Like PopBatch, but parks while the ring is empty, until `deadline`.
  // Returns 0 only on timeout. Only for rings without an external consumer signal.
  std::size_t PopWait(T* out, std::size_t max, Deadline deadline) noexcept {
    while (true) {
      if (std::size_t n = PopBatch(out, max); n != 0) return n;
      const EventCount::Key key = consumer_signal_->PrepareWait();
      if (!EmptyForConsumer()) {
        consumer_signal_->CancelWait();
        continue;
      }
      if (!consumer_signal_->Wait(key, deadline)) return PopBatch(out, max);
    }
  }

  // True when the consumer has nothing to read (re-reads the producer's tail).
  bool EmptyForConsumer() noexcept {
    const std::uint64_t head = cons_.head.load(std::memory_order_relaxed);
    // acquire: as in Peek.
    cons_.cached_tail = prod_.tail.load(std::memory_order_acquire);
    return cons_.cached_tail == head;
  }

  // ---- Any thread ------------------------------------------------------------

  // Items published so far, items consumed so far, items refused so far.
  // relaxed: monotonic statistics, no data is read through them.
  std::uint64_t pushed() const noexcept { return prod_.tail.load(std::memory_order_relaxed); }
  std::uint64_t popped() const noexcept { return cons_.head.load(std::memory_order_relaxed); }
  std::uint64_t refused() const noexcept { return prod_.refused.load(std::memory_order_relaxed); }

  // Counts items the owner of the producer side gave up on for its own reasons.
  void CountRefused(std::uint64_t n) noexcept {
    // relaxed: a statistic; a single writer, so load+store is enough.
    prod_.refused.store(prod_.refused.load(std::memory_order_relaxed) + n,
                        std::memory_order_relaxed);
  }

 private:
  SpscRing(std::size_t capacity, EventCount* consumer_signal)
      : slots_(new T[capacity]()),
        mask_(capacity - 1),
        wake_free_(std::max<std::uint64_t>(1, capacity / 4)),
        consumer_signal_(consumer_signal != nullptr ? consumer_signal : &own_not_empty_) {}

  std::size_t FreeForProducer() noexcept {
    std::uint64_t used = prod_.write - prod_.cached_head;
    if (used == capacity()) {
      // acquire: pairs with Release's store, so the consumer is done with those slots.
      prod_.cached_head = cons_.head.load(std::memory_order_acquire);
      used = prod_.write - prod_.cached_head;
    }
    return static_cast<std::size_t>(capacity() - used);
  }

  bool Place(const T& item) noexcept {
    if (FreeForProducer() == 0) return false;
    slots_[prod_.write & mask_] = item;
    ++prod_.write;
    return true;
  }

  std::size_t PlaceSome(std::span<const T> items) noexcept {
    if (items.empty()) return 0;
    std::size_t free = FreeForProducer();
    if (free < items.size()) {
      // The cached head may be stale even when not full: refresh before giving up.
      // acquire: as in FreeForProducer.
      prod_.cached_head = cons_.head.load(std::memory_order_acquire);
      free = static_cast<std::size_t>(capacity() - (prod_.write - prod_.cached_head));
    }
    const std::size_t n = std::min(free, items.size());
    const std::size_t offset = static_cast<std::size_t>(prod_.write & mask_);
    const std::size_t first = std::min(n, capacity() - offset);
    std::copy(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(first),
              slots_.get() + offset);
    std::copy(items.begin() + static_cast<std::ptrdiff_t>(first),
              items.begin() + static_cast<std::ptrdiff_t>(n), slots_.get());
    prod_.write += n;
    return n;
  }

  // Parks until the consumer has freed wake_free_ slots (waking for every
  // released batch would cost a futex round trip per batch on both sides);
  // false when the deadline passed with no slot free.
  // REQUIRES: nothing staged (the consumer counts only published items).
  bool WaitForSpace(Deadline deadline) noexcept {
    while (true) {
      const EventCount::Key key = not_full_.PrepareWait();
      // acquire: as in FreeForProducer.
      prod_.cached_head = cons_.head.load(std::memory_order_acquire);
      if (capacity() - (prod_.write - prod_.cached_head) >= wake_free_) {
        not_full_.CancelWait();
        return true;
      }
      if (!not_full_.Wait(key, deadline)) {
        prod_.cached_head = cons_.head.load(std::memory_order_acquire);
        return prod_.write - prod_.cached_head < capacity();
      }
    }
  }

  struct alignas(kCacheLineSize) ProducerSide {
    std::atomic<std::uint64_t> tail{0};  // published items
    std::uint64_t write = 0;             // staged items (producer-private)
    std::uint64_t cached_head = 0;       // producer's copy of head
    std::atomic<std::uint64_t> refused{0};
  };
  struct alignas(kCacheLineSize) ConsumerSide {
    std::atomic<std::uint64_t> head{0};  // consumed items
    std::uint64_t cached_tail = 0;       // consumer's copy of tail
  };

  // Read-only after construction.
  alignas(kCacheLineSize) const std::unique_ptr<T[]> slots_;
  const std::uint64_t mask_;
  const std::uint64_t wake_free_;  // free slots that wake a blocked producer
  EventCount* const consumer_signal_;

  ProducerSide prod_;
  ConsumerSide cons_;
  alignas(kCacheLineSize) EventCount own_not_empty_;
  alignas(kCacheLineSize) EventCount not_full_;
};

}  // namespace nimify::pipeline

#endif  // NIMIFY_PIPELINE_SPSC_RING_H_
