#include "actions/call_dispatcher.h"

#include <algorithm>
#include <deque>
#include <exception>
#include <queue>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/mutex.h"
#include "common/thread_name.h"
#include "common/wall_clock.h"

namespace nimify {

// ActionHandler's out-of-line members live here, not beside the registry, so
// a handler does not pull in the built-in types.
ActionHandler::~ActionHandler() = default;

Status ActionHandler::ValidateParams(const ConfigNode& /*params*/) const { return Status::Ok(); }

}  // namespace nimify

namespace nimify::actions {

namespace {

using SteadyTime = std::chrono::steady_clock::time_point;
using std::chrono::milliseconds;

// "30s", "1500ms", "2m": short, for failure summaries.
std::string ShortDuration(milliseconds d) {
  const std::int64_t ms = d.count();
  if (ms != 0 && ms % 60000 == 0) return std::to_string(ms / 60000) + "m";
  if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

milliseconds Since(SteadyTime start) {
  return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
}

}  // namespace

std::int64_t WallClock::now_ms() const {
  return internal::GuardedWallClockMs();  // never back: common/wall_clock.h
}

milliseconds RetryDelay(const HandlerLimits& limits, std::uint32_t attempt, JitterMode jitter,
                        std::uint64_t random_draw, milliseconds retry_after) {
  const std::int64_t cap = std::max<std::int64_t>(0, limits.max_backoff.count());
  std::int64_t base = std::clamp<std::int64_t>(limits.initial_backoff.count(), 0, cap);
  for (std::uint32_t i = 1; i < attempt && base < cap; ++i) base = std::min(cap, base * 2);
  std::int64_t delay = base;
  switch (jitter) {
    case JitterMode::kNone:
      break;
    case JitterMode::kFull:
      delay = static_cast<std::int64_t>(random_draw % (static_cast<std::uint64_t>(base) + 1));
      break;
    case JitterMode::kEqual: {
      const std::int64_t half = base / 2;
      const auto span = static_cast<std::uint64_t>(base - half);
      delay = half + static_cast<std::int64_t>(random_draw % (span + 1));
      break;
    }
  }
  return milliseconds(std::max(delay, retry_after.count()));
}

// Thread safety: `mu` guards every mutable field below except the atomics in
// Attempt, and `workers` and `timer_thread` (set by the constructor, moved out
// by the first Shutdown). The nested structs' fields carry no annotations
// (they cannot name Core::mu). User code (Execute, callbacks) always runs with
// `mu` released.
struct CallDispatcher::Core {
  struct Entry;

  // One attempt's shared state: the done() given to the handler, the timeout
  // timer and Shutdown race for `finished`; the one that flips it owns the end
  // of the attempt, the others do nothing (late results are only counted).
  struct Attempt {
    std::atomic<bool> finished{false};
    std::weak_ptr<Core> core;
    std::shared_ptr<Entry> entry;  // taken by the winner (breaks handler->done->entry cycles)
    ActionRequest request;         // lives as long as the handler keeps done()
    std::uint32_t number = 1;
    std::int64_t started_ms = 0;
    SteadyTime steady_start;
  };

  // One submitted call until its on_done has returned.
  struct Entry {
    Call call;
    std::uint32_t attempts = 0;
    ActionResult last_result;
    bool last_timed_out = false;
    std::int64_t started_ms = 0;
    SteadyTime steady_start;
    std::shared_ptr<Attempt> current;  // while an attempt runs
    bool in_backoff = false;
  };

  struct HandlerSlots {
    std::uint32_t running = 0;
    std::deque<std::shared_ptr<Entry>> waiting;  // heads waiting for a slot, FIFO
  };

  // A timeout (attempt set) or a wall-clock retry (entry set).
  struct Timer {
    SteadyTime when;
    std::uint64_t seq = 0;
    std::weak_ptr<Attempt> attempt;
    std::shared_ptr<Entry> retry;
    bool operator>(const Timer& o) const {
      return when != o.when ? when > o.when : seq > o.seq;
    }
  };

