// The public Engine API: rule sets, series, producers, evaluation instants,
// alert transitions, rule swaps, backpressure and Stop().
#include "nimify/engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine_test_util.h"
#include "nimify/rules.h"

namespace nimify {
namespace {

using ::nimify::testing::Describe;
using ::nimify::testing::DescribeAll;
using ::nimify::testing::Get;
using ::nimify::testing::Recorder;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kTempRules[] = R"(
groups:
  - name: temps
    interval: 1m
    rules:
      - alert: TooHot
        expr: temp > 90
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.room }} is at {{ $value }}"
      - alert: StillHot
        expr: temp > 80
        for: 2m
)";

std::shared_ptr<const RuleSet> ParseRules(const char* text) {
  auto rules = RuleSet::Parse(text, "test.rules.yml");
  EXPECT_TRUE(rules.ok()) << rules.status().ToString();
  return rules.ok() ? *rules : RuleSet::Empty();
}

struct Harness {
  explicit Harness(const char* rules_text, EngineOptions options = DefaultOptions()) {
    auto e = Engine::Create(std::move(options), ParseRules(rules_text));
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    engine = std::move(e).value();
    recorder = std::make_shared<Recorder>();
    engine->AddHandler(recorder);
    auto p = engine->NewProducer();
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    producer = std::move(p).value();
  }
  static EngineOptions DefaultOptions() {
    EngineOptions o;
    o.shards = 2;
    return o;
  }
  SeriesRef Temp(const std::string& room) {
    const Label labels[] = {{"room", room}, {"__name__", "temp"}};
    auto ref = producer->Resolve(labels);
    EXPECT_TRUE(ref.ok()) << ref.status().ToString();
    return ref.ok() ? *ref : 0;
  }
  // Appends one sample and flushes (the watermark moves to t).
  void Send(SeriesRef ref, std::int64_t t, double v) {
    ASSERT_TRUE(producer->Append(ref, t, v).ok());
    ASSERT_TRUE(producer->Flush().ok());
  }

  std::unique_ptr<Engine> engine;
  std::shared_ptr<Recorder> recorder;
  std::unique_ptr<Producer> producer;
};

// ---- RuleSet -------------------------------------------------------------------

TEST(RuleSetTest, ParsesAndListsRules) {
  auto rules = RuleSet::Parse(kTempRules, "temps.yml");
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  EXPECT_EQ((*rules)->rule_count(), 2u);
  EXPECT_EQ((*rules)->group_count(), 1u);
  const std::vector<RuleInfo> infos = (*rules)->rules();
  ASSERT_EQ(infos.size(), 2u);
  EXPECT_EQ(infos[0].name, "TooHot");
  EXPECT_EQ(infos[0].group, "temps");
  EXPECT_EQ(infos[0].file, "temps.yml");
  EXPECT_EQ(infos[0].expr, "temp > 90");
  EXPECT_EQ(infos[0].group_interval, std::chrono::minutes(1));
  EXPECT_EQ(infos[0].labels, (OwnedLabels{{"severity", "page"}}));
  EXPECT_EQ(infos[1].for_duration, std::chrono::minutes(2));
}

TEST(RuleSetTest, ErrorsSayWhere) {
  auto bad_expr = RuleSet::Parse(
      "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: sum(\n", "mem.yml");
  ASSERT_FALSE(bad_expr.ok());
  EXPECT_EQ(bad_expr.status().code(), StatusCode::kParseError);
  EXPECT_THAT(std::string(bad_expr.status().message()), HasSubstr("mem.yml:5:"));

  auto unknown_field = RuleSet::Parse("groups:\n  - name: g\n    rulez: []\n", "x.yml");
  ASSERT_FALSE(unknown_field.ok());
  EXPECT_THAT(std::string(unknown_field.status().message()), HasSubstr("x.yml:3:"));

  auto missing = RuleSet::LoadFile("/nonexistent/rules.yml");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  auto no_match = RuleSet::LoadFiles({"/nonexistent/*.yml"});
  EXPECT_EQ(no_match.status().code(), StatusCode::kNotFound);
}

TEST(RuleSetTest, LoadsTheRunbookRules) {
  auto rules = RuleSet::LoadFile(NIMIFY_SOURCE_DIR "/rules/runbook.rules.yml");
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  EXPECT_GE((*rules)->rule_count(), 10u);
}

// ---- Create and Resolve ---------------------------------------------------------

TEST(EngineTest, CreateValidatesOptions) {
  EngineOptions bad_ring;
  bad_ring.ring_capacity = 1000;
  EXPECT_EQ(Engine::Create(bad_ring, nullptr).status().code(), StatusCode::kInvalidArgument);
  EngineOptions bad_lookback;
  bad_lookback.lookback = std::chrono::milliseconds(0);
  EXPECT_EQ(Engine::Create(bad_lookback, nullptr).status().code(), StatusCode::kInvalidArgument);
  EngineOptions short_retention;
  short_retention.retention = std::chrono::minutes(1);  // the lookback alone is 5m
  EXPECT_EQ(Engine::Create(short_retention, ParseRules(kTempRules)).status().code(),
            StatusCode::kInvalidArgument);
  EngineOptions bad_external;
  bad_external.external_labels = {{"bad-name", "x"}};
  EXPECT_EQ(Engine::Create(bad_external, nullptr).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Engine::Create({}, nullptr).ok());
}

