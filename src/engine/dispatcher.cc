#include "engine/dispatcher.h"

#include <algorithm>
#include <exception>
#include <system_error>
#include <utility>

namespace nimify::engine {

Dispatcher::Dispatcher(LogFn log)
    : log_(std::move(log)), handlers_(std::make_shared<const HandlerList>()) {}

Dispatcher::~Dispatcher() { Stop(); }

Status Dispatcher::Start() {
  try {
    thread_ = std::thread([this] { Run(); });
  } catch (const std::system_error& e) {
    return Status::Internal(std::string("cannot start the alert dispatcher thread: ") + e.what());
  }
  thread_id_.store(thread_.get_id(), std::memory_order_release);
  return Status::Ok();
}

bool Dispatcher::OnDispatcherThread() const noexcept {
  return thread_id_.load(std::memory_order_acquire) == std::this_thread::get_id();
}

void Dispatcher::Push(EvalOutput&& output) {
  if (output.events.empty() && output.logs.empty() && !output.eval_time_ms) return;
  const std::size_t n = output.events.size();
  bool was_empty = false;
  {
    std::lock_guard lock(queue_mu_);
    was_empty = queue_.empty();
    for (auto& [level, text] : output.logs) queue_.emplace_back(LogLine{level, std::move(text)});
    for (auto& e : output.events) queue_.emplace_back(std::move(e));
    if (output.eval_time_ms) queue_.emplace_back(EvaluationDone{*output.eval_time_ms});
  }
  events_queued_.fetch_add(n, std::memory_order_relaxed);
  // The dispatcher waits only on an empty queue and takes it whole, so only
  // the first item needs a wake-up (this runs while every shard is held).
  if (was_empty) queue_cv_.notify_one();
}

void Dispatcher::Log(LogLevel level, std::string text) {
  bool was_empty = false;
  {
    std::lock_guard lock(queue_mu_);
    was_empty = queue_.empty();
    queue_.emplace_back(LogLine{level, std::move(text)});
  }
  if (was_empty) queue_cv_.notify_one();
}

std::uint64_t Dispatcher::queue_depth() const {
  std::lock_guard lock(queue_mu_);
  return queue_.size();
}

HandlerId Dispatcher::Add(std::shared_ptr<AlertHandler> handler) {
  std::lock_guard lock(handlers_mu_);
  auto next = std::make_shared<HandlerList>(*handlers_);
  const HandlerId id = next_id_++;
  next->emplace_back(id, std::move(handler));
  handlers_ = std::move(next);
  return id;
}

Status Dispatcher::Remove(HandlerId id) {
  {
    std::lock_guard lock(handlers_mu_);
    auto next = std::make_shared<HandlerList>(*handlers_);
    auto it = std::find_if(next->begin(), next->end(), [id](const auto& h) { return h.first == id; });
    if (it == next->end()) return Status::NotFound("no handler with id " + std::to_string(id));
    next->erase(it);
    handlers_ = std::move(next);
  }
  // Wait for a delivery in progress that may still use the old list (unless
  // we are that delivery).
  if (!OnDispatcherThread()) std::lock_guard wait(delivery_mu_);
  return Status::Ok();
}

void Dispatcher::Run() {
  std::vector<Item> items;
  while (true) {
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) break;  // stopping, and everything delivered
      items.swap(queue_);
    }
    Deliver(items);
    items.clear();
  }
  std::lock_guard delivery(delivery_mu_);
  std::shared_ptr<const HandlerList> handlers;
  {
    std::lock_guard lock(handlers_mu_);
    handlers = handlers_;
  }
  {
    // Handlers are not called again: drop them, so that a handler holding a
    // Producer (and through it the engine) does not keep the engine alive.
    std::lock_guard lock(handlers_mu_);
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
  std::lock_guard delivery(delivery_mu_);
  for (Item& item : items) {
    if (auto* line = std::get_if<LogLine>(&item)) {
      EmitLog(line->level, line->text);
      continue;
    }
    std::shared_ptr<const HandlerList> handlers;
    {
      std::lock_guard lock(handlers_mu_);
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
  std::lock_guard stop(stop_mu_);
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

}  // namespace nimify::engine
