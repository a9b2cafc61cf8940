#include "alerting/group.h"

#include <algorithm>
#include <map>

namespace nimify::alerting {

Result<std::unique_ptr<RuleGroup>> RuleGroup::Create(const RuleGroupSpec& spec,
                                                     GroupOptions options) {
  std::unique_ptr<RuleGroup> group(new RuleGroup());
  group->name_ = spec.name;
  group->file_ = spec.file;
  group->interval_ms_ = spec.interval_ms > 0 ? spec.interval_ms : options.default_interval_ms;
  if (group->interval_ms_ <= 0) {
    return Status::InvalidArgument("group \"" + spec.name + "\": evaluation interval must be > 0");
  }
  group->query_offset_ms_ = spec.query_offset_ms.value_or(options.default_query_offset_ms);
  group->limit_ = spec.limit;
  for (const auto& rule : spec.rules) {
    if (!rule.parsed_expr) {
      return Status::InvalidArgument("group \"" + spec.name + "\", rule \"" + rule.name +
                                     "\": expression was not parsed");
    }
    group->rules_.push_back(
        MakeRule(std::make_shared<RuleSpec>(rule), spec.labels, options.alerting));
  }
  group->series_in_previous_eval_.resize(group->rules_.size());
  group->options_ = std::move(options);
  return group;
}

GroupEvalStats RuleGroup::Eval(std::int64_t ts_ms, const QueryFunc& query, SampleAppender* appender,
                               AlertSink* sink, std::span<const std::uint8_t> skip) {
  const auto group_start = std::chrono::steady_clock::now();
  GroupEvalStats stats;
  const EvalContext ctx{query, options_.external_labels, options_.external_url};
  const std::int64_t out_ts = ts_ms - query_offset_ms_;

  for (std::size_t i = 0; i < rules_.size(); ++i) {
    Rule& rule = *rules_[i];
    if (i < skip.size() && skip[i] != 0) {
      rule.RecordEvaluation(ts_ms, std::chrono::nanoseconds{0});
      ++stats.rules_skipped;
      continue;
    }
    const auto start = std::chrono::steady_clock::now();
    auto vector = rule.Eval(ctx, ts_ms, query_offset_ms_, limit_);
    if (!vector.ok()) {
      // Nothing else happens for this rule: no notifications, no stale markers.
      rule.SetHealth(RuleHealth::kBad, std::string(vector.status().message()));
      rule.RecordEvaluation(ts_ms, std::chrono::steady_clock::now() - start);
      ++stats.rules_failed;
      continue;
    }
    rule.SetHealth(RuleHealth::kGood, {});

    if (auto* alerting = sink != nullptr ? dynamic_cast<AlertingRule*>(&rule) : nullptr) {
      auto to_send = alerting->CollectAlertsToSend(ts_ms, options_.resend_delay_ms, interval_ms_,
                                                   options_.external_url);
      stats.alerts_sent += to_send.size();
      if (!to_send.empty()) {
        sink->Send(rule.name(),
                   rule.spec().parsed_expr ? rule.spec().parsed_expr->ToString() : rule.spec().expr,
                   std::move(to_send));
      }
    }

    SeriesList& returned = returned_scratch_;
    returned.clear();
    returned.reserve(vector->size());
    bool append_failed = false;
    for (const auto& sample : *vector) {
      Status st = appender->Append(sample.metric, sample.t, sample.v);
      if (!st.ok()) {
        rule.SetHealth(RuleHealth::kBad, std::string(st.message()));
        append_failed = true;
        continue;
      }
      returned.push_back(sample.metric);
      ++stats.samples_written;
    }
    MarkGone(series_in_previous_eval_[i], returned, out_ts, appender, &stats);
    Status committed = appender->Commit();
    if (!committed.ok()) {
      rule.SetHealth(RuleHealth::kBad, std::string(committed.message()));
      append_failed = true;
    } else {
      // The old list's capacity becomes the next rule's scratch.
      series_in_previous_eval_[i].swap(returned);
    }
    if (append_failed) ++stats.rules_failed;
    rule.RecordEvaluation(ts_ms, std::chrono::steady_clock::now() - start);
  }

  // Series of rules dropped by a reload disappear now.
  if (!stale_series_.empty()) {
    for (const auto& series : stale_series_) {
      if (appender->Append(series, out_ts, promql::StaleNaN()).ok()) ++stats.stale_markers;
    }
    if (appender->Commit().ok()) stale_series_.clear();
  }
  last_evaluation_ms_ = ts_ms;
  last_duration_ = std::chrono::steady_clock::now() - group_start;
  return stats;
}

void RuleGroup::MarkGone(const SeriesList& previous, const SeriesList& current, std::int64_t out_ts,
                         SampleAppender* appender, GroupEvalStats* stats) {
  // The common case: the same series as last time, in the same order (alerts
  // are written in label order), mostly the very same label sets (the rules
  // keep their output label sets): no index needed.
  if (previous.size() == current.size() &&
      std::equal(previous.begin(), previous.end(), current.begin())) {
    return;
  }
  returned_index_.Clear();
  returned_index_.Reserve(current.size());
  for (std::size_t k = 0; k < current.size(); ++k) {
    returned_index_.Insert(current[k].Hash(), static_cast<std::uint32_t>(k));
  }
  for (const auto& series : previous) {
    const std::uint32_t found =
        returned_index_.Find(series.Hash(), [&](std::uint32_t k) { return current[k] == series; });
    if (found != HashIndex::kNone) continue;
    // Errors are expected when another rule writes the series: ignore them.
    if (appender->Append(series, out_ts, promql::StaleNaN()).ok()) ++stats->stale_markers;
  }
}

std::int64_t RuleGroup::EvalTimestamp(std::int64_t now_ms) const {
  const promql::Labels key{{"name", name_}, {"file", file_}};
  const auto offset =
      static_cast<std::int64_t>(key.Hash() % static_cast<std::uint64_t>(interval_ms_));
  const std::int64_t adjusted = now_ms - offset;
  std::int64_t base = adjusted - adjusted % interval_ms_;
  if (adjusted % interval_ms_ < 0) base -= interval_ms_;  // floor for times before the epoch
  return base + offset;
}

void RuleGroup::CopyStateFrom(RuleGroup& old) {
  last_evaluation_ms_ = old.last_evaluation_ms_;
  last_duration_ = old.last_duration_;
  auto key_of = [](const Rule& r) {
    return std::string(r.name()) + FormatLabelPairsBraced(r.labels());
  };
  std::map<std::string, std::vector<std::size_t>> old_by_key;
  for (std::size_t i = 0; i < old.rules_.size(); ++i) {
    old_by_key[key_of(*old.rules_[i])].push_back(i);
  }
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    auto it = old_by_key.find(key_of(*rules_[i]));
    if (it == old_by_key.end() || it->second.empty()) continue;
    const std::size_t from = it->second.front();
    it->second.erase(it->second.begin());
    series_in_previous_eval_[i] = old.series_in_previous_eval_[from];
    auto* to_rule = dynamic_cast<AlertingRule*>(rules_[i].get());
    auto* from_rule = dynamic_cast<AlertingRule*>(old.rules_[from].get());
    if (to_rule != nullptr && from_rule != nullptr) {
      to_rule->RestoreAlerts(from_rule->CurrentAlerts());
    }
  }
  stale_series_ = old.stale_series_;
  for (const auto& [key, indexes] : old_by_key) {
    for (std::size_t from : indexes) {
      for (const auto& series : old.series_in_previous_eval_[from]) stale_series_.push_back(series);
    }
  }
}

QueryFunc MakeEvaluatorQueryFunc(const promql::Evaluator* evaluator) {
  return [evaluator](const promql::Expr& expr, std::int64_t ts_ms) -> Result<promql::Vector> {
    NIMIFY_ASSIGN_OR_RETURN(promql::QueryResult result, evaluator->Instant(expr, ts_ms));
    if (auto* vector = std::get_if<promql::Vector>(&result.value)) return std::move(*vector);
    if (auto* scalar = std::get_if<promql::Scalar>(&result.value)) {
      return promql::Vector{promql::Sample{promql::Labels{}, scalar->t, scalar->v, false}};
    }
    return Status::InvalidArgument("rule result is not a vector or scalar");
  };
}

}  // namespace nimify::alerting
