#include "ruletest/promtool_test_runner.h"

#include <re2/re2.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <unordered_map>

#include "alerting/group.h"
#include "alerting/rule.h"
#include "alerting/rule_file.h"
#include "alerting/yaml_util.h"
#include "common/go_strconv.h"
#include "promql/parser.h"
#include "promqltest/memory_storage.h"
#include "promqltest/series_notation.h"

namespace nimify::ruletest {

// The runner drives the alerting stage's rule loading and evaluation.
using alerting::AlertState;
using alerting::AlertingRule;
using alerting::ErrorList;
using alerting::ExpandRulePaths;
using alerting::FindField;
using alerting::FormatLabelPairsBraced;
using alerting::FormatLabelsBraced;
using alerting::GroupOptions;
using alerting::LabelPairs;
using alerting::LoadFirstDocument;
using alerting::LoadRuleFile;
using alerting::MakeEvaluatorQueryFunc;
using alerting::MappingOptions;
using alerting::NodeKindName;
using alerting::PosOf;
using alerting::QueryFunc;
using alerting::ReadBool;
using alerting::ReadDurationMs;
using alerting::ReadFloat;
using alerting::ReadMapping;
using alerting::ReadString;
using alerting::ReadStringList;
using alerting::ReadStringMap;
using alerting::RuleFileSpec;
using alerting::RuleGroup;
using alerting::RuleHealth;
using alerting::RuleLoadOptions;
using alerting::SampleAppender;
using alerting::SourcePos;
using alerting::YamlField;

std::string GoDurationString(std::int64_t ms) {
  if (ms == 0) return "0s";
  if (ms < 0) return "-" + GoDurationString(-ms);
  if (ms < 1000) return std::to_string(ms) + "ms";
  const std::int64_t hours = ms / 3'600'000;
  const std::int64_t minutes = ms / 60'000 % 60;
  const std::int64_t seconds = ms / 1000 % 60;
  const std::int64_t millis = ms % 1000;
  std::string out;
  if (hours > 0) out += std::to_string(hours) + "h";
  if (hours > 0 || minutes > 0) out += std::to_string(minutes) + "m";
  out += std::to_string(seconds);
  if (millis > 0) {
    std::string frac = std::to_string(millis);
    frac.insert(0, 3 - frac.size(), '0');
    while (frac.back() == '0') frac.pop_back();
    out += "." + frac;
  }
  out += "s";
  return out;
}

std::string FormatFloatE(double v) { return internal::FormatGoFloat(v, 'E', -1); }

namespace {

// ---------------------------------------------------------------------------
// The test file model (cmd/promtool/unittest.go), decoded strictly.

struct InputSeries {
  std::string series;
  std::string values;
};

struct ExpectedAlert {
  LabelPairs labels;  // alertname added by the runner
  LabelPairs annotations;
};

struct AlertTestCase {
  std::int64_t eval_time_ms = 0;
  std::string alertname;
  std::vector<ExpectedAlert> exp_alerts;
};

struct ExpectedSample {
  std::string labels;
  double value = 0;
};

struct ExprTestCase {
  std::string expr;
  std::int64_t eval_time_ms = 0;
  std::vector<ExpectedSample> exp_samples;
};

struct TestGroup {
  std::int64_t interval_ms = 0;  // 0: not given
  std::vector<InputSeries> input_series;
  std::vector<AlertTestCase> alert_tests;
  std::vector<ExprTestCase> expr_tests;
  promql::Labels external_labels;
  std::string external_url;
  std::string name;
  std::int64_t start_ms = 0;  // start_timestamp (3.x)
};

struct TestFile {
  std::vector<std::string> rule_files;
  std::int64_t evaluation_interval_ms = 0;
  std::vector<std::string> group_eval_order;
  std::vector<TestGroup> tests;
  bool fuzzy_compare = false;  // 3.x; the runner's tolerance already covers 1 ULP
};

// RFC3339 ("2024-01-01T00:00:00Z", fractions and offsets allowed) -> Unix ms.
std::optional<std::int64_t> ParseRfc3339(const std::string& s) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute,
                  &second, &consumed) != 6) {
    return std::nullopt;
  }
  std::size_t i = static_cast<std::size_t>(consumed);
  std::int64_t millis = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int digits = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      if (digits < 3) millis = millis * 10 + (s[i] - '0');
      ++digits;
      ++i;
    }
    for (; digits < 3; ++digits) millis *= 10;
  }
  std::int64_t offset_s = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh = 0, om = 0;
    if (std::sscanf(s.c_str() + i + 1, "%2d:%2d", &oh, &om) != 2) return std::nullopt;
    offset_s = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  // Days from civil (Howard Hinnant's algorithm).
  const int y = year - (month <= 2 ? 1 : 0);
  const int era = (y >= 0 ? y : y - 399) / 400;
  const int yoe = y - era * 400;
  const int doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const std::int64_t days = static_cast<std::int64_t>(era) * 146097 + doe - 719468;
  const std::int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_s;
  return secs * 1000 + millis;
}

