#include "alerting/rule.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
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

// What an alert's label and annotation templates see of one result sample.
// `query` stays unset: only the evaluation (ApplyResult) can run queries.
tmpl::TemplateData SampleTemplateData(const promql::Labels& metric, double value,
                                      std::int64_t ts_ms, const promql::Labels& external_labels,
                                      const std::string& external_url) {
  tmpl::TemplateData data;
  data.labels = metric;
  data.value = value;
  data.external_labels = external_labels;
  data.external_url = external_url;
  data.ts_ms = ts_ms;
  return data;
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
  MutexLock lock(status_mu_);
  return health_;
}

std::string Rule::last_error() const {
  MutexLock lock(status_mu_);
  return last_error_;
}

std::optional<std::int64_t> Rule::last_evaluation_ms() const {
  MutexLock lock(status_mu_);
  return last_evaluation_ms_;
}

std::chrono::nanoseconds Rule::last_evaluation_duration() const {
  MutexLock lock(status_mu_);
  return last_duration_;
}

void Rule::RecordEvaluation(std::int64_t ts_ms, std::chrono::nanoseconds duration) {
  MutexLock lock(status_mu_);
  last_evaluation_ms_ = ts_ms;
  last_duration_ = duration;
}

void Rule::SetHealth(RuleHealth health, std::string last_error) {
  MutexLock lock(status_mu_);
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
  auto annotations = std::make_shared<std::vector<TemplatedValue>>();
  for (const auto& a : spec_->annotations) annotations->push_back(make(a));
  bool annotation_templates = false;
  bool annotations_query = false;
  for (const auto& t : *annotations) {
    if (!t.compiled) continue;
    annotation_templates = true;
    annotations_query = annotations_query || t.compiled->Calls("query");
  }
  annotation_templates_ = std::move(annotations);
  defer_annotations_ = annotation_templates && !annotations_query;
  has_templates_ = annotation_templates;
  templates_call_query_ = annotations_query;
  for (const auto& t : label_templates_) {
    has_templates_ = has_templates_ || t.compiled.has_value();
    templates_call_query_ = templates_call_query_ || (t.compiled && t.compiled->Calls("query"));
    if (t.compiled || !t.compile_error.empty()) label_templates_static_ = false;
  }
  if (label_templates_static_) {
    for (const auto& t : label_templates_) static_alert_labels_.push_back({t.name, t.raw});
    std::erase_if(static_alert_labels_,
                  [](const promql::Label& l) { return l.name == kAlertNameLabel; });
    static_alert_labels_.push_back({std::string(kAlertNameLabel), spec_->name});
    std::sort(static_alert_labels_.begin(), static_alert_labels_.end(),
              [](const promql::Label& a, const promql::Label& b) { return a.name < b.name; });
  }
}

promql::Labels AlertingRule::AlertLabels(const promql::Labels& metric,
                                         const tmpl::TemplateData& data) const {
  std::vector<promql::Label> expanded;
  const std::vector<promql::Label>* overrides = &static_alert_labels_;
  if (!label_templates_static_) {
    expanded.reserve(label_templates_.size() + 1);
    for (const auto& t : label_templates_) {
      if (t.name != kAlertNameLabel) expanded.push_back({t.name, Expand(t, data)});
    }
    expanded.push_back({std::string(kAlertNameLabel), spec_->name});
    std::sort(expanded.begin(), expanded.end(),
              [](const promql::Label& a, const promql::Label& b) { return a.name < b.name; });
    overrides = &expanded;
  }
  // Both sorted by name: one merge, the rule's labels winning; an empty
  // value deletes (as Labels::Set does).
  std::vector<promql::Label> out;
  out.reserve(metric.size() + overrides->size());
  auto m = metric.begin();
  auto o = overrides->begin();
  while (m != metric.end() || o != overrides->end()) {
    if (o == overrides->end() || (m != metric.end() && m->name < o->name)) {
      if (m->name != promql::kMetricNameLabel) out.push_back(*m);
      ++m;
      continue;
    }
    if (m != metric.end() && m->name == o->name) ++m;
    if (!o->value.empty()) out.push_back(*o);
    ++o;
  }
  return promql::Labels::FromSorted(std::move(out));
}

