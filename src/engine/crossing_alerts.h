// Alerts fired from the crossing sample (EngineOptions::fire_on_crossing).
//
// A `for: 0` threshold rule (`selector OP number`) starts an alert for a series
// at the time of the sample that makes the comparison hold, and that alert
// depends on no other series. So the shard worker that stores the sample can
// hand the firing event to the handlers at once, instead of after the cut that
// evaluates its instant (which waits for every producer to reach it). The
// evaluation stays the authority: it writes ALERTS, keeps the alert's state and
// reports everything else. When it reaches the same transition it finds the
// announcement and does not report it again.
//
//   CrossingAlerts crossing(&dispatcher, external_labels, external_url);
//   tracker.SetCrossingListener(&crossing);
//   crossing.Publish(runtime->CrossingRules(), tracker.epoch());
//   runtime->BindCrossing(&crossing);
//   ... after each RuleRuntime::Evaluate(t): crossing.Expire(t);
#ifndef NIMIFY_ENGINE_CROSSING_ALERTS_H_
#define NIMIFY_ENGINE_CROSSING_ALERTS_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "alerting/rule.h"
#include "common/mutex.h"
#include "engine/dispatcher.h"
#include "engine/sample_tracker.h"
#include "promql/labels.h"

namespace nimify::engine {

// A rule that may fire from a crossing, with what its events carry.
struct CrossingRule {
  const alerting::AlertingRule* rule = nullptr;  // alive while its table is published
  std::string name;
  std::string group;
  std::string file;
  std::string expr;
  std::string generator_url;
  // File, group, name and expression: the same rule across a rule swap, as
  // RuleRuntime::TakeStateFrom matches them.
  std::string key;
};
// By (input id, predicate index) of the SampleTracker.
using CrossingTable = std::map<std::pair<std::uint32_t, std::size_t>, std::vector<CrossingRule>>;

// Thread safety: OnCrossing runs on the shards' threads, concurrently; the
// others on the evaluating thread (under the engine's evaluation lock). `mu_`
// guards the table and the announcements; events are handed to the dispatcher
// outside it.
class CrossingAlerts final : public CrossingListener {
 public:
  CrossingAlerts(Dispatcher* dispatcher, promql::Labels external_labels, std::string external_url);

  // Replaces the table, valid for the tracker's `epoch`. Returns after any
  // crossing that used the old table, so its rules may be destroyed then.
  void Publish(CrossingTable table, std::uint32_t epoch);

  void OnCrossing(std::uint32_t input, std::size_t predicate, const promql::Labels& series,
                  std::int64_t t, double v, std::uint32_t epoch) override;

  // Whether a firing transition of rule `key` for `labels`, active since
  // active_at_ms, was announced; the announcement is used up.
  bool Confirm(std::string_view key, const promql::Labels& labels, std::int64_t active_at_ms);
  // Something is announced and not yet confirmed (cheap: no lock).
  bool HasPending() const noexcept { return pending_.load(std::memory_order_relaxed) != 0; }
  // After the evaluation at t: forgets the announcements at or before t that no
  // evaluation confirmed, and returns how many there were (a rule swap in
  // between, or a bug: the event went out and the evaluation did not agree).
  std::size_t Expire(std::int64_t t);

  std::uint64_t fired() const noexcept { return fired_.load(std::memory_order_relaxed); }
  std::uint64_t unconfirmed() const noexcept {
    return unconfirmed_.load(std::memory_order_relaxed);
  }

 private:
  static std::string AnnouncementKey(std::string_view rule_key, const promql::Labels& labels,
                                     std::int64_t t);

  Dispatcher* const dispatcher_;
  const promql::Labels external_labels_;
  const std::string external_url_;

  Mutex mu_;
  CrossingTable table_ NIMIFY_GUARDED_BY(mu_);
  std::uint32_t epoch_ NIMIFY_GUARDED_BY(mu_) = 0;
  // Announced, not yet confirmed: key (rule, labels, time) -> time.
  std::unordered_map<std::string, std::int64_t> announced_ NIMIFY_GUARDED_BY(mu_);
  std::atomic<std::size_t> pending_{0};  // announced_.size()

  // relaxed: statistics.
  std::atomic<std::uint64_t> fired_{0};
  std::atomic<std::uint64_t> unconfirmed_{0};
};

}  // namespace nimify::engine

#endif  // NIMIFY_ENGINE_CROSSING_ALERTS_H_
