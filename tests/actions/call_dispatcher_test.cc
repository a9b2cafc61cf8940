#include "actions/call_dispatcher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace nimify::actions {
namespace {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

// A handler whose Execute is a test-supplied function.
class FuncHandler final : public ActionHandler {
 public:
  using Fn = std::function<void(const ActionRequest&, ActionDone)>;
  explicit FuncHandler(Fn fn) : fn_(std::move(fn)) {}
  bool Accepts(ActionTrigger) const override { return true; }
  Result<std::string> Render(const ActionRequest&) const override { return std::string("test"); }
  void Execute(const ActionRequest& request, ActionDone done) override {
    fn_(request, std::move(done));
  }

 private:
  Fn fn_;
};

// Calls done() callbacks from its own thread after a delay, as an
// asynchronous handler (an HTTP client, a process reaper) would.
class Completer {
 public:
  Completer() : thread_([this] { Run(); }) {}
  ~Completer() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void After(std::chrono::microseconds delay, std::function<void()> fn) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_.emplace(std::chrono::steady_clock::now() + delay, std::move(fn));
    }
    cv_.notify_all();
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_ || !pending_.empty()) {
      if (pending_.empty()) {
        cv_.wait(lock);
        continue;
      }
      auto it = pending_.begin();
      if (std::chrono::steady_clock::now() < it->first) {
        cv_.wait_until(lock, it->first);
        continue;
      }
      auto fn = std::move(it->second);
      pending_.erase(it);
      lock.unlock();
      fn();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<std::chrono::steady_clock::time_point, std::function<void()>> pending_;
  bool stop_ = false;
  std::thread thread_;
};

Call MakeCall(std::shared_ptr<ActionHandler> handler, std::string key, std::string step = "") {
  Call call;
  call.handler = std::move(handler);
  call.handler_name = "test";
  call.order_key = std::move(key);
  call.request.step = std::move(step);
  call.limits.timeout = 10s;
  call.limits.attempts = 1;
  return call;
}

TEST(RetryDelayTest, DoublesUpToTheCapWithoutJitter) {
  HandlerLimits limits;
  limits.initial_backoff = 1s;
  limits.max_backoff = 10s;
  std::vector<std::int64_t> got;
  for (std::uint32_t attempt = 1; attempt <= 6; ++attempt) {
    got.push_back(RetryDelay(limits, attempt, JitterMode::kNone, 12345, 0ms).count());
  }
  EXPECT_EQ(got, (std::vector<std::int64_t>{1000, 2000, 4000, 8000, 10000, 10000}));
}

TEST(RetryDelayTest, JitterStaysInItsBoundsAndRetryAfterWins) {
  HandlerLimits limits;
  limits.initial_backoff = 1s;
  limits.max_backoff = 4s;
  std::mt19937_64 rng(99);
  for (int i = 0; i < 1000; ++i) {
    const std::int64_t full = RetryDelay(limits, 3, JitterMode::kFull, rng(), 0ms).count();
    EXPECT_GE(full, 0);
    EXPECT_LE(full, 4000);
    const std::int64_t equal = RetryDelay(limits, 2, JitterMode::kEqual, rng(), 0ms).count();
    EXPECT_GE(equal, 1000);
    EXPECT_LE(equal, 2000);
  }
  EXPECT_EQ(RetryDelay(limits, 1, JitterMode::kFull, 0, 0ms).count(), 0);
  EXPECT_EQ(RetryDelay(limits, 1, JitterMode::kFull, 1000, 0ms).count(), 1000);
  EXPECT_EQ(RetryDelay(limits, 1, JitterMode::kNone, 0, 9s).count(), 9000);
  EXPECT_EQ(RetryDelay(limits, 1, JitterMode::kNone, 0, 10ms).count(), 1000);
}