std::optional<AlertingRule::Preview> AlertingRule::PreviewAlert(
    const promql::Labels& metric, double value, std::int64_t ts_ms,
    const promql::Labels& external_labels, const std::string& external_url) const {
  if (!CanPreview()) return std::nullopt;
  // CanPreview: no template calls `query`.
  const tmpl::TemplateData data =
      SampleTemplateData(metric, value, ts_ms, external_labels, external_url);
  Preview out;
  out.labels = AlertLabels(metric, data);
  const ExtensionConfig* extensions = options_.extensions;
  if (extensions != nullptr && !extensions->empty()) {
    const AlertExtension* ext = extensions->Find(out.labels);
    if (ext != nullptr && ext->has_hysteresis()) return std::nullopt;
  }
  out.annotations = ExpandAll(*annotation_templates_, data);
  return out;
}

template <typename Map, typename Fn>
void AlertingRule::ForEachInOrder(Map& active, Map& resolved, Fn&& fn) {
  // The two maps hold disjoint keys: a merge walk.
  auto a = active.begin();
  auto r = resolved.begin();
  while (a != active.end() || r != resolved.end()) {
    if (r == resolved.end() || (a != active.end() && a->first < r->first)) {
      fn(a->second);
      ++a;
    } else {
      fn(r->second);
      ++r;
    }
  }
}

void AlertingRule::MoveToResolved(AlertMap::iterator it) {
  auto node = active_.extract(it);
  auto inserted = resolved_.insert(std::move(node));
  const Alert& a = inserted.position->second;
  if (a.resolved_at_ms) {
    expiry_.insert({*a.resolved_at_ms, inserted.position});
  } else {
    resolved_without_time_ = true;
  }
  IndexResend(inserted.position);
}

void AlertingRule::EraseResolved(const promql::Labels& labels) {
  auto it = resolved_.find(labels);
  if (it == resolved_.end()) return;
  if (it->second.resolved_at_ms) expiry_.erase({*it->second.resolved_at_ms, it});
  UnindexResend(it);
  resolved_.erase(it);
}

void AlertingRule::ClearAlerts() {
  active_.clear();
  resolved_.clear();
  expiry_.clear();
  resend_.clear();
  resolved_without_time_ = false;
}

std::optional<std::int64_t> AlertingRule::ResendDue(const Alert& a, std::int64_t resend_delay_ms) {
  // Only reached without flap detection, where a verdict never changes.
  if (a.flapping) return std::nullopt;
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  if (!a.last_sent_at_ms || (a.resolved_at_ms && *a.resolved_at_ms > *a.last_sent_at_ms)) {
    return kMin;
  }
  // Due once last_sent + delay < ts.
  std::int64_t last_not_due = 0;
  if (__builtin_add_overflow(*a.last_sent_at_ms, resend_delay_ms, &last_not_due)) {
    return resend_delay_ms > 0 ? std::nullopt : std::optional<std::int64_t>(kMin);
  }
  if (last_not_due == kMax) return std::nullopt;
  return last_not_due + 1;
}

void AlertingRule::IndexResend(AlertMap::iterator it) {
  if (!resend_valid_) return;
  if (auto due = ResendDue(it->second, resend_delay_ms_)) resend_.insert({*due, it});
}

void AlertingRule::UnindexResend(AlertMap::iterator it) {
  if (!resend_valid_) return;
  if (auto due = ResendDue(it->second, resend_delay_ms_)) resend_.erase({*due, it});
}

class AlertingRule::TemplateExpander final : public AnnotationExpander {
 public:
  TemplateExpander(std::shared_ptr<const std::vector<TemplatedValue>> templates,
                   promql::Labels external_labels, std::string external_url)
      : templates_(std::move(templates)),
        external_labels_(std::move(external_labels)),
        external_url_(std::move(external_url)) {}

  bool Matches(const EvalContext& ctx) const {
    return external_labels_ == ctx.external_labels && external_url_ == ctx.external_url;
  }

