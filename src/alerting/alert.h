// Alert instances, their states, and the Alertmanager-shaped notifications
// that leave the rule engine (Prometheus rules/alerting.go, notifier/).
#ifndef NIMIFY_ALERTING_ALERT_H_
#define NIMIFY_ALERTING_ALERT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "alerting/rule_file.h"
#include "promql/labels.h"

namespace nimify::alerting {

// Firing > Pending > Inactive, as Prometheus orders them.
enum class AlertState : std::uint8_t { kInactive = 0, kPending = 1, kFiring = 2 };

// "inactive", "pending", "firing" (the ALERTS alertstate values).
const char* AlertStateName(AlertState state) noexcept;

// Expands an alerting rule's annotation templates for one of its alerts.
// Immutable and shared by the rule and the alerts it made: safe to call from
// any thread.
class AnnotationExpander {
 public:
  virtual ~AnnotationExpander() = default;
  // The annotations of an alert from a result sample with these labels and
  // value, evaluated at ts_ms.
  virtual LabelPairs Expand(const promql::Labels& metric, double value,
                            std::int64_t ts_ms) const = 0;
};

// The inputs of annotations that were not expanded yet. A rule whose
// templates give the same text for the same inputs (none calls `query`)
// keeps these at each evaluation instead of the text, which only the alerts
// that are read or sent need.
struct DeferredAnnotations {
  std::shared_ptr<const AnnotationExpander> expander;  // null: nothing deferred
  promql::Labels metric;                               // $labels
  double value = 0;                                    // $value
  std::int64_t ts_ms = 0;                              // the evaluation time

  friend bool operator==(const DeferredAnnotations&, const DeferredAnnotations&) = default;
};

// One alert instance of an alerting rule: a plain value, so that a daemon can
// persist and restore it. Times are Unix milliseconds of evaluation slots; an
// unset optional is Prometheus's zero time.Time.
struct Alert {
  promql::Labels labels;  // identity: series labels - __name__ + rule labels + alertname
  // The expanded annotations, unless `deferred` is set: read them with
  // AnnotationsOf, which expands those.
  LabelPairs annotations;
  DeferredAnnotations deferred;
  AlertState state = AlertState::kPending;
  double value = 0;  // the expression's value at the last evaluation that returned it
  std::int64_t active_at_ms = 0;
  std::optional<std::int64_t> fired_at_ms;
  std::optional<std::int64_t> resolved_at_ms;
  std::optional<std::int64_t> last_sent_at_ms;
  std::optional<std::int64_t> valid_until_ms;
  std::optional<std::int64_t> keep_firing_since_ms;

  // nimify extensions (see extensions.h): flap detection's verdict and share
  // of state changes, copied here at every evaluation so users can see them.
  bool flapping = false;
  double flap_share = 0;

  friend bool operator==(const Alert&, const Alert&) = default;
};

// The alert's annotations, expanding deferred ones.
LabelPairs AnnotationsOf(const Alert& alert);
// Expands deferred annotations into alert->annotations.
void ExpandDeferredAnnotations(Alert* alert);

// Alertmanager's postable alert (what Prometheus's notifier sends).
struct NotificationAlert {
  promql::Labels labels;
  LabelPairs annotations;
  std::int64_t starts_at_ms = 0;  // FiredAt, not ActiveAt
  std::int64_t ends_at_ms = 0;    // ResolvedAt if resolved, else ValidUntil
  std::string generator_url;
};

// Receives the alerts that need sending after each successful evaluation of an
// alerting rule. Called on the evaluating thread: implementations must only
// queue the alerts (nothing slow may run inside an evaluation). External labels
// are the sink's business, as in Prometheus's notifier: add each one the alert
// does not already have (see AddExternalLabels).
class AlertSink {
 public:
  virtual ~AlertSink() = default;
  virtual void Send(std::string_view rule_name, std::string_view expr,
                    std::vector<NotificationAlert> alerts) = 0;
};

// Go's url.QueryEscape: space becomes '+', everything but [A-Za-z0-9-_.~] is %XX.
std::string QueryEscape(std::string_view text);

// externalURL + "/graph?g0.expr=" + QueryEscape(expr) + "&g0.tab=1".
std::string GeneratorURL(std::string_view external_url, std::string_view expr);

// Adds each external label the alert does not have (the notifier's rule).
void AddExternalLabels(const promql::Labels& external_labels, promql::Labels* labels);

}  // namespace nimify::alerting

#endif  // NIMIFY_ALERTING_ALERT_H_
