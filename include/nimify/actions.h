// Responses: what happens after an alert fires. A Responder routes the
// engine's alerts through an Alertmanager-compatible tree, applies silences,
// inhibition and acknowledgements, and runs the responses of the receiving
// route (steps with PromQL conditions, verification, budgets and escalation)
// through pluggable ActionHandlers. docs/actions.md describes the config.
//
//   nimify::ResponderOptions opts;
//   NIMIFY_ASSIGN_OR_RETURN(auto responder,
//                           nimify::Responder::LoadFile("rules/runbook.responses.yml", opts));
//   NIMIFY_RETURN_IF_ERROR(responder->Attach(*engine));   // alerts in, PromQL conditions out
//   ...
//   NIMIFY_RETURN_IF_ERROR(responder->Stop());
//
// A handler type of your own:
//
//   class Pager : public nimify::ActionHandler {
//     void Execute(const nimify::ActionRequest& r, nimify::ActionDone done) override {
//       done(nimify::ActionResult::Success("paged"));
//     }
//   };
//   nimify::ActionHandlerRegistry::Default().Register("pager",
//       [](const nimify::ConfigNode&, const nimify::HandlerContext&)
//           -> nimify::Result<std::shared_ptr<nimify::ActionHandler>> {
//         return std::make_shared<Pager>();
//       });
#ifndef NIMIFY_ACTIONS_H_
#define NIMIFY_ACTIONS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nimify/alert.h"
#include "nimify/config.h"
#include "nimify/engine.h"
#include "nimify/export.h"
#include "nimify/sample.h"
#include "nimify/state_store.h"
#include "nimify/status.h"

namespace nimify {

// ---- What a handler is asked to do ---------------------------------------------

// One alert as the responses see it (Alertmanager's view: firing or resolved).
struct AlertSnapshot {
  std::string fingerprint;  // Alertmanager's fingerprint of `labels`, 16 hex digits
  OwnedLabels labels;       // includes alertname
  OwnedLabels annotations;
  AlertState state = AlertState::kFiring;  // kFiring or kResolved
  double value = 0;
  std::int64_t starts_at_ms = 0;  // when it started firing
  std::int64_t ends_at_ms = 0;    // when it resolved; 0 while firing
  std::string generator_url;
};

// One step already taken for an incident, as notifications show it.
struct StepReport {
  std::string response;
  std::string step;
  std::string handler;
  std::string outcome;  // the decision outcome: planned, ran, failed, skipped_condition, ...
  std::string summary;  // "exit 0", "HTTP 200", the refusal reason, ...
  std::string attachment;  // the step's output when the step has `attach: true` (capped)
  std::int64_t at_ms = 0;
};

// The incident of one alert: what Slack and the status page show.
struct IncidentView {
  std::string status;  // "investigating", "acknowledged", "escalated", "resolved"
  std::string acknowledged_by;   // empty when not acknowledged
  std::string ack_comment;
  std::string escalated_to;      // the last escalation level's target
  std::string severity;          // the alert's severity label
  std::vector<StepReport> steps;  // in the order they finished
  std::vector<std::string> manual_steps;  // the checklist for a person
  std::string eta;                // from the `eta` annotation when present
};

// Why a handler is called.
enum class ActionTrigger : std::uint8_t {
  kStep,          // a response step for one alert
  kNotification,  // an Alertmanager-style group notification (group_wait/interval/repeat)
  kIncidentUpdate,  // the alert's incident changed: fired, step finished, acked, escalated, resolved
};

struct ActionRequest {
  ActionTrigger trigger = ActionTrigger::kStep;
  std::string receiver;
  std::string response;  // kStep: the response and step names
  std::string step;
  // "firing", "resolved", "acknowledged", "escalated", "step", "repeat".
  std::string event;
  // kStep / kIncidentUpdate: the one alert; kNotification: the group's alerts.
  std::vector<AlertSnapshot> alerts;
  OwnedLabels group_labels;  // kNotification
  std::string group_key;     // kNotification: Alertmanager's group key
  IncidentView incident;     // kStep / kIncidentUpdate: the incident of alerts[0]
  // The step's `with:` with every template rendered (kStep), else null.
  ConfigNode params;
  bool dry_run = false;
  std::uint32_t attempt = 1;  // 1 for the first try
  std::chrono::milliseconds timeout{30000};
  std::int64_t now_ms = 0;  // the responder's clock (event time in replays)
  // Stable across retries and restarts for the same alert, step and occasion,
  // so a handler can make its effect idempotent.
  std::string idempotency_key;
};

enum class ActionOutcome : std::uint8_t {
  kSuccess,
  kRetryableFailure,  // the dispatcher retries with backoff (timeouts, 5xx, 429, connection errors)
  kPermanentFailure,  // no retry (4xx, a refused argument, exit status != 0 of a fix)
};

struct ActionResult {
  ActionOutcome outcome = ActionOutcome::kSuccess;
  std::string summary;  // one line: "exit 0", "HTTP 204", the error
  std::string output;   // stdout+stderr or response body, capped by the handler
  int exit_status = -1;  // exec: the exit code, 128+signal when killed; -1: none
  int http_status = 0;   // HTTP handlers; 0: none
  std::chrono::milliseconds retry_after{0};  // a server's Retry-After hint

