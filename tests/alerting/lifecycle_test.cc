// The alert lifecycle of Prometheus's AlertingRule.Eval, driven with
// hand-built query results (no parser or evaluator involved).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "alerting/alert.h"
#include "alerting/extensions.h"
#include "alerting/rule.h"

namespace nimify::alerting {
namespace {

constexpr std::int64_t kMin = 60'000;

std::shared_ptr<RuleSpec> AlertSpec(std::string name, std::int64_t for_ms, LabelPairs labels = {},
                                    std::int64_t keep_firing_for_ms = 0) {
  auto spec = std::make_shared<RuleSpec>();
  spec->kind = RuleKind::kAlerting;
  spec->name = std::move(name);
  spec->expr = "up == 0";
  spec->for_ms = for_ms;
  spec->keep_firing_for_ms = keep_firing_for_ms;
  spec->labels = std::move(labels);
  return spec;
}

promql::Sample Up(std::string job, double v = 0) {
  return promql::Sample{promql::Labels{{"__name__", "up"}, {"job", std::move(job)}}, 0, v, false};
}

const promql::Sample* FindSeries(const promql::Vector& v, std::string_view metric,
                                 std::string_view job) {
  for (const auto& s : v) {
    if (s.metric.MetricName() == metric && s.metric.Get("job") == job) return &s;
  }
  return nullptr;
}

class LifecycleTest : public ::testing::Test {
 protected:
  Result<promql::Vector> Step(AlertingRule& rule, std::int64_t ts, promql::Vector result,
                              std::int64_t limit = 0) {
    return rule.ApplyResult(ctx_, result, ts, 0, limit);
  }
  EvalContext ctx_;
};

TEST_F(LifecycleTest, ForZeroFiresOnTheFirstEvaluation) {
  AlertingRule rule(AlertSpec("Down", 0));
  auto out = Step(rule, 2 * kMin, {Up("a")});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  auto alerts = rule.ActiveAlerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].state, AlertState::kFiring);
  EXPECT_EQ(alerts[0].active_at_ms, 2 * kMin);
  EXPECT_EQ(alerts[0].fired_at_ms, 2 * kMin);
  const auto* series = FindSeries(*out, "ALERTS", "a");
  ASSERT_NE(series, nullptr);
  EXPECT_EQ(series->metric.Get("alertstate"), "firing");
  EXPECT_EQ(series->metric.Get("alertname"), "Down");
  EXPECT_EQ(series->t, 2 * kMin);
  const auto* for_state = FindSeries(*out, "ALERTS_FOR_STATE", "a");
  ASSERT_NE(for_state, nullptr);
  EXPECT_EQ(for_state->v, 120.0);  // ActiveAt in Unix seconds
  EXPECT_FALSE(for_state->metric.Has("alertstate"));
}

TEST_F(LifecycleTest, PendingUntilForHasPassedAtSlotTimes) {
  AlertingRule rule(AlertSpec("Down", 5 * kMin));
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(Step(rule, i * kMin, {Up("a")}).ok());
    ASSERT_EQ(rule.ActiveAlerts().size(), 1u);
    EXPECT_EQ(rule.ActiveAlerts()[0].state, AlertState::kPending) << "step " << i;
    EXPECT_EQ(rule.State(), AlertState::kPending);
  }
  auto out = Step(rule, 5 * kMin, {Up("a")});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(rule.ActiveAlerts()[0].state, AlertState::kFiring);
  EXPECT_EQ(rule.ActiveAlerts()[0].active_at_ms, 0);
  EXPECT_EQ(rule.ActiveAlerts()[0].fired_at_ms, 5 * kMin);
  EXPECT_EQ(FindSeries(*out, "ALERTS", "a")->metric.Get("alertstate"), "firing");
}

TEST_F(LifecycleTest, VanishedPendingAlertIsDeletedAndNeverSent) {
  AlertingRule rule(AlertSpec("Down", 5 * kMin));
  ASSERT_TRUE(Step(rule, 0, {Up("a")}).ok());
  EXPECT_TRUE(rule.CollectAlertsToSend(0, kMin, kMin, "").empty());
  auto out = Step(rule, kMin, {});
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->empty());
  EXPECT_TRUE(rule.CurrentAlerts().empty());
  EXPECT_EQ(rule.State(), AlertState::kInactive);
}

