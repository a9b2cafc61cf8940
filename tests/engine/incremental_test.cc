// Threshold rules evaluated incrementally (from the series the SampleTracker
// saw cross) give exactly the alerts the PromQL evaluator gives: the same
// random data, with gaps, staleness markers, NaNs and values on the
// threshold, streamed through an engine with and without the incremental path.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine_test_util.h"
#include "engine/sample_tracker.h"
#include "nimify/engine.h"
#include "promql/parser.h"
#include "promql/value.h"
#include "storage/shard.h"

namespace nimify {
namespace {

using ::nimify::testing::DescribeAllSorted;
using ::nimify::testing::Recorder;

constexpr char kRules[] = R"(
groups:
  - name: thresholds
    interval: 1m
    rules:
      - alert: Above
        expr: m > 50
        annotations:
          value: "{{ $value }} {{ $labels.__name__ }}"
      - alert: Below
        expr: m < 10
        labels:
          level: "{{ if gt $value 5.0 }}mild{{ else }}severe{{ end }}"
      - alert: AtLeast
        expr: m >= 50
        for: 1m
      - alert: AtMost
        expr: (m) <= -0
      - alert: Exactly
        expr: m == 42
      - alert: Not
        expr: m{kind="a"} != 42
        for: 2m
      - alert: Reversed
        expr: 90 < m
      - alert: ReversedNegative
        expr: -5 >= m{kind="b"}
)";

struct Sent {
  std::size_t series;
  std::int64_t t;
  double v;
};

// Random samples for `n` series over `minutes`: irregular timestamps, pauses
// longer than the lookback, staleness markers, NaNs and values exactly on the
// thresholds.
std::vector<std::vector<Sent>> RandomData(std::uint32_t seed, std::size_t n, int minutes) {
  std::mt19937 rng(seed);
  std::vector<std::vector<Sent>> by_series(n);
  const double specials[] = {42, 50, 10, 90, -5, 0, -0.0, std::nan("")};
  for (std::size_t s = 0; s < n; ++s) {
    // On a 5s grid, so that samples often sit exactly on window boundaries.
    std::int64_t t = static_cast<std::int64_t>(rng() % 4) * 5'000;
    while (t < minutes * 60'000) {
      double v;
      const unsigned kind = rng() % 20;
      if (kind == 0) {
        v = promql::StaleNaN();
      } else if (kind < 5) {
        v = specials[rng() % std::size(specials)];
      } else {
        v = static_cast<double>(static_cast<int>(rng() % 130) - 15);
      }
      by_series[s].push_back({s, t, v});
      // Mostly every ~15s; sometimes a pause past the 5m lookback.
      t += rng() % 25 == 0 ? 5 * 60'000 + static_cast<std::int64_t>(rng() % 12) * 5'000
                           : 5'000 + static_cast<std::int64_t>(rng() % 4) * 5'000;
    }
  }
  return by_series;
}

std::vector<AlertEvent> Stream(const std::vector<std::vector<Sent>>& data, bool incremental,
                              PromqlCompat compat) {
  auto rules = RuleSet::Parse(kRules);
  EXPECT_TRUE(rules.ok()) << rules.status().ToString();
  EngineOptions options;
  options.shards = 2;
  options.incremental_thresholds = incremental;
  options.compat = compat;
  options.allowed_lateness = std::chrono::seconds(30);
  auto engine = Engine::Create(options, *rules);
  EXPECT_TRUE(engine.ok()) << engine.status().ToString();
  auto recorder = std::make_shared<Recorder>();
  (*engine)->AddHandler(recorder);

  // Two producers, each with half the series, merged in time order per producer.
  std::vector<std::unique_ptr<Producer>> producers;
  for (int p = 0; p < 2; ++p) producers.push_back(std::move((*engine)->NewProducer()).value());
  std::vector<std::thread> threads;
  for (std::size_t p = 0; p < 2; ++p) {
    threads.emplace_back([&, p] {
      Producer& producer = *producers[p];
      std::vector<SeriesRef> refs(data.size());
      std::vector<Sent> mine;
      for (std::size_t s = p; s < data.size(); s += 2) {
        const std::string id = std::to_string(s);
        const Label labels[] = {{"__name__", "m"}, {"id", id}, {"kind", s % 3 == 0 ? "a" : "b"}};
        refs[s] = *producer.Resolve(labels);
        mine.insert(mine.end(), data[s].begin(), data[s].end());
      }
      std::stable_sort(mine.begin(), mine.end(),
                       [](const Sent& a, const Sent& b) { return a.t < b.t; });
      for (const Sent& x : mine) {
        const Status st = producer.Append(refs[x.series], x.t, x.v);
        EXPECT_TRUE(st.ok()) << st.ToString();
        // Flush often and unevenly, so that cuts group samples differently.
        if (x.t % 7 == 0) {
          EXPECT_TRUE(producer.Flush().ok());
        }
      }
      producer.Close();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE((*engine)->Stop().ok());
  const EngineStats stats = (*engine)->stats();
  EXPECT_EQ(stats.rule_failures, 0u);
  if (incremental) {
    EXPECT_GT(stats.incremental_evaluations, stats.rule_evaluations / 2);
  } else {
    EXPECT_EQ(stats.incremental_evaluations, 0u);
  }
  return recorder->events();
}

class IncrementalTest : public ::testing::TestWithParam<std::tuple<std::uint32_t, PromqlCompat>> {};

TEST_P(IncrementalTest, SameAlertsAsTheEvaluator) {
  const auto [seed, compat] = GetParam();
  const auto data = RandomData(seed, 24, 40);
  const std::vector<AlertEvent> general = Stream(data, /*incremental=*/false, compat);
  const std::vector<AlertEvent> incremental = Stream(data, /*incremental=*/true, compat);
  ASSERT_GT(general.size(), 20u) << "the data should make every kind of rule fire";
  EXPECT_EQ(DescribeAllSorted(incremental), DescribeAllSorted(general));
}

INSTANTIATE_TEST_SUITE_P(Seeds, IncrementalTest,
                         ::testing::Combine(::testing::Values(1u, 2u, 3u, 4u),
                                            ::testing::Values(PromqlCompat::kPrometheus2,
                                                              PromqlCompat::kPrometheus3)));

TEST(ThresholdPredicateTest, MatchesOnlyPlainComparisons) {
  auto match = [](const char* text) {
    auto expr = promql::ParseExpr(text);
    EXPECT_TRUE(expr.ok()) << text;
    const promql::VectorSelector* selector = nullptr;
    return engine::MatchThreshold(**expr, &selector);
  };
  auto p = match("up == 0");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->op, promql::BinaryOp::kEql);
  EXPECT_EQ(p->threshold, 0);
  EXPECT_FALSE(p->number_on_left);
  auto q = match("(0.5) < (x{a=\"b\"})");
  ASSERT_TRUE(q);
  EXPECT_TRUE(q->number_on_left);
  EXPECT_TRUE(q->Holds(0.6));
  EXPECT_FALSE(q->Holds(0.5));
  EXPECT_FALSE(q->Holds(std::nan("")));
  auto neq = match("x != 1");
  ASSERT_TRUE(neq);
  EXPECT_TRUE(neq->Holds(std::nan("")));  // NaN != 1, as in PromQL
  EXPECT_FALSE(match("x > bool 1"));
  EXPECT_FALSE(match("x offset 5m > 1"));
  EXPECT_FALSE(match("rate(x[5m]) > 1"));
  EXPECT_FALSE(match("x > y"));
  EXPECT_FALSE(match("x + 1"));
  EXPECT_FALSE(match("x @ 100 > 1"));
}

// The tracker on its own, against a scan of every sample: several inputs,
// each with a random mix of predicates (so the combined "may any hold" check
// is exercised with and without == / !=, mirrored operators and NaN or
// infinite thresholds), and random values on and around the thresholds.
TEST(SampleTrackerTest, ResultMatchesAScanOfEverySample) {
  const double specials[] = {0,
                             -0.0,
                             1,
                             -1,
                             2.5,
                             std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity(),
                             std::nan("")};
  const promql::BinaryOp ops[] = {promql::BinaryOp::kGtr, promql::BinaryOp::kLss,
                                  promql::BinaryOp::kGte, promql::BinaryOp::kLte,
                                  promql::BinaryOp::kEql, promql::BinaryOp::kNeq};
  for (const promql::Compat compat : {promql::Compat::kPrometheus2, promql::Compat::kPrometheus3}) {
    for (std::uint32_t seed = 1; seed <= 6; ++seed) {
      std::mt19937 rng(seed);
      auto random_value = [&] {
        const unsigned kind = rng() % 10;
        if (kind == 0) return promql::StaleNaN();
        if (kind < 4) return specials[rng() % std::size(specials)];
        return static_cast<double>(static_cast<int>(rng() % 9) - 4) / 2;
      };
      constexpr std::uint32_t kInputs = 3;
      std::vector<std::vector<engine::ThresholdPredicate>> predicates(kInputs);
      for (std::uint32_t id = 0; id < kInputs; ++id) {
        // Input 0 never has == or != (only the combined bounds decide there).
        const std::size_t op_choices = id == 0 ? 4 : std::size(ops);
        const std::size_t n = 1 + rng() % 4;
        for (std::size_t k = 0; k < n; ++k) {
          engine::ThresholdPredicate p;
          p.op = ops[rng() % op_choices];
          p.threshold = rng() % 4 == 0 ? specials[rng() % std::size(specials)]
                                       : static_cast<double>(static_cast<int>(rng() % 7) - 3) / 2;
          p.number_on_left = rng() % 2 == 0;
          predicates[id].push_back(p);
        }
      }
      promql::EvalOptions eval;
      eval.compat = compat;
      eval.lookback_delta_ms = 60'000;
      engine::SampleTracker tracker(1, eval, predicates);
      storage::Shard shard(0, storage::ShardOptions{}, nullptr);

      // 30 series, each in one or two inputs, sampled every 5-40s with gaps.
      struct SeriesData {
        storage::SeriesRef ref;
        promql::Labels labels;
        std::vector<std::uint32_t> inputs;
        std::vector<promql::Point> points;
      };
      std::vector<SeriesData> series;
      for (int i = 0; i < 30; ++i) {
        SeriesData d;
        d.labels = promql::Labels{{"__name__", "m"}, {"id", std::to_string(i)}};
        d.ref = *shard.Resolve(d.labels);
        d.inputs.push_back(static_cast<std::uint32_t>(i % kInputs));
        if (i % 4 == 0) d.inputs.push_back((d.inputs[0] + 1) % kInputs);
        std::int64_t t = static_cast<std::int64_t>(rng() % 8) * 5'000;
        while (t < 20 * 60'000) {
          d.points.push_back({t, random_value()});
          t += rng() % 15 == 0 ? 90'000 : 5'000 * static_cast<std::int64_t>(1 + rng() % 8);
        }
        series.push_back(std::move(d));
      }
      struct Event {
        std::int64_t t;
        std::size_t series;
        double v;
      };
      std::vector<Event> events;
      for (std::size_t i = 0; i < series.size(); ++i) {
        for (const auto& p : series[i].points) events.push_back({p.t, i, p.v});
      }
      std::stable_sort(events.begin(), events.end(),
                       [](const Event& a, const Event& b) { return a.t < b.t; });

      auto describe = [](const promql::Vector& v) {
        std::vector<std::string> out;
        for (const auto& s : v) {
          char value[32];
          std::snprintf(value, sizeof(value), "%.17g", s.v);
          out.push_back(s.metric.ToString() + "@" + std::to_string(s.t) + "=" + value);
        }
        std::sort(out.begin(), out.end());
        return out;
      };
      std::size_t next = 0;
      std::size_t non_empty = 0;
      // Instants every 5-20s; the samples sent run up to a minute ahead.
      for (std::int64_t ts = 10'000; ts < 20 * 60'000;
           ts += 5'000 * static_cast<std::int64_t>(1 + rng() % 4)) {
        const std::int64_t sent_upto = ts + static_cast<std::int64_t>(rng() % 13) * 5'000;
        for (; next < events.size() && events[next].t <= sent_upto; ++next) {
          const SeriesData& d = series[events[next].series];
          tracker.OnSample(shard, d.ref, d.inputs, events[next].t, events[next].v);
        }
        for (std::uint32_t id = 0; id < kInputs; ++id) {
          for (std::size_t k = 0; k < predicates[id].size(); ++k) {
            promql::Vector want;
            for (const SeriesData& d : series) {
              if (std::find(d.inputs.begin(), d.inputs.end(), id) == d.inputs.end()) continue;
              const promql::Point* latest = nullptr;
              for (const auto& p : d.points) {
                if (p.t <= ts) latest = &p;
              }
              if (latest == nullptr) continue;
              const bool in_window = compat == promql::Compat::kPrometheus2
                                         ? latest->t >= ts - eval.lookback_delta_ms
                                         : latest->t > ts - eval.lookback_delta_ms;
              if (!in_window || promql::IsStaleNaN(latest->v) ||
                  !predicates[id][k].Holds(latest->v)) {
                continue;
              }
              want.push_back(promql::Sample{d.labels, ts, latest->v, false});
            }
            non_empty += want.empty() ? 0 : 1;
            EXPECT_EQ(describe(tracker.Result(id, k, ts)), describe(want))
                << "seed " << seed << ", input " << id << ", predicate " << k << ", t=" << ts;
          }
        }
        tracker.Prune(ts);
      }
      EXPECT_GT(non_empty, 20u) << "seed " << seed << ": the data should satisfy the predicates";
    }
  }
}

}  // namespace
}  // namespace nimify
