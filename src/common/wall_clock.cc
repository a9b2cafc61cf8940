#include "common/wall_clock.h"

#include <chrono>
#include <vector>

#include "common/mutex.h"

namespace nimify::internal {
namespace {

struct Step {
  std::int64_t at_ms;  // the guarded clock just after the step
  std::int64_t size_ms;
};

// Guarded clock = steady clock + offset; the offset only grows (forward steps).
// Thread safety: mu guards every field.
struct GuardedClock {
  Mutex mu;
  bool started NIMIFY_GUARDED_BY(mu) = false;
  std::int64_t offset_ms NIMIFY_GUARDED_BY(mu) = 0;
  std::int64_t last_diff_ms NIMIFY_GUARDED_BY(mu) = 0;  // wall - steady at the last read
  std::vector<Step> steps NIMIFY_GUARDED_BY(mu);        // forward steps, oldest first
  WallClockSteps counts NIMIFY_GUARDED_BY(mu);

  // Returns the guarded time and (optionally) the wall clock's distance behind it.
  std::int64_t Read(std::int64_t* ahead_ms) NIMIFY_EXCLUDES(mu) {
    using namespace std::chrono;
    const std::int64_t wall_ns =
        duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count();
    const std::int64_t steady_ns =
        duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
    const std::int64_t steady_ms = steady_ns / 1'000'000;
    const std::int64_t diff_ms = wall_ns / 1'000'000 - steady_ms;
    MutexLock lock(mu);
    if (!started) {
      started = true;
      offset_ms = diff_ms;
      last_diff_ms = diff_ms;
    }
    if (diff_ms > offset_ms) {
      const std::int64_t step = diff_ms - offset_ms;
      offset_ms = diff_ms;
      if (step >= kWallClockStepMs) {
        ++counts.forward;
        counts.forward_ms += step;
        // Bounded: only timestamps older than the oldest step kept lose its correction.
        if (steps.size() >= 1024) steps.erase(steps.begin());
        steps.push_back({steady_ms + offset_ms, step});
      }
    } else if (diff_ms < last_diff_ms - kWallClockStepMs) {
      ++counts.backward;
      counts.backward_ms += last_diff_ms - diff_ms;
    }
    last_diff_ms = diff_ms;
    if (ahead_ms != nullptr) *ahead_ms = offset_ms - diff_ms;
    return steady_ms + offset_ms;
  }
};

GuardedClock& Clock() {
  static GuardedClock clock;
  return clock;
}

}  // namespace

std::int64_t GuardedWallClockMs() { return Clock().Read(nullptr); }

std::int64_t GuardedWallClockAheadMs() {
  std::int64_t ahead = 0;
  (void)Clock().Read(&ahead);
  return ahead;
}

std::int64_t ForwardStepsAfter(std::int64_t t_ms) {
  GuardedClock& c = Clock();
  (void)c.Read(nullptr);  // a step not yet noticed counts too
  MutexLock lock(c.mu);
  std::int64_t sum = 0;
  for (auto it = c.steps.rbegin(); it != c.steps.rend() && it->at_ms > t_ms; ++it)
    sum += it->size_ms;
  return sum;
}

WallClockSteps WallClockStepCounts() {
  GuardedClock& c = Clock();
  (void)c.Read(nullptr);
  MutexLock lock(c.mu);
  return c.counts;
}

}  // namespace nimify::internal