TEST_F(LifecycleTest, ResolvedAlertIsKeptFifteenMinutesAndResent) {
  AlertingRule rule(AlertSpec("Down", 0));
  ASSERT_TRUE(Step(rule, 0, {Up("a")}).ok());
  ASSERT_EQ(rule.CollectAlertsToSend(0, kMin, kMin, "").size(), 1u);
  auto out = Step(rule, kMin, {});
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->empty()) << "a resolved alert has no ALERTS series";
  auto current = rule.CurrentAlerts();
  ASSERT_EQ(current.size(), 1u);
  EXPECT_EQ(current[0].state, AlertState::kInactive);
  EXPECT_EQ(current[0].resolved_at_ms, kMin);
  EXPECT_TRUE(rule.ActiveAlerts().empty());
  // The resolution is sent at once, with EndsAt = ResolvedAt.
  auto sent = rule.CollectAlertsToSend(kMin, kMin, kMin, "");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].ends_at_ms, kMin);
  EXPECT_EQ(sent[0].starts_at_ms, 0);
  // Still held at exactly 15m after resolution, gone once more than 15m passed.
  ASSERT_TRUE(Step(rule, 16 * kMin, {}).ok());
  EXPECT_EQ(rule.CurrentAlerts().size(), 1u);
  ASSERT_TRUE(Step(rule, 17 * kMin, {}).ok());
  EXPECT_TRUE(rule.CurrentAlerts().empty());
}

TEST_F(LifecycleTest, ReturningSeriesStartsANewPendingAlert) {
  AlertingRule rule(AlertSpec("Down", 2 * kMin));
  for (int i = 0; i <= 2; ++i) ASSERT_TRUE(Step(rule, i * kMin, {Up("a")}).ok());
  ASSERT_EQ(rule.ActiveAlerts()[0].state, AlertState::kFiring);
  ASSERT_TRUE(Step(rule, 3 * kMin, {}).ok());  // resolved
  ASSERT_TRUE(Step(rule, 4 * kMin, {Up("a")}).ok());
  auto alerts = rule.ActiveAlerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].state, AlertState::kPending);
  EXPECT_EQ(alerts[0].active_at_ms, 4 * kMin);
  EXPECT_FALSE(alerts[0].resolved_at_ms.has_value());
}

TEST_F(LifecycleTest, KeepFiringForHoldsLastValueAndAnnotations) {
  auto spec = AlertSpec("High", 0, {}, 3 * kMin);
  spec->annotations = {{"summary", "static"}};
  AlertingRule rule(spec);
  ASSERT_TRUE(Step(rule, 0, {Up("a", 42)}).ok());
  // KeepFiringSince = 1m: kept firing while ts - 1m < 3m, i.e. at 1m, 2m and 3m.
  for (int i = 1; i <= 3; ++i) {
    auto out = Step(rule, i * kMin, {});
    ASSERT_TRUE(out.ok());
    auto alerts = rule.ActiveAlerts();
    ASSERT_EQ(alerts.size(), 1u) << "step " << i;
    EXPECT_EQ(alerts[0].state, AlertState::kFiring);
    EXPECT_EQ(alerts[0].value, 42);
    EXPECT_EQ(alerts[0].keep_firing_since_ms, kMin);
    EXPECT_NE(FindSeries(*out, "ALERTS", "a"), nullptr);
  }
  // 4m - 1m is not < 3m: resolved.
  ASSERT_TRUE(Step(rule, 4 * kMin, {}).ok());
  EXPECT_TRUE(rule.ActiveAlerts().empty());
  ASSERT_EQ(rule.CurrentAlerts().size(), 1u);
  EXPECT_EQ(rule.CurrentAlerts()[0].resolved_at_ms, 4 * kMin);
}

TEST_F(LifecycleTest, DeferredAnnotationsExpandToTheLastEvaluationsText) {
  auto spec = AlertSpec("High", 0, {}, 3 * kMin);
  spec->annotations = {{"description", "{{ $labels.job }} at {{ $value }} ({{ now }})"},
                       {"summary", "static"}};
  AlertingRule rule(spec);
  ctx_.external_labels = promql::Labels{{"cluster", "eu"}};
  ASSERT_TRUE(Step(rule, kMin, {Up("a", 42)}).ok());
  ASSERT_TRUE(Step(rule, 2 * kMin, {Up("a", 43)}).ok());
  // What the evaluation keeps: the inputs, not the text.
  rule.ForEachActiveAlert([](const Alert& a) {
    EXPECT_NE(a.deferred.expander, nullptr);
    EXPECT_TRUE(a.annotations.empty());
    EXPECT_EQ(AnnotationsOf(a),
              (LabelPairs{{"description", "a at 43 (120)"}, {"summary", "static"}}));
  });
  auto alerts = rule.ActiveAlerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].deferred.expander, nullptr);
  EXPECT_EQ(alerts[0].annotations,
            (LabelPairs{{"description", "a at 43 (120)"}, {"summary", "static"}}));
  auto sent = rule.CollectAlertsToSend(2 * kMin, kMin, kMin, "");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].annotations, alerts[0].annotations);
  // Kept firing without a result: the last evaluation's text stays, as in
  // Prometheus, and the resolved alert is sent with it.
  for (std::int64_t t : {3 * kMin, 6 * kMin}) ASSERT_TRUE(Step(rule, t, {}).ok());
  auto held = rule.CurrentAlerts();
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].state, AlertState::kInactive);
  EXPECT_EQ(held[0].annotations, alerts[0].annotations);
  sent = rule.CollectAlertsToSend(6 * kMin, kMin, kMin, "");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].annotations, alerts[0].annotations);
  // An alert copied out with deferred annotations outlives its rule.
  Alert copy;
  {
    AlertingRule scoped(spec);
    ASSERT_TRUE(Step(scoped, kMin, {Up("b", 7)}).ok());
    scoped.ForEachActiveAlert([&copy](const Alert& a) { copy = a; });
  }
  EXPECT_EQ(AnnotationsOf(copy),
            (LabelPairs{{"description", "b at 7 (60)"}, {"summary", "static"}}));
}

