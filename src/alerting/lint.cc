#include "alerting/lint.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "promql/ast.h"
#include "promql/parser.h"

namespace nimify::alerting {

std::string LintWarning::ToString() const {
  std::string out = FormatPos(file, pos) + ": warning [" + check + "] group \"" + group +
                    "\", rule \"" + rule + "\": " + message;
  if (!suggestion.empty()) out += "\n    fix: " + suggestion;
  return out;
}

namespace {

using promql::Expr;
using promql::ExprKind;

void Walk(const Expr& e, const std::function<void(const Expr&)>& fn) {
  fn(e);
  promql::ForEachChild(e, [&fn](const Expr& child) { Walk(child, fn); });
}

const Expr* StripParens(const Expr* e) {
  while (e != nullptr && e->kind() == ExprKind::kParen) {
    e = static_cast<const promql::ParenExpr*>(e)->expr.get();
  }
  return e;
}

const promql::Call* AsCall(const Expr* e, std::initializer_list<std::string_view> names) {
  e = StripParens(e);
  if (e == nullptr || e->kind() != ExprKind::kCall) return nullptr;
  const auto* call = static_cast<const promql::Call*>(e);
  if (call->func == nullptr) return nullptr;
  for (auto n : names) {
    if (call->func->name == n) return call;
  }
  return nullptr;
}

const promql::MatrixSelector* MatrixArg(const promql::Call& call, std::size_t index = 0) {
  if (index >= call.args.size()) return nullptr;
  const Expr* a = StripParens(call.args[index].get());
  if (a == nullptr || a->kind() != ExprKind::kMatrixSelector) return nullptr;
  return static_cast<const promql::MatrixSelector*>(a);
}

std::string MetricNameOf(const promql::VectorSelector& vs) {
  if (!vs.name.empty()) return vs.name;
  for (const auto& m : vs.matchers) {
    if (m.name() == promql::kMetricNameLabel && m.type() == promql::MatchType::kEqual) {
      return m.value();
    }
  }
  return {};
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool LabelSurvives(const promql::AggregateExpr* agg, const std::string& label) {
  if (agg == nullptr) return true;
  const bool listed =
      std::find(agg->grouping.begin(), agg->grouping.end(), label) != agg->grouping.end();
  return agg->without ? !listed : listed;
}

struct RatioSide {
  const promql::AggregateExpr* agg = nullptr;  // set when the rate is aggregated
  const promql::Call* call = nullptr;          // rate / increase / irate
  const promql::VectorSelector* selector = nullptr;
};

std::optional<RatioSide> AsRatioSide(const Expr* e) {
  e = StripParens(e);
  RatioSide side;
  if (e != nullptr && e->kind() == ExprKind::kAggregate) {
    side.agg = static_cast<const promql::AggregateExpr*>(e);
    e = side.agg->expr.get();
  }
  side.call = AsCall(e, {"rate", "increase", "irate"});
  if (side.call == nullptr) return std::nullopt;
  const auto* ms = MatrixArg(*side.call);
  if (ms == nullptr || !ms->selector) return std::nullopt;
  side.selector = ms->selector.get();
  return side;
}

// Matchers other than the metric name, by label name.
std::map<std::string, std::set<std::string>> MatchersByLabel(const promql::VectorSelector& vs) {
  std::map<std::string, std::set<std::string>> out;
  for (const auto& m : vs.matchers) {
    if (m.name() == promql::kMetricNameLabel) continue;
    out[m.name()].insert(m.ToString());
  }
  return out;
}

std::string FormatMs(std::int64_t ms) { return promql::FormatDuration(ms); }

class Linter {
 public:
  Linter(const RuleFileSpec& file, const LintOptions& options) : file_(file), options_(options) {}

  std::vector<LintWarning> Run() {
    std::map<std::pair<std::string, std::string>, const RuleSpec*> recording_seen;
    for (const auto& group : file_.groups) {
      const std::int64_t interval =
          group.interval_ms > 0 ? group.interval_ms : options_.default_interval_ms;
      std::map<std::string, std::vector<const RuleSpec*>> alerts_by_name;
      for (const auto& rule : group.rules) {
        LintRule(group, rule, interval);
        if (rule.kind == RuleKind::kAlerting) {
          alerts_by_name[rule.name].push_back(&rule);
        } else {
          const std::string key_labels = LabelsKey(rule.labels);
          auto [it, inserted] = recording_seen.try_emplace({rule.name, key_labels}, &rule);
          if (!inserted) {
            Add(group, rule, rule.name_pos, kLintDuplicateRecordingRule,
                "recording rule " + rule.name + " with the same labels is also defined at line " +
                    std::to_string(it->second->name_pos.line) +
                    "; both write the same series, so samples collide",
                "remove one of them or give them different labels");
          }
        }
      }
      for (const auto& [name, rules] : alerts_by_name) {
        for (std::size_t i = 1; i < rules.size(); ++i) {
          for (std::size_t j = 0; j < i; ++j) {
            if (LabelsKey(rules[i]->labels) != LabelsKey(rules[j]->labels)) continue;
            const bool same_expr = rules[i]->expr == rules[j]->expr;
            Add(group, *rules[i], rules[i]->name_pos, kLintDuplicateAlertName,
                std::string("alert ") + name + " is also defined at line " +
                    std::to_string(rules[j]->name_pos.line) + " with the same labels" +
                    (same_expr ? " and the same expression (a duplicate)"
                               : " but a different expression; their alerts share identities, so "
                                 "one can resolve or re-fire the other's notifications"),
                same_expr ? "remove the duplicate"
                          : "give each rule a distinguishing label (e.g. a different severity) or "
                            "a different alert name");
            break;
          }
        }
      }
    }
    return std::move(warnings_);
  }

 private:
  static std::string LabelsKey(const LabelPairs& labels) {
    std::string key;
    for (const auto& l : labels) key += l.name + "\xff" + l.value + "\xff";
    return key;
  }

  void Add(const RuleGroupSpec& group, const RuleSpec& rule, SourcePos pos, std::string_view check,
           std::string message, std::string suggestion) {
    if (std::find(options_.disabled_checks.begin(), options_.disabled_checks.end(), check) !=
        options_.disabled_checks.end()) {
      return;
    }
    const SourcePos at = pos.known() ? pos : rule.pos;
    // The same finding twice in one rule (e.g. a repeated sub-expression) is one warning.
    for (const auto& w : warnings_) {
      if (w.pos == at && w.rule == rule.name && w.check == check && w.message == message) return;
    }
    warnings_.push_back(LintWarning{file_.path, at, group.name, rule.name, std::string(check),
                                    std::move(message), std::move(suggestion)});
  }

  void LintRule(const RuleGroupSpec& group, const RuleSpec& rule, std::int64_t interval) {
    if (rule.kind == RuleKind::kAlerting) {
      if (rule.for_ms > 0 && rule.for_ms < interval) {
        Add(group, rule, rule.for_pos, kLintForShorterThanInterval,
            "for: " + FormatMs(rule.for_ms) + " is shorter than the group's evaluation interval " +
                FormatMs(interval) +
                "; alerts are checked once per interval, so the alert waits a full " +
                FormatMs(interval) + " anyway",
            "use for: 0 or a multiple of the interval (for: " + FormatMs(interval) + ")");
      }
      bool has_severity = false;
      for (const auto& l : group.labels) has_severity |= l.name == "severity";
      for (const auto& l : rule.labels) has_severity |= l.name == "severity" && !l.value.empty();
      if (!has_severity) {
        Add(group, rule, rule.name_pos, kLintMissingSeverity,
            "alert has no severity label; routing and paging policies usually key on it",
            "add labels: {severity: <critical|warning|info>} (or the SEV-n scheme your on-call "
            "uses)");
      }
      for (std::size_t i = 0; i < rule.labels.size(); ++i) {
        const auto& l = rule.labels[i];
        if (l.value.find("{{") == std::string::npos) continue;
        if (l.value.find("$value") == std::string::npos &&
            l.value.find(".Value") == std::string::npos) {
          continue;
        }
        Add(group, rule, i < rule.label_pos.size() ? rule.label_pos[i] : rule.pos,
            kLintValueInLabel,
            "label " + l.name +
                " uses the alert's value; labels are the alert's identity, so every new value "
                "makes a new alert (and resolves the old one)",
            "move it to an annotation, e.g. annotations: {" + l.name + ": '" + l.value + "'}");
      }
    }
    if (!rule.parsed_expr) return;
    Walk(*rule.parsed_expr, [&](const Expr& e) { LintNode(group, rule, interval, e); });
  }

  void LintNode(const RuleGroupSpec& group, const RuleSpec& rule, std::int64_t interval,
                const Expr& e) {
    const SourcePos pos = rule.expr_pos;
    if (e.kind() == ExprKind::kCall) {
      const auto& call = static_cast<const promql::Call&>(e);
      if (call.func == nullptr) return;
      const std::string_view fn = call.func->name;
      const bool counter_fn = fn == "rate" || fn == "increase" || fn == "irate";
      if (counter_fn) {
        if (const auto* ms = MatrixArg(call); ms != nullptr && ms->selector) {
          const std::string name = MetricNameOf(*ms->selector);
          if (!name.empty() && !EndsWith(name, "_total") && !EndsWith(name, "_count") &&
              !EndsWith(name, "_sum") && !EndsWith(name, "_bucket")) {
            Add(group, rule, pos, kLintRateOfGauge,
                std::string(fn) + "(" + name +
                    "[...]) treats the series as a counter, but its name does not end in "
                    "_total, _count, _sum or _bucket; on a gauge every decrease counts as a "
                    "counter reset and the result is wrong",
                "for a gauge use deriv(" + name + "[...]) or delta(" + name +
                    "[...]); if it really is a counter, keep the rate and rename it with a _total "
                    "suffix");
          }
        }
      }
      if (counter_fn || fn == "delta" || fn == "idelta" || fn == "deriv" ||
          fn == "predict_linear") {
        if (const auto* ms = MatrixArg(call); ms != nullptr && ms->range_ms < 2 * interval) {
          Add(group, rule, pos, kLintRangeTooShort,
              std::string(fn) + "() over [" + FormatMs(ms->range_ms) +
                  "] is less than twice the evaluation interval (" + FormatMs(interval) +
                  "); with scrapes about as far apart the window often holds fewer than two "
                  "samples and the result is empty",
              "use a range of at least " + FormatMs(2 * interval) +
                  " (the usual advice is 4x the scrape interval)");
        }
      }
      if (fn == "absent" && !call.args.empty()) {
        const Expr* arg = StripParens(call.args[0].get());
        if (arg != nullptr && arg->kind() == ExprKind::kVectorSelector) {
          const auto& vs = static_cast<const promql::VectorSelector&>(*arg);
          std::vector<std::string> non_equal;
          for (const auto& m : vs.matchers) {
            if (m.name() != promql::kMetricNameLabel && m.type() != promql::MatchType::kEqual) {
              non_equal.push_back(m.ToString());
            }
          }
          if (!non_equal.empty()) {
            std::string list;
            for (const auto& m : non_equal) list += (list.empty() ? "" : ", ") + m;
            Add(group, rule, pos, kLintAbsentWithoutEquality,
                "absent() copies only equality matchers into its result, so " + list +
                    " leaves the alert without those labels, and absent() fires only when no "
                    "series at all matches (not when one of several disappears)",
                "use equality matchers in absent(), or alert per series with "
                "absent_over_time() / up == 0 / a count() compared with the expected number");
          }
        }
      }
      if (fn == "histogram_quantile" && call.args.size() == 2) {
        const Expr* arg = StripParens(call.args[1].get());
        if (arg != nullptr && arg->kind() == ExprKind::kAggregate) {
          const auto* agg = static_cast<const promql::AggregateExpr*>(arg);
          if (!LabelSurvives(agg, "le")) {
            Add(group, rule, pos, kLintHistogramQuantileWithoutLe,
                "histogram_quantile() needs the le label, but the aggregation of its input "
                "removes it, so the result is always empty",
                agg->without ? "drop le from without (...)"
                             : "add le to the by (...) clause, e.g. sum by (le, job) (...)");
          }
        }
      }
      return;
    }
    if (e.kind() != ExprKind::kBinary) return;
    const auto& bin = static_cast<const promql::BinaryExpr&>(e);
    if (promql::IsComparison(bin.op)) {
      for (const Expr* side : {bin.lhs.get(), bin.rhs.get()}) {
        const Expr* s = StripParens(side);
        if (s != nullptr && s->kind() == ExprKind::kNumberLiteral &&
            std::isnan(static_cast<const promql::NumberLiteral*>(s)->value)) {
          const bool neq = bin.op == promql::BinaryOp::kNeq;
          Add(group, rule, pos, kLintNaNComparison,
              std::string("comparison with NaN is ") + (neq ? "always" : "never") +
                  " true (NaN is not equal to anything, itself included)",
              "to select NaN samples use `x != x`; to drop them use `x == x`");
          break;
        }
      }
    }
    if (promql::IsSetOperator(bin.op) || !bin.matching) return;
    const auto& matching = *bin.matching;
    if (matching.card != promql::Cardinality::kOneToOne || matching.on ||
        !matching.matching_labels.empty()) {
      return;
    }
    auto lhs = AsRatioSide(bin.lhs.get());
    auto rhs = AsRatioSide(bin.rhs.get());
    if (!lhs || !rhs) return;
    const std::string name = MetricNameOf(*lhs->selector);
    if (name.empty() || name != MetricNameOf(*rhs->selector)) return;
    const auto lm = MatchersByLabel(*lhs->selector);
    const auto rm = MatchersByLabel(*rhs->selector);
    std::set<std::string> labels;
    for (const auto& [l, set] : lm) {
      auto it = rm.find(l);
      if (it == rm.end() || it->second != set) labels.insert(l);
    }
    for (const auto& [l, set] : rm) {
      if (!lm.count(l)) labels.insert(l);
    }
    std::vector<std::string> surviving;
    for (const auto& l : labels) {
      if (LabelSurvives(lhs->agg, l) && LabelSurvives(rhs->agg, l)) surviving.push_back(l);
    }
    if (surviving.empty()) return;
    std::string list;
    for (const auto& l : surviving) list += (list.empty() ? "" : ", ") + l;
    const std::string op = promql::BinaryOpName(bin.op);
    Add(group, rule, pos, kLintRatioLabelMismatch,
        "the two sides of '" + op + "' select different " + list + " values of " + name +
            " but are matched one-to-one on all labels, " + list +
            " included: a series only pairs with itself, so " +
            (bin.op == promql::BinaryOp::kDiv
                 ? std::string("the ratio is 1 where the selections overlap and missing elsewhere")
                 : std::string("the result is empty when the selections are disjoint")) +
            ", never a combination across " + list + " values",
        "aggregate both sides so that " + list + " goes away, e.g. sum by (job, instance) (" +
            lhs->call->ToString() + ") " + op + " sum by (job, instance) (" +
            rhs->call->ToString() + ")");
  }

  const RuleFileSpec& file_;
  const LintOptions& options_;
  std::vector<LintWarning> warnings_;
};

}  // namespace

std::vector<LintWarning> LintRuleFile(const RuleFileSpec& file, const LintOptions& options) {
  return Linter(file, options).Run();
}

}  // namespace nimify::alerting
