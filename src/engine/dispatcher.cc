#include "engine/dispatcher.h"

#include <algorithm>
#include <exception>
#include <system_error>
#include <utility>

#include "common/thread_mark.h"
#include "common/thread_name.h"

namespace nimify::engine {
namespace {

// The dispatcher whose handlers this thread is running, if any.
using DeliveringMark = ThreadMark<struct DeliveringTag>;

}  // namespace

Dispatcher::Dispatcher(LogFn log, bool inline_delivery)
    : log_(std::move(log)),
      inline_(inline_delivery),
      handlers_(std::make_shared<const HandlerList>()) {}

Dispatcher::~Dispatcher() { Stop(); }

Status Dispatcher::Start() {
  if (inline_) return Status::Ok();
  try {
    thread_ = std::thread([this] {
      SetCurrentThreadName("nimify-alerts");
      Run();
    });
  } catch (const std::system_error& e) {
    return Status::Internal(std::string("cannot start the alert dispatcher thread: ") + e.what());
  }
  thread_id_.store(thread_.get_id(), std::memory_order_release);
  return Status::Ok();
}

bool Dispatcher::OnDispatcherThread() const noexcept {
  return DeliveringMark::Current() == this ||
         thread_id_.load(std::memory_order_acquire) == std::this_thread::get_id();
}

void Dispatcher::AppendItems(EvalOutput& output, std::vector<Item>* items) {
  for (auto& [level, text] : output.logs) items->emplace_back(LogLine{level, std::move(text)});
  for (auto& e : output.events) items->emplace_back(std::move(e));
  if (output.eval_time_ms) items->emplace_back(EvaluationDone{*output.eval_time_ms});
}

void Dispatcher::Push(EvalOutput&& output) {
  if (output.events.empty() && output.logs.empty() && !output.eval_time_ms) return;
  const std::size_t n = output.events.size();
  if (inline_) {
    std::vector<Item> items;
    items.reserve(output.logs.size() + n + 1);
    AppendItems(output, &items);
    events_queued_.fetch_add(n, std::memory_order_relaxed);
    DeliverNow(std::move(items));
    return;
  }
  bool was_empty = false;
  {
    MutexLock lock(queue_mu_);
    was_empty = queue_.empty();
    AppendItems(output, &queue_);
  }
  events_queued_.fetch_add(n, std::memory_order_relaxed);
  // The dispatcher waits only on an empty queue and takes it whole, so only
  // the first item needs a wake-up (this runs while every shard is held).
  if (was_empty) queue_cv_.NotifyOne();
}

void Dispatcher::Log(LogLevel level, std::string text) {
  if (inline_) {
    std::vector<Item> items;
    items.emplace_back(LogLine{level, std::move(text)});
    DeliverNow(std::move(items));
    return;
  }
  bool was_empty = false;
  {
    MutexLock lock(queue_mu_);
    was_empty = queue_.empty();
    queue_.emplace_back(LogLine{level, std::move(text)});
  }
  if (was_empty) queue_cv_.NotifyOne();
}

std::uint64_t Dispatcher::queue_depth() const {
  MutexLock lock(queue_mu_);
  return queue_.size();
}

HandlerId Dispatcher::Add(std::shared_ptr<AlertHandler> handler) {
  MutexLock lock(handlers_mu_);
  auto next = std::make_shared<HandlerList>(*handlers_);
  const HandlerId id = next_id_++;
  next->emplace_back(id, std::move(handler));
  handlers_ = std::move(next);
  return id;
}

Status Dispatcher::Remove(HandlerId id) {
  {
    MutexLock lock(handlers_mu_);
    auto next = std::make_shared<HandlerList>(*handlers_);
    auto it = std::find_if(next->begin(), next->end(), [id](const auto& h) { return h.first == id; });
    if (it == next->end()) return Status::NotFound("no handler with id " + std::to_string(id));
    next->erase(it);
    handlers_ = std::move(next);
  }
  // Wait for a delivery in progress that may still use the old list (unless
  // we are that delivery).
  if (!OnDispatcherThread()) MutexLock wait(delivery_mu_);
  return Status::Ok();
}

void Dispatcher::Run() {
  std::vector<Item> items;
  while (true) {
    {
      MutexLock lock(queue_mu_);
      while (!stopping_ && queue_.empty()) queue_cv_.Wait(queue_mu_);
      if (queue_.empty()) break;  // stopping, and everything delivered
      items.swap(queue_);
    }
    {
      MutexLock delivery(delivery_mu_);
      Deliver(items);
    }
    items.clear();
  }
  MutexLock delivery(delivery_mu_);
  FlushAndDropHandlers();
}

void Dispatcher::DeliverNow(std::vector<Item>&& items) {
  if (DeliveringMark::Current() == this) {
    // A handler pushed (SetRules from OnAlert): this thread already holds
    // delivery_mu_ and delivers it when the current delivery ends.
    delivery_mu_.AssertHeld();
    for (Item& item : items) reentrant_.push_back(std::move(item));
    return;
  }
  MutexLock delivery(delivery_mu_);
  if (inline_stopped_) {
    // After Stop the handlers are gone; the log callback still hears.
    for (Item& item : items) {
      if (auto* line = std::get_if<LogLine>(&item)) EmitLog(line->level, line->text);
    }
    return;
  }
  Deliver(items);
  while (!reentrant_.empty()) {
    std::vector<Item> more;
    more.swap(reentrant_);
    Deliver(more);
  }
}

void Dispatcher::FlushAndDropHandlers() {
  const DeliveringMark::Scope delivering(this);
  std::shared_ptr<const HandlerList> handlers;
  {
    MutexLock lock(handlers_mu_);
    handlers = handlers_;
  }
  {
    // Handlers are not called again: drop them, so that a handler holding a
    // Producer (and through it the engine) does not keep the engine alive.
    MutexLock lock(handlers_mu_);
    handlers_ = std::make_shared<const HandlerList>();
  }
  for (const auto& [id, handler] : *handlers) {
    try {
      handler->Flush();
    } catch (const std::exception& e) {
      handler_failures_.fetch_add(1, std::memory_order_relaxed);
      EmitLog(LogLevel::kError, std::string("alert handler Flush() threw: ") + e.what());
    } catch (...) {
      handler_failures_.fetch_add(1, std::memory_order_relaxed);
      EmitLog(LogLevel::kError, "alert handler Flush() threw");
    }
  }
}

void Dispatcher::Deliver(std::vector<Item>& items) {
  const DeliveringMark::Scope delivering(this);
  for (Item& item : items) {
    if (auto* line = std::get_if<LogLine>(&item)) {
      EmitLog(line->level, line->text);
      continue;
    }
    std::shared_ptr<const HandlerList> handlers;
    {
      MutexLock lock(handlers_mu_);
      handlers = handlers_;
    }
    if (auto* done = std::get_if<EvaluationDone>(&item)) {
      for (const auto& [id, handler] : *handlers) {
        try {
          handler->OnEvaluation(done->eval_time_ms);
        } catch (const std::exception& e) {
          handler_failures_.fetch_add(1, std::memory_order_relaxed);
          EmitLog(LogLevel::kError, std::string("alert handler OnEvaluation() threw: ") + e.what());
        } catch (...) {
          handler_failures_.fetch_add(1, std::memory_order_relaxed);
          EmitLog(LogLevel::kError, "alert handler OnEvaluation() threw");
        }
      }
      continue;
    }
    const AlertEvent& event = std::get<AlertEvent>(item);
    for (const auto& [id, handler] : *handlers) {
      handler_calls_.fetch_add(1, std::memory_order_relaxed);
      try {
        handler->OnAlert(event);
      } catch (const std::exception& e) {
        handler_failures_.fetch_add(1, std::memory_order_relaxed);
        EmitLog(LogLevel::kError, "alert handler threw on " + event.rule + ": " + e.what());
      } catch (...) {
        handler_failures_.fetch_add(1, std::memory_order_relaxed);
        EmitLog(LogLevel::kError, "alert handler threw on " + event.rule);
      }
    }
  }
}

void Dispatcher::EmitLog(LogLevel level, std::string_view text) {
  if (!log_) return;
  try {
    log_(level, text);
  } catch (...) {
    // A throwing log callback must not end the dispatcher; nothing else to tell.
  }
}

void Dispatcher::Stop() {
  MutexLock stop(stop_mu_);
  if (inline_) {
    MutexLock delivery(delivery_mu_);
    if (!inline_stopped_) {
      inline_stopped_ = true;
      FlushAndDropHandlers();
    }
    return;
  }
  {
    MutexLock lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.NotifyOne();
  if (thread_.joinable()) thread_.join();
}

}  // namespace nimify::engine