class TestFileDecoder {
 public:
  TestFileDecoder(std::string origin, const UnitTestOptions& options)
      : errors_(std::move(origin)), compat3_(options.compat == promql::Compat::kPrometheus3) {}

  ErrorList& errors() { return errors_; }

  std::optional<TestFile> Decode(const YAML::Node& root) {
    TestFile file;
    std::vector<YamlField> fields;
    MappingOptions opts{"unit test file",
                        {"rule_files", "evaluation_interval", "group_eval_order", "tests"}};
    if (compat3_) opts.known.push_back("fuzzy_compare");
    if (!ReadMapping(root, {1, 1}, opts, &errors_, &fields)) return std::nullopt;
    if (const auto* f = FindField(fields, "rule_files")) {
      if (auto v = ReadStringList(*f, &errors_)) file.rule_files = *v;
    }
    if (const auto* f = FindField(fields, "evaluation_interval")) {
      if (auto v = ReadDurationMs(*f, &errors_)) file.evaluation_interval_ms = *v;
    }
    if (const auto* f = FindField(fields, "group_eval_order")) {
      if (auto v = ReadStringList(*f, &errors_)) file.group_eval_order = *v;
    }
    if (const auto* f = FindField(fields, "fuzzy_compare")) {
      if (auto v = ReadBool(*f, &errors_)) file.fuzzy_compare = *v;
    }
    if (const auto* f = FindField(fields, "tests")) {
      ForEachItem(*f, [&](const YAML::Node& node, SourcePos pos) {
        TestGroup group;
        if (DecodeGroup(node, pos, &group)) file.tests.push_back(std::move(group));
      });
    }
    if (!errors_.empty()) return std::nullopt;
    return file;
  }

 private:
  template <typename Fn>
  void ForEachItem(const YamlField& field, Fn fn) {
    if (field.value.IsNull()) return;
    if (!field.value.IsSequence()) {
      errors_.Add(field.value_pos, field.key + ": expected a sequence, got " +
                                       std::string(NodeKindName(field.value)));
      return;
    }
    for (const auto& node : field.value) {
      fn(node, PosOf(node).known() ? PosOf(node) : field.value_pos);
    }
  }

