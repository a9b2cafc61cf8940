// The alert output path: HashIndex, the alert label sets built by merging a
// result's labels with the rule's, the ALERTS / ALERTS_FOR_STATE label sets
// each alert keeps across evaluations, and the group's stale markers for
// series that a rule stops writing (in any order).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "alerting/group.h"
#include "alerting/hash_index.h"
#include "alerting/rule.h"
#include "alerting/rule_file.h"
#include "promql/parser.h"

namespace nimify::alerting {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

TEST(HashIndexTest, FindsInsertsErasesAndGrows) {
  HashIndex index;
  EXPECT_EQ(index.Find(7, [](std::uint32_t) { return true; }), HashIndex::kNone);
  std::vector<std::uint64_t> keys;
  // Colliding hashes too: every fourth key shares its hash with the previous one.
  for (std::uint32_t id = 0; id < 1000; ++id) {
    keys.push_back(id % 4 == 3 ? keys.back() : 0x9e3779b97f4a7c15ull * (id + 1));
    index.Insert(keys[id], id);
  }
  EXPECT_EQ(index.size(), 1000u);
  for (std::uint32_t id = 0; id < 1000; ++id) {
    EXPECT_EQ(index.Find(keys[id], [&](std::uint32_t k) { return k == id; }), id);
  }
  // Erase the even ids: the odd ones stay reachable past the tombstones.
  for (std::uint32_t id = 0; id < 1000; id += 2) {
    EXPECT_TRUE(index.Erase(keys[id], [&](std::uint32_t k) { return k == id; }));
  }
  EXPECT_FALSE(index.Erase(keys[0], [](std::uint32_t k) { return k == 0; }));
  EXPECT_EQ(index.size(), 500u);
  for (std::uint32_t id = 0; id < 1000; ++id) {
    const std::uint32_t want = id % 2 == 1 ? id : HashIndex::kNone;
    EXPECT_EQ(index.Find(keys[id], [&](std::uint32_t k) { return k == id; }), want) << id;
  }
  // Reinserting into tombstones, then clearing for reuse.
  for (std::uint32_t id = 0; id < 1000; id += 2) index.Insert(keys[id], id);
  EXPECT_EQ(index.Find(keys[10], [](std::uint32_t k) { return k == 10; }), 10u);
  index.Clear();
  EXPECT_EQ(index.size(), 0u);
  EXPECT_EQ(index.Find(keys[11], [](std::uint32_t) { return true; }), HashIndex::kNone);
}

RuleSpec ParseOneRule(const std::string& yaml) {
  auto file = ParseRuleFile(yaml, "r.yml");
  EXPECT_TRUE(file.ok()) << file.status().ToString();
  return file->groups.at(0).rules.at(0);
}

promql::Sample S(promql::Labels labels, double v) { return {std::move(labels), 0, v, false}; }

// The samples of one evaluation by "labels" -> value.
std::map<std::string, double> ByLabels(const promql::Vector& v) {
  std::map<std::string, double> out;
  for (const auto& s : v) out[s.metric.ToString()] = s.v;
  return out;
}

TEST(AlertOutputTest, AlertLabelsMergeResultAndRuleLabels) {
  // Rule labels win over the result's, an empty one deletes, alertname wins
  // over both, and __name__ is dropped.
  AlertingRule rule(std::make_shared<RuleSpec>(ParseOneRule(R"(
groups:
  - name: g
    rules:
      - alert: A
        expr: up
        labels:
          severity: page
          zone: ""
          alertname: ignored
)")));
  const EvalContext ctx;
  ASSERT_TRUE(rule.ApplyResult(ctx,
                               {S({{"__name__", "up"},
                                   {"a", "1"},
                                   {"severity", "low"},
                                   {"zone", "z1"},
                                   {"zz", "last"}},
                                  1)},
                               60'000, 0, 0)
                  .ok());
  const auto alerts = rule.ActiveAlerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].labels.ToString(), R"({a="1", alertname="A", severity="page", zz="last"})");
}

TEST(AlertOutputTest, TemplatedLabelsMergeToo) {
  AlertingRule rule(std::make_shared<RuleSpec>(ParseOneRule(R"(
groups:
  - name: g
    rules:
      - alert: A
        expr: up
        labels:
          b: "{{ $labels.a }}-x"
          c: "{{ if eq $labels.a \"1\" }}{{ $labels.c }}{{ end }}"
)")));
  const EvalContext ctx;
  ASSERT_TRUE(rule.ApplyResult(ctx,
                               {S({{"__name__", "up"}, {"a", "1"}, {"c", "keep?"}}, 1),
                                S({{"__name__", "up"}, {"a", "2"}, {"c", "drop"}}, 1)},
                               60'000, 0, 0)
                  .ok());
  const auto alerts = rule.ActiveAlerts();
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[0].labels.ToString(), R"({a="1", alertname="A", b="1-x", c="keep?"})");
  EXPECT_EQ(alerts[1].labels.ToString(), R"({a="2", alertname="A", b="2-x"})");
}

TEST(AlertOutputTest, DuplicateAlertLabelSetsFail) {
  AlertingRule rule(std::make_shared<RuleSpec>(ParseOneRule(R"(
groups:
  - name: g
    rules:
      - alert: A
        expr: up
)")));
  const EvalContext ctx;
  auto out = rule.ApplyResult(
      ctx, {S({{"__name__", "up"}, {"a", "1"}}, 1), S({{"__name__", "down"}, {"a", "1"}}, 2)},
      60'000, 0, 0);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(), kDuplicateAlertLabelSet);
  EXPECT_TRUE(rule.ActiveAlerts().empty());
}

TEST(AlertOutputTest, OutputLabelSetsAreKeptAcrossEvaluations) {
  AlertingRule rule(std::make_shared<RuleSpec>(ParseOneRule(R"(
groups:
  - name: g
    rules:
      - alert: A
        expr: up
        for: 1m
        labels:
          severity: page
)")));
  const EvalContext ctx;
  const promql::Vector result = {S({{"__name__", "up"}, {"b", "2"}}, 1),
                                 S({{"__name__", "up"}, {"a", "1"}}, 1)};
  auto first = rule.ApplyResult(ctx, result, 60'000, 0, 0);
  auto second = rule.ApplyResult(ctx, result, 90'000, 0, 0);
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_EQ(first->size(), 4u);
  ASSERT_EQ(second->size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    // The same representation, not an equal copy: the stores find it by pointer.
    EXPECT_EQ(&*(*first)[i].metric.begin(), &*(*second)[i].metric.begin()) << i;
  }
  EXPECT_THAT(
      ByLabels(*second),
      ElementsAre(
          Pair(R"(ALERTS_FOR_STATE{a="1", alertname="A", severity="page"})", 60),
          Pair(R"(ALERTS_FOR_STATE{alertname="A", b="2", severity="page"})", 60),
          Pair(R"(ALERTS{a="1", alertname="A", alertstate="pending", severity="page"})", 1),
          Pair(R"(ALERTS{alertname="A", alertstate="pending", b="2", severity="page"})", 1)));
  // Firing: ALERTS changes its alertstate, ALERTS_FOR_STATE keeps its set.
  auto third = rule.ApplyResult(ctx, result, 120'000, 0, 0);
  ASSERT_TRUE(third.ok());
  EXPECT_THAT(
      ByLabels(*third),
      ElementsAre(
          Pair(R"(ALERTS_FOR_STATE{a="1", alertname="A", severity="page"})", 60),
          Pair(R"(ALERTS_FOR_STATE{alertname="A", b="2", severity="page"})", 60),
          Pair(R"(ALERTS{a="1", alertname="A", alertstate="firing", severity="page"})", 1),
          Pair(R"(ALERTS{alertname="A", alertstate="firing", b="2", severity="page"})", 1)));
  EXPECT_EQ(&*(*first)[1].metric.begin(), &*(*third)[1].metric.begin());
}

class RecordingAppender final : public SampleAppender {
 public:
  Status Append(const promql::Labels& labels, std::int64_t t, double v) override {
    appended.push_back({labels.ToString(), t, v});
    return Status::Ok();
  }
  struct Appended {
    std::string labels;
    std::int64_t t;
    double v;
  };
  std::vector<Appended> appended;
};

TEST(AlertOutputTest, GroupMarksSeriesStaleWhateverTheOrder) {
  auto file = ParseRuleFile(R"(
groups:
  - name: g
    rules:
      - record: r
        expr: x
)",
                            "r.yml");
  ASSERT_TRUE(file.ok());
  auto group = RuleGroup::Create(file->groups.at(0), {});
  ASSERT_TRUE(group.ok());
  std::vector<promql::Vector> results = {
      {S({{"k", "a"}}, 1), S({{"k", "b"}}, 2), S({{"k", "c"}}, 3)},
      {S({{"k", "c"}}, 3), S({{"k", "a"}}, 1)},  // b gone, the rest reordered
      {S({{"k", "c"}}, 3), S({{"k", "a"}}, 1)},  // unchanged
      {},
  };
  std::size_t step = 0;
  const QueryFunc query = [&](const promql::Expr&, std::int64_t) -> Result<promql::Vector> {
    return results[step];
  };
  std::vector<GroupEvalStats> stats;
  std::vector<std::vector<std::string>> stale;
  for (step = 0; step < results.size(); ++step) {
    RecordingAppender appender;
    stats.push_back(
        (*group)->Eval(static_cast<std::int64_t>(step + 1) * 60'000, query, &appender, nullptr));
    std::vector<std::string> marked;
    for (const auto& a : appender.appended) {
      if (promql::IsStaleNaN(a.v)) marked.push_back(a.labels);
    }
    stale.push_back(marked);
    EXPECT_EQ((*group)->series_written(0), results[step].size());
  }
  EXPECT_THAT(stale[0], ElementsAre());
  EXPECT_THAT(stale[1], ElementsAre(R"(r{k="b"})"));
  EXPECT_THAT(stale[2], ElementsAre());
  EXPECT_THAT(stale[3], UnorderedElementsAre(R"(r{k="a"})", R"(r{k="c"})"));
  EXPECT_EQ(stats[3].stale_markers, 2u);
}

}  // namespace
}  // namespace nimify::alerting