TEST_F(LifecycleTest, AnnotationsThatQueryAreExpandedAtTheEvaluation) {
  auto spec = AlertSpec("High", 0);
  spec->annotations = {{"count", "{{ with query \"up\" }}{{ . | len }}{{ end }}"}};
  AlertingRule rule(spec);
  int queries = 0;
  ctx_.query = [&queries](const promql::Expr&, std::int64_t) -> Result<promql::Vector> {
    ++queries;
    return promql::Vector(queries, Up("q"));
  };
  ASSERT_TRUE(Step(rule, kMin, {Up("a", 1)}).ok());
  EXPECT_EQ(queries, 1);
  // The text is the evaluation's answer, not the answer of a later query.
  rule.ForEachActiveAlert([](const Alert& a) {
    EXPECT_EQ(a.deferred.expander, nullptr);
    EXPECT_EQ(a.annotations, (LabelPairs{{"count", "1"}}));
  });
  EXPECT_EQ(rule.ActiveAlerts()[0].annotations, (LabelPairs{{"count", "1"}}));
  EXPECT_EQ(queries, 1);
}

TEST_F(LifecycleTest, DeferredAnnotationsFollowNewExternalLabels) {
  auto spec = AlertSpec("High", 0);
  spec->annotations = {{"where", "{{ $externalLabels.cluster }} {{ $externalURL }}"}};
  AlertingRule rule(spec);
  ctx_.external_labels = promql::Labels{{"cluster", "eu"}};
  ctx_.external_url = "http://a";
  ASSERT_TRUE(Step(rule, kMin, {Up("a", 1)}).ok());
  Alert before;
  rule.ForEachActiveAlert([&before](const Alert& a) { before = a; });
  ctx_.external_labels = promql::Labels{{"cluster", "us"}};
  ctx_.external_url = "http://b";
  ASSERT_TRUE(Step(rule, 2 * kMin, {Up("a", 1)}).ok());
  EXPECT_EQ(rule.ActiveAlerts()[0].annotations, (LabelPairs{{"where", "us http://b"}}));
  // A copy taken before keeps its own inputs.
  EXPECT_EQ(AnnotationsOf(before), (LabelPairs{{"where", "eu http://a"}}));
}

TEST_F(LifecycleTest, ResultsInAnyOrderMeetTheirAlerts) {
  AlertingRule rule(AlertSpec("Down", 2 * kMin));
  auto value_of = [&rule](std::string_view job) {
    for (const Alert& a : rule.ActiveAlerts()) {
      if (a.labels.Get("job") == job) return a.value;
    }
    return -1.0;
  };
  // The same size in a new order: the last evaluation's permutation no
  // longer sorts it, and each result must still update its own alert.
  const std::vector<std::vector<std::pair<std::string, double>>> steps = {
      {{"b", 1}, {"a", 2}, {"c", 3}},
      {{"b", 4}, {"a", 5}, {"c", 6}},  // the same order
      {{"c", 7}, {"b", 8}, {"a", 9}},  // another order
      {{"a", 10}, {"c", 11}},          // fewer
      {{"c", 12}, {"d", 13}, {"a", 14}},
  };
  for (std::size_t i = 0; i < steps.size(); ++i) {
    promql::Vector result;
    for (const auto& [job, v] : steps[i]) result.push_back(Up(job, v));
    ASSERT_TRUE(Step(rule, static_cast<std::int64_t>(i) * kMin, result).ok()) << "step " << i;
    ASSERT_EQ(rule.ActiveAlerts().size(), steps[i].size()) << "step " << i;
    for (const auto& [job, v] : steps[i]) EXPECT_EQ(value_of(job), v) << "step " << i;
  }
  // Pending since 0 for a and c (present at every step), since 4m for d.
  for (const Alert& a : rule.ActiveAlerts()) {
    const bool d = a.labels.Get("job") == "d";
    EXPECT_EQ(a.active_at_ms, d ? 4 * kMin : 0) << a.labels.Get("job");
    EXPECT_EQ(a.state, d ? AlertState::kPending : AlertState::kFiring) << a.labels.Get("job");
  }
  // A duplicate in a result whose size matches the last one is still found.
  auto out = Step(rule, 5 * kMin, {Up("a"), Up("c"), Up("a")});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(), kDuplicateAlertLabelSet);
}

