// `nimify config routes [show|test]`: Alertmanager's routing tree from a
// config file, printed exactly as `amtool config routes` prints it, so
// scripts and CI checks written for amtool work unchanged.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "actions/matchers.h"
#include "actions/route.h"
#include "actions/time_interval.h"
#include "cli/commands.h"
#include "nimify/config.h"

namespace nimify::cli {
namespace {

constexpr const char* kUsage =
    "usage: nimify config routes [show] --config.file=FILE\n"
    "       nimify config routes test --config.file=FILE [--verify.receivers=R1,R2]\n"
    "                                 [--tree] [label=value...]\n"
    "\n"
    "show prints the routing tree of an Alertmanager-style config; test prints the\n"
    "receivers an alert with the given labels is routed to, in tree order, comma\n"
    "separated (as `amtool config routes test`). Only route, receivers (their names)\n"
    "and time intervals are read; other top-level sections are ignored here.\n"
    "Exit status: 0 ok, 1 bad config or labels, or --verify.receivers differs;\n"
    "2 bad usage.\n";

int UsageError(const std::string& msg) {
  std::fprintf(stderr, "nimify config routes: %s\n\n%s", msg.c_str(), kUsage);
  return 2;
}

int Fail(const std::string& msg) {
  std::fprintf(stderr, "nimify: error: %s\n", msg.c_str());
  return 1;
}

// What the routing commands need from an alertmanager.yml.
struct RoutingConfig {
  std::unique_ptr<actions::Route> root;
};

Result<RoutingConfig> LoadRoutingConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  NIMIFY_ASSIGN_OR_RETURN(ConfigNode doc, ConfigNode::ParseYaml(text.str(), path));
  if (doc.is_null()) return Status::InvalidArgument(path + ": no route provided in config");
  if (!doc.is_map()) return doc.Error("expected a mapping at the top level");

  actions::RouteValidation validation;
  if (const ConfigNode* receivers = doc.Find("receivers");
      receivers != nullptr && !receivers->is_null()) {
    if (!receivers->is_sequence()) return receivers->Error("receivers: expected a list");
    for (const ConfigNode& r : receivers->items()) {
      const ConfigNode* name = r.is_map() ? r.Find("name") : nullptr;
      if (name == nullptr || name->is_null() || name->text().empty()) {
        return r.Error("missing name in receiver");
      }
      NIMIFY_ASSIGN_OR_RETURN(std::string n, name->AsString());
      if (std::find(validation.receiver_names.begin(), validation.receiver_names.end(), n) !=
          validation.receiver_names.end()) {
        return name->Error("notification config name \"" + n + "\" is not unique");
      }
      validation.receiver_names.push_back(std::move(n));
    }
  }
  NIMIFY_ASSIGN_OR_RETURN(
      actions::TimeIntervals intervals,
      actions::TimeIntervals::Parse(doc.Find("time_intervals"), doc.Find("mute_time_intervals")));
  validation.time_interval_names = intervals.Names();
  const ConfigNode* route = doc.Find("route");
  if (route == nullptr || route->is_null()) {
    return doc.Error("no route provided in config");
  }
  RoutingConfig cfg;
  NIMIFY_ASSIGN_OR_RETURN(cfg.root, actions::ParseRouteTree(*route, validation));
  return cfg;
}

// The xlab/treeprint rendering amtool uses.
struct TreeNode {
  std::string value;
  std::vector<TreeNode> children;
};

void PrintTreeNodes(const std::vector<TreeNode>& nodes, std::vector<bool>* ended,
                    std::string* out) {
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const bool last = i + 1 == nodes.size();
    for (bool level_ended : *ended) {
      *out += level_ended ? "    " : "\u2502\u00a0\u00a0 ";
    }
    *out += last ? "\u2514\u2500\u2500 " : "\u251c\u2500\u2500 ";
    *out += nodes[i].value;
    *out += '\n';
    if (!nodes[i].children.empty()) {
      ended->push_back(last);
      PrintTreeNodes(nodes[i].children, ended, out);
      ended->pop_back();
    }
  }
}

std::string RenderTree(const TreeNode& root_branch) {
  std::string out = ".\n";
  std::vector<bool> ended;
  PrintTreeNodes({root_branch}, &ended, &out);
  return out;
}

std::string RouteSlug(const actions::Route& route, bool show_continue, bool show_receiver) {
  std::string slug =
      route.matchers().empty() ? "default-route" : actions::MatchersToString(route.matchers());
  if (route.continue_matching() && show_continue) slug += "  continue: true";
  if (show_receiver) slug += "  receiver: " + route.options().receiver;
  return slug;
}

