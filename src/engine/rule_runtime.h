// The rules of one RuleSet as the engine runs them: one alerting::RuleGroup
// per group, each rule's pipeline id, and each alerting rule's alert states
// as of its last evaluation (to report transitions).
//
//   NIMIFY_ASSIGN_OR_RETURN(auto runtime, RuleRuntime::Build(*rules, options, first_id));
//   runtime->TakeStateFrom(*old_runtime, &out);      // on SetRules
//   runtime->Evaluate(cut.t, cut.dirty, cut.storage, &outputs, &out);
#ifndef NIMIFY_ENGINE_RULE_RUNTIME_H_
#define NIMIFY_ENGINE_RULE_RUNTIME_H_

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "alerting/group.h"
#include "alerting/rule.h"
#include "common/mutex.h"
#include "engine/output_store.h"
#include "engine/sample_tracker.h"
#include "nimify/alert.h"
#include "nimify/engine.h"
#include "nimify/rules.h"
#include "nimify/status.h"
#include "pipeline/pipeline.h"
#include "pipeline/selector_index.h"
#include "promql/evaluator.h"
#include "promql/labels.h"

namespace nimify::engine {

class CrossingAlerts;
struct CrossingRule;

// AlertEvent's label lists from the internal ones.
OwnedLabels ToOwned(const promql::Labels& labels);
OwnedLabels ToOwned(const alerting::LabelPairs& pairs);

struct RuntimeOptions {
  promql::EvalOptions eval;
  std::int64_t default_interval_ms = 60 * 1000;
  promql::Labels external_labels;
  std::string external_url;
  bool eager_alerts = true;
  // Evaluate threshold rules from the SampleTracker's candidates (see BindTracker).
  bool incremental_thresholds = true;
  // Skip group evaluations whose result is known to be empty (see RuntimeRule::skippable).
  bool skip_quiet_rules = true;
};

// Rule inputs (the selectors of a rule) by stable id: rules with the same
// selectors share an input, also across rule sets, so the pipeline's ids and
// the SampleTracker's state survive SetRules. Thread safety: all methods lock.
class InputRegistry {
 public:
  std::uint32_t Intern(const std::vector<std::vector<promql::LabelMatcher>>& selectors);
  std::vector<pipeline::RuleSelectors> Selectors(const std::vector<std::uint32_t>& ids) const;

 private:
  mutable Mutex mu_;
  std::map<std::string, std::uint32_t> ids_ NIMIFY_GUARDED_BY(mu_);
  std::vector<std::vector<std::vector<promql::LabelMatcher>>> selectors_ NIMIFY_GUARDED_BY(mu_);
};

// What one evaluation (or a rule swap) produced, for the dispatcher.
struct EvalOutput {
  std::vector<AlertEvent> events;
  std::vector<std::pair<LogLevel, std::string>> logs;
  std::uint64_t rule_evaluations = 0;
  // Group evaluations skipped because the rule's inputs got no sample and its
  // result, empty before, could not have changed (see QuietChange).
  std::uint64_t rule_evaluations_skipped = 0;
  std::uint64_t incremental_evaluations = 0;
  std::uint64_t rule_failures = 0;
  // The evaluation instant, for AlertHandler::OnEvaluation (unset on a rule swap).
  std::optional<std::int64_t> eval_time_ms;
};

// Thread safety: none; the engine calls it under its evaluation lock.
class RuleRuntime {
 public:
  // Creates the groups. Eager and threshold rules get input ids from
  // `inputs` (null: no eager evaluation, for one-off evaluations).
  static Result<std::unique_ptr<RuleRuntime>> Build(const RuleSet& rules,
                                                    const RuntimeOptions& options,
                                                    InputRegistry* inputs);

  // The threshold predicates of this rule set, by input id (for a new SampleTracker).
  std::vector<std::vector<ThresholdPredicate>> ThresholdPredicates() const;
  // Evaluates eager rules at their inputs' sample times, and threshold rules
  // whose predicate `tracker` tracks from its candidates. May be null; must
  // outlive the runtime.
  void BindTracker(const SampleTracker* tracker);
  // The rules that may fire from a crossing sample (see CrossingAlerts): `for: 0`
  // threshold rules tracked by the bound tracker, evaluated at their samples'
  // times, in groups without a limit, whose labels and annotations need no
  // query. By (input, predicate). Their rule pointers live as long as this runtime.
  std::map<std::pair<std::uint32_t, std::size_t>, std::vector<CrossingRule>> CrossingRules() const;
  // Firing transitions that `crossing` announced are not reported again. May be
  // null; must outlive the runtime.
  void BindCrossing(CrossingAlerts* crossing) { crossing_ = crossing; }
  // Input ids of the rules that need the pipeline's dirty marks or the tracker.
  std::vector<std::uint32_t> InputIds() const;

  // The greatest common divisor of the group intervals (the default interval
  // when there are no groups): every group instant is a multiple of it.
  std::int64_t step_ms() const noexcept { return step_ms_; }
  // Largest lookbehind + query offset over the rules.
  std::int64_t lookbehind_ms() const noexcept { return lookbehind_ms_; }
  // kInvalidArgument naming the first group whose interval is not a multiple of step_ms.
  Status CheckIntervalsAreMultiplesOf(std::int64_t step_ms) const;

