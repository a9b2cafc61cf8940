#include "alerting/rule_file.h"

#include <glob.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>

#include "alerting/yaml_util.h"
#include "common/utf8.h"
#include "promql/parser.h"

namespace nimify::alerting {

std::size_t RuleFileSpec::RuleCount() const noexcept {
  std::size_t n = 0;
  for (const auto& g : groups) n += g.rules.size();
  return n;
}

namespace {

// Go's utf8.ValidString, which model.LabelValue.IsValid uses.
using internal::IsValidUtf8;

// Splits a parser message "L:C: rest" into its position and the rest.
bool SplitPosition(std::string_view message, int* line, int* col) {
  int values[2] = {0, 0};
  std::size_t i = 0;
  for (int part = 0; part < 2; ++part) {
    const std::size_t start = i;
    while (i < message.size() && std::isdigit(static_cast<unsigned char>(message[i]))) ++i;
    if (i == start || i >= message.size() || message[i] != ':') return false;
    values[part] = std::stoi(std::string(message.substr(start, i - start)));
    ++i;
  }
  *line = values[0];
  *col = values[1];
  return true;
}

LabelPairs ToLabelPairs(const StringPairs& pairs) {
  LabelPairs out;
  out.reserve(pairs.size());
  for (const auto& [k, v] : pairs) out.push_back(promql::Label{k, v});
  return out;
}

class RuleFileParser {
 public:
  RuleFileParser(std::string_view content, std::string_view origin, const RuleLoadOptions& options)
      : content_(content), errors_(std::string(origin)), options_(options) {
    file_.path = std::string(origin);
  }

  Result<RuleFileSpec> Parse() {
    auto root = LoadFirstDocument(content_, errors_.origin());
    if (!root.ok()) return root.status();
    std::vector<YamlField> top;
    if (!ReadMapping(*root, {1, 1}, {"rule file", {"groups"}, options_.ignore_unknown_fields},
                     &errors_, &top)) {
      return errors_.ToStatus();
    }
    if (const YamlField* groups = FindField(top, "groups")) ParseGroups(*groups);
    NIMIFY_RETURN_IF_ERROR(errors_.ToStatus());
    return std::move(file_);
  }

 private:
  void ParseGroups(const YamlField& field) {
    if (field.value.IsNull()) return;
    if (!field.value.IsSequence()) {
      errors_.Add(field.value_pos,
                  "groups: expected a sequence, got " + std::string(NodeKindName(field.value)));
      return;
    }
    std::set<std::string, std::less<>> names;
    for (const auto& node : field.value) {
      RuleGroupSpec group;
      group.file = file_.path;
      group.pos = PosOf(node).known() ? PosOf(node) : field.value_pos;
      if (ParseGroup(node, &group)) {
        if (group.name.empty()) {
          errors_.Add(group.pos, "Groupname must not be empty");
        } else if (!names.insert(group.name).second) {
          errors_.Add(group.pos, "groupname: \"" + group.name + "\" is repeated in the same file");
        }
        file_.groups.push_back(std::move(group));
      }
    }
  }

  bool ParseGroup(const YAML::Node& node, RuleGroupSpec* group) {
    std::vector<YamlField> fields;
    MappingOptions opts{
        "rule group", {"name", "interval", "limit", "rules"}, options_.ignore_unknown_fields};
    if (!options_.prometheus2_fields_only) {
      opts.known = {"name", "interval", "limit", "rules", "query_offset", "labels"};
    }
    if (!ReadMapping(node, group->pos, opts, &errors_, &fields)) return false;
    if (const auto* f = FindField(fields, "name")) {
      if (auto v = ReadString(*f, &errors_)) group->name = *v;
    }
    if (const auto* f = FindField(fields, "interval")) {
      if (auto v = ReadDurationMs(*f, &errors_)) group->interval_ms = *v;
    }
    if (const auto* f = FindField(fields, "limit")) {
      if (auto v = ReadInt(*f, &errors_)) group->limit = *v;
    }
    if (const auto* f = FindField(fields, "query_offset")) {
      if (auto v = ReadDurationMs(*f, &errors_)) group->query_offset_ms = *v;
    }
    if (const auto* f = FindField(fields, "labels")) {
      std::vector<SourcePos> key_pos;
      if (auto v = ReadStringMap(*f, &errors_, &key_pos)) {
        group->labels = ToLabelPairs(*v);
        for (std::size_t i = 0; i < group->labels.size(); ++i) {
          const auto& l = group->labels[i];
          if (!promql::IsValidLabelName(l.name) || l.name == promql::kMetricNameLabel) {
            errors_.Add(key_pos[i], "group \"" + group->name + "\": invalid label name: " + l.name);
          }
          if (!IsValidUtf8(l.value)) {
            errors_.Add(key_pos[i],
                        "group \"" + group->name + "\": invalid label value: " + l.value);
          }
        }
      }
    }
    if (const auto* f = FindField(fields, "rules")) {
      if (f->value.IsNull()) return true;
      if (!f->value.IsSequence()) {
        errors_.Add(f->value_pos,
                    "rules: expected a sequence, got " + std::string(NodeKindName(f->value)));
        return true;
      }
      int index = 0;
      for (const auto& rule_node : f->value) {
        RuleSpec rule;
        rule.index = ++index;
        rule.pos = PosOf(rule_node).known() ? PosOf(rule_node) : f->value_pos;
        if (ParseRule(rule_node, group->name, &rule)) group->rules.push_back(std::move(rule));
      }
    }
    return true;
  }