// Many keys, random handler delays, some handlers answering on another
// thread: each key's calls start and finish in submission order, never
// overlapping, while different keys run concurrently.
TEST(CallDispatcherTest, CallsOfOneKeyRunInSubmissionOrder) {
  constexpr int kKeys = 24;
  constexpr int kCallsPerKey = 30;
  Completer completer;
  std::mutex mu;
  std::map<std::string, std::vector<int>> started;
  std::map<std::string, std::vector<int>> finished;
  std::map<std::string, bool> key_running;
  std::vector<std::string> overlaps;
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};

  auto handler = std::make_shared<FuncHandler>([&](const ActionRequest& request, ActionDone done) {
    const std::string key = request.group_key;
    const int seq = std::stoi(request.step);
    {
      std::lock_guard<std::mutex> lock(mu);
      started[key].push_back(seq);
      if (key_running[key]) overlaps.push_back(key);
      key_running[key] = true;
    }
    const int now = in_flight.fetch_add(1) + 1;
    int seen = max_in_flight.load();
    while (now > seen && !max_in_flight.compare_exchange_weak(seen, now)) {
    }
    const auto delay = std::chrono::microseconds((seq * 7919 + key.size() * 31) % 600);
    auto finish = [&, key, done = std::move(done)]() {
      {
        std::lock_guard<std::mutex> lock(mu);
        key_running[key] = false;
      }
      in_flight.fetch_sub(1);
      done(ActionResult::Success("ok"));
    };
    if (seq % 3 == 0) {
      std::this_thread::sleep_for(delay / 4);
      finish();  // synchronously, inside Execute
    } else {
      completer.After(delay, std::move(finish));
    }
  });

  DispatcherOptions options;
  options.worker_threads = 4;
  options.seed = 1;
  CallDispatcher dispatcher(options);
  for (int i = 0; i < kCallsPerKey; ++i) {
    for (int k = 0; k < kKeys; ++k) {
      const std::string key = "fp" + std::to_string(k);
      Call call = MakeCall(handler, key, std::to_string(i));
      call.request.group_key = key;
      call.limits.concurrency = 6;
      call.on_done = [&, key, i](const CallOutcome& outcome) {
        EXPECT_EQ(outcome.result.outcome, ActionOutcome::kSuccess);
        std::lock_guard<std::mutex> lock(mu);
        finished[key].push_back(i);
      };
      ASSERT_TRUE(dispatcher.Submit(std::move(call)).ok());
    }
  }
  ASSERT_TRUE(dispatcher.WaitIdle(60s).ok());

  std::vector<int> expected(kCallsPerKey);
  for (int i = 0; i < kCallsPerKey; ++i) expected[i] = i;
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_TRUE(overlaps.empty()) << overlaps.size() << " overlapping calls of one key";
  ASSERT_EQ(started.size(), static_cast<std::size_t>(kKeys));
  for (int k = 0; k < kKeys; ++k) {
    const std::string key = "fp" + std::to_string(k);
    EXPECT_EQ(started[key], expected) << key;
    EXPECT_EQ(finished[key], expected) << key;
  }
  EXPECT_LE(max_in_flight.load(), 6);
  EXPECT_GE(max_in_flight.load(), 2) << "different keys never ran concurrently";
  const DispatcherStats stats = dispatcher.stats();
  EXPECT_EQ(stats.completed, static_cast<std::uint64_t>(kKeys * kCallsPerKey));
  EXPECT_EQ(stats.in_flight, 0u);
  EXPECT_EQ(stats.queued, 0u);
}

TEST(CallDispatcherTest, ConcurrencyLimitIsNeverExceeded) {
  Completer completer;
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};
  auto handler = std::make_shared<FuncHandler>([&](const ActionRequest&, ActionDone done) {
    const int now = in_flight.fetch_add(1) + 1;
    int seen = max_in_flight.load();
    while (now > seen && !max_in_flight.compare_exchange_weak(seen, now)) {
    }
    completer.After(std::chrono::microseconds(500), [&, done = std::move(done)] {
      in_flight.fetch_sub(1);
      done(ActionResult::Success("ok"));
    });
  });
  DispatcherOptions options;
  options.worker_threads = 8;
  CallDispatcher dispatcher(options);
  std::atomic<int> done_count{0};
  for (int i = 0; i < 60; ++i) {
    Call call = MakeCall(handler, "key" + std::to_string(i));  // no ordering between them
    call.limits.concurrency = 3;
    call.on_done = [&](const CallOutcome&) { done_count.fetch_add(1); };
    ASSERT_TRUE(dispatcher.Submit(std::move(call)).ok());
  }
  ASSERT_TRUE(dispatcher.WaitIdle(60s).ok());
  EXPECT_EQ(done_count.load(), 60);
  EXPECT_LE(max_in_flight.load(), 3);
  EXPECT_EQ(max_in_flight.load(), 3);
}

