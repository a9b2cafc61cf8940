// Replay equivalence: the runbook incident streamed through the engine (three
// producer threads, two shards) gives the same alerts at the same times as
// (1) rule groups evaluated directly over in-memory storage on the promtool
// grid, and (2) `nimify test rules` (the promtool runner) checking the
// engine's alerts as expectations.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "alerting/group.h"
#include "alerting/rule.h"
#include "alerting/rule_file.h"
#include "ruletest/promtool_test_runner.h"
#include "engine/engine_test_util.h"
#include "nimify/engine.h"
#include "nimify/rules.h"
#include "promql/evaluator.h"
#include "promql/labels.h"
#include "promql/parser.h"
#include "promqltest/memory_storage.h"
#include "runbook_incident.h"

namespace nimify {
namespace {

using ::nimify::testing::DescribeAll;
using ::nimify::testing::Recorder;
using runbook_incident::Incident;
using runbook_incident::MakeIncident;

constexpr char kRulesPath[] = NIMIFY_SOURCE_DIR "/rules/runbook.rules.yml";
constexpr std::int64_t kInterval = 60'000;  // the runbook groups use the default interval

OwnedLabels ToOwned(const promql::Labels& labels) {
  OwnedLabels out;
  for (const auto& l : labels) out.push_back({l.name, l.value});
  return out;
}

OwnedLabels ToOwned(const alerting::LabelPairs& pairs) {
  OwnedLabels out;
  for (const auto& l : pairs) out.push_back({l.name, l.value});
  return out;
}

promql::Labels LabelsOf(const runbook_incident::Series& s) {
  std::vector<promql::Label> labels;
  for (const auto& [name, value] : s.labels) labels.push_back({name, value});
  return promql::Labels::FromUnsorted(std::move(labels));
}

// ---- The reference: rule groups over MemoryStorage, as promtool runs them ----------

class MemoryAppender final : public alerting::SampleAppender {
 public:
  explicit MemoryAppender(promqltest::MemoryStorage* storage) : storage_(storage) {}
  Status Append(const promql::Labels& labels, std::int64_t t_ms, double value) override {
    return storage_->Append(labels, t_ms, value);
  }