  bool DecodeGroup(const YAML::Node& node, SourcePos pos, TestGroup* group) {
    std::vector<YamlField> fields;
    MappingOptions opts{"test group",
                        {"interval", "input_series", "alert_rule_test", "promql_expr_test",
                         "external_labels", "external_url", "name"}};
    if (compat3_) opts.known.push_back("start_timestamp");
    if (!ReadMapping(node, pos, opts, &errors_, &fields)) return false;
    if (const auto* f = FindField(fields, "interval")) {
      if (auto v = ReadDurationMs(*f, &errors_)) group->interval_ms = *v;
    }
    if (const auto* f = FindField(fields, "name")) {
      if (auto v = ReadString(*f, &errors_)) group->name = *v;
    }
    if (const auto* f = FindField(fields, "external_url")) {
      if (auto v = ReadString(*f, &errors_)) group->external_url = *v;
    }
    if (const auto* f = FindField(fields, "external_labels")) {
      if (auto v = ReadStringMap(*f, &errors_)) {
        for (const auto& [k, val] : *v) group->external_labels.Set(k, val);
      }
    }
    if (const auto* f = FindField(fields, "start_timestamp")) {
      if (auto text = ReadString(*f, &errors_)) {
        std::int64_t unix_seconds = 0;
        auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), unix_seconds);
        if (ec == std::errc() && ptr == text->data() + text->size()) {
          group->start_ms = unix_seconds * 1000;
        } else if (auto ms = ParseRfc3339(*text)) {
          group->start_ms = *ms;
        } else {
          errors_.Add(f->value_pos,
                      "start_timestamp: expected Unix seconds or RFC3339, got \"" + *text + "\"");
        }
      }
    }
    if (const auto* f = FindField(fields, "input_series")) {
      ForEachItem(*f, [&](const YAML::Node& item, SourcePos item_pos) {
        std::vector<YamlField> sf;
        if (!ReadMapping(item, item_pos, {"input series", {"series", "values"}}, &errors_, &sf)) {
          return;
        }
        InputSeries s;
        if (const auto* v = FindField(sf, "series"))
          s.series = ReadString(*v, &errors_).value_or("");
        if (const auto* v = FindField(sf, "values"))
          s.values = ReadString(*v, &errors_).value_or("");
        group->input_series.push_back(std::move(s));
      });
    }
    if (const auto* f = FindField(fields, "alert_rule_test")) {
      ForEachItem(*f, [&](const YAML::Node& item, SourcePos item_pos) {
        std::vector<YamlField> af;
        if (!ReadMapping(item, item_pos, {"alert test", {"eval_time", "alertname", "exp_alerts"}},
                         &errors_, &af)) {
          return;
        }
        AlertTestCase tc;
        if (const auto* v = FindField(af, "eval_time")) {
          tc.eval_time_ms = ReadDurationMs(*v, &errors_).value_or(0);
        }
        if (const auto* v = FindField(af, "alertname")) {
          tc.alertname = ReadString(*v, &errors_).value_or("");
        }
        if (const auto* v = FindField(af, "exp_alerts")) {
          ForEachItem(*v, [&](const YAML::Node& exp, SourcePos exp_pos) {
            std::vector<YamlField> ef;
            if (!ReadMapping(exp, exp_pos, {"expected alert", {"exp_labels", "exp_annotations"}},
                             &errors_, &ef)) {
              return;
            }
            ExpectedAlert ea;
            if (const auto* l = FindField(ef, "exp_labels")) {
              if (auto m = ReadStringMap(*l, &errors_)) {
                for (auto& [k, val] : *m) ea.labels.push_back(promql::Label{k, val});
              }
            }
            if (const auto* a = FindField(ef, "exp_annotations")) {
              if (auto m = ReadStringMap(*a, &errors_)) {
                for (auto& [k, val] : *m) ea.annotations.push_back(promql::Label{k, val});
              }
            }
            tc.exp_alerts.push_back(std::move(ea));
          });
        }
        group->alert_tests.push_back(std::move(tc));
      });
    }
    if (const auto* f = FindField(fields, "promql_expr_test")) {
      ForEachItem(*f, [&](const YAML::Node& item, SourcePos item_pos) {
        std::vector<YamlField> ef;
        if (!ReadMapping(item, item_pos, {"expression test", {"expr", "eval_time", "exp_samples"}},
                         &errors_, &ef)) {
          return;
        }
        ExprTestCase tc;
        if (const auto* v = FindField(ef, "expr")) tc.expr = ReadString(*v, &errors_).value_or("");
        if (const auto* v = FindField(ef, "eval_time")) {
          tc.eval_time_ms = ReadDurationMs(*v, &errors_).value_or(0);
        }
        if (const auto* v = FindField(ef, "exp_samples")) {
          ForEachItem(*v, [&](const YAML::Node& s, SourcePos s_pos) {
            std::vector<YamlField> sf;
            MappingOptions sample_opts{"expected sample", {"labels", "value"}};
            if (compat3_) sample_opts.known.push_back("histogram");
            if (!ReadMapping(s, s_pos, sample_opts, &errors_, &sf)) return;
            if (const auto* h = FindField(sf, "histogram")) {
              errors_.Add(h->key_pos, "native histograms are not supported in expected samples");
              return;
            }
            ExpectedSample es;
            if (const auto* l = FindField(sf, "labels")) {
              es.labels = ReadString(*l, &errors_).value_or("");
            }
            if (const auto* val = FindField(sf, "value")) {
              es.value = ReadFloat(*val, &errors_).value_or(0);
            }
            tc.exp_samples.push_back(std::move(es));
          });
        }
        group->expr_tests.push_back(std::move(tc));
      });
    }
    return true;
  }

  ErrorList errors_;
  bool compat3_;
};