  struct ManualRetry {
    std::int64_t due_ms = 0;
    std::uint64_t seq = 0;
    std::shared_ptr<Entry> entry;
    bool operator>(const ManualRetry& o) const {
      return due_ms != o.due_ms ? due_ms > o.due_ms : seq > o.seq;
    }
  };

  explicit Core(DispatcherOptions opts)
      : options(std::move(opts)),
        clock(options.clock ? options.clock : std::make_shared<WallClock>()),
        rng(options.seed != 0 ? options.seed : std::random_device{}()),
        in_execute(std::max<std::uint32_t>(1, options.worker_threads), false) {}

  void Log(LogLevel level, std::string_view message) const {
    if (!options.log) return;
    try {
      options.log(level, message);
    } catch (...) {  // NOLINT(bugprone-empty-catch): a logger that throws has nowhere to report
    }
  }

  // ---- called with mu held -------------------------------------------------

  void StartHeadLocked(const std::shared_ptr<Entry>& entry) NIMIFY_REQUIRES(mu) {
    ++active;
    AcquireSlotLocked(entry);
  }

  void AcquireSlotLocked(const std::shared_ptr<Entry>& entry) NIMIFY_REQUIRES(mu) {
    HandlerSlots& slots = handlers[entry->call.handler_name];
    const std::uint32_t limit = std::max<std::uint32_t>(1, entry->call.limits.concurrency);
    if (slots.running < limit && slots.waiting.empty()) {
      ++slots.running;
      ready.push_back(entry);
      work_cv.NotifyOne();
    } else {
      slots.waiting.push_back(entry);
    }
  }

  void ReleaseSlotLocked(const std::string& handler_name) NIMIFY_REQUIRES(mu) {
    HandlerSlots& slots = handlers[handler_name];
    if (slots.running > 0) --slots.running;
    while (!slots.waiting.empty()) {
      const std::uint32_t limit =
          std::max<std::uint32_t>(1, slots.waiting.front()->call.limits.concurrency);
      if (slots.running >= limit) break;
      ++slots.running;
      ready.push_back(std::move(slots.waiting.front()));
      slots.waiting.pop_front();
      work_cv.NotifyOne();
    }
  }

  // Removes `entry` from the head of its key; returns the next call of the
  // key, which the caller must start (or abandon).
  std::shared_ptr<Entry> PopKeyLocked(const std::shared_ptr<Entry>& entry) NIMIFY_REQUIRES(mu) {
    const std::string& key = entry->call.order_key;
    if (key.empty()) return nullptr;
    auto it = keys.find(key);
    if (it == keys.end()) return nullptr;
    auto& queue = it->second;
    if (!queue.empty() && queue.front() == entry) queue.pop_front();
    if (queue.empty()) {
      keys.erase(it);
      return nullptr;
    }
    return queue.front();
  }

  // `cut_short`: an attempt was running and did not finish.
  CallOutcome AbandonedOutcomeLocked(const Entry& entry, bool cut_short = false) const
      NIMIFY_REQUIRES(mu) {
    CallOutcome outcome;
    outcome.abandoned = true;
    outcome.attempts = entry.attempts;
    outcome.timed_out = entry.last_timed_out;
    outcome.started_ms = entry.started_ms;
    outcome.finished_ms = clock->now_ms();
    if (entry.attempts > 0) outcome.duration = Since(entry.steady_start);
    if (cut_short) {
      outcome.result = ActionResult::Permanent("abandoned at shutdown: attempt " +
                                               std::to_string(entry.attempts) + " did not finish");
    } else if (entry.attempts > 0) {
      outcome.result = entry.last_result;
      outcome.result.outcome = ActionOutcome::kPermanentFailure;
      outcome.result.summary = "abandoned at shutdown after " + std::to_string(entry.attempts) +
                               " attempt(s): " + entry.last_result.summary;
    } else {
      outcome.result = ActionResult::Permanent("abandoned at shutdown");
    }
    return outcome;
  }