TEST_F(LifecycleTest, KeepFiringSinceResetsWhenTheSeriesReturns) {
  AlertingRule rule(AlertSpec("High", 0, {}, 2 * kMin));
  ASSERT_TRUE(Step(rule, 0, {Up("a")}).ok());
  ASSERT_TRUE(Step(rule, kMin, {}).ok());
  EXPECT_EQ(rule.ActiveAlerts()[0].keep_firing_since_ms, kMin);
  ASSERT_TRUE(Step(rule, 2 * kMin, {Up("a")}).ok());
  EXPECT_FALSE(rule.ActiveAlerts()[0].keep_firing_since_ms.has_value());
  EXPECT_EQ(rule.ActiveAlerts()[0].active_at_ms, 0) << "the same alert, not a new one";
}

TEST_F(LifecycleTest, LabelsAreSeriesMinusNameThenRuleLabelsThenAlertname) {
  AlertingRule rule(AlertSpec("Down", 0, {{"alertname", "ignored"}, {"job", ""}, {"sev", "1"}}));
  promql::Sample s{promql::Labels{{"__name__", "up"}, {"job", "a"}, {"instance", "i"}}, 0, 0,
                   false};
  auto out = Step(rule, 0, {s});
  ASSERT_TRUE(out.ok());
  auto alerts = rule.ActiveAlerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].labels,
            (promql::Labels{{"alertname", "Down"}, {"instance", "i"}, {"sev", "1"}}));
  // ALERTS starts from the raw rule labels: the job="" rule label was a deletion
  // for the alert, and it is absent from ALERTS too (empty values are no labels).
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ(out->at(0).metric.Get("alertname"), "Down");
  EXPECT_FALSE(out->at(0).metric.Has("job"));
}

TEST_F(LifecycleTest, DuplicateLabelSetFailsAndFreezesState) {
  AlertingRule rule(AlertSpec("Down", 0));
  ASSERT_TRUE(Step(rule, 0, {Up("a")}).ok());
  promql::Sample other{promql::Labels{{"__name__", "up2"}, {"job", "a"}}, 0, 0, false};
  auto out = Step(rule, kMin, {Up("a"), other});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(), kDuplicateAlertLabelSet);
  // Nothing resolved: the alert is still firing with its old ActiveAt.
  ASSERT_EQ(rule.ActiveAlerts().size(), 1u);
  EXPECT_EQ(rule.ActiveAlerts()[0].state, AlertState::kFiring);
}

TEST_F(LifecycleTest, LimitDiscardsAllState) {
  AlertingRule rule(AlertSpec("Down", 0));
  ASSERT_TRUE(Step(rule, 0, {Up("a"), Up("b")}, 2).ok());
  auto out = Step(rule, kMin, {Up("a"), Up("b"), Up("c")}, 2);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(), "exceeded limit of 2 with 3 alerts");
  EXPECT_TRUE(rule.CurrentAlerts().empty());
}

TEST_F(LifecycleTest, FiringGoesBackToPendingWhenForWasRaised) {
  AlertingRule rule(AlertSpec("Down", 10 * kMin));
  Alert restored;
  restored.labels = promql::Labels{{"alertname", "Down"}, {"job", "a"}};
  restored.state = AlertState::kFiring;
  restored.active_at_ms = 0;
  restored.fired_at_ms = 5 * kMin;
  restored.last_sent_at_ms = 5 * kMin;
  rule.RestoreAlerts({restored});
  ASSERT_TRUE(Step(rule, 6 * kMin, {Up("a")}).ok());
  auto alerts = rule.ActiveAlerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].state, AlertState::kPending);
  EXPECT_FALSE(alerts[0].fired_at_ms.has_value());
  EXPECT_FALSE(alerts[0].last_sent_at_ms.has_value());
  ASSERT_TRUE(Step(rule, 10 * kMin, {Up("a")}).ok());
  EXPECT_EQ(rule.ActiveAlerts()[0].state, AlertState::kFiring);
}

TEST_F(LifecycleTest, NotRestoredRulesWriteNoAlertsSeries) {
  AlertingRule rule(AlertSpec("Down", 0), {}, AlertingRuleOptions{false, nullptr});
  auto out = Step(rule, 0, {Up("a")});
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->empty());
  EXPECT_EQ(rule.ActiveAlerts().size(), 1u);
}