 private:
  promqltest::MemoryStorage* storage_;
};

// Transitions between two snapshots of one rule's alerts, reported the way
// the engine documents them.
void Diff(const std::string& rule, const std::string& group, std::int64_t t,
          const std::map<promql::Labels, alerting::Alert>& before,
          const std::map<promql::Labels, alerting::Alert>& after, std::vector<AlertEvent>* out) {
  using alerting::AlertState;
  auto event = [&](const alerting::Alert& a, nimify::AlertState state) {
    AlertEvent e;
    e.rule = rule;
    e.group = group;
    e.labels = ToOwned(a.labels);
    e.annotations = ToOwned(a.annotations);
    e.state = state;
    e.value = a.value;
    e.eval_time_ms = t;
    e.active_at_ms = a.active_at_ms;
    e.fired_at_ms = a.fired_at_ms;
    e.resolved_at_ms = a.resolved_at_ms;
    if (state == nimify::AlertState::kResolved && !e.resolved_at_ms) e.resolved_at_ms = t;
    out->push_back(std::move(e));
  };
  for (const auto& [labels, a] : after) {
    auto it = before.find(labels);
    const bool was_active = it != before.end() && it->second.state != AlertState::kInactive;
    if (a.state == AlertState::kPending && !(was_active && it->second.state == AlertState::kPending)) {
      event(a, nimify::AlertState::kPending);
    } else if (a.state == AlertState::kFiring &&
               !(was_active && it->second.state == AlertState::kFiring)) {
      event(a, nimify::AlertState::kFiring);
    } else if (a.state == AlertState::kInactive && was_active) {
      event(a, nimify::AlertState::kResolved);
    }
  }
  for (const auto& [labels, a] : before) {
    if (a.state != AlertState::kInactive && !after.count(labels)) {
      event(a, nimify::AlertState::kResolved);
    }
  }
}

std::vector<AlertEvent> ReferenceEvents(const Incident& in, std::int64_t end_ms) {
  auto file = alerting::LoadRuleFile(kRulesPath);
  EXPECT_TRUE(file.ok()) << file.status().ToString();
  if (!file.ok()) return {};
  alerting::GroupOptions options;
  options.default_interval_ms = kInterval;
  options.alerting.restored = true;
  std::vector<std::unique_ptr<alerting::RuleGroup>> groups;
  for (const auto& spec : file->groups) groups.push_back(*alerting::RuleGroup::Create(spec, options));

  promqltest::MemoryStorage storage;
  MemoryAppender appender(&storage);
  promql::EvalOptions eval_options;
  eval_options.default_subquery_step_ms = kInterval;
  const promql::Evaluator evaluator(&storage, eval_options);
  const alerting::QueryFunc query = alerting::MakeEvaluatorQueryFunc(&evaluator);

  std::vector<promql::Labels> labels;
  for (const auto& s : in.series) labels.push_back(LabelsOf(s));
  std::map<const alerting::Rule*, std::map<promql::Labels, alerting::Alert>> reported;
  std::vector<AlertEvent> events;
  std::size_t next_step = 0;
  for (std::int64_t t = in.start_ms; t <= end_ms; t += kInterval) {
    for (; next_step < in.steps && in.TimeOf(next_step) <= t; ++next_step) {
      for (std::size_t i = 0; i < in.series.size(); ++i) {
        if (const auto& v = in.series[i].values[next_step]) {
          EXPECT_TRUE(storage.Append(labels[i], in.TimeOf(next_step), *v).ok());
        }
      }
    }
    for (auto& g : groups) {
      g->Eval(t, query, &appender, nullptr);
      for (const auto& r : g->rules()) {
        const auto* ar = dynamic_cast<const alerting::AlertingRule*>(r.get());
        if (ar == nullptr) continue;
        EXPECT_NE(r->health(), alerting::RuleHealth::kBad) << r->name() << ": " << r->last_error();
        std::map<promql::Labels, alerting::Alert> now;
        for (auto& a : ar->CurrentAlerts()) now.emplace(a.labels, a);
        Diff(r->name(), g->name(), t, reported[r.get()], now, &events);
        reported[r.get()] = std::move(now);
      }
    }
  }
  return events;
}

// ---- The engine, streamed by several producer threads ----------------------------

struct EngineRun {
  std::vector<AlertEvent> events;
  EngineStats stats;
};

EngineRun StreamThroughEngine(const Incident& in, std::int64_t end_ms, bool eager,
                              int producers = 3) {
  auto rules = RuleSet::LoadFile(kRulesPath);
  EXPECT_TRUE(rules.ok()) << rules.status().ToString();
  EngineOptions options;
  options.shards = 2;
  options.eager_alerts = eager;
  auto engine = Engine::Create(options, *rules);
  EXPECT_TRUE(engine.ok()) << engine.status().ToString();
  auto recorder = std::make_shared<Recorder>();
  (*engine)->AddHandler(recorder);

  // Every producer exists before any sends: a producer that joins later starts
  // at the last evaluation instant, and its older samples would be late.
  std::vector<std::unique_ptr<Producer>> all;
  for (int p = 0; p < producers; ++p) {
    auto producer = (*engine)->NewProducer();
    EXPECT_TRUE(producer.ok());
    all.push_back(std::move(producer).value());
  }
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&in, end_ms, p, producers, prod = std::move(all[static_cast<std::size_t>(p)])] {
      // This producer's share of the series.
      std::vector<std::pair<std::size_t, SeriesRef>> mine;
      for (std::size_t i = static_cast<std::size_t>(p); i < in.series.size();
           i += static_cast<std::size_t>(producers)) {
        std::vector<Label> labels;
        for (const auto& [name, value] : in.series[i].labels) labels.push_back({name, value});
        auto ref = prod->Resolve(labels);
        EXPECT_TRUE(ref.ok()) << ref.status().ToString();
        mine.emplace_back(i, *ref);
      }
      for (std::size_t step = 0; step < in.steps; ++step) {
        const std::int64_t t = in.TimeOf(step);
        for (const auto& [i, ref] : mine) {
          if (const auto& v = in.series[i].values[step]) {
            const Status st = prod->Append(ref, t, *v);
            EXPECT_TRUE(st.ok()) << st.ToString();
          }
        }
        // Everything at t is sent: the engine may evaluate up to t.
        EXPECT_TRUE(prod->AdvanceWatermark(t).ok());
      }
      EXPECT_TRUE(prod->AdvanceWatermark(end_ms).ok());
      prod->Close();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE((*engine)->Stop().ok());
  return {recorder->events(), (*engine)->stats()};
}

// Comparable form: what a transition says, minus the fields only the engine fills.
using EventKey = std::tuple<std::int64_t, std::string, OwnedLabels, int, std::int64_t,
                            std::optional<std::int64_t>, std::optional<std::int64_t>, OwnedLabels,
                            double>;

std::vector<EventKey> Keys(const std::vector<AlertEvent>& events,
                           const std::function<bool(const AlertEvent&)>& keep = nullptr) {
  std::vector<EventKey> out;
  for (const auto& e : events) {
    if (keep && !keep(e)) continue;
    out.emplace_back(e.eval_time_ms, e.rule, e.labels, static_cast<int>(e.state), e.active_at_ms,
                     e.fired_at_ms, e.resolved_at_ms, e.annotations, e.value);
  }
  std::sort(out.begin(), out.end(), [](const EventKey& a, const EventKey& b) {
    // OwnedLabel has no operator<: compare the tuples field by field.
    auto labels_less = [](const OwnedLabels& x, const OwnedLabels& y) {
      return std::lexicographical_compare(x.begin(), x.end(), y.begin(), y.end(),
                                          [](const OwnedLabel& l, const OwnedLabel& r) {
                                            return std::tie(l.name, l.value) <
                                                   std::tie(r.name, r.value);
                                          });
    };
    if (std::get<0>(a) != std::get<0>(b)) return std::get<0>(a) < std::get<0>(b);
    if (std::get<1>(a) != std::get<1>(b)) return std::get<1>(a) < std::get<1>(b);
    if (std::get<2>(a) != std::get<2>(b)) return labels_less(std::get<2>(a), std::get<2>(b));
    return std::get<3>(a) < std::get<3>(b);
  });
  return out;
}

std::vector<std::string> Names(const std::vector<AlertEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) {
    out.push_back(e.rule + " " + std::string(AlertStateName(e.state)) + " @" +
                  std::to_string(e.eval_time_ms / 1000) + "s");
  }
  return out;
}

std::int64_t EndOf(const Incident& in) { return in.TimeOf(in.steps - 1); }

// ---- (1) against rule groups evaluated directly --------------------------------------

TEST(ReplayTest, StreamedOnTheGridEqualsDirectEvaluation) {
  const Incident in = MakeIncident(/*step_ms=*/60'000);
  const std::int64_t end = EndOf(in);
  const std::vector<AlertEvent> reference = ReferenceEvents(in, end);
  const EngineRun run = StreamThroughEngine(in, end, /*eager=*/true);
  EXPECT_EQ(Keys(run.events), Keys(reference))
      << "engine:    " << ::testing::PrintToString(Names(run.events))
      << "\nreference: " << ::testing::PrintToString(Names(reference));
  // The incident as the runbook tells it: each alert fires, then resolves.
  EXPECT_THAT(Names(reference),
              ::testing::IsSupersetOf({"ServiceDown pending @300s", "ServiceDown firing @360s",
                                       "ServiceDown resolved @600s",
                                       "ModelLoadFailure firing @1740s",
                                       "ModelLoadFailure resolved @2160s"}));
  std::set<std::string> transitions;
  for (const auto& e : run.events) transitions.insert(e.rule + " " + std::string(AlertStateName(e.state)));
  EXPECT_THAT(transitions, ::testing::IsSupersetOf({"HighErrorRate pending", "HighErrorRate firing",
                                                    "HighErrorRate resolved"}));
  EXPECT_EQ(run.stats.samples_refused, 0u);
  EXPECT_EQ(run.stats.samples_rejected, 0u);
}

TEST(ReplayTest, StreamedEvery15sWithoutEagerAlertsEqualsDirectEvaluation) {
  const Incident in = MakeIncident(/*step_ms=*/15'000);
  const std::int64_t end = EndOf(in);
  const std::vector<AlertEvent> reference = ReferenceEvents(in, end);
  const EngineRun run = StreamThroughEngine(in, end, /*eager=*/false);
  EXPECT_EQ(Keys(run.events), Keys(reference))
      << "engine:    " << ::testing::PrintToString(Names(run.events))
      << "\nreference: " << ::testing::PrintToString(Names(reference));
  EXPECT_GE(reference.size(), 8u);
}

// With eager alerts, `for: 0` rules move to the samples' own times; every
// other rule still matches the grid evaluation exactly.
TEST(ReplayTest, EagerAlertsFireFromTheCrossingSample) {
  const Incident in = MakeIncident(/*step_ms=*/15'000);
  const std::int64_t end = EndOf(in);
  const std::vector<AlertEvent> reference = ReferenceEvents(in, end);
  const EngineRun run = StreamThroughEngine(in, end, /*eager=*/true);
  auto not_model = [](const AlertEvent& e) { return e.rule != "ModelLoadFailure"; };
  EXPECT_EQ(Keys(run.events, not_model), Keys(reference, not_model));
  std::vector<std::string> model;
  for (const auto& e : run.events) {
    if (!not_model(e)) model.push_back(nimify::testing::Describe(e));
  }
  // The failure is scraped at 28m15s, between two group instants.
  EXPECT_THAT(model, ::testing::ElementsAre(
                         "ModelLoadFailure firing @1695000 {alertname=ModelLoadFailure,"
                         "instance=triton-0:8002,model=resnet50,severity=SEV-2,}",
                         "ModelLoadFailure resolved @2160000 {alertname=ModelLoadFailure,"
                         "instance=triton-0:8002,model=resnet50,severity=SEV-2,}"));
}

// The same streams, replayed twice, give the same events.
TEST(ReplayTest, ReplayIsDeterministic) {
  const Incident in = MakeIncident(/*step_ms=*/15'000);
  const std::int64_t end = EndOf(in);
  const EngineRun a = StreamThroughEngine(in, end, /*eager=*/true, /*producers=*/1);
  const EngineRun b = StreamThroughEngine(in, end, /*eager=*/true, /*producers=*/4);
  EXPECT_EQ(Keys(a.events), Keys(b.events));
}

// ---- (2) against the promtool runner ------------------------------------------------

std::string YamlQuote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string FormatValue(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

// Writes a promtool test file whose expectations are the engine's alerts:
// for every alerting rule and every group instant, the alerts firing then
// (with their annotations, known at the instant they fired).
std::string WriteEngineExpectations(const Incident& in, const std::vector<AlertEvent>& events,
                                    const std::filesystem::path& dir) {
  auto rules = RuleSet::LoadFile(kRulesPath);
  std::set<std::string> alert_names;
  for (const auto& r : (*rules)->rules()) {
    if (r.kind == RuleKind::kAlerting) alert_names.insert(r.name);
  }
  std::string y = "rule_files:\n  - " + YamlQuote(kRulesPath) + "\n";
  y += "evaluation_interval: 1m\ntests:\n  - interval: " + std::to_string(in.step_ms / 1000) +
       "s\n    input_series:\n";
  for (const auto& s : in.series) {
    std::string values;
    for (const auto& v : s.values) values += (values.empty() ? "" : " ") + (v ? FormatValue(*v) : "_");
    y += "      - series: " + YamlQuote(LabelsOf(s).ToString()) + "\n        values: " +
         YamlQuote(values) + "\n";
  }
  y += "    alert_rule_test:\n";
  // Firing alerts per (rule, labels), replaying the events in order.
  std::map<std::pair<std::string, std::string>, const AlertEvent*> firing;
  std::size_t next = 0;
  int checks = 0;
  for (std::int64_t t = in.start_ms; t <= in.TimeOf(in.steps - 1); t += kInterval) {
    for (; next < events.size() && events[next].eval_time_ms <= t; ++next) {
      const AlertEvent& e = events[next];
      std::string id;
      for (const auto& l : e.labels) id += l.name + "=" + l.value + ",";
      if (e.state == AlertState::kFiring) {
        firing[{e.rule, id}] = &e;
      } else {
        firing.erase({e.rule, id});
      }
    }
    for (const std::string& name : alert_names) {
      std::vector<const AlertEvent*> now;
      bool annotations_known = true;
      for (const auto& [key, e] : firing) {
        if (key.first != name) continue;
        now.push_back(e);
        annotations_known = annotations_known && e->eval_time_ms == t;
      }
      if (!annotations_known) continue;  // templates with $value change every evaluation
      y += "      - eval_time: " + std::to_string(t / 1000) + "s\n        alertname: " + name +
           "\n        exp_alerts:" + (now.empty() ? " []\n" : "\n");
      for (const AlertEvent* e : now) {
        y += "          - exp_labels:\n";
        for (const auto& l : e->labels) {
          if (l.name != "alertname") y += "              " + l.name + ": " + YamlQuote(l.value) + "\n";
        }
        y += "            exp_annotations:\n";
        for (const auto& a : e->annotations) {
          y += "              " + a.name + ": " + YamlQuote(a.value) + "\n";
        }
      }
      ++checks;
    }
  }
  EXPECT_GT(checks, 100);
  const std::filesystem::path path = dir / "engine_expectations.test.yml";
  std::ofstream(path) << y;
  return path.string();
}

TEST(ReplayTest, ThePromtoolRunnerAgreesWithTheEngine) {
  const Incident in = MakeIncident(/*step_ms=*/15'000);
  const EngineRun run = StreamThroughEngine(in, EndOf(in), /*eager=*/false);
  ASSERT_FALSE(run.events.empty());
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("nimify_replay_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
       std::to_string(std::hash<std::thread::id>()(std::this_thread::get_id())));
  std::filesystem::create_directories(dir);
  const std::string test_file = WriteEngineExpectations(in, run.events, dir);
  const ruletest::UnitTestFileResult result =
      ruletest::RunRuleUnitTestFile(test_file, ruletest::UnitTestOptions{});
  EXPECT_EQ(result.outcome, ruletest::UnitTestOutcome::kPassed)
      << ::testing::PrintToString(result.errors);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace nimify