  void PushTimerLocked(Timer timer) NIMIFY_REQUIRES(mu) {
    timer.seq = ++timer_seq;
    const bool earliest = timers.empty() || timer.when < timers.top().when;
    timers.push(std::move(timer));
    if (earliest) timer_cv.NotifyOne();
  }

  // ---- called without mu ----------------------------------------------------

  // Runs on_done, then lets the next call of the key start. When the
  // dispatcher is stopping, the following calls are abandoned in order.
  void Finish(std::shared_ptr<Entry> entry, CallOutcome outcome) NIMIFY_EXCLUDES(mu) {
    while (entry != nullptr) {
      if (entry->call.on_done) {
        try {
          entry->call.on_done(outcome);
        } catch (const std::exception& e) {
          Log(LogLevel::kError, std::string("call dispatcher: on_done threw: ") + e.what());
        } catch (...) {
          Log(LogLevel::kError, "call dispatcher: on_done threw");
        }
      }
      MutexLock lock(mu);
      ++completed;
      if (outcome.abandoned) ++abandoned;
      --live_calls;
      std::shared_ptr<Entry> next = PopKeyLocked(entry);
      --active;
      entry = nullptr;
      if (next != nullptr) {
        if (stopping) {
          ++active;
          outcome = AbandonedOutcomeLocked(*next);
          entry = std::move(next);
        } else {
          StartHeadLocked(next);
        }
      }
      idle_cv.NotifyAll();
    }
  }

  // The end of one attempt, by whoever won attempt->finished.
  void EndAttempt(const std::shared_ptr<Attempt>& attempt, ActionResult result, bool timed_out)
      NIMIFY_EXCLUDES(mu) {
    std::shared_ptr<Entry> entry = std::move(attempt->entry);
    if (entry == nullptr) return;
    AttemptReport report;
    report.attempt = attempt->number;
    report.timed_out = timed_out;
    report.started_ms = attempt->started_ms;
    report.duration = Since(attempt->steady_start);
    {
      MutexLock lock(mu);
      --running;
      running_entries.erase(entry);
      ReleaseSlotLocked(entry->call.handler_name);
      if (timed_out) ++timeouts;
      entry->current = nullptr;
      entry->last_timed_out = timed_out;
      const std::uint32_t max_attempts = std::max<std::uint32_t>(1, entry->call.limits.attempts);
      report.will_retry = result.outcome == ActionOutcome::kRetryableFailure &&
                          attempt->number < max_attempts && !stopping;
      if (report.will_retry) {
        report.backoff = RetryDelay(entry->call.limits, attempt->number, options.jitter, rng(),
                                    result.retry_after);
        report.retry_at_ms = clock->now_ms() + report.backoff.count();
      }
      entry->last_result = result;
    }
    report.result = std::move(result);
    if (entry->call.on_attempt) {
      try {
        entry->call.on_attempt(report);
      } catch (const std::exception& e) {
        Log(LogLevel::kError, std::string("call dispatcher: on_attempt threw: ") + e.what());
      } catch (...) {
        Log(LogLevel::kError, "call dispatcher: on_attempt threw");
      }
    }
    if (report.will_retry) {
      MutexLock lock(mu);
      if (!stopping) {
        entry->in_backoff = true;
        ++waiting_retry;
        if (options.mode == DispatchClockMode::kManual) {
          manual_retries.push({report.retry_at_ms, ++timer_seq, entry});
          --active;  // waits for AdvanceTo, not for us
          idle_cv.NotifyAll();
        } else {
          Timer timer;
          timer.when = std::chrono::steady_clock::now() + report.backoff;
          timer.retry = entry;
          PushTimerLocked(std::move(timer));
        }
        return;
      }
    }
    CallOutcome outcome;
    {
      MutexLock lock(mu);
      if (report.will_retry) {  // Shutdown began during on_attempt
        outcome = AbandonedOutcomeLocked(*entry);
      } else {
        outcome.result = entry->last_result;
        outcome.attempts = entry->attempts;
        outcome.timed_out = timed_out;
        outcome.started_ms = entry->started_ms;
        outcome.finished_ms = clock->now_ms();
        outcome.duration = Since(entry->steady_start);
      }
    }
    Finish(std::move(entry), std::move(outcome));
  }

