// EngineOptions::fire_on_crossing: a `for: 0` threshold alert fires from the
// shard thread that stores the crossing sample, and the evaluation, which stays
// the authority, does not report it again. These tests check that handlers see
// exactly the events of an engine without it, that the event comes before the
// cut of its instant, and that what the engine cannot be sure of (a series'
// first sample, samples at or before the last cut, other rule shapes) goes the
// usual way. CI runs them under ThreadSanitizer (label `tsan`).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "engine/engine_test_util.h"
#include "engine/sample_tracker.h"
#include "nimify/engine.h"
#include "promql/value.h"

namespace nimify {
namespace {

using engine::SeenWord;
using ::nimify::testing::Describe;
using ::nimify::testing::Recorder;

// Eligible: Hot (deferred annotations, static label), Cold (number on the
// left), Exactly (equality). Not eligible: HotFor (`for`), Templated (label
// template), Queried (`query`), Limited (group limit), Rate (not a threshold).
constexpr char kRules[] = R"yaml(
groups:
  - name: crossing
    interval: 30s
    rules:
      - alert: Hot
        expr: m > 90
        labels: {severity: page}
        annotations:
          summary: '{{ $labels.id }} at {{ $value }} ({{ $externalLabels.site }}, {{ $externalURL }})'
      - alert: Cold
        expr: 10 >= m
      - alert: Exactly
        expr: n == 50
      - alert: HotFor
        expr: m > 90
        for: 1m
      - alert: Templated
        expr: n > 80
        labels: {level: '{{ if gt $value 90.0 }}high{{ else }}low{{ end }}'}
      - alert: Queried
        expr: n < 20
        annotations: {count: '{{ with query "count(m)" }}{{ . | first | value }}{{ end }}'}
      - alert: Rate
        expr: rate(n[2m]) > 0.3
  - name: limited
    interval: 30s
    limit: 1000
    rules:
      - alert: Limited
        expr: n > 70
)yaml";

struct Sent {
  std::size_t series;
  std::int64_t t;
  double v;
};

// Random walks over 0..100 crossing the thresholds often, with staleness
// markers and silences longer than the 5-minute lookback.
std::vector<Sent> Walks(std::uint32_t seed, std::size_t series, int minutes) {
  std::mt19937 rng(seed);
  std::vector<Sent> out;
  for (std::size_t s = 0; s < series; ++s) {
    double v = static_cast<double>(rng() % 101);
    std::int64_t t = static_cast<std::int64_t>(rng() % 6) * 5'000;
    while (t < minutes * 60'000) {
      v = std::clamp(v + static_cast<double>(static_cast<int>(rng() % 41) - 20), 0.0, 100.0);
      // Whole numbers, so `== 50` happens.
      out.push_back({s, t, rng() % 40 == 0 ? promql::StaleNaN() : std::round(v)});
      t += rng() % 25 == 0 ? static_cast<std::int64_t>(6 + rng() % 4) * 60'000
                           : static_cast<std::int64_t>(1 + rng() % 3) * 10'000;
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const Sent& a, const Sent& b) { return a.t < b.t; });
  return out;
}

void WaitForEvaluation(const Engine& engine, std::int64_t t,
                       std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (engine.last_evaluation_ms() < t && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

struct Streamed {
  std::vector<AlertEvent> events;  // in delivery order
  EngineStats stats;
};

EngineOptions Options(bool crossing) {
  EngineOptions options;
  options.shards = 2;
  options.fire_on_crossing = crossing;
  options.deterministic_order = true;
  options.external_labels = {{"site", "lab"}};
  options.external_url = "http://nimify.example:9095";
  return options;
}

std::vector<SeriesRef> ResolveAll(Producer& producer, std::size_t series) {
  std::vector<SeriesRef> refs;
  for (std::size_t s = 0; s < series; ++s) {
    const std::string id = std::to_string(s / 2);
    const Label labels[] = {{"__name__", s % 2 == 0 ? "m" : "n"}, {"id", id}};
    auto ref = producer.Resolve(labels);
    EXPECT_TRUE(ref.ok()) << ref.status().ToString();
    refs.push_back(ref.ok() ? *ref : SeriesRef{});
  }
  return refs;
}

// One producer, in time order, a Flush per timestamp: no sample is late. Each
// timestamp's cut is waited for, as a paced stream would leave time for it, so
// that a crossing finds its series' previous sample evaluated (else it goes the
// usual way, and how many fire early would depend on the machine's speed).
Streamed StreamInOrder(const std::vector<Sent>& data, std::size_t series, bool crossing) {
  auto rules = RuleSet::Parse(kRules);
  EXPECT_TRUE(rules.ok()) << rules.status().ToString();
  auto engine = Engine::Create(Options(crossing), *rules);
  EXPECT_TRUE(engine.ok()) << engine.status().ToString();
  auto recorder = std::make_shared<Recorder>();
  (*engine)->AddHandler(recorder);
  auto producer = std::move((*engine)->NewProducer()).value();
  const std::vector<SeriesRef> refs = ResolveAll(*producer, series);
  std::int64_t last_t = -1;
  for (const Sent& x : data) {
    if (x.t != last_t && last_t >= 0) {
      EXPECT_TRUE(producer->Flush().ok());
      WaitForEvaluation(**engine, last_t);
    }
    last_t = x.t;
    const Status st = producer->Append(refs[x.series], x.t, x.v);
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
  producer->Close();
  EXPECT_TRUE((*engine)->Stop().ok());
  return Streamed{recorder->events(), (*engine)->stats()};
}

std::vector<AlertEvent> Sorted(std::vector<AlertEvent> events) {
  std::stable_sort(events.begin(), events.end(), [](const AlertEvent& a, const AlertEvent& b) {
    return std::make_pair(a.eval_time_ms, Describe(a)) < std::make_pair(b.eval_time_ms, Describe(b));
  });
  return events;
}

// Per alert (rule and labels), in delivery order: never firing twice without
// a resolution in between (a crossing's event overtaking its own resolution).
void ExpectNoFiringTwice(const std::vector<AlertEvent>& events) {
  std::map<std::string, bool> firing;
  for (const AlertEvent& e : events) {
    std::string key = e.rule;
    for (const auto& l : e.labels) key += "," + l.name + "=" + l.value;
    if (e.state == AlertState::kFiring) {
      EXPECT_FALSE(firing[key]) << "firing twice in a row: " << Describe(e);
      firing[key] = true;
    } else if (e.state == AlertState::kResolved) {
      firing[key] = false;
    }
  }
}

class CrossingEquivalenceTest : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(CrossingEquivalenceTest, HandlersSeeTheSameEventsAsWithout) {
  constexpr std::size_t kSeries = 12;
  const auto data = Walks(GetParam(), kSeries, 60);
  const Streamed off = StreamInOrder(data, kSeries, false);
  const Streamed on = StreamInOrder(data, kSeries, true);
  EXPECT_EQ(off.stats.rule_failures, 0u);
  EXPECT_EQ(on.stats.rule_failures, 0u);
  EXPECT_EQ(off.stats.alerts_fired_on_crossing, 0u);
  ASSERT_GT(on.stats.alerts_fired_on_crossing, 10u) << "the walks should cross the thresholds";
  EXPECT_EQ(on.stats.crossing_alerts_unconfirmed, 0u);
  ASSERT_GT(off.events.size(), 50u);
  // Whole events: labels, annotations, value, every time, generator URL.
  const std::vector<AlertEvent> want = Sorted(off.events);
  const std::vector<AlertEvent> got = Sorted(on.events);
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_TRUE(got[i] == want[i]) << "with: " << Describe(got[i]) << "\nwithout: " << Describe(want[i]);
  }
  ExpectNoFiringTwice(on.events);
  // Only the eligible rules fire on crossing.
  std::map<std::string, int> firing;
  for (const AlertEvent& e : want) {
    if (e.state == AlertState::kFiring) ++firing[e.rule];
  }
  std::uint64_t eligible = 0;
  for (const char* rule : {"Hot", "Cold", "Exactly"}) eligible += firing[rule];
  EXPECT_LE(on.stats.alerts_fired_on_crossing, eligible);
  for (const char* rule : {"HotFor", "Templated", "Queried", "Rate", "Limited"}) {
    EXPECT_GT(firing[rule], 0) << rule << " should fire in the data";
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, CrossingEquivalenceTest, ::testing::Values(1u, 2u, 3u, 4u));

// An engine on kRules with a recorder and two producers: `fast` sends the
// series under test, m{id="7"}; `slow` sends m{id="8"}, and its lag holds the
// cuts back.
struct TwoProducers {
  std::unique_ptr<Engine> engine;
  std::shared_ptr<Recorder> recorder = std::make_shared<Recorder>();
  std::unique_ptr<Producer> fast;
  std::unique_ptr<Producer> slow;
  SeriesRef hot = 0;
  SeriesRef other = 0;

  // Use with ASSERT_NO_FATAL_FAILURE.
  void Start(const EngineOptions& options) {
    auto rules = RuleSet::Parse(kRules);
    ASSERT_TRUE(rules.ok()) << rules.status().ToString();
    auto created = Engine::Create(options, *rules);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    engine = std::move(*created);
    engine->AddHandler(recorder);
    fast = std::move(engine->NewProducer()).value();
    slow = std::move(engine->NewProducer()).value();
    const Label hot_labels[] = {{"__name__", "m"}, {"id", "7"}};
    const Label other_labels[] = {{"__name__", "m"}, {"id", "8"}};
    hot = *fast->Resolve(hot_labels);
    other = *slow->Resolve(other_labels);
  }

  // Closes both producers, stops the engine, and describes the events of
  // rule Hot in delivery order.
  std::vector<std::string> StopAndDescribeHot() {
    fast->Close();
    slow->Close();
    EXPECT_TRUE(engine->Stop().ok());
    std::vector<std::string> out;
    for (const AlertEvent& e : recorder->events()) {
      if (e.rule == "Hot") out.push_back(Describe(e));
    }
    return out;
  }
};

// The tracker's word per slot keeps the settling time (with its sign), the
// epoch tag and the unknown bit apart; a time it cannot hold is refused.
TEST(SeenWordTest, PacksTimeTagAndUnknownBit) {
  const std::int64_t limit = std::int64_t{1} << 47;
  for (const std::int64_t t :
       {std::int64_t{0}, std::int64_t{1}, std::int64_t{-1}, std::int64_t{1'796'687'555'123},
        std::int64_t{-86'400'000}, limit - 1, -limit}) {
    ASSERT_TRUE(SeenWord::Fits(t)) << t;
    for (const std::uint32_t epoch : {0u, 1u, 32766u, 32767u, 4'000'000'000u}) {
      const std::uint64_t tag = SeenWord::Tag(epoch);
      EXPECT_GE(tag, 1u);
      EXPECT_LE(tag, 32767u);
      const std::uint64_t word = SeenWord::Pack(t, tag);
      EXPECT_EQ(SeenWord::Time(word), t);
      EXPECT_EQ(SeenWord::TagOf(word), tag);
      EXPECT_EQ(word & SeenWord::kUnknown, 0u);
      const std::uint64_t unknown = word | SeenWord::kUnknown;
      EXPECT_EQ(SeenWord::Time(unknown), t);
      EXPECT_EQ(SeenWord::TagOf(unknown), tag);
    }
  }
  EXPECT_FALSE(SeenWord::Fits(limit));
  EXPECT_FALSE(SeenWord::Fits(-limit - 1));
  EXPECT_NE(SeenWord::Tag(0), SeenWord::Tag(1));
  EXPECT_EQ(SeenWord::Tag(0), SeenWord::Tag(32767));  // tags repeat every 32767 swaps
  EXPECT_EQ(SeenWord::TagOf(0), 0u);                  // a slot never seen has no tag
}

// The crossing sample's event reaches the handler while another producer holds
// the cut back; the evaluation later confirms it without a second event.
TEST(CrossingTest, FiresBeforeTheCutOfItsInstant) {
  TwoProducers p;
  ASSERT_NO_FATAL_FAILURE(p.Start(Options(true)));
  const Label first_hot[] = {{"__name__", "m"}, {"id", "9"}};
  const SeriesRef first_ref = *p.fast->Resolve(first_hot);
  ASSERT_TRUE(p.slow->Append(p.other, 0, 50).ok());
  ASSERT_TRUE(p.slow->Flush().ok());
  ASSERT_TRUE(p.fast->Append(p.hot, 5'000, 40).ok());
  // A series' first sample never fires on crossing: the rules' state before
  // it is not known (it could be an alert restored from disk).
  ASSERT_TRUE(p.fast->Append(first_ref, 5'000, 95).ok());
  ASSERT_TRUE(p.fast->Flush().ok());
  // The cut at 5s evaluates both (a crossing needs the series' previous sample
  // evaluated): id=9 fires the usual way.
  ASSERT_TRUE(p.slow->Append(p.other, 10'000, 50).ok());
  ASSERT_TRUE(p.slow->Flush().ok());
  WaitForEvaluation(*p.engine, 5'000);
  ASSERT_TRUE(p.recorder->WaitForCount(1));
  ASSERT_TRUE(p.fast->Append(p.hot, 20'000, 97).ok());  // crosses
  ASSERT_TRUE(p.fast->Flush().ok());
  ASSERT_TRUE(p.recorder->WaitForCount(2));
  // The slow producer is at 10s: no cut has passed 10s.
  EXPECT_LE(p.engine->last_evaluation_ms(), 10'000);
  const std::vector<AlertEvent> events = p.recorder->events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(Describe(events[0]), "Hot firing @5000 {alertname=Hot,id=9,severity=page,}");
  const AlertEvent& early = events[1];
  EXPECT_EQ(Describe(early), "Hot firing @20000 {alertname=Hot,id=7,severity=page,}");
  EXPECT_EQ(early.value, 97);
  EXPECT_EQ(early.active_at_ms, 20'000);
  EXPECT_EQ(early.fired_at_ms, 20'000);
  ASSERT_EQ(early.annotations.size(), 1u);
  EXPECT_EQ(early.annotations[0].value, "7 at 97 (lab, http://nimify.example:9095)");
  EXPECT_EQ(early.generator_url, "http://nimify.example:9095/graph?g0.expr=m+%3E+90&g0.tab=1");

  // Now the cuts run on: the crossing's alert is confirmed, not repeated.
  ASSERT_TRUE(p.slow->Append(p.other, 60'000, 50).ok());
  ASSERT_TRUE(p.slow->Flush().ok());
  EXPECT_EQ(p.StopAndDescribeHot(), (std::vector<std::string>{
                                        "Hot firing @5000 {alertname=Hot,id=9,severity=page,}",
                                        "Hot firing @20000 {alertname=Hot,id=7,severity=page,}",
                                    }));
  const EngineStats stats = p.engine->stats();
  EXPECT_EQ(stats.alerts_fired_on_crossing, 1u);
  EXPECT_EQ(stats.crossing_alerts_unconfirmed, 0u);
}

// A late sample that no longer satisfies the comparison resolves its alert
// only at a later evaluation; the series then leaves the tracker's candidates
// with its state unknown. The next sample settles it, but while that sample is
// not evaluated (another producer holds the cut back) a crossing must not fire
// early: its event would overtake the alert's resolution.
TEST(CrossingTest, WaitsForTheSampleThatSettlesAnUnknownState) {
  EngineOptions options = Options(true);
  options.max_late_age = std::chrono::minutes(10);
  TwoProducers p;
  ASSERT_NO_FATAL_FAILURE(p.Start(options));
  ASSERT_TRUE(p.fast->Append(p.hot, 10'000, 95).ok());  // fires (the usual way: a first sample)
  ASSERT_TRUE(p.fast->AdvanceWatermark(30'000).ok());
  ASSERT_TRUE(p.slow->Append(p.other, 0, 50).ok());
  ASSERT_TRUE(p.slow->AdvanceWatermark(30'000).ok());
  WaitForEvaluation(*p.engine, 30'000);
  ASSERT_TRUE(p.recorder->WaitForCount(1));
  ASSERT_TRUE(p.fast->Append(p.hot, 20'000, 40).ok());  // late: at or before the cut at 30s
  ASSERT_TRUE(p.fast->AdvanceWatermark(40'000).ok());
  ASSERT_TRUE(p.slow->AdvanceWatermark(40'000).ok());
  WaitForEvaluation(*p.engine, 40'000);  // no evaluation of Hot; the candidate is dropped
  ASSERT_TRUE(p.fast->Append(p.hot, 45'000, 30).ok());  // settles the state once evaluated
  ASSERT_TRUE(p.fast->Flush().ok());
  ASSERT_TRUE(p.fast->Append(p.hot, 50'000, 97).ok());  // crosses while the cut waits at 40s
  ASSERT_TRUE(p.fast->Flush().ok());
  ASSERT_TRUE(p.slow->AdvanceWatermark(120'000).ok());
  EXPECT_EQ(p.StopAndDescribeHot(), (std::vector<std::string>{
                                        "Hot firing @10000 {alertname=Hot,id=7,severity=page,}",
                                        "Hot resolved @45000 {alertname=Hot,id=7,severity=page,}",
                                        "Hot firing @50000 {alertname=Hot,id=7,severity=page,}",
                                    }));
  EXPECT_EQ(p.engine->stats().samples_late_stored, 1u);
  EXPECT_EQ(p.engine->stats().crossing_alerts_unconfirmed, 0u);
}

// Samples that arrive at or before the last cut (allowed lateness, mixed
// order across series) are never evaluated at their own time: a crossing after
// one goes the usual way, and nothing fires twice or unconfirmed.
TEST(CrossingTest, LateSamplesNeverFireTwice) {
  constexpr std::size_t kSeries = 12;
  for (const std::uint32_t seed : {11u, 12u, 13u}) {
    std::vector<Sent> data = Walks(seed, kSeries, 40);
    // Each series shifted by up to 40 s of arrival delay: its own order stays,
    // but across series samples come up to 40 s out of order.
    std::mt19937 rng(seed);
    std::vector<std::int64_t> delay(kSeries);
    for (auto& d : delay) d = static_cast<std::int64_t>(rng() % 5) * 10'000;
    std::stable_sort(data.begin(), data.end(), [&](const Sent& a, const Sent& b) {
      return a.t + delay[a.series] < b.t + delay[b.series];
    });
    auto rules = RuleSet::Parse(kRules);
    ASSERT_TRUE(rules.ok());
    EngineOptions options = Options(true);
    options.allowed_lateness = std::chrono::seconds(10);
    options.max_late_age = std::chrono::minutes(10);
    auto engine = Engine::Create(options, *rules);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    auto recorder = std::make_shared<Recorder>();
    (*engine)->AddHandler(recorder);
    auto producer = std::move((*engine)->NewProducer()).value();
    const std::vector<SeriesRef> refs = ResolveAll(*producer, kSeries);
    std::int64_t newest = 0;
    for (std::size_t i = 0; i < data.size(); ++i) {
      const Status st = producer->Append(refs[data[i].series], data[i].t, data[i].v);
      EXPECT_TRUE(st.ok()) << st.ToString();
      newest = std::max(newest, data[i].t);
      if (i % 3 == 2) {
        ASSERT_TRUE(producer->Flush().ok());
        // As a paced stream would: the cut the watermark allows happens first
        // (bounded: the flush may not have moved the watermark that far).
        WaitForEvaluation(**engine, newest - 10'000, std::chrono::milliseconds(20));
      }
    }
    producer->Close();
    ASSERT_TRUE((*engine)->Stop().ok());
    const EngineStats stats = (*engine)->stats();
    EXPECT_GT(stats.samples_late_stored, 0u) << "seed " << seed << ": the delays should make late samples";
    EXPECT_GT(stats.alerts_fired_on_crossing, 0u) << "seed " << seed;
    EXPECT_EQ(stats.crossing_alerts_unconfirmed, 0u) << "seed " << seed;
    ExpectNoFiringTwice(recorder->events());
  }
}

// After SetRules the earlier samples were judged by other rules: the next
// crossing of each series goes the usual way; the one after fires early again.
TEST(CrossingTest, RuleSwapForgetsWhatEarlierSamplesSaid) {
  auto rules = RuleSet::Parse(kRules);
  ASSERT_TRUE(rules.ok());
  auto engine = Engine::Create(Options(true), *rules);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  auto recorder = std::make_shared<Recorder>();
  (*engine)->AddHandler(recorder);
  auto producer = std::move((*engine)->NewProducer()).value();
  const Label hot[] = {{"__name__", "m"}, {"id", "1"}};
  const SeriesRef ref = *producer->Resolve(hot);
  std::int64_t t = 0;
  auto send = [&](double v) {
    t += 10'000;
    ASSERT_TRUE(producer->Append(ref, t, v).ok());
    ASSERT_TRUE(producer->Flush().ok());
    WaitForEvaluation(**engine, t);  // else the next crossing goes the usual way
  };
  send(50);
  send(95);  // early
  ASSERT_TRUE(recorder->WaitForCount(1));
  send(50);
  ASSERT_TRUE((*engine)->SetRules(*RuleSet::Parse(kRules)).ok());
  send(96);  // the usual way
  send(50);
  send(97);  // early again
  producer->Close();
  ASSERT_TRUE((*engine)->Stop().ok());
  const EngineStats stats = (*engine)->stats();
  EXPECT_EQ(stats.alerts_fired_on_crossing, 2u);
  EXPECT_EQ(stats.crossing_alerts_unconfirmed, 0u);
  int hot_firing = 0;
  for (const AlertEvent& e : recorder->events()) {
    if (e.rule == "Hot" && e.state == AlertState::kFiring) ++hot_firing;
  }
  EXPECT_EQ(hot_firing, 3);
  ExpectNoFiringTwice(recorder->events());
}

}  // namespace
}  // namespace nimify
