// The promtool unit-test runner: formats, outcomes and the execution model.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "ruletest/promtool_test_runner.h"

namespace nimify::ruletest {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(GoFormatTest, DurationString) {
  EXPECT_EQ(GoDurationString(0), "0s");
  EXPECT_EQ(GoDurationString(500), "500ms");
  EXPECT_EQ(GoDurationString(1500), "1.5s");
  EXPECT_EQ(GoDurationString(60'000), "1m0s");
  EXPECT_EQ(GoDurationString(90'000), "1m30s");
  EXPECT_EQ(GoDurationString(3'600'000), "1h0m0s");
  EXPECT_EQ(GoDurationString(86'400'000 + 1'010), "24h0m1.01s");
}

TEST(GoFormatTest, FloatE) {
  EXPECT_EQ(FormatFloatE(1), "1E+00");
  EXPECT_EQ(FormatFloatE(0), "0E+00");
  EXPECT_EQ(FormatFloatE(1234567), "1.234567E+06");
  EXPECT_EQ(FormatFloatE(0.1), "1E-01");
  EXPECT_EQ(FormatFloatE(-2.5e-300), "-2.5E-300");
  EXPECT_EQ(FormatFloatE(1.0 / 0.0), "+Inf");
  EXPECT_EQ(FormatFloatE(-1.0 / 0.0), "-Inf");
}

class RunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("nimify_unit_test_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    Write("rules.yml", R"(groups:
  - name: alerts
    rules:
      - alert: InstanceDown
        expr: up == 0
        for: 2m
        labels: {severity: page}
        annotations: {summary: 'Instance {{ $labels.instance }} down'}
  - name: recording
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
)");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }

  UnitTestFileResult Run(const std::string& test_yaml, UnitTestOptions options = {}) {
    return RunRuleUnitTestFile(Write("t.yml", test_yaml), options);
  }

  std::filesystem::path dir_;
};

constexpr const char* kPassing = R"(rule_files: [rules.yml]
tests:
  - interval: 1m
    name: down
    input_series:
      - series: 'up{job="api", instance="a:1"}'
        values: '1 0 0 0 0'
    alert_rule_test:
      - eval_time: 2m
        alertname: InstanceDown
        exp_alerts: []
      - eval_time: 3m
        alertname: InstanceDown
        exp_alerts:
          - exp_labels: {severity: page, job: api, instance: 'a:1'}
            exp_annotations: {summary: 'Instance a:1 down'}
    promql_expr_test:
      - expr: job:up:sum
        eval_time: 4m
        exp_samples:
          - labels: 'job:up:sum{job="api"}'
            value: 0
      - expr: ALERTS{alertstate="firing"}
        eval_time: 3m
        exp_samples:
          - labels: 'ALERTS{alertname="InstanceDown", alertstate="firing", instance="a:1", job="api", severity="page"}'
            value: 1
)";

TEST_F(RunnerTest, PassingFile) {
  for (auto compat : {promql::Compat::kPrometheus2, promql::Compat::kPrometheus3}) {
    UnitTestOptions options;
    options.compat = compat;
    auto r = Run(kPassing, options);
    EXPECT_EQ(r.outcome, UnitTestOutcome::kPassed) << ::testing::PrintToString(r.errors);
  }
}

TEST_F(RunnerTest, FailureMessagesFollowPromtool) {
  auto r = Run(R"(rule_files: [rules.yml]
tests:
  - interval: 1m
    name: broken
    input_series:
      - series: 'up{job="api", instance="a:1"}'
        values: '0 0 0'
    alert_rule_test:
      - eval_time: 2m
        alertname: InstanceDown
        exp_alerts: []
    promql_expr_test:
      - expr: up
        eval_time: 1m
        exp_samples:
          - labels: 'up{job="api", instance="a:1"}'
            value: 1
)");
  EXPECT_EQ(r.outcome, UnitTestOutcome::kFailed);
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_EQ(r.errors[0],
            "    name: broken,\n"
            "    alertname: InstanceDown, time: 2m, \n"
            "        exp:[], \n"
            "        got:[\n"
            "            0:\n"
            "              Labels:{alertname=\"InstanceDown\", instance=\"a:1\", job=\"api\", "
            "severity=\"page\"}\n"
            "              Annotations:{summary=\"Instance a:1 down\"}\n"
            "            ]");
  EXPECT_EQ(r.errors[1],
            "    name: broken,\n"
            "    expr: \"up\", time: 1m,\n"
            "        exp: {__name__=\"up\", instance=\"a:1\", job=\"api\"} 1E+00\n"
            "        got: {__name__=\"up\", instance=\"a:1\", job=\"api\"} 0E+00");
}

TEST_F(RunnerTest, RunSelectsTestGroupsByName) {
  const std::string yaml = std::string(kPassing) + R"(  - interval: 1m
    name: wrong
    input_series: [{series: 'x', values: '1'}]
    promql_expr_test: [{expr: x, eval_time: 0, exp_samples: [{labels: x, value: 2}]}]
)";
  EXPECT_EQ(Run(yaml).outcome, UnitTestOutcome::kFailed);
  UnitTestOptions only_down;
  only_down.run_patterns = {"^do"};
  EXPECT_EQ(Run(yaml, only_down).outcome, UnitTestOutcome::kPassed);
  UnitTestOptions either;
  either.run_patterns = {"nomatch", "ron"};
  EXPECT_EQ(Run(yaml, either).outcome, UnitTestOutcome::kFailed);
}

TEST_F(RunnerTest, BadInputs) {
  auto unknown = Run("tests:\n  - interval: 1m\n    bogus: 1\n");
  EXPECT_EQ(unknown.outcome, UnitTestOutcome::kBadInput);
  EXPECT_THAT(unknown.errors.at(0), HasSubstr("t.yml:3:5: field bogus not found in test group"));
  auto series = Run("tests:\n  - input_series: [{series: 'up{a=\"b\"', values: '1'}]\n");
  EXPECT_EQ(series.outcome, UnitTestOutcome::kBadInput);
  auto rule_file = Write("broken.yml", "groups: [{name: g, rules: [{record: r, expr: 'up +'}]}]\n");
  auto rules = Run("rule_files: [broken.yml]\ntests: [{}]\n");
  EXPECT_EQ(rules.outcome, UnitTestOutcome::kBadInput);
  EXPECT_THAT(rules.errors.at(0), HasSubstr("broken.yml:1:"));
  auto order = Run("group_eval_order: [a, a]\ntests: []\n");
  EXPECT_EQ(order.outcome, UnitTestOutcome::kBadInput);
  EXPECT_THAT(order.errors.at(0), HasSubstr("group name repeated in evaluation order: a"));
  auto no_name = Run("tests:\n  - alert_rule_test: [{eval_time: 1m}]\n");
  EXPECT_EQ(no_name.outcome, UnitTestOutcome::kBadInput);
  EXPECT_THAT(no_name.errors.at(0),
              HasSubstr("an item under alert_rule_test misses required attribute alertname"));
  // 3.x-only fields are unknown to 2.42.
  const std::string start = "tests:\n  - start_timestamp: 100\n    interval: 1m\n";
  UnitTestOptions p2;
  p2.compat = promql::Compat::kPrometheus2;
  EXPECT_EQ(Run(start, p2).outcome, UnitTestOutcome::kBadInput);
  EXPECT_EQ(Run(start).outcome, UnitTestOutcome::kPassed);
}

TEST_F(RunnerTest, RuleFilesMatchingNothingAreOnlyWarnings) {
  auto r = Run("rule_files: [missing.yml, 'none-*.yml', rules.yml]\ntests: [{interval: 1m}]\n");
  EXPECT_EQ(r.outcome, UnitTestOutcome::kPassed) << ::testing::PrintToString(r.errors);
  ASSERT_EQ(r.warnings.size(), 2u);
  EXPECT_THAT(r.warnings[0], HasSubstr("WARNING: no file match pattern"));
  EXPECT_THAT(r.warnings[0], HasSubstr("missing.yml"));
}

TEST_F(RunnerTest, RuleEvaluationErrorsEndTheGroup) {
  Write("join.yml", "groups: [{name: g, rules: [{record: joined, expr: 'a + on(k) b'}]}]\n");
  auto r = Run(R"(rule_files: [join.yml]
tests:
  - interval: 1m
    input_series:
      - {series: 'a{k="1"}', values: '1 1'}
      - {series: 'b{k="1", x="1"}', values: '1 1'}
      - {series: 'b{k="1", x="2"}', values: '1 1'}
    promql_expr_test: [{expr: a, eval_time: 1m, exp_samples: [{labels: 'x', value: 9}]}]
)");
  EXPECT_EQ(r.outcome, UnitTestOutcome::kFailed);
  ASSERT_EQ(r.errors.size(), 1u) << "the expression test never ran";
  EXPECT_THAT(r.errors[0], HasSubstr("    rule: joined, time: 0s, err: "));
}

TEST_F(RunnerTest, MissingIntervalIsZeroIn242AndEvaluationIntervalLater) {
  const std::string yaml = R"(tests:
  - input_series: [{series: test, values: '0 1'}]
    promql_expr_test:
      - {expr: test, eval_time: 1m, exp_samples: [{labels: test, value: 1}]}
)";
  UnitTestOptions p2;
  p2.compat = promql::Compat::kPrometheus2;
  auto old = Run(yaml, p2);
  EXPECT_EQ(old.outcome, UnitTestOutcome::kFailed);
  ASSERT_EQ(old.errors.size(), 1u);
  EXPECT_THAT(old.errors[0], HasSubstr("got: {__name__=\"test\"} 0E+00"))
      << "first sample wins at t=0";
  EXPECT_EQ(Run(yaml).outcome, UnitTestOutcome::kPassed);
}

TEST_F(RunnerTest, SamplesAfterTheLastStepAreNotLoaded) {
  auto r = Run(R"(evaluation_interval: 1m
tests:
  - interval: 30s
    input_series: [{series: test, values: '1 2 3 4'}]
    promql_expr_test: [{expr: test, eval_time: 90s, exp_samples: [{labels: test, value: 3}]}]
)");
  EXPECT_EQ(r.outcome, UnitTestOutcome::kPassed) << ::testing::PrintToString(r.errors);
}

TEST_F(RunnerTest, AlertChecksUseTheLatestStepAndOnlyFiringAlerts) {
  auto r = Run(R"(rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series: [{series: 'up{job="api", instance="a:1"}', values: '0 0 0 1'}]
    alert_rule_test:
      - {eval_time: 1m59s, alertname: InstanceDown, exp_alerts: []}
      - eval_time: 2m59s
        alertname: InstanceDown
        exp_alerts: [{exp_labels: {severity: page, job: api, instance: 'a:1'}, exp_annotations: {summary: 'Instance a:1 down'}}]
      - {eval_time: 3m, alertname: InstanceDown, exp_alerts: []}
)");
  EXPECT_EQ(r.outcome, UnitTestOutcome::kPassed) << ::testing::PrintToString(r.errors);
}

TEST_F(RunnerTest, ValueToleranceIsRelative) {
  const std::string yaml = R"(tests:
  - interval: 1m
    input_series: [{series: x, values: '0.30000000000000004'}]
    promql_expr_test: [{expr: x, eval_time: 0, exp_samples: [{labels: x, value: 0.3}]}]
)";
  EXPECT_EQ(Run(yaml).outcome, UnitTestOutcome::kPassed);
  UnitTestOptions exact;
  exact.value_tolerance = 0;
  EXPECT_EQ(Run(yaml, exact).outcome, UnitTestOutcome::kFailed);
  // NaN never equals NaN, as in promtool.
  auto nan = Run(R"(tests:
  - interval: 1m
    input_series: [{series: x, values: 'NaN'}]
    promql_expr_test: [{expr: x, eval_time: 0, exp_samples: [{labels: x, value: .nan}]}]
)");
  EXPECT_EQ(nan.outcome, UnitTestOutcome::kFailed);
}

TEST_F(RunnerTest, GroupEvalOrderDecidesWhichRecordingRuleSeesWhich) {
  Write("order.yml", R"(groups:
  - name: second
    rules: [{record: b, expr: 'a + 1'}]
  - name: first
    rules: [{record: a, expr: vector(1)}]
)");
  const std::string yaml = R"(rule_files: [order.yml]
group_eval_order: [first, second]
tests:
  - interval: 1m
    promql_expr_test: [{expr: b, eval_time: 0, exp_samples: [{labels: 'b', value: 2}]}]
)";
  EXPECT_EQ(Run(yaml).outcome, UnitTestOutcome::kPassed)
      << ::testing::PrintToString(Run(yaml).errors);
}

TEST_F(RunnerTest, PrintsPromtoolOutputAndExitCodes) {
  const std::string good = Write("good.yml", kPassing);
  const std::string bad = Write("bad.yml", "tests: [{bogus: 1}]\n");
  std::ostringstream out, err;
  EXPECT_EQ(RunRuleUnitTests({good}, {}, out, err), 0);
  EXPECT_EQ(out.str(), "Unit Testing:  " + good + "\n  SUCCESS\n\n");
  std::ostringstream out2, err2;
  EXPECT_EQ(RunRuleUnitTests({good, bad}, {}, out2, err2), 2);
  EXPECT_THAT(err2.str(), HasSubstr("  FAILED:\n"));
}

}  // namespace
}  // namespace nimify::ruletest
