// Rule groups over real storage and evaluation: sequential rules, ALERTS and
// staleness markers, query offset, failures, notifications and reloads.
#include "alerting/group.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "alerting/rule_file.h"
#include "promql/evaluator.h"
#include "promql/parser.h"
#include "promqltest/memory_storage.h"

namespace nimify::alerting {
namespace {

using ::testing::HasSubstr;

constexpr std::int64_t kMin = 60'000;

class StorageAppender final : public SampleAppender {
 public:
  explicit StorageAppender(promqltest::MemoryStorage* storage) : storage_(storage) {}
  Status Append(const promql::Labels& labels, std::int64_t t, double v) override {
    ++appends;
    return storage_->Append(labels, t, v);
  }
  Status Commit() override {
    ++commits;
    return Status::Ok();
  }
  int appends = 0;
  int commits = 0;

 private:
  promqltest::MemoryStorage* storage_;
};

class RecordingSink final : public AlertSink {
 public:
  void Send(std::string_view rule, std::string_view expr,
            std::vector<NotificationAlert> alerts) override {
    for (auto& a : alerts) sent.push_back({std::string(rule), std::string(expr), std::move(a)});
  }
  struct Sent {
    std::string rule;
    std::string expr;
    NotificationAlert alert;
  };
  std::vector<Sent> sent;
};

class GroupTest : public ::testing::Test {
 protected:
  std::unique_ptr<RuleGroup> MakeGroup(const std::string& yaml, GroupOptions options = {}) {
    auto file = ParseRuleFile(yaml, "g.yml");
    EXPECT_TRUE(file.ok()) << file.status().ToString();
    if (!file.ok()) return nullptr;
    files_.push_back(std::move(*file));
    auto group = RuleGroup::Create(files_.back().groups.at(0), std::move(options));
    EXPECT_TRUE(group.ok()) << group.status().ToString();
    return group.ok() ? std::move(*group) : nullptr;
  }

  void Add(const promql::Labels& labels, std::int64_t t, double v) {
    ASSERT_TRUE(storage_.Append(labels, t, v).ok());
  }

  // The value of `expr` at t as (labels string -> value).
  std::map<std::string, double> Query(const std::string& expr, std::int64_t t) {
    auto parsed = promql::ParseExpr(expr);
    EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
    auto result = query_(**parsed, t);
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    std::map<std::string, double> out;
    if (result.ok()) {
      for (const auto& s : *result) out[s.metric.ToString()] = s.v;
    }
    return out;
  }

