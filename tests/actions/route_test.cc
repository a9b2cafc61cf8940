#include "actions/route.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace nimify::actions {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

Result<std::unique_ptr<Route>> Parse(const std::string& yaml,
                                     std::vector<std::string> receivers = {"default", "a", "b", "c",
                                                                           "d"},
                                     std::vector<std::string> intervals = {}) {
  Result<ConfigNode> doc = ConfigNode::ParseYaml(yaml, "am.yml");
  if (!doc.ok()) return doc.status();
  const ConfigNode* route = doc->Find("route");
  RouteValidation v{std::move(receivers), std::move(intervals)};
  return ParseRouteTree(route != nullptr ? *route : ConfigNode(), v);
}

std::vector<std::string> Receivers(const Route& root, const OwnedLabels& labels) {
  std::vector<std::string> out;
  for (const Route* r : root.Match(labels)) out.push_back(r->options().receiver);
  return out;
}

constexpr const char* kTree = R"(
route:
  receiver: default
  group_by: [alertname]
  routes:
    - matchers: ['team="x"']
      receiver: a
      continue: true
      routes:
        - match: {severity: critical}
          receiver: b
    - match_re: {team: "x|y"}
      receiver: c
      group_by: ['...']
    - matchers: ['{env=~"prod.*", team!="z"}']
      receiver: d
)";

TEST(RouteMatchTest, DepthFirstWithContinueAndDefaults) {
  Result<std::unique_ptr<Route>> root = Parse(kTree);
  ASSERT_TRUE(root.ok()) << root.status().ToString();
  // team=x: the first child continues, the second matches and stops.
  EXPECT_EQ(Receivers(**root, {{"team", "x"}}), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(Receivers(**root, {{"severity", "critical"}, {"team", "x"}}),
            (std::vector<std::string>{"b", "c"}));
  // team=y: only the second child.
  EXPECT_EQ(Receivers(**root, {{"env", "prod"}, {"team", "y"}}), (std::vector<std::string>{"c"}));
  EXPECT_EQ(Receivers(**root, {{"env", "production"}}), (std::vector<std::string>{"d"}));
  // Nothing matches: the root itself.
  EXPECT_EQ(Receivers(**root, {{"team", "z"}}), (std::vector<std::string>{"default"}));
  EXPECT_EQ(Receivers(**root, {}), (std::vector<std::string>{"default"}));
}

TEST(RouteMatchTest, KeysIdsAndGroupKeys) {
  Result<std::unique_ptr<Route>> root = Parse(kTree);
  ASSERT_TRUE(root.ok()) << root.status().ToString();
  const Route& r = **root;
  EXPECT_EQ(r.key(), "{}");
  EXPECT_EQ(r.routes()[0]->key(), R"({}/{team="x"})");
  EXPECT_EQ(r.routes()[0]->routes()[0]->key(), R"({}/{team="x"}/{severity="critical"})");
  EXPECT_EQ(r.routes()[1]->key(), R"({}/{team=~"^(?:x|y)$"})");
  EXPECT_EQ(r.routes()[2]->key(), R"({}/{env=~"prod.*",team!="z"})");
  EXPECT_EQ(r.routes()[2]->id(), R"({}/{env=~"prod.*",team!="z"}/2)");

  const OwnedLabels labels = {{"alertname", "Down"}, {"job", "api"}, {"team", "x"}};
  EXPECT_EQ(GroupKey(*r.routes()[0], labels), R"({}/{team="x"}:{alertname="Down"})");
  EXPECT_EQ(GroupKey(*r.routes()[1], labels),
            R"({}/{team=~"^(?:x|y)$"}:{alertname="Down", job="api", team="x"})");
}

TEST(RouteOptionsTest, DefaultsAndInheritance) {
  Result<std::unique_ptr<Route>> root = Parse(R"(
route:
  receiver: default
  group_wait: 10s
  routes:
    - matchers: [a=1]
      receiver: a
      group_interval: 1m
      group_by: [x, y]
      mute_time_intervals: [night]
      routes:
        - matchers: [b=1]
          repeat_interval: 2h
          group_by: []
        - matchers: [b=2]
          group_by: ['...']
    - matchers: [a=2]
)",
                                              {"default", "a"}, {"night"});
  ASSERT_TRUE(root.ok()) << root.status().ToString();
  const RouteOptions& top = (*root)->options();
  EXPECT_EQ(top.group_wait, milliseconds(seconds(10)));
  EXPECT_EQ(top.group_interval, milliseconds(minutes(5)));
  EXPECT_EQ(top.repeat_interval, milliseconds(hours(4)));
  EXPECT_TRUE(top.group_by.empty());

  const Route& a = *(*root)->routes()[0];
  EXPECT_EQ(a.options().receiver, "a");
  EXPECT_EQ(a.options().group_wait, milliseconds(seconds(10)));
  EXPECT_EQ(a.options().group_interval, milliseconds(minutes(1)));
  EXPECT_EQ(a.options().mute_time_intervals, std::vector<std::string>{"night"});

  const RouteOptions& b1 = a.routes()[0]->options();
  EXPECT_EQ(b1.receiver, "a");
  EXPECT_EQ(b1.group_interval, milliseconds(minutes(1)));
  EXPECT_EQ(b1.repeat_interval, milliseconds(hours(2)));
  EXPECT_EQ(b1.group_by, (std::vector<std::string>{"x", "y"}));  // [] inherits, as in AM
  EXPECT_TRUE(b1.mute_time_intervals.empty());                   // not inherited
  EXPECT_TRUE(a.routes()[1]->options().group_by_all);
  EXPECT_EQ(GroupLabels(*a.routes()[1], {{"p", "1"}, {"q", "2"}}).size(), 2u);

  EXPECT_EQ((*root)->routes()[1]->options().receiver, "default");
}

