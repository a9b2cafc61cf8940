#include "alerting/notification_queue.h"

namespace nimify::alerting {

void NotificationQueue::Send(std::string_view rule_name, std::string_view expr,
                             std::vector<NotificationAlert> alerts) {
  if (alerts.empty()) return;
  {
    std::lock_guard lock(mu_);
    queued_ += alerts.size();
    batches_.push_back({std::string(rule_name), std::string(expr), std::move(alerts)});
    // Drop whole batches from the front; the newest batch always stays.
    while (queued_ > capacity_ && batches_.size() > 1) {
      queued_ -= batches_.front().alerts.size();
      dropped_ += batches_.front().alerts.size();
      batches_.pop_front();
    }
  }
  cv_.notify_one();
}

std::vector<NotificationBatch> NotificationQueue::Drain() {
  std::lock_guard lock(mu_);
  std::vector<NotificationBatch> out(std::make_move_iterator(batches_.begin()),
                                     std::make_move_iterator(batches_.end()));
  batches_.clear();
  queued_ = 0;
  return out;
}

std::vector<NotificationBatch> NotificationQueue::WaitAndDrain(std::chrono::milliseconds timeout) {
  {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [this] { return !batches_.empty(); });
  }
  return Drain();
}

std::size_t NotificationQueue::queued_alerts() const {
  std::lock_guard lock(mu_);
  return queued_;
}

std::uint64_t NotificationQueue::dropped_alerts() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

}  // namespace nimify::alerting
