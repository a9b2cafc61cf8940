#include "alerting/rule.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <unordered_map>

#include "promql/parser.h"

namespace nimify::alerting {

namespace {

constexpr std::string_view kAlertNameLabel = "alertname";
constexpr std::string_view kAlertStateLabel = "alertstate";
constexpr std::string_view kAlertsMetric = "ALERTS";
constexpr std::string_view kAlertsForStateMetric = "ALERTS_FOR_STATE";
// Resolved alerts stay (and are re-sent) this long (Prometheus's resolvedRetention).
constexpr std::int64_t kResolvedRetentionMs = 15 * 60 * 1000;

LabelPairs MergeLabels(const LabelPairs& group_labels, const LabelPairs& rule_labels) {
  LabelPairs out = group_labels;
  for (const auto& l : rule_labels) {
    auto it =
        std::lower_bound(out.begin(), out.end(), l.name,
                         [](const promql::Label& a, const std::string& n) { return a.name < n; });
    if (it != out.end() && it->name == l.name) {
      it->value = l.value;
    } else {
      out.insert(it, l);
    }
  }
  return out;
}

// Go's time.Time.Unix() of a millisecond timestamp: floor division.
std::int64_t UnixSeconds(std::int64_t ms) {
  std::int64_t s = ms / 1000;
  if (ms % 1000 != 0 && ms < 0) --s;
  return s;
}

}  // namespace

const char* RuleHealthName(RuleHealth health) noexcept {
  switch (health) {
    case RuleHealth::kUnknown:
      return "unknown";
    case RuleHealth::kGood:
      return "ok";
    case RuleHealth::kBad:
      return "err";
  }
  return "unknown";
}

Rule::Rule(std::shared_ptr<const RuleSpec> spec, const LabelPairs& group_labels)
    : spec_(std::move(spec)), labels_(MergeLabels(group_labels, spec_->labels)) {}

RuleHealth Rule::health() const {
  std::lock_guard lock(status_mu_);
  return health_;
}

std::string Rule::last_error() const {
  std::lock_guard lock(status_mu_);
  return last_error_;
}

std::optional<std::int64_t> Rule::last_evaluation_ms() const {
  std::lock_guard lock(status_mu_);
  return last_evaluation_ms_;
}

std::chrono::nanoseconds Rule::last_evaluation_duration() const {
  std::lock_guard lock(status_mu_);
  return last_duration_;
}

void Rule::RecordEvaluation(std::int64_t ts_ms, std::chrono::nanoseconds duration) {
  std::lock_guard lock(status_mu_);
  last_evaluation_ms_ = ts_ms;
  last_duration_ = duration;
}

void Rule::SetHealth(RuleHealth health, std::string last_error) {
  std::lock_guard lock(status_mu_);
  health_ = health;
  last_error_ = std::move(last_error);
}

// --- RecordingRule ---------------------------------------------------------

RecordingRule::RecordingRule(std::shared_ptr<const RuleSpec> spec, const LabelPairs& group_labels)
    : Rule(std::move(spec), group_labels) {}

Result<promql::Vector> RecordingRule::Eval(const EvalContext& ctx, std::int64_t ts_ms,
                                           std::int64_t query_offset_ms, std::int64_t limit) {
  if (!spec_->parsed_expr) return Status::FailedPrecondition("rule has no parsed expression");
  const std::int64_t query_ts = ts_ms - query_offset_ms;
  NIMIFY_ASSIGN_OR_RETURN(promql::Vector result, ctx.query(*spec_->parsed_expr, query_ts));
  for (auto& s : result) s.t = query_ts;
  return Apply(std::move(result), limit);
}

Result<promql::Vector> RecordingRule::Apply(promql::Vector result, std::int64_t limit) const {
  std::set<promql::Labels> seen;
  for (auto& sample : result) {
    sample.metric.Set(promql::kMetricNameLabel, spec_->name);
    for (const auto& l : labels_) sample.metric.Set(l.name, l.value);
    sample.drop_name = false;
    if (!seen.insert(sample.metric).second) {
      return Status::InvalidArgument(std::string(kDuplicateRuleLabelSet));
    }
  }
  if (limit > 0 && static_cast<std::int64_t>(result.size()) > limit) {
    return Status::ResourceExhausted("exceeded limit of " + std::to_string(limit) + " with " +
                                     std::to_string(result.size()) + " series");
  }
  return result;
}

// --- AlertingRule ----------------------------------------------------------

AlertingRule::AlertingRule(std::shared_ptr<const RuleSpec> spec, const LabelPairs& group_labels,
                           AlertingRuleOptions options)
    : Rule(std::move(spec), group_labels), options_(options) {
  const std::string template_name = "__alert_" + spec_->name;
  auto make = [&](const promql::Label& l) {
    TemplatedValue v{l.name, l.value, std::nullopt, {}};
    // Text without actions expands to itself; skip the template machinery.
    if (l.value.find("{{") != std::string::npos) {
      auto compiled = tmpl::AlertTemplate::Compile(l.value, template_name);
      if (compiled.ok()) {
        v.compiled = std::move(*compiled);
      } else {
        v.compile_error = "error parsing template " + template_name + ": " +
                          std::string(compiled.status().message());
      }
    }
    return v;
  };
  for (const auto& l : labels_) {
    label_templates_.push_back(make(l));
    raw_labels_.Set(l.name, l.value);
  }
  for (const auto& a : spec_->annotations) annotation_templates_.push_back(make(a));
}

std::string AlertingRule::Expand(const TemplatedValue& v, const tmpl::TemplateData& data) const {
  if (v.compiled) return v.compiled->Expand(data);
  if (!v.compile_error.empty()) return "<error expanding template: " + v.compile_error + ">";
  return v.raw;
}

promql::Sample AlertingRule::AlertsSample(const Alert& alert, std::int64_t t_ms) const {
  // Starts from the raw rule labels, then the alert's labels win (Prometheus's sample()).
  promql::Labels lb = raw_labels_;
  for (const auto& l : alert.labels) lb.Set(l.name, l.value);
  lb.Set(promql::kMetricNameLabel, kAlertsMetric);
  lb.Set(kAlertNameLabel, spec_->name);
  lb.Set(kAlertStateLabel, AlertStateName(alert.state));
  return promql::Sample{std::move(lb), t_ms, 1.0, false};
}

promql::Sample AlertingRule::ForStateSample(const Alert& alert, std::int64_t t_ms) const {
  promql::Labels lb = raw_labels_;
  for (const auto& l : alert.labels) lb.Set(l.name, l.value);
  lb.Set(promql::kMetricNameLabel, kAlertsForStateMetric);
  lb.Set(kAlertNameLabel, spec_->name);
  return promql::Sample{std::move(lb), t_ms, static_cast<double>(UnixSeconds(alert.active_at_ms)),
                        false};
}

Result<promql::Vector> AlertingRule::Eval(const EvalContext& ctx, std::int64_t ts_ms,
                                          std::int64_t query_offset_ms, std::int64_t limit) {
  if (!spec_->parsed_expr) return Status::FailedPrecondition("rule has no parsed expression");
  NIMIFY_ASSIGN_OR_RETURN(promql::Vector result,
                          ctx.query(*spec_->parsed_expr, ts_ms - query_offset_ms));
  return ApplyResult(ctx, result, ts_ms, query_offset_ms, limit);
}

Result<promql::Vector> AlertingRule::ApplyResult(const EvalContext& ctx,
                                                 const promql::Vector& result, std::int64_t ts_ms,
                                                 std::int64_t query_offset_ms, std::int64_t limit) {
  // 1. One new pending alert per result sample, with expanded labels and annotations.
  std::map<promql::Labels, Alert> alerts;
  for (const auto& sample : result) {
    tmpl::TemplateData data;
    data.labels = sample.metric;
    data.value = sample.v;
    data.external_labels = ctx.external_labels;
    data.external_url = ctx.external_url;
    data.ts_ms = ts_ms;
    // The template function `query` runs at ts itself, not at ts - query_offset.
    data.query = [&ctx, ts_ms](std::string_view text) -> Result<promql::Vector> {
      if (!ctx.query) return Status::FailedPrecondition("no query engine for templates");
      NIMIFY_ASSIGN_OR_RETURN(promql::ExprPtr expr, promql::ParseExpr(text));
      return ctx.query(*expr, ts_ms);
    };

    promql::Labels lb = sample.metric;
    lb.Del(promql::kMetricNameLabel);
    for (const auto& t : label_templates_) lb.Set(t.name, Expand(t, data));
    lb.Set(kAlertNameLabel, spec_->name);

    LabelPairs annotations;
    annotations.reserve(annotation_templates_.size());
    for (const auto& t : annotation_templates_) {
      annotations.push_back(promql::Label{t.name, Expand(t, data)});
    }

    Alert alert;
    alert.labels = lb;
    alert.annotations = std::move(annotations);
    alert.state = AlertState::kPending;
    alert.value = sample.v;
    alert.active_at_ms = ts_ms;
    if (!alerts.emplace(std::move(lb), std::move(alert)).second) {
      return Status::InvalidArgument(std::string(kDuplicateAlertLabelSet));
    }
  }

  // 2. Hysteresis needs the recovery results of the firing alerts that the
  // expression no longer returns; query them before changing any state, so
  // that a failing recovery query fails the evaluation like a failing rule query.
  std::unordered_map<const AlertExtension*, promql::Vector> recovery;
  const ExtensionConfig* extensions = options_.extensions;
  {
    std::lock_guard lock(alerts_mu_);
    if (extensions != nullptr && !extensions->empty()) {
      for (const auto& [labels, a] : active_) {
        if (a.state != AlertState::kFiring || alerts.count(labels)) continue;
        const AlertExtension* ext = extensions->Find(labels);
        if (ext == nullptr || !ext->has_hysteresis() || recovery.count(ext)) continue;
        auto r = ctx.query(*ext->parsed_recovery_expr, ts_ms - query_offset_ms);
        if (!r.ok()) return r.status().WithPrefix("recovery_expr");
        recovery.emplace(ext, std::move(*r));
      }
    }
  }

  std::lock_guard lock(alerts_mu_);
  // 3. Merge: known pending/firing alerts keep their labels and ActiveAt;
  // new ones (or ones that were resolved) start over as pending.
  for (auto& [labels, a] : alerts) {
    auto it = active_.find(labels);
    if (it != active_.end() && it->second.state != AlertState::kInactive) {
      it->second.value = a.value;
      it->second.annotations = a.annotations;
      continue;
    }
    // A resolved alert coming back loses its flap verdict only through the tracker.
    active_.insert_or_assign(labels, a);
  }

  // 4. The state machine.
  promql::Vector out;
  const std::int64_t out_ts = ts_ms - query_offset_ms;
  std::int64_t num_active = 0;
  for (auto it = active_.begin(); it != active_.end();) {
    Alert& a = it->second;
    if (!alerts.count(it->first)) {
      bool keep_firing = false;
      if (a.state == AlertState::kFiring) {
        const AlertExtension* ext = extensions != nullptr ? extensions->Find(it->first) : nullptr;
        const bool hysteresis = ext != nullptr && ext->has_hysteresis();
        if (spec_->keep_firing_for_ms > 0 || hysteresis) {
          if (!a.keep_firing_since_ms) a.keep_firing_since_ms = ts_ms;
        }
        if (spec_->keep_firing_for_ms > 0 &&
            ts_ms - *a.keep_firing_since_ms < spec_->keep_firing_for_ms) {
          keep_firing = true;
        }
        if (hysteresis && !RecoveryHolds(recovery[ext], it->first) &&
            (ext->recovery_timeout_ms == 0 ||
             ts_ms - *a.keep_firing_since_ms < ext->recovery_timeout_ms)) {
          keep_firing = true;
        }
      }
      if (a.state == AlertState::kPending ||
          (a.resolved_at_ms && ts_ms - *a.resolved_at_ms > kResolvedRetentionMs)) {
        it = active_.erase(it);
        continue;
      }
      if (a.state != AlertState::kInactive && !keep_firing) {
        a.state = AlertState::kInactive;
        a.resolved_at_ms = ts_ms;
      }
      if (!keep_firing) {
        ++it;
        continue;
      }
    } else {
      a.keep_firing_since_ms.reset();
    }
    ++num_active;
    if (a.state == AlertState::kPending && ts_ms - a.active_at_ms >= spec_->for_ms) {
      a.state = AlertState::kFiring;
      a.fired_at_ms = ts_ms;
    }
    // Only after `for` was raised by a reload: firing goes back to pending.
    if (a.state == AlertState::kFiring && ts_ms - a.active_at_ms < spec_->for_ms) {
      a.state = AlertState::kPending;
      a.fired_at_ms.reset();
      a.last_sent_at_ms.reset();
      a.keep_firing_since_ms.reset();
    }
    if (options_.restored) {
      out.push_back(AlertsSample(a, out_ts));
      out.push_back(ForStateSample(a, out_ts));
    }
    ++it;
  }

  if (limit > 0 && num_active > limit) {
    active_.clear();
    return Status::ResourceExhausted("exceeded limit of " + std::to_string(limit) + " with " +
                                     std::to_string(num_active) + " alerts");
  }

  // 5. Flap detection: one history entry per evaluation for every tracked label set.
  if (extensions != nullptr && !extensions->empty()) {
    for (auto& [labels, a] : active_) {
      const AlertExtension* ext = extensions->Find(labels);
      if (ext == nullptr || !ext->flap_detection) continue;
      auto [tracker, inserted] = flap_.try_emplace(labels, *ext->flap_detection);
      (void)inserted;
      tracker->second.Record(a.state == AlertState::kFiring);
      a.flapping = tracker->second.flapping();
      a.flap_share = tracker->second.share();
    }
    for (auto it = flap_.begin(); it != flap_.end();) {
      if (!active_.count(it->first)) {
        it->second.Record(false);
        if (it->second.Idle()) {
          it = flap_.erase(it);
          continue;
        }
      }
      ++it;
    }
  }
  return out;
}

std::vector<NotificationAlert> AlertingRule::CollectAlertsToSend(std::int64_t ts_ms,
                                                                 std::int64_t resend_delay_ms,
                                                                 std::int64_t group_interval_ms,
                                                                 std::string_view external_url) {
  std::vector<NotificationAlert> out;
  std::lock_guard lock(alerts_mu_);
  const std::string url =
      GeneratorURL(external_url, spec_->parsed_expr ? spec_->parsed_expr->ToString() : spec_->expr);
  for (auto& [labels, a] : active_) {
    if (a.state == AlertState::kPending || a.flapping) continue;
    const bool resolved_since_sent =
        a.resolved_at_ms && (!a.last_sent_at_ms || *a.resolved_at_ms > *a.last_sent_at_ms);
    const bool resend_due = !a.last_sent_at_ms || *a.last_sent_at_ms + resend_delay_ms < ts_ms;
    if (!resolved_since_sent && !resend_due) continue;
    a.last_sent_at_ms = ts_ms;
    // Allow for two missed evaluations or Alertmanager send failures.
    a.valid_until_ms = ts_ms + 4 * std::max(group_interval_ms, resend_delay_ms);
    NotificationAlert n;
    n.labels = a.labels;
    n.annotations = a.annotations;
    n.starts_at_ms = a.fired_at_ms.value_or(a.active_at_ms);
    n.ends_at_ms = a.resolved_at_ms ? *a.resolved_at_ms : *a.valid_until_ms;
    n.generator_url = url;
    out.push_back(std::move(n));
  }
  return out;
}

std::vector<Alert> AlertingRule::ActiveAlerts() const {
  std::lock_guard lock(alerts_mu_);
  std::vector<Alert> out;
  for (const auto& [labels, a] : active_) {
    if (!a.resolved_at_ms) out.push_back(a);
  }
  return out;
}

std::vector<Alert> AlertingRule::CurrentAlerts() const {
  std::lock_guard lock(alerts_mu_);
  std::vector<Alert> out;
  out.reserve(active_.size());
  for (const auto& [labels, a] : active_) out.push_back(a);
  return out;
}

AlertState AlertingRule::State() const {
  std::lock_guard lock(alerts_mu_);
  AlertState max_state = AlertState::kInactive;
  for (const auto& [labels, a] : active_) max_state = std::max(max_state, a.state);
  return max_state;
}

void AlertingRule::RestoreAlerts(std::vector<Alert> alerts) {
  std::lock_guard lock(alerts_mu_);
  active_.clear();
  for (auto& a : alerts) {
    promql::Labels key = a.labels;
    active_.insert_or_assign(std::move(key), std::move(a));
  }
}

std::unique_ptr<Rule> MakeRule(std::shared_ptr<const RuleSpec> spec, const LabelPairs& group_labels,
                               AlertingRuleOptions options) {
  if (spec->kind == RuleKind::kRecording) {
    return std::make_unique<RecordingRule>(std::move(spec), group_labels);
  }
  return std::make_unique<AlertingRule>(std::move(spec), group_labels, options);
}

std::string FormatLabelsBraced(const promql::Labels& labels) {
  std::string out = "{";
  bool first = true;
  for (const auto& l : labels) {
    if (!first) out += ", ";
    first = false;
    out += l.name;
    out += '=';
    out += promql::QuoteLabelValue(l.value);
  }
  out += '}';
  return out;
}

std::string FormatLabelPairsBraced(const LabelPairs& pairs) {
  std::string out = "{";
  bool first = true;
  for (const auto& l : pairs) {
    if (!first) out += ", ";
    first = false;
    out += l.name;
    out += '=';
    out += promql::QuoteLabelValue(l.value);
  }
  out += '}';
  return out;
}

}  // namespace nimify::alerting
