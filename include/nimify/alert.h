// Alert transitions as the engine reports them, and the handler interface
// that receives them.
//
//   class Pager : public nimify::AlertHandler {
//    public:
//     void OnAlert(const nimify::AlertEvent& e) override {
//       if (e.state == nimify::AlertState::kFiring) Page(e.rule, e.labels);
//     }
//   };
//   engine->AddHandler(std::make_shared<Pager>());
#ifndef NIMIFY_ALERT_H_
#define NIMIFY_ALERT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "nimify/export.h"
#include "nimify/sample.h"

namespace nimify {

// The state an alert instance has just entered.
enum class AlertState : std::uint8_t {
  kPending,   // the rule's expression returned the series; `for` has not elapsed yet
  kFiring,    // pending for at least `for` (at once when `for` is 0)
  kResolved,  // the expression stopped returning it (fired_at_ms unset: it never fired)
};

// "pending", "firing", "resolved".
NIMIFY_EXPORT std::string_view AlertStateName(AlertState state) noexcept;

// One transition of one alert instance. A plain value: copy, store or
// serialise it freely. Times are Unix milliseconds of evaluation instants
// (event time, or wall-clock time in wall-clock mode).
struct AlertEvent {
  std::string rule;        // the alerting rule's `alert` name
  std::string group;       // its rule group
  std::string file;        // the rule file (or the origin given to RuleSet::Parse)
  std::string expr;        // the rule's expression, as written
  OwnedLabels labels;      // identity: series labels - __name__ + rule labels + alertname
  OwnedLabels annotations; // expanded templates, as of this evaluation
  AlertState state = AlertState::kPending;
  double value = 0;                        // the expression's value at this evaluation
  std::int64_t eval_time_ms = 0;           // the evaluation that made the transition
  std::int64_t active_at_ms = 0;           // when it became pending
  std::optional<std::int64_t> fired_at_ms;
  std::optional<std::int64_t> resolved_at_ms;
  // Firing but no longer returned: kept firing since then (keep_firing_for).
  std::optional<std::int64_t> keep_firing_since_ms;
  // The last evaluation that handed it to an AlertSink (resend timing).
  std::optional<std::int64_t> last_sent_at_ms;
  std::string generator_url;  // external_url + "/graph?g0.expr=...", as Prometheus builds it

  friend bool operator==(const AlertEvent&, const AlertEvent&) = default;
};

// Receives alert transitions. Every call comes from the engine's single
// dispatcher thread, never from a producer or shard thread, in the order the
// evaluations made the transitions; a slow handler delays later events, not
// ingestion. One exception to the order: with EngineOptions::fire_on_crossing
// (the default) a `for: 0` threshold alert's firing event may come before the
// events and OnEvaluation call of earlier instants, never before its own
// alert's earlier events. Exceptions are caught and counted
// (EngineStats::handler_failures).
class NIMIFY_EXPORT AlertHandler {
 public:
  virtual ~AlertHandler();
  virtual void OnAlert(const AlertEvent& event) = 0;
  // Called after the events of each evaluation instant (with or without
  // events; in order: the events of t, then OnEvaluation(t)), so a handler
  // that keeps event time knows time moved even when nothing changed.
  virtual void OnEvaluation(std::int64_t eval_time_ms) { (void)eval_time_ms; }
  // Called by Engine::Stop() after the last event, so buffering handlers can flush.
  virtual void Flush() {}
};

}  // namespace nimify

#endif  // NIMIFY_ALERT_H_
