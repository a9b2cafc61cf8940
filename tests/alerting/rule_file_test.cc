// Rule-file loading and validation (promtool check rules semantics).
#include "alerting/rule_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace nimify::alerting {
namespace {

using ::testing::HasSubstr;

std::string ErrorOf(std::string_view yaml, const RuleLoadOptions& options = {}) {
  auto r = ParseRuleFile(yaml, "f.yml", options);
  if (r.ok()) return "<ok>";
  return std::string(r.status().message());
}

TEST(RuleFileTest, ParsesGroupsAndRules) {
  constexpr std::string_view kYaml = R"(groups:
  - name: api
    interval: 30s
    limit: 10
    query_offset: 1m
    labels: {team: sre}
    rules:
      - alert: ServiceDown
        expr: up{job="api"} == 0
        for: 2m
        keep_firing_for: 5m
        labels:
          severity: SEV-1
          instance_copy: '{{ $labels.instance }}'
        annotations:
          summary: down
      - record: job:up:sum
        expr: sum by (job) (up)
        labels: {source: rule}
)";
  auto r = ParseRuleFile(kYaml, "f.yml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->groups.size(), 1u);
  const auto& g = r->groups[0];
  EXPECT_EQ(g.name, "api");
  EXPECT_EQ(g.file, "f.yml");
  EXPECT_EQ(g.interval_ms, 30'000);
  EXPECT_EQ(g.limit, 10);
  EXPECT_EQ(g.query_offset_ms, 60'000);
  ASSERT_EQ(g.labels.size(), 1u);
  EXPECT_EQ(g.labels[0].value, "sre");
  ASSERT_EQ(g.rules.size(), 2u);
  EXPECT_EQ(r->RuleCount(), 2u);
  const auto& alert = g.rules[0];
  EXPECT_EQ(alert.kind, RuleKind::kAlerting);
  EXPECT_EQ(alert.name, "ServiceDown");
  EXPECT_EQ(alert.for_ms, 120'000);
  EXPECT_EQ(alert.keep_firing_for_ms, 300'000);
  ASSERT_EQ(alert.labels.size(), 2u);
  EXPECT_EQ(alert.labels[0].name, "instance_copy");  // sorted by name
  EXPECT_EQ(alert.label_templates.size(), 2u);
  EXPECT_EQ(alert.annotation_templates.size(), 1u);
  ASSERT_NE(alert.parsed_expr, nullptr);
  EXPECT_EQ(alert.expr_pos, (SourcePos{9, 15}));
  EXPECT_EQ(alert.for_pos, (SourcePos{10, 14}));
  EXPECT_EQ(alert.index, 1);
  EXPECT_EQ(g.rules[1].kind, RuleKind::kRecording);
  EXPECT_EQ(g.rules[1].index, 2);
}

TEST(RuleFileTest, EmptyFileHasNoGroups) {
  auto r = ParseRuleFile("", "f.yml");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->groups.empty());
  auto c = ParseRuleFile("# only a comment\n", "f.yml");
  ASSERT_TRUE(c.ok());
}

TEST(RuleFileTest, OnlyTheFirstDocumentCounts) {
  auto r = ParseRuleFile("groups: []\n---\ngroups: [{name: x, rules: [{bad: 1}]}]\n", "f.yml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->groups.empty());
}

TEST(RuleFileTest, UnknownFieldsAreErrorsWithPositions) {
  EXPECT_EQ(ErrorOf("groups:\n  - name: a\n    namespace: x\n    rules: []\n"),
            "f.yml:3:5: field namespace not found in rule group");
  EXPECT_EQ(ErrorOf("groups:\n- name: a\n  rules:\n  - record: x\n    expr: up\n    bogus: 1\n"),
            "f.yml:6:5: field bogus not found in rule");
  EXPECT_EQ(ErrorOf("groupz: []\n"), "f.yml:1:1: field groupz not found in rule file");
  RuleLoadOptions ignore;
  ignore.ignore_unknown_fields = true;
  EXPECT_EQ(ErrorOf("groups:\n  - name: a\n    namespace: x\n    rules: []\n", ignore), "<ok>");
}

TEST(RuleFileTest, Prometheus2RejectsNewerGroupFields) {
  RuleLoadOptions p2;
  p2.prometheus2_fields_only = true;
  EXPECT_EQ(ErrorOf("groups:\n  - name: a\n    query_offset: 1m\n    rules: []\n", p2),
            "f.yml:3:5: field query_offset not found in rule group");
  EXPECT_EQ(ErrorOf("groups:\n  - name: a\n    query_offset: 1m\n    rules: []\n"), "<ok>");
}

TEST(RuleFileTest, DuplicateKeysAndGroupNames) {
  EXPECT_THAT(ErrorOf("groups:\n- name: a\n  name: b\n  rules: []\n"),
              HasSubstr("f.yml:3:3: mapping key \"name\" already defined"));
  EXPECT_EQ(ErrorOf("groups:\n- name: a\n  rules: []\n- name: a\n  rules: []\n"),
            "f.yml:4:3: groupname: \"a\" is repeated in the same file");
  EXPECT_EQ(ErrorOf("groups:\n- rules: []\n"), "f.yml:2:3: Groupname must not be empty");
}

TEST(RuleFileTest, RuleKindErrors) {
  EXPECT_EQ(ErrorOf("groups:\n- name: g\n  rules:\n  - expr: up\n"),
            "f.yml:4:5: group \"g\", rule 1, \"\": one of 'record' or 'alert' must be set");
  EXPECT_EQ(ErrorOf("groups:\n- name: g\n  rules:\n  - record: a\n    alert: b\n    expr: up\n"),
            "f.yml:4:13: group \"g\", rule 1, \"b\": only one of 'record' and 'alert' must be set");
  EXPECT_EQ(ErrorOf("groups:\n- name: g\n  rules:\n  - alert: A\n"),
            "f.yml:4:5: group \"g\", rule 1, \"A\": field 'expr' must be set in rule");
}

// The "L:C" of the parser's message inside a rule-file error.
std::pair<int, int> ExprPosition(const std::string& err) {
  const std::string marker = "could not parse expression: ";
  const auto at = err.find(marker);
  if (at == std::string::npos) return {-1, -1};
  int line = -1, col = -1;
  std::sscanf(err.c_str() + at + marker.size(), "%d:%d:", &line, &col);
  return {line, col};
}

TEST(RuleFileTest, ExpressionErrorsPointIntoTheFile) {
  // Plain scalar: the column is offset from the start of the value (column 11).
  const std::string plain =
      ErrorOf("groups:\n- name: g\n  rules:\n  - record: x\n    expr: sum(up\n");
  auto [pl, pc] = ExprPosition(plain);
  ASSERT_EQ(pl, 1) << plain;
  EXPECT_THAT(plain, HasSubstr("f.yml:5:" + std::to_string(10 + pc) + ": group \"g\", rule 1"));
  // Quoted scalar: one more for the quote (promtool's bad-rules-syntax.yml case).
  const std::string quoted =
      ErrorOf("groups:\n- name: g\n  rules:\n  - record: x\n    expr: 'test +'\n");
  EXPECT_THAT(quoted, HasSubstr("could not parse expression: 1:7: parse error"));
  EXPECT_THAT(quoted, HasSubstr("f.yml:5:18:"));
  // Literal block: line and column inside the block (indented by 6).
  const std::string block = ErrorOf(
      "groups:\n- name: g\n  rules:\n  - record: x\n    expr: |\n      sum(up)\n        / foo "
      "bar\n");
  auto [bl, bc] = ExprPosition(block);
  ASSERT_EQ(bl, 2) << block;
  EXPECT_THAT(block, HasSubstr("f.yml:7:" + std::to_string(6 + bc) + ":"));
}

TEST(RuleFileTest, RecordingRuleRestrictions) {
  const std::string err = ErrorOf(
      "groups:\n- name: g\n  rules:\n  - record: 'a{b}'\n    expr: up\n    for: 1m\n"
      "    keep_firing_for: 1m\n    annotations: {x: y}\n");
  EXPECT_THAT(err, HasSubstr("invalid field 'annotations' in recording rule"));
  EXPECT_THAT(err, HasSubstr("invalid field 'for' in recording rule"));
  EXPECT_THAT(err, HasSubstr("invalid field 'keep_firing_for' in recording rule"));
  EXPECT_THAT(err, HasSubstr("invalid recording rule name: a{b}"));
  EXPECT_THAT(err, HasSubstr("braces present in the recording rule name"));
  EXPECT_THAT(err, HasSubstr("f.yml:6:10:"));  // the `for` value
}

TEST(RuleFileTest, LabelValidation) {
  const std::string err = ErrorOf(
      "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    labels:\n"
      "      __name__: x\n      0bad: y\n    annotations:\n      bad-name: z\n");
  EXPECT_THAT(err,
              HasSubstr("f.yml:7:7: group \"g\", rule 1, \"A\": invalid label name: __name__"));
  EXPECT_THAT(err, HasSubstr("f.yml:8:7: group \"g\", rule 1, \"A\": invalid label name: 0bad"));
  EXPECT_THAT(
      err, HasSubstr("f.yml:10:7: group \"g\", rule 1, \"A\": invalid annotation name: bad-name"));
  EXPECT_THAT(ErrorOf("groups:\n- name: g\n  labels: {__name__: x}\n  rules: []\n"),
              HasSubstr("invalid label name: __name__"));
}

TEST(RuleFileTest, TemplatesAreParseChecked) {
  const std::string err = ErrorOf(
      "groups:\n- name: alerts\n  rules:\n  - alert: InstanceDown\n    expr: up == 0\n"
      "    annotations:\n      summary: \"Instance {{ $label.foo }} down\"\n");
  EXPECT_THAT(err, HasSubstr("f.yml:7:7: group \"alerts\", rule 1, \"InstanceDown\": "
                             "annotation \"summary\": template: __alert_InstanceDown:1: "));
  EXPECT_THAT(err, HasSubstr("$label"));
  // Recording rule labels are not templates.
  EXPECT_EQ(ErrorOf("groups:\n- name: g\n  rules:\n  - record: r\n    expr: up\n"
                    "    labels: {a: '{{ oops'}\n"),
            "<ok>");
}

TEST(RuleFileTest, TypeErrors) {
  EXPECT_THAT(ErrorOf("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    for: 5\n"),
              HasSubstr("f.yml:6:10: field for: not a valid duration string: \"5\""));
  EXPECT_THAT(ErrorOf("groups:\n- name: g\n  limit: many\n  rules: []\n"),
              HasSubstr("f.yml:3:10: field limit: cannot unmarshal `many`"));
  EXPECT_THAT(ErrorOf("groups: {a: 1}\n"), HasSubstr("groups: expected a sequence"));
  EXPECT_THAT(ErrorOf("groups:\n- name: [a]\n  rules: []\n"),
              HasSubstr("f.yml:2:9: field name: expected a string, got a sequence"));
}

TEST(RuleFileTest, YamlSyntaxErrorsHavePositions) {
  EXPECT_THAT(ErrorOf("groups:\n- name: [a\n"), HasSubstr("f.yml:"));
  EXPECT_THAT(ErrorOf("groups:\n- name: [a\n"), HasSubstr("yaml: "));
}

TEST(RuleFileTest, ReportsAllErrorsAtOnce) {
  const std::string err =
      ErrorOf("groups:\n- name: g\n  rules:\n  - alert: A\n  - record: 'bad name'\n    expr: up\n");
  EXPECT_THAT(err, HasSubstr("field 'expr' must be set"));
  EXPECT_THAT(err, HasSubstr("invalid recording rule name"));
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1);
}

TEST(MapScalarPositionTest, Styles) {
  const std::string content =
      "expr: abc\nq: 'a''b c'\nd: \"x\\ty z\"\nb: |\n    line1\n    line2\n";
  // Plain scalar at 1:7.
  EXPECT_EQ(MapScalarPosition(content, 6, {1, 7}, 1, 3, {}), (SourcePos{1, 9}));
  // Single quotes: '' is one character in the value.
  EXPECT_EQ(MapScalarPosition(content, 13, {2, 4}, 1, 4, {}), (SourcePos{2, 9}));
  // Double quotes with an escape.
  EXPECT_EQ(MapScalarPosition(content, 25, {3, 4}, 1, 4, {}), (SourcePos{3, 9}));
  // Literal block: value line 2, column 3 -> file line 6, indent 4 + 3.
  const int block = static_cast<int>(content.find('|'));
  EXPECT_EQ(MapScalarPosition(content, block, {4, 4}, 2, 3, {}), (SourcePos{6, 7}));
  // Out of range offsets fall back.
  EXPECT_EQ(MapScalarPosition(content, -1, {1, 1}, 1, 1, {9, 9}), (SourcePos{9, 9}));
}

class RuleFilesOnDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() /
        ("nimify_rule_files_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
         "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "sub");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& rel, const std::string& text) { std::ofstream(dir_ / rel) << text; }
  std::filesystem::path dir_;
};

TEST_F(RuleFilesOnDiskTest, DirectoriesAndGlobs) {
  Write("a.yml", "groups: [{name: a, rules: [{record: a, expr: up}]}]\n");
  Write("sub/b.yaml", "groups: [{name: b, rules: [{record: b, expr: up}]}]\n");
  Write("notes.txt", "not yaml");
  Write("a.test.yml", "tests: []\n");  // a promtool unit-test file: not a rule file
  auto dir = ExpandRulePaths({dir_.string()});
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  EXPECT_EQ(dir->size(), 2u);
  auto glob = ExpandRulePaths({(dir_ / "*.yml").string(), (dir_ / "a.yml").string()});
  ASSERT_TRUE(glob.ok());
  // Globs take what they match (the test file too); duplicates are removed.
  EXPECT_EQ(glob->size(), 2u);
  auto none = ExpandRulePaths({(dir_ / "*.json").string()});
  EXPECT_FALSE(none.ok());
  auto files = LoadRuleFiles({dir_.string()});
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_EQ(files->size(), 2u);
}

TEST_F(RuleFilesOnDiskTest, AllOrNothing) {
  Write("a.yml", "groups: [{name: a, rules: [{record: a, expr: up}]}]\n");
  Write("b.yml", "groups: [{name: b, rules: [{record: b, expr: 'up +'}]}]\n");
  auto files = LoadRuleFiles({dir_.string()});
  ASSERT_FALSE(files.ok());
  EXPECT_THAT(std::string(files.status().message()), HasSubstr("b.yml:1:"));
  auto missing = LoadRuleFile((dir_ / "nope.yml").string());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

// The promtool fixtures: every valid one loads, the invalid one does not.
TEST(RuleFixturesTest, UpstreamFixtures) {
  const std::filesystem::path dir =
      std::filesystem::path(NIMIFY_SHARED_DIR) / "conformance/promtool-upstream/rules-fixtures";
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    auto r = LoadRuleFile(entry.path().string());
    if (entry.path().filename() == "invalid_rules.yaml") {
      EXPECT_FALSE(r.ok());
      EXPECT_THAT(std::string(r.status().message()),
                  HasSubstr("6:9: field unexpected_field not found in rule"));
    } else {
      EXPECT_TRUE(r.ok()) << entry.path() << ": " << r.status().ToString();
    }
    ++checked;
  }
  EXPECT_EQ(checked, 15);
  auto multi = LoadRuleFile((dir / "rules_multi_doc.yaml").string());
  ASSERT_TRUE(multi.ok());
  EXPECT_EQ(multi->groups.size(), 1u);
}

TEST(RuleFixturesTest, PromtoolCheckRulesCases) {
  const std::filesystem::path dir = std::filesystem::path(NIMIFY_SHARED_DIR) /
                                    "conformance/promtool-upstream/cmd-promtool-testdata";
  auto ok = LoadRuleFile((dir / "rules.yml").string());
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->RuleCount(), 5u);
  auto bad = LoadRuleFile((dir / "rules-bad.yml").string());
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr("group \"alerts\", rule 1, \"InstanceDown\": annotation \"summary\": "
                        "template: __alert_InstanceDown:1: undefined variable \"$label\""));
  auto extra = LoadRuleFile((dir / "rules_extrafields.yml").string());
  ASSERT_FALSE(extra.ok());
  EXPECT_THAT(std::string(extra.status().message()), HasSubstr(":7:5: field namespace"));
  EXPECT_THAT(std::string(extra.status().message()), HasSubstr(":21:5: field ownership"));
  auto syntax = LoadRuleFile((dir / "bad-rules-syntax.yml").string());
  ASSERT_FALSE(syntax.ok());
  EXPECT_THAT(std::string(syntax.status().message()),
              HasSubstr("bad-rules-syntax.yml:7:22: group \"bad-syntax\", rule 1, \"x\": could "
                        "not parse expression: 1:7: parse error: unexpected end of input"));
}

}  // namespace
}  // namespace nimify::alerting

