// Many producer threads stream into a multi-shard engine while other threads
// swap rules, read alerts and stats, and add and remove handlers. Checks that
// every sample arrives, that the alerts match what the data says, and (under
// ThreadSanitizer, label `tsan`) that nothing races.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine_test_util.h"
#include "nimify/engine.h"

namespace nimify {
namespace {

using ::nimify::testing::Get;
using ::nimify::testing::Recorder;

constexpr int kProducers = 4;
constexpr int kSeriesPerProducer = 50;
constexpr int kSteps = 120;
constexpr std::int64_t kStep = 15'000;

constexpr char kRules[] = R"(
groups:
  - name: load
    interval: 1m
    rules:
      - alert: Busy
        expr: load > 8
      - alert: BusyForAWhile
        expr: load > 5
        for: 1m
      - record: worker:load:max
        expr: max by (worker) (load)
)";

// Series i of producer p at step s.
double LoadAt(int p, int i, int s) { return static_cast<double>((s + 3 * i + p) % 10); }

TEST(EngineStressTest, ManyProducersAndConcurrentControl) {
  auto rules = RuleSet::Parse(kRules);
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  EngineOptions options;
  options.shards = 3;
  options.ring_capacity = 256;  // small: producers wait on full rings now and then
  auto created = Engine::Create(options, *rules);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  Engine& engine = **created;
  auto recorder = std::make_shared<Recorder>();
  engine.AddHandler(recorder);

  std::atomic<bool> done{false};
  // All producers first: one that joins later starts at the last evaluation instant.
  std::vector<std::unique_ptr<Producer>> producers;
  for (int p = 0; p < kProducers; ++p) {
    // A long wait: under TSan on a loaded machine the shards can lag by seconds, and this
    // test is about ordering and consistency, not about timely intake.
    auto producer = engine.NewProducer({.backpressure = BackpressurePolicy::kWait,
                                        .max_wait = std::chrono::seconds(60)});
    ASSERT_TRUE(producer.ok());
    producers.push_back(std::move(producer).value());
  }
  std::vector<std::thread> threads;
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([p, prod = std::move(producers[static_cast<std::size_t>(p)])] {
      std::vector<SeriesRef> refs;
      for (int i = 0; i < kSeriesPerProducer; ++i) {
        const std::string worker = std::to_string(i);
        const std::string producer_name = std::to_string(p);
        const Label labels[] = {{"__name__", "load"}, {"worker", worker}, {"producer", producer_name}};
        auto ref = prod->Resolve(labels);
        ASSERT_TRUE(ref.ok());
        refs.push_back(*ref);
      }
      std::vector<Sample> batch;
      for (int s = 0; s < kSteps; ++s) {
        batch.clear();
        for (int i = 0; i < kSeriesPerProducer; ++i) {
          batch.push_back({refs[static_cast<std::size_t>(i)], s * kStep, LoadAt(p, i, s)});
        }
        ASSERT_TRUE(prod->AppendBatch(batch).ok());
        ASSERT_TRUE(prod->Flush().ok());
      }
      prod->Close();
    });
  }
  // Control-plane noise while the data flows.
  threads.emplace_back([&] {
    while (!done.load()) {
      EXPECT_TRUE(engine.SetRules(*rules).ok());
      (void)engine.ActiveAlerts();
      (void)engine.stats();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  threads.emplace_back([&] {
    while (!done.load()) {
      const HandlerId id = engine.Subscribe([](const AlertEvent&) {});
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      EXPECT_TRUE(engine.RemoveHandler(id).ok());
    }
  });
  for (int p = 0; p < kProducers; ++p) threads[static_cast<std::size_t>(p)].join();
  done = true;
  for (std::size_t i = kProducers; i < threads.size(); ++i) threads[i].join();
  ASSERT_TRUE(engine.Stop().ok());

  const EngineStats stats = engine.stats();
  const std::uint64_t total = std::uint64_t{kProducers} * kSeriesPerProducer * kSteps;
  EXPECT_EQ(stats.samples_accepted, total);
  EXPECT_EQ(stats.samples_refused, 0u);
  EXPECT_EQ(stats.samples_rejected, 0u);
  EXPECT_EQ(stats.rule_failures, 0u);
  EXPECT_EQ(stats.last_evaluation_ms, (kSteps - 1) * kStep);

  // At the last instant, Busy fires exactly for the series above 8.
  const int last = kSteps - 1;
  std::set<std::string> expected;
  for (int p = 0; p < kProducers; ++p) {
    for (int i = 0; i < kSeriesPerProducer; ++i) {
      if (LoadAt(p, i, last) > 8) expected.insert(std::to_string(p) + "/" + std::to_string(i));
    }
  }
  std::set<std::string> busy;
  for (const auto& a : engine.ActiveAlerts()) {
    if (a.rule == "Busy") {
      EXPECT_EQ(a.state, AlertState::kFiring);
      busy.insert(Get(a.labels, "producer") + "/" + Get(a.labels, "worker"));
    }
  }
  EXPECT_EQ(busy, expected);

  // Every alert's transitions alternate: firing, resolved, firing, ...
  std::map<std::string, AlertState> last_state;
  for (const auto& e : recorder->events()) {
    if (e.rule != "Busy") continue;
    const std::string key = Get(e.labels, "producer") + "/" + Get(e.labels, "worker");
    auto it = last_state.find(key);
    if (it == last_state.end()) {
      EXPECT_EQ(e.state, AlertState::kFiring) << key;
    } else {
      EXPECT_NE(e.state, it->second) << key << " at " << e.eval_time_ms;
    }
    last_state[key] = e.state;
  }
  EXPECT_FALSE(last_state.empty());
}

}  // namespace
}  // namespace nimify
