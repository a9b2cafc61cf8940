// The process's "now" in wall-clock mode: the wall clock, guarded against
// steps. It follows the wall clock forward (an NTP correction, a resumed VM),
// but never goes back: after a backward step it runs on at the steady clock's
// rate from where it was, ahead of the wall clock by the step, until the
// process restarts. Evaluation instants, ingest bounds, the responder's timers
// and budget windows all read it, so a backward step cannot stall evaluation
// waiting for the wall clock to pass the last instant (docs/daemon.md, "Time").
// Forward steps are recorded, so that code measuring a delay (an escalation,
// a budget window) can take them out: ForwardStepsAfter.
// Thread-safety: every function may be called from any thread.
#ifndef NIMIFY_COMMON_WALL_CLOCK_H_
#define NIMIFY_COMMON_WALL_CLOCK_H_

#include <cstdint>

namespace nimify::internal {

// Steps smaller than this are clock noise or slewing, followed silently.
inline constexpr std::int64_t kWallClockStepMs = 1000;

// Milliseconds since the epoch: the wall clock, never going back.
std::int64_t GuardedWallClockMs();

// How far GuardedWallClockMs() is ahead of the wall clock (backward steps), >= 0.
std::int64_t GuardedWallClockAheadMs();

// The sum of the forward steps (each >= kWallClockStepMs) taken after the
// guarded clock read `t_ms`: now - t_ms - ForwardStepsAfter(t_ms) is the real
// time elapsed since t_ms (within this process's life).
std::int64_t ForwardStepsAfter(std::int64_t t_ms);

struct WallClockSteps {
  std::uint64_t forward = 0;  // steps seen, each >= kWallClockStepMs
  std::uint64_t backward = 0;
  std::int64_t forward_ms = 0;  // their sizes added up
  std::int64_t backward_ms = 0;
};
WallClockSteps WallClockStepCounts();

}  // namespace nimify::internal

#endif  // NIMIFY_COMMON_WALL_CLOCK_H_