// ---------------------------------------------------------------------------
// Storage with TSDB's append rules on top of MemoryStorage: a sample older than
// the series' newest is out of order, one at the same time with other bits is a
// duplicate, and an identical one is a no-op.

class CheckedAppender final : public SampleAppender {
 public:
  explicit CheckedAppender(promqltest::MemoryStorage* storage) : storage_(storage) {}

  Status Append(const promql::Labels& labels, std::int64_t t_ms, double value) override {
    auto it = last_.find(labels);
    if (it != last_.end()) {
      if (t_ms < it->second.t) return Status::InvalidArgument("out of order sample");
      if (t_ms == it->second.t) {
        if (std::bit_cast<std::uint64_t>(value) == std::bit_cast<std::uint64_t>(it->second.v)) {
          return Status::Ok();
        }
        return Status::InvalidArgument("duplicate sample for timestamp");
      }
    }
    NIMIFY_RETURN_IF_ERROR(storage_->Append(labels, t_ms, value));
    last_[labels] = promql::Point{t_ms, value};
    return Status::Ok();
  }

 private:
  struct LabelsHash {
    std::size_t operator()(const promql::Labels& l) const noexcept {
      return static_cast<std::size_t>(l.Hash());
    }
  };
  promqltest::MemoryStorage* storage_;
  std::unordered_map<promql::Labels, promql::Point, LabelsHash> last_;
};

struct LoadedSample {
  std::int64_t t = 0;
  std::size_t series = 0;
  double v = 0;
};

// ---------------------------------------------------------------------------
// Comparison and printing in promtool's terms.

int ComparePairs(const LabelPairs& a, const LabelPairs& b) {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (int c = a[i].name.compare(b[i].name); c != 0) return c < 0 ? -1 : 1;
    if (int c = a[i].value.compare(b[i].value); c != 0) return c < 0 ? -1 : 1;
  }
  if (a.size() == b.size()) return 0;
  return a.size() < b.size() ? -1 : 1;
}

LabelPairs ToPairs(const promql::Labels& labels) {
  return LabelPairs(labels.items().begin(), labels.items().end());
}

struct LabelsAndAnnotations {
  LabelPairs labels;
  LabelPairs annotations;
};

void SortAlerts(std::vector<LabelsAndAnnotations>* v) {
  std::sort(v->begin(), v->end(), [](const auto& a, const auto& b) {
    const int c = ComparePairs(a.labels, b.labels);
    if (c != 0) return c < 0;
    return ComparePairs(a.annotations, b.annotations) < 0;
  });
}

// promtool's indentLines: every line after the first gets `indent`.
std::string IndentLines(const std::string& text, const std::string& indent) {
  std::string out;
  std::size_t start = 0;
  bool first = true;
  while (true) {
    const std::size_t end = text.find('\n', start);
    if (!first) out += indent;
    first = false;
    out += text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (end == std::string::npos) break;
    out += '\n';
    start = end + 1;
  }
  return out;
}

std::string AlertsString(const std::vector<LabelsAndAnnotations>& alerts) {
  if (alerts.empty()) return "[]";
  auto one = [](const LabelsAndAnnotations& a) {
    return "Labels:" + FormatLabelPairsBraced(a.labels) +
           "\nAnnotations:" + FormatLabelPairsBraced(a.annotations);
  };
  std::string s = "[\n0:" + IndentLines("\n" + one(alerts[0]), "  ");
  for (std::size_t i = 1; i < alerts.size(); ++i) {
    s += ",\n" + std::to_string(i) + ":" + IndentLines("\n" + one(alerts[i]), "  ");
  }
  s += "\n]";
  return s;
}

struct ParsedSample {
  promql::Labels labels;
  double value = 0;
};

std::string SamplesString(const std::vector<ParsedSample>& samples) {
  if (samples.empty()) return "nil";
  std::string s;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    if (i > 0) s += ", ";
    s += FormatLabelsBraced(samples[i].labels) + " " + FormatFloatE(samples[i].value);
  }
  return s;
}

bool ValuesEqual(double expected, double got, double tolerance) {
  if (std::isnan(expected) || std::isnan(got)) return false;  // as promtool: NaN != NaN
  if (expected == got) return true;
  if (tolerance <= 0 || std::isinf(expected) || std::isinf(got)) return false;
  const double diff = std::fabs(expected - got);
  if (diff <= tolerance * std::max(std::fabs(expected), std::fabs(got))) return true;
  // Both within rounding noise of zero (e.g. a sum of +x and -x).
  return diff <= 1e-12 && std::fabs(expected) <= 1e-9 && std::fabs(got) <= 1e-9;
}