  // "group "g", rule 3, "Name": problem", Prometheus's rulefmt.Error text.
  void RuleError(SourcePos pos, const std::string& group, const RuleSpec& rule,
                 std::string_view problem) {
    errors_.Add(pos, "group \"" + group + "\", rule " + std::to_string(rule.index) + ", \"" +
                         rule.name + "\": " + std::string(problem));
  }

  bool ParseRule(const YAML::Node& node, const std::string& group, RuleSpec* rule) {
    std::vector<YamlField> fields;
    const MappingOptions opts{
        "rule",
        {"record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"},
        options_.ignore_unknown_fields};
    const std::size_t errors_before = errors_.size();
    if (!ReadMapping(node, rule->pos, opts, &errors_, &fields)) return false;

    std::string record, alert;
    SourcePos record_pos = rule->pos, alert_pos = rule->pos;
    if (const auto* f = FindField(fields, "record")) {
      if (auto v = ReadString(*f, &errors_)) record = *v;
      record_pos = f->value_pos;
    }
    if (const auto* f = FindField(fields, "alert")) {
      if (auto v = ReadString(*f, &errors_)) alert = *v;
      alert_pos = f->value_pos;
    }
    rule->kind = alert.empty() && !record.empty() ? RuleKind::kRecording : RuleKind::kAlerting;
    rule->name = rule->kind == RuleKind::kRecording ? record : alert;
    rule->name_pos = rule->kind == RuleKind::kRecording ? record_pos : alert_pos;

    if (!record.empty() && !alert.empty()) {
      RuleError(record_pos, group, *rule, "only one of 'record' and 'alert' must be set");
    }
    if (record.empty() && alert.empty()) {
      RuleError(rule->pos, group, *rule, "one of 'record' or 'alert' must be set");
    }

    const YamlField* expr_field = FindField(fields, "expr");
    if (expr_field) {
      if (auto v = ReadString(*expr_field, &errors_)) rule->expr = *v;
      rule->expr_pos = expr_field->value_pos;
    }
    if (rule->expr.empty()) {
      RuleError(expr_field ? expr_field->value_pos : rule->pos, group, *rule,
                "field 'expr' must be set in rule");
    } else {
      auto parsed = promql::ParseExpr(rule->expr);
      if (parsed.ok()) {
        rule->parsed_expr = std::move(*parsed);
      } else {
        const std::string message(parsed.status().message());
        SourcePos pos = rule->expr_pos;
        int line = 0, col = 0;
        if (SplitPosition(message, &line, &col)) {
          pos = MapScalarPosition(content_, OffsetOf(expr_field->value), rule->expr_pos, line, col,
                                  rule->expr_pos);
        }
        RuleError(pos, group, *rule, "could not parse expression: " + message);
      }
    }

    std::int64_t keep_firing_for = 0;
    SourcePos keep_pos;
    if (const auto* f = FindField(fields, "for")) {
      if (auto v = ReadDurationMs(*f, &errors_)) rule->for_ms = *v;
      rule->for_pos = f->value_pos;
    }
    if (const auto* f = FindField(fields, "keep_firing_for")) {
      if (auto v = ReadDurationMs(*f, &errors_)) keep_firing_for = *v;
      keep_pos = f->value_pos;
    }
    rule->keep_firing_for_ms = keep_firing_for;

    const YamlField* labels_field = FindField(fields, "labels");
    if (labels_field) {
      if (auto v = ReadStringMap(*labels_field, &errors_, &rule->label_pos)) {
        rule->labels = ToLabelPairs(*v);
      }
    }
    const YamlField* annotations_field = FindField(fields, "annotations");
    if (annotations_field) {
      if (auto v = ReadStringMap(*annotations_field, &errors_, &rule->annotation_pos)) {
        rule->annotations = ToLabelPairs(*v);
      }
    }

    if (rule->kind == RuleKind::kRecording && !record.empty()) {
      if (!rule->annotations.empty()) {
        RuleError(annotations_field->key_pos, group, *rule,
                  "invalid field 'annotations' in recording rule");
      }
      if (rule->for_ms != 0) {
        RuleError(rule->for_pos, group, *rule, "invalid field 'for' in recording rule");
      }
      if (keep_firing_for != 0) {
        RuleError(keep_pos, group, *rule, "invalid field 'keep_firing_for' in recording rule");
      }
      if (!promql::IsValidMetricName(record)) {
        RuleError(record_pos, group, *rule, "invalid recording rule name: " + record);
      }
      if (record.find_first_of("{}") != std::string::npos) {
        RuleError(record_pos, group, *rule,
                  "braces present in the recording rule name; should it be in expr?: " + record);
      }
    }

    for (std::size_t i = 0; i < rule->labels.size(); ++i) {
      const auto& l = rule->labels[i];
      const SourcePos pos = i < rule->label_pos.size() ? rule->label_pos[i] : rule->pos;
      if (!promql::IsValidLabelName(l.name) || l.name == promql::kMetricNameLabel) {
        RuleError(pos, group, *rule, "invalid label name: " + l.name);
      }
      if (!IsValidUtf8(l.value)) RuleError(pos, group, *rule, "invalid label value: " + l.value);
    }
    for (std::size_t i = 0; i < rule->annotations.size(); ++i) {
      const auto& a = rule->annotations[i];
      const SourcePos pos = i < rule->annotation_pos.size() ? rule->annotation_pos[i] : rule->pos;
      if (!promql::IsValidLabelName(a.name)) {
        RuleError(pos, group, *rule, "invalid annotation name: " + a.name);
      }
    }

    // Templates are parse-checked for alerting rules only (testTemplateParsing).
    if (!alert.empty()) {
      const std::string template_name = "__alert_" + alert;
      for (std::size_t i = 0; i < rule->labels.size(); ++i) {
        const auto& l = rule->labels[i];
        auto t = tmpl::AlertTemplate::Compile(l.value, template_name);
        if (t.ok()) {
          rule->label_templates.push_back(std::move(*t));
        } else {
          RuleError(i < rule->label_pos.size() ? rule->label_pos[i] : rule->pos, group, *rule,
                    "label \"" + l.name + "\": " + std::string(t.status().message()));
        }
      }
      for (std::size_t i = 0; i < rule->annotations.size(); ++i) {
        const auto& a = rule->annotations[i];
        auto t = tmpl::AlertTemplate::Compile(a.value, template_name);
        if (t.ok()) {
          rule->annotation_templates.push_back(std::move(*t));
        } else {
          RuleError(i < rule->annotation_pos.size() ? rule->annotation_pos[i] : rule->pos, group,
                    *rule, "annotation \"" + a.name + "\": " + std::string(t.status().message()));
        }
      }
    }
    return errors_.size() == errors_before;
  }

