// The queueing AlertSink: order, bounds and a concurrent producer/consumer.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "alerting/notification_queue.h"

namespace nimify::alerting {
namespace {

std::vector<NotificationAlert> Alerts(int n, int first = 0) {
  std::vector<NotificationAlert> out;
  for (int i = 0; i < n; ++i) {
    NotificationAlert a;
    a.starts_at_ms = first + i;
    out.push_back(std::move(a));
  }
  return out;
}

TEST(NotificationQueueTest, DrainsInOrder) {
  NotificationQueue q(100);
  q.Send("A", "up == 0", Alerts(2));
  q.Send("B", "x > 1", Alerts(1, 10));
  q.Send("C", "y", {});  // nothing to send: not queued
  EXPECT_EQ(q.queued_alerts(), 3u);
  auto batches = q.Drain();
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0].rule_name, "A");
  EXPECT_EQ(batches[0].expr, "up == 0");
  EXPECT_EQ(batches[0].alerts.size(), 2u);
  EXPECT_EQ(batches[1].alerts[0].starts_at_ms, 10);
  EXPECT_EQ(q.queued_alerts(), 0u);
  EXPECT_TRUE(q.Drain().empty());
}

TEST(NotificationQueueTest, DropsOldestWhenFull) {
  NotificationQueue q(3);
  q.Send("old", "", Alerts(2));
  q.Send("mid", "", Alerts(1));
  q.Send("new", "", Alerts(2));
  auto batches = q.Drain();
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0].rule_name, "mid");
  EXPECT_EQ(batches[1].rule_name, "new");
  EXPECT_EQ(q.dropped_alerts(), 2u);
}

TEST(NotificationQueueTest, ConcurrentProducerAndConsumer) {
  NotificationQueue q(1'000'000);
  constexpr int kBatches = 2000;
  std::atomic<bool> done{false};
  std::size_t received = 0;
  std::thread consumer([&] {
    while (!done.load() || q.queued_alerts() > 0) {
      for (auto& b : q.WaitAndDrain(std::chrono::milliseconds(5))) received += b.alerts.size();
    }
  });
  for (int i = 0; i < kBatches; ++i) q.Send("r", "e", Alerts(3, i));
  done.store(true);
  consumer.join();
  for (auto& b : q.Drain()) received += b.alerts.size();
  EXPECT_EQ(received, 3u * kBatches);
  EXPECT_EQ(q.dropped_alerts(), 0u);
}

}  // namespace
}  // namespace nimify::alerting