// Manual clock: each retry is due at clock + backoff when the attempt failed,
// and starts only when AdvanceTo reaches it. The delays come from the seeded
// generator (std::mt19937_64 is fully specified), within equal-jitter bounds.
TEST(CallDispatcherTest, RetriesFollowTheBackoffScheduleOnTheManualClock) {
  auto clock = std::make_shared<ManualClock>(1'000'000);
  std::atomic<int> executed{0};
  auto handler = std::make_shared<FuncHandler>([&](const ActionRequest& request, ActionDone done) {
    EXPECT_EQ(request.attempt, static_cast<std::uint32_t>(executed.load() + 1));
    EXPECT_EQ(request.timeout, 5s);
    executed.fetch_add(1);
    done(ActionResult::Retryable("HTTP 503"));
  });
  DispatcherOptions options;
  options.mode = DispatchClockMode::kManual;
  options.clock = clock;
  options.seed = 7;
  options.jitter = JitterMode::kEqual;
  CallDispatcher dispatcher(options);

  std::mutex mu;
  std::vector<AttemptReport> reports;
  std::vector<CallOutcome> outcomes;
  Call call = MakeCall(handler, "fp");
  call.limits.timeout = 5s;
  call.limits.attempts = 4;
  call.limits.initial_backoff = 1s;
  call.limits.max_backoff = 3s;
  call.on_attempt = [&](const AttemptReport& r) {
    std::lock_guard<std::mutex> lock(mu);
    reports.push_back(r);
  };
  call.on_done = [&](const CallOutcome& o) {
    std::lock_guard<std::mutex> lock(mu);
    outcomes.push_back(o);
  };
  ASSERT_TRUE(dispatcher.Submit(std::move(call)).ok());

  std::mt19937_64 rng(7);
  const std::int64_t bases[] = {1000, 2000, 3000};
  std::int64_t now = 1'000'000;
  for (int retry = 0; retry < 3; ++retry) {
    ASSERT_TRUE(dispatcher.WaitIdle(10s).ok());
    const std::int64_t half = bases[retry] / 2;
    const std::int64_t expected_delay =
        half +
        static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(bases[retry] - half + 1));
    AttemptReport report;
    {
      std::lock_guard<std::mutex> lock(mu);
      ASSERT_EQ(reports.size(), static_cast<std::size_t>(retry + 1));
      report = reports.back();
    }
    EXPECT_TRUE(report.will_retry);
    EXPECT_EQ(report.attempt, static_cast<std::uint32_t>(retry + 1));
    EXPECT_EQ(report.started_ms, now);
    EXPECT_EQ(report.backoff.count(), expected_delay);
    EXPECT_GE(report.backoff.count(), half);
    EXPECT_LE(report.backoff.count(), bases[retry]);
    EXPECT_EQ(report.retry_at_ms, now + expected_delay);
    EXPECT_EQ(dispatcher.stats().waiting_retry, 1u);

    // Not a millisecond early.
    clock->Set(report.retry_at_ms - 1);
    dispatcher.AdvanceTo(report.retry_at_ms - 1);
    ASSERT_TRUE(dispatcher.WaitIdle(10s).ok());
    EXPECT_EQ(executed.load(), retry + 1);
    now = report.retry_at_ms;
    clock->Set(now);
    dispatcher.AdvanceTo(now);
  }
  ASSERT_TRUE(dispatcher.WaitIdle(10s).ok());
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(reports.size(), 4u);
  EXPECT_FALSE(reports.back().will_retry);
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].attempts, 4u);
  EXPECT_EQ(outcomes[0].result.outcome, ActionOutcome::kRetryableFailure);
  EXPECT_EQ(outcomes[0].result.summary, "HTTP 503");
  EXPECT_EQ(outcomes[0].started_ms, 1'000'000);
  EXPECT_EQ(outcomes[0].finished_ms, now);
  EXPECT_FALSE(outcomes[0].abandoned);
  const DispatcherStats stats = dispatcher.stats();
  EXPECT_EQ(stats.attempts, 4u);
  EXPECT_EQ(stats.retries, 3u);
  EXPECT_EQ(stats.waiting_retry, 0u);
}

