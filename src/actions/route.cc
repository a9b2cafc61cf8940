#include "actions/route.h"

#include <algorithm>
#include <set>
#include <utility>

#include "actions/fingerprint.h"

namespace nimify::actions {

namespace {

Result<std::vector<std::string>> StringList(const ConfigNode* node) {
  if (node == nullptr) return std::vector<std::string>{};
  return node->AsStringList();
}

}  // namespace

// Builds one node; `parent` supplies the inherited options (null for the root).
Result<std::unique_ptr<Route>> ParseRouteNode(const ConfigNode& node, const Route* parent,
                                              std::size_t index) {
  if (!node.is_map()) return node.Error("route: expected a mapping");
  NIMIFY_RETURN_IF_ERROR(
      node.CheckKeys({"receiver", "group_by", "match", "match_re", "matchers",
                      "mute_time_intervals", "active_time_intervals", "continue", "routes",
                      "group_wait", "group_interval", "repeat_interval"},
                     "route"));
  auto route = std::make_unique<Route>();
  route->parent_ = parent;
  route->position_ = node.position();
  RouteOptions opts = parent != nullptr ? parent->options_ : RouteOptions{};

  if (const ConfigNode* n = node.Find("receiver"); n != nullptr && !n->is_null()) {
    NIMIFY_ASSIGN_OR_RETURN(std::string receiver, n->AsString());
    if (!receiver.empty()) opts.receiver = std::move(receiver);
  }

  if (const ConfigNode* n = node.Find("group_by"); n != nullptr) {
    NIMIFY_ASSIGN_OR_RETURN(std::vector<std::string> group_by, n->AsStringList());
    bool all = false;
    std::vector<std::string> names;
    std::set<std::string, std::less<>> seen;
    for (std::size_t i = 0; i < group_by.size(); ++i) {
      const ConfigNode& item = n->items()[i];
      if (group_by[i] == "...") {
        all = true;
        continue;
      }
      if (!IsValidLabelName(group_by[i])) {
        return item.Error("invalid label name \"" + group_by[i] + "\" in group_by list");
      }
      names.push_back(group_by[i]);
    }
    if (all && !names.empty()) {
      return n->Error(
          "cannot have wildcard group_by (`...`) and other other labels at the same time");
    }
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (!seen.insert(names[i]).second) {
        return n->Error("duplicated label \"" + names[i] + "\" in group_by");
      }
    }
    // As in AM, an empty list inherits, and `...` keeps the parent's names
    // (they are unused while group_by_all holds).
    if (!names.empty()) {
      opts.group_by.assign(seen.begin(), seen.end());
      opts.group_by_all = false;
    } else if (all) {
      opts.group_by_all = true;
    }
  }

  const auto duration = [&](const char* key, std::chrono::milliseconds* out,
                            bool nonzero) -> Status {
    const ConfigNode* n = node.Find(key);
    if (n == nullptr || n->is_null()) return Status::Ok();
    Result<std::chrono::milliseconds> d = n->AsDuration();
    if (!d.ok()) return d.status();
    if (nonzero && d->count() == 0) return n->Error(std::string(key) + " cannot be zero");
    *out = *d;
    return Status::Ok();
  };
  NIMIFY_RETURN_IF_ERROR(duration("group_wait", &opts.group_wait, false));
  NIMIFY_RETURN_IF_ERROR(duration("group_interval", &opts.group_interval, true));
  NIMIFY_RETURN_IF_ERROR(duration("repeat_interval", &opts.repeat_interval, true));

  Matchers matchers;
  if (const ConfigNode* n = node.Find("match"); n != nullptr) {
    NIMIFY_ASSIGN_OR_RETURN(matchers, ParseLegacyMatch(*n));
  }
  if (const ConfigNode* n = node.Find("match_re"); n != nullptr) {
    NIMIFY_ASSIGN_OR_RETURN(Matchers re, ParseLegacyMatchRe(*n));
    for (Matcher& m : re) matchers.push_back(std::move(m));
  }
  if (const ConfigNode* n = node.Find("matchers"); n != nullptr) {
    NIMIFY_ASSIGN_OR_RETURN(Matchers ms, ParseMatchersList(*n));
    for (Matcher& m : ms) matchers.push_back(std::move(m));
  }
  SortMatchers(&matchers);
  route->matchers_ = std::move(matchers);

  // Not inherited: each route names its own (AM's NewRoute).
  NIMIFY_ASSIGN_OR_RETURN(opts.mute_time_intervals, StringList(node.Find("mute_time_intervals")));
  NIMIFY_ASSIGN_OR_RETURN(opts.active_time_intervals,
                          StringList(node.Find("active_time_intervals")));

  if (const ConfigNode* n = node.Find("continue"); n != nullptr && !n->is_null()) {
    NIMIFY_ASSIGN_OR_RETURN(route->continue_, n->AsBool());
  }
  route->options_ = std::move(opts);

