// The embedding API: an Engine evaluates a RuleSet over the samples that
// producers stream into it, and reports alert transitions to handlers.
//
//   NIMIFY_ASSIGN_OR_RETURN(auto rules, nimify::RuleSet::LoadFile("rules/runbook.rules.yml"));
//   NIMIFY_ASSIGN_OR_RETURN(auto engine, nimify::Engine::Create({}, rules));
//   engine->Subscribe([](const nimify::AlertEvent& e) { std::puts(e.rule.c_str()); });
//   NIMIFY_ASSIGN_OR_RETURN(auto producer, engine->NewProducer());     // one per thread
//   const nimify::Label up[] = {{"__name__", "up"}, {"job", "nimify-api"}};
//   NIMIFY_ASSIGN_OR_RETURN(nimify::SeriesRef ref, producer->Resolve(up));
//   NIMIFY_RETURN_IF_ERROR(producer->Append(ref, t_ms, 0));
//   NIMIFY_RETURN_IF_ERROR(producer->Flush());   // publishes; the watermark moves to t_ms
//   producer.reset();                            // closes the producer
//   NIMIFY_RETURN_IF_ERROR(engine->Stop());      // final evaluations, handlers flushed
//
// Time. In event-time mode (the default) evaluation instants follow the
// samples: each producer's watermark is its newest flushed timestamp minus
// the allowed lateness, and the engine evaluates at instant t once every open
// producer's watermark has passed t, over exactly the samples with timestamps
// <= t. Each rule group is evaluated at every multiple of its interval (as
// `promtool test rules` does), so replaying recorded data gives the same
// alerts as streaming it live and as `nimify test rules`. Alerting rules with
// `for: 0` (and no offset or @) are also evaluated between those instants, at
// the timestamp of each new sample of a series they select: such an alert
// fires from the sample that crosses its threshold, whatever the batching.
// A late sample (EngineOptions::max_late_age) joins the windows when it
// arrives and counts from the next evaluation on.
// In wall-clock mode a timer moves every producer's watermark to
// now - allowed_lateness and each group is evaluated when the clock passes a
// multiple of its interval.
#ifndef NIMIFY_ENGINE_H_
#define NIMIFY_ENGINE_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nimify/alert.h"
#include "nimify/export.h"
#include "nimify/rules.h"
#include "nimify/sample.h"
#include "nimify/status.h"