  std::string_view content_;
  ErrorList errors_;
  RuleLoadOptions options_;
  RuleFileSpec file_;
};

bool HasGlobChars(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

// Directory members: *.yml / *.yaml, except promtool unit-test files kept next
// to their rules (*.test.yml / *.test.yaml).
bool IsRuleFileName(const std::filesystem::path& p) {
  const std::string ext = p.extension().string();
  if (ext != ".yml" && ext != ".yaml") return false;
  return p.stem().extension() != ".test";
}

}  // namespace

SourcePos MapScalarPosition(std::string_view content, int scalar_offset, SourcePos scalar_pos,
                            int line_in_value, int col_in_value, SourcePos fallback) {
  if (scalar_offset < 0 || static_cast<std::size_t>(scalar_offset) >= content.size() ||
      !scalar_pos.known() || line_in_value < 1 || col_in_value < 1) {
    return fallback;
  }
  const auto offset = static_cast<std::size_t>(scalar_offset);
  const char style = content[offset];
  if (style == '|') {
    // Literal block: value line k is the k-th line after the header line.
    std::size_t p = content.find('\n', offset);
    if (p == std::string_view::npos) return fallback;
    int indent = -1;
    for (std::size_t line_start = p + 1; line_start < content.size();) {
      std::size_t end = content.find('\n', line_start);
      if (end == std::string_view::npos) end = content.size();
      const std::string_view line = content.substr(line_start, end - line_start);
      const std::size_t first = line.find_first_not_of(' ');
      if (first != std::string_view::npos && line[first] != '\r') {
        indent = static_cast<int>(first);
        break;
      }
      line_start = end + 1;
    }
    if (indent < 0) return fallback;
    return {scalar_pos.line + line_in_value, indent + col_in_value};
  }
  if (line_in_value != 1) return fallback;  // folded and multi-line flow scalars: no exact map
  if (style == '>') return fallback;
  if (style == '"' || style == '\'') {
    std::size_t i = offset + 1;
    int column = scalar_pos.column + 1;
    for (int consumed = 0; consumed < col_in_value - 1; ++consumed) {
      if (i >= content.size() || content[i] == '\n') return fallback;
      if (style == '\'' && content[i] == '\'') {
        i += 2;  // '' is one quote
        column += 2;
      } else if (style == '"' && content[i] == '\\' && i + 1 < content.size()) {
        const char e = content[i + 1];
        const int width = e == 'x' ? 4 : e == 'u' ? 6 : e == 'U' ? 10 : 2;
        i += width;
        column += width;
      } else {
        ++i;
        ++column;
      }
    }
    return {scalar_pos.line, column};
  }
  return {scalar_pos.line, scalar_pos.column + col_in_value - 1};
}

Result<RuleFileSpec> ParseRuleFile(std::string_view content, std::string_view origin,
                                   const RuleLoadOptions& options) {
  try {
    return RuleFileParser(content, origin, options).Parse();
  } catch (const std::exception& e) {
    // yaml-cpp may throw from accessors we did not anticipate.
    return Status::ParseError(std::string(origin) + ": " + e.what());
  }
}

Result<RuleFileSpec> LoadRuleFile(const std::string& path, const RuleLoadOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open file");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return Status::NotFound(path + ": read error");
  return ParseRuleFile(buffer.str(), path, options);
}

Result<std::vector<std::string>> ExpandRulePaths(const std::vector<std::string>& arguments) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  std::set<std::string, std::less<>> seen;
  auto add = [&](std::string p) {
    if (seen.insert(p).second) out.push_back(std::move(p));
  };
  for (const auto& arg : arguments) {
    std::error_code ec;
    if (fs::is_directory(arg, ec)) {
      std::vector<std::string> found;
      for (fs::recursive_directory_iterator it(arg, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->is_regular_file(ec) && IsRuleFileName(it->path())) {
          found.push_back(it->path().string());
        }
      }
      if (ec) return Status::NotFound(arg + ": " + ec.message());
      if (found.empty()) return Status::NotFound(arg + ": no *.yml or *.yaml files in directory");
      std::sort(found.begin(), found.end());
      for (auto& f : found) add(std::move(f));
    } else if (HasGlobChars(arg)) {
      glob_t g{};
      const int rc = ::glob(arg.c_str(), 0, nullptr, &g);
      std::vector<std::string> found;
      if (rc == 0) {
        for (std::size_t i = 0; i < g.gl_pathc; ++i) found.emplace_back(g.gl_pathv[i]);
      }
      ::globfree(&g);
      if (rc == GLOB_NOMATCH || found.empty()) {
        return Status::NotFound(arg + ": no files match the pattern");
      }
      if (rc != 0) return Status::NotFound(arg + ": cannot expand the pattern");
      std::sort(found.begin(), found.end());
      for (auto& f : found) add(std::move(f));
    } else {
      add(arg);
    }
  }
  return out;
}

Result<std::vector<RuleFileSpec>> LoadRuleFiles(const std::vector<std::string>& arguments,
                                                const RuleLoadOptions& options) {
  NIMIFY_ASSIGN_OR_RETURN(std::vector<std::string> paths, ExpandRulePaths(arguments));
  std::vector<RuleFileSpec> files;
  std::string errors;
  for (const auto& path : paths) {
    auto file = LoadRuleFile(path, options);
    if (!file.ok()) {
      if (!errors.empty()) errors += '\n';
      errors += file.status().message();
      continue;
    }
    files.push_back(std::move(*file));
  }
  if (!errors.empty()) return Status::ParseError(std::move(errors));
  return files;
}

}  // namespace nimify::alerting
