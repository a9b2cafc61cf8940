#include "pipeline/event_count.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

namespace nimify::pipeline {
namespace {

static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t) &&
                  std::atomic<std::uint32_t>::is_always_lock_free,
              "the futex word must be a plain 32-bit integer");

std::uint32_t* FutexAddress(std::atomic<std::uint32_t>* word) noexcept {
  return reinterpret_cast<std::uint32_t*>(word);
}

}  // namespace

bool FutexWaitUntil(std::atomic<std::uint32_t>* word, std::uint32_t expected,
                    Deadline deadline) noexcept {
  timespec abs{};
  const timespec* timeout = nullptr;
  if (deadline != kNoDeadline) {
    // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time, which is steady_clock's.
    const auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
    if (ns <= 0) return false;
    abs.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    abs.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    timeout = &abs;
  }
  const long rc = syscall(SYS_futex, FutexAddress(word), FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG,
                          expected, timeout, nullptr, FUTEX_BITSET_MATCH_ANY);
  return !(rc == -1 && errno == ETIMEDOUT);
}

void FutexWakeAll(std::atomic<std::uint32_t>* word) noexcept {
  syscall(SYS_futex, FutexAddress(word), FUTEX_WAKE | FUTEX_PRIVATE_FLAG, INT32_MAX, nullptr,
          nullptr, 0);
}

}  // namespace nimify::pipeline