std::string GoQuote(std::string_view s) { return promql::QuoteLabelValue(s); }

// ---------------------------------------------------------------------------

class TestGroupRunner {
 public:
  TestGroupRunner(const TestFile& file, const TestGroup& group,
                  const std::vector<RuleFileSpec>& rule_files, const UnitTestOptions& options)
      : file_(file), group_(group), rule_files_(rule_files), options_(options) {}

  // Appends failures to `errors`; returns false if the input was malformed.
  bool Run(std::vector<std::string>* errors);

 private:
  std::string NamePrefix() const {
    return group_.name.empty() ? std::string() : "    name: " + group_.name + ",\n";
  }
  bool LoadInputs(std::vector<std::string>* errors);
  bool BuildGroups(std::vector<std::string>* errors);
  void LoadSamplesUntil(std::int64_t ts);
  void CheckAlerts(std::int64_t eval_time, std::vector<std::string>* errors);
  void CheckExpressions(std::vector<std::string>* errors);

  const TestFile& file_;
  const TestGroup& group_;
  const std::vector<RuleFileSpec>& rule_files_;
  const UnitTestOptions& options_;

  std::int64_t eval_interval_ = 0;
  promqltest::MemoryStorage storage_;
  std::unique_ptr<CheckedAppender> appender_;
  std::unique_ptr<promql::Evaluator> evaluator_;
  QueryFunc query_;
  std::vector<std::unique_ptr<RuleGroup>> groups_;
  std::vector<promql::Labels> series_labels_;
  std::vector<LoadedSample> samples_;  // sorted by time
  std::size_t next_sample_ = 0;
};

bool TestGroupRunner::LoadInputs(std::vector<std::string>* errors) {
  const bool prometheus2 = options_.compat == promql::Compat::kPrometheus2;
  // 2.42 defaults a missing interval to 0 (every sample at t=0); later
  // versions default it to evaluation_interval.
  std::int64_t step = group_.interval_ms;
  if (step == 0 && !prometheus2) step = eval_interval_;
  std::map<promql::Labels, std::size_t> index;
  std::vector<std::vector<std::optional<double>>> values;
  for (const auto& input : group_.input_series) {
    auto line = promqltest::ParseSeriesLine(input.series + " " + input.values);
    if (!line.ok()) {
      errors->push_back(std::string(line.status().message()));
      return false;
    }
    // A later definition of the same series replaces the earlier one, as in promqltest.
    auto [it, inserted] = index.try_emplace(line->metric, series_labels_.size());
    if (inserted) {
      series_labels_.push_back(line->metric);
      values.push_back(std::move(line->values));
    } else {
      values[it->second] = std::move(line->values);
    }
  }
  for (std::size_t s = 0; s < values.size(); ++s) {
    for (std::size_t i = 0; i < values[s].size(); ++i) {
      if (!values[s][i]) continue;
      samples_.push_back({group_.start_ms + static_cast<std::int64_t>(i) * step, s, *values[s][i]});
      // With a zero step every sample lands at the same time and TSDB keeps the first.
      if (step == 0) break;
    }
  }
  std::stable_sort(samples_.begin(), samples_.end(),
                   [](const LoadedSample& a, const LoadedSample& b) { return a.t < b.t; });
  return true;
}

bool TestGroupRunner::BuildGroups(std::vector<std::string>* errors) {
  GroupOptions opts;
  opts.default_interval_ms = group_.interval_ms > 0 ? group_.interval_ms : eval_interval_;
  opts.external_labels = group_.external_labels;
  opts.external_url = group_.external_url;
  opts.alerting.restored = true;  // promtool marks every rule restored: ALERTS from the start
  std::map<std::string, std::size_t> order;
  for (std::size_t i = 0; i < file_.group_eval_order.size(); ++i) {
    order.emplace(file_.group_eval_order[i], i);
  }
  std::set<std::pair<std::string, std::string>> seen;  // (file, group): Prometheus's GroupKey
  std::vector<std::pair<std::size_t, std::unique_ptr<RuleGroup>>> ordered;
  for (const auto& rf : rule_files_) {
    for (const auto& spec : rf.groups) {
      if (!seen.emplace(rf.path, spec.name).second) continue;
      auto group = RuleGroup::Create(spec, opts);
      if (!group.ok()) {
        errors->push_back(std::string(group.status().message()));
        return false;
      }
      auto it = order.find(spec.name);
      ordered.emplace_back(it == order.end() ? 0 : it->second, std::move(*group));
    }
  }
  // Groups missing from group_eval_order sort as 0, like promtool's map default.
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [rank, g] : ordered) groups_.push_back(std::move(g));
  return true;
}