  static void OnDone(const std::shared_ptr<Attempt>& attempt, ActionResult result) {
    if (attempt->finished.exchange(true, std::memory_order_acq_rel)) {
      if (auto core = attempt->core.lock()) {
        MutexLock lock(core->mu);
        ++core->late_results;
      }
      return;
    }
    if (auto core = attempt->core.lock()) core->EndAttempt(attempt, std::move(result), false);
  }

  // Holds mu except around Execute (explicit Lock/Unlock: the lock spans
  // loop iterations).
  void WorkerLoop(std::size_t index) NIMIFY_EXCLUDES(mu) {
    mu.Lock();
    for (;;) {
      while (ready.empty() && !stop_threads) work_cv.Wait(mu);
      if (ready.empty()) break;
      std::shared_ptr<Entry> entry = std::move(ready.front());
      ready.pop_front();
      auto attempt = std::make_shared<Attempt>();
      attempt->core = self;
      attempt->entry = entry;
      attempt->request = entry->call.request;
      attempt->number = ++entry->attempts;
      attempt->started_ms = clock->now_ms();
      attempt->steady_start = std::chrono::steady_clock::now();
      attempt->request.attempt = attempt->number;
      attempt->request.timeout = entry->call.limits.timeout;
      attempt->request.now_ms = attempt->started_ms;
      if (attempt->number == 1) {
        entry->started_ms = attempt->started_ms;
        entry->steady_start = attempt->steady_start;
      } else {
        ++retries;
      }
      ++attempts;
      ++running;
      entry->current = attempt;
      running_entries.insert(entry);
      Timer timeout;
      timeout.when = attempt->steady_start + std::max(milliseconds(0), entry->call.limits.timeout);
      timeout.attempt = attempt;
      PushTimerLocked(std::move(timeout));
      std::shared_ptr<ActionHandler> handler = entry->call.handler;
      entry.reset();
      in_execute[index] = true;
      mu.Unlock();

      if (!attempt->finished.load(std::memory_order_acquire)) {
        std::string threw;
        try {
          handler->Execute(attempt->request,
                           [attempt](ActionResult result) { OnDone(attempt, std::move(result)); });
        } catch (const std::exception& e) {
          threw = std::string("handler threw: ") + e.what();
        } catch (...) {
          threw = "handler threw: unknown exception";
        }
        if (!threw.empty() && !attempt->finished.exchange(true, std::memory_order_acq_rel)) {
          EndAttempt(attempt, ActionResult::Permanent(std::move(threw)), false);
        }
      }
      handler.reset();
      attempt.reset();
      mu.Lock();
      in_execute[index] = false;
      if (stopping) idle_cv.NotifyAll();
    }
    mu.Unlock();
  }

  // Holds mu except around EndAttempt, as WorkerLoop.
  void TimerLoop() NIMIFY_EXCLUDES(mu) {
    mu.Lock();
    for (;;) {
      if (stop_threads) break;
      if (timers.empty()) {
        timer_cv.Wait(mu);
        continue;
      }
      const SteadyTime when = timers.top().when;
      if (std::chrono::steady_clock::now() < when) {
        (void)timer_cv.WaitUntil(mu, when);
        continue;
      }
      Timer timer = timers.top();
      timers.pop();
      if (timer.retry != nullptr) {
        if (timer.retry->in_backoff) {  // else Shutdown abandoned it
          timer.retry->in_backoff = false;
          --waiting_retry;
          AcquireSlotLocked(timer.retry);
        }
        continue;
      }
      std::shared_ptr<Attempt> attempt = timer.attempt.lock();
      if (attempt == nullptr || attempt->finished.exchange(true, std::memory_order_acq_rel)) {
        continue;
      }
      const milliseconds limit = attempt->request.timeout;
      mu.Unlock();
      EndAttempt(attempt, ActionResult::Retryable("timed out after " + ShortDuration(limit)),
                 true);
      attempt.reset();
      mu.Lock();
    }
    mu.Unlock();
  }

