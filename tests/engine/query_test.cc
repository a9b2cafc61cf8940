// Engine::Query / QueryRange / Series / LabelNames / LabelValues / RuleHealth
// and AlertHandler::OnEvaluation. The concurrent test runs under
// ThreadSanitizer in CI (label `tsan`).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "engine/engine_test_util.h"
#include "nimify/engine.h"
#include "promql/evaluator.h"
#include "promql/parser.h"
#include "promqltest/memory_storage.h"

namespace nimify {
namespace {

using ::nimify::testing::Get;
using ::nimify::testing::Recorder;

constexpr std::int64_t kStepMs = 15'000;
constexpr int kSteps = 41;  // samples at 0s .. 600s
constexpr std::int64_t kEndMs = (kSteps - 1) * kStepMs;

struct SeriesDef {
  std::vector<Label> labels;
  double (*value)(int step);
};

double Counter(int s) { return 10.0 * s; }
double Counter2(int s) { return 3.0 * s + (s > 20 ? 7 : 0); }
double Gauge(int s) { return 40.0 + (s % 7) * 5; }
double Gauge2(int s) { return 60.0 - (s % 5) * 3; }

const std::vector<SeriesDef>& Data() {
  static const std::vector<SeriesDef> data = {
      {{{"__name__", "http_requests_total"}, {"job", "api"}, {"instance", "a"}}, Counter},
      {{{"__name__", "http_requests_total"}, {"job", "api"}, {"instance", "b"}}, Counter2},
      {{{"__name__", "http_requests_total"}, {"job", "web"}, {"instance", "c"}}, Counter},
      {{{"__name__", "temperature"}, {"job", "sensor"}, {"room", "x"}}, Gauge},
      {{{"__name__", "temperature"}, {"job", "sensor"}, {"room", "y"}}, Gauge2},
  };
  return data;
}

constexpr char kRules[] = R"(
groups:
  - name: g
    interval: 15s
    rules:
      - record: job:http_requests:rate1m
        expr: sum by (job) (rate(http_requests_total[1m]))
      - alert: Hot
        expr: temperature{room="y"} > 55
        for: 30s
      - alert: Broken
        expr: label_replace(temperature, "room", "same", "", "")
)";

std::unique_ptr<Engine> MakeEngine(std::shared_ptr<const RuleSet> rules, std::uint32_t shards = 2) {
  EngineOptions options;
  options.shards = shards;
  options.retention = std::chrono::hours(1);  // keep every sample of the test data
  options.deterministic_order = true;         // bit-identical sums, as MemoryStorage
  auto engine = Engine::Create(options, std::move(rules));
  EXPECT_TRUE(engine.ok()) << engine.status().ToString();
  return engine.ok() ? std::move(engine).value() : nullptr;
}

// Streams Data() through one producer, one flush per step, then promises kEndMs.
void Load(Engine& engine) {
  auto producer = engine.NewProducer();
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  std::vector<SeriesRef> refs;
  for (const auto& s : Data()) {
    auto ref = (*producer)->Resolve(s.labels);
    ASSERT_TRUE(ref.ok()) << ref.status().ToString();
    refs.push_back(*ref);
  }
  for (int step = 0; step < kSteps; ++step) {
    for (std::size_t i = 0; i < refs.size(); ++i) {
      ASSERT_TRUE((*producer)->Append(refs[i], step * kStepMs, Data()[i].value(step)).ok());
    }
    ASSERT_TRUE((*producer)->Flush().ok());
  }
  ASSERT_TRUE((*producer)->AdvanceWatermark(kEndMs).ok());
}

bool WaitForEvaluation(Engine& engine, std::int64_t t_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (engine.last_evaluation_ms() < t_ms) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// The same data in the conformance harness's storage.
promqltest::MemoryStorage Reference() {
  promqltest::MemoryStorage storage;
  for (const auto& s : Data()) {
    std::vector<promql::Label> labels;
    for (const auto& l : s.labels) labels.push_back({std::string(l.name), std::string(l.value)});
    const promql::Labels sorted = promql::Labels::FromUnsorted(std::move(labels));
    for (int step = 0; step < kSteps; ++step) {
      EXPECT_TRUE(storage.Append(sorted, step * kStepMs, s.value(step)).ok());
    }
  }
  return storage;
}

std::string Key(const OwnedLabels& labels) {
  std::string k;
  for (const auto& l : labels) k += l.name + "=" + l.value + ",";
  return k;
}

std::vector<QuerySeries> Sorted(std::vector<QuerySeries> series) {
  std::sort(series.begin(), series.end(), [](const QuerySeries& a, const QuerySeries& b) {
    return Key(a.labels) < Key(b.labels);
  });
  return series;
}

void ExpectSame(const QueryResult& got, const promql::QueryResult& want, const std::string& what) {
  SCOPED_TRACE(what);
  std::vector<QuerySeries> expected;
  auto owned = [](const promql::Labels& labels) {
    OwnedLabels out;
    for (const auto& l : labels) out.push_back({l.name, l.value});
    return out;
  };
  if (const auto* s = std::get_if<promql::Scalar>(&want.value)) {
    ASSERT_EQ(got.type, QueryValueType::kScalar);
    EXPECT_EQ(got.scalar.t_ms, s->t);
    EXPECT_EQ(got.scalar.value, s->v);
    return;
  }
  if (const auto* s = std::get_if<promql::String>(&want.value)) {
    ASSERT_EQ(got.type, QueryValueType::kString);
    EXPECT_EQ(got.string_value, s->v);
    return;
  }
  if (const auto* v = std::get_if<promql::Vector>(&want.value)) {
    ASSERT_EQ(got.type, QueryValueType::kVector);
    for (const auto& sample : *v) expected.push_back({owned(sample.metric), {{sample.t, sample.v}}});
  } else {
    ASSERT_EQ(got.type, QueryValueType::kMatrix);
    for (const auto& series : std::get<promql::Matrix>(want.value)) {
      QuerySeries qs{owned(series.metric), {}};
      for (const auto& p : series.points) qs.points.push_back({p.t, p.v});
      expected.push_back(std::move(qs));
    }
  }
  const auto a = Sorted(got.series);
  const auto b = Sorted(std::move(expected));
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(Key(a[i].labels), Key(b[i].labels));
    ASSERT_EQ(a[i].points.size(), b[i].points.size()) << Key(a[i].labels);
    for (std::size_t j = 0; j < a[i].points.size(); ++j) {
      EXPECT_EQ(a[i].points[j].t_ms, b[i].points[j].t_ms);
      EXPECT_EQ(a[i].points[j].value, b[i].points[j].value) << Key(a[i].labels) << " @" << j;
    }
  }
}

const char* const kInstantQueries[] = {
    "http_requests_total",
    "rate(http_requests_total[1m])",
    "sum by (job) (rate(http_requests_total[2m]))",
    "temperature > 50",
    "http_requests_total[1m]",
    "max_over_time(temperature[3m])",
    "1 + 2 * 3",
    "\"hello\"",
    "count(temperature) by (job)",
};

struct RangeQuery {
  const char* expr;
  std::int64_t start, end, step;
};
const RangeQuery kRangeQueries[] = {
    {"sum(rate(http_requests_total[1m]))", 60'000, kEndMs, 30'000},
    {"temperature", 0, kEndMs, 15'000},
    {"avg_over_time(temperature[45s]) > 45", 100'000, 500'000, 7'000},
    {"time()", 0, 120'000, 60'000},
};

void CompareWithReference(Engine& engine) {
  promqltest::MemoryStorage reference = Reference();
  promql::EvalOptions eval;  // the engine's defaults: lookback 5m, Prometheus 3
  const promql::Evaluator evaluator(&reference, eval);
  for (const char* q : kInstantQueries) {
    for (const std::int64_t t : {kEndMs, kEndMs - 95'000, std::int64_t{30'000}}) {
      auto expr = promql::ParseExpr(q);
      ASSERT_TRUE(expr.ok());
      auto want = evaluator.Instant(**expr, t, q);
      ASSERT_TRUE(want.ok()) << want.status().ToString();
      auto got = engine.Query(q, t);
      ASSERT_TRUE(got.ok()) << q << ": " << got.status().ToString();
      ExpectSame(*got, *want, std::string(q) + " @" + std::to_string(t));
    }
  }
  for (const RangeQuery& r : kRangeQueries) {
    auto expr = promql::ParseExpr(r.expr);
    ASSERT_TRUE(expr.ok());
    auto want = evaluator.Range(**expr, r.start, r.end, r.step, r.expr);
    ASSERT_TRUE(want.ok()) << want.status().ToString();
    auto got = engine.QueryRange(r.expr, r.start, r.end, std::chrono::milliseconds(r.step));
    ASSERT_TRUE(got.ok()) << r.expr << ": " << got.status().ToString();
    ExpectSame(*got, *want, r.expr);
  }
}

TEST(EngineQueryTest, InstantAndRangeMatchTheReferenceEvaluatorLiveAndAfterStop) {
  auto engine = MakeEngine(nullptr);
  ASSERT_NE(engine, nullptr);
  Load(*engine);
  ASSERT_TRUE(WaitForEvaluation(*engine, kEndMs));
  CompareWithReference(*engine);  // held by the running pipeline
  ASSERT_TRUE(engine->Stop().ok());
  CompareWithReference(*engine);  // the final state, read directly
}

TEST(EngineQueryTest, NothingAfterTheLastEvaluationIsVisible) {
  auto engine = MakeEngine(nullptr);
  ASSERT_NE(engine, nullptr);
  auto producer = engine->NewProducer();
  ASSERT_TRUE(producer.ok());
  const Label labels[] = {{"__name__", "m"}};
  auto ref = (*producer)->Resolve(labels);
  ASSERT_TRUE(ref.ok());
  // Before the first evaluation nothing is visible.
  auto none = engine->Query("m", 0);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->series.empty());
  // Samples up to 105s: the watermark stays below the next instant, 120s.
  for (int s = 0; s <= 7; ++s) ASSERT_TRUE((*producer)->Append(*ref, s * 15'000, s).ok());
  ASSERT_TRUE((*producer)->Flush().ok());
  // No rules: the engine evaluates every minute (the default interval).
  ASSERT_TRUE(WaitForEvaluation(*engine, 60'000));
  auto r = engine->Query("m", 120'000);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->series.size(), 1u);
  EXPECT_EQ(engine->last_evaluation_ms(), 60'000);
  EXPECT_EQ(r->series[0].points[0].value, 4);  // the sample at 60s, not the one at 105s
  (*producer)->Close();
  ASSERT_TRUE(engine->Stop().ok());
}

TEST(EngineQueryTest, SeesRecordingRuleOutputsAndAlerts) {
  auto rules = RuleSet::Parse(kRules, "q.rules.yml");
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  auto engine = MakeEngine(*rules);
  ASSERT_NE(engine, nullptr);
  Load(*engine);
  ASSERT_TRUE(WaitForEvaluation(*engine, kEndMs));

  auto recorded = engine->Query("job:http_requests:rate1m", kEndMs);
  ASSERT_TRUE(recorded.ok()) << recorded.status().ToString();
  ASSERT_EQ(recorded->series.size(), 2u);
  auto direct = engine->Query("sum by (job) (rate(http_requests_total[1m]))", kEndMs);
  ASSERT_TRUE(direct.ok());
  const auto a = Sorted(recorded->series);
  const auto b = Sorted(direct->series);
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(Get(a[i].labels, "job"), Get(b[i].labels, "job"));
    EXPECT_EQ(a[i].points[0].value, b[i].points[0].value);
  }
  // A range query over the recorded series: one point per rule evaluation.
  auto range = engine->QueryRange("job:http_requests:rate1m{job=\"api\"}", kEndMs - 60'000, kEndMs,
                                  std::chrono::seconds(15));
  ASSERT_TRUE(range.ok());
  ASSERT_EQ(range->series.size(), 1u);
  EXPECT_EQ(range->series[0].points.size(), 5u);

  // temperature{room="y"} = 60 - (s % 5) * 3 is > 55 at s % 5 <= 1; at the last
  // step (s = 40) it is 60: pending (for: 30s) since s = 40 only.
  auto alerts = engine->Query("ALERTS{alertname=\"Hot\"}", kEndMs);
  ASSERT_TRUE(alerts.ok());
  ASSERT_EQ(alerts->series.size(), 1u);
  EXPECT_EQ(Get(alerts->series[0].labels, "alertstate"), "pending");
  EXPECT_EQ(Get(alerts->series[0].labels, "room"), "y");
  auto for_state = engine->Query("ALERTS_FOR_STATE{alertname=\"Hot\"}", kEndMs);
  ASSERT_TRUE(for_state.ok());
  ASSERT_EQ(for_state->series.size(), 1u);
  EXPECT_EQ(for_state->series[0].points[0].value, static_cast<double>(kEndMs / 1000));

  // Series and label APIs see ingested and recorded series alike.
  const std::vector<std::string> all_names;
  auto names = engine->LabelValues("__name__", all_names, 0, kEndMs);
  ASSERT_TRUE(names.ok()) << names.status().ToString();
  EXPECT_EQ(*names, (std::vector<std::string>{"ALERTS", "ALERTS_FOR_STATE", "http_requests_total",
                                              "job:http_requests:rate1m", "temperature"}));
  const std::vector<std::string> match = {"http_requests_total{job=\"api\"}", "temperature{room=\"x\"}"};
  auto series = engine->Series(match, 0, kEndMs);
  ASSERT_TRUE(series.ok()) << series.status().ToString();
  ASSERT_EQ(series->size(), 3u);
  EXPECT_EQ(Get((*series)[0], "instance"), "a");
  EXPECT_EQ(Get((*series)[1], "instance"), "b");
  EXPECT_EQ(Get((*series)[2], "room"), "x");
  auto label_names = engine->LabelNames(match, 0, kEndMs);
  ASSERT_TRUE(label_names.ok());
  EXPECT_EQ(*label_names, (std::vector<std::string>{"__name__", "instance", "job", "room"}));
  auto rooms = engine->LabelValues("room", all_names, 0, kEndMs);
  ASSERT_TRUE(rooms.ok());
  EXPECT_EQ(*rooms, (std::vector<std::string>{"x", "y"}));
  // A time range without samples selects nothing.
  auto old = engine->Series(match, -100'000, -1);
  ASSERT_TRUE(old.ok());
  EXPECT_TRUE(old->empty());
  const std::vector<std::string> none;
  EXPECT_EQ(engine->Series(none, 0, kEndMs).status().code(), StatusCode::kInvalidArgument);
  const std::vector<std::string> bad = {"up{"};
  EXPECT_EQ(engine->Series(bad, 0, kEndMs).status().code(), StatusCode::kParseError);

  // Rule health.
  const std::vector<RuleHealth> health = engine->RuleHealth();
  ASSERT_EQ(health.size(), 3u);
  EXPECT_EQ(health[0].name, "job:http_requests:rate1m");
  EXPECT_EQ(health[0].kind, RuleKind::kRecording);
  EXPECT_EQ(health[0].file, "q.rules.yml");
  EXPECT_EQ(health[0].group, "g");
  EXPECT_EQ(health[0].group_interval, std::chrono::seconds(15));
  EXPECT_EQ(health[0].health, "ok");
  EXPECT_EQ(health[0].last_evaluation_ms, kEndMs);
  EXPECT_EQ(health[0].group_last_evaluation_ms, kEndMs);
  EXPECT_EQ(health[1].name, "Hot");
  EXPECT_EQ(health[1].kind, RuleKind::kAlerting);
  EXPECT_EQ(health[1].health, "ok");
  EXPECT_EQ(health[2].name, "Broken");
  EXPECT_EQ(health[2].health, "err");
  EXPECT_FALSE(health[2].last_error.empty());
  ASSERT_TRUE(engine->Stop().ok());

  // After Stop the final state stays readable, rule outputs included.
  auto after = engine->Query("ALERTS", kEndMs);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->series.size(), 1u);
}

// ALERTS_FOR_STATE keeps its history only when some rule may read it: a selector that
// can match it or a template that calls `query`, not text that mentions the word.
TEST(EngineQueryTest, ForStateHistoryIsKeptOnlyWhenARuleMayReadIt) {
  struct Case {
    const char* what;
    const char* extra;  // appended to the alert, or a second rule
    std::size_t points;
  };
  const Case cases[] = {
      {"plain text", "        annotations: {summary: 'slow query in {{ $labels.room }}'}\n", 1},
      {"annotation calls query",
       "        annotations: {summary: '{{ with query \"temperature\" }}{{ . | len }}{{ end }}'}\n",
       5},
      {"label calls query", "        labels: {n: '{{ \"temperature\" | query | len }}'}\n", 5},
      {"a selector reads it",
       "      - record: for_state_count\n        expr: count(ALERTS_FOR_STATE)\n", 5},
  };
  for (const Case& c : cases) {
    const std::string text = std::string(R"(
groups:
  - name: g
    interval: 15s
    rules:
      - alert: Warm
        expr: temperature{room="x"} > 0
)") + c.extra;
    auto rules = RuleSet::Parse(text, "for_state.rules.yml");
    ASSERT_TRUE(rules.ok()) << c.what << ": " << rules.status().ToString();
    auto engine = MakeEngine(*rules);
    ASSERT_NE(engine, nullptr);
    Load(*engine);
    ASSERT_TRUE(WaitForEvaluation(*engine, kEndMs));
    // Five steps over the last minute: each sees the sample written at it, if kept.
    auto range = engine->QueryRange("ALERTS_FOR_STATE{alertname=\"Warm\"}", kEndMs - 60'000, kEndMs,
                                    std::chrono::seconds(15));
    ASSERT_TRUE(range.ok()) << c.what << ": " << range.status().ToString();
    ASSERT_EQ(range->series.size(), 1u) << c.what;
    EXPECT_EQ(range->series[0].points.size(), c.points) << c.what;
    ASSERT_TRUE(engine->Stop().ok());
  }
}

TEST(EngineQueryTest, ErrorsAndLimits) {
  auto engine = MakeEngine(nullptr);
  ASSERT_NE(engine, nullptr);
  Load(*engine);
  ASSERT_TRUE(WaitForEvaluation(*engine, kEndMs));

  auto parse = engine->Query("sum(rate(x[5m])", kEndMs);
  ASSERT_EQ(parse.status().code(), StatusCode::kParseError);
  EXPECT_NE(std::string(parse.status().message()).find("1:"), std::string::npos)
      << parse.status().message();
  EXPECT_NE(std::string(parse.status().message()).find("parse error"), std::string::npos);

  auto backwards = engine->QueryRange("temperature", 10'000, 0, std::chrono::seconds(1));
  ASSERT_EQ(backwards.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(backwards.status().message(), "end timestamp must not be before start time");
  auto zero_step = engine->QueryRange("temperature", 0, 10'000, std::chrono::milliseconds(0));
  ASSERT_EQ(zero_step.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(zero_step.status().message(),
            "zero or negative query resolution step widths are not accepted. Try a positive "
            "integer");
  auto too_fine = engine->QueryRange("temperature", 0, 11'001, std::chrono::milliseconds(1));
  ASSERT_EQ(too_fine.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(too_fine.status().message()).find("11,000 points"), std::string::npos);
  EXPECT_TRUE(engine->QueryRange("temperature", 0, 11'000, std::chrono::milliseconds(1))
                  .ok());  // exactly at the limit

  auto string_range = engine->QueryRange("\"x\"", 0, 10'000, std::chrono::seconds(1));
  ASSERT_EQ(string_range.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(string_range.status().message()).find("for range query"),
            std::string::npos);
  auto many_to_many = engine->Query("temperature + on() temperature", kEndMs);
  EXPECT_EQ(many_to_many.status().code(), StatusCode::kInvalidArgument);

  QueryOptions few;
  few.max_samples = 3;
  auto exhausted = engine->Query("http_requests_total[10m]", kEndMs, few);
  ASSERT_EQ(exhausted.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(std::string(exhausted.status().message()).find("too many samples"), std::string::npos);
  QueryOptions plenty;
  plenty.max_samples = 1000;
  EXPECT_TRUE(engine->Query("http_requests_total[10m]", kEndMs, plenty).ok());

  QueryOptions expired;
  expired.timeout = std::chrono::milliseconds(-1);
  EXPECT_EQ(engine->Query("temperature", kEndMs, expired).status().code(),
            StatusCode::kDeadlineExceeded);

  // A shorter lookback leaves the instant selector empty 61s after the last sample.
  QueryOptions short_lookback;
  short_lookback.lookback = std::chrono::minutes(1);
  auto stale = engine->Query("temperature", kEndMs + 61'000, short_lookback);
  ASSERT_TRUE(stale.ok());
  EXPECT_TRUE(stale->series.empty());
  auto fresh = engine->Query("temperature", kEndMs + 61'000);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->series.size(), 2u);
  ASSERT_TRUE(engine->Stop().ok());
  EXPECT_EQ(engine->Query("sum(", kEndMs).status().code(), StatusCode::kParseError);
}

// Records events and evaluation ticks in order; queries the engine from the
// dispatcher thread at every tick.
class TickRecorder final : public AlertHandler {
 public:
  explicit TickRecorder(Engine* engine) : engine_(engine) {}
  void OnAlert(const AlertEvent& event) override {
    std::lock_guard lock(mu_);
    log_.emplace_back(false, event.eval_time_ms);
  }
  void OnEvaluation(std::int64_t t) override {
    // From the handler: the engine's view at (at least) t.
    auto r = engine_->Query("count(temperature)", t);
    std::lock_guard lock(mu_);
    log_.emplace_back(true, t);
    if (!r.ok()) {
      ++query_failures_;
    } else if (r->series.size() == 1 && r->series[0].points[0].value == 2) {
      ++queries_seeing_both_;
    }
  }
  std::vector<std::pair<bool, std::int64_t>> log() const {
    std::lock_guard lock(mu_);
    return log_;
  }
  int query_failures() const {
    std::lock_guard lock(mu_);
    return query_failures_;
  }
  int queries_seeing_both() const {
    std::lock_guard lock(mu_);
    return queries_seeing_both_;
  }

 private:
  Engine* const engine_;
  mutable std::mutex mu_;
  std::vector<std::pair<bool, std::int64_t>> log_;  // (tick?, time)
  int query_failures_ = 0;
  int queries_seeing_both_ = 0;
};

TEST(EngineQueryTest, OnEvaluationFollowsEachInstantsEventsAndHandlersMayQuery) {
  auto rules = RuleSet::Parse(kRules, "q.rules.yml");
  ASSERT_TRUE(rules.ok());
  auto engine = MakeEngine(*rules);
  ASSERT_NE(engine, nullptr);
  auto ticks = std::make_shared<TickRecorder>(engine.get());
  engine->AddHandler(ticks);
  Load(*engine);
  ASSERT_TRUE(engine->Stop().ok());

  const auto log = ticks->log();
  const EngineStats stats = engine->stats();
  std::size_t tick_count = 0;
  std::size_t event_count = 0;
  std::int64_t last_tick = std::numeric_limits<std::int64_t>::min();
  for (std::size_t i = 0; i < log.size(); ++i) {
    const auto [is_tick, t] = log[i];
    if (is_tick) {
      ++tick_count;
      EXPECT_GT(t, last_tick) << "ticks strictly increase";
      last_tick = t;
    } else {
      ++event_count;
      // An event of instant t comes after the previous tick and before tick t.
      EXPECT_GT(t, last_tick);
      auto next = std::find_if(log.begin() + static_cast<std::ptrdiff_t>(i), log.end(),
                               [](const auto& e) { return e.first; });
      ASSERT_NE(next, log.end()) << "an event without its tick";
      EXPECT_EQ(next->second, t);
    }
  }
  EXPECT_EQ(tick_count, stats.evaluation_instants);
  EXPECT_EQ(event_count, stats.alert_events);
  EXPECT_GT(event_count, 0u);
  // Group instants every 15s from 0 to 600s, at least.
  EXPECT_GE(tick_count, static_cast<std::size_t>(kSteps));
  EXPECT_EQ(last_tick, kEndMs);
  EXPECT_EQ(ticks->query_failures(), 0);
  EXPECT_EQ(ticks->queries_seeing_both(), static_cast<int>(tick_count));
}

// Several producer threads append while other threads query; every query must
// see a consistent cut: series written by different producers at the same
// timestamps never disagree.
TEST(EngineQueryTest, ConcurrentQueriesSeeConsistentCuts) {
  constexpr char kAlert[] = R"(
groups:
  - name: c
    interval: 10s
    rules:
      - alert: Odd
        expr: v % 2 == 1
      - record: v:sum
        expr: sum(v)
)";
  auto rules = RuleSet::Parse(kAlert);
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  EngineOptions options;
  options.shards = 3;
  options.ring_capacity = 256;
  auto created = Engine::Create(options, *rules);
  ASSERT_TRUE(created.ok());
  Engine& engine = **created;
  auto recorder = std::make_shared<Recorder>();
  engine.AddHandler(recorder);

  constexpr int kProducers = 3;
  constexpr int kStepsHere = 400;
  constexpr std::int64_t kStep = 1'000;
  std::vector<std::unique_ptr<Producer>> producers;
  for (int p = 0; p < kProducers; ++p) {
    // Cuts, not backpressure, are under test: a shard starved for more than
    // the default 1 s (TSan on a loaded machine) must not refuse a sample.
    auto producer = engine.NewProducer(ProducerOptions{.backpressure = BackpressurePolicy::kWait,
                                                       .max_wait = std::chrono::seconds(60)});
    ASSERT_TRUE(producer.ok());
    producers.push_back(std::move(producer).value());
  }
  std::atomic<int> producers_done{0};
  std::atomic<int> append_failures{0};
  std::vector<std::thread> threads;
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      Producer& producer = *producers[p];
      const std::string id = std::to_string(p);
      const Label labels[] = {{"__name__", "v"}, {"p", id}};
      auto ref = producer.Resolve(labels);
      if (!ref.ok()) {
        ++append_failures;
        return;
      }
      for (int s = 1; s <= kStepsHere; ++s) {
        if (!producer.Append(*ref, s * kStep, s).ok()) ++append_failures;
        if (!producer.Flush().ok()) ++append_failures;
      }
      producer.Close();
      ++producers_done;
    });
  }
  std::atomic<int> inconsistent{0};
  std::atomic<int> query_failures{0};
  std::atomic<int> queries{0};
  for (int q = 0; q < 3; ++q) {
    threads.emplace_back([&, q] {
      // Until the producers are done and some query ran: on a loaded machine
      // (TSan in CI) the first evaluation can come after the last sample.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (producers_done.load() < kProducers ||
             (queries.load() == 0 && std::chrono::steady_clock::now() < deadline)) {
        const std::int64_t t = engine.last_evaluation_ms();
        if (t < 0) {
          std::this_thread::yield();
          continue;
        }
        ++queries;
        if (q == 0) {
          // Every producer's newest sample <= t is at the same timestamp.
          auto r = engine.Query("max(timestamp(v)) - min(timestamp(v))", t);
          if (!r.ok()) {
            ++query_failures;
          } else if (!r->series.empty() && r->series[0].points[0].value != 0) {
            ++inconsistent;
          }
        } else if (q == 1) {
          auto r = engine.QueryRange("count(v)", std::max<std::int64_t>(t - 20'000, 0), t,
                                     std::chrono::seconds(1));
          if (!r.ok()) ++query_failures;
        } else {
          const std::vector<std::string> match = {"v", "v:sum"};
          auto r = engine.Series(match, 0, t);
          auto names = engine.LabelValues("p", {}, 0, t);
          if (!r.ok() || !names.ok()) ++query_failures;
          (void)engine.RuleHealth();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(append_failures.load(), 0);
  EXPECT_EQ(query_failures.load(), 0);
  EXPECT_EQ(inconsistent.load(), 0);
  EXPECT_GT(queries.load(), 0);
  producers.clear();
  ASSERT_TRUE(engine.Stop().ok());
  auto r = engine.Query("count(v)", kStepsHere * kStep);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->series.size(), 1u);
  EXPECT_EQ(r->series[0].points[0].value, static_cast<double>(kProducers));
  auto sum = engine.Query("v:sum", kStepsHere * kStep);
  ASSERT_TRUE(sum.ok());
  ASSERT_EQ(sum->series.size(), 1u);
  EXPECT_EQ(sum->series[0].points[0].value, static_cast<double>(kProducers * kStepsHere));
}

}  // namespace
}  // namespace nimify