  LabelPairs Expand(const promql::Labels& metric, double value, std::int64_t ts_ms) const override {
    // No template calls `query` (or nothing would be deferred).
    return ExpandAll(*templates_,
                     SampleTemplateData(metric, value, ts_ms, external_labels_, external_url_));
  }

 private:
  const std::shared_ptr<const std::vector<TemplatedValue>> templates_;
  const promql::Labels external_labels_;
  const std::string external_url_;
};

std::string AlertingRule::Expand(const TemplatedValue& v, const tmpl::TemplateData& data) {
  if (v.compiled) return v.compiled->Expand(data);
  if (!v.compile_error.empty()) return "<error expanding template: " + v.compile_error + ">";
  return v.raw;
}

LabelPairs AlertingRule::ExpandAll(const std::vector<TemplatedValue>& templates,
                                   const tmpl::TemplateData& data) {
  LabelPairs out;
  out.reserve(templates.size());
  for (const auto& t : templates) out.push_back({t.name, Expand(t, data)});
  return out;
}

namespace {

// The raw rule labels, overridden by the alert's, then the name, alertname and
// (for ALERTS) alertstate, as Prometheus's sample() builds them; in one vector
// rather than label by label.
promql::Labels OutputLabels(const promql::Labels& raw_labels, const Alert& alert,
                            std::string_view metric, std::string_view alert_name,
                            const char* state) {
  std::vector<promql::Label> labels;
  labels.reserve(raw_labels.size() + alert.labels.size() + 3);
  labels.insert(labels.end(), raw_labels.begin(), raw_labels.end());
  labels.insert(labels.end(), alert.labels.begin(), alert.labels.end());
  labels.push_back({std::string(promql::kMetricNameLabel), std::string(metric)});
  labels.push_back({std::string(kAlertNameLabel), std::string(alert_name)});
  if (state != nullptr) labels.push_back({std::string(kAlertStateLabel), state});
  return promql::Labels::FromUnsorted(std::move(labels));  // later names win
}

}  // namespace

promql::Sample AlertingRule::AlertsSample(HeldAlert& alert, std::int64_t t_ms) const {
  promql::Labels& series = alert.alerts_series[static_cast<std::size_t>(alert.state)];
  if (series.empty()) {
    series =
        OutputLabels(raw_labels_, alert, kAlertsMetric, spec_->name, AlertStateName(alert.state));
  }
  return promql::Sample{series, t_ms, 1.0, false};
}