  static ActionResult Success(std::string summary) {
    ActionResult r;
    r.summary = std::move(summary);
    return r;
  }
  static ActionResult Retryable(std::string summary) {
    ActionResult r;
    r.outcome = ActionOutcome::kRetryableFailure;
    r.summary = std::move(summary);
    return r;
  }
  static ActionResult Permanent(std::string summary) {
    ActionResult r;
    r.outcome = ActionOutcome::kPermanentFailure;
    r.summary = std::move(summary);
    return r;
  }
};

// Must be called exactly once per Execute, from any thread.
using ActionDone = std::function<void(ActionResult)>;

// Carries out requests of one configured handler instance.
// Thread safety: the dispatcher calls Validate/Render/Execute from its worker
// threads, up to the handler's concurrency limit at once; implementations
// must be safe for that. Execute must not block for long: hand slow work to
// a thread or an event loop of its own, or keep it bounded by request.timeout.
// An exception escaping any method is caught and recorded as a permanent failure.
class NIMIFY_EXPORT ActionHandler {
 public:
  virtual ~ActionHandler();

  // Load time: checks one step's `with:` params (templates not yet rendered:
  // strings may hold {{ }}). Errors via params.Error(...) carry file:line:col.
  virtual Status ValidateParams(const ConfigNode& params) const;
  // Which triggers this handler accepts (a `webhook` takes notifications, an
  // `exec` takes steps); the loader refuses other uses.
  virtual bool Accepts(ActionTrigger trigger) const = 0;

  // Checks the rendered request and says what it would do ("kubectl get pods
  // -n x", "POST http://..."). An error refuses the request before anything
  // runs, also in dry-run: this is where label values that try injection are
  // stopped.
  virtual Result<std::string> Render(const ActionRequest& request) const = 0;

  // Runs one attempt (never called in dry-run). Calls `done` exactly once.
  virtual void Execute(const ActionRequest& request, ActionDone done) = 0;

  // Stop(): give up waiting work; called once, before destruction.
  virtual void Shutdown() {}
};

// What a factory gets besides the handler's `config:` section.
struct HandlerContext {
  std::string name;             // the handler's name in the config
  std::string type;             // its type
  StateStore* store = nullptr;  // durable state; use keys under "handler/<name>/"
  std::function<void(LogLevel, std::string_view)> log;  // never null
  // True when this handler can only plan: global or handler dry-run, or
  // ResponderOptions::force_dry_run. A factory may then defer checks that
  // need the outside world (a program on PATH) to the first real run; a
  // reload that turns dry-run off builds new handlers, which check again.
  bool dry_run = false;
};

using ActionHandlerFactory = std::function<Result<std::shared_ptr<ActionHandler>>(
    const ConfigNode& config, const HandlerContext& context)>;

// Handler types by name. Default() holds the built-in types: exec, http,
// webhook, slack, statuspage, alertmanager, log.
// Thread safety: every method may be called from any thread.
class NIMIFY_EXPORT ActionHandlerRegistry {
 public:
  ActionHandlerRegistry();
  ~ActionHandlerRegistry();
  ActionHandlerRegistry(const ActionHandlerRegistry&) = delete;
  ActionHandlerRegistry& operator=(const ActionHandlerRegistry&) = delete;

  static ActionHandlerRegistry& Default();
  // A registry with the built-in types only (for tests that add their own).
  static std::unique_ptr<ActionHandlerRegistry> WithBuiltins();

