// Rule groups: sequential evaluation of a group's rules at one evaluation
// timestamp, writing rule outputs, ALERTS / ALERTS_FOR_STATE and staleness
// markers (Prometheus rules/group.go, manager.go).
//
//   auto group = RuleGroup::Create(spec, options);
//   group->Eval(ts, query, &appender, &sink);   // ts: the slot time
//   for (const auto& r : group->rules()) if (r->health() == RuleHealth::kBad) ...
#ifndef NIMIFY_ALERTING_GROUP_H_
#define NIMIFY_ALERTING_GROUP_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "alerting/alert.h"
#include "alerting/extensions.h"
#include "alerting/hash_index.h"
#include "alerting/rule.h"
#include "alerting/rule_file.h"
#include "nimify/status.h"
#include "promql/evaluator.h"
#include "promql/labels.h"

namespace nimify::alerting {

// Where rule outputs go. Samples of one rule are appended, then Commit() is
// called, before the next rule runs, so that later rules see them at the same
// timestamp. Append errors (out of order, duplicate timestamp) mark the rule
// unhealthy, as in Prometheus; errors on stale markers are ignored.
class SampleAppender {
 public:
  virtual ~SampleAppender() = default;
  virtual Status Append(const promql::Labels& labels, std::int64_t t_ms, double value) = 0;
  virtual Status Commit() { return Status::Ok(); }
};

struct GroupOptions {
  std::int64_t default_interval_ms = 60 * 1000;  // global evaluation_interval
  std::int64_t default_query_offset_ms = 0;      // global rule_query_offset
  std::int64_t resend_delay_ms = 60 * 1000;      // --rules.alert.resend-delay
  promql::Labels external_labels;
  std::string external_url;
  AlertingRuleOptions alerting;  // restored flag and extensions
};

struct GroupEvalStats {
  std::size_t rules_failed = 0;
  std::size_t samples_written = 0;
  std::size_t stale_markers = 0;
  std::size_t alerts_sent = 0;
  std::size_t rules_skipped = 0;
};

// Thread safety: Eval, CopyStateFrom and the setters run on one thread at a
// time; the rules' read accessors may be used concurrently.
class RuleGroup {
 public:
  static Result<std::unique_ptr<RuleGroup>> Create(const RuleGroupSpec& spec, GroupOptions options);

  const std::string& name() const noexcept { return name_; }
  const std::string& file() const noexcept { return file_; }
  std::int64_t interval_ms() const noexcept { return interval_ms_; }
  std::int64_t query_offset_ms() const noexcept { return query_offset_ms_; }
  std::int64_t limit() const noexcept { return limit_; }
  const std::vector<std::unique_ptr<Rule>>& rules() const noexcept { return rules_; }

  // Evaluates every rule in file order at slot time ts_ms. A rule whose query
  // fails records the error as its health and changes nothing else that cycle.
  // `sink` may be null: nothing is then sent, and the alerts' send bookkeeping
  // (LastSentAt, ValidUntil) is left alone, since nobody reads it.
  // Rules i with skip[i] != 0 are not evaluated: the caller knows their result
  // is empty again, as it was at their last evaluation (which wrote no series),
  // so there is nothing to write, mark stale or change. Their last evaluation
  // time moves to ts_ms. An empty `skip` evaluates every rule.
  GroupEvalStats Eval(std::int64_t ts_ms, const QueryFunc& query, SampleAppender* appender,
                      AlertSink* sink, std::span<const std::uint8_t> skip = {});

  // Series rule i wrote at its last evaluation (ALERTS for alerting rules).
  std::size_t series_written(std::size_t rule_index) const noexcept {
    return series_in_previous_eval_[rule_index].size();
  }

  // The evaluation slot at or before `now_ms`: groups are spread over their
  // interval by a hash of (name, file), as Prometheus's EvalTimestamp does.
  std::int64_t EvalTimestamp(std::int64_t now_ms) const;

  std::optional<std::int64_t> last_evaluation_ms() const noexcept { return last_evaluation_ms_; }
  std::chrono::nanoseconds last_evaluation_duration() const noexcept { return last_duration_; }

  // Reload: takes over alert state and staleness tracking from the group this
  // one replaces, matching rules by name and labels (duplicates in order).
  // Series of old rules without a match are stale-marked at the next Eval.
  void CopyStateFrom(RuleGroup& old);

 private:
  // The series one rule wrote at one evaluation, in write order (rules
  // write no series twice: their results have unique label sets).
  using SeriesList = std::vector<promql::Labels>;

  RuleGroup() = default;
  // Appends a stale marker for every series of `previous` not in `current`.
  void MarkGone(const SeriesList& previous, const SeriesList& current, std::int64_t out_ts,
                SampleAppender* appender, GroupEvalStats* stats);

  std::string name_;
  std::string file_;
  std::int64_t interval_ms_ = 0;
  std::int64_t query_offset_ms_ = 0;
  std::int64_t limit_ = 0;
  GroupOptions options_;
  std::vector<std::unique_ptr<Rule>> rules_;
  std::vector<SeriesList> series_in_previous_eval_;  // per rule
  std::vector<promql::Labels> stale_series_;         // from rules removed by a reload
  // Scratch reused across evaluations and rules, so that steady-state
  // evaluations allocate nothing here: the series of the rule being
  // evaluated (swapped with its previous list), and an index over them.
  SeriesList returned_scratch_;
  HashIndex returned_index_;
  std::optional<std::int64_t> last_evaluation_ms_;
  std::chrono::nanoseconds last_duration_{0};
};

// Prometheus's EngineQueryFunc over a nimify evaluator.
QueryFunc MakeEvaluatorQueryFunc(const promql::Evaluator* evaluator);

}  // namespace nimify::alerting

#endif  // NIMIFY_ALERTING_GROUP_H_
