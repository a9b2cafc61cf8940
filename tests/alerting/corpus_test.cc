// Real-world rule files: every file of awesome-prometheus-alerts loads, with
// every expression and template parsed, as `promtool check rules` 2.42 accepts them.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "alerting/lint.h"
#include "alerting/rule_file.h"

namespace nimify::alerting {
namespace {

TEST(CorpusTest, AwesomePrometheusAlertsLoad) {
  const std::filesystem::path dir =
      std::filesystem::path(NIMIFY_SHARED_DIR) / "corpus/awesome-prometheus-alerts/dist/rules";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  std::size_t files = 0, alerting = 0, recording = 0, templates = 0, lint_warnings = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".yml") continue;
    ++files;
    auto file = LoadRuleFile(entry.path().string());
    ASSERT_TRUE(file.ok()) << file.status().message();
    for (const auto& group : file->groups) {
      for (const auto& rule : group.rules) {
        ASSERT_NE(rule.parsed_expr, nullptr) << entry.path() << ": " << rule.name;
        if (rule.kind == RuleKind::kAlerting) {
          ++alerting;
          ASSERT_EQ(rule.label_templates.size(), rule.labels.size()) << rule.name;
          ASSERT_EQ(rule.annotation_templates.size(), rule.annotations.size()) << rule.name;
          templates += rule.labels.size() + rule.annotations.size();
        } else {
          ++recording;
        }
      }
    }
    // Lint must cope with everything real files contain.
    lint_warnings += LintRuleFile(*file).size();
  }
  EXPECT_EQ(files, 112u);
  EXPECT_EQ(alerting, 954u);
  EXPECT_EQ(recording, 0u);
  EXPECT_GT(templates, 954u * 2);
  EXPECT_GT(lint_warnings, 0u);
}

}  // namespace
}  // namespace nimify::alerting
