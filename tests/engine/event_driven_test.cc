// Event-driven evaluation: at a group's instant the engine skips a rule whose
// inputs got no sample since its last evaluation, when that evaluation had an
// empty result and the expression cannot produce anything while its inputs
// are quiet. These tests pin the classification of expressions, count the
// skipped evaluations, and check on sparse random data that the alerts are
// exactly those of an engine that evaluates every rule at every instant.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iterator>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine_test_util.h"
#include "promql/analysis.h"
#include "nimify/engine.h"
#include "promql/parser.h"
#include "promql/value.h"

namespace nimify {
namespace {

using promql::ClassifyQuietChange;
using promql::QuietChange;
using ::nimify::testing::Describe;
using ::nimify::testing::DescribeAllSorted;
using ::nimify::testing::Recorder;

QuietChange Classify(const char* text) {
  auto expr = promql::ParseExpr(text);
  EXPECT_TRUE(expr.ok()) << text << ": " << expr.status().ToString();
  if (!expr.ok()) return QuietChange::kAny;
  return ClassifyQuietChange(**expr);
}

TEST(QuietChangeTest, SelectorsAndFiltersOnTheirValues) {
  EXPECT_EQ(Classify("up"), QuietChange::kShrinksSameValues);
  EXPECT_EQ(Classify("up == 0"), QuietChange::kShrinksSameValues);
  EXPECT_EQ(Classify("(up{job=\"a\"}) > bool 1"), QuietChange::kShrinksSameValues);
  EXPECT_EQ(Classify("-x * 2 + 1 < 3"), QuietChange::kShrinksSameValues);
  EXPECT_EQ(Classify("abs(x) > 3"), QuietChange::kShrinksSameValues);
  EXPECT_EQ(Classify("label_replace(x, \"a\", \"$1\", \"b\", \"(.*)\") > 1"),
            QuietChange::kShrinksSameValues);
  EXPECT_EQ(Classify("x / y > 0.5"), QuietChange::kShrinksSameValues);
  EXPECT_EQ(Classify("x > y"), QuietChange::kShrinksSameValues);
  EXPECT_EQ(Classify("x and on(job) y"), QuietChange::kShrinksSameValues);
  EXPECT_EQ(Classify("x and rate(y[5m])"), QuietChange::kShrinks);
  EXPECT_EQ(Classify("last_over_time(x[5m]) > 1"), QuietChange::kShrinksSameValues);
  EXPECT_EQ(Classify("vector(1) > 2"), QuietChange::kShrinksSameValues);
  EXPECT_EQ(Classify("2 * 3"), QuietChange::kConstant);
}

TEST(QuietChangeTest, WindowsAndAggregationsOnlyShrink) {
  EXPECT_EQ(Classify("rate(x[5m])"), QuietChange::kShrinks);
  EXPECT_EQ(Classify("sum by (job) (rate(x[5m]))"), QuietChange::kShrinks);
  EXPECT_EQ(Classify("rate(x[5m]) / rate(y[5m])"), QuietChange::kShrinks);
  EXPECT_EQ(Classify("sum(x) > bool 3"), QuietChange::kShrinks);
  EXPECT_EQ(Classify("histogram_quantile(0.9, sum by (le) (rate(b[5m])))"),
            QuietChange::kShrinks);
  EXPECT_EQ(Classify("quantile_over_time(0.5, x[10m])"), QuietChange::kShrinks);
  EXPECT_EQ(Classify("predict_linear(x[1h], 3600)"), QuietChange::kShrinks);
}

TEST(QuietChangeTest, EmptyStaysEmpty) {
  EXPECT_EQ(Classify("topk(3, rate(x[5m]))"), QuietChange::kEmptyStaysEmpty);
  EXPECT_EQ(Classify("count_values(\"v\", x)"), QuietChange::kEmptyStaysEmpty);
  EXPECT_EQ(Classify("x > 1 or rate(y[1m])"), QuietChange::kEmptyStaysEmpty);
  EXPECT_EQ(Classify("abs(topk(1, x))"), QuietChange::kEmptyStaysEmpty);
}

TEST(QuietChangeTest, ResultsThatTimeAloneCanChange) {
  // Rates extrapolate to the window's bounds and lose old samples.
  EXPECT_EQ(Classify("rate(x[5m]) > 1"), QuietChange::kAny);
  EXPECT_EQ(Classify("max_over_time(x[5m]) < 3"), QuietChange::kAny);
  // Members going stale change a sum or a count.
  EXPECT_EQ(Classify("sum(x) > 3"), QuietChange::kAny);
  EXPECT_EQ(Classify("count(up) < 3"), QuietChange::kAny);
  EXPECT_EQ(Classify("absent(up)"), QuietChange::kAny);
  EXPECT_EQ(Classify("absent_over_time(up[5m])"), QuietChange::kAny);
  EXPECT_EQ(Classify("x unless y"), QuietChange::kAny);
  EXPECT_EQ(Classify("time() - x > 60"), QuietChange::kAny);
  EXPECT_EQ(Classify("x > scalar(y)"), QuietChange::kAny);
  EXPECT_EQ(Classify("hour() > 3"), QuietChange::kAny);
  EXPECT_EQ(Classify("timestamp(x) > 3"), QuietChange::kAny);
  EXPECT_EQ(Classify("x offset 5m > 1"), QuietChange::kAny);
  EXPECT_EQ(Classify("rate(x[5m] @ 100)"), QuietChange::kAny);
  EXPECT_EQ(Classify("max_over_time(x[5m:1m])"), QuietChange::kAny);
  EXPECT_EQ(Classify("topk(3, x) > 1"), QuietChange::kAny);
}

bool NeedsSamples(const char* text) {
  auto expr = promql::ParseExpr(text);
  EXPECT_TRUE(expr.ok()) << text << ": " << expr.status().ToString();
  return expr.ok() && promql::ResultNeedsSamples(**expr);
}

TEST(ResultNeedsSamplesTest, EveryElementFromASample) {
  EXPECT_TRUE(NeedsSamples("up == 0"));
  EXPECT_TRUE(NeedsSamples("rate(x[5m]) > 1"));
  EXPECT_TRUE(NeedsSamples("count(up) < 3"));
  EXPECT_TRUE(NeedsSamples("histogram_quantile(0.9, sum by (le) (rate(b[5m]))) > 1"));
  EXPECT_TRUE(NeedsSamples("time() - x > 60"));
  EXPECT_TRUE(NeedsSamples("x > scalar(y)"));
  EXPECT_TRUE(NeedsSamples("x unless y"));
  EXPECT_TRUE(NeedsSamples("x or rate(y[1m])"));
  EXPECT_TRUE(NeedsSamples("hour(timestamp(x)) > 3"));
  EXPECT_TRUE(NeedsSamples("max_over_time(rate(x[1m])[10m:1m]) > 2"));
  EXPECT_TRUE(NeedsSamples("vector(1) and x"));
}

TEST(ResultNeedsSamplesTest, ResultsFromNothing) {
  EXPECT_FALSE(NeedsSamples("absent(up)"));
  EXPECT_FALSE(NeedsSamples("absent_over_time(up[5m])"));
  EXPECT_FALSE(NeedsSamples("vector(1)"));
  EXPECT_FALSE(NeedsSamples("x or vector(0)"));
  EXPECT_FALSE(NeedsSamples("sum(x) or vector(0) > 1"));
  EXPECT_FALSE(NeedsSamples("hour() > 3"));
  EXPECT_FALSE(NeedsSamples("time() > bool 5"));
  EXPECT_FALSE(NeedsSamples("scalar(x)"));
  EXPECT_FALSE(NeedsSamples("1 + 2"));
  EXPECT_FALSE(NeedsSamples("vector(1) unless x"));
}

// A rule on a series that stops receiving samples is evaluated once more
// after its last sample and then skipped, while a rule whose result time alone
// can change keeps running; a new sample makes the first one run again.
TEST(EventDrivenTest, SkipsQuietRulesAndWakesOnTheirNextSample) {
  auto rules = RuleSet::Parse(R"(
groups:
  - name: g
    interval: 1m
    rules:
      - alert: QuietHigh
        expr: quiet > 5
        for: 1m
      - alert: QuietRateHigh
        expr: rate(quiet[5m]) > 100
        for: 1m
)");
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  EngineOptions options;
  options.shards = 2;
  auto engine = Engine::Create(options, *rules);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  auto recorder = std::make_shared<Recorder>();
  (*engine)->AddHandler(recorder);
  auto producer = std::move((*engine)->NewProducer()).value();
  const Label quiet_labels[] = {{"__name__", "quiet"}, {"id", "1"}};
  const Label busy_labels[] = {{"__name__", "busy"}, {"id", "1"}};
  const SeriesRef quiet = *producer->Resolve(quiet_labels);
  const SeriesRef busy = *producer->Resolve(busy_labels);

  ASSERT_TRUE(producer->Append(quiet, 0, 1).ok());
  // Twenty minutes of another metric: the rules' input stays quiet.
  for (std::int64_t t = 0; t <= 20 * 60'000; t += 15'000) {
    ASSERT_TRUE(producer->Append(busy, t, 1).ok());
    ASSERT_TRUE(producer->Flush().ok());
  }
  ASSERT_TRUE(producer->AdvanceWatermark(20 * 60'000).ok());
  // Instants 0, 1m, ..., 20m, two rules each: wait (bounded) until all ran.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  EngineStats quiet_stats = (*engine)->stats();
  while (quiet_stats.rule_evaluations + quiet_stats.rule_evaluations_skipped < 42 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    quiet_stats = (*engine)->stats();
  }
  // Instants 0, 1m, ..., 20m. QuietHigh runs at 0 and is skipped afterwards.
  // QuietRateHigh's result can change with time alone, so it runs while the
  // sample at 0 is in its 5m window (0 to 5m) and is skipped from 6m on.
  EXPECT_EQ(quiet_stats.rule_evaluations_skipped, 20u + 15u);
  EXPECT_EQ(quiet_stats.rule_evaluations, 1u + 6u);
  EXPECT_TRUE(recorder->events().empty());

  // The input wakes up: the rule runs again, goes pending, then fires. (The
  // shards dropped the series after its retention: resolve it again.)
  const SeriesRef woken = *producer->Resolve(quiet_labels);
  for (std::int64_t t = 20 * 60'000 + 15'000; t <= 23 * 60'000; t += 15'000) {
    ASSERT_TRUE(producer->Append(woken, t, 10).ok());
    ASSERT_TRUE(producer->Append(busy, t, 1).ok());
    ASSERT_TRUE(producer->Flush().ok());
  }
  producer->Close();
  ASSERT_TRUE((*engine)->Stop().ok());
  std::vector<std::string> seen;
  for (const auto& e : recorder->events()) {
    if (e.rule == "QuietHigh") seen.push_back(Describe(e));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"QuietHigh pending @1260000 {alertname=QuietHigh,id=1,}",
                                            "QuietHigh firing @1320000 {alertname=QuietHigh,id=1,}"}));
  EXPECT_EQ((*engine)->stats().rule_evaluations_skipped, 35u);
}

// A rule over a metric that never appears costs nothing after its first
// evaluation, whatever its expression, unless it can return something from
// nothing (absent).
TEST(EventDrivenTest, SkipsRulesOverMetricsThatNeverAppear) {
  auto rules = RuleSet::Parse(R"(
groups:
  - name: g
    interval: 1m
    rules:
      - alert: NeverRate
        expr: histogram_quantile(0.9, sum by (le) (rate(never_bucket[5m]))) > 1
      - alert: NeverCount
        expr: count(never) < 3
        for: 2m
      - alert: NeverAbsent
        expr: absent(never)
        for: 2m
)");
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  EngineOptions options;
  options.shards = 2;
  auto engine = Engine::Create(options, *rules);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  auto recorder = std::make_shared<Recorder>();
  (*engine)->AddHandler(recorder);
  auto producer = std::move((*engine)->NewProducer()).value();
  const Label busy_labels[] = {{"__name__", "busy"}};
  const SeriesRef busy = *producer->Resolve(busy_labels);
  for (std::int64_t t = 0; t <= 10 * 60'000; t += 15'000) {
    ASSERT_TRUE(producer->Append(busy, t, 1).ok());
    ASSERT_TRUE(producer->Flush().ok());
  }
  producer->Close();
  ASSERT_TRUE((*engine)->Stop().ok());
  const EngineStats stats = (*engine)->stats();
  // 11 instants: NeverRate and NeverCount run once each, NeverAbsent at every one.
  EXPECT_EQ(stats.rule_evaluations, 2u + 11u);
  EXPECT_EQ(stats.rule_evaluations_skipped, 2u * 10u);
  std::vector<std::string> seen;
  for (const auto& e : recorder->events()) seen.push_back(Describe(e));
  EXPECT_EQ(seen, (std::vector<std::string>{"NeverAbsent pending @0 {alertname=NeverAbsent,}",
                                            "NeverAbsent firing @120000 {alertname=NeverAbsent,}"}));
}

// Rules of every class over sparse random data (series that pause for longer
// than the lookback, staleness markers, recording rules feeding alerts),
// streamed with and without skipping: the same alerts.
constexpr char kMixedRules[] = R"(
groups:
  - name: fast
    interval: 30s
    rules:
      - record: job:m:max
        expr: max by (job) (m)
      - alert: High
        expr: m > 80
        for: 1m
        annotations:
          value: "{{ $value }}"
      - alert: HighNow
        expr: m > 90
      - alert: LastHigh
        expr: last_over_time(n[2m]) > 70
        for: 30s
      - alert: Ratio
        expr: m / on(id, job) n > 2
        for: 30s
      - alert: EitherHigh
        expr: m > 95 or n > 95
        for: 30s
      - alert: RecordedHigh
        expr: job:m:max > 85
        for: 30s
  - name: slow
    interval: 1m
    rules:
      - record: job:n:rate
        expr: sum by (job) (rate(n[3m]))
      - alert: Rising
        expr: rate(n[3m]) > 0.2
        for: 1m
      - alert: TopChanges
        expr: topk(2, changes(m[2m])) > 3
      - alert: Missing
        expr: absent(n{job="a"})
        for: 1m
      - alert: Counted
        expr: count by (job) (m) > bool 2
        for: 2m
      - alert: ShortRate
        expr: sum by (job) (rate(m[1m])) > 0.5
        for: 30s
      - alert: NeverThere
        expr: rate(never[2m]) > 0 or absent(never) * 0 > 1
)";

struct Sent {
  std::size_t series;
  std::int64_t t;
  double v;
};

std::vector<Sent> SparseData(std::uint32_t seed, std::size_t series, int minutes) {
  std::mt19937 rng(seed);
  std::vector<Sent> out;
  for (std::size_t s = 0; s < series; ++s) {
    std::int64_t t = static_cast<std::int64_t>(rng() % 8) * 5'000;
    while (t < minutes * 60'000) {
      double v = static_cast<double>(rng() % 100);
      if (rng() % 30 == 0) v = promql::StaleNaN();
      out.push_back({s, t, v});
      // Bursts of samples, then silences of up to 4.5 minutes: past the
      // rules' windows (2m, 3m), within the 5m lookback and retention, so
      // that the shards keep every series (a dropped series' reference would
      // refuse samples depending on when the garbage collection ran).
      t += rng() % 6 == 0 ? static_cast<std::int64_t>(4 + rng() % 6) * 30'000
                          : static_cast<std::int64_t>(1 + rng() % 4) * 10'000;
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const Sent& a, const Sent& b) { return a.t < b.t; });
  return out;
}

std::vector<std::string> StreamMixed(const std::vector<Sent>& data, std::size_t series,
                                     bool skip, PromqlCompat compat, EngineStats* stats) {
  auto rules = RuleSet::Parse(kMixedRules);
  EXPECT_TRUE(rules.ok()) << rules.status().ToString();
  EngineOptions options;
  options.shards = 2;
  options.compat = compat;
  options.skip_quiet_rules = skip;
  options.deterministic_order = true;  // bit-identical sums and maxima in both runs
  auto engine = Engine::Create(options, *rules);
  EXPECT_TRUE(engine.ok()) << engine.status().ToString();
  auto recorder = std::make_shared<Recorder>();
  (*engine)->AddHandler(recorder);
  auto producer = std::move((*engine)->NewProducer()).value();
  std::vector<SeriesRef> refs;
  for (std::size_t s = 0; s < series; ++s) {
    const std::string id = std::to_string(s / 2);  // Label views it
    const Label labels[] = {{"__name__", s % 2 == 0 ? "m" : "n"},
                            {"id", id},
                            {"job", s % 3 == 0 ? "a" : "b"}};
    refs.push_back(*producer->Resolve(labels));
  }
  std::int64_t last_t = -1;
  for (const Sent& x : data) {
    if (x.t != last_t && last_t >= 0) {
      EXPECT_TRUE(producer->Flush().ok());
    }
    last_t = x.t;
    const Status st = producer->Append(refs[x.series], x.t, x.v);
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
  producer->Close();
  EXPECT_TRUE((*engine)->Stop().ok());
  *stats = (*engine)->stats();
  EXPECT_EQ(stats->rule_failures, 0u);
  EXPECT_EQ(stats->samples_rejected, 0u);
  return DescribeAllSorted(recorder->events());
}

class EventDrivenEquivalenceTest
    : public ::testing::TestWithParam<std::tuple<std::uint32_t, PromqlCompat>> {};

TEST_P(EventDrivenEquivalenceTest, SameAlertsAsEvaluatingEveryRule) {
  const auto [seed, compat] = GetParam();
  constexpr std::size_t kSeries = 16;
  const auto data = SparseData(seed, kSeries, 90);
  EngineStats every{};
  EngineStats skipping{};
  const auto all = StreamMixed(data, kSeries, /*skip=*/false, compat, &every);
  const auto skipped = StreamMixed(data, kSeries, /*skip=*/true, compat, &skipping);
  ASSERT_GT(all.size(), 30u) << "the data should make the rules fire";
  std::vector<std::string> only_skipping;
  std::vector<std::string> only_every;
  std::set_difference(skipped.begin(), skipped.end(), all.begin(), all.end(),
                      std::back_inserter(only_skipping));
  std::set_difference(all.begin(), all.end(), skipped.begin(), skipped.end(),
                      std::back_inserter(only_every));
  EXPECT_TRUE(only_skipping.empty() && only_every.empty())
      << "only when skipping: " << ::testing::PrintToString(only_skipping)
      << "\nonly when evaluating every rule: " << ::testing::PrintToString(only_every);
  EXPECT_EQ(skipped.size(), all.size());
  EXPECT_EQ(every.rule_evaluations_skipped, 0u);
  // The sparse data leaves inputs quiet often enough for skips to happen.
  EXPECT_GT(skipping.rule_evaluations_skipped, 0u);
  // Fewer evaluations for the same alerts. (Not an exact balance: the number
  // of eager `for: 0` evaluations depends on where the cuts fall.)
  EXPECT_LT(skipping.rule_evaluations, every.rule_evaluations);
}

INSTANTIATE_TEST_SUITE_P(Seeds, EventDrivenEquivalenceTest,
                         ::testing::Combine(::testing::Values(1u, 2u, 3u, 4u, 5u),
                                            ::testing::Values(PromqlCompat::kPrometheus2,
                                                              PromqlCompat::kPrometheus3)));

}  // namespace
}  // namespace nimify