TEST(EngineTest, ResolveValidatesAndIgnoresLabelOrder) {
  Harness h(kTempRules);
  const Label sorted[] = {{"__name__", "temp"}, {"room", "a"}, {"site", "x"}};
  const Label shuffled[] = {{"site", "x"}, {"__name__", "temp"}, {"room", "a"}};
  const Label with_empty[] = {{"site", "x"}, {"__name__", "temp"}, {"room", "a"}, {"z", ""}};
  auto a = h.engine->Resolve(sorted);
  auto b = h.producer->Resolve(shuffled);
  auto c = h.engine->Resolve(with_empty);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_NE(*a, 0u);
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(*a, *c);  // an empty value means the label is absent

  const Label no_name[] = {{"room", "a"}};
  const Label bad_name[] = {{"__name__", "temp"}, {"1room", "a"}};
  const Label bad_metric[] = {{"__name__", "temp-c"}};
  const Label duplicate[] = {{"__name__", "temp"}, {"room", "a"}, {"room", "b"}};
  EXPECT_EQ(h.engine->Resolve(no_name).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(h.engine->Resolve(bad_name).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(h.engine->Resolve(bad_metric).status().code(), StatusCode::kInvalidArgument);
  auto dup = h.engine->Resolve(duplicate);
  EXPECT_EQ(dup.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(dup.status().message()), HasSubstr("duplicate label name \"room\""));
}

TEST(EngineTest, MaxSeriesIsEnforced) {
  EngineOptions o = Harness::DefaultOptions();
  o.max_series = 2;
  Harness h(kTempRules, o);
  h.Temp("a");
  h.Temp("b");
  h.Temp("a");  // known series do not count again
  const Label third[] = {{"__name__", "temp"}, {"room", "c"}};
  EXPECT_EQ(h.engine->Resolve(third).status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(h.engine->stats().series_refused, 1u);
}

// ---- Evaluation instants and transitions -------------------------------------------

// TooHot has `for: 0`: it is evaluated at the sample that crosses 90 (25s,
// between the group's 1m instants) and resolves at the sample that drops
// below. StillHot (`for: 2m`) runs only at the group's instants.
TEST(EngineTest, ForZeroFiresFromTheCrossingSample) {
  Harness h(kTempRules);
  const SeriesRef a = h.Temp("a");
  h.Send(a, 10'000, 20);
  h.Send(a, 25'000, 95);
  ASSERT_TRUE(h.recorder->WaitForCount(1)) << "no event for the crossing sample";
  {
    const AlertEvent e = h.recorder->events()[0];
    EXPECT_EQ(e.rule, "TooHot");
    EXPECT_EQ(e.group, "temps");
    EXPECT_EQ(e.file, "test.rules.yml");
    EXPECT_EQ(e.state, AlertState::kFiring);
    EXPECT_EQ(e.eval_time_ms, 25'000);
    EXPECT_EQ(e.active_at_ms, 25'000);
    EXPECT_EQ(e.fired_at_ms, 25'000);
    EXPECT_EQ(e.value, 95);
    EXPECT_EQ(e.labels, (OwnedLabels{{"alertname", "TooHot"}, {"room", "a"}, {"severity", "page"}}));
    EXPECT_EQ(e.annotations, (OwnedLabels{{"summary", "a is at 95"}}));
    EXPECT_THAT(e.generator_url, HasSubstr("/graph?g0.expr=temp+%3E+90"));
  }
  h.Send(a, 40'000, 50);
  ASSERT_TRUE(h.recorder->WaitForCount(2));
  {
    const AlertEvent e = h.recorder->events()[1];
    EXPECT_EQ(e.rule, "TooHot");
    EXPECT_EQ(e.state, AlertState::kResolved);
    EXPECT_EQ(e.resolved_at_ms, 40'000);
    EXPECT_EQ(e.fired_at_ms, 25'000);
  }
  // StillHot: pending at the 60s instant, firing two minutes later.
  for (std::int64_t t = 60'000; t <= 180'000; t += 15'000) h.Send(a, t, 85);
  ASSERT_TRUE(h.recorder->WaitForCount(4));
  const auto events = h.recorder->events();
  EXPECT_THAT(DescribeAll(events),
              ElementsAre("TooHot firing @25000 {alertname=TooHot,room=a,severity=page,}",
                          "TooHot resolved @40000 {alertname=TooHot,room=a,severity=page,}",
                          "StillHot pending @60000 {alertname=StillHot,room=a,}",
                          "StillHot firing @180000 {alertname=StillHot,room=a,}"));
  EXPECT_EQ(events[3].active_at_ms, 60'000);
  const std::vector<AlertEvent> active = h.engine->ActiveAlerts();
  ASSERT_EQ(active.size(), 1u);
  EXPECT_EQ(active[0].rule, "StillHot");
  EXPECT_EQ(active[0].state, AlertState::kFiring);
}

// Without eager alerts every rule runs only at the group's instants, as in
// Prometheus: the 95 at 25s is gone (50 at 40s) by the 60s instant.
TEST(EngineTest, WithoutEagerAlertsOnlyGroupInstantsCount) {
  EngineOptions o = Harness::DefaultOptions();
  o.eager_alerts = false;
  Harness h(kTempRules, o);
  const SeriesRef a = h.Temp("a");
  h.Send(a, 10'000, 20);
  h.Send(a, 25'000, 95);
  h.Send(a, 40'000, 50);
  h.Send(a, 60'000, 95);
  ASSERT_TRUE(h.recorder->WaitForCount(2));
  EXPECT_THAT(DescribeAll(h.recorder->events()),
              ElementsAre("TooHot firing @60000 {alertname=TooHot,room=a,severity=page,}",
                          "StillHot pending @60000 {alertname=StillHot,room=a,}"));
}

TEST(EngineTest, RecordingRulesFeedLaterRules) {
  Harness h(R"(
groups:
  - name: rollup
    rules:
      - record: site:temp:max
        expr: max by (site) (temp)
      - alert: SiteHot
        expr: site:temp:max > 90
)");
  const Label a_labels[] = {{"__name__", "temp"}, {"room", "a"}, {"site", "x"}};
  const Label b_labels[] = {{"__name__", "temp"}, {"room", "b"}, {"site", "x"}};
  const SeriesRef a = *h.producer->Resolve(a_labels);
  const SeriesRef b = *h.producer->Resolve(b_labels);
  ASSERT_TRUE(h.producer->Append(a, 60'000, 50).ok());
  ASSERT_TRUE(h.producer->Append(b, 60'000, 99).ok());
  ASSERT_TRUE(h.producer->Flush().ok());
  ASSERT_TRUE(h.recorder->WaitForCount(1));
  const AlertEvent e = h.recorder->events()[0];
  EXPECT_EQ(e.rule, "SiteHot");
  EXPECT_EQ(e.state, AlertState::kFiring);
  EXPECT_EQ(e.eval_time_ms, 60'000);
  EXPECT_EQ(e.value, 99);
  EXPECT_EQ(e.labels, (OwnedLabels{{"alertname", "SiteHot"}, {"site", "x"}}));
}

TEST(EngineTest, ExternalLabelsAndUrlReachTemplatesAndEvents) {
  EngineOptions o = Harness::DefaultOptions();
  o.external_labels = {{"cluster", "eu-1"}};
  o.external_url = "https://nimify.example";
  Harness h(R"(
groups:
  - name: g
    rules:
      - alert: Hot
        expr: temp > 90
        annotations:
          where: "{{ $externalLabels.cluster }} {{ $externalURL }}"
)",
            o);
  h.Send(h.Temp("a"), 60'000, 95);
  ASSERT_TRUE(h.recorder->WaitForCount(1));
  const AlertEvent e = h.recorder->events()[0];
  EXPECT_EQ(Get(e.annotations, "where"), "eu-1 https://nimify.example");
  EXPECT_EQ(e.generator_url.rfind("https://nimify.example/graph?g0.expr=", 0), 0u);
  // The alert as the API reads it, and as the saved state reads it (no annotations).
  const std::vector<AlertEvent> full = h.engine->ActiveAlerts();
  ASSERT_EQ(full.size(), 1u);
  EXPECT_EQ(full[0].annotations, e.annotations);
  const std::vector<AlertEvent> bare = h.engine->ActiveAlerts({.annotations = false});
  ASSERT_EQ(bare.size(), 1u);
  EXPECT_TRUE(bare[0].annotations.empty());
  EXPECT_EQ(bare[0].labels, full[0].labels);
  EXPECT_EQ(bare[0].active_at_ms, full[0].active_at_ms);
}

// A rule that fails (many-to-many matching) records the failure and logs it
// once; the engine keeps going.
TEST(EngineTest, RuleFailuresAreCountedAndLoggedOnce) {
  std::mutex mu;
  std::vector<std::string> lines;
  EngineOptions o = Harness::DefaultOptions();
  o.log = [&](LogLevel level, std::string_view text) {
    std::lock_guard lock(mu);
    if (level == LogLevel::kWarn) lines.emplace_back(text);
  };
  Harness h(R"(
groups:
  - name: g
    rules:
      - alert: Broken
        expr: temp + on() temp
)",
            o);
  const SeriesRef a = h.Temp("a");
  const SeriesRef b = h.Temp("b");
  for (std::int64_t t = 60'000; t <= 180'000; t += 60'000) {
    ASSERT_TRUE(h.producer->Append(a, t, 1).ok());
    ASSERT_TRUE(h.producer->Append(b, t, 1).ok());
    ASSERT_TRUE(h.producer->Flush().ok());
  }
  h.producer->Close();
  ASSERT_TRUE(h.engine->Stop().ok());
  const EngineStats s = h.engine->stats();
  EXPECT_EQ(s.rule_failures, 3u);
  std::lock_guard lock(mu);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("rule \"Broken\""));
  EXPECT_THAT(lines[0], HasSubstr("many-to-many"));
}

// ---- Rule swaps ---------------------------------------------------------------------

TEST(EngineTest, SetRulesKeepsTheStateOfUnchangedRules) {
  Harness h(kTempRules);
  const SeriesRef a = h.Temp("a");
  h.Send(a, 60'000, 85);
  ASSERT_TRUE(h.recorder->WaitForCount(1));  // StillHot pending at 60s

  // StillHot unchanged; TooHot's expression changed; Warm is new.
  ASSERT_TRUE(h.engine
                  ->SetRules(ParseRules(R"(
groups:
  - name: temps
    interval: 1m
    rules:
      - alert: TooHot
        expr: temp > 80
        labels:
          severity: page
      - alert: StillHot
        expr: temp > 80
        for: 2m
      - alert: Warm
        expr: temp > 70
        for: 1m
)"))
                  .ok());
  EXPECT_EQ(h.engine->rules()->rule_count(), 3u);
  h.Send(a, 120'000, 85);
  h.Send(a, 180'000, 85);
  ASSERT_TRUE(h.recorder->WaitForCount(5))
      << ::testing::PrintToString(DescribeAll(h.recorder->events()));
  const auto events = h.recorder->events();
  EXPECT_THAT(DescribeAll(events),
              ElementsAre("StillHot pending @60000 {alertname=StillHot,room=a,}",
                          "TooHot firing @120000 {alertname=TooHot,room=a,severity=page,}",
                          "Warm pending @120000 {alertname=Warm,room=a,}",
                          "StillHot firing @180000 {alertname=StillHot,room=a,}",
                          "Warm firing @180000 {alertname=Warm,room=a,}"));
  // Kept: pending since 60s, so firing at 180s rather than restarting at 120s.
  EXPECT_EQ(events[3].active_at_ms, 60'000);

  // Removing a rule resolves its alerts.
  ASSERT_TRUE(h.engine
                  ->SetRules(ParseRules(R"(
groups:
  - name: temps
    interval: 1m
    rules:
      - alert: Warm
        expr: temp > 70
        for: 1m
)"))
                  .ok());
  ASSERT_TRUE(h.recorder->WaitForCount(7));
  const auto after = h.recorder->events();
  EXPECT_EQ(Describe(after[5]), "StillHot resolved @180000 {alertname=StillHot,room=a,}");
  EXPECT_EQ(Describe(after[6]), "TooHot resolved @180000 {alertname=TooHot,room=a,severity=page,}");
}

TEST(EngineTest, SetRulesRejectsWhatTheEngineCannotRun) {
  Harness h(kTempRules);
  auto odd_interval = ParseRules(R"(
groups:
  - name: g
    interval: 90s
    rules:
      - alert: A
        expr: temp > 1
)");
  Status st = h.engine->SetRules(odd_interval);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("not a multiple"));
  auto long_range = ParseRules(R"(
groups:
  - name: g
    rules:
      - alert: A
        expr: rate(temp[1h]) > 1
)");
  EXPECT_EQ(h.engine->SetRules(long_range).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(h.engine->rules()->rule_count(), 2u);  // unchanged
}

// ---- Producers: lateness and backpressure -------------------------------------------

TEST(EngineTest, LateSamplesAreRefusedAndCounted) {
  EngineOptions o = Harness::DefaultOptions();
  o.max_late_age = std::chrono::milliseconds(0);  // no late sample at all
  Harness h(kTempRules, o);
  const SeriesRef a = h.Temp("a");
  h.Send(a, 1'000, 1);
  Status late = h.producer->Append(a, 1'000, 2);
  EXPECT_EQ(late.code(), StatusCode::kOutOfRange);
  EXPECT_EQ(h.producer->Append(a, 500, 2).code(), StatusCode::kOutOfRange);
  EXPECT_EQ(h.producer->Append(0, 2'000, 2).code(), StatusCode::kInvalidArgument);  // bad ref
  const ProducerStats s = h.producer->stats();
  EXPECT_EQ(s.accepted, 1u);
  EXPECT_EQ(s.late, 2u);
  EXPECT_EQ(s.refused, 1u);
  EXPECT_EQ(h.engine->stats().samples_late, 2u);
}

TEST(EngineTest, AllowedLatenessAcceptsOlderSamples) {
  EngineOptions o = Harness::DefaultOptions();
  o.allowed_lateness = std::chrono::seconds(30);
  o.max_late_age = std::chrono::seconds(10);
  Harness h(kTempRules, o);
  const SeriesRef a = h.Temp("a");
  const SeriesRef b = h.Temp("b");
  h.Send(a, 60'000, 1);
  EXPECT_TRUE(h.producer->Append(b, 45'000, 1).ok());  // 15s behind: allowed
  // The watermark is 30s; late samples up to 10s behind it are still taken.
  const SeriesRef c = h.Temp("c");
  EXPECT_TRUE(h.producer->Append(c, 25'000, 1).ok());
  EXPECT_EQ(h.producer->Append(c, 20'000, 1).code(), StatusCode::kOutOfRange);
  EXPECT_EQ(h.producer->stats().late, 1u);
}

TEST(EngineTest, MaxLateAgeIsValidatedAgainstTheRetention) {
  EngineOptions negative = Harness::DefaultOptions();
  negative.max_late_age = std::chrono::milliseconds(-1);
  EXPECT_EQ(Engine::Create(negative, nullptr).status().code(), StatusCode::kInvalidArgument);
  EngineOptions beyond = Harness::DefaultOptions();
  beyond.retention = std::chrono::minutes(10);
  beyond.max_late_age = std::chrono::minutes(11);
  EXPECT_EQ(Engine::Create(beyond, ParseRules(kTempRules)).status().code(),
            StatusCode::kInvalidArgument);
  // With the retention computed from the rules (5m here), it grows to the max age.
  EngineOptions grown = Harness::DefaultOptions();
  grown.max_late_age = std::chrono::minutes(30);
  Harness h(kTempRules, grown);
  const SeriesRef a = h.Temp("a");
  h.Send(a, 3'600'000, 1);
  EXPECT_TRUE(h.producer->Append(h.Temp("b"), 3'600'000 - 29 * 60'000, 1).ok());
  EXPECT_EQ(h.producer->Append(h.Temp("c"), 3'600'000 - 30 * 60'000, 1).code(),
            StatusCode::kOutOfRange);
}

// A remote-write backlog: a series' samples arrive after the evaluation that
// would have seen them. They are stored and the next evaluation fires the
// alert, at its own time (not retroactively at the past instant).
TEST(EngineTest, LateSamplesFireTheAlertAtTheNextEvaluation) {
  for (const bool incremental : {true, false}) {
    SCOPED_TRACE(incremental ? "threshold tracker" : "full evaluation");
    EngineOptions o = Harness::DefaultOptions();
    o.incremental_thresholds = incremental;
    o.skip_quiet_rules = incremental;
    Harness h(kTempRules, o);
    const SeriesRef a = h.Temp("a");
    const SeriesRef b = h.Temp("b");
    ASSERT_TRUE(h.producer->Append(b, 60'000, 50).ok());
    h.Send(a, 60'000, 50);
    h.Send(a, 120'000, 50);  // b falls behind
    for (int i = 0; i < 5000 && h.engine->last_evaluation_ms() < 120'000; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_EQ(h.engine->last_evaluation_ms(), 120'000);
    EXPECT_TRUE(h.recorder->events().empty());

    // b's backlog: late (the watermark is at 2m) but newer than b's newest.
    ASSERT_TRUE(h.producer->Append(b, 100'000, 95).ok());
    // More than the max age (the retention, 5m + 1ms) behind: refused.
    EXPECT_EQ(h.producer->Append(b, 120'000 - 300'001, 95).code(), StatusCode::kOutOfRange);
    h.Send(a, 180'000, 50);
    ASSERT_TRUE(h.recorder->WaitFor([](const std::vector<AlertEvent>& e) {
      return std::any_of(e.begin(), e.end(), [](const AlertEvent& x) {
        return x.rule == "TooHot" && x.state == AlertState::kFiring;
      });
    })) << ::testing::PrintToString(DescribeAll(h.recorder->events()));
    h.producer->Close();
    ASSERT_TRUE(h.engine->Stop().ok());
    std::vector<std::string> seen;
    for (const AlertEvent& e : h.recorder->events()) {
      if (e.rule != "TooHot") continue;
      seen.push_back(Describe(e));
      EXPECT_EQ(e.eval_time_ms, 180'000) << Describe(e);
      EXPECT_EQ(Get(e.labels, "room"), "b");
      EXPECT_EQ(e.value, 95);
    }
    EXPECT_FALSE(seen.empty());
    const EngineStats s = h.engine->stats();
    EXPECT_EQ(s.samples_late_stored, 1u);
    EXPECT_EQ(s.samples_late, 1u);
  }
}

TEST(EngineTest, BackpressureRefusalsAreCounted) {
  EngineOptions o = Harness::DefaultOptions();
  o.shards = 1;
  o.ring_capacity = 2;
  Harness h(kTempRules, o);
  ProducerOptions refuse;
  refuse.backpressure = BackpressurePolicy::kRefuse;
  auto p = h.engine->NewProducer(refuse);
  ASSERT_TRUE(p.ok());
  const SeriesRef a = h.Temp("a");
  constexpr int kSamples = 200'000;
  int refused = 0;
  for (int i = 0; i < kSamples; ++i) {
    Status st = (*p)->Append(a, 1 + i, 1);
    if (!st.ok()) {
      ASSERT_EQ(st.code(), StatusCode::kResourceExhausted) << st.ToString();
      ++refused;
    }
  }
  (*p)->Close();
  h.producer->Close();
  const ProducerStats ps = (*p)->stats();
  EXPECT_GT(refused, 0) << "a ring of 2 never filled; the refusal path went untested";
  EXPECT_EQ(ps.refused, static_cast<std::uint64_t>(refused));
  EXPECT_EQ(ps.accepted + ps.refused, static_cast<std::uint64_t>(kSamples));
  ASSERT_TRUE(h.engine->Stop().ok());
  const EngineStats es = h.engine->stats();
  EXPECT_EQ(es.samples_refused, ps.refused);
  EXPECT_EQ(es.samples_accepted, ps.accepted);
  EXPECT_EQ(es.samples_rejected, 0u);  // every accepted sample reached its shard
}

TEST(EngineTest, WaitingProducersLoseNothing) {
  EngineOptions o = Harness::DefaultOptions();
  o.shards = 1;
  o.ring_capacity = 2;
  Harness h(kTempRules, o);
  const SeriesRef a = h.Temp("a");
  std::vector<Sample> batch;
  for (int i = 0; i < 50'000; ++i) batch.push_back({a, 1 + i, 1});
  std::size_t accepted = 0;
  ASSERT_TRUE(h.producer->AppendBatch(batch, &accepted).ok());
  EXPECT_EQ(accepted, batch.size());
  h.producer->Close();
  ASSERT_TRUE(h.engine->Stop().ok());
  EXPECT_EQ(h.engine->stats().samples_accepted, batch.size());
  EXPECT_EQ(h.engine->stats().samples_refused, 0u);
}

TEST(EngineTest, AppendBatchReportsTheFirstErrorAndKeepsGoing) {
  Harness h(kTempRules);
  const SeriesRef a = h.Temp("a");
  h.Send(a, 400'000, 1);
  // 5s: more than the max late age (the retention, 5m) behind the watermark.
  const std::vector<Sample> batch = {
      {a, 410'000, 1}, {a, 5'000, 1}, {0, 430'000, 1}, {a, 440'000, 1}};
  std::size_t accepted = 0;
  Status st = h.producer->AppendBatch(batch, &accepted);
  EXPECT_EQ(st.code(), StatusCode::kOutOfRange);
  EXPECT_THAT(std::string(st.message()), HasSubstr("late"));
  EXPECT_EQ(accepted, 2u);
  EXPECT_EQ(h.producer->stats().late, 1u);
  EXPECT_EQ(h.producer->stats().refused, 1u);  // the bad ref
}

// ---- Handlers and Stop ----------------------------------------------------------------

TEST(EngineTest, StopDrainsEvaluatesAndFlushes) {
  Harness h(kTempRules);
  const SeriesRef a = h.Temp("a");
  // No waiting: everything may still be in the rings when Stop() starts.
  for (std::int64_t t = 60'000; t <= 240'000; t += 15'000) {
    ASSERT_TRUE(h.producer->Append(a, t, 85).ok());
  }
  h.producer->Close();
  ASSERT_TRUE(h.engine->Stop().ok());
  EXPECT_THAT(DescribeAll(h.recorder->events()),
              ElementsAre("StillHot pending @60000 {alertname=StillHot,room=a,}",
                          "StillHot firing @180000 {alertname=StillHot,room=a,}"));
  EXPECT_EQ(h.recorder->flushes(), 1);
  EXPECT_EQ(h.engine->last_evaluation_ms(), 240'000);
  EXPECT_EQ(h.engine->stats().queue_depth, 0u);

  EXPECT_TRUE(h.engine->Stop().ok());  // idempotent
  EXPECT_EQ(h.engine->NewProducer().status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(h.engine->SetRules(ParseRules(kTempRules)).code(), StatusCode::kFailedPrecondition);
}

TEST(EngineTest, ProducersMayOutliveTheEngine) {
  auto e = Engine::Create({}, ParseRules(kTempRules));
  ASSERT_TRUE(e.ok());
  auto p = (*e)->NewProducer();
  ASSERT_TRUE(p.ok());
  const Label labels[] = {{"__name__", "temp"}, {"room", "a"}};
  const SeriesRef ref = *(*p)->Resolve(labels);
  e->reset();
  EXPECT_EQ((*p)->Append(ref, 1'000, 1).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ((*p)->stats().refused, 1u);
}

TEST(EngineTest, HandlersCanBeRemovedAndTheirExceptionsAreCounted) {
  Harness h(kTempRules);
  std::atomic<int> calls{0};
  const HandlerId thrower = h.engine->Subscribe([&](const AlertEvent&) {
    ++calls;
    throw std::runtime_error("boom");
  });
  const SeriesRef a = h.Temp("a");
  h.Send(a, 25'000, 95);
  ASSERT_TRUE(h.recorder->WaitForCount(1));
  ASSERT_TRUE(h.engine->RemoveHandler(thrower).ok());
  EXPECT_EQ(h.engine->RemoveHandler(thrower).code(), StatusCode::kNotFound);
  h.Send(a, 40'000, 50);
  ASSERT_TRUE(h.recorder->WaitForCount(2));
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(h.engine->stats().handler_failures, 1u);
  EXPECT_EQ(h.recorder->events()[1].state, AlertState::kResolved);  // still delivered
}

TEST(EngineTest, StopFromAHandlerIsRefused) {
  Harness h(kTempRules);
  std::atomic<bool> refused{false};
  Engine* engine = h.engine.get();
  h.engine->Subscribe([&](const AlertEvent&) {
    refused = engine->Stop().code() == StatusCode::kFailedPrecondition;
  });
  h.Send(h.Temp("a"), 25'000, 95);
  ASSERT_TRUE(h.recorder->WaitForCount(1));
  h.producer->Close();
  ASSERT_TRUE(h.engine->Stop().ok());
  EXPECT_TRUE(refused.load());
}

// ---- EvaluateRulesOnce: a dry run of other rules over what the engine holds ----------

TEST(EngineTest, EvaluateRulesOnceIsADryRunThatChangesNothing) {
  Harness h(kTempRules);
  const SeriesRef a = h.Temp("a");
  const SeriesRef b = h.Temp("b");
  ASSERT_TRUE(h.producer->Append(a, 60'000, 95).ok());
  ASSERT_TRUE(h.producer->Append(b, 60'000, 85).ok());
  ASSERT_TRUE(h.producer->Flush().ok());
  // TooHot for a, StillHot pending for a and b: the 60s instant is evaluated.
  ASSERT_TRUE(h.recorder->WaitForCount(3));
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  const std::vector<std::string> engine_alerts = sorted(DescribeAll(h.engine->ActiveAlerts()));
  ASSERT_EQ(engine_alerts.size(), 3u);
  EXPECT_EQ(h.engine->retention(), std::chrono::minutes(5) + std::chrono::milliseconds(1));

  const auto what_if = ParseRules(R"(
groups:
  - name: what-if
    interval: 1m
    rules:
      - record: temp:doubled
        expr: temp * 2
      - alert: Hot
        expr: temp:doubled > 180
      - alert: Warm
        expr: temp > 80
        for: 5m
)");
  Result<RulesEvaluation> r = h.engine->EvaluateRulesOnce(*what_if, 60'000);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->eval_time_ms, 60'000);
  EXPECT_EQ(r->rule_evaluations, 3u);
  EXPECT_EQ(r->rule_failures, 0u);
  EXPECT_EQ(r->alert_events, 3u);  // Hot fires at once; Warm is pending twice
  EXPECT_THAT(sorted(DescribeAll(r->alerts)),
              ElementsAre("Hot firing @60000 {alertname=Hot,room=a,}",
                          "Warm pending @60000 {alertname=Warm,room=a,}",
                          "Warm pending @60000 {alertname=Warm,room=b,}"));
  EXPECT_GT(r->cpu_time.count(), 0);

  // Not at a group instant of these rules: nothing runs.
  Result<RulesEvaluation> off_grid = h.engine->EvaluateRulesOnce(*what_if, 61'000);
  ASSERT_TRUE(off_grid.ok());
  EXPECT_EQ(off_grid->rule_evaluations, 0u);

  // More history than the engine keeps.
  const auto too_long = ParseRules(
      "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: rate(temp[1h]) > 0\n");
  EXPECT_EQ(h.engine->EvaluateRulesOnce(*too_long, 60'000).status().code(),
            StatusCode::kFailedPrecondition);

  // The engine's own alerts and handlers saw none of it, before and after Stop.
  EXPECT_EQ(sorted(DescribeAll(h.engine->ActiveAlerts())), engine_alerts);
  h.producer->Close();
  ASSERT_TRUE(h.engine->Stop().ok());
  EXPECT_EQ(h.recorder->events().size(), 3u);
  Result<RulesEvaluation> after_stop = h.engine->EvaluateRulesOnce(*what_if, 60'000);
  ASSERT_TRUE(after_stop.ok()) << after_stop.status().ToString();
  EXPECT_EQ(after_stop->alerts.size(), 3u);
}

// ---- Handlers on the evaluating thread (HandlerThread::kEvaluator) -------------------

TEST(EngineTest, InlineHandlersGetTheSameEventsWhileTheShardsAreHeld) {
  for (const HandlerThread mode : {HandlerThread::kDispatcher, HandlerThread::kEvaluator}) {
    SCOPED_TRACE(mode == HandlerThread::kEvaluator ? "evaluator" : "dispatcher");
    EngineOptions o = Harness::DefaultOptions();
    o.handler_thread = mode;
    Harness h(kTempRules, o);
    Engine* engine = h.engine.get();
    std::atomic<int> query_codes_seen{0};
    std::atomic<bool> query_refused{false};
    h.engine->Subscribe([&](const AlertEvent& e) {
      // Inline, the handler runs inside the cut: a read over the shards would
      // wait for itself, so it is refused instead.
      const StatusCode code = engine->Query("temp", e.eval_time_ms).status().code();
      if (code == StatusCode::kFailedPrecondition) query_refused = true;
      ++query_codes_seen;
    });
    const SeriesRef a = h.Temp("a");
    h.Send(a, 10'000, 20);
    h.Send(a, 25'000, 95);
    h.Send(a, 40'000, 50);
    for (std::int64_t t = 60'000; t <= 180'000; t += 15'000) h.Send(a, t, 85);
    ASSERT_TRUE(h.recorder->WaitForCount(4));
    // The subscriber runs after the recorder: let it see the last event before Stop.
    for (int i = 0; i < 1000 && query_codes_seen.load() < 4; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    h.producer->Close();
    ASSERT_TRUE(h.engine->Stop().ok());
    EXPECT_THAT(DescribeAll(h.recorder->events()),
                ElementsAre("TooHot firing @25000 {alertname=TooHot,room=a,severity=page,}",
                            "TooHot resolved @40000 {alertname=TooHot,room=a,severity=page,}",
                            "StillHot pending @60000 {alertname=StillHot,room=a,}",
                            "StillHot firing @180000 {alertname=StillHot,room=a,}"));
    EXPECT_EQ(h.recorder->flushes(), 1);
    EXPECT_EQ(query_codes_seen.load(), 4);
    EXPECT_EQ(query_refused.load(), mode == HandlerThread::kEvaluator);
    EXPECT_EQ(h.engine->stats().handler_calls, 8u);  // two handlers, four events
  }
}

TEST(EngineTest, InlineHandlersMaySwapRulesRemoveThemselvesButNotStop) {
  EngineOptions o = Harness::DefaultOptions();
  o.handler_thread = HandlerThread::kEvaluator;
  Harness h(kTempRules, o);
  Engine* engine = h.engine.get();
  std::atomic<int> calls{0};
  std::atomic<bool> stop_refused{false};
  std::atomic<bool> swapped{false};
  std::atomic<HandlerId> self{0};
  self = h.engine->Subscribe([&](const AlertEvent&) {
    ++calls;
    stop_refused = engine->Stop().code() == StatusCode::kFailedPrecondition;
    // A swap from inside a delivery: its own output is delivered after this
    // call returns, on the same thread, without deadlock.
    swapped = engine->SetRules(ParseRules(kTempRules)).ok();
    EXPECT_TRUE(engine->RemoveHandler(self.load()).ok());
  });
  const SeriesRef a = h.Temp("a");
  h.Send(a, 25'000, 95);
  ASSERT_TRUE(h.recorder->WaitForCount(1));
  h.Send(a, 40'000, 50);
  ASSERT_TRUE(h.recorder->WaitForCount(2));
  h.producer->Close();
  ASSERT_TRUE(h.engine->Stop().ok());
  EXPECT_EQ(calls.load(), 1);  // removed itself
  EXPECT_TRUE(stop_refused.load());
  EXPECT_TRUE(swapped.load());
  EXPECT_THAT(DescribeAll(h.recorder->events()),
              ElementsAre("TooHot firing @25000 {alertname=TooHot,room=a,severity=page,}",
                          "TooHot resolved @40000 {alertname=TooHot,room=a,severity=page,}"));
  EXPECT_EQ(h.recorder->flushes(), 1);
}

// ---- Wall-clock mode ----------------------------------------------------------------

TEST(EngineTest, WallClockModeEvaluatesOnTheClock) {
  EngineOptions o = Harness::DefaultOptions();
  o.clock = ClockMode::kWallClock;
  Harness h(R"(
groups:
  - name: fast
    interval: 1s
    rules:
      - alert: Hot
        expr: temp > 90
        for: 1s
)",
            o);
  // A little ahead of the clock, so that the clock's watermark cannot pass it first.
  const auto sample_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count() +
                         200;
  // One sample, never flushed by hand: the clock moves the watermark.
  ASSERT_TRUE(h.producer->Append(h.Temp("a"), sample_ms, 95).ok());
  ASSERT_TRUE(h.recorder->WaitFor([](const std::vector<AlertEvent>& events) {
    return events.size() >= 2;
  }, std::chrono::seconds(20))) << ::testing::PrintToString(DescribeAll(h.recorder->events()));
  const auto events = h.recorder->events();
  EXPECT_EQ(events[0].state, AlertState::kPending);
  EXPECT_EQ(events[1].state, AlertState::kFiring);
  EXPECT_EQ(events[0].eval_time_ms % 1000, 0);  // the group's instants: whole seconds
  EXPECT_GE(events[0].eval_time_ms, sample_ms);
  EXPECT_EQ(*events[1].fired_at_ms - events[1].active_at_ms, 1000);
}

std::int64_t WallNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Polls `done` every millisecond for up to 20 s.
bool Eventually(const std::function<bool()>& done) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// A flush of samples the wall clock has passed moves the clock at once (a
// wake-up), instead of at its next tick: the alert's instant is the sample's.
TEST(EngineTest, WallClockFlushOfDueSamplesWakesTheClock) {
  EngineOptions o = Harness::DefaultOptions();
  o.clock = ClockMode::kWallClock;
  Harness h(kTempRules, o);
  // A sample stamped now is due at once, unless a tick in this millisecond
  // already passed it (then it is late, and evaluated at the group's next
  // instant): try again with another room until one wakes the clock. The
  // pause keeps an attempt from starting in the millisecond of the tick that
  // ended the last one.
  std::int64_t sent_ms = 0;
  std::string room;
  for (int attempt = 0; attempt < 200 && h.engine->stats().clock_wakeups == 0; ++attempt) {
    room = "r" + std::to_string(attempt);
    const SeriesRef ref = h.Temp(room);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    sent_ms = WallNowMs();
    h.Send(ref, sent_ms, 95);
    ASSERT_TRUE(Eventually([&] {
      const EngineStats s = h.engine->stats();
      return s.clock_wakeups > 0 || s.last_evaluation_ms >= sent_ms;
    }));
  }
  ASSERT_GT(h.engine->stats().clock_wakeups, 0u);
  ASSERT_TRUE(h.recorder->WaitFor(
      [&](const std::vector<AlertEvent>& events) {
        for (const AlertEvent& e : events) {
          if (e.rule == "TooHot" && Get(e.labels, "room") == room) return true;
        }
        return false;
      },
      std::chrono::seconds(20)));
  for (const AlertEvent& e : h.recorder->events()) {
    if (e.rule != "TooHot" || Get(e.labels, "room") != room) continue;
    EXPECT_EQ(e.state, AlertState::kFiring);
    EXPECT_EQ(e.eval_time_ms, sent_ms);  // the sample's own instant, not the tick's
  }
}

// Samples within the allowed lateness are not due yet: the tick moves the
// clock, with no wake-up.
TEST(EngineTest, WallClockFlushOfSamplesNotYetDueLeavesItToTheTick) {
  EngineOptions o = Harness::DefaultOptions();
  o.clock = ClockMode::kWallClock;
  o.allowed_lateness = std::chrono::hours(1);
  Harness h(kTempRules, o);
  const SeriesRef ref = h.Temp("a");
  for (int i = 0; i < 20; ++i) h.Send(ref, WallNowMs() + i, 95);
  const std::uint64_t ticks = h.engine->stats().clock_ticks;
  ASSERT_TRUE(Eventually([&] { return h.engine->stats().clock_ticks >= ticks + 3; }));
  EXPECT_EQ(h.engine->stats().clock_wakeups, 0u);
}

}  // namespace
}  // namespace nimify