  const DispatcherOptions options;
  const std::shared_ptr<const Clock> clock;
  std::weak_ptr<Core> self;

  mutable Mutex mu;
  CondVar work_cv;
  CondVar timer_cv;
  CondVar idle_cv;

  std::mt19937_64 rng NIMIFY_GUARDED_BY(mu);
  std::unordered_map<std::string, std::deque<std::shared_ptr<Entry>>> keys NIMIFY_GUARDED_BY(mu);
  std::unordered_map<std::string, HandlerSlots> handlers NIMIFY_GUARDED_BY(mu);
  // Slot taken, waiting for a worker.
  std::deque<std::shared_ptr<Entry>> ready NIMIFY_GUARDED_BY(mu);
  std::unordered_set<std::shared_ptr<Entry>> running_entries NIMIFY_GUARDED_BY(mu);
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers NIMIFY_GUARDED_BY(mu);
  std::priority_queue<ManualRetry, std::vector<ManualRetry>, std::greater<>> manual_retries
      NIMIFY_GUARDED_BY(mu);
  std::uint64_t timer_seq NIMIFY_GUARDED_BY(mu) = 0;

  // Calls that are a key's head (or unkeyed) and not waiting for AdvanceTo:
  // WaitIdle waits for 0.
  std::uint64_t active NIMIFY_GUARDED_BY(mu) = 0;
  std::uint64_t live_calls NIMIFY_GUARDED_BY(mu) = 0;
  std::uint64_t running NIMIFY_GUARDED_BY(mu) = 0;
  std::uint64_t waiting_retry NIMIFY_GUARDED_BY(mu) = 0;
  std::uint64_t submitted NIMIFY_GUARDED_BY(mu) = 0;
  std::uint64_t completed NIMIFY_GUARDED_BY(mu) = 0;
  std::uint64_t abandoned NIMIFY_GUARDED_BY(mu) = 0;
  std::uint64_t attempts NIMIFY_GUARDED_BY(mu) = 0;
  std::uint64_t retries NIMIFY_GUARDED_BY(mu) = 0;
  std::uint64_t timeouts NIMIFY_GUARDED_BY(mu) = 0;
  std::uint64_t late_results NIMIFY_GUARDED_BY(mu) = 0;

  bool stopping NIMIFY_GUARDED_BY(mu) = false;      // Shutdown began: no intake, no new attempts
  bool stop_threads NIMIFY_GUARDED_BY(mu) = false;  // threads exit
  bool shutdown_done NIMIFY_GUARDED_BY(mu) = false;
  CondVar shutdown_cv;