namespace nimify::alerting {
namespace {

// Truncations and byte substitutions of a real rule file must give errors, never crashes.
TEST(RuleFileRobustnessTest, MutatedFilesNeverCrash) {
  const std::string original = R"(groups:
  - name: api
    interval: 30s
    rules:
      - alert: HighErrorRate
        expr: |
          sum by (job) (rate(http_requests_total{status=~"5.."}[5m]))
            / sum by (job) (rate(http_requests_total[5m])) > 0.05
        for: 2m
        labels: {severity: "SEV-1", team: '{{ $labels.job }}'}
        annotations:
          summary: "{{ $value | humanizePercentage }} errors on {{ $labels.job }}"
      - record: job:up:sum
        expr: sum by (job) (up)
)";
  const char kReplacements[] = {'\0', '\t', ':', '{', '}', '[', ']', '"', '\'', '|', '>',
                                '-',  '&',  '*', '!', '%', '@', '`', '#', '\n', ' ', '\xff'};
  std::uint32_t rng = 12345;
  auto next = [&rng] {
    rng = rng * 1664525u + 1013904223u;
    return rng >> 8;
  };
  int parsed_ok = 0;
  for (std::size_t cut = 0; cut <= original.size(); cut += 3) {
    auto r = ParseRuleFile(original.substr(0, cut), "m.yml");
    parsed_ok += r.ok() ? 1 : 0;
  }
  for (int i = 0; i < 2000; ++i) {
    std::string mutated = original;
    const int edits = 1 + static_cast<int>(next() % 3);
    for (int e = 0; e < edits; ++e) {
      mutated[next() % mutated.size()] = kReplacements[next() % sizeof(kReplacements)];
    }
    auto r = ParseRuleFile(mutated, "m.yml");
    if (r.ok()) {
      ++parsed_ok;
    } else {
      EXPECT_FALSE(r.status().message().empty());
    }
  }
  EXPECT_GT(parsed_ok, 0);
}

}  // namespace
}  // namespace nimify::alerting
