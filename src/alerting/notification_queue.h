// A bounded, thread-safe AlertSink that only queues: the evaluating thread
// pushes, a sender thread (Alertmanager client, action router) drains.
//
//   NotificationQueue queue(10'000);
//   group->Eval(ts, query, &appender, &queue);     // evaluation thread
//   for (auto& batch : queue.Drain()) Send(batch);  // sender thread
#ifndef NIMIFY_ALERTING_NOTIFICATION_QUEUE_H_
#define NIMIFY_ALERTING_NOTIFICATION_QUEUE_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "alerting/alert.h"
#include "common/mutex.h"

namespace nimify::alerting {

struct NotificationBatch {
  std::string rule_name;
  std::string expr;
  std::vector<NotificationAlert> alerts;
};

// Thread safety: every method may be called from any thread; mu_ guards the
// queue and its counts.
class NotificationQueue final : public AlertSink {
 public:
  // At most `capacity` alerts wait; when full, the oldest batches are dropped
  // (as Prometheus's notifier drops the oldest alerts) and counted.
  explicit NotificationQueue(std::size_t capacity) : capacity_(capacity) {}

  void Send(std::string_view rule_name, std::string_view expr,
            std::vector<NotificationAlert> alerts) override;

  // Takes every queued batch, oldest first.
  std::vector<NotificationBatch> Drain();
  // Waits up to `timeout` for something to drain, then drains.
  std::vector<NotificationBatch> WaitAndDrain(std::chrono::milliseconds timeout);

  std::size_t queued_alerts() const;
  std::uint64_t dropped_alerts() const;

 private:
  const std::size_t capacity_;
  mutable Mutex mu_;
  CondVar cv_;  // signalled when a batch is queued
  std::deque<NotificationBatch> batches_ NIMIFY_GUARDED_BY(mu_);
  std::size_t queued_ NIMIFY_GUARDED_BY(mu_) = 0;
  std::uint64_t dropped_ NIMIFY_GUARDED_BY(mu_) = 0;
};

}  // namespace nimify::alerting

#endif  // NIMIFY_ALERTING_NOTIFICATION_QUEUE_H_
