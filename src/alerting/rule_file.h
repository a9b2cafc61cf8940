// Prometheus rule files (model/rulefmt): strict YAML decoding and the
// validation `promtool check rules` performs.
//
//   auto files = alerting::LoadRuleFiles({"rules/", "extra/*.yml"});
//   if (!files.ok()) std::cerr << files.status().message();  // "a.yml:7:13: group ..."
//   for (const auto& f : *files) for (const auto& g : f.groups) ...
//
// Loading is all-or-nothing: any error in any file fails the whole load, and
// the message lists every error found, one "file:line:col: problem" per line.
#ifndef NIMIFY_ALERTING_RULE_FILE_H_
#define NIMIFY_ALERTING_RULE_FILE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "alerting/source_pos.h"
#include "nimify/status.h"
#include "promql/ast.h"
#include "promql/labels.h"
#include "template/alert_template.h"

namespace nimify::alerting {

// Name/value pairs sorted by name that, unlike promql::Labels, keep empty
// values: a rule label set to "" deletes that label from the result, and an
// annotation that expands to "" is still present (as in Prometheus).
using LabelPairs = std::vector<promql::Label>;

enum class RuleKind : std::uint8_t { kAlerting, kRecording };

// One validated rule. Immutable after loading; safe to share.
struct RuleSpec {
  RuleKind kind = RuleKind::kAlerting;
  std::string name;  // the `alert` or `record` value
  std::string expr;  // the expression as written
  std::shared_ptr<const promql::Expr> parsed_expr;
  std::int64_t for_ms = 0;
  std::int64_t keep_firing_for_ms = 0;
  LabelPairs labels;       // raw values (templates, for alerting rules)
  LabelPairs annotations;  // alerting rules only
  // Compiled templates, aligned with `labels` / `annotations` (alerting rules only).
  std::vector<tmpl::AlertTemplate> label_templates;
  std::vector<tmpl::AlertTemplate> annotation_templates;

  int index = 0;  // 1-based position in its group
  SourcePos pos;  // the rule's mapping
  SourcePos name_pos;
  SourcePos expr_pos;
  SourcePos for_pos;
  std::vector<SourcePos> label_pos;  // aligned with `labels`
  std::vector<SourcePos> annotation_pos;
};

struct RuleGroupSpec {
  std::string name;
  std::string file;
  std::int64_t interval_ms = 0;                 // 0: use the global evaluation interval
  std::int64_t limit = 0;                       // 0: no limit
  std::optional<std::int64_t> query_offset_ms;  // unset: use the global rule query offset
  LabelPairs labels;                            // group labels (Prometheus 3.3+)
  std::vector<RuleSpec> rules;
  SourcePos pos;
};

struct RuleFileSpec {
  std::string path;
  std::vector<RuleGroupSpec> groups;
  std::size_t RuleCount() const noexcept;
};

struct RuleLoadOptions {
  // Reject fields Prometheus 2.42 does not know (query_offset, group labels),
  // as Debian's promtool does.
  bool prometheus2_fields_only = false;
  // promtool's --ignore-unknown-fields.
  bool ignore_unknown_fields = false;
};

// Parses and validates the content of one rule file. `origin` prefixes messages.
// kParseError lists every problem, one "origin:line:col: problem" per line.
Result<RuleFileSpec> ParseRuleFile(std::string_view content, std::string_view origin,
                                   const RuleLoadOptions& options = {});

// Reads and parses one file (kNotFound if it cannot be read).
Result<RuleFileSpec> LoadRuleFile(const std::string& path, const RuleLoadOptions& options = {});

// Expands each argument: a directory gives every *.yml / *.yaml file below it
// (except unit-test files named *.test.yml / *.test.yaml),
// a pattern with * ? or [ is globbed, anything else is taken as a file name.
// The result is sorted per argument and free of duplicates. A pattern or
// directory that matches nothing is kNotFound.
Result<std::vector<std::string>> ExpandRulePaths(const std::vector<std::string>& arguments);

// ExpandRulePaths + LoadRuleFile for each, all-or-nothing: the error lists the
// problems of every file.
Result<std::vector<RuleFileSpec>> LoadRuleFiles(const std::vector<std::string>& arguments,
                                                const RuleLoadOptions& options = {});

// Maps a "line:col" position inside the YAML scalar that starts at byte
// `scalar_offset` of `content` to a position in the file. Handles plain and
// quoted one-line scalars and literal (|) blocks; returns `fallback` otherwise.
SourcePos MapScalarPosition(std::string_view content, int scalar_offset, SourcePos scalar_pos,
                            int line_in_value, int col_in_value, SourcePos fallback);

}  // namespace nimify::alerting

#endif  // NIMIFY_ALERTING_RULE_FILE_H_
