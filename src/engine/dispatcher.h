// The alert dispatcher: a queue from the evaluation (which runs on a shard
// worker) to one thread that calls the registered handlers, so nothing a
// handler does can slow ingestion or evaluation. Or, in inline mode
// (EngineOptions::handler_thread = kEvaluator), no queue and no thread: the
// evaluating thread calls the handlers itself, one wake-up sooner.
//
//   Dispatcher d(log_callback);
//   NIMIFY_RETURN_IF_ERROR(d.Start());
//   HandlerId id = d.Add(handler);
//   d.Push(std::move(eval_output));    // from the evaluating thread
//   d.Stop();                          // delivers what is queued, flushes, joins
#ifndef NIMIFY_ENGINE_DISPATCHER_H_
#define NIMIFY_ENGINE_DISPATCHER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include "common/mutex.h"
#include "engine/rule_runtime.h"
#include "nimify/alert.h"
#include "nimify/engine.h"
#include "nimify/status.h"

namespace nimify::engine {

// Thread safety
//   Push, Log, Add, Remove and the counters may be used from any thread.
//   `queue_mu_` guards the queue; the dispatcher thread swaps the whole queue
//   out and delivers it unlocked. `handlers_mu_` guards the handler list, which
//   is copy-on-write so the dispatcher reads a snapshot. `delivery_mu_` is held
//   while handlers run, so Remove() can wait for a call in progress.
//   The queue is unbounded: blocking the evaluation on a slow handler would
//   stall every shard, and dropping transitions would lose alerts.
//   Inline mode: Push and Log deliver on the calling thread under
//   `delivery_mu_`, so handlers still run one call at a time and in order. A
//   Push from inside a delivery on the same thread (a handler's SetRules) is
//   delivered when the outer delivery ends, on that thread.
class Dispatcher {
 public:
  using LogFn = std::function<void(LogLevel, std::string_view)>;

  Dispatcher(LogFn log, bool inline_delivery);
  ~Dispatcher();  // Stop()
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // kInternal when the thread cannot start. Inline mode starts no thread.
  Status Start();

  // Queues (inline: delivers) the log lines and events of one evaluation, in
  // order, then its OnEvaluation call when output.eval_time_ms is set.
  void Push(EvalOutput&& output);
  void Log(LogLevel level, std::string text);

  HandlerId Add(std::shared_ptr<AlertHandler> handler);
  // kNotFound for an unknown id.
  Status Remove(HandlerId id);

  // Delivers everything queued, calls each handler's Flush(), joins. Idempotent.
  void Stop();

  // True on the dispatcher thread, and on any thread while it runs a handler.
  bool OnDispatcherThread() const noexcept;

  std::uint64_t events_queued() const noexcept {
    return events_queued_.load(std::memory_order_relaxed);
  }
  std::uint64_t handler_calls() const noexcept {
    return handler_calls_.load(std::memory_order_relaxed);
  }
  std::uint64_t handler_failures() const noexcept {
    return handler_failures_.load(std::memory_order_relaxed);
  }
  std::uint64_t queue_depth() const;

 private:
  struct LogLine {
    LogLevel level;
    std::string text;
  };
  struct EvaluationDone {
    std::int64_t eval_time_ms;
  };
  using Item = std::variant<AlertEvent, LogLine, EvaluationDone>;
  using HandlerList = std::vector<std::pair<HandlerId, std::shared_ptr<AlertHandler>>>;

  void Run();
  // The log lines, events and evaluation end of `output`, in delivery order.
  static void AppendItems(EvalOutput& output, std::vector<Item>* items);
  // Inline mode.
  void DeliverNow(std::vector<Item>&& items);
  void Deliver(std::vector<Item>& items) NIMIFY_REQUIRES(delivery_mu_);
  // Calls each handler's Flush() and drops them all: they are not called again.
  void FlushAndDropHandlers() NIMIFY_REQUIRES(delivery_mu_);
  void EmitLog(LogLevel level, std::string_view text);

  const LogFn log_;
  const bool inline_;

  mutable Mutex queue_mu_;
  CondVar queue_cv_;
  std::vector<Item> queue_ NIMIFY_GUARDED_BY(queue_mu_);
  bool stopping_ NIMIFY_GUARDED_BY(queue_mu_) = false;

  Mutex handlers_mu_;
  std::shared_ptr<const HandlerList> handlers_ NIMIFY_GUARDED_BY(handlers_mu_);
  HandlerId next_id_ NIMIFY_GUARDED_BY(handlers_mu_) = 1;

  Mutex delivery_mu_ NIMIFY_ACQUIRED_AFTER(stop_mu_);
  // Inline mode: what a handler pushed during a delivery, delivered after it.
  std::vector<Item> reentrant_ NIMIFY_GUARDED_BY(delivery_mu_);
  bool inline_stopped_ NIMIFY_GUARDED_BY(delivery_mu_) = false;
  Mutex stop_mu_;  // serialises Stop()
  std::thread thread_;
  std::atomic<std::thread::id> thread_id_{};

  // relaxed: statistics only.
  std::atomic<std::uint64_t> events_queued_{0};
  std::atomic<std::uint64_t> handler_calls_{0};
  std::atomic<std::uint64_t> handler_failures_{0};
};

}  // namespace nimify::engine

#endif  // NIMIFY_ENGINE_DISPATCHER_H_