void TestGroupRunner::LoadSamplesUntil(std::int64_t ts) {
  while (next_sample_ < samples_.size() && samples_[next_sample_].t <= ts) {
    const auto& s = samples_[next_sample_++];
    // Input samples cannot conflict with each other; rule outputs may collide
    // with them, and then the rule's append reports it.
    (void)appender_->Append(series_labels_[s.series], s.t, s.v);
  }
}

void TestGroupRunner::CheckAlerts(std::int64_t eval_time, std::vector<std::string>* errors) {
  std::set<std::string> names;
  for (const auto& tc : group_.alert_tests) {
    if (tc.eval_time_ms == eval_time) names.insert(tc.alertname);
  }
  // The same alert name may be used by rules in several groups: collect them all.
  std::map<std::string, std::vector<LabelsAndAnnotations>> got;
  for (const auto& g : groups_) {
    for (const auto& r : g->rules()) {
      const auto* ar = dynamic_cast<const AlertingRule*>(r.get());
      if (ar == nullptr || !names.count(ar->name())) continue;
      auto& list = got[ar->name()];
      for (const auto& a : ar->ActiveAlerts()) {
        if (a.state == AlertState::kFiring) list.push_back({ToPairs(a.labels), a.annotations});
      }
    }
  }
  for (const auto& tc : group_.alert_tests) {
    if (tc.eval_time_ms != eval_time) continue;
    std::vector<LabelsAndAnnotations> got_alerts = got[tc.alertname];
    std::vector<LabelsAndAnnotations> exp_alerts;
    for (const auto& ea : tc.exp_alerts) {
      LabelsAndAnnotations e{ea.labels, ea.annotations};
      // The user leaves out alertname; Prometheus adds it during evaluation.
      auto it =
          std::lower_bound(e.labels.begin(), e.labels.end(), std::string("alertname"),
                           [](const promql::Label& l, const std::string& n) { return l.name < n; });
      if (it != e.labels.end() && it->name == "alertname") {
        it->value = tc.alertname;
      } else {
        e.labels.insert(it, promql::Label{"alertname", tc.alertname});
      }
      exp_alerts.push_back(std::move(e));
    }
    SortAlerts(&got_alerts);
    SortAlerts(&exp_alerts);
    bool equal = got_alerts.size() == exp_alerts.size();
    for (std::size_t i = 0; equal && i < got_alerts.size(); ++i) {
      equal = got_alerts[i].labels == exp_alerts[i].labels &&
              got_alerts[i].annotations == exp_alerts[i].annotations;
    }
    if (!equal) {
      const std::string indent(12, ' ');
      errors->push_back(NamePrefix() + "    alertname: " + tc.alertname +
                        ", time: " + promql::FormatDuration(tc.eval_time_ms) +
                        ", \n        exp:" + IndentLines(AlertsString(exp_alerts), indent) +
                        ", \n        got:" + IndentLines(AlertsString(got_alerts), indent));
    }
  }
}