namespace nimify {

namespace internal {
class EngineCore;
class ProducerCore;
}  // namespace internal

enum class ClockMode : std::uint8_t { kEventTime, kWallClock };
enum class PromqlCompat : std::uint8_t {
  kPrometheus2,  // closed range and lookback windows (Prometheus 2.x)
  kPrometheus3,  // left-open windows (Prometheus 3.x)
};
enum class LogLevel : std::uint8_t { kDebug, kInfo, kWarn, kError };

// The thread that calls alert handlers and the log callback.
enum class HandlerThread : std::uint8_t {
  // The engine's dispatcher thread, fed by an unbounded queue: a slow handler
  // delays only the other handlers.
  kDispatcher,
  // The thread that ran the evaluation, before it releases the shards: one
  // thread wake-up sooner, but ingestion waits while handlers run. Handlers
  // must be quick; Query() and the other reads over the shards fail there
  // with kFailedPrecondition, and a Producer used there may wait out its
  // max_wait. Calls are still one at a time and in order. With
  // fire_on_crossing, an alert fired from its crossing sample is delivered on
  // the thread that stores the sample (a shard worker, or a producer that
  // drains idle shards itself), under the same rules.
  kEvaluator,
};

// Plain values (apart from `log`), so a daemon can read them from its config.
struct EngineOptions {
  // Shard worker threads; 0: one per hardware thread.
  std::uint32_t shards = 0;
  // Samples per producer->shard ring; a power of two.
  std::uint32_t ring_capacity = 1u << 14;
  // Producers open at once.
  std::uint32_t max_producers = 64;
  // How far behind its newest sample a producer may still send older samples.
  std::chrono::milliseconds allowed_lateness{0};
  // Late samples, at or below their producer's watermark (remote-write
  // batches are not time-ordered across series, and Prometheus's queue
  // resends minutes of backlog after an outage), are still stored when they
  // are at most this far behind the watermark and newer than their series'
  // newest sample: they count for the evaluations after they arrive, never
  // for one already made. Older ones are refused with kOutOfRange. Unset: the
  // retention (the history the rules need); 0: refuse every late sample. An
  // explicit value above an explicit retention is an error; with the
  // retention computed from the rules, the retention grows to it.
  std::optional<std::chrono::milliseconds> max_late_age;
  ClockMode clock = ClockMode::kEventTime;
  // PromQL's lookback delta for instant selectors.
  std::chrono::milliseconds lookback{5 * 60 * 1000};
  // Interval of rule groups that do not set one (Prometheus's evaluation_interval).
  std::chrono::milliseconds default_eval_interval{60 * 1000};
  PromqlCompat compat = PromqlCompat::kPrometheus3;
  // Evaluate `for: 0` alerting rules as soon as their input changes (see above).
  bool eager_alerts = true;
  // Evaluate threshold rules (`selector > number` and the like) from the few
  // series that cross the threshold, tracked as samples arrive, instead of a
  // scan of every selected series. Same results; only threshold comparisons
  // present when the engine is created are tracked.
  bool incremental_thresholds = true;
  // With both of the above (on by default): a `for: 0` threshold alert (`selector OP number`,
  // no label template, no template that calls `query`, no group limit) fires
  // from the shard thread that stores the crossing sample, instead of after
  // the cut of that sample's instant, which waits for every producer. The
  // evaluation still decides: it writes ALERTS and reports every other
  // transition, and it does not report the announced one again. So that firing
  // event may reach handlers before the events and OnEvaluation call of
  // earlier instants; with HandlerThread::kEvaluator it is delivered on the
  // shard's thread. A series' first sample after start-up or SetRules never
  // fires this way (what the rules held for it before is not known), nor does
  // one whose previous state is not evaluated yet (docs/architecture.md).
  bool fire_on_crossing = true;
  // Event-driven evaluation: at a group's instant, skip a rule whose selected
  // series got no sample since its last evaluation when that evaluation had
  // an empty result and the expression cannot produce anything without new
  // samples (docs/architecture.md lists the expressions). Same results.
  bool skip_quiet_rules = true;
  // Sort the series every query reads by labels, so that float aggregations
  // add in the same order whatever the thread timing (bit-identical replays),
  // at the cost of a sort per selector.
  bool deterministic_order = false;
  // How much history the shards keep: 0 computes it from the rules (largest
  // range + offset + lookback). Rule sets given later to SetRules must fit.
  std::chrono::milliseconds retention{0};
  // $externalLabels / $externalURL in templates, and generator URLs.
  OwnedLabels external_labels;
  std::string external_url;
  // Active series across all shards; 0 is unlimited. Resolve() of a new series
  // beyond it fails with kResourceExhausted.
  std::uint64_t max_series = 0;
  // Receives the engine's log lines (rule failures, handler exceptions) on
  // the handler thread. Unset: dropped.
  std::function<void(LogLevel, std::string_view)> log;
  HandlerThread handler_thread = HandlerThread::kDispatcher;
};

// What a producer does when the ring to a shard is full.
enum class BackpressurePolicy : std::uint8_t {
  kRefuse,  // refuse the sample at once: kResourceExhausted
  kWait,    // wait up to max_wait for room, then refuse: kDeadlineExceeded
};

struct ProducerOptions {
  BackpressurePolicy backpressure = BackpressurePolicy::kWait;
  std::chrono::nanoseconds max_wait = std::chrono::seconds(1);
};

// Counters of one producer.
struct ProducerStats {
  std::uint64_t accepted = 0;
  std::uint64_t refused = 0;  // backpressure, closed producer, bad refs
  // Refused as too late: more than max_late_age behind the watermark.
  std::uint64_t late = 0;
};

// What Producer::AppendBatch(samples, outcome) did, per kind of sample.
struct AppendOutcome {
  std::size_t accepted = 0;
  // Of `accepted`: at or below the producer's watermark (late, still stored).
  std::size_t accepted_late = 0;
  // kOutOfRange: more than max_late_age behind the watermark. The first one's
  // index in the batch and its message.
  std::size_t too_late = 0;
  std::size_t first_too_late = 0;
  std::string too_late_message;
  // kInvalidArgument: not a ref of this engine.
  std::size_t invalid = 0;
  // Not appended because the batch stopped (see `stopped`): the refused
  // sample and every one after it.
  std::size_t not_appended = 0;
  // Why the batch stopped early (backpressure: kResourceExhausted or
  // kDeadlineExceeded; closed or stopped: kFailedPrecondition); OK when it ran through.
  Status stopped;
};

struct EngineStats {
  std::uint64_t samples_accepted = 0;
  std::uint64_t samples_refused = 0;
  // Late samples (EngineOptions::max_late_age). Refused as too late
  // (kOutOfRange), also in ProducerStats::late:
  std::uint64_t samples_late = 0;
  // Stored by the shards (one older than its series' newest sample is
  // rejected instead, in samples_rejected):
  std::uint64_t samples_late_stored = 0;
  std::uint64_t samples_rejected = 0;  // by a shard: out of order, duplicate, too old, unknown ref
  std::uint64_t series_live = 0;
  std::uint64_t series_refused = 0;  // max_series
  std::uint64_t memory_bytes = 0;    // estimate of the shards' heap
  std::uint64_t evaluation_instants = 0;
  // Instants at which at least one group was due (multiples of the engine's
  // step), and the thread CPU time spent evaluating rules: at those instants,
  // and in all (eager evaluations between group instants included).
  std::uint64_t group_evaluation_instants = 0;
  std::uint64_t group_evaluation_cpu_ns = 0;
  std::uint64_t evaluation_cpu_ns = 0;
  std::uint64_t rule_evaluations = 0;
  std::uint64_t incremental_evaluations = 0;  // queries answered by the threshold tracker
  // Rule evaluations at group instants left out because the result was known
  // to be empty (EngineOptions::skip_quiet_rules); not in rule_evaluations.
  std::uint64_t rule_evaluations_skipped = 0;
  std::uint64_t rule_failures = 0;
  std::uint64_t alert_events = 0;      // transitions queued for the handlers
  // EngineOptions::fire_on_crossing: firing events sent from the crossing
  // sample, and those no evaluation confirmed (after a rule swap; else a bug).
  std::uint64_t alerts_fired_on_crossing = 0;
  std::uint64_t crossing_alerts_unconfirmed = 0;
  std::uint64_t handler_calls = 0;
  std::uint64_t handler_failures = 0;  // handler threw
  std::uint64_t queue_depth = 0;       // events waiting for the dispatcher
  std::int64_t last_evaluation_ms = 0;
  // Wall-clock mode: how often the clock moved the watermarks, on its tick and
  // early, because a Flush() published samples the wall clock had already passed.
  std::uint64_t clock_ticks = 0;
  std::uint64_t clock_wakeups = 0;
};

class Engine;

// Appends samples for one thread. The rings from producers to shards are
// single-producer, so each thread that appends needs its own Producer.
// Thread safety: one thread at a time per Producer; different Producers are
// independent. A Producer may outlive its Engine: after Stop() every call
// fails with kFailedPrecondition.
class NIMIFY_EXPORT Producer {
 public:
  ~Producer();  // Close()
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // The series' reference, creating the series on first use. Labels may come
  // in any order; they must include a valid __name__, have valid names, no
  // duplicates and no empty values. kInvalidArgument for a bad label set,
  // kResourceExhausted at EngineOptions::max_series. Same as Engine::Resolve.
  Result<SeriesRef> Resolve(std::span<const Label> labels);