TreeNode FullTree(const actions::Route& route) {
  TreeNode node{RouteSlug(route, true, true), {}};
  for (const auto& child : route.routes()) node.children.push_back(FullTree(*child));
  return node;
}

// amtool's getMatchingTree: the path(s) an alert takes, receivers on the leaves.
TreeNode MatchingTree(const actions::Route& route, const OwnedLabels& labels) {
  TreeNode node{RouteSlug(route, false, false), {}};
  bool final_route = true;
  for (const auto& child : route.routes()) {
    if (!actions::MatchesAll(child->matchers(), labels)) continue;
    node.children.push_back(MatchingTree(*child, labels));
    final_route = false;
    if (!child->continue_matching()) break;
  }
  if (final_route) node.value = RouteSlug(route, false, true);
  return node;
}

Result<OwnedLabels> ParseLabelArgs(const std::vector<std::string>& args) {
  std::map<std::string, std::string> set;  // a repeated name keeps its last value, as amtool
  for (const std::string& a : args) {
    NIMIFY_ASSIGN_OR_RETURN(actions::Matcher m, actions::ParseMatcher(a));
    if (m.type() != actions::MatchType::kEqual) {
      return Status::InvalidArgument("labels must be specified as key=value pairs");
    }
    set[m.name()] = m.value();
  }
  OwnedLabels labels;
  for (auto& [name, value] : set) labels.push_back({name, value});
  return labels;
}

}  // namespace

int RunConfigRoutes(const Args& args) {
  std::string config_file;
  bool have_config = false;
  std::string verify_receivers;
  bool tree = false;
  std::vector<std::string> positional;
  bool flags_done = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const auto value_of = [&](const std::string& flag, std::string* out) -> int {
      // --flag=value or --flag value; returns 1 when consumed, -1 on a missing value.
      if (a.rfind(flag + "=", 0) == 0) {
        *out = a.substr(flag.size() + 1);
        return 1;
      }
      if (a == flag) {
        if (i + 1 >= args.size()) return -1;
        *out = args[++i];
        return 1;
      }
      return 0;
    };
    if (flags_done || a.empty() || a[0] != '-') {
      positional.push_back(a);
      continue;
    }
    if (a == "--") {
      flags_done = true;
    } else if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--tree") {
      tree = true;
    } else if (a == "--no-tree") {
      tree = false;
    } else if (int r = value_of("--config.file", &config_file); r != 0) {
      if (r < 0) return UsageError("expected argument for flag '--config.file'");
      have_config = true;
    } else if (int v = value_of("--verify.receivers", &verify_receivers); v != 0) {
      if (v < 0) return UsageError("expected argument for flag '--verify.receivers'");
    } else {
      return UsageError("unknown flag '" + a + "'");
    }
  }
  std::string sub = "show";
  if (!positional.empty() && (positional[0] == "show" || positional[0] == "test")) {
    sub = positional[0];
    positional.erase(positional.begin());
  }
  if (sub == "show" && !positional.empty()) {
    return UsageError("unexpected argument '" + positional[0] + "'");
  }
  if (!have_config) return UsageError("--config.file is required");
  struct stat st {};
  if (::stat(config_file.c_str(), &st) != 0) {
    return Fail("path '" + config_file + "' does not exist");
  }
  if (S_ISDIR(st.st_mode)) return Fail("'" + config_file + "' is a directory");

  Result<RoutingConfig> cfg = LoadRoutingConfig(config_file);
  if (!cfg.ok()) return Fail(std::string(cfg.status().message()));
  const actions::Route& root = *cfg->root;

  if (sub == "show") {
    std::printf("Routing tree:\n%s\n", RenderTree(FullTree(root)).c_str());
    return 0;
  }
  Result<OwnedLabels> labels = ParseLabelArgs(positional);
  if (!labels.ok()) {
    return Fail("Failed to parse labels: " + std::string(labels.status().message()));
  }
  if (tree) {
    std::printf("Matching routes:\n%s\n\n", RenderTree(MatchingTree(root, *labels)).c_str());
  }
  std::string slug;
  const std::vector<const actions::Route*> matched = root.Match(*labels);
  for (std::size_t i = 0; i < matched.size(); ++i) {
    if (i > 0) slug += ",";
    slug += matched[i]->options().receiver;
  }
  std::printf("%s\n", slug.c_str());
  if (!verify_receivers.empty() && verify_receivers != slug) {
    std::printf("WARNING: Expected receivers did not match resolved receivers.\n");
    return 1;
  }
  return 0;
}

}  // namespace nimify::cli