TEST(RouteValidationTest, RejectsLikeAlertmanager) {
  const std::pair<const char*, const char*> cases[] = {
      {"route: {}\n", "am.yml:1:8: root route must specify a default receiver"},
      {"route:\n  receiver: default\n  matchers: [a=b]\n",
       "am.yml:3:13: root route must not have any matchers"},
      {"route:\n  receiver: default\n  continue: true\n",
       "am.yml:3:13: cannot have continue in root route"},
      {"route:\n  receiver: nope\n", "am.yml:2:13: undefined receiver \"nope\" used in route"},
      {"route:\n  receiver: default\n  routes:\n    - receiver: nope\n",
       "am.yml:4:17: undefined receiver \"nope\" used in route"},
      {"route:\n  receiver: default\n  routes:\n    - mute_time_intervals: [x]\n",
       "am.yml:4:29: undefined time interval \"x\" used in route"},
      {"route:\n  receiver: default\n  group_by: [a, a]\n",
       "am.yml:3:13: duplicated label \"a\" in group_by"},
      {"route:\n  receiver: default\n  group_by: ['...', a]\n",
       "am.yml:3:13: cannot have wildcard group_by (`...`) and other other labels at the same "
       "time"},
      {"route:\n  receiver: default\n  group_by: [a-b]\n",
       "am.yml:3:14: invalid label name \"a-b\" in group_by list"},
      {"route:\n  receiver: default\n  group_interval: 0s\n",
       "am.yml:3:19: group_interval cannot be zero"},
      {"route:\n  receiver: default\n  routes:\n    - matchers: ['a=\"']\n",
       "am.yml:4:18: matcher value contains unescaped double quote: \""},
      {"route:\n  receiver: default\n  reciever: x\n",
       "am.yml:3:13: field \"reciever\" not found in route"},
  };
  for (const auto& [yaml, message] : cases) {
    SCOPED_TRACE(yaml);
    Result<std::unique_ptr<Route>> root = Parse(yaml);
    ASSERT_FALSE(root.ok());
    EXPECT_EQ(root.status().message(), message);
  }
  Result<std::unique_ptr<Route>> bad_duration =
      Parse("route:\n  receiver: default\n  group_wait: 5 minutes\n");
  ASSERT_FALSE(bad_duration.ok());
  EXPECT_EQ(bad_duration.status().message().substr(0, 13), "am.yml:3:15: ");
}

}  // namespace
}  // namespace nimify::actions