  // Appends one sample. The shards see it after the next publish (every few
  // dozen samples per shard, and at Flush()). A late sample (at or below
  // this producer's watermark) is accepted within EngineOptions::max_late_age.
  // Errors, each also counted: kOutOfRange: later than that;
  // kInvalidArgument: the ref cannot be one of this engine's;
  // kResourceExhausted (policy kRefuse) / kDeadlineExceeded (kWait): the ring
  // is full; kFailedPrecondition: closed or stopped. Samples the shard cannot
  // store (older than the series' newest, a different value at the same
  // timestamp, the ref of a series freed after a long idle time; see
  // SeriesRef) are rejected later, asynchronously, and counted in
  // EngineStats::samples_rejected.
  Status Append(SeriesRef series, std::int64_t timestamp_ms, double value);

  // The fast path: appends every sample in order, skipping (and counting)
  // the ones Append would refuse. Returns OK when all were accepted, else the
  // first error; `accepted` (optional) receives how many were.
  Status AppendBatch(std::span<const Sample> samples, std::size_t* accepted = nullptr);

  // The same for a caller that needs each kind of outcome (a remote-write
  // receiver): the samples are staged and published at the next Flush (or
  // when a ring fills), so call Flush after the batch; too-late samples and
  // bad refs are skipped, and the batch stops at the first sample refused for
  // backpressure or a closed producer (a client retries the whole request).
  // Returns outcome->stopped. stats() counts every sample as Append would,
  // the ones not appended as refused.
  Status AppendBatch(std::span<const Sample> samples, AppendOutcome* outcome);