  promqltest::MemoryStorage storage_;
  promql::Evaluator evaluator_{&storage_, promql::EvalOptions{}};
  QueryFunc query_ = MakeEvaluatorQueryFunc(&evaluator_);
  StorageAppender appender_{&storage_};
  RecordingSink sink_;
  std::vector<RuleFileSpec> files_;
};

TEST_F(GroupTest, LaterRulesSeeEarlierOutputsAtTheSameTimestamp) {
  auto group = MakeGroup(R"(groups:
- name: g
  rules:
  - record: job:x:sum
    expr: sum by (job) (x)
  - alert: Big
    expr: job:x:sum > 10
)");
  ASSERT_NE(group, nullptr);
  Add({{"__name__", "x"}, {"job", "a"}, {"i", "1"}}, 0, 6);
  Add({{"__name__", "x"}, {"job", "a"}, {"i", "2"}}, 0, 7);
  auto stats = group->Eval(0, query_, &appender_, &sink_);
  EXPECT_EQ(stats.rules_failed, 0u);
  EXPECT_EQ(appender_.commits, 2) << "one commit per rule";
  auto* alerting = dynamic_cast<AlertingRule*>(group->rules()[1].get());
  ASSERT_NE(alerting, nullptr);
  ASSERT_EQ(alerting->ActiveAlerts().size(), 1u);
  EXPECT_EQ(alerting->ActiveAlerts()[0].value, 13);
  EXPECT_EQ(group->rules()[0]->health(), RuleHealth::kGood);
  EXPECT_EQ(Query("job:x:sum", 0), (std::map<std::string, double>{{"job:x:sum{job=\"a\"}", 13}}));
  ASSERT_EQ(sink_.sent.size(), 1u);
  EXPECT_EQ(sink_.sent[0].rule, "Big");
  EXPECT_EQ(sink_.sent[0].alert.labels, (promql::Labels{{"alertname", "Big"}, {"job", "a"}}));
}

TEST_F(GroupTest, AlertsSeriesAreStaleMarkedOnStateChanges) {
  auto group = MakeGroup(R"(groups:
- name: g
  rules:
  - alert: Down
    expr: up == 0
    for: 1m
)");
  ASSERT_NE(group, nullptr);
  const promql::Labels up{{"__name__", "up"}, {"job", "a"}};
  Add(up, 0, 0);
  Add(up, kMin, 0);
  Add(up, 2 * kMin, 1);
  group->Eval(0, query_, &appender_, &sink_);
  EXPECT_EQ(Query("ALERTS", 0).size(), 1u);
  EXPECT_EQ(Query("ALERTS{alertstate=\"pending\"}", 0).size(), 1u);
  group->Eval(kMin, query_, &appender_, &sink_);
  // Pending was stale-marked at once when the alert started firing.
  EXPECT_TRUE(Query("ALERTS{alertstate=\"pending\"}", kMin).empty());
  EXPECT_EQ(Query("ALERTS{alertstate=\"firing\"}", kMin).size(), 1u);
  EXPECT_EQ(
      Query("ALERTS_FOR_STATE", kMin),
      (std::map<std::string, double>{{"ALERTS_FOR_STATE{alertname=\"Down\", job=\"a\"}", 0}}));
  group->Eval(2 * kMin, query_, &appender_, &sink_);
  EXPECT_TRUE(Query("ALERTS", 2 * kMin).empty()) << "resolved: stale at once";
  EXPECT_TRUE(Query("ALERTS_FOR_STATE", 2 * kMin).empty());
  // Firing at 1m, resolved at 2m: two notifications.
  ASSERT_EQ(sink_.sent.size(), 2u);
  EXPECT_EQ(sink_.sent[1].alert.ends_at_ms, 2 * kMin);
  EXPECT_EQ(sink_.sent[0].alert.starts_at_ms, kMin);
}

TEST_F(GroupTest, QueryOffsetShiftsQueriesAndOutputsButNotActiveAt) {
  auto group = MakeGroup(R"(groups:
- name: g
  query_offset: 1m
  rules:
  - record: r
    expr: x
  - alert: A
    expr: x > 0
)");
  ASSERT_NE(group, nullptr);
  EXPECT_EQ(group->query_offset_ms(), kMin);
  Add({{"__name__", "x"}}, 0, 5);
  Add({{"__name__", "x"}}, 2 * kMin, 0);
  group->Eval(2 * kMin, query_, &appender_, &sink_);
  EXPECT_EQ(Query("r", kMin), (std::map<std::string, double>{{"r", 5}}))
      << "written at ts - offset";
  auto* alerting = dynamic_cast<AlertingRule*>(group->rules()[1].get());
  ASSERT_EQ(alerting->ActiveAlerts().size(), 1u) << "the query saw the sample at 1m, not 2m";
  EXPECT_EQ(alerting->ActiveAlerts()[0].active_at_ms, 2 * kMin);
}

TEST_F(GroupTest, FailingQueryFreezesTheRule) {
  auto group = MakeGroup(R"(groups:
- name: g
  rules:
  - alert: Joined
    expr: a + on(k) b
  - record: ok
    expr: vector(1)
)");
  ASSERT_NE(group, nullptr);
  Add({{"__name__", "a"}, {"k", "1"}}, 0, 1);
  Add({{"__name__", "b"}, {"k", "1"}}, 0, 1);
  group->Eval(0, query_, &appender_, &sink_);
  auto* alerting = dynamic_cast<AlertingRule*>(group->rules()[0].get());
  ASSERT_EQ(alerting->ActiveAlerts().size(), 1u);
  // A second b series with k="1" makes the match many-to-many: the query fails.
  Add({{"__name__", "b"}, {"k", "1"}, {"x", "2"}}, kMin, 1);
  Add({{"__name__", "a"}, {"k", "1"}}, kMin, 1);
  auto stats = group->Eval(kMin, query_, &appender_, &sink_);
  EXPECT_EQ(stats.rules_failed, 1u);
  EXPECT_EQ(alerting->health(), RuleHealth::kBad);
  EXPECT_THAT(alerting->last_error(), HasSubstr("many-to-many"));
  EXPECT_EQ(alerting->ActiveAlerts().size(), 1u) << "state frozen, not resolved";
  EXPECT_EQ(Query("ALERTS", kMin).size(), 1u) << "no stale marker for a failed rule";
  EXPECT_EQ(group->rules()[1]->health(), RuleHealth::kGood) << "later rules still run";
  EXPECT_EQ(group->rules()[1]->last_evaluation_ms(), kMin);
}

TEST_F(GroupTest, GroupLabelsAndExternalLabelsInTemplates) {
  GroupOptions options;
  options.external_labels = promql::Labels{{"cluster", "c1"}};
  options.external_url = "http://nimify";
  auto group = MakeGroup(R"(groups:
- name: g
  labels: {team: sre, severity: low}
  rules:
  - alert: A
    expr: x > 1
    labels: {severity: high}
    annotations:
      summary: '{{ $labels.job }} {{ $value }} {{ $externalLabels.cluster }} {{ $externalURL }}'
)",
                         options);
  ASSERT_NE(group, nullptr);
  Add({{"__name__", "x"}, {"job", "j"}}, 0, 2);
  group->Eval(0, query_, &appender_, &sink_);
  ASSERT_EQ(sink_.sent.size(), 1u);
  const auto& n = sink_.sent[0].alert;
  EXPECT_EQ(
      n.labels,
      (promql::Labels{{"alertname", "A"}, {"job", "j"}, {"severity", "high"}, {"team", "sre"}}));
  ASSERT_EQ(n.annotations.size(), 1u);
  EXPECT_EQ(n.annotations[0].value, "j 2 c1 http://nimify");
  EXPECT_EQ(n.generator_url, "http://nimify/graph?g0.expr=x+%3E+1&g0.tab=1");
  EXPECT_FALSE(n.labels.Has("cluster")) << "external labels are the notifier's business";
}

TEST_F(GroupTest, ReloadCarriesStateAndStaleMarksRemovedRules) {
  const std::string before = R"(groups:
- name: g
  rules:
  - record: old
    expr: vector(1)
  - alert: A
    expr: vector(1)
    for: 5m
)";
  const std::string after = R"(groups:
- name: g
  rules:
  - alert: A
    expr: vector(1)
    for: 5m
)";
  auto g1 = MakeGroup(before);
  ASSERT_NE(g1, nullptr);
  g1->Eval(0, query_, &appender_, &sink_);
  EXPECT_EQ(Query("old", 0).size(), 1u);
  auto g2 = MakeGroup(after);
  ASSERT_NE(g2, nullptr);
  g2->CopyStateFrom(*g1);
  g2->Eval(kMin, query_, &appender_, &sink_);
  auto* alerting = dynamic_cast<AlertingRule*>(g2->rules()[0].get());
  ASSERT_EQ(alerting->ActiveAlerts().size(), 1u);
  EXPECT_EQ(alerting->ActiveAlerts()[0].active_at_ms, 0) << "pending since before the reload";
  EXPECT_TRUE(Query("old", kMin).empty()) << "the removed rule's series went stale";
}

TEST_F(GroupTest, EvalTimestampIsASlotWithinOneInterval) {
  auto group = MakeGroup("groups:\n- name: g\n  interval: 1m\n  rules: []\n");
  ASSERT_NE(group, nullptr);
  const std::int64_t now = 1'700'000'123'456;
  const std::int64_t slot = group->EvalTimestamp(now);
  EXPECT_LE(slot, now);
  EXPECT_GT(slot, now - kMin);
  EXPECT_EQ(group->EvalTimestamp(slot), slot);
  EXPECT_EQ(group->EvalTimestamp(slot + kMin), slot + kMin);
  EXPECT_EQ((slot - group->EvalTimestamp(now - 10 * kMin)) % kMin, 0);
}

}  // namespace
}  // namespace nimify::alerting