promql::Sample AlertingRule::ForStateSample(HeldAlert& alert, std::int64_t t_ms) const {
  if (alert.for_state_series.empty()) {
    alert.for_state_series =
        OutputLabels(raw_labels_, alert, kAlertsForStateMetric, spec_->name, nullptr);
  }
  return promql::Sample{alert.for_state_series, t_ms,
                        static_cast<double>(UnixSeconds(alert.active_at_ms)), false};
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
  // 1. One new pending alert per result sample, with expanded labels and
  // annotations (or their inputs), in a vector (not a map: no node per
  // alert), put in label order.
  // What the merge needs of a result sample (an Alert is twice as big).
  struct Returned {
    promql::Labels labels;
    double value = 0;
    LabelPairs annotations;
    DeferredAnnotations deferred;
  };
  std::vector<Returned> alerts;
  alerts.reserve(result.size());
  if (defer_annotations_ && (expander_ == nullptr || !expander_->Matches(ctx))) {
    expander_ = std::make_shared<const TemplateExpander>(annotation_templates_, ctx.external_labels,
                                                         ctx.external_url);
  }
  // Plain text expands to itself: the data is only built for templates.
  const bool needs_data = !label_templates_static_ || (has_templates_ && !defer_annotations_);
  for (const auto& sample : result) {
    tmpl::TemplateData data;
    if (needs_data) {
      data =
          SampleTemplateData(sample.metric, sample.v, ts_ms, ctx.external_labels, ctx.external_url);
      // The template function `query` runs at ts itself, not at ts - query_offset.
      data.query = [&ctx, ts_ms](std::string_view text) -> Result<promql::Vector> {
        if (!ctx.query) return Status::FailedPrecondition("no query engine for templates");
        NIMIFY_ASSIGN_OR_RETURN(promql::ExprPtr expr, promql::ParseExpr(text));
        return ctx.query(*expr, ts_ms);
      };
    }

    Returned& alert = alerts.emplace_back();
    alert.labels = AlertLabels(sample.metric, data);
    if (defer_annotations_) {
      alert.deferred = DeferredAnnotations{expander_, sample.metric, sample.v, ts_ms};
    } else {
      alert.annotations = ExpandAll(*annotation_templates_, data);
    }
    alert.value = sample.v;
  }
  // Sorted through a permutation of indices rather than by moving them. A
  // rule's result usually comes in the same order at every evaluation, so
  // the last evaluation's permutation is tried first: checking it costs one
  // comparison per alert, sorting about log2(n).
  std::vector<std::uint32_t>& order = sort_order_;
  const auto by_labels = [&alerts](std::uint32_t x, std::uint32_t y) {
    return alerts[x].labels < alerts[y].labels;
  };
  if (order.size() != alerts.size() || !std::is_sorted(order.begin(), order.end(), by_labels)) {
    order.resize(alerts.size());
    std::iota(order.begin(), order.end(), 0u);
    std::sort(order.begin(), order.end(), by_labels);
  }
  for (std::size_t k = 1; k < order.size(); ++k) {
    if (alerts[order[k - 1]].labels == alerts[order[k]].labels) {
      return Status::InvalidArgument(std::string(kDuplicateAlertLabelSet));
    }
  }
  auto in_alerts = [&alerts, &order](const promql::Labels& labels) {
    const auto it = std::lower_bound(
        order.begin(), order.end(), labels,
        [&alerts](std::uint32_t x, const promql::Labels& y) { return alerts[x].labels < y; });
    return it != order.end() && alerts[*it].labels == labels;
  };

  // 2. Hysteresis needs the recovery results of the firing alerts that the
  // expression no longer returns; query them before changing any state, so
  // that a failing recovery query fails the evaluation like a failing rule query.
  std::unordered_map<const AlertExtension*, promql::Vector> recovery;
  const ExtensionConfig* extensions = options_.extensions;
  {
    MutexLock lock(alerts_mu_);
    if (extensions != nullptr && !extensions->empty()) {
      for (const auto& [labels, a] : active_) {
        if (a.state != AlertState::kFiring || in_alerts(labels)) continue;
        const AlertExtension* ext = extensions->Find(labels);
        if (ext == nullptr || !ext->has_hysteresis() || recovery.count(ext)) continue;
        auto r = ctx.query(*ext->parsed_recovery_expr, ts_ms - query_offset_ms);
        if (!r.ok()) return r.status().WithPrefix("recovery_expr");
        recovery.emplace(ext, std::move(*r));
      }
    }
  }

  MutexLock lock(alerts_mu_);
  // 3. Merge: known pending/firing alerts keep their labels and ActiveAt;
  // new ones (or ones that were resolved) start over as pending. Both are in
  // label order: one merge walk instead of a lookup per alert. Only the
  // labels of `alerts` are used after this.
  auto hint = active_.begin();
  for (const std::uint32_t k : order) {
    Returned& a = alerts[k];
    while (hint != active_.end() && hint->first < a.labels) ++hint;
    if (hint != active_.end() && hint->first == a.labels) {
      hint->second.value = a.value;
      hint->second.annotations = std::move(a.annotations);
      hint->second.deferred = std::move(a.deferred);
      continue;
    }
    // A resolved alert coming back loses its flap verdict only through the tracker.
    EraseResolved(a.labels);
    promql::Labels key = a.labels;
    Alert fresh;
    fresh.labels = a.labels;
    fresh.annotations = std::move(a.annotations);
    fresh.deferred = std::move(a.deferred);
    fresh.state = AlertState::kPending;
    fresh.value = a.value;
    fresh.active_at_ms = ts_ms;
    const auto inserted = active_.emplace_hint(hint, std::move(key), std::move(fresh));
    a.labels = inserted->first;  // step 4 reads it: the held key, compared by pointer
  }

  // 4. The state machine. Resolved alerts only expire (below); the pending
  // and firing ones are walked in label order, as are the result's alerts.
  promql::Vector out;
  const std::int64_t out_ts = ts_ms - query_offset_ms;
  std::int64_t num_active = 0;
  auto returned = order.begin();
  for (auto it = active_.begin(); it != active_.end();) {
    HeldAlert& a = it->second;
    while (returned != order.end() && alerts[*returned].labels < it->first) ++returned;
    const bool in_result = returned != order.end() && !(it->first < alerts[*returned].labels);
    if (!in_result) {
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
      if (!keep_firing) {
        a.state = AlertState::kInactive;
        a.resolved_at_ms = ts_ms;
        MoveToResolved(it++);
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
  // Resolved alerts are dropped after the retention (the oldest first).
  while (!expiry_.empty() && ts_ms - expiry_.begin()->t > kResolvedRetentionMs) {
    const auto it = expiry_.begin()->alert;
    expiry_.erase(expiry_.begin());
    UnindexResend(it);
    resolved_.erase(it);
  }

  if (limit > 0 && num_active > limit) {
    ClearAlerts();
    return Status::ResourceExhausted("exceeded limit of " + std::to_string(limit) + " with " +
                                     std::to_string(num_active) + " alerts");
  }

  // 5. Flap detection: one history entry per evaluation for every tracked label set.
  if (extensions != nullptr && !extensions->empty()) {
    for (auto* held : {&active_, &resolved_}) {
      for (auto& [labels, a] : *held) {
        const AlertExtension* ext = extensions->Find(labels);
        if (ext == nullptr || !ext->flap_detection) continue;
        auto [tracker, inserted] = flap_.try_emplace(labels, *ext->flap_detection);
        (void)inserted;
        tracker->second.Record(a.state == AlertState::kFiring);
        a.flapping = tracker->second.flapping();
        a.flap_share = tracker->second.share();
      }
    }
    for (auto it = flap_.begin(); it != flap_.end();) {
      if (!active_.count(it->first) && !resolved_.count(it->first)) {
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

template <typename Fn>
void AlertingRule::SendDue(std::int64_t ts_ms, std::int64_t resend_delay_ms,
                           std::int64_t group_interval_ms, Fn&& on_sent) {
  auto visit = [&](Alert& a) {
    if (a.state == AlertState::kPending || a.flapping) return;
    const bool resolved_since_sent =
        a.resolved_at_ms && (!a.last_sent_at_ms || *a.resolved_at_ms > *a.last_sent_at_ms);
    const bool resend_due = !a.last_sent_at_ms || *a.last_sent_at_ms + resend_delay_ms < ts_ms;
    if (!resolved_since_sent && !resend_due) return;
    a.last_sent_at_ms = ts_ms;
    // Allow for two missed evaluations or Alertmanager send failures.
    a.valid_until_ms = ts_ms + 4 * std::max(group_interval_ms, resend_delay_ms);
    on_sent(a);
  };
  // Flap detection can change any alert's verdict: walk them all.
  if (options_.extensions != nullptr && !options_.extensions->empty()) {
    resend_valid_ = false;
    resend_.clear();
    ForEachInOrder(active_, resolved_, visit);
    return;
  }
  if (!resend_valid_ || resend_delay_ms_ != resend_delay_ms) {
    resend_valid_ = true;
    resend_delay_ms_ = resend_delay_ms;
    resend_.clear();
    for (auto it = resolved_.begin(); it != resolved_.end(); ++it) IndexResend(it);
  }
  // The resolved alerts due now; the others would not be sent.
  std::vector<AlertMap::iterator> due;
  while (!resend_.empty() && resend_.begin()->t <= ts_ms) {
    due.push_back(resend_.begin()->alert);
    resend_.erase(resend_.begin());
  }
  std::sort(due.begin(), due.end(),
            [](const auto& x, const auto& y) { return x->first < y->first; });
  auto next_due = due.begin();
  for (auto it = active_.begin(); it != active_.end() || next_due != due.end();) {
    if (next_due == due.end() || (it != active_.end() && it->first < (*next_due)->first)) {
      visit(it->second);
      ++it;
      continue;
    }
    visit((*next_due)->second);
    IndexResend(*next_due);
    ++next_due;
  }
}

std::vector<NotificationAlert> AlertingRule::CollectAlertsToSend(std::int64_t ts_ms,
                                                                 std::int64_t resend_delay_ms,
                                                                 std::int64_t group_interval_ms,
                                                                 std::string_view external_url) {
  std::vector<NotificationAlert> out;
  MutexLock lock(alerts_mu_);
  SendDue(ts_ms, resend_delay_ms, group_interval_ms, [&](const Alert& a) {
    alerts_mu_.AssertHeld();  // SendDue calls it under the lock
    if (!has_generator_url_ || generator_url_base_ != external_url) {
      generator_url_ = GeneratorURL(
          external_url, spec_->parsed_expr ? spec_->parsed_expr->ToString() : spec_->expr);
      generator_url_base_ = std::string(external_url);
      has_generator_url_ = true;
    }
    NotificationAlert n;
    n.labels = a.labels;
    n.annotations = AnnotationsOf(a);
    n.starts_at_ms = a.fired_at_ms.value_or(a.active_at_ms);
    n.ends_at_ms = a.resolved_at_ms ? *a.resolved_at_ms : *a.valid_until_ms;
    n.generator_url = generator_url_;
    out.push_back(std::move(n));
  });
  return out;
}

std::vector<Alert> AlertingRule::ActiveAlerts() const {
  MutexLock lock(alerts_mu_);
  std::vector<Alert> out;
  auto visit = [&](const Alert& a) {
    if (!a.resolved_at_ms) out.push_back(a);
  };
  if (resolved_without_time_) {
    ForEachInOrder(active_, resolved_, visit);
  } else {
    for (const auto& [labels, a] : active_) visit(a);
  }
  for (Alert& a : out) ExpandDeferredAnnotations(&a);
  return out;
}

void AlertingRule::ForEachActiveAlert(const std::function<void(const Alert&)>& fn) const {
  MutexLock lock(alerts_mu_);
  auto visit = [&](const Alert& a) {
    if (!a.resolved_at_ms) fn(a);
  };
  if (resolved_without_time_) {
    ForEachInOrder(active_, resolved_, visit);
  } else {
    for (const auto& [labels, a] : active_) visit(a);
  }
}

bool AlertingRule::IsActive(const promql::Labels& labels) const {
  MutexLock lock(alerts_mu_);
  if (auto it = active_.find(labels); it != active_.end() && !it->second.resolved_at_ms) {
    return true;
  }
  if (!resolved_without_time_) return false;
  auto it = resolved_.find(labels);
  return it != resolved_.end() && !it->second.resolved_at_ms;
}

std::vector<Alert> AlertingRule::CurrentAlerts() const {
  MutexLock lock(alerts_mu_);
  std::vector<Alert> out;
  out.reserve(active_.size() + resolved_.size());
  ForEachInOrder(active_, resolved_, [&](const Alert& a) { out.push_back(a); });
  for (Alert& a : out) ExpandDeferredAnnotations(&a);
  return out;
}

AlertState AlertingRule::State() const {
  MutexLock lock(alerts_mu_);
  // resolved_ holds only inactive alerts.
  AlertState max_state = AlertState::kInactive;
  for (const auto& [labels, a] : active_) max_state = std::max(max_state, a.state);
  return max_state;
}

void AlertingRule::RestoreAlerts(std::vector<Alert> alerts) {
  MutexLock lock(alerts_mu_);
  ClearAlerts();
  for (auto& a : alerts) {
    promql::Labels key = a.labels;
    // A later duplicate replaces an earlier one, whatever their states.
    active_.erase(key);
    EraseResolved(key);
    const bool inactive = a.state == AlertState::kInactive;
    auto it = active_.insert_or_assign(std::move(key), std::move(a)).first;
    if (inactive) MoveToResolved(it);
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