void TestGroupRunner::CheckExpressions(std::vector<std::string>* errors) {
  for (const auto& tc : group_.expr_tests) {
    const std::string where = NamePrefix() + "    expr: " + GoQuote(tc.expr) +
                              ", time: " + promql::FormatDuration(tc.eval_time_ms);
    auto expr = promql::ParseExpr(tc.expr);
    if (!expr.ok()) {
      errors->push_back(where + ", err: " + std::string(expr.status().message()));
      continue;
    }
    auto result = query_(**expr, group_.start_ms + tc.eval_time_ms);
    if (!result.ok()) {
      errors->push_back(where + ", err: " + std::string(result.status().message()));
      continue;
    }
    std::vector<ParsedSample> got;
    for (const auto& s : *result) got.push_back({s.metric, s.v});
    std::vector<ParsedSample> exp;
    bool bad_labels = false;
    for (const auto& es : tc.exp_samples) {
      promql::Labels labels;
      if (!es.labels.empty()) {
        auto parsed = promql::ParseMetric(es.labels);
        if (!parsed.ok()) {
          errors->push_back(where + ", err: labels " + GoQuote(es.labels) + ": " +
                            std::string(parsed.status().message()));
          bad_labels = true;
          break;
        }
        labels = std::move(*parsed);
      }
      exp.push_back({std::move(labels), es.value});
    }
    if (bad_labels) continue;
    auto by_labels = [](const ParsedSample& a, const ParsedSample& b) {
      return a.labels < b.labels;
    };
    std::stable_sort(exp.begin(), exp.end(), by_labels);
    std::stable_sort(got.begin(), got.end(), by_labels);
    bool equal = exp.size() == got.size();
    for (std::size_t i = 0; equal && i < exp.size(); ++i) {
      equal = exp[i].labels == got[i].labels &&
              ValuesEqual(exp[i].value, got[i].value, options_.value_tolerance);
    }
    if (!equal) {
      errors->push_back(where + ",\n        exp: " + SamplesString(exp) +
                        "\n        got: " + SamplesString(got));
    }
  }
}

bool TestGroupRunner::Run(std::vector<std::string>* errors) {
  eval_interval_ = file_.evaluation_interval_ms > 0 ? file_.evaluation_interval_ms : 60'000;
  if (!LoadInputs(errors)) return false;
  if (!BuildGroups(errors)) return false;
  for (const auto& tc : group_.alert_tests) {
    if (tc.alertname.empty()) {
      errors->push_back(
          "an item under alert_rule_test misses required attribute alertname at "
          "eval_time " +
          promql::FormatDuration(tc.eval_time_ms) +
          (group_.name.empty() ? "" : " (in TestGroup " + group_.name + ")"));
      return false;
    }
  }

  appender_ = std::make_unique<CheckedAppender>(&storage_);
  promql::EvalOptions eval_options;
  eval_options.compat = options_.compat;
  eval_options.lookback_delta_ms = 5 * 60 * 1000;
  eval_options.default_subquery_step_ms = eval_interval_;
  evaluator_ = std::make_unique<promql::Evaluator>(&storage_, eval_options);
  query_ = MakeEvaluatorQueryFunc(evaluator_.get());

  std::int64_t max_eval_time = 0;
  std::set<std::int64_t> alert_times;
  for (const auto& tc : group_.alert_tests) {
    max_eval_time = std::max(max_eval_time, tc.eval_time_ms);
    alert_times.insert(tc.eval_time_ms);
  }
  for (const auto& tc : group_.expr_tests) max_eval_time = std::max(max_eval_time, tc.eval_time_ms);

  auto next_alert_time = alert_times.begin();
  for (std::int64_t step = 0; step <= max_eval_time; step += eval_interval_) {
    const std::int64_t ts = group_.start_ms + step;
    LoadSamplesUntil(ts);
    std::vector<std::string> eval_errors;
    for (const auto& g : groups_) {
      g->Eval(ts, query_, appender_.get(), nullptr);
      for (const auto& r : g->rules()) {
        if (r->health() == RuleHealth::kBad) {
          eval_errors.push_back("    rule: " + r->name() + ", time: " + GoDurationString(step) +
                                ", err: " + r->last_error());
        }
      }
    }
    if (!eval_errors.empty()) {
      // A rule that fails to evaluate ends this test group.
      errors->insert(errors->end(), eval_errors.begin(), eval_errors.end());
      return true;
    }
    // Alert checks at eval_time use the evaluation at the latest step <= eval_time.
    while (next_alert_time != alert_times.end() && step <= *next_alert_time &&
           *next_alert_time < step + eval_interval_) {
      CheckAlerts(*next_alert_time, errors);
      ++next_alert_time;
    }
  }
  CheckExpressions(errors);
  return true;
}