  // Publishes every staged sample and moves this producer's watermark to its
  // newest timestamp - allowed lateness: later samples at or below it are
  // late (see Append). With lateness 0, finish a timestamp before flushing:
  // the rest of that timestamp would be late. kFailedPrecondition when closed.
  Status Flush();

  // Promises that every sample with timestamp <= t has been sent (so the
  // engine may evaluate up to t without waiting for this producer), then
  // flushes. Use it to let evaluation proceed through periods without samples.
  Status AdvanceWatermark(std::int64_t t_ms);

  // Flushes and leaves the watermark: the engine stops waiting for this
  // producer. Idempotent.
  void Close();

  std::int64_t watermark() const noexcept;
  ProducerStats stats() const noexcept;

 private:
  friend class Engine;
  explicit Producer(std::unique_ptr<internal::ProducerCore> impl);
  std::unique_ptr<internal::ProducerCore> impl_;
};

// ---- Ad-hoc queries ------------------------------------------------------------
//
// Engine::Query and the calls after it read the engine's windows as of its last
// evaluation instant (a consistent cut: exactly the samples with timestamps <=
// that instant), together with what the rules wrote (recording rules, ALERTS,
// ALERTS_FOR_STATE): the series the rules themselves see. The windows hold
// only the retention the rules need (EngineOptions::retention), so older data
// is gone. Ingestion waits while a query runs; keep queries small.

// One sample of a query result.
struct QueryPoint {
  std::int64_t t_ms = 0;
  double value = 0;
};

// One series of a query result: a single point in an instant vector, every
// step's point in a range query's matrix.
struct QuerySeries {
  OwnedLabels labels;  // sorted by name
  std::vector<QueryPoint> points;
};

// Prometheus's result types: "vector", "matrix", "scalar", "string".
enum class QueryValueType : std::uint8_t { kVector, kMatrix, kScalar, kString };

struct QueryResult {
  QueryValueType type = QueryValueType::kVector;
  std::vector<QuerySeries> series;  // kVector and kMatrix
  QueryPoint scalar;                // kScalar (and the time of a kString)
  std::string string_value;         // kString
  std::vector<std::string> warnings;  // Prometheus's warning annotations
  std::vector<std::string> infos;     // ... and info annotations
};

struct QueryOptions {
  // The evaluator cannot be interrupted: the limit is checked when the query
  // gets the windows and when it ends; past it the query fails with
  // kDeadlineExceeded ("query timed out in query execution").
  std::chrono::milliseconds timeout{2 * 60 * 1000};
  // Samples the query may hold at once; kResourceExhausted beyond.
  std::size_t max_samples = 50'000'000;
  // The lookback of instant selectors; 0: EngineOptions::lookback.
  std::chrono::milliseconds lookback{0};
};

struct ActiveAlertsOptions {
  // Expand the alerts' annotation templates. Callers that only keep state
  // (the daemon's saved alert state) turn it off: with many alerts firing,
  // expanding is most of the cost.
  bool annotations = true;
};

// A rule's health for /api/v1/rules, as of the last evaluation of its group.
struct RuleHealth {
  std::string file;
  std::string group;
  std::chrono::milliseconds group_interval{0};
  std::optional<std::int64_t> group_last_evaluation_ms;  // unset: never evaluated
  std::chrono::nanoseconds group_evaluation_duration{0};
  std::string name;  // `alert` or `record`
  RuleKind kind = RuleKind::kAlerting;
  std::string expr;
  std::string health;      // "ok", "err" or "unknown" (not evaluated yet)
  std::string last_error;  // empty unless health is "err"
  std::optional<std::int64_t> last_evaluation_ms;
  std::chrono::nanoseconds evaluation_duration{0};
};

// What Engine::EvaluateRulesOnce found.
struct RulesEvaluation {
  std::int64_t eval_time_ms = 0;
  std::uint64_t rule_evaluations = 0;    // rules of the groups due at eval_time_ms
  std::uint64_t rule_failures = 0;       // rules whose query failed
  std::uint64_t alert_events = 0;        // transitions the evaluation produced
  std::vector<AlertEvent> alerts;        // pending and firing afterwards
  std::chrono::nanoseconds cpu_time{0};  // the evaluating thread's, for the rules
  std::chrono::nanoseconds wall_time{0};
};

// Identifies a registered handler or subscription.
using HandlerId = std::uint64_t;

// Thread safety: every method may be called from any thread, concurrently.
// Handlers run on the engine's dispatcher thread; from there they may call any
// Engine method except Stop() (which waits for the dispatcher). With
// HandlerThread::kEvaluator see the limits there.
class NIMIFY_EXPORT Engine {
 public:
  // Validates the options, builds the rules, starts the shard workers and the
  // dispatcher. The engine's evaluation step is the greatest common divisor of
  // the group intervals (SetRules() must keep to multiples of it).
  // kInvalidArgument for bad options; kInternal if a thread cannot start.
  // `rules` may be null (no rules until SetRules()).
  static Result<std::unique_ptr<Engine>> Create(EngineOptions options,
                                                std::shared_ptr<const RuleSet> rules);
  ~Engine();  // Stop(); never throws
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // A producer for the calling thread. kResourceExhausted when max_producers
  // are open; kFailedPrecondition after Stop().
  Result<std::unique_ptr<Producer>> NewProducer(ProducerOptions options = {});

