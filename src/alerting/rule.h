// Recording and alerting rules: Prometheus's rules/recording.go and
// rules/alerting.go, evaluated at event time (the evaluation timestamp is a
// parameter; nothing here reads a clock to decide semantics).
//
//   AlertingRule rule(spec, group_labels);
//   auto samples = rule.Eval(ctx, ts, /*query_offset_ms=*/0, /*limit=*/0);
//   // samples: ALERTS / ALERTS_FOR_STATE to write at ts - query_offset
//   auto to_send = rule.CollectAlertsToSend(ts, resend_delay, interval, url);
#ifndef NIMIFY_ALERTING_RULE_H_
#define NIMIFY_ALERTING_RULE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "alerting/alert.h"
#include "alerting/extensions.h"
#include "alerting/rule_file.h"
#include "common/mutex.h"
#include "nimify/status.h"
#include "promql/ast.h"
#include "promql/labels.h"
#include "promql/value.h"
#include "template/alert_template.h"

namespace nimify::alerting {

// Runs an instant query at ts_ms. A scalar result becomes one sample without
// labels; strings and range vectors are errors (Prometheus's EngineQueryFunc).
using QueryFunc =
    std::function<Result<promql::Vector>(const promql::Expr& expr, std::int64_t ts_ms)>;

// What a rule needs from its surroundings during one evaluation.
struct EvalContext {
  QueryFunc query;
  promql::Labels external_labels;  // $externalLabels in templates
  std::string external_url;        // $externalURL in templates
};

enum class RuleHealth : std::uint8_t { kUnknown, kGood, kBad };
const char* RuleHealthName(RuleHealth health) noexcept;  // "unknown", "ok", "err"

// Prometheus's error texts, which promtool prints and tests match.
inline constexpr std::string_view kDuplicateAlertLabelSet =
    "vector contains metrics with the same labelset after applying alert labels";
inline constexpr std::string_view kDuplicateRuleLabelSet =
    "vector contains metrics with the same labelset after applying rule labels";

// Thread safety: Eval and the state-changing calls must come from one thread
// at a time (the group's evaluator). The read accessors (health, last_error,
// ActiveAlerts, ...) may be called concurrently with an evaluation: status_mu_
// guards the health and timing, AlertingRule's alerts_mu_ the held alerts.
class Rule {
 public:
  virtual ~Rule() = default;
  Rule(const Rule&) = delete;
  Rule& operator=(const Rule&) = delete;

  const RuleSpec& spec() const noexcept { return *spec_; }
  const std::string& name() const noexcept { return spec_->name; }
  RuleKind kind() const noexcept { return spec_->kind; }
  // Rule labels merged over the group's labels (the rule wins).
  const LabelPairs& labels() const noexcept { return labels_; }

  // Queries at ts - query_offset and returns the samples to write, stamped
  // ts - query_offset. An error leaves the rule's state untouched. Does not
  // record health: the group does that (append errors count too).
  virtual Result<promql::Vector> Eval(const EvalContext& ctx, std::int64_t ts_ms,
                                      std::int64_t query_offset_ms, std::int64_t limit) = 0;

  RuleHealth health() const;
  std::string last_error() const;  // empty when the last evaluation succeeded
  std::optional<std::int64_t> last_evaluation_ms() const;
  std::chrono::nanoseconds last_evaluation_duration() const;
  void RecordEvaluation(std::int64_t ts_ms, std::chrono::nanoseconds duration);
  void SetHealth(RuleHealth health, std::string last_error);

 protected:
  Rule(std::shared_ptr<const RuleSpec> spec, const LabelPairs& group_labels);

  std::shared_ptr<const RuleSpec> spec_;
  LabelPairs labels_;
  mutable Mutex status_mu_;

 private:
  RuleHealth health_ NIMIFY_GUARDED_BY(status_mu_) = RuleHealth::kUnknown;
  std::string last_error_ NIMIFY_GUARDED_BY(status_mu_);
  std::optional<std::int64_t> last_evaluation_ms_ NIMIFY_GUARDED_BY(status_mu_);
  std::chrono::nanoseconds last_duration_ NIMIFY_GUARDED_BY(status_mu_){0};
};

class RecordingRule final : public Rule {
 public:
  explicit RecordingRule(std::shared_ptr<const RuleSpec> spec, const LabelPairs& group_labels = {});

  Result<promql::Vector> Eval(const EvalContext& ctx, std::int64_t ts_ms,
                              std::int64_t query_offset_ms, std::int64_t limit) override;

  // Applies the rule to a query result (the part of Eval after the query).
  Result<promql::Vector> Apply(promql::Vector result, std::int64_t limit) const;
};

struct AlertingRuleOptions {
  // Write ALERTS / ALERTS_FOR_STATE (Prometheus writes them once the rule's
  // `for` state was restored; promtool marks every rule restored).
  bool restored = true;
  // nimify's hysteresis and flap detection; may be null. Must outlive the rule.
  const ExtensionConfig* extensions = nullptr;
};

class AlertingRule final : public Rule {
 public:
  AlertingRule(std::shared_ptr<const RuleSpec> spec, const LabelPairs& group_labels = {},
               AlertingRuleOptions options = {});

