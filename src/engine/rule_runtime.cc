#include "engine/rule_runtime.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <numeric>
#include <set>

#include "engine/crossing_alerts.h"
#include "engine/rule_set_internal.h"
#include "promql/analysis.h"
#include "promql/parser.h"

namespace nimify::engine {

OwnedLabels ToOwned(const promql::Labels& labels) {
  OwnedLabels out;
  out.reserve(labels.size());
  for (const auto& l : labels) out.push_back({l.name, l.value});
  return out;
}

OwnedLabels ToOwned(const alerting::LabelPairs& pairs) {
  OwnedLabels out;
  out.reserve(pairs.size());
  for (const auto& l : pairs) out.push_back({l.name, l.value});
  return out;
}

namespace {

// Group instants are the multiples of the group's interval, as in promtool.
bool OnGrid(std::int64_t t, std::int64_t interval) { return t % interval == 0; }

// Matches RuleGroup::CopyStateFrom: rules are the same when name and labels are.
std::string NameAndLabels(const alerting::Rule& r) {
  return r.name() + alerting::FormatLabelPairsBraced(r.labels());
}

}  // namespace

std::uint32_t InputRegistry::Intern(
    const std::vector<std::vector<promql::LabelMatcher>>& selectors) {
  std::string key;
  for (const auto& matchers : selectors) {
    key += '{';
    for (const auto& m : matchers) key += m.ToString() + ',';
    key += '}';
  }
  MutexLock lock(mu_);
  auto [it, inserted] = ids_.emplace(std::move(key), static_cast<std::uint32_t>(selectors_.size()));
  if (inserted) selectors_.push_back(selectors);
  return it->second;
}

std::vector<pipeline::RuleSelectors> InputRegistry::Selectors(
    const std::vector<std::uint32_t>& ids) const {
  MutexLock lock(mu_);
  std::vector<pipeline::RuleSelectors> out;
  for (const std::uint32_t id : ids) {
    if (id < selectors_.size()) out.push_back({id, selectors_[id]});
  }
  return out;
}

namespace {

constexpr std::string_view kForStateMetric = "ALERTS_FOR_STATE";

// Whether a rule may read ALERTS_FOR_STATE: one of its selectors can match
// it, or one of its templates calls `query` (which may select anything).
bool MayReadForState(const alerting::RuleSpec& rs, const alerting::AlertingRule* alerting) {
  for (const auto& matchers : promql::CollectSelectors(*rs.parsed_expr)) {
    bool can_match = true;
    for (const auto& m : matchers) {
      if (m.name() == promql::kMetricNameLabel && !m.Matches(kForStateMetric)) can_match = false;
    }
    if (can_match) return true;
  }
  // Plain text that only mentions the word "query" does not count.
  return alerting != nullptr && alerting->TemplatesCallQuery();
}

}  // namespace

Result<std::unique_ptr<RuleRuntime>> RuleRuntime::Build(const RuleSet& rules,
                                                         const RuntimeOptions& options,
                                                         InputRegistry* inputs) {
  std::unique_ptr<RuleRuntime> rt(new RuleRuntime());
  rt->options_ = options;
  alerting::GroupOptions group_options;
  group_options.default_interval_ms = options.default_interval_ms;
  group_options.external_labels = options.external_labels;
  group_options.external_url = options.external_url;
  // Write ALERTS / ALERTS_FOR_STATE from the first evaluation, as promtool does
  // (nimify has no earlier state to restore `for` from).
  group_options.alerting.restored = true;
  // Series written by rules live outside the shards, so the tracker never sees them.
  std::set<std::string, std::less<>> rule_outputs = {"ALERTS", "ALERTS_FOR_STATE"};
  for (const auto& file : internal::RuleSetAccess::Files(rules)) {
    for (const auto& spec : file.groups) {
      for (const auto& rule : spec.rules) {
        if (rule.kind == alerting::RuleKind::kRecording) rule_outputs.insert(rule.name);
      }
    }
  }
  auto reads_only_ingested = [&](const std::vector<promql::LabelMatcher>& matchers) {
    for (const auto& m : matchers) {
      if (m.name() == promql::kMetricNameLabel && m.type() == promql::MatchType::kEqual) {
        return rule_outputs.count(m.value()) == 0;
      }
    }
    return false;
  };
  std::int64_t step = 0;
  for (const auto& file : internal::RuleSetAccess::Files(rules)) {
    for (const auto& spec : file.groups) {
      NIMIFY_ASSIGN_OR_RETURN(std::unique_ptr<alerting::RuleGroup> group,
                              alerting::RuleGroup::Create(spec, group_options));
      RuntimeGroup g;
      step = std::gcd(step, group->interval_ms());
      for (const auto& rule : group->rules()) {
        RuntimeRule r;
        r.rule = rule.get();
        r.alerting = dynamic_cast<alerting::AlertingRule*>(rule.get());
        const alerting::RuleSpec& rs = rule->spec();
        if (rs.parsed_expr) {
          r.generator_url = alerting::GeneratorURL(options.external_url, rs.parsed_expr->ToString());
          r.lookbehind_ms = promql::LookbehindMs(*rs.parsed_expr, options.eval.lookback_delta_ms);
          rt->lookbehind_ms_ =
              std::max(rt->lookbehind_ms_,
                       r.lookbehind_ms + std::max<std::int64_t>(group->query_offset_ms(), 0));
        }
        if (rs.parsed_expr && !rt->reads_for_state_) {
          rt->reads_for_state_ = MayReadForState(rs, r.alerting);
        }
        if (inputs != nullptr && rs.parsed_expr) {
          const auto selectors = promql::CollectSelectors(*rs.parsed_expr);
          const bool no_time_shift =
              group->query_offset_ms() == 0 && !promql::HasTimeShift(*rs.parsed_expr);
          if (r.alerting != nullptr) {
            // Eager: a `for: 0` alert whose result at T depends only on samples <= T
            // (no offset, @ or query offset), so it can run at its samples' times.
            r.eager = options.eager_alerts && rs.for_ms == 0 && rs.keep_firing_for_ms == 0 &&
                      no_time_shift && !selectors.empty();
            const promql::VectorSelector* selector = nullptr;
            if (options.incremental_thresholds) {
              r.threshold = MatchThreshold(*rs.parsed_expr, &selector);
              if (r.threshold && !reads_only_ingested(selector->matchers)) r.threshold.reset();
            }
            if (r.eager && r.threshold && r.alerting->CanPreview()) {
              r.crossing_key =
                  group->file() + '\x1f' + group->name() + '\x1f' + rs.name + '\x1f' + rs.expr;
            }
          }
          const bool may_skip =
              options.skip_quiet_rules && no_time_shift &&
              std::all_of(selectors.begin(), selectors.end(), reads_only_ingested);
          r.skippable = may_skip &&
                        promql::ClassifyQuietChange(*rs.parsed_expr) >= promql::QuietChange::kEmptyStaysEmpty;
          r.skippable_without_samples =
              may_skip && !selectors.empty() && promql::ResultNeedsSamples(*rs.parsed_expr);
          if ((r.eager || r.threshold || r.skippable || r.skippable_without_samples) &&
              !selectors.empty()) {
            r.input = inputs->Intern(selectors);
          }
        }
        g.has_eager = g.has_eager || r.eager;
        g.rules.push_back(std::move(r));
      }
      g.group = std::move(group);
      rt->groups_.push_back(std::move(g));
    }
  }
  rt->step_ms_ = step > 0 ? step : options.default_interval_ms;
  return rt;
}

std::vector<std::vector<ThresholdPredicate>> RuleRuntime::ThresholdPredicates() const {
  std::vector<std::vector<ThresholdPredicate>> out;
  for (const auto& g : groups_) {
    for (const auto& r : g.rules) {
      if (!r.threshold || r.input == kNoInput) continue;
      if (r.input >= out.size()) out.resize(std::size_t{r.input} + 1);
      auto& list = out[r.input];
      if (std::find(list.begin(), list.end(), *r.threshold) == list.end()) {
        list.push_back(*r.threshold);
      }
    }
  }
  return out;
}

void RuleRuntime::BindTracker(const SampleTracker* tracker) {
  tracker_ = tracker;
  tracked_exprs_.clear();
  if (tracker == nullptr) return;
  for (auto& g : groups_) {
    for (auto& r : g.rules) {
      r.tracked.reset();
      if (!r.threshold || r.input == kNoInput) continue;
      r.tracked = tracker->Find(r.input, *r.threshold);
      if (r.tracked) {
        tracked_exprs_[r.rule->spec().parsed_expr.get()] = {r.input, *r.tracked};
      }
    }
  }
}

CrossingTable RuleRuntime::CrossingRules() const {
  CrossingTable table;
  for (const auto& g : groups_) {
    if (g.group->limit() != 0) continue;  // a limit error would drop the alert
    for (const auto& r : g.rules) {
      if (r.crossing_key.empty() || !r.tracked) continue;
      CrossingRule c;
      c.rule = r.alerting;
      c.name = r.rule->name();
      c.group = g.group->name();
      c.file = g.group->file();
      c.expr = r.rule->spec().expr;
      c.generator_url = r.generator_url;
      c.key = r.crossing_key;
      table[{r.input, *r.tracked}].push_back(std::move(c));
    }
  }
  return table;
}

std::vector<std::uint32_t> RuleRuntime::InputIds() const {
  std::vector<std::uint32_t> out;
  for (const auto& g : groups_) {
    for (const auto& r : g.rules) {
      if (r.input != kNoInput) out.push_back(r.input);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

alerting::QueryFunc RuleRuntime::MakeQuery(const promql::Evaluator* evaluator,
                                           EvalOutput* out) const {
  alerting::QueryFunc general = alerting::MakeEvaluatorQueryFunc(evaluator);
  if (tracked_exprs_.empty()) return general;
  return [this, out, general = std::move(general)](const promql::Expr& expr,
                                                   std::int64_t ts) -> Result<promql::Vector> {
    auto it = tracked_exprs_.find(&expr);
    if (it == tracked_exprs_.end()) return general(expr, ts);
    ++out->incremental_evaluations;
    return tracker_->Result(it->second.first, it->second.second, ts);
  };
}

Status RuleRuntime::CheckIntervalsAreMultiplesOf(std::int64_t step_ms) const {
  for (const auto& g : groups_) {
    if (g.group->interval_ms() % step_ms != 0) {
      return Status::InvalidArgument(
          "group \"" + g.group->name() + "\" (" + g.group->file() + "): interval " +
          promql::FormatDuration(g.group->interval_ms()) +
          " is not a multiple of the engine's evaluation step " + promql::FormatDuration(step_ms) +
          " (the greatest common divisor of the intervals it was created with)");
    }
  }
  return Status::Ok();
}

void RuleRuntime::TakeStateFrom(RuleRuntime& old, std::int64_t now_ms, EvalOutput* out) {
  last_t_ = old.last_t_;  // eager rules resume after the last instant, never before it
  // An input the old rules had kept its dirty marks all along, so its bound
  // carries over. A new input's series may hold samples stored before the
  // pipeline marked them for it: no bound is known, so never out of reach.
  std::unordered_map<std::uint32_t, std::int64_t> bounds;
  for (const auto& g : old.groups_) {
    for (const auto& r : g.rules) {
      if (r.input != kNoInput) bounds[r.input] = r.newest_input_bound;
    }
  }
  for (auto& g : groups_) {
    for (auto& r : g.rules) {
      const auto it = r.input == kNoInput ? bounds.end() : bounds.find(r.input);
      r.newest_input_bound =
          it != bounds.end() ? it->second : std::numeric_limits<std::int64_t>::max();
    }
  }
  std::map<std::pair<std::string, std::string>, RuntimeGroup*> old_groups;
  for (auto& g : old.groups_) old_groups.emplace(std::pair(g.group->file(), g.group->name()), &g);
  for (auto& g : groups_) {
    auto found = old_groups.find(std::pair(g.group->file(), g.group->name()));
    if (found == old_groups.end()) continue;
    RuntimeGroup& from = *found->second;
    old_groups.erase(found);
    g.group->CopyStateFrom(*from.group);
    // Pair rules as CopyStateFrom does (name and labels, duplicates in order),
    // then require the same expression too.
    std::map<std::string, std::vector<RuntimeRule*>> by_key;
    for (auto& r : from.rules) by_key[NameAndLabels(*r.rule)].push_back(&r);
    for (auto& r : g.rules) {
      auto it = by_key.find(NameAndLabels(*r.rule));
      if (it == by_key.end() || it->second.empty()) continue;
      RuntimeRule* prev = it->second.front();
      it->second.erase(it->second.begin());
      if (prev->rule->spec().expr == r.rule->spec().expr) {
        r.reported = std::move(prev->reported);
        r.last_error = prev->last_error;
        continue;
      }
      // A changed expression is a different rule: its alerts end here.
      if (r.alerting != nullptr) r.alerting->RestoreAlerts({});
      for (const auto& [labels, a] : prev->reported) {
        if (a.state == alerting::AlertState::kInactive) continue;
        out->events.push_back(MakeEvent(from, *prev, a, AlertState::kResolved, now_ms));
      }
      prev->reported.clear();
    }
    for (auto& [key, rest] : by_key) {
      for (RuntimeRule* r : rest) {
        for (const auto& [labels, a] : r->reported) {
          if (a.state == alerting::AlertState::kInactive) continue;
          out->events.push_back(MakeEvent(from, *r, a, AlertState::kResolved, now_ms));
        }
        r->reported.clear();
      }
    }
  }
  for (auto& [key, g] : old_groups) {
    for (auto& r : g->rules) {
      for (const auto& [labels, a] : r.reported) {
        if (a.state == alerting::AlertState::kInactive) continue;
        out->events.push_back(MakeEvent(*g, r, a, AlertState::kResolved, now_ms));
      }
      r.reported.clear();
    }
  }
  evaluate_all_eager_ = true;
}

void RuleRuntime::ResolveAll(std::int64_t now_ms, EvalOutput* out) {
  for (auto& g : groups_) {
    for (auto& r : g.rules) {
      for (const auto& [labels, a] : r.reported) {
        if (a.state == alerting::AlertState::kInactive) continue;
        out->events.push_back(MakeEvent(g, r, a, AlertState::kResolved, now_ms));
      }
      r.reported.clear();
    }
  }
}

void RuleRuntime::Evaluate(std::int64_t t, const pipeline::DirtySet& dirty,
                           promql::Queryable& storage, OutputStore* outputs, EvalOutput* out) {
  const std::int64_t after = last_t_;
  last_t_ = t;
  // The cut's dirty set covers samples in (previous cut, t]; a rule stays
  // changed until an evaluation at or after those samples' times.
  if (!dirty.empty()) {
    for (auto& g : groups_) {
      for (auto& r : g.rules) {
        if (r.input != kNoInput && dirty.Contains(r.input)) {
          r.inputs_changed = true;
          r.newest_input_bound = t;
        }
      }
    }
  }
  for (auto& g : groups_) {
    const bool on_grid = OnGrid(t, g.group->interval_ms());
    if (g.has_eager) {
      for (auto& r : g.rules) {
        if (!r.eager || !(evaluate_all_eager_ || dirty.Contains(r.input))) continue;
        std::vector<std::int64_t> times;
        if (tracker_ != nullptr) times = tracker_->Times(r.input, after, t);
        if (evaluate_all_eager_ && (times.empty() || times.back() != t)) times.push_back(t);
        for (const std::int64_t ti : times) {
          if (ti == t && on_grid) {
            r.inputs_changed = true;  // the group runs it at t below
            break;
          }
          EvalEager(g, r, ti, storage, outputs, out);
        }
      }
    }
    if (!on_grid) continue;
    skip_.assign(g.rules.size(), 0);
    for (std::size_t i = 0; i < g.rules.size(); ++i) {
      const RuntimeRule& r = g.rules[i];
      // bound < t - lookbehind: even a window closed on the left misses every sample.
      std::int64_t reach = 0;
      const bool out_of_reach = r.skippable_without_samples &&
                                !__builtin_sub_overflow(t, r.lookbehind_ms, &reach) &&
                                r.newest_input_bound < reach;
      skip_[i] = (r.skippable || out_of_reach) && r.known_empty && !r.inputs_changed ? 1 : 0;
    }
    outputs->SetKeepLatestOnly(kForStateMetric, !reads_for_state_);
    UnionQueryable view(&storage, outputs);
    const promql::Evaluator evaluator(&view, options_.eval);
    const alerting::GroupEvalStats stats =
        g.group->Eval(t, MakeQuery(&evaluator, out), outputs, /*sink=*/nullptr, skip_);
    out->rule_evaluations_skipped += stats.rules_skipped;
    for (std::size_t i = 0; i < g.rules.size(); ++i) {
      if (skip_[i] == 0) AfterEvaluation(g, i, t, out);
    }
  }
  evaluate_all_eager_ = false;
}

void RuleRuntime::EvalEager(RuntimeGroup& g, RuntimeRule& r, std::int64_t t,
                            promql::Queryable& storage, OutputStore* outputs, EvalOutput* out) {
  // One rule of the group, as RuleGroup::Eval runs each of its rules, over the
  // samples up to t.
  CappedQueryable capped(&storage, t);
  UnionQueryable view(&capped, outputs);
  const promql::Evaluator evaluator(&view, options_.eval);
  const alerting::QueryFunc query = MakeQuery(&evaluator, out);
  const auto start = std::chrono::steady_clock::now();
  const alerting::EvalContext ctx{query, options_.external_labels, options_.external_url};
  auto vector = r.rule->Eval(ctx, t, g.group->query_offset_ms(), g.group->limit());
  if (!vector.ok()) {
    r.rule->SetHealth(alerting::RuleHealth::kBad, std::string(vector.status().message()));
  } else {
    r.rule->SetHealth(alerting::RuleHealth::kGood, {});
    for (const auto& sample : *vector) {
      Status st = outputs->Append(sample.metric, sample.t, sample.v);
      if (!st.ok()) r.rule->SetHealth(alerting::RuleHealth::kBad, std::string(st.message()));
    }
  }
  r.rule->RecordEvaluation(t, std::chrono::steady_clock::now() - start);
  AfterEvaluation(g, static_cast<std::size_t>(&r - g.rules.data()), t, out);
}

void RuleRuntime::AfterEvaluation(RuntimeGroup& g, std::size_t index, std::int64_t t,
                                  EvalOutput* out) {
  RuntimeRule& r = g.rules[index];
  ++out->rule_evaluations;
  r.inputs_changed = false;
  r.known_empty = false;
  if (r.rule->health() == alerting::RuleHealth::kBad) {
    ++out->rule_failures;
    std::string error = r.rule->last_error();
    if (error != r.last_error) {
      out->logs.emplace_back(LogLevel::kWarn, "rule \"" + r.rule->name() + "\" (group \"" +
                                                  g.group->name() + "\") failed at t=" +
                                                  std::to_string(t) + " ms: " + error);
      r.last_error = std::move(error);
    }
    // A failed query leaves the alerts as they were: nothing to report.
    return;
  }
  if (!r.last_error.empty()) {
    out->logs.emplace_back(LogLevel::kInfo, "rule \"" + r.rule->name() + "\" (group \"" +
                                                g.group->name() + "\") evaluates again");
    r.last_error.clear();
  }
  if (r.alerting != nullptr) ReportTransitions(g, r, t, out);
  // Empty: no series written (ALERTS for alerting rules; their stale markers
  // went out at this evaluation) and no pending or firing alert.
  r.known_empty = g.group->series_written(index) == 0 && r.reported.empty();
}

namespace {

// Copies everything but the labels (the same key) and annotations (copied
// only when they changed: copying them allocates). Deferred annotations are
// copied as their inputs; they are expanded only for events and reads.
void UpdateReported(const alerting::Alert& from, alerting::Alert* to) {
  static_assert(sizeof(alerting::Alert) == 208, "update UpdateReported for new fields of Alert");
  if (to->annotations != from.annotations) to->annotations = from.annotations;
  to->deferred = from.deferred;
  to->state = from.state;
  to->value = from.value;
  to->active_at_ms = from.active_at_ms;
  to->fired_at_ms = from.fired_at_ms;
  to->resolved_at_ms = from.resolved_at_ms;
  to->last_sent_at_ms = from.last_sent_at_ms;
  to->valid_until_ms = from.valid_until_ms;
  to->keep_firing_since_ms = from.keep_firing_since_ms;
  to->flapping = from.flapping;
  to->flap_share = from.flap_share;
}

}  // namespace

void RuleRuntime::ReportTransitions(const RuntimeGroup& g, RuntimeRule& r, std::int64_t t,
                                    EvalOutput* out) {
  using alerting::AlertState;
  // Only pending and firing alerts: resolved ones stay in the rule for 15
  // minutes, and visiting them at every evaluation would dominate the cost.
  // The rule's alerts are visited in place and `reported` updated in place:
  // at steady state nothing is copied or allocated.
  std::size_t still_active = 0;
  std::vector<alerting::Alert> added_copies;
  // A new alert of a rule that may fire on crossing may already have gone out.
  const bool announced = crossing_ != nullptr && !r.crossing_key.empty() && crossing_->HasPending();
  r.alerting->ForEachActiveAlert([&](const alerting::Alert& a) {
    auto it = r.reported.find(a.labels);
    const bool known = it != r.reported.end();
    if (a.state == AlertState::kPending && (!known || it->second.state != AlertState::kPending)) {
      out->events.push_back(MakeEvent(g, r, a, nimify::AlertState::kPending, t));
    } else if (a.state == AlertState::kFiring &&
               (!known || it->second.state != AlertState::kFiring) &&
               !(announced && !known &&
                 crossing_->Confirm(r.crossing_key, a.labels, a.active_at_ms))) {
      out->events.push_back(MakeEvent(g, r, a, nimify::AlertState::kFiring, t));
    }
    if (known) {
      ++still_active;
      UpdateReported(a, &it->second);
    } else {
      added_copies.push_back(a);
    }
  });
  // No longer active: resolved (Prometheus keeps the alert inactive with
  // ResolvedAt = t), or a pending alert that stopped matching (deleted), or
  // alerts cleared by a limit error. The last copy has their annotations.
  if (still_active != r.reported.size()) {
    std::vector<decltype(r.reported)::iterator> gone;
    for (auto it = r.reported.begin(); it != r.reported.end(); ++it) {
      if (!r.alerting->IsActive(it->first)) gone.push_back(it);
    }
    std::sort(gone.begin(), gone.end(),
              [](const auto& x, const auto& y) { return x->second.labels < y->second.labels; });
    for (const auto& it : gone) {
      alerting::Alert ended = it->second;
      ended.state = AlertState::kInactive;
      ended.resolved_at_ms = t;
      out->events.push_back(MakeEvent(g, r, ended, nimify::AlertState::kResolved, t));
      r.reported.erase(it);
    }
  }
  for (alerting::Alert& a : added_copies) {
    promql::Labels key = a.labels;
    r.reported.emplace(std::move(key), std::move(a));
  }
}

AlertEvent RuleRuntime::MakeEvent(const RuntimeGroup& g, const RuntimeRule& r,
                                  const alerting::Alert& a, AlertState state, std::int64_t t,
                                  bool annotations) const {
  AlertEvent e;
  e.rule = r.rule->name();
  e.group = g.group->name();
  e.file = g.group->file();
  e.expr = r.rule->spec().expr;
  e.labels = ToOwned(a.labels);
  if (annotations) e.annotations = ToOwned(alerting::AnnotationsOf(a));
  e.state = state;
  e.value = a.value;
  e.eval_time_ms = t;
  e.active_at_ms = a.active_at_ms;
  e.fired_at_ms = a.fired_at_ms;
  e.resolved_at_ms = a.resolved_at_ms;
  e.keep_firing_since_ms = a.keep_firing_since_ms;
  e.last_sent_at_ms = a.last_sent_at_ms;
  if (state == AlertState::kResolved && !e.resolved_at_ms) e.resolved_at_ms = t;
  e.generator_url = r.generator_url;
  return e;
}

std::size_t RuleRuntime::RestoreAlerts(const std::vector<AlertEvent>& alerts) {
  std::size_t restored = 0;
  for (auto& g : groups_) {
    for (auto& r : g.rules) {
      if (r.alerting == nullptr) continue;
      std::vector<const AlertEvent*> mine;
      for (const AlertEvent& e : alerts) {
        if (e.state == AlertState::kResolved) continue;
        if (e.rule == r.rule->name() && e.group == g.group->name() &&
            e.file == g.group->file() && e.expr == r.rule->spec().expr) {
          mine.push_back(&e);
        }
      }
      if (mine.empty()) continue;
      std::vector<alerting::Alert> held = r.alerting->CurrentAlerts();
      for (const AlertEvent* e : mine) {
        std::vector<promql::Label> labels;
        for (const OwnedLabel& l : e->labels) labels.push_back({l.name, l.value});
        promql::Labels key = promql::Labels::FromUnsorted(std::move(labels));
        auto it = std::find_if(held.begin(), held.end(),
                               [&](const alerting::Alert& a) { return a.labels == key; });
        if (it == held.end() || it->state == alerting::AlertState::kInactive) {
          alerting::Alert a;
          a.labels = std::move(key);
          for (const OwnedLabel& l : e->annotations) a.annotations.push_back({l.name, l.value});
          a.value = e->value;
          if (it != held.end()) held.erase(it);
          held.push_back(std::move(a));
          it = std::prev(held.end());
          it->active_at_ms = e->active_at_ms;
        }
        it->active_at_ms = std::min(it->active_at_ms, e->active_at_ms);
        if (e->state == AlertState::kFiring && e->fired_at_ms) {
          it->state = alerting::AlertState::kFiring;
          it->fired_at_ms = it->fired_at_ms ? std::min(*it->fired_at_ms, *e->fired_at_ms)
                                            : *e->fired_at_ms;
        } else if (it->state != alerting::AlertState::kFiring) {
          it->state = alerting::AlertState::kPending;
        }
        // The earlier keep-firing start, so keep_firing_for does not restart.
        if (it->state == alerting::AlertState::kFiring && e->keep_firing_since_ms) {
          it->keep_firing_since_ms =
              it->keep_firing_since_ms
                  ? std::min(*it->keep_firing_since_ms, *e->keep_firing_since_ms)
                  : *e->keep_firing_since_ms;
        }
        if (e->last_sent_at_ms) {
          it->last_sent_at_ms = it->last_sent_at_ms
                                    ? std::max(*it->last_sent_at_ms, *e->last_sent_at_ms)
                                    : *e->last_sent_at_ms;
        }
        ++restored;
      }
      r.alerting->RestoreAlerts(std::move(held));
    }
  }
  return restored;
}

std::vector<AlertEvent> RuleRuntime::ActiveAlerts(std::int64_t last_eval_ms,
                                                  bool annotations) const {
  std::vector<AlertEvent> out;
  for (const auto& g : groups_) {
    for (const auto& r : g.rules) {
      for (const auto& [labels, a] : r.reported) {
        if (a.state == alerting::AlertState::kPending) {
          out.push_back(MakeEvent(g, r, a, AlertState::kPending, last_eval_ms, annotations));
        } else if (a.state == alerting::AlertState::kFiring) {
          out.push_back(MakeEvent(g, r, a, AlertState::kFiring, last_eval_ms, annotations));
        }
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const AlertEvent& a, const AlertEvent& b) {
    if (a.rule != b.rule) return a.rule < b.rule;
    return std::lexicographical_compare(
        a.labels.begin(), a.labels.end(), b.labels.begin(), b.labels.end(),
        [](const OwnedLabel& x, const OwnedLabel& y) {
          return x.name != y.name ? x.name < y.name : x.value < y.value;
        });
  });
  return out;
}

}  // namespace nimify::engine