  // See Producer::Resolve.
  Result<SeriesRef> Resolve(std::span<const Label> labels);

  // Registers a handler; it receives every transition queued after this call.
  HandlerId AddHandler(std::shared_ptr<AlertHandler> handler);
  // The same for a callback.
  HandlerId Subscribe(std::function<void(const AlertEvent&)> callback);
  // After it returns the handler is not called again (unless it is called from
  // that handler itself). kNotFound for an unknown id.
  Status RemoveHandler(HandlerId id);

  // Replaces the rules. The new set is validated completely first; on error
  // nothing changes. Every evaluation after the call uses the new rules; alert
  // state carries over for rules whose identity (group, name, expression,
  // labels) is unchanged, and series written by removed rules are marked stale.
  // kInvalidArgument: an interval that is not a multiple of the engine's step;
  // kFailedPrecondition: the rules need more history than the retention, or
  // the engine is stopped.
  Status SetRules(std::shared_ptr<const RuleSet> rules);
  std::shared_ptr<const RuleSet> rules() const;

  // Pending and firing alerts as of the last evaluation (state kPending or
  // kFiring, eval_time_ms = that evaluation).
  std::vector<AlertEvent> ActiveAlerts(const ActiveAlertsOptions& options = {}) const;

  // Hands pending and firing alerts saved before a restart (ActiveAlerts()
  // of the previous process) back to their rules, matched by file, group,
  // rule name and expression, so a pending `for` resumes instead of starting
  // from zero and a firing alert keeps its firing-since (Prometheus restores
  // this from ALERTS_FOR_STATE); keep_firing_since_ms and last_sent_at_ms
  // carry over too, so keep_firing_for and resend timing do not restart.
  // The earlier active-at wins over what a rule already holds. Call it once samples flow again: the next evaluation
  // resolves a restored alert whose series the expression no longer returns.
  // Returns how many alerts found their rule.
  Result<std::size_t> RestoreAlerts(const std::vector<AlertEvent>& alerts);

