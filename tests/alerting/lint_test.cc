// `nimify check rules --lint`: each check with cases that must and must not warn.
#include "alerting/lint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "alerting/rule_file.h"

namespace nimify::alerting {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// One alerting rule with a severity label, in a group with the given interval.
std::string AlertFile(const std::string& expr, const std::string& extra = "",
                      const std::string& interval = "1m") {
  return "groups:\n- name: g\n  interval: " + interval + "\n  rules:\n  - alert: A\n    expr: '" +
         expr + "'\n    labels: {severity: page}\n" + extra;
}

std::vector<LintWarning> Lint(const std::string& yaml, LintOptions options = {}) {
  auto file = ParseRuleFile(yaml, "r.yml");
  EXPECT_TRUE(file.ok()) << file.status().ToString();
  if (!file.ok()) return {};
  return LintRuleFile(*file, options);
}

std::vector<std::string> Checks(const std::string& yaml) {
  std::vector<std::string> out;
  for (const auto& w : Lint(yaml)) out.push_back(w.check);
  return out;
}

TEST(LintTest, RatioOfRatesWithDifferentMatchers) {
  const auto warnings = Lint(AlertFile(
      R"(rate(http_requests_total{status=~"5.."}[5m]) / rate(http_requests_total[5m]) > 0.05)"));
  ASSERT_EQ(warnings.size(), 1u);
  const auto& w = warnings[0];
  EXPECT_EQ(w.check, kLintRatioLabelMismatch);
  EXPECT_EQ(w.rule, "A");
  EXPECT_EQ(w.group, "g");
  EXPECT_EQ(w.pos, (SourcePos{6, 11}));
  EXPECT_THAT(w.message, HasSubstr("status"));
  EXPECT_THAT(w.message, HasSubstr("the ratio is 1"));
  EXPECT_THAT(w.suggestion,
              HasSubstr("sum by (job, instance) (rate(http_requests_total{status=~\"5..\"}[5m]))"));
  EXPECT_THAT(w.ToString(),
              HasSubstr("r.yml:6:11: warning [ratio-label-mismatch] group \"g\", rule \"A\": "));
}

TEST(LintTest, RatioOfRatesThatAggregatesTheLabelAwayIsFine) {
  EXPECT_THAT(
      Checks(AlertFile(
          R"(sum by (job, instance) (rate(http_requests_total{status=~"5.."}[5m])) / sum by (job, instance) (rate(http_requests_total[5m])) > 0.05)")),
      IsEmpty());
  EXPECT_THAT(
      Checks(AlertFile(
          R"(sum without (status) (rate(x_total{status="500"}[5m])) / sum without (status) (rate(x_total[5m])))")),
      IsEmpty());
  // Explicit matching, different metrics and same matchers are not this bug.
  EXPECT_THAT(
      Checks(AlertFile(
          R"(rate(x_total{status="500"}[5m]) / ignoring(status) group_left rate(x_total[5m]))")),
      IsEmpty());
  EXPECT_THAT(Checks(AlertFile(R"(rate(a_total{s="1"}[5m]) / rate(b_total[5m]))")), IsEmpty());
  EXPECT_THAT(Checks(AlertFile(R"(rate(a_total{s="1"}[5m]) / rate(a_total{s="1"}[5m]))")),
              IsEmpty());
  // Aggregating by the label keeps the problem.
  EXPECT_THAT(
      Checks(AlertFile(
          R"(sum by (status) (rate(x_total{status="500"}[5m])) / sum by (status) (rate(x_total[5m])))")),
      ElementsAre(std::string(kLintRatioLabelMismatch)));
}

TEST(LintTest, SumOfDisjointSelectionsIsEmptyAndReportedOnce) {
  // memcached's hit-rate rule in awesome-prometheus-alerts: hit + miss never pair up.
  const auto warnings = Lint(AlertFile(
      R"(rate(m_total{s="hit"}[5m]) / (rate(m_total{s="hit"}[5m]) + rate(m_total{s="miss"}[5m])) < 0.8 and (rate(m_total{s="hit"}[5m]) + rate(m_total{s="miss"}[5m])) > 0)"));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].check, kLintRatioLabelMismatch);
  EXPECT_THAT(warnings[0].message, HasSubstr("'+'"));
  EXPECT_THAT(warnings[0].message, HasSubstr("empty"));
}

TEST(LintTest, ForShorterThanInterval) {
  const auto warnings = Lint(AlertFile("up == 0", "    for: 30s\n"));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].check, kLintForShorterThanInterval);
  EXPECT_EQ(warnings[0].pos, (SourcePos{8, 10}));
  EXPECT_THAT(warnings[0].suggestion, HasSubstr("for: 1m"));
  EXPECT_THAT(Checks(AlertFile("up == 0", "    for: 0s\n")), IsEmpty());
  EXPECT_THAT(Checks(AlertFile("up == 0", "    for: 2m\n")), IsEmpty());
  EXPECT_THAT(Checks(AlertFile("up == 0", "    for: 30s\n", "10s")), IsEmpty());
}

TEST(LintTest, RateOfGauge) {
  const auto warnings = Lint(AlertFile("rate(node_memory_MemFree_bytes[5m]) > 0"));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].check, kLintRateOfGauge);
  EXPECT_THAT(warnings[0].suggestion, HasSubstr("deriv(node_memory_MemFree_bytes[...])"));
  EXPECT_THAT(Checks(AlertFile("increase(errors_total[5m]) > 0")), IsEmpty());
  EXPECT_THAT(Checks(AlertFile("irate(req_count[5m]) > 0")), IsEmpty());
  EXPECT_THAT(Checks(AlertFile("rate(lat_bucket[5m]) > 0")), IsEmpty());
  EXPECT_THAT(Checks(AlertFile("rate(lat_sum[5m]) > 0")), IsEmpty());
  EXPECT_THAT(Checks(AlertFile("deriv(node_memory_MemFree_bytes[5m]) > 0")), IsEmpty());
}

