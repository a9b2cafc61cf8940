#include "engine/crossing_alerts.h"

namespace nimify::engine {

CrossingAlerts::CrossingAlerts(Dispatcher* dispatcher, promql::Labels external_labels,
                               std::string external_url)
    : dispatcher_(dispatcher),
      external_labels_(std::move(external_labels)),
      external_url_(std::move(external_url)) {}

void CrossingAlerts::Publish(CrossingTable table, std::uint32_t epoch) {
  MutexLock lock(mu_);
  table_ = std::move(table);
  epoch_ = epoch;
}

std::string CrossingAlerts::AnnouncementKey(std::string_view rule_key,
                                            const promql::Labels& labels, std::int64_t t) {
  // Label names and values are valid UTF-8, so 0xff cannot occur inside them.
  std::string key(rule_key);
  for (const auto& l : labels) {
    key += '\xff';
    key += l.name;
    key += '\xff';
    key += l.value;
  }
  key += '\xff';
  key += std::to_string(t);
  return key;
}

void CrossingAlerts::OnCrossing(std::uint32_t input, std::size_t predicate,
                                const promql::Labels& series, std::int64_t t, double v,
                                std::uint32_t epoch) {
  EvalOutput out;
  {
    MutexLock lock(mu_);
    // The series' earlier samples were seen under other rules: no verdict.
    if (epoch != epoch_) return;
    const auto it = table_.find({input, predicate});
    if (it == table_.end()) return;
    for (const CrossingRule& r : it->second) {
      std::optional<alerting::AlertingRule::Preview> preview =
          r.rule->PreviewAlert(series, v, t, external_labels_, external_url_);
      if (!preview) continue;
      // Recorded before the event leaves: the cut that evaluates t comes after
      // this sample was stored, so it always finds the announcement.
      if (!announced_.emplace(AnnouncementKey(r.key, preview->labels, t), t).second) continue;
      AlertEvent& e = out.events.emplace_back();
      e.rule = r.name;
      e.group = r.group;
      e.file = r.file;
      e.expr = r.expr;
      e.labels = ToOwned(preview->labels);
      e.annotations = ToOwned(preview->annotations);
      e.state = AlertState::kFiring;
      e.value = v;
      e.eval_time_ms = t;
      e.active_at_ms = t;
      e.fired_at_ms = t;
      e.generator_url = r.generator_url;
    }
    pending_.store(announced_.size(), std::memory_order_relaxed);
  }
  if (out.events.empty()) return;
  fired_.fetch_add(out.events.size(), std::memory_order_relaxed);
  dispatcher_->Push(std::move(out));
}

bool CrossingAlerts::Confirm(std::string_view key, const promql::Labels& labels,
                             std::int64_t active_at_ms) {
  MutexLock lock(mu_);
  const bool found = announced_.erase(AnnouncementKey(key, labels, active_at_ms)) != 0;
  pending_.store(announced_.size(), std::memory_order_relaxed);
  return found;
}

std::size_t CrossingAlerts::Expire(std::int64_t t) {
  if (!HasPending()) return 0;
  MutexLock lock(mu_);
  const std::size_t dropped =
      std::erase_if(announced_, [t](const auto& entry) { return entry.second <= t; });
  pending_.store(announced_.size(), std::memory_order_relaxed);
  unconfirmed_.fetch_add(dropped, std::memory_order_relaxed);
  return dropped;
}

}  // namespace nimify::engine
