// The parser of `test rules` reports, the comparison, and the case generator
// of alert_diff, without promtool.
#include "differential/alert_report.h"

#include <gtest/gtest.h>

#include "differential/alert_generator.h"

namespace nimify::differential {
namespace {

// Real promtool 2.42 output (stdout and stderr merged) for two files.
constexpr std::string_view kReport =
    "Unit Testing:  case_0.test.yml\n"
    "  FAILED:\n"
    "    alertname: A, time: 4m, \n"
    "        exp:[], \n"
    "        got:[\n"
    "            0:\n"
    "              Labels:{alertname=\"A\", job=\"a\", sev=\"a\"}\n"
    "              Annotations:{summary=\"v=5.000000001 a, b\"},\n"
    "            1:\n"
    "              Labels:{alertname=\"A\", job=\"b\"}\n"
    "              Annotations:{}\n"
    "            ]\n"
    "\n"
    "    expr: \"job:x:sum\", time: 4m,\n"
    "        exp: nil\n"
    "        got: {__name__=\"job:x:sum\", job=\"a\"} 5E+00\n"
    "\n"
    "    expr: \"x + on() y\", time: 3m, err: multiple matches for labels\n"
    "\n"
    "Unit Testing:  case_1.test.yml\n"
    "  SUCCESS\n"
    "\n";

TEST(AlertReportTest, ParsesAlertsSamplesAndErrors) {
  auto out = ParseTestRulesOutput(kReport);
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ(out->size(), 2u);
  const FileOutcome& f = out->at("case_0.test.yml");
  EXPECT_TRUE(f.failed);
  EXPECT_TRUE(f.other_lines.empty());
  ASSERT_EQ(f.findings.size(), 3u);
  const Finding& alerts = f.findings.at("alertname: A, time: 4m");
  ASSERT_EQ(alerts.alerts.size(), 2u);
  EXPECT_EQ(alerts.alerts[0].labels, "{alertname=\"A\", job=\"a\", sev=\"a\"}");
  EXPECT_EQ(alerts.alerts[0].annotations, "{summary=\"v=5.000000001 a, b\"}");
  EXPECT_EQ(alerts.alerts[1].annotations, "{}");
  const Finding& samples = f.findings.at("expr: \"job:x:sum\", time: 4m");
  ASSERT_EQ(samples.kind, FindingKind::kSamples);
  ASSERT_EQ(samples.samples.size(), 1u);
  EXPECT_EQ(samples.samples[0].value, 5);
  const Finding& error = f.findings.at("expr: \"x + on() y\", time: 3m");
  EXPECT_EQ(error.kind, FindingKind::kExprError);
  EXPECT_EQ(error.error, "multiple matches for labels");
  EXPECT_FALSE(out->at("case_1.test.yml").failed);
}

// Seen with seed 907631918268: two rules named Alert1 failing at 0s; promtool
// 2.42 and nimify both print the error once per rule.
TEST(AlertReportTest, NumbersRepeatedHeaders) {
  auto out = ParseTestRulesOutput(
      "Unit Testing:  f\n  FAILED:\n"
      "    rule: Alert1, time: 0s, err: first\n\n"
      "    rule: Alert1, time: 0s, err: second\n\n");
  ASSERT_TRUE(out.ok()) << out.status().message();
  const FileOutcome& f = out->at("f");
  ASSERT_EQ(f.findings.size(), 2u);
  EXPECT_EQ(f.findings.at("rule: Alert1, time: 0s").error, "first");
  EXPECT_EQ(f.findings.at("rule: Alert1, time: 0s #2").error, "second");
}

TEST(AlertReportTest, RejectsMalformedReports) {
  EXPECT_FALSE(ParseTestRulesOutput("  FAILED:\n").ok());
  EXPECT_FALSE(ParseTestRulesOutput("Unit Testing:  f\n    alertname: A, time: 1m, \n").ok());
  EXPECT_FALSE(
      ParseTestRulesOutput("Unit Testing:  f\n    expr: \"x\", time: 1m,\n        exp: nil\n")
          .ok());
}

TEST(AlertReportTest, CloseTextAllowsOnlyLastBitsInNumbers) {
  EXPECT_TRUE(CloseText("v=0.30000000000000004 x", "v=0.3 x"));
  EXPECT_TRUE(CloseText("1.5e+06", "1.5000000000000002e+06"));
  EXPECT_FALSE(CloseText("v=0.31 x", "v=0.3 x"));
  EXPECT_FALSE(CloseText("1.235k", "1.234k"));
  EXPECT_FALSE(CloseText("v=3 a", "v=3 b"));
  EXPECT_FALSE(CloseText("v=3", "v=3 "));
}

// Every change to one side of a report is a disagreement: the checker can fail.
TEST(AlertReportTest, EveryDifferenceIsADisagreement) {
  auto base = ParseTestRulesOutput(kReport);
  ASSERT_TRUE(base.ok());
  const FileOutcome& p = base->at("case_0.test.yml");
  EXPECT_TRUE(CompareOutcomes(p, p).disagreements.empty());
  EXPECT_EQ(CompareOutcomes(p, p).agreed, 3);

  const std::string key = "alertname: A, time: 4m";
  FileOutcome n = p;
  n.findings.at(key).alerts.pop_back();
  EXPECT_EQ(CompareOutcomes(p, n).disagreements.size(), 1u);
  n = p;
  n.findings.at(key).alerts[0].annotations = "{summary=\"v=5.1 a, b\"}";
  EXPECT_EQ(CompareOutcomes(p, n).disagreements.size(), 1u);
  n = p;
  n.findings.at(key).alerts[0].annotations = "{summary=\"v=5.0000000010000001 a, b\"}";
  Comparison close = CompareOutcomes(p, n);
  EXPECT_TRUE(close.disagreements.empty());
  EXPECT_EQ(close.tolerance, 1);
  n = p;
  n.findings.at(key).alerts[1].labels = "{alertname=\"A\", job=\"c\"}";
  EXPECT_EQ(CompareOutcomes(p, n).disagreements.size(), 1u);
  n = p;
  n.findings.erase(key);
  EXPECT_EQ(CompareOutcomes(p, n).disagreements.size(), 1u);
  n = p;
  n.findings.at("expr: \"job:x:sum\", time: 4m").samples[0].value = 5.5;
  EXPECT_EQ(CompareOutcomes(p, n).disagreements.size(), 1u);
  n = p;
  n.findings.at("expr: \"x + on() y\", time: 3m").error = "other text";
  Comparison errors = CompareOutcomes(p, n);
  EXPECT_TRUE(errors.disagreements.empty());
  EXPECT_EQ(errors.error_text, 1);
  n = p;
  n.other_lines.push_back("some file error");
  EXPECT_EQ(CompareOutcomes(p, n).disagreements.size(), 1u);
}

TEST(AlertGeneratorTest, DeterministicAndCoversTheFeatures) {
  Rng a(42), b(42);
  std::string all_rules;
  for (int i = 0; i < 50; ++i) {
    RuleCase x = GenerateRuleCase(&a, "r.yml");
    RuleCase y = GenerateRuleCase(&b, "r.yml");
    ASSERT_EQ(x.rules, y.rules);
    ASSERT_EQ(x.tests, y.tests);
    EXPECT_GE(x.alerting_rules, 1);
    EXPECT_GT(x.alert_checks, 0);
    EXPECT_NE(x.tests.find("rule_files: ['r.yml']"), std::string::npos);
    all_rules += x.rules;
  }
  for (const char* feature :
       {"for: ", "keep_firing_for: ", "record: ", "humanize", "$value", "$labels"}) {
    EXPECT_NE(all_rules.find(feature), std::string::npos) << feature;
  }
}

}  // namespace
}  // namespace nimify::differential