std::string ReadWholeFile(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  *ok = static_cast<bool>(in);
  if (!in) return {};
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

UnitTestFileResult RunRuleUnitTestFile(const std::string& path, const UnitTestOptions& options) {
  UnitTestFileResult result;
  result.file = path;
  auto bad_input = [&](std::string message) {
    result.outcome = UnitTestOutcome::kBadInput;
    result.errors.push_back(std::move(message));
    return result;
  };
  try {
    bool readable = false;
    const std::string content = ReadWholeFile(path, &readable);
    if (!readable) return bad_input("open " + path + ": cannot read file");
    auto root = LoadFirstDocument(content, path);
    if (!root.ok()) return bad_input(std::string(root.status().message()));
    TestFileDecoder decoder(path, options);
    std::optional<TestFile> file = decoder.Decode(*root);
    if (!file) {
      result.outcome = UnitTestOutcome::kBadInput;
      result.errors = decoder.errors().messages();
      return result;
    }

    // rule_files are relative to the test file and may be globs.
    const std::filesystem::path base = std::filesystem::path(path).parent_path();
    std::vector<std::string> rule_paths;
    for (const auto& rf : file->rule_files) {
      std::string pattern = rf;
      if (!rf.empty() && std::filesystem::path(rf).is_relative()) {
        pattern = (base / rf).lexically_normal().string();
      }
      // promtool globs every entry: a name that matches nothing is only a warning.
      std::error_code ec;
      const bool literal_missing = pattern.find_first_of("*?[") == std::string::npos &&
                                   !std::filesystem::exists(pattern, ec);
      auto expanded = literal_missing ? Result<std::vector<std::string>>(Status::NotFound(pattern))
                                      : ExpandRulePaths({pattern});
      if (!expanded.ok()) {
        result.warnings.push_back("  WARNING: no file match pattern " + pattern);
        continue;
      }
      rule_paths.insert(rule_paths.end(), expanded->begin(), expanded->end());
    }
    RuleLoadOptions load_options;
    load_options.prometheus2_fields_only = options.compat == promql::Compat::kPrometheus2;
    std::vector<RuleFileSpec> rule_files;
    for (const auto& rp : rule_paths) {
      auto loaded = LoadRuleFile(rp, load_options);
      if (!loaded.ok()) return bad_input(std::string(loaded.status().message()));
      rule_files.push_back(std::move(*loaded));
    }

    std::set<std::string> order_seen;
    for (const auto& name : file->group_eval_order) {
      if (!order_seen.insert(name).second) {
        return bad_input("group name repeated in evaluation order: " + name);
      }
    }

    std::unique_ptr<RE2> run;
    if (!options.run_patterns.empty()) {
      std::string joined;
      for (const auto& p : options.run_patterns) joined += (joined.empty() ? "" : "|") + p;
      RE2::Options re_options;
      re_options.set_log_errors(false);
      run = std::make_unique<RE2>(joined, re_options);
      if (!run->ok()) return bad_input("--run: invalid regular expression: " + run->error());
    }

    for (const auto& group : file->tests) {
      if (run && !RE2::PartialMatch(group.name, *run)) continue;
      TestGroupRunner runner(*file, group, rule_files, options);
      std::vector<std::string> errors;
      const bool input_ok = runner.Run(&errors);
      if (!input_ok) {
        result.outcome = UnitTestOutcome::kBadInput;
      } else if (!errors.empty() && result.outcome == UnitTestOutcome::kPassed) {
        result.outcome = UnitTestOutcome::kFailed;
      }
      result.errors.insert(result.errors.end(), errors.begin(), errors.end());
    }
  } catch (const std::exception& e) {
    return bad_input(path + ": " + e.what());
  }
  return result;
}

int RunRuleUnitTests(const std::vector<std::string>& files, const UnitTestOptions& options,
                     std::ostream& out, std::ostream& err) {
  bool failed = false;
  bool bad_input = false;
  for (const auto& f : files) {
    out << "Unit Testing:  " << f << "\n";
    out.flush();
    UnitTestFileResult r = RunRuleUnitTestFile(f, options);
    for (const auto& w : r.warnings) err << w << "\n";
    if (r.outcome == UnitTestOutcome::kPassed) {
      out << "  SUCCESS\n";
    } else {
      failed = true;
      bad_input = bad_input || r.outcome == UnitTestOutcome::kBadInput;
      err << "  FAILED:\n";
      for (const auto& e : r.errors) {
        err << e << "\n";
        err.flush();
        out << "\n";
      }
    }
    out << "\n";
    out.flush();
    err.flush();
  }
  if (bad_input) return 2;
  return failed ? 1 : 0;
}

}  // namespace nimify::ruletest