  // kAlreadyExists when `type` is taken.
  Status Register(std::string type, ActionHandlerFactory factory);
  // kNotFound, with the known types in the message.
  Result<ActionHandlerFactory> Find(std::string_view type) const;
  std::vector<std::string> types() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---- Silences and acknowledgements -------------------------------------------

// One Alertmanager matcher (=, !=, =~, !~).
struct MatcherSpec {
  std::string name;
  std::string value;
  bool is_regex = false;
  bool is_equal = true;
  friend bool operator==(const MatcherSpec&, const MatcherSpec&) = default;
};

enum class SilenceState : std::uint8_t { kPending, kActive, kExpired };
NIMIFY_EXPORT std::string_view SilenceStateName(SilenceState state) noexcept;

// Alertmanager's silence, plus expire_on_resolve.
struct Silence {
  std::string id;  // empty when adding: the responder assigns a UUID
  std::vector<MatcherSpec> matchers;
  std::int64_t starts_at_ms = 0;
  std::int64_t ends_at_ms = 0;
  std::int64_t updated_at_ms = 0;  // set by the responder
  std::string created_by;
  std::string comment;
  // nimify: expire as soon as every alert it silenced has resolved (it must
  // have silenced at least one).
  bool expire_on_resolve = false;
  SilenceState state = SilenceState::kPending;  // computed on read
};

struct Acknowledgement {
  std::string id;           // empty when adding: assigned
  std::string fingerprint;  // acknowledge one alert ...
  std::vector<MatcherSpec> matchers;  // ... or every alert these match
  std::string created_by;
  std::string comment;
  std::int64_t created_at_ms = 0;  // set by the responder
  std::int64_t ends_at_ms = 0;     // 0: until the alert resolves
};

// An alert and what the responder made of it (the daemon's /api/v2/alerts).
struct AlertStatus {
  AlertSnapshot alert;
  std::vector<std::string> receivers;
  std::string state;  // "active", "suppressed" (silenced or inhibited), "unprocessed"
  std::vector<std::string> silenced_by;   // silence ids
  std::vector<std::string> inhibited_by;  // fingerprints
  std::vector<std::string> acknowledged_by;  // acknowledgement ids
  std::int64_t updated_at_ms = 0;
};

// ---- Decisions ---------------------------------------------------------------

// One decision of the responder: what `nimify replay` prints, one JSON object a
// line, and what the audit log records (docs/actions.md "## Decisions").
//
// kind and the outcomes it takes (empty outcome: the kind says it all):
//   alert         state pending|firing|resolved; outcome empty.
//   notify        a group notification: ran, planned (dry-run), skipped_muted
//                 (a mute/active time interval); labels = the group labels,
//                 alertname when the group's alerts share one, detail = group
//                 key and counts.
//   silenced      detail "silence <id>"; once per alert and silence.
//   inhibited     detail "inhibited by <fingerprint>".
//   acknowledged  detail "<who>: <comment>".
//   escalate      target = the level's target, detail "level N of <policy>".
//   step          ran, failed (the call failed, a `when` or template error),
//                 planned (dry-run), refused (Render refused it), manual (text
//                 for a person, rendered), skipped_condition, skipped_budget,
//                 skipped_cooldown, breaker_open (then escalates), cancelled
//                 (the alert resolved before the step started).
//   verify        recovered, not_recovered (then on_failure runs).
// Audit log only (never printed by replay, never passed to on_decision):
//   step/started  the decision to run, recorded before the handler is called;
//   attempt       one record per handler attempt: ran or failed, attempt,
//                 duration_ms, exit/HTTP status, summary ("... (retrying)").
struct Decision {
  std::int64_t ts_ms = 0;
  // alert, notify, silenced, inhibited, acknowledged, step, escalate, verify
  // (audit log also: attempt).
  std::string kind;
  std::string state;  // kind alert: pending, firing, resolved
  std::string alertname;
  OwnedLabels labels;  // the alert's labels; notify: the group labels
  std::string fingerprint;
  std::string receiver;
  std::string response;
  std::string step;
  std::string handler;
  // See above: planned, ran, failed, refused, manual, skipped_condition,
  // skipped_budget, skipped_cooldown, skipped_muted, breaker_open, cancelled,
  // recovered, not_recovered (audit log also: started).
  std::string outcome;
  std::string target;   // escalation level target, or a remediation target
  // What was decided: for a step, always the Render() text (the rendered argv
  // or request), planned or run; else the condition, the reason, the group.
  std::string detail;
  std::string summary;  // a step that ran: the handler's result ("exit 0", "HTTP 200")
  std::string output;   // an excerpt of the output
  int exit_status = -1;
  int http_status = 0;
  std::uint32_t attempt = 0;
  std::chrono::milliseconds duration{0};  // audit log: duration_ms
  bool dry_run = false;
};

// The decision as one JSON object (no newline), fields in a fixed order.
NIMIFY_EXPORT std::string DecisionToJson(const Decision& decision);

// ---- The responder -----------------------------------------------------------

enum class ResponderClock : std::uint8_t {
  kWall,    // timers follow the wall clock
  kManual,  // time moves only by AdvanceTo() and engine evaluations (replays, tests)
};

struct ResponderOptions {
  ResponderClock clock = ResponderClock::kWall;
  // Forces dry-run for every handler, whatever the config says.
  bool force_dry_run = false;
  // Durable state; null: an in-memory store.
  std::shared_ptr<StateStore> store;
  // Handler types; null: ActionHandlerRegistry::Default().
  const ActionHandlerRegistry* registry = nullptr;
  // Evaluates `when` and `verify` conditions. Attach() sets it to the engine's Query.
  std::function<Result<QueryResult>(std::string_view expr, std::int64_t t_ms)> query;
  // Called for every decision, in decision order, from the responder's thread.
  std::function<void(const Decision&)> on_decision;
  std::function<void(LogLevel, std::string_view)> log;
  // Threads that run handler calls.
  std::uint32_t worker_threads = 4;
  // Seeds retry jitter; 0: random.
  std::uint64_t seed = 0;
};

struct ResponderStats {
  std::uint64_t alerts_received = 0;
  std::uint64_t notifications = 0;
  std::uint64_t steps_run = 0;
  std::uint64_t steps_planned = 0;  // dry-run
  std::uint64_t steps_failed = 0;
  std::uint64_t steps_skipped = 0;
  std::uint64_t escalations = 0;
  std::uint64_t handler_attempts = 0;
  std::uint64_t handler_retries = 0;
  std::uint64_t in_flight = 0;
  std::uint64_t audit_records = 0;
  std::uint64_t state_write_failures = 0;
};

// Receives alerts (as an AlertHandler), decides, and runs the responses.
// Thread safety: every public method may be called from any thread. OnAlert
// only queues: routing, timers and handler calls run on the responder's own
// threads, never on the engine's.
class NIMIFY_EXPORT Responder : public AlertHandler {
 public:
  // Validates the whole config (routes, receivers, handlers, responses,
  // escalations, budgets; every template and PromQL expression compiled).
  // Errors: kInvalidArgument / kParseError "file:line:col: ...", one per line.
  static Result<std::shared_ptr<Responder>> Create(const ConfigNode& config,
                                                   ResponderOptions options);
  static Result<std::shared_ptr<Responder>> LoadFile(const std::string& path,
                                                     ResponderOptions options);
  ~Responder() override;