TEST(CallDispatcherTest, RetryAfterLongerThanTheBackoffIsHonoured) {
  auto clock = std::make_shared<ManualClock>(50'000);
  std::atomic<int> executed{0};
  auto handler = std::make_shared<FuncHandler>([&](const ActionRequest&, ActionDone done) {
    if (executed.fetch_add(1) == 0) {
      ActionResult r = ActionResult::Retryable("HTTP 429");
      r.http_status = 429;
      r.retry_after = 7s;
      done(std::move(r));
    } else {
      done(ActionResult::Success("HTTP 200"));
    }
  });
  DispatcherOptions options;
  options.mode = DispatchClockMode::kManual;
  options.clock = clock;
  options.jitter = JitterMode::kNone;
  CallDispatcher dispatcher(options);
  std::promise<CallOutcome> outcome;
  Call call = MakeCall(handler, "fp");
  call.limits.attempts = 3;
  call.limits.initial_backoff = 1s;
  call.on_done = [&](const CallOutcome& o) { outcome.set_value(o); };
  ASSERT_TRUE(dispatcher.Submit(std::move(call)).ok());
  ASSERT_TRUE(dispatcher.WaitIdle(10s).ok());
  EXPECT_EQ(executed.load(), 1);
  dispatcher.AdvanceTo(56'999);  // past the 1s backoff, before Retry-After
  ASSERT_TRUE(dispatcher.WaitIdle(10s).ok());
  EXPECT_EQ(executed.load(), 1);
  dispatcher.AdvanceTo(57'000);
  ASSERT_TRUE(dispatcher.WaitIdle(10s).ok());
  EXPECT_EQ(executed.load(), 2);
  const CallOutcome o = outcome.get_future().get();
  EXPECT_EQ(o.result.outcome, ActionOutcome::kSuccess);
  EXPECT_EQ(o.attempts, 2u);
}

TEST(CallDispatcherTest, PermanentFailureIsNotRetried) {
  std::atomic<int> executed{0};
  auto handler = std::make_shared<FuncHandler>([&](const ActionRequest&, ActionDone done) {
    executed.fetch_add(1);
    done(ActionResult::Permanent("HTTP 400"));
  });
  CallDispatcher dispatcher;
  std::promise<CallOutcome> outcome;
  Call call = MakeCall(handler, "fp");
  call.limits.attempts = 5;
  call.on_done = [&](const CallOutcome& o) { outcome.set_value(o); };
  ASSERT_TRUE(dispatcher.Submit(std::move(call)).ok());
  const CallOutcome o = outcome.get_future().get();
  EXPECT_EQ(o.attempts, 1u);
  EXPECT_EQ(o.result.summary, "HTTP 400");
  ASSERT_TRUE(dispatcher.WaitIdle(10s).ok());
  EXPECT_EQ(executed.load(), 1);
}

// Wall clock: a handler that never answers times out on every attempt, and the
// retries run on the timer thread.
TEST(CallDispatcherTest, AHandlerThatNeverAnswersTimesOut) {
  std::mutex mu;
  std::vector<ActionDone> kept;  // never called
  auto handler = std::make_shared<FuncHandler>([&](const ActionRequest&, ActionDone done) {
    std::lock_guard<std::mutex> lock(mu);
    kept.push_back(std::move(done));
  });
  DispatcherOptions options;
  options.seed = 3;
  CallDispatcher dispatcher(options);
  std::promise<CallOutcome> outcome;
  std::atomic<int> timed_out_reports{0};
  Call call = MakeCall(handler, "fp");
  call.limits.timeout = 40ms;
  call.limits.attempts = 2;
  call.limits.initial_backoff = 5ms;
  call.limits.max_backoff = 5ms;
  call.on_attempt = [&](const AttemptReport& r) {
    if (r.timed_out) timed_out_reports.fetch_add(1);
  };
  call.on_done = [&](const CallOutcome& o) { outcome.set_value(o); };
  ASSERT_TRUE(dispatcher.Submit(std::move(call)).ok());
  auto future = outcome.get_future();
  ASSERT_EQ(future.wait_for(30s), std::future_status::ready);
  const CallOutcome o = future.get();
  EXPECT_TRUE(o.timed_out);
  EXPECT_FALSE(o.abandoned);
  EXPECT_EQ(o.attempts, 2u);
  EXPECT_EQ(o.result.outcome, ActionOutcome::kRetryableFailure);
  EXPECT_EQ(o.result.summary, "timed out after 40ms");
  EXPECT_EQ(timed_out_reports.load(), 2);
  ASSERT_TRUE(dispatcher.WaitIdle(10s).ok());
  EXPECT_EQ(dispatcher.stats().timeouts, 2u);
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(kept.size(), 2u);
}

// A done() arriving after the timeout is counted and otherwise ignored, also
// once the dispatcher is gone.
TEST(CallDispatcherTest, ALateDoneIsIgnored) {
  std::mutex mu;
  std::vector<ActionDone> kept;
  auto handler = std::make_shared<FuncHandler>([&](const ActionRequest&, ActionDone done) {
    std::lock_guard<std::mutex> lock(mu);
    kept.push_back(std::move(done));
  });
  std::atomic<int> done_calls{0};
  CallOutcome last;
  {
    CallDispatcher dispatcher;
    Call call = MakeCall(handler, "fp");
    call.limits.timeout = 20ms;
    call.on_done = [&](const CallOutcome& o) {
      last = o;
      done_calls.fetch_add(1);
    };
    ASSERT_TRUE(dispatcher.Submit(std::move(call)).ok());
    ASSERT_TRUE(dispatcher.WaitIdle(30s).ok());
    ASSERT_EQ(done_calls.load(), 1);
    EXPECT_TRUE(last.timed_out);
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(kept.size(), 1u);
    kept[0](ActionResult::Success("too late"));
    EXPECT_EQ(dispatcher.stats().late_results, 1u);
  }
  std::lock_guard<std::mutex> lock(mu);
  kept[0](ActionResult::Success("later still"));  // the dispatcher is destroyed
  EXPECT_EQ(done_calls.load(), 1);
  EXPECT_EQ(last.result.outcome, ActionOutcome::kRetryableFailure);
}

TEST(CallDispatcherTest, AThrowingHandlerIsAPermanentFailure) {
  auto handler = std::make_shared<FuncHandler>(
      [](const ActionRequest&, ActionDone) { throw std::runtime_error("boom"); });
  CallDispatcher dispatcher;
  std::promise<CallOutcome> outcome;
  Call call = MakeCall(handler, "fp");
  call.limits.attempts = 3;
  call.on_done = [&](const CallOutcome& o) { outcome.set_value(o); };
  ASSERT_TRUE(dispatcher.Submit(std::move(call)).ok());
  const CallOutcome o = outcome.get_future().get();
  EXPECT_EQ(o.result.outcome, ActionOutcome::kPermanentFailure);
  EXPECT_EQ(o.result.summary, "handler threw: boom");
  EXPECT_EQ(o.attempts, 1u);
}

// done() inside Execute, and on_done submitting another call of its own key
// (which runs after the caller's on_done returned).
TEST(CallDispatcherTest, SynchronousDoneAndResubmissionFromOnDone) {
  std::mutex mu;
  std::vector<std::string> order;
  auto handler = std::make_shared<FuncHandler>([&](const ActionRequest& request, ActionDone done) {
    {
      std::lock_guard<std::mutex> lock(mu);
      order.push_back(request.step);
    }
    done(ActionResult::Success("sync"));
  });
  DispatcherOptions options;
  options.worker_threads = 1;
  CallDispatcher dispatcher(options);
  std::atomic<int> finished{0};
  for (int i = 0; i < 50; ++i) {
    Call call = MakeCall(handler, "fp", std::to_string(i));
    call.on_done = [&, i](const CallOutcome& o) {
      EXPECT_EQ(o.result.summary, "sync");
      finished.fetch_add(1);
      if (i == 49) {
        EXPECT_TRUE(dispatcher.Submit(MakeCall(handler, "fp", "follow-up")).ok());
      }
    };
    ASSERT_TRUE(dispatcher.Submit(std::move(call)).ok());
  }
  ASSERT_TRUE(dispatcher.WaitIdle(30s).ok());
  EXPECT_EQ(finished.load(), 50);
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(order.size(), 51u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(order[i], std::to_string(i));
  EXPECT_EQ(order.back(), "follow-up");
}

// Hung handlers (done never called), calls queued behind them, a retry
// waiting for its backoff: Shutdown returns soon after its deadline and
// reports every call as abandoned.
TEST(CallDispatcherTest, ShutdownAbandonsHungAndQueuedCalls) {
  std::mutex mu;
  std::vector<ActionDone> kept;
  auto hung = std::make_shared<FuncHandler>([&](const ActionRequest&, ActionDone done) {
    std::lock_guard<std::mutex> lock(mu);
    kept.push_back(std::move(done));
  });
  auto retrying = std::make_shared<FuncHandler>(
      [](const ActionRequest&, ActionDone done) { done(ActionResult::Retryable("503")); });
  auto dispatcher = std::make_unique<CallDispatcher>();
  std::mutex outcomes_mu;
  std::vector<CallOutcome> outcomes;
  auto record = [&](const CallOutcome& o) {
    std::lock_guard<std::mutex> lock(outcomes_mu);
    outcomes.push_back(o);
  };
  for (int k = 0; k < 3; ++k) {
    for (int i = 0; i < 3; ++i) {
      Call call = MakeCall(hung, "fp" + std::to_string(k));
      call.limits.timeout = 1h;
      call.on_done = record;
      ASSERT_TRUE(dispatcher->Submit(std::move(call)).ok());
    }
  }
  Call retry = MakeCall(retrying, "other");
  retry.handler_name = "retrying";
  retry.limits.attempts = 5;
  retry.limits.initial_backoff = 1h;
  retry.limits.max_backoff = 1h;
  retry.on_done = record;
  ASSERT_TRUE(dispatcher->Submit(std::move(retry)).ok());
  for (int spin = 0; spin < 1000 && dispatcher->stats().waiting_retry == 0; ++spin) {
    std::this_thread::sleep_for(5ms);
  }
  for (int spin = 0; spin < 1000 && dispatcher->stats().in_flight < 3; ++spin) {
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_EQ(dispatcher->stats().in_flight, 3u);

  const auto start = std::chrono::steady_clock::now();
  dispatcher->Shutdown(100ms);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, 5s) << "Shutdown overran its 100ms deadline by far";
  {
    std::lock_guard<std::mutex> lock(outcomes_mu);
    ASSERT_EQ(outcomes.size(), 10u);
    int cut_short = 0;
    for (const CallOutcome& o : outcomes) {
      EXPECT_TRUE(o.abandoned);
      EXPECT_EQ(o.result.outcome, ActionOutcome::kPermanentFailure);
      if (o.result.summary == "abandoned at shutdown: attempt 1 did not finish") ++cut_short;
    }
    EXPECT_EQ(cut_short, 3);
  }
  const DispatcherStats stats = dispatcher->stats();
  EXPECT_EQ(stats.abandoned, 10u);
  EXPECT_EQ(stats.in_flight, 0u);
  EXPECT_EQ(stats.queued, 0u);
  EXPECT_EQ(dispatcher->Submit(MakeCall(hung, "late")).code(), StatusCode::kFailedPrecondition);
  dispatcher->Shutdown(100ms);  // idempotent
  dispatcher.reset();
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(kept.size(), 3u);
  for (ActionDone& done : kept) done(ActionResult::Success("after shutdown"));
}

// An Execute that blocks (against the contract) does not hold Shutdown past
// its deadline: the worker is left behind and finishes on its own.
TEST(CallDispatcherTest, ShutdownDoesNotWaitForABlockedExecute) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> entered;
  auto returned = std::make_shared<std::atomic<bool>>(false);
  auto handler = std::make_shared<FuncHandler>(
      [&entered, released, returned](const ActionRequest&, ActionDone done) {
        entered.set_value();
        released.wait();
        done(ActionResult::Success("finally"));
        returned->store(true);
      });
  auto dispatcher = std::make_unique<CallDispatcher>();
  std::promise<CallOutcome> outcome;
  Call call = MakeCall(handler, "fp");
  call.on_done = [&](const CallOutcome& o) { outcome.set_value(o); };
  ASSERT_TRUE(dispatcher->Submit(std::move(call)).ok());
  entered.get_future().wait();
  const auto start = std::chrono::steady_clock::now();
  dispatcher->Shutdown(50ms);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  const CallOutcome o = outcome.get_future().get();
  EXPECT_TRUE(o.abandoned);
  dispatcher.reset();
  release.set_value();
  for (int spin = 0; spin < 2000 && !returned->load(); ++spin) std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(returned->load());
  std::this_thread::sleep_for(20ms);  // let the left-behind worker leave its loop
}

TEST(CallDispatcherTest, SubmitWithoutAHandlerIsRefused) {
  CallDispatcher dispatcher;
  Call call;
  call.handler_name = "x";
  EXPECT_EQ(dispatcher.Submit(std::move(call)).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace nimify::actions
