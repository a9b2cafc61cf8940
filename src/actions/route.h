// The routing tree of Alertmanager 0.25 (config.Route + dispatch.Route):
//
//   route:
//     receiver: default
//     group_by: [alertname, job]
//     routes:
//       - matchers: ['severity="critical"']
//         receiver: pager
//         continue: true
//       - match_re: {service: "api|web"}
//         receiver: web-team
//
// Route::Match returns the routes an alert is handled by, in tree order,
// exactly as Alertmanager's dispatcher and `amtool config routes test`
// compute them: depth first; a matching child without `continue` stops the
// search among its siblings; a route whose children all miss is itself the
// match. Options (receiver, group_by, timings) are inherited from the parent
// when not set; mute/active time intervals are not inherited (as in AM).
#ifndef NIMIFY_ACTIONS_ROUTE_H_
#define NIMIFY_ACTIONS_ROUTE_H_

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "actions/matchers.h"
#include "nimify/config.h"
#include "nimify/sample.h"
#include "nimify/status.h"

namespace nimify::actions {

// The effective options of a route after inheritance (dispatch.RouteOpts).
struct RouteOptions {
  std::string receiver;
  std::vector<std::string> group_by;  // sorted, unique; unused while group_by_all
  bool group_by_all = false;          // group_by: ['...']
  std::chrono::milliseconds group_wait = std::chrono::seconds(30);
  std::chrono::milliseconds group_interval = std::chrono::minutes(5);
  std::chrono::milliseconds repeat_interval = std::chrono::hours(4);
  std::vector<std::string> mute_time_intervals;
  std::vector<std::string> active_time_intervals;
};

// What the route parser checks names against (config.Load's checks).
struct RouteValidation {
  // Every receiver a route names must be in this list.
  std::vector<std::string> receiver_names;
  // Every mute/active time interval a route names must be in this list.
  std::vector<std::string> time_interval_names;
};

// One node of the tree. Thread safety: immutable after ParseRouteTree; Match
// may be called from any number of threads.
class Route {
 public:
  const Route* parent() const noexcept { return parent_; }
  const RouteOptions& options() const noexcept { return options_; }
  // Sorted as Alertmanager sorts them (name, value, type); match/match_re
  // entries come first as equality / anchored regex matchers.
  const Matchers& matchers() const noexcept { return matchers_; }
  bool continue_matching() const noexcept { return continue_; }
  const std::vector<std::unique_ptr<Route>>& routes() const noexcept { return routes_; }
  // Where the route was written in the config.
  const SourcePosition& position() const noexcept { return position_; }

  // Alertmanager 0.25's Route.Key(): the parent's key, "/", then the
  // matchers, e.g. `{}/{severity="critical"}`. Not unique among siblings
  // with equal matchers; aggregation groups use it as AM does.
  const std::string& key() const noexcept { return key_; }
  // Alertmanager 0.27's Route.ID(): key() plus "/<index among siblings>"
  // for non-root routes; unique within a tree.
  const std::string& id() const noexcept { return id_; }

  // The routes handling `labels` (sorted by name), in tree order; empty when
  // this route's own matchers fail (never for a root without matchers).
  std::vector<const Route*> Match(const OwnedLabels& labels) const;

  // Depth-first pre-order visit of this route and its descendants.
  template <typename Visit>
  void Walk(Visit&& visit) const {
    visit(*this);
    for (const auto& child : routes_) child->Walk(visit);
  }

 private:
  friend Result<std::unique_ptr<Route>> ParseRouteNode(const ConfigNode& node, const Route* parent,
                                                       std::size_t index);
  bool MatchInto(const OwnedLabels& labels, std::vector<const Route*>* out) const;

  const Route* parent_ = nullptr;
  RouteOptions options_;
  Matchers matchers_;
  bool continue_ = false;
  std::vector<std::unique_ptr<Route>> routes_;
  SourcePosition position_;
  std::string key_;
  std::string id_;
};

// Parses and validates the `route:` section, as config.Load does for it:
// the root needs a receiver and may not have matchers, continue, or time
// intervals; receivers and time intervals must be among `validation`'s names;
// durations valid (group_interval and repeat_interval non-zero); group_by
// names valid and unique, `...` alone. Errors read "file:line:col: message".
Result<std::unique_ptr<Route>> ParseRouteTree(const ConfigNode& route,
                                              const RouteValidation& validation);

// The labels of `labels` that `route` groups by (all of them with `...`).
OwnedLabels GroupLabels(const Route& route, const OwnedLabels& labels);
// Alertmanager's aggregation group key: `<route key>:<group labels>`, e.g.
// `{}/{severity="critical"}:{alertname="HighLatency", job="api"}`.
std::string GroupKey(const Route& route, const OwnedLabels& labels);

}  // namespace nimify::actions

#endif  // NIMIFY_ACTIONS_ROUTE_H_
