// CallDispatcher: runs ActionHandler calls on worker threads with per-attempt
// timeouts, retries with exponential backoff and jitter, a concurrency limit
// per handler, and strict ordering of the calls of one alert.
//
//   CallDispatcher dispatcher({.worker_threads = 4, .seed = 42});
//   Call call;
//   call.handler = handler;  call.handler_name = "kubectl";
//   call.limits = {.timeout = 30s, .attempts = 3};
//   call.request = request;  call.order_key = alert.fingerprint;
//   call.on_done = [](const CallOutcome& o) { ... };
//   (void)dispatcher.Submit(std::move(call));   // never blocks: it only queues
//   ...
//   dispatcher.Shutdown(std::chrono::seconds(10));
//
// Clocks: attempt timeouts always run on real (steady) time, because the
// handler's work is real. Retry backoff follows the dispatcher's clock mode:
// kWall schedules retries on an internal timer thread; kManual schedules them
// at clock->now_ms() + backoff (the manual clock read when the failed attempt
// ends) and starts them only when AdvanceTo(t) reaches their time, so a replay
// drives retries with event time.
#ifndef NIMIFY_ACTIONS_CALL_DISPATCHER_H_
#define NIMIFY_ACTIONS_CALL_DISPATCHER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "nimify/actions.h"
#include "nimify/engine.h"
#include "nimify/status.h"

namespace nimify::actions {

// A source of Unix milliseconds.
// Thread safety: now_ms() is called from any dispatcher thread at any time.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::int64_t now_ms() const = 0;
};

// std::chrono::system_clock.
class WallClock final : public Clock {
 public:
  std::int64_t now_ms() const override;
};

// Time that moves only when told (replays and tests).
// Thread safety: Set/Advance/now_ms may be called concurrently (one atomic).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t start_ms = 0) : now_ms_(start_ms) {}
  std::int64_t now_ms() const override { return now_ms_.load(std::memory_order_acquire); }
  void Set(std::int64_t t_ms) { now_ms_.store(t_ms, std::memory_order_release); }
  void Advance(std::chrono::milliseconds by) { now_ms_.fetch_add(by.count()); }

 private:
  std::atomic<std::int64_t> now_ms_;
};

enum class DispatchClockMode : std::uint8_t {
  kWall,    // retries fire on the dispatcher's timer thread
  kManual,  // retries fire in AdvanceTo()
};

// How a retry delay is drawn from the exponential base delay `b`.
enum class JitterMode : std::uint8_t {
  kNone,   // exactly b
  kFull,   // uniform in [0, b]
  kEqual,  // b/2 + uniform in [0, b/2]
};

// One configured handler's limits (the `timeout`, `retry` and `concurrency`
// keys of a handler in the config).
struct HandlerLimits {
  std::chrono::milliseconds timeout{30000};  // per attempt; also set as request.timeout
  std::uint32_t attempts = 3;                // total attempts, first included (0 acts as 1)
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{60000};
  std::uint32_t concurrency = 4;  // attempts of this handler_name running at once (0 acts as 1)
};

// What one finished attempt looked like (for the audit log).
struct AttemptReport {
  std::uint32_t attempt = 1;
  ActionResult result;
  bool timed_out = false;
  std::int64_t started_ms = 0;  // dispatcher clock
  std::chrono::milliseconds duration{0};  // real (steady) time
  bool will_retry = false;
  // When will_retry: the delay drawn, and the dispatcher-clock time the retry is due.
  std::chrono::milliseconds backoff{0};
  std::int64_t retry_at_ms = 0;
};

// The end of a call: its last attempt's result, or the reason it was cut short.
struct CallOutcome {
  // Abandoned at shutdown: a kPermanentFailure whose summary says so (and,
  // when an attempt ran before, that attempt's output/status).
  ActionResult result;
  std::uint32_t attempts = 0;  // attempts started (0 when abandoned before the first)
  bool timed_out = false;      // the last attempt timed out
  bool abandoned = false;      // cut short by Shutdown
  std::int64_t started_ms = 0;   // dispatcher clock at the first attempt (0: never started)
  std::int64_t finished_ms = 0;  // dispatcher clock at the end
  std::chrono::milliseconds duration{0};  // real time from the first attempt's start to the end
};