TEST_F(LifecycleTest, ResendAfterTheResendDelayOnly) {
  AlertingRule rule(AlertSpec("Down", 0));
  ASSERT_TRUE(Step(rule, 0, {Up("a")}).ok());
  auto sent = rule.CollectAlertsToSend(0, kMin, 30'000, "http://prom:9090");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].starts_at_ms, 0);
  EXPECT_EQ(sent[0].ends_at_ms, 4 * kMin) << "ValidUntil = ts + 4 * max(interval, resend delay)";
  EXPECT_EQ(sent[0].generator_url, "http://prom:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1");
  EXPECT_EQ(rule.ActiveAlerts()[0].last_sent_at_ms, 0);
  // LastSentAt + resendDelay must be strictly before ts.
  ASSERT_TRUE(Step(rule, kMin, {Up("a")}).ok());
  EXPECT_TRUE(rule.CollectAlertsToSend(kMin, kMin, kMin, "").empty());
  ASSERT_TRUE(Step(rule, kMin + 1, {Up("a")}).ok());
  EXPECT_EQ(rule.CollectAlertsToSend(kMin + 1, kMin, kMin, "").size(), 1u);
}

TEST_F(LifecycleTest, StartsAtIsFiredAtNotActiveAt) {
  AlertingRule rule(AlertSpec("Down", 2 * kMin));
  for (int i = 0; i <= 2; ++i) {
    ASSERT_TRUE(Step(rule, i * kMin, {Up("a")}).ok());
    auto sent = rule.CollectAlertsToSend(i * kMin, kMin, kMin, "");
    if (i < 2) {
      EXPECT_TRUE(sent.empty()) << "pending alerts are never sent";
    }
    if (i == 2) {
      ASSERT_EQ(sent.size(), 1u);
      EXPECT_EQ(sent[0].starts_at_ms, 2 * kMin);
    }
  }
}

// Random series coming and going over many evaluations, with the resend
// delay changing now and then, checked against Prometheus's rules at every
// step: what is held (resolved alerts for exactly 15 minutes), which alerts
// are sent (needsSending, in label order) and the state they are left in.
TEST_F(LifecycleTest, RandomHistoriesFollowPrometheusRules) {
  for (std::uint32_t seed = 1; seed <= 8; ++seed) {
    std::mt19937 rng(seed);
    const std::int64_t for_ms = (seed % 3) * kMin;
    AlertingRule rule(AlertSpec("Down", for_ms));
    // Which series returned at each evaluation, to check ActiveAt and ResolvedAt.
    std::map<std::string, std::int64_t> returned_since;
    std::map<std::string, std::int64_t> last_returned;
    std::int64_t resend_delay = kMin;
    std::size_t sent_total = 0;
    std::size_t resolved_sent = 0;
    for (int step = 0; step < 400; ++step) {
      const std::int64_t ts = step * 15'000;
      promql::Vector result;
      for (int job = 0; job < 12; ++job) {
        // Series 0-5 flap often; 6-11 stay for long stretches and are often
        // gone for longer than the 15 minutes resolved alerts are kept.
        const std::string name = "j" + std::to_string(job);
        const bool was_there = returned_since.count(name) != 0;
        const unsigned odds = job < 6 ? 2 : (was_there ? 12 : 80);
        const bool there = rng() % odds == 0 ? !was_there : was_there;
        if (!there) {
          returned_since.erase(name);
          continue;
        }
        if (!was_there) returned_since[name] = ts;
        last_returned[name] = ts;
        result.push_back(Up(name, static_cast<double>(rng() % 100)));
      }
      if (rng() % 40 == 0) resend_delay = static_cast<std::int64_t>(1 + rng() % 4) * 30'000;
      ASSERT_TRUE(Step(rule, ts, result).ok());

      const std::vector<Alert> held = rule.CurrentAlerts();
      ASSERT_TRUE(std::is_sorted(held.begin(), held.end(), [](const Alert& a, const Alert& b) {
        return a.labels < b.labels;
      }));
      std::vector<Alert> unresolved;
      AlertState max_state = AlertState::kInactive;
      for (const Alert& a : held) {
        const std::string job(a.labels.Get("job"));
        if (returned_since.count(job)) {
          EXPECT_NE(a.state, AlertState::kInactive) << job << " at " << ts;
          EXPECT_EQ(a.active_at_ms, returned_since[job]) << job << " at " << ts;
          EXPECT_EQ(a.state == AlertState::kFiring, ts - a.active_at_ms >= for_ms);
        } else {
          ASSERT_EQ(a.state, AlertState::kInactive) << job << " at " << ts;
          ASSERT_TRUE(a.resolved_at_ms.has_value());
          EXPECT_LE(ts - *a.resolved_at_ms, 15 * kMin) << "kept too long";
          EXPECT_EQ(*a.resolved_at_ms, last_returned[job] + 15'000) << "at the next evaluation";
        }
        if (!a.resolved_at_ms) unresolved.push_back(a);
        max_state = std::max(max_state, a.state);
      }
      // With `for: 0` every series fired, so each one gone for at most 15
      // minutes is still held, resolved.
      for (const auto& [job, t] : last_returned) {
        if (for_ms != 0 || returned_since.count(job) || ts - (t + 15'000) > 15 * kMin) continue;
        EXPECT_TRUE(std::any_of(held.begin(), held.end(),
                                [&](const Alert& a) { return a.labels.Get("job") == job; }))
            << job << " resolved at " << t + 15'000 << " is gone at " << ts;
      }
      EXPECT_EQ(rule.ActiveAlerts(), unresolved);
      EXPECT_EQ(rule.State(), max_state);

      // needsSending, over what is held before the call.
      std::vector<Alert> want;
      for (const Alert& a : held) {
        if (a.state == AlertState::kPending) continue;
        const bool resolved_since_sent =
            a.resolved_at_ms && (!a.last_sent_at_ms || *a.resolved_at_ms > *a.last_sent_at_ms);
        if (resolved_since_sent || !a.last_sent_at_ms || *a.last_sent_at_ms + resend_delay < ts) {
          want.push_back(a);
          resolved_sent += a.resolved_at_ms ? 1 : 0;
        }
      }
      const std::int64_t valid_until = ts + 4 * std::max<std::int64_t>(15'000, resend_delay);
      const auto sent = rule.CollectAlertsToSend(ts, resend_delay, 15'000, "http://x");
      ASSERT_EQ(sent.size(), want.size()) << "at " << ts;
      for (std::size_t i = 0; i < sent.size(); ++i) {
        EXPECT_EQ(sent[i].labels, want[i].labels);
        EXPECT_EQ(sent[i].ends_at_ms,
                  want[i].resolved_at_ms ? *want[i].resolved_at_ms : valid_until);
      }
      sent_total += sent.size();
      const std::vector<Alert> after = rule.CurrentAlerts();
      ASSERT_EQ(after.size(), held.size());
      std::size_t next_sent = 0;
      for (std::size_t i = 0; i < after.size(); ++i) {
        const bool was_sent = next_sent < want.size() && want[next_sent].labels == held[i].labels;
        Alert expected = held[i];
        if (was_sent) {
          expected.last_sent_at_ms = ts;
          expected.valid_until_ms = valid_until;
          ++next_sent;
        }
        EXPECT_EQ(after[i], expected) << "at " << ts;
      }
    }
    EXPECT_GT(sent_total, 40u) << "seed " << seed;
    EXPECT_GT(resolved_sent, 10u) << "seed " << seed << ": resolutions are re-sent";
  }
}

TEST(AlertTest, QueryEscapeMatchesGo) {
  EXPECT_EQ(QueryEscape("rate(x{a=\"b\"}[5m]) > 0.5"),
            "rate%28x%7Ba%3D%22b%22%7D%5B5m%5D%29+%3E+0.5");
  EXPECT_EQ(QueryEscape("a-b_c.d~"), "a-b_c.d~");
}

TEST(AlertTest, ExternalLabelsDoNotOverrideAlertLabels) {
  promql::Labels labels{{"alertname", "X"}, {"cluster", "mine"}};
  AddExternalLabels(promql::Labels{{"cluster", "ext"}, {"region", "eu"}}, &labels);
  EXPECT_EQ(labels, (promql::Labels{{"alertname", "X"}, {"cluster", "mine"}, {"region", "eu"}}));
}

TEST(RecordingRuleTest, RenamesAndChecksDuplicates) {
  auto spec = std::make_shared<RuleSpec>();
  spec->kind = RuleKind::kRecording;
  spec->name = "job:up:sum";
  spec->labels = {{"team", "x"}};
  RecordingRule rule(spec, {{"team", "group"}, {"env", "prod"}});
  auto out = rule.Apply({Up("a", 1)}, 0);
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ(
      out->at(0).metric,
      (promql::Labels{{"__name__", "job:up:sum"}, {"env", "prod"}, {"job", "a"}, {"team", "x"}}));
  promql::Sample other{promql::Labels{{"__name__", "other"}, {"job", "a"}}, 0, 1, false};
  auto dup = rule.Apply({Up("a", 1), other}, 0);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().message(), kDuplicateRuleLabelSet);
  auto limited = rule.Apply({Up("a"), Up("b")}, 1);
  ASSERT_FALSE(limited.ok());
  EXPECT_EQ(limited.status().message(), "exceeded limit of 1 with 2 series");
}

// --- extensions -------------------------------------------------------------

class ExtensionsTest : public LifecycleTest {
 protected:
  void SetUp() override {
    recovery_expr_ = std::make_shared<promql::NumberLiteral>();
    ctx_.query = [this](const promql::Expr& expr, std::int64_t) -> Result<promql::Vector> {
      EXPECT_EQ(&expr, recovery_expr_.get()) << "only the recovery query runs here";
      ++recovery_queries_;
      if (recovery_fails_) return Status::InvalidArgument("boom");
      return recovery_result_;
    };
  }

  ExtensionConfig Hysteresis(std::int64_t timeout_ms = 0) {
    AlertExtension ext;
    ext.matchers.push_back(
        *promql::LabelMatcher::Create(promql::MatchType::kEqual, "alertname", "Mem"));
    ext.recovery_expr = "mem < 0.8";
    ext.parsed_recovery_expr = recovery_expr_;
    ext.recovery_timeout_ms = timeout_ms;
    ExtensionConfig config;
    config.alert_extensions.push_back(std::move(ext));
    return config;
  }

  std::shared_ptr<promql::NumberLiteral> recovery_expr_;
  promql::Vector recovery_result_;
  bool recovery_fails_ = false;
  int recovery_queries_ = 0;
};

TEST_F(ExtensionsTest, HysteresisKeepsFiringUntilRecoveryHolds) {
  const ExtensionConfig config = Hysteresis();
  AlertingRule rule(AlertSpec("Mem", 0), {}, AlertingRuleOptions{true, &config});
  ASSERT_TRUE(Step(rule, 0, {Up("a", 0.95)}).ok());
  EXPECT_EQ(recovery_queries_, 0) << "no recovery query while the alert condition holds";
  // Between thresholds: the condition (> 0.9) is gone, recovery (< 0.8) not there yet.
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(Step(rule, i * kMin, {}).ok());
    ASSERT_EQ(rule.ActiveAlerts().size(), 1u) << "step " << i;
    EXPECT_EQ(rule.ActiveAlerts()[0].state, AlertState::kFiring);
  }
  // A recovery sample for another job does not count.
  recovery_result_ = {
      promql::Sample{promql::Labels{{"__name__", "up"}, {"job", "b"}}, 0, 0.5, false}};
  ASSERT_TRUE(Step(rule, 4 * kMin, {}).ok());
  EXPECT_EQ(rule.ActiveAlerts().size(), 1u);
  recovery_result_ = {promql::Sample{promql::Labels{{"job", "a"}}, 0, 0.5, false}};
  ASSERT_TRUE(Step(rule, 5 * kMin, {}).ok());
  EXPECT_TRUE(rule.ActiveAlerts().empty());
  EXPECT_EQ(rule.CurrentAlerts()[0].resolved_at_ms, 5 * kMin);
}

TEST_F(ExtensionsTest, HysteresisAppliesOnlyToMatchingAlerts) {
  const ExtensionConfig config = Hysteresis();
  AlertingRule rule(AlertSpec("Other", 0), {}, AlertingRuleOptions{true, &config});
  ASSERT_TRUE(Step(rule, 0, {Up("a")}).ok());
  ASSERT_TRUE(Step(rule, kMin, {}).ok());
  EXPECT_TRUE(rule.ActiveAlerts().empty());
  EXPECT_EQ(recovery_queries_, 0);
}

TEST_F(ExtensionsTest, HysteresisTimeoutBoundsTheHold) {
  const ExtensionConfig config = Hysteresis(2 * kMin);
  AlertingRule rule(AlertSpec("Mem", 0), {}, AlertingRuleOptions{true, &config});
  ASSERT_TRUE(Step(rule, 0, {Up("a")}).ok());
  ASSERT_TRUE(Step(rule, kMin, {}).ok());
  ASSERT_TRUE(Step(rule, 2 * kMin, {}).ok());
  EXPECT_EQ(rule.ActiveAlerts().size(), 1u);
  ASSERT_TRUE(Step(rule, 3 * kMin, {}).ok());
  EXPECT_TRUE(rule.ActiveAlerts().empty()) << "missing since 1m; 3m - 1m is not < 2m";
}

TEST_F(ExtensionsTest, FailingRecoveryQueryFailsTheEvaluationWithoutChanges) {
  const ExtensionConfig config = Hysteresis();
  AlertingRule rule(AlertSpec("Mem", 0), {}, AlertingRuleOptions{true, &config});
  ASSERT_TRUE(Step(rule, 0, {Up("a")}).ok());
  recovery_fails_ = true;
  auto out = Step(rule, kMin, {});
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(std::string(out.status().message()), ::testing::HasSubstr("recovery_expr"));
  ASSERT_EQ(rule.ActiveAlerts().size(), 1u);
  EXPECT_FALSE(rule.ActiveAlerts()[0].keep_firing_since_ms.has_value());
}

TEST(RecoveryHoldsTest, AllRecoveryLabelsButNameMustMatch) {
  const promql::Labels alert{{"alertname", "Mem"}, {"job", "a"}, {"pod", "p1"}};
  auto sample = [](promql::Labels l) { return promql::Sample{std::move(l), 0, 1, false}; };
  EXPECT_TRUE(RecoveryHolds({sample({{"__name__", "m"}, {"job", "a"}})}, alert));
  EXPECT_TRUE(RecoveryHolds({sample({{"job", "a"}, {"pod", "p1"}})}, alert));
  EXPECT_FALSE(RecoveryHolds({sample({{"job", "a"}, {"pod", "p2"}})}, alert));
  EXPECT_FALSE(RecoveryHolds({sample({{"job", "a"}, {"zone", "z"}})}, alert));
  EXPECT_FALSE(RecoveryHolds({}, alert));
}

TEST(FlapTrackerTest, SteadyStatesNeverFlap) {
  FlapTracker t({10, 0.2, 0.4});
  for (int i = 0; i < 30; ++i) t.Record(true);
  EXPECT_FALSE(t.flapping());
  EXPECT_EQ(t.share(), 0);
}

TEST(FlapTrackerTest, WeightsFollowNagios) {
  // Window 5: four transitions weighted 0.75, 0.9167, 1.0833, 1.25, summing to 4.
  FlapTracker t({5, 0.2, 0.9});
  for (bool b : {true, false, true, false, true}) t.Record(b);
  EXPECT_NEAR(t.share(), 1.0, 1e-12);
  EXPECT_TRUE(t.flapping());
  // One change, in the newest slot: 1.25 / 4.
  FlapTracker u({5, 0.2, 0.9});
  for (bool b : {false, false, false, false, true}) u.Record(b);
  EXPECT_NEAR(u.share(), 1.25 / 4, 1e-12);
  // The same change in the oldest slot weighs 0.75.
  for (bool b : {true, true, true}) u.Record(b);
  EXPECT_NEAR(u.share(), 0.75 / 4, 1e-12);
}

TEST(FlapTrackerTest, ShortHistoryCountsOnlyRecordedChanges) {
  FlapTracker t({20, 0.25, 0.5});
  t.Record(false);
  t.Record(true);  // one change, in the newest of 19 slots: 1.25 / 19
  EXPECT_NEAR(t.share(), 1.25 / 19, 1e-12);
  EXPECT_FALSE(t.flapping());
}

TEST(FlapTrackerTest, HysteresisBetweenLowAndHigh) {
  FlapTracker t({10, 0.2, 0.5});
  bool state = false;
  for (int i = 0; i < 10; ++i) t.Record(state = !state);
  EXPECT_TRUE(t.flapping());
  // Settle: the share falls, but flapping stays until it is below `low`.
  bool stopped_below_low = false;
  for (int i = 0; i < 10; ++i) {
    const bool was = t.flapping();
    t.Record(true);
    if (was && !t.flapping()) {
      EXPECT_LT(t.share(), 0.2);
      stopped_below_low = true;
    }
    if (t.flapping()) {
      EXPECT_GE(t.share(), 0.2 - 1e-12);
    }
  }
  EXPECT_TRUE(stopped_below_low);
  EXPECT_FALSE(t.flapping());
}

TEST_F(ExtensionsTest, FlappingAlertsHoldNotifications) {
  AlertExtension ext;
  ext.flap_detection = FlapDetectionConfig{6, 0.3, 0.5};
  ExtensionConfig config;
  config.alert_extensions.push_back(std::move(ext));
  AlertingRule rule(AlertSpec("Flappy", 0), {}, AlertingRuleOptions{true, &config});
  std::int64_t ts = 0;
  std::size_t sent_total = 0;
  bool saw_flapping = false;
  // Up/down every evaluation.
  for (int i = 0; i < 12; ++i, ts += kMin) {
    ASSERT_TRUE(Step(rule, ts, i % 2 == 0 ? promql::Vector{Up("a")} : promql::Vector{}).ok());
    auto current = rule.CurrentAlerts();
    ASSERT_EQ(current.size(), 1u);
    if (current[0].flapping) {
      saw_flapping = true;
      EXPECT_TRUE(rule.CollectAlertsToSend(ts, kMin, kMin, "").empty()) << "held at step " << i;
    } else {
      sent_total += rule.CollectAlertsToSend(ts, kMin, kMin, "").size();
    }
  }
  EXPECT_TRUE(saw_flapping);
  EXPECT_GT(sent_total, 0u) << "sent before flapping was detected";
  // Steady firing: flapping ends and the held alert goes out.
  bool resumed = false;
  for (int i = 0; i < 8; ++i, ts += kMin) {
    ASSERT_TRUE(Step(rule, ts, {Up("a")}).ok());
    if (!rule.CurrentAlerts()[0].flapping &&
        !rule.CollectAlertsToSend(ts, kMin, kMin, "").empty()) {
      resumed = true;
    }
  }
  EXPECT_TRUE(resumed);
  EXPECT_FALSE(rule.CurrentAlerts()[0].flapping);
}

}  // namespace
}  // namespace nimify::alerting