  // Subscribes to the engine's alerts and answers conditions with
  // engine.Query. The engine must outlive the responder's Stop().
  Status Attach(Engine& engine);

  // AlertHandler: queues the transition (pending transitions only update the view).
  void OnAlert(const AlertEvent& event) override;
  // Manual clock: the engine evaluated instant t.
  void OnEvaluation(std::int64_t eval_time_ms) override;
  void Flush() override;

  // Manual clock: processes every queued alert and every timer due up to t_ms,
  // in time order. Wall clock: no effect.
  void AdvanceTo(std::int64_t t_ms);
  // Waits until nothing is queued or running (manual clock: every handler call
  // started so far has finished and its follow-ups are decided).
  // kDeadlineExceeded after `timeout`.
  Status WaitIdle(std::chrono::milliseconds timeout);

  // Silences, with Alertmanager's semantics: an existing id updates (or, when
  // the silence is active and the matchers change, expires it and creates a
  // new one); returns the id. kInvalidArgument for bad matchers or times.
  Result<std::string> AddSilence(Silence silence);
  Status ExpireSilence(std::string_view id);  // kNotFound
  Result<Silence> GetSilence(std::string_view id) const;
  std::vector<Silence> Silences() const;

  Result<std::string> Acknowledge(Acknowledgement ack);
  Status Unacknowledge(std::string_view id);  // kNotFound
  std::vector<Acknowledgement> Acknowledgements() const;

  std::vector<AlertStatus> Alerts() const;
  ResponderStats stats() const;
  // The responder's clock (Unix ms).
  std::int64_t now_ms() const;

  // Stops intake, waits up to `deadline` for calls in flight (recording the
  // ones cut short in the audit log), flushes state. Idempotent.
  Status Stop(std::chrono::milliseconds deadline = std::chrono::seconds(10));

 private:
  struct Impl;
  explicit Responder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace nimify

#endif  // NIMIFY_ACTIONS_H_
