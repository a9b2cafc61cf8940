// Parking without busy-polling: a futex-backed event count.
//
// A thread that finds nothing to do announces itself, re-checks its
// condition, then sleeps until a notifier publishes new work:
//
//   EventCount::Key key = ec.PrepareWait();
//   if (HaveWork()) { ec.CancelWait(); } else { ec.Wait(key, deadline); }
//   ...
//   PublishWork(); ec.Notify();   // on another thread
#ifndef NIMIFY_PIPELINE_EVENT_COUNT_H_
#define NIMIFY_PIPELINE_EVENT_COUNT_H_

#include <atomic>
#include <chrono>
#include <cstdint>

namespace nimify::pipeline {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;
inline constexpr Deadline kNoDeadline = Deadline::max();

// Sleeps while *word == expected, until woken or `deadline` passes. Returns
// false only on timeout; spurious returns are possible, so callers re-check.
bool FutexWaitUntil(std::atomic<std::uint32_t>* word, std::uint32_t expected,
                    Deadline deadline) noexcept;
// Wakes every thread sleeping on `word`.
void FutexWakeAll(std::atomic<std::uint32_t>* word) noexcept;

// Thread safety
//   Any number of waiters and notifiers may use one EventCount concurrently.
//   The waiter announces itself with an acq_rel read-modify-write of
//   `waiters_` before re-checking its condition; the notifier publishes its
//   work, then does an acq_rel read-modify-write of `waiters_` (adding 0).
//   RMWs of one atomic are totally ordered, so either the notifier's comes
//   first (the waiter's RMW synchronizes with it and its re-check sees the
//   work) or the waiter's does (the notifier reads a non-zero count and bumps
//   `epoch_`). A bumped epoch makes a pending futex wait return at once, so no
//   wake-up is lost between the re-check and the sleep. (RMWs rather than
//   seq_cst fences: ThreadSanitizer models the former, not the latter.)
class EventCount {
 public:
  using Key = std::uint32_t;

  EventCount() = default;
  EventCount(const EventCount&) = delete;
  EventCount& operator=(const EventCount&) = delete;

  // Announces a waiter. Must be followed by exactly one CancelWait() or Wait().
  Key PrepareWait() noexcept {
    // acq_rel: orders the announcement before the caller's re-check (see Thread safety).
    waiters_.fetch_add(1, std::memory_order_acq_rel);
    // acquire: a changed epoch implies the notifier's work is visible.
    return epoch_.load(std::memory_order_acquire);
  }

  void CancelWait() noexcept {
    // relaxed: the count only decides whether notifiers bother to wake.
    waiters_.fetch_sub(1, std::memory_order_relaxed);
  }

  // Sleeps until Notify() after PrepareWait() returned `key`, or the deadline.
  // Returns false on timeout.
  bool Wait(Key key, Deadline deadline = kNoDeadline) noexcept {
    bool notified = true;
    // acquire: pairs with Notify's release increment.
    while (epoch_.load(std::memory_order_acquire) == key) {
      if (!FutexWaitUntil(&epoch_, key, deadline)) {
        notified = epoch_.load(std::memory_order_acquire) != key;
        break;
      }
    }
    waiters_.fetch_sub(1, std::memory_order_relaxed);
    return notified;
  }

  // Call after publishing work. Cheap when nobody waits: one uncontended RMW.
  void Notify() noexcept {
    // acq_rel RMW: orders the caller's publication against PrepareWait (see Thread safety).
    if (waiters_.fetch_add(0, std::memory_order_acq_rel) != 0) NotifySlow();
  }

  // Wakes waiters unconditionally (for shutdown and rare control messages).
  void NotifyAll() noexcept { NotifySlow(); }

 private:
  void NotifySlow() noexcept {
    // release: a waiter that sees the new epoch also sees the published work.
    epoch_.fetch_add(1, std::memory_order_release);
    FutexWakeAll(&epoch_);
  }

  std::atomic<std::uint32_t> epoch_{0};
  std::atomic<std::uint32_t> waiters_{0};
};

}  // namespace nimify::pipeline

#endif  // NIMIFY_PIPELINE_EVENT_COUNT_H_
