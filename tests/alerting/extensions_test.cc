// nimify's alert extensions: the config file and hysteresis over real storage.
#include "alerting/extensions.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "alerting/group.h"
#include "alerting/rule_file.h"
#include "promql/evaluator.h"
#include "promqltest/memory_storage.h"

namespace nimify::alerting {
namespace {

using ::testing::HasSubstr;

constexpr std::int64_t kMin = 60'000;

std::string ConfigError(const std::string& yaml) {
  auto r = ParseExtensionConfig(yaml, "nimify.yml");
  return r.ok() ? "<ok>" : std::string(r.status().message());
}

TEST(ExtensionConfigTest, ParsesMatchersAndFeatures) {
  auto config = ParseExtensionConfig(R"(listen: ":9090"   # belongs to another part of the config
alert_extensions:
  - match: {alertname: HighMemoryUsage}
    recovery_expr: 'mem_used / mem_limit < 0.8'
    recovery_timeout: 1h
  - match_re: {severity: "SEV-[23]"}
    flap_detection: {window: 10, low: 0.2, high: 0.4}
)",
                                     "nimify.yml");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  ASSERT_EQ(config->alert_extensions.size(), 2u);
  const auto& hysteresis = config->alert_extensions[0];
  EXPECT_TRUE(hysteresis.has_hysteresis());
  EXPECT_EQ(hysteresis.recovery_timeout_ms, 60 * kMin);
  EXPECT_FALSE(hysteresis.flap_detection.has_value());
  const auto& flap = config->alert_extensions[1];
  ASSERT_TRUE(flap.flap_detection.has_value());
  EXPECT_EQ(flap.flap_detection->window, 10);
  EXPECT_EQ(flap.flap_detection->low, 0.2);
  EXPECT_EQ(flap.flap_detection->high, 0.4);
  // First match wins; regexes are anchored.
  EXPECT_EQ(config->Find(promql::Labels{{"alertname", "HighMemoryUsage"}, {"severity", "SEV-2"}}),
            &hysteresis);
  EXPECT_EQ(config->Find(promql::Labels{{"alertname", "X"}, {"severity", "SEV-3"}}), &flap);
  EXPECT_EQ(config->Find(promql::Labels{{"alertname", "X"}, {"severity", "SEV-33"}}), nullptr);
  EXPECT_EQ(config->Find(promql::Labels{{"alertname", "X"}}), nullptr);
}

TEST(ExtensionConfigTest, EmptyAndMissingSectionsAreFine) {
  EXPECT_EQ(ConfigError(""), "<ok>");
  EXPECT_EQ(ConfigError("other: 1\n"), "<ok>");
  EXPECT_TRUE(ParseExtensionConfig("alert_extensions: []\n", "x")->empty());
}

TEST(ExtensionConfigTest, Errors) {
  EXPECT_THAT(ConfigError("alert_extensions:\n  - match: {a: b}\n    recovery: x\n"),
              HasSubstr("nimify.yml:3:5: field recovery not found in alert extension"));
  EXPECT_THAT(ConfigError("alert_extensions:\n  - match: {a: b}\n"),
              HasSubstr("nimify.yml:2:5: alert extension needs recovery_expr or flap_detection"));
  EXPECT_THAT(ConfigError("alert_extensions:\n  - match_re: {a: '('}\n    flap_detection: {}\n"),
              HasSubstr("nimify.yml:2:16: match_re a: "));
  EXPECT_THAT(ConfigError("alert_extensions:\n  - recovery_expr: 'sum(('\n"),
              HasSubstr("nimify.yml:2:20: recovery_expr: "));
  EXPECT_THAT(ConfigError("alert_extensions:\n  - recovery_expr: '1'\n"),
              HasSubstr("must be an instant vector expression"));
  EXPECT_THAT(ConfigError("alert_extensions:\n  - flap_detection: {window: 2}\n"),
              HasSubstr("window must be between 3 and 10000"));
  EXPECT_THAT(ConfigError("alert_extensions:\n  - flap_detection: {low: 0.6, high: 0.5}\n"),
              HasSubstr("need 0 <= low <= high <= 1"));
  EXPECT_THAT(
      ConfigError("alert_extensions:\n  - flap_detection: {window: 5}\n    recovery_timeout: 1m\n"),
      HasSubstr("recovery_timeout needs a recovery_expr"));
  EXPECT_THAT(ConfigError("alert_extensions: {a: 1}\n"), HasSubstr("expected a sequence"));
}

// HighMemoryUsage fires at 90% and, with hysteresis, resolves only under 80%.
TEST(HysteresisGroupTest, FiresHighResolvesLow) {
  auto config = ParseExtensionConfig(R"(alert_extensions:
  - match: {alertname: HighMemoryUsage}
    recovery_expr: mem_used / mem_limit < 0.8
)",
                                     "nimify.yml");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  auto file = ParseRuleFile(R"(groups:
- name: g
  rules:
  - alert: HighMemoryUsage
    expr: mem_used / mem_limit > 0.9
    labels: {severity: SEV-2}
)",
                            "g.yml");
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  GroupOptions options;
  options.alerting.extensions = &*config;
  auto group = RuleGroup::Create(file->groups[0], options);
  ASSERT_TRUE(group.ok());

  promqltest::MemoryStorage storage;
  const promql::Labels used{{"__name__", "mem_used"}, {"pod", "p"}};
  const promql::Labels limit{{"__name__", "mem_limit"}, {"pod", "p"}};
  //                         0     1     2     3     4     5
  const double usage[] = {0.95, 0.85, 0.91, 0.85, 0.82, 0.75};
  promql::Evaluator evaluator(&storage, promql::EvalOptions{});
  const QueryFunc query = MakeEvaluatorQueryFunc(&evaluator);
  class Appender final : public SampleAppender {
   public:
    explicit Appender(promqltest::MemoryStorage* s) : s_(s) {}
    Status Append(const promql::Labels& l, std::int64_t t, double v) override {
      return s_->Append(l, t, v);
    }
    promqltest::MemoryStorage* s_;
  } appender(&storage);
  auto* rule = dynamic_cast<AlertingRule*>((*group)->rules()[0].get());
  std::vector<bool> firing;
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(storage.Append(used, i * kMin, usage[i]).ok());
    ASSERT_TRUE(storage.Append(limit, i * kMin, 1.0).ok());
    (*group)->Eval(i * kMin, query, &appender, nullptr);
    ASSERT_EQ(rule->health(), RuleHealth::kGood) << rule->last_error();
    firing.push_back(rule->State() == AlertState::kFiring);
  }
  // Without hysteresis it would resolve at 1 and re-fire at 2 (a new alert).
  EXPECT_EQ(firing, (std::vector<bool>{true, true, true, true, true, false}));
  EXPECT_EQ(rule->CurrentAlerts().at(0).active_at_ms, 0) << "one alert throughout";
  EXPECT_EQ(rule->CurrentAlerts().at(0).resolved_at_ms, 5 * kMin);
}

}  // namespace
}  // namespace nimify::alerting