  route->key_ =
      (parent != nullptr ? parent->key_ + "/" : std::string()) + MatchersToString(route->matchers_);
  route->id_ = parent != nullptr ? route->key_ + "/" + std::to_string(index) : route->key_;

  if (const ConfigNode* n = node.Find("routes"); n != nullptr && !n->is_null()) {
    if (!n->is_sequence()) return n->Error("routes: expected a list of routes");
    for (std::size_t i = 0; i < n->items().size(); ++i) {
      NIMIFY_ASSIGN_OR_RETURN(std::unique_ptr<Route> child,
                              ParseRouteNode(n->items()[i], route.get(), i));
      route->routes_.push_back(std::move(child));
    }
  }
  return route;
}

namespace {

// The config node of a route's own key, for error positions.
const ConfigNode* FindKey(const ConfigNode& node, std::string_view key) {
  const ConfigNode* n = node.Find(key);
  return n != nullptr ? n : &node;
}

// config.checkReceiver / checkTimeInterval over the parallel config tree.
Status CheckRouteNames(const ConfigNode& node, const std::set<std::string, std::less<>>& receivers,
                       const std::set<std::string, std::less<>>& intervals, bool intervals_pass) {
  if (const ConfigNode* routes = node.Find("routes"); routes != nullptr && routes->is_sequence()) {
    for (const ConfigNode& child : routes->items()) {
      NIMIFY_RETURN_IF_ERROR(CheckRouteNames(child, receivers, intervals, intervals_pass));
    }
  }
  if (!intervals_pass) {
    const ConfigNode* r = node.Find("receiver");
    if (r != nullptr && r->is_scalar() && !r->text().empty() && receivers.count(r->text()) == 0) {
      return r->Error("undefined receiver \"" + r->text() + "\" used in route");
    }
    return Status::Ok();
  }
  for (const char* key : {"active_time_intervals", "mute_time_intervals"}) {
    const ConfigNode* list = node.Find(key);
    if (list == nullptr) continue;
    for (const ConfigNode& item : list->items()) {
      if (intervals.count(item.text()) == 0) {
        return item.Error("undefined time interval \"" + item.text() + "\" used in route");
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Route>> ParseRouteTree(const ConfigNode& route,
                                              const RouteValidation& validation) {
  if (route.is_null()) return route.Error("no route provided in config");
  NIMIFY_ASSIGN_OR_RETURN(std::unique_ptr<Route> root, ParseRouteNode(route, nullptr, 0));
  if (root->options().receiver.empty()) {
    return route.Error("root route must specify a default receiver");
  }
  if (!root->matchers().empty()) {
    const ConfigNode* at = route.Find("matchers");
    if (at == nullptr) at = route.Find("match");
    if (at == nullptr) at = FindKey(route, "match_re");
    return at->Error("root route must not have any matchers");
  }
  if (!root->options().mute_time_intervals.empty()) {
    return FindKey(route, "mute_time_intervals")
        ->Error("root route must not have any mute time intervals");
  }
  if (!root->options().active_time_intervals.empty()) {
    return FindKey(route, "active_time_intervals")
        ->Error("root route must not have any active time intervals");
  }
  const std::set<std::string, std::less<>> receivers(validation.receiver_names.begin(),
                                                     validation.receiver_names.end());
  const std::set<std::string, std::less<>> intervals(validation.time_interval_names.begin(),
                                                     validation.time_interval_names.end());
  NIMIFY_RETURN_IF_ERROR(CheckRouteNames(route, receivers, intervals, false));
  NIMIFY_RETURN_IF_ERROR(CheckRouteNames(route, receivers, intervals, true));
  if (root->continue_matching()) {
    return FindKey(route, "continue")->Error("cannot have continue in root route");
  }
  return root;
}

bool Route::MatchInto(const OwnedLabels& labels, std::vector<const Route*>* out) const {
  if (!MatchesAll(matchers_, labels)) return false;
  const std::size_t before = out->size();
  for (const auto& child : routes_) {
    if (child->MatchInto(labels, out) && !child->continue_) break;
  }
  if (out->size() == before) out->push_back(this);
  return true;
}

std::vector<const Route*> Route::Match(const OwnedLabels& labels) const {
  std::vector<const Route*> out;
  MatchInto(labels, &out);
  return out;
}

OwnedLabels GroupLabels(const Route& route, const OwnedLabels& labels) {
  const RouteOptions& opts = route.options();
  if (opts.group_by_all) return labels;
  OwnedLabels out;
  for (const OwnedLabel& l : labels) {
    if (std::binary_search(opts.group_by.begin(), opts.group_by.end(), l.name)) out.push_back(l);
  }
  return out;
}

std::string GroupKey(const Route& route, const OwnedLabels& labels) {
  return route.key() + ":" + LabelSetString(GroupLabels(route, labels));
}

}  // namespace nimify::actions