  Result<promql::Vector> Eval(const EvalContext& ctx, std::int64_t ts_ms,
                              std::int64_t query_offset_ms, std::int64_t limit) override;

  // The lifecycle step of Eval for an already-computed query result (tests
  // drive it with hand-built vectors). `ctx.query` serves the template
  // function `query` and the hysteresis recovery queries.
  Result<promql::Vector> ApplyResult(const EvalContext& ctx, const promql::Vector& result,
                                     std::int64_t ts_ms, std::int64_t query_offset_ms,
                                     std::int64_t limit);

  // Prometheus's sendAlerts: the alerts for which needsSending holds (and
  // that are not flapping), with LastSentAt and ValidUntil updated.
  std::vector<NotificationAlert> CollectAlertsToSend(std::int64_t ts_ms,
                                                     std::int64_t resend_delay_ms,
                                                     std::int64_t group_interval_ms,
                                                     std::string_view external_url);

  // Pending and firing alerts (not the resolved ones kept for re-sending),
  // with their annotations expanded.
  std::vector<Alert> ActiveAlerts() const;
  // Calls fn for each of them, in label order, without copying: under the
  // rule's lock, so fn must not call back into the rule. Their annotations
  // may be deferred: read them with AnnotationsOf.
  void ForEachActiveAlert(const std::function<void(const Alert&)>& fn) const;
  // Whether an alert with these labels is pending or firing.
  bool IsActive(const promql::Labels& labels) const;
  // Every alert held, resolved ones included (for persistence and the API),
  // with their annotations expanded.
  std::vector<Alert> CurrentAlerts() const;
  // Firing > Pending > Inactive over the held alerts.
  AlertState State() const;

  // Replaces the held alerts (restoring persisted state or a reload's carry-over).
  void RestoreAlerts(std::vector<Alert> alerts);

  // The labels and annotations an evaluation at ts_ms would give the alert of
  // result sample `metric` = `value`, when they do not depend on the rule's
  // state or on other series: no label template, no template that calls
  // `query`, and no hysteresis extension for these labels (such an alert may
  // outlive its samples). nullopt otherwise. Safe on any thread: it reads only
  // what the constructor built.
  struct Preview {
    promql::Labels labels;
    LabelPairs annotations;
  };
  std::optional<Preview> PreviewAlert(const promql::Labels& metric, double value,
                                      std::int64_t ts_ms, const promql::Labels& external_labels,
                                      const std::string& external_url) const;
  // Whether PreviewAlert can answer for some labels.
  bool CanPreview() const noexcept { return label_templates_static_ && !templates_call_query_; }

  // Whether a label or annotation template calls `query`, which may read any series,
  // ALERTS_FOR_STATE included.
  bool TemplatesCallQuery() const noexcept { return templates_call_query_; }

  bool restored() const noexcept { return options_.restored; }
  void set_restored(bool restored) noexcept { options_.restored = restored; }

 private:
  struct TemplatedValue {
    std::string name;
    std::string raw;
    std::optional<tmpl::AlertTemplate> compiled;  // unset for plain text
    std::string compile_error;                    // set when the template does not parse
  };

  // A held alert and the label sets of its ALERTS (by state) and
  // ALERTS_FOR_STATE series, built when first written and kept while the
  // alert is held: writing them at each evaluation copies a reference (the
  // hash is cached, and the OutputStore finds its series by pointer).
  struct HeldAlert : Alert {
    HeldAlert(Alert a) : Alert(std::move(a)) {}  // NOLINT(google-explicit-constructor)
    promql::Labels alerts_series[3];             // by AlertState
    promql::Labels for_state_series;
  };

  // Expands deferred annotations (one per external labels and URL).
  class TemplateExpander;

  static std::string Expand(const TemplatedValue& v, const tmpl::TemplateData& data);
  // Each template's name and its expansion, in order.
  static LabelPairs ExpandAll(const std::vector<TemplatedValue>& templates,
                              const tmpl::TemplateData& data);
  promql::Sample AlertsSample(HeldAlert& alert, std::int64_t t_ms) const;
  promql::Sample ForStateSample(HeldAlert& alert, std::int64_t t_ms) const;
  // The alert's labels for a result sample: the sample's without __name__,
  // then the (expanded) rule labels, then alertname.
  promql::Labels AlertLabels(const promql::Labels& metric, const tmpl::TemplateData& data) const;

  using AlertMap = std::map<promql::Labels, HeldAlert>;
  // A resolved_ alert at a time, ordered by time (then address).
  struct TimedAlert {
    std::int64_t t;
    AlertMap::iterator alert;
  };
  struct TimedAlertLess {
    bool operator()(const TimedAlert& a, const TimedAlert& b) const noexcept {
      if (a.t != b.t) return a.t < b.t;
      return std::less<const promql::Labels*>()(&a.alert->first, &b.alert->first);
    }
  };