// One handler call to make.
struct Call {
  std::shared_ptr<ActionHandler> handler;  // required
  std::string handler_name;                // calls with one name share `limits.concurrency`
  HandlerLimits limits;
  // Sent to Execute with attempt, timeout and now_ms filled in per attempt.
  ActionRequest request;
  // Calls with the same non-empty key run one after another in submission
  // order (the next starts only after the previous one's on_done returned),
  // so a resolve never overtakes its fire. An empty key orders nothing.
  std::string order_key;
  // Both optional. Called once per finished attempt / once per call, never
  // under a dispatcher lock, from a worker, timer or handler thread (the one
  // that finished the attempt). They may call Submit; they must not call
  // WaitIdle or Shutdown. on_attempt always precedes on_done.
  std::function<void(const AttemptReport&)> on_attempt;
  std::function<void(const CallOutcome&)> on_done;
};

struct DispatcherOptions {
  std::uint32_t worker_threads = 4;  // 0 acts as 1
  DispatchClockMode mode = DispatchClockMode::kWall;
  // Null: a WallClock. kManual needs the responder's manual clock here.
  std::shared_ptr<const Clock> clock;
  // Seeds the jitter RNG (std::mt19937_64); 0: a random seed.
  std::uint64_t seed = 0;
  JitterMode jitter = JitterMode::kFull;
  // Optional; problems that have no other way out (a callback that threw).
  std::function<void(LogLevel, std::string_view)> log;
};

struct DispatcherStats {
  std::uint64_t submitted = 0;
  std::uint64_t completed = 0;   // on_done called, abandoned included
  std::uint64_t abandoned = 0;
  std::uint64_t in_flight = 0;   // attempts running now (Execute called, result pending)
  std::uint64_t queued = 0;      // calls submitted and not finished, minus in_flight
  std::uint64_t waiting_retry = 0;  // calls waiting for their backoff to pass
  std::uint64_t attempts = 0;    // attempts started
  std::uint64_t retries = 0;     // attempts started after the first of their call
  std::uint64_t timeouts = 0;    // attempts that timed out
  std::uint64_t late_results = 0;  // done() called after a timeout or abandonment (ignored)
};

// The retry delay after failed attempt `attempt` (1-based): base =
// min(initial_backoff * 2^(attempt-1), max_backoff), jittered with `jitter`
// using `random_draw` (a uniform 64-bit value), then raised to `retry_after`
// when that is larger (retry_after is not capped). Exposed for tests.
std::chrono::milliseconds RetryDelay(const HandlerLimits& limits, std::uint32_t attempt,
                                     JitterMode jitter, std::uint64_t random_draw,
                                     std::chrono::milliseconds retry_after);

// Thread safety: every method may be called from any thread, concurrently,
// except that WaitIdle and Shutdown must not be called from a call's
// callbacks or from inside a handler. No method holds a lock while it runs
// handler code or callbacks, so a handler may call done() synchronously
// inside Execute.
class CallDispatcher {
 public:
  explicit CallDispatcher(DispatcherOptions options = {});
  // Shutdown(0) when Shutdown was not called.
  ~CallDispatcher();
  CallDispatcher(const CallDispatcher&) = delete;
  CallDispatcher& operator=(const CallDispatcher&) = delete;

  // Queues the call. kFailedPrecondition after Shutdown began (the callbacks
  // are then never called); kInvalidArgument without a handler.
  Status Submit(Call call);

  // kManual: starts every retry due at or before t_ms, in (due time,
  // scheduling) order. kWall: no effect.
  void AdvanceTo(std::int64_t t_ms);

  // Waits until no attempt runs and none can start: kWall counts retries
  // waiting for their timer as work; kManual does not (they wait for
  // AdvanceTo), nor calls queued behind them on the same order_key.
  // kDeadlineExceeded after `timeout`.
  Status WaitIdle(std::chrono::milliseconds timeout);

  // Stops intake and starts no more attempts: calls not running (queued,
  // waiting for a retry) are abandoned at once; running attempts get until
  // `deadline` to finish (a retryable result is not retried), then are
  // abandoned. Every call's on_done has run when it returns (endings already
  // under way on other threads are waited for). Joins the threads; a worker
  // stuck inside a blocking Execute is detached and logged instead.
  // Idempotent; a second call waits for the first to end.
  void Shutdown(std::chrono::milliseconds deadline);

  DispatcherStats stats() const;
  // The dispatcher's clock.
  std::int64_t now_ms() const;

  struct Core;  // internal; public only so the per-attempt done() can name it

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace nimify::actions

#endif  // NIMIFY_ACTIONS_CALL_DISPATCHER_H_