  std::vector<std::thread> workers;
  // A worker is between taking an attempt and Execute returning.
  std::vector<bool> in_execute NIMIFY_GUARDED_BY(mu);
  std::thread timer_thread;
};

CallDispatcher::CallDispatcher(DispatcherOptions options)
    : core_(std::make_shared<Core>(std::move(options))) {
  core_->self = core_;
  const std::uint32_t n = std::max<std::uint32_t>(1, core_->options.worker_threads);
  core_->workers.reserve(n);  // in_execute is sized by Core's constructor
  // Threads hold the core: a worker stuck in a blocking Execute past the
  // shutdown deadline is detached and keeps the core alive until it returns.
  for (std::uint32_t i = 0; i < n; ++i) {
    core_->workers.emplace_back([core = core_, i] {
      SetCurrentThreadName("nimify-action-" + std::to_string(i));
      core->WorkerLoop(i);
    });
  }
  core_->timer_thread = std::thread([core = core_] {
    SetCurrentThreadName("nimify-timers");
    core->TimerLoop();
  });
}

CallDispatcher::~CallDispatcher() { Shutdown(milliseconds(0)); }

Status CallDispatcher::Submit(Call call) {
  if (call.handler == nullptr) {
    return Status::InvalidArgument("call of \"" + call.handler_name + "\" has no handler");
  }
  Core& c = *core_;
  auto entry = std::make_shared<Core::Entry>();
  entry->call = std::move(call);
  MutexLock lock(c.mu);
  if (c.stopping) return Status::FailedPrecondition("call dispatcher is shut down");
  ++c.submitted;
  ++c.live_calls;
  if (!entry->call.order_key.empty()) {
    auto& queue = c.keys[entry->call.order_key];
    queue.push_back(entry);
    if (queue.size() > 1) return Status::Ok();  // starts when the ones before it finish
  }
  c.StartHeadLocked(entry);
  return Status::Ok();
}

void CallDispatcher::AdvanceTo(std::int64_t t_ms) {
  Core& c = *core_;
  if (c.options.mode != DispatchClockMode::kManual) return;
  MutexLock lock(c.mu);
  while (!c.manual_retries.empty() && c.manual_retries.top().due_ms <= t_ms) {
    std::shared_ptr<Core::Entry> entry = c.manual_retries.top().entry;
    c.manual_retries.pop();
    if (!entry->in_backoff) continue;
    entry->in_backoff = false;
    --c.waiting_retry;
    ++c.active;
    c.AcquireSlotLocked(entry);
  }
}

Status CallDispatcher::WaitIdle(milliseconds timeout) {
  Core& c = *core_;
  MutexLock lock(c.mu);
  const SteadyTime deadline = std::chrono::steady_clock::now() + timeout;
  while (c.active != 0 && c.idle_cv.WaitUntil(c.mu, deadline)) {
  }
  if (c.active != 0) {
    return Status::DeadlineExceeded("call dispatcher: " + std::to_string(c.running) +
                                    " attempt(s) still running after " + ShortDuration(timeout));
  }
  return Status::Ok();
}

void CallDispatcher::Shutdown(milliseconds deadline) {
  Core& c = *core_;
  const SteadyTime until = std::chrono::steady_clock::now() + std::max(milliseconds(0), deadline);
  using EntryPtr = std::shared_ptr<Core::Entry>;
  std::vector<EntryPtr> not_started;
  {
    MutexLock lock(c.mu);
    if (c.stopping) {
      while (!c.shutdown_done) c.shutdown_cv.Wait(c.mu);
      return;
    }
    c.stopping = true;
    // Heads that hold no running attempt: abandon them now.
    for (EntryPtr& entry : c.ready) {
      c.ReleaseSlotLocked(entry->call.handler_name);
      not_started.push_back(std::move(entry));
    }
    c.ready.clear();
    for (auto& [name, slots] : c.handlers) {
      for (EntryPtr& entry : slots.waiting) not_started.push_back(std::move(entry));
      slots.waiting.clear();
    }
    while (!c.manual_retries.empty()) {
      EntryPtr entry = c.manual_retries.top().entry;
      c.manual_retries.pop();
      if (!entry->in_backoff) continue;
      entry->in_backoff = false;
      --c.waiting_retry;
      ++c.active;
      not_started.push_back(std::move(entry));
    }
    std::vector<Core::Timer> keep;
    while (!c.timers.empty()) {
      Core::Timer timer = c.timers.top();
      c.timers.pop();
      if (timer.retry == nullptr) {
        keep.push_back(std::move(timer));
      } else if (timer.retry->in_backoff) {
        timer.retry->in_backoff = false;
        --c.waiting_retry;
        not_started.push_back(std::move(timer.retry));
      }
    }
    for (Core::Timer& timer : keep) c.timers.push(std::move(timer));
  }
  for (EntryPtr& entry : not_started) {
    CallOutcome outcome;
    {
      MutexLock lock(c.mu);
      outcome = c.AbandonedOutcomeLocked(*entry);
    }
    c.Finish(std::move(entry), std::move(outcome));
  }

  // Running attempts get until the deadline.
  std::vector<EntryPtr> cut_short;
  {
    MutexLock lock(c.mu);
    while (c.active != 0 && c.idle_cv.WaitUntil(c.mu, until)) {
    }
    for (const EntryPtr& entry : c.running_entries) {
      const std::shared_ptr<Core::Attempt> attempt = entry->current;
      if (attempt == nullptr || attempt->finished.exchange(true, std::memory_order_acq_rel)) {
        continue;  // its done() or timeout is ending it right now
      }
      attempt->entry = nullptr;
      entry->current = nullptr;
      --c.running;
      c.ReleaseSlotLocked(entry->call.handler_name);
      cut_short.push_back(entry);
    }
    for (const EntryPtr& entry : cut_short) c.running_entries.erase(entry);
  }
  for (EntryPtr& entry : cut_short) {
    CallOutcome outcome;
    {
      MutexLock lock(c.mu);
      outcome = c.AbandonedOutcomeLocked(*entry, /*cut_short=*/true);
    }
    c.Finish(std::move(entry), std::move(outcome));
  }

  std::vector<std::thread> workers;
  std::vector<bool> exited_or_idle;
  std::thread timer_thread;
  {
    MutexLock lock(c.mu);
    // What remains are endings already under way on other threads (callbacks).
    while (c.active != 0) c.idle_cv.Wait(c.mu);
    c.stop_threads = true;
    c.work_cv.NotifyAll();
    c.timer_cv.NotifyAll();
    // A worker blocked inside Execute past the deadline is left behind (a
    // short grace lets a worker whose Execute is returning right now finish).
    const SteadyTime join_until =
        std::max(until, std::chrono::steady_clock::now() + milliseconds(50));
    while (std::find(c.in_execute.begin(), c.in_execute.end(), true) != c.in_execute.end() &&
           c.idle_cv.WaitUntil(c.mu, join_until)) {
    }
    workers = std::move(c.workers);
    exited_or_idle.assign(workers.size(), false);
    for (std::size_t i = 0; i < workers.size(); ++i) exited_or_idle[i] = !c.in_execute[i];
    timer_thread = std::move(c.timer_thread);
  }
  std::size_t left_behind = 0;
  for (std::size_t i = 0; i < workers.size(); ++i) {
    if (exited_or_idle[i]) {
      workers[i].join();
    } else {
      workers[i].detach();
      ++left_behind;
    }
  }
  if (timer_thread.joinable()) timer_thread.join();
  if (left_behind > 0) {
    c.Log(LogLevel::kWarn, "call dispatcher: " + std::to_string(left_behind) +
                               " worker(s) still inside a handler's Execute at shutdown; "
                               "left running");
  }
  MutexLock lock(c.mu);
  c.shutdown_done = true;
  c.shutdown_cv.NotifyAll();
}

DispatcherStats CallDispatcher::stats() const {
  const Core& c = *core_;
  MutexLock lock(c.mu);
  DispatcherStats s;
  s.submitted = c.submitted;
  s.completed = c.completed;
  s.abandoned = c.abandoned;
  s.in_flight = c.running;
  s.queued = c.live_calls - c.running;
  s.waiting_retry = c.waiting_retry;
  s.attempts = c.attempts;
  s.retries = c.retries;
  s.timeouts = c.timeouts;
  s.late_results = c.late_results;
  return s;
}

std::int64_t CallDispatcher::now_ms() const { return core_->clock->now_ms(); }

}  // namespace nimify::actions