TEST(LintTest, RangeShorterThanTwoIntervals) {
  EXPECT_THAT(Checks(AlertFile("rate(x_total[1m]) > 0")),
              ElementsAre(std::string(kLintRangeTooShort)));
  EXPECT_THAT(Checks(AlertFile("deriv(g[90s]) > 0")), ElementsAre(std::string(kLintRangeTooShort)));
  EXPECT_THAT(Checks(AlertFile("rate(x_total[2m]) > 0")), IsEmpty());
  EXPECT_THAT(Checks(AlertFile("rate(x_total[1m]) > 0", "", "30s")), IsEmpty());
  EXPECT_THAT(Checks(AlertFile("max_over_time(g[1m]) > 0")), IsEmpty());
}

TEST(LintTest, ComparisonWithNaN) {
  const auto eq = Lint(AlertFile("x == NaN"));
  ASSERT_EQ(eq.size(), 1u);
  EXPECT_EQ(eq[0].check, kLintNaNComparison);
  EXPECT_THAT(eq[0].message, HasSubstr("never"));
  const auto ne = Lint(AlertFile("x != NaN"));
  ASSERT_EQ(ne.size(), 1u);
  EXPECT_THAT(ne[0].message, HasSubstr("always"));
  EXPECT_THAT(Checks(AlertFile("x != x")), IsEmpty());
  EXPECT_THAT(Checks(AlertFile("x > 0")), IsEmpty());
}

TEST(LintTest, MissingSeverity) {
  const std::string no_severity =
      "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n"
      "  - record: r\n    expr: sum(up)\n";
  EXPECT_THAT(Checks(no_severity), ElementsAre(std::string(kLintMissingSeverity)));
  const std::string group_severity =
      "groups:\n- name: g\n  labels: {severity: page}\n  rules:\n  - alert: A\n    expr: up == 0\n";
  EXPECT_THAT(Checks(group_severity), IsEmpty());
}

TEST(LintTest, AbsentWithoutEqualityMatchers) {
  EXPECT_THAT(Checks(AlertFile(R"(absent(up{job=~"api.*"}))")),
              ElementsAre(std::string(kLintAbsentWithoutEquality)));
  EXPECT_THAT(Checks(AlertFile(R"(absent(up{job="api", env!="dev"}))")),
              ElementsAre(std::string(kLintAbsentWithoutEquality)));
  EXPECT_THAT(Checks(AlertFile(R"(absent(up{job="api"}))")), IsEmpty());
}

TEST(LintTest, ValueInLabel) {
  const auto warnings = Lint(AlertFile("up == 0", "    annotations: {v: '{{ $value }}'}\n") +
                             "  - alert: B\n    expr: up == 0\n    labels: {severity: page, v: '{{ "
                             "$value | humanize }}'}\n");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].check, kLintValueInLabel);
  EXPECT_EQ(warnings[0].rule, "B");
  EXPECT_THAT(warnings[0].suggestion, HasSubstr("annotation"));
}

TEST(LintTest, DuplicateAlertNames) {
  const std::string same_labels =
      AlertFile("up == 0") + "  - alert: A\n    expr: up == 1\n    labels: {severity: page}\n";
  EXPECT_THAT(Checks(same_labels), ElementsAre(std::string(kLintDuplicateAlertName)));
  // The warning/critical pair of one alert name is a normal pattern.
  const std::string tiers =
      AlertFile("disk > 0.8") +
      "  - alert: A\n    expr: disk > 0.9\n    labels: {severity: critical}\n";
  EXPECT_THAT(Checks(tiers), IsEmpty());
}

TEST(LintTest, DuplicateRecordingRules) {
  const std::string yaml =
      "groups:\n- name: a\n  rules:\n  - record: r\n    expr: sum(up)\n"
      "- name: b\n  rules:\n  - record: r\n    expr: sum(up)\n  - record: r\n    expr: sum(up)\n"
      "    labels: {x: y}\n";
  const auto warnings = Lint(yaml);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].check, kLintDuplicateRecordingRule);
  EXPECT_EQ(warnings[0].group, "b");
}

TEST(LintTest, HistogramQuantileWithoutLe) {
  EXPECT_THAT(Checks(AlertFile("histogram_quantile(0.9, sum by (job) (rate(x_bucket[5m]))) > 1")),
              ElementsAre(std::string(kLintHistogramQuantileWithoutLe)));
  EXPECT_THAT(
      Checks(AlertFile("histogram_quantile(0.9, sum without (le) (rate(x_bucket[5m]))) > 1")),
      ElementsAre(std::string(kLintHistogramQuantileWithoutLe)));
  EXPECT_THAT(
      Checks(AlertFile("histogram_quantile(0.9, sum by (le, job) (rate(x_bucket[5m]))) > 1")),
      IsEmpty());
  EXPECT_THAT(Checks(AlertFile("histogram_quantile(0.9, rate(x_bucket[5m])) > 1")), IsEmpty());
}

TEST(LintTest, DisabledChecksAreSkipped) {
  LintOptions options;
  options.disabled_checks = {std::string(kLintRateOfGauge)};
  EXPECT_THAT(Lint(AlertFile("rate(g[5m]) > 0"), options), IsEmpty());
}

}  // namespace
}  // namespace nimify::alerting
