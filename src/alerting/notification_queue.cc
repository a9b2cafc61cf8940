#include "alerting/notification_queue.h"

namespace nimify::alerting {

void NotificationQueue::Send(std::string_view rule_name, std::string_view expr,
                             std::vector<NotificationAlert> alerts) {
  if (alerts.empty()) return;
  {
    MutexLock lock(mu_);
    queued_ += alerts.size();
    batches_.push_back({std::string(rule_name), std::string(expr), std::move(alerts)});
    // Drop whole batches from the front; the newest batch always stays.
    while (queued_ > capacity_ && batches_.size() > 1) {
      queued_ -= batches_.front().alerts.size();
      dropped_ += batches_.front().alerts.size();
      batches_.pop_front();
    }
  }
  cv_.NotifyOne();
}

std::vector<NotificationBatch> NotificationQueue::Drain() {
  MutexLock lock(mu_);
  std::vector<NotificationBatch> out(std::make_move_iterator(batches_.begin()),
                                     std::make_move_iterator(batches_.end()));
  batches_.clear();
  queued_ = 0;
  return out;
}

std::vector<NotificationBatch> NotificationQueue::WaitAndDrain(std::chrono::milliseconds timeout) {
  {
    MutexLock lock(mu_);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (batches_.empty()) {
      if (!cv_.WaitUntil(mu_, deadline)) break;
    }
  }
  return Drain();
}

std::size_t NotificationQueue::queued_alerts() const {
  MutexLock lock(mu_);
  return queued_;
}

std::uint64_t NotificationQueue::dropped_alerts() const {
  MutexLock lock(mu_);
  return dropped_;
}

}  // namespace nimify::alerting