  // Takes over alert state, staleness tracking and the last reported states
  // from the runtime this one replaces (groups matched by file and name, rules
  // by name, labels and expression). Alerts of old rules without a match are
  // reported resolved at `now_ms`.
  void TakeStateFrom(RuleRuntime& old, std::int64_t now_ms, EvalOutput* out);

  // Evaluates at instant t (later than the previous call's): every group with
  // t on its interval grid (all its rules, in order), and the eager rules
  // marked in `dirty` at each timestamp of their input samples since the
  // previous call (so the instants do not depend on how the cuts grouped the
  // samples). After a swap every eager rule runs at least at t.
  void Evaluate(std::int64_t t, const pipeline::DirtySet& dirty, promql::Queryable& storage,
                OutputStore* outputs, EvalOutput* out);

  // Pending and firing alerts as of the last evaluation; without their
  // annotations unless `annotations`.
  std::vector<AlertEvent> ActiveAlerts(std::int64_t last_eval_ms, bool annotations = true) const;

  // Gives alerts persisted before a restart back to their rules (matched by
  // file, group, name and expression): the earlier active-at and firing-since
  // win over what the rule holds. Returns how many found a rule.
  std::size_t RestoreAlerts(const std::vector<AlertEvent>& alerts);

  // Calls fn(group, rule) for every rule, groups and rules in file order.
  template <typename Fn>
  void ForEachRule(Fn&& fn) const {
    for (const auto& g : groups_) {
      for (const auto& r : g.rules) fn(static_cast<const alerting::RuleGroup&>(*g.group), *r.rule);
    }
  }

  // Reports every pending or firing alert as resolved at now_ms (rules removed).
  void ResolveAll(std::int64_t now_ms, EvalOutput* out);

 private:
  struct LabelsHash {
    std::size_t operator()(const promql::Labels& l) const noexcept {
      return static_cast<std::size_t>(l.Hash());
    }
  };
  static constexpr std::uint32_t kNoInput = ~std::uint32_t{0};
  struct RuntimeRule {
    alerting::Rule* rule = nullptr;
    alerting::AlertingRule* alerting = nullptr;  // null for recording rules
    bool eager = false;
    // The group may skip it at instants when its inputs got no sample and its
    // last result was empty: the expression keeps an empty result empty while
    // its inputs are quiet, it has no offset, @ or query offset, and it reads
    // only ingested series (rule outputs bypass the pipeline's dirty marks).
    bool skippable = false;
    // Also skipped, whatever the expression, while every input sample is
    // older than the expression's lookbehind: the result needs samples (see
    // ResultNeedsSamples), and there are none in reach. Same conditions on
    // time shifts and rule outputs as `skippable`.
    bool skippable_without_samples = false;
    std::int64_t lookbehind_ms = 0;
    // No input sample is newer than this (a cut time with the input dirty).
    std::int64_t newest_input_bound = std::numeric_limits<std::int64_t>::min();
    bool inputs_changed = true;  // a sample since the last evaluation
    bool known_empty = false;    // the last evaluation succeeded, with an empty result
    std::uint32_t input = kNoInput;  // eager, threshold and skippable rules
    std::optional<ThresholdPredicate> threshold;
    std::optional<std::size_t> tracked;  // the tracker's predicate index, when bound
    std::string generator_url;
    // File, group, name and expression (CrossingRule::key); set when the rule may fire on crossing.
    std::string crossing_key;
    std::string last_error;  // to log a failure once, not at every evaluation
    std::unordered_map<promql::Labels, alerting::Alert, LabelsHash> reported;
  };
  struct RuntimeGroup {
    std::unique_ptr<alerting::RuleGroup> group;
    std::vector<RuntimeRule> rules;
    bool has_eager = false;
  };

  RuleRuntime() = default;
  void EvalEager(RuntimeGroup& g, RuntimeRule& r, std::int64_t t, promql::Queryable& storage,
                 OutputStore* outputs, EvalOutput* out);
  // The evaluator, except for the expressions of tracked threshold rules.
  alerting::QueryFunc MakeQuery(const promql::Evaluator* evaluator, EvalOutput* out) const;
  void AfterEvaluation(RuntimeGroup& g, std::size_t index, std::int64_t t, EvalOutput* out);
  void ReportTransitions(const RuntimeGroup& g, RuntimeRule& r, std::int64_t t, EvalOutput* out);
  AlertEvent MakeEvent(const RuntimeGroup& g, const RuntimeRule& r, const alerting::Alert& a,
                       AlertState state, std::int64_t t, bool annotations = true) const;

  RuntimeOptions options_;
  std::vector<RuntimeGroup> groups_;
  std::int64_t step_ms_ = 0;
  std::int64_t lookbehind_ms_ = 0;
  const SampleTracker* tracker_ = nullptr;
  CrossingAlerts* crossing_ = nullptr;
  // Tracked threshold rules by expression (what the rules pass to the query function).
  std::unordered_map<const promql::Expr*, std::pair<std::uint32_t, std::size_t>> tracked_exprs_;
  // Some rule may read ALERTS_FOR_STATE (a selector that can match it, or a
  // template that can query): only then is its history kept in the OutputStore.
  bool reads_for_state_ = false;
  bool evaluate_all_eager_ = true;
  std::vector<std::uint8_t> skip_;  // scratch: the group's rules to skip at this instant
  std::int64_t last_t_ = std::numeric_limits<std::int64_t>::min();
};

}  // namespace nimify::engine

#endif  // NIMIFY_ENGINE_RULE_RUNTIME_H_