  EngineStats stats() const;
  // The last evaluation instant (minimum int64 before the first).
  std::int64_t last_evaluation_ms() const;

  // Ad-hoc PromQL over the windows as of the last evaluation instant (see
  // "Ad-hoc queries" above); t_ms may be any time, but no sample after that
  // instant is visible. Safe from any thread, handlers included, except from
  // inside the engine's own evaluation; after Stop() it reads the final state.
  // Errors: kParseError with Prometheus's text ("1:5: parse error: ...");
  // kInvalidArgument for errors Prometheus raises while evaluating;
  // kResourceExhausted past max_samples; kDeadlineExceeded past the timeout.
  Result<QueryResult> Query(std::string_view expr, std::int64_t t_ms, QueryOptions options = {});
  // A range query: instants start, start + step, ... <= end; the result is a
  // kMatrix. kInvalidArgument with Prometheus's texts for end < start, step
  // <= 0 or more than 11,000 steps, and for an expression that is not a
  // scalar or an instant vector.
  Result<QueryResult> QueryRange(std::string_view expr, std::int64_t start_ms, std::int64_t end_ms,
                                 std::chrono::milliseconds step, QueryOptions options = {});

  // /api/v1/series: the label sets of the series matching any of the
  // selectors (`up{job="a"}`, `{__name__=~"x.*"}`) with a sample in
  // [start_ms, end_ms], sorted. kInvalidArgument without a selector or for
  // end < start; kParseError for a bad selector.
  Result<std::vector<OwnedLabels>> Series(std::span<const std::string> selectors,
                                          std::int64_t start_ms, std::int64_t end_ms);
  // /api/v1/labels: the label names of the series with a sample in [start_ms,
  // end_ms], of those matching any selector when some are given; sorted.
  Result<std::vector<std::string>> LabelNames(std::span<const std::string> selectors,
                                              std::int64_t start_ms, std::int64_t end_ms);
  // /api/v1/label/<name>/values: the values of label `name`, likewise.
  Result<std::vector<std::string>> LabelValues(std::string_view name,
                                               std::span<const std::string> selectors,
                                               std::int64_t start_ms, std::int64_t end_ms);

  // Every rule of the current rule set in file order, with its health.
  std::vector<nimify::RuleHealth> RuleHealth() const;

  // Evaluates the rules of `rules` (not the engine's own) once at instant t
  // over the samples the shards hold as of the last evaluation, as a first
  // evaluation of those rules would go: fresh alert state (a rule with `for`
  // is at most pending), every rule run in full (no incremental thresholds,
  // no skipped rules), recording rules feeding later rules of the same set.
  // Groups run if t is on their interval grid (a minute boundary suits
  // intervals that divide a minute). It delivers nothing and changes nothing
  // in the engine: a dry run of a rule file against what the engine holds,
  // and the cost of a whole evaluation, for benchmarks. It holds the shards
  // while it runs, as a group evaluation does. Works after Stop() too, over
  // what was held then. kFailedPrecondition when the rules read more history
  // than the engine keeps, or from a handler on the evaluating thread.
  Result<RulesEvaluation> EvaluateRulesOnce(const RuleSet& rules, std::int64_t t);

  // The history the shards keep: EngineOptions::retention, or what the rules
  // given to Create() read (largest range + offset, at least the lookback).
  std::chrono::milliseconds retention() const;

  // Drains the rings, runs the evaluations that are due up to the watermark,
  // delivers every queued event, calls each handler's Flush() and stops the
  // threads. Close or flush producers first: samples a producer has not
  // flushed are not seen. Idempotent; later calls return the first result.
  // Must not be called from a handler.
  Status Stop();

 private:
  explicit Engine(std::shared_ptr<internal::EngineCore> impl);
  std::shared_ptr<internal::EngineCore> impl_;
};

}  // namespace nimify

#endif  // NIMIFY_ENGINE_H_