  // Visits every held alert (active_ and resolved_) in label order.
  template <typename Map, typename Fn>
  static void ForEachInOrder(Map& active, Map& resolved, Fn&& fn);
  // Moves a just-resolved alert from active_ to resolved_.
  void MoveToResolved(AlertMap::iterator it) NIMIFY_REQUIRES(alerts_mu_);
  // Erases a resolved alert (and its expiry entry), if held.
  void EraseResolved(const promql::Labels& labels) NIMIFY_REQUIRES(alerts_mu_);
  void ClearAlerts() NIMIFY_REQUIRES(alerts_mu_);
  // When a resolved alert is next due for sending (min: now), or nullopt for never.
  static std::optional<std::int64_t> ResendDue(const Alert& a, std::int64_t resend_delay_ms);
  void IndexResend(AlertMap::iterator it) NIMIFY_REQUIRES(alerts_mu_);
  void UnindexResend(AlertMap::iterator it) NIMIFY_REQUIRES(alerts_mu_);
  // Prometheus's sendAlerts state change; on_sent(alert) for each alert to
  // send, in label order.
  template <typename Fn>
  void SendDue(std::int64_t ts_ms, std::int64_t resend_delay_ms, std::int64_t group_interval_ms,
               Fn&& on_sent) NIMIFY_REQUIRES(alerts_mu_);

  AlertingRuleOptions options_;
  std::vector<TemplatedValue> label_templates_;
  // Shared with the expanders of deferred annotations, which may outlive the rule.
  std::shared_ptr<const std::vector<TemplatedValue>> annotation_templates_;
  bool has_templates_ = false;  // some label or annotation needs expanding
  // Annotations are expanded when read, not at each evaluation: some is a
  // template, and none calls `query` (whose answer depends on when it runs).
  bool defer_annotations_ = false;
  bool templates_call_query_ = false;
  // The expander for the last evaluation's external labels and URL. Only the
  // evaluating thread (ApplyResult) touches it.
  std::shared_ptr<const TemplateExpander> expander_;
  // The permutation that put the last result in label order (scratch reused
  // by the next evaluation); only the evaluating thread touches it.
  std::vector<std::uint32_t> sort_order_;
  promql::Labels raw_labels_;   // the un-expanded rule labels (ALERTS starts from these)
  // The rule labels (when none is a template) and alertname, sorted by name:
  // what AlertLabels merges into each result's labels.
  std::vector<promql::Label> static_alert_labels_;
  bool label_templates_static_ = true;

  // Guards every member below.
  mutable Mutex alerts_mu_;
  // The held alerts, split by state so that an evaluation only walks the
  // pending and firing ones, not the resolved ones kept for 15 minutes.
  AlertMap active_ NIMIFY_GUARDED_BY(alerts_mu_);    // pending or firing
  AlertMap resolved_ NIMIFY_GUARDED_BY(alerts_mu_);  // inactive
  // resolved_ alerts by ResolvedAt, oldest first, for their expiry.
  std::set<TimedAlert, TimedAlertLess> expiry_ NIMIFY_GUARDED_BY(alerts_mu_);
  // Some inactive alert has no ResolvedAt (only RestoreAlerts makes those):
  // ActiveAlerts must then look at resolved_ too.
  bool resolved_without_time_ NIMIFY_GUARDED_BY(alerts_mu_) = false;
  // resolved_ alerts by when they are next due for sending with the resend
  // delay resend_delay_ms_, so that sending does not walk them all. Unused
  // with flap detection (verdicts change).
  std::set<TimedAlert, TimedAlertLess> resend_ NIMIFY_GUARDED_BY(alerts_mu_);
  std::int64_t resend_delay_ms_ NIMIFY_GUARDED_BY(alerts_mu_) = 0;
  bool resend_valid_ NIMIFY_GUARDED_BY(alerts_mu_) = false;
  // GeneratorURL for generator_url_base_, built when first needed.
  std::string generator_url_ NIMIFY_GUARDED_BY(alerts_mu_);
  std::string generator_url_base_ NIMIFY_GUARDED_BY(alerts_mu_);
  bool has_generator_url_ NIMIFY_GUARDED_BY(alerts_mu_) = false;
  std::map<promql::Labels, FlapTracker> flap_ NIMIFY_GUARDED_BY(alerts_mu_);
};

// Builds the rule object for a spec.
std::unique_ptr<Rule> MakeRule(std::shared_ptr<const RuleSpec> spec, const LabelPairs& group_labels,
                               AlertingRuleOptions options);

// Prometheus's labels.Labels.String() as 2.x prints it: {a="b", c="d"}.
std::string FormatLabelsBraced(const promql::Labels& labels);
std::string FormatLabelPairsBraced(const LabelPairs& pairs);

}  // namespace nimify::alerting

#endif  // NIMIFY_ALERTING_RULE_H_
