#include "actions/inhibit.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "actions/fingerprint.h"

namespace nimify::actions {
namespace {

std::vector<InhibitRule> Rules(const std::string& yaml) {
  Result<ConfigNode> doc = ConfigNode::ParseYaml(yaml, "am.yml");
  EXPECT_TRUE(doc.ok()) << doc.status().ToString();
  Result<std::vector<InhibitRule>> rules = ParseInhibitRules(*doc->Find("inhibit_rules"));
  EXPECT_TRUE(rules.ok()) << rules.status().ToString();
  return rules.ok() ? *rules : std::vector<InhibitRule>{};
}

constexpr const char* kRunbookRule = R"(
inhibit_rules:
  - source_matchers: ['alertname="ServiceDown"']
    target_matchers: ['alertname=~"HighLatency|HighErrorRate"']
    equal: [job, instance]
)";

TEST(InhibitorTest, SourceInhibitsTargetsWithEqualLabels) {
  Inhibitor inhibitor(Rules(kRunbookRule));
  const OwnedLabels down = {{"alertname", "ServiceDown"}, {"instance", "i1"}, {"job", "api"}};
  inhibitor.SetFiring({down});
  const OwnedLabels latency = {{"alertname", "HighLatency"}, {"instance", "i1"}, {"job", "api"}};
  EXPECT_EQ(inhibitor.InhibitedBy(latency), std::vector<std::uint64_t>{Fingerprint(down)});
  // Another instance: not equal.
  EXPECT_FALSE(inhibitor.Mutes({{"alertname", "HighLatency"}, {"instance", "i2"}, {"job", "api"}}));
  // Not a target.
  EXPECT_FALSE(inhibitor.Mutes({{"alertname", "DiskFull"}, {"instance", "i1"}, {"job", "api"}}));
  // The source itself is not a target here and is not inhibited.
  EXPECT_FALSE(inhibitor.Mutes(down));
  // Once the source resolves, nothing is inhibited.
  inhibitor.SetFiring({});
  EXPECT_FALSE(inhibitor.Mutes(latency));
}

// The responder passes its incidents' labels by pointer; the inhibitor keeps
// copies of the sources, so the labels may change or go after SetFiring.
TEST(InhibitorTest, SourcesPassedByPointerAreKeptAsCopies) {
  Inhibitor inhibitor(Rules(kRunbookRule));
  auto down = std::make_unique<OwnedLabels>(
      OwnedLabels{{"alertname", "ServiceDown"}, {"instance", "i1"}, {"job", "api"}});
  const OwnedLabels other = {{"alertname", "DiskFull"}, {"instance", "i1"}, {"job", "api"}};
  const std::uint64_t down_fp = Fingerprint(*down);
  const std::vector<const OwnedLabels*> firing = {down.get(), &other};
  inhibitor.SetFiringFrom(firing);
  down.reset();
  const OwnedLabels latency = {{"alertname", "HighLatency"}, {"instance", "i1"}, {"job", "api"}};
  EXPECT_EQ(inhibitor.InhibitedBy(latency), std::vector<std::uint64_t>{down_fp});
  inhibitor.SetFiringFrom(std::vector<const OwnedLabels*>{&other});
  EXPECT_FALSE(inhibitor.Mutes(latency));
}

TEST(InhibitorTest, MissingEqualLabelsOnBothSidesAreEqual) {
  Inhibitor inhibitor(Rules(kRunbookRule));
  inhibitor.SetFiring({{{"alertname", "ServiceDown"}}});
  EXPECT_TRUE(inhibitor.Mutes({{"alertname", "HighErrorRate"}}));
  EXPECT_FALSE(inhibitor.Mutes({{"alertname", "HighErrorRate"}, {"job", "api"}}));
}

TEST(InhibitorTest, AlertDoesNotInhibitItselfOrTwoSidedPeers) {
  // Critical inhibits warning-or-critical of the same job: an alert matching
  // both sides is not inhibited by itself nor by another two-sided alert.
  Inhibitor inhibitor(Rules(R"(
inhibit_rules:
  - source_match: {severity: critical}
    target_match_re: {severity: "warning|critical"}
    equal: [job]
)"));
  const OwnedLabels crit_a = {{"alertname", "A"}, {"job", "api"}, {"severity", "critical"}};
  const OwnedLabels crit_b = {{"alertname", "B"}, {"job", "api"}, {"severity", "critical"}};
  const OwnedLabels warn = {{"alertname", "C"}, {"job", "api"}, {"severity", "warning"}};
  inhibitor.SetFiring({crit_a, crit_b, warn});
  EXPECT_FALSE(inhibitor.Mutes(crit_a));
  EXPECT_FALSE(inhibitor.Mutes(crit_b));
  std::vector<std::uint64_t> by = {Fingerprint(crit_a), Fingerprint(crit_b)};
  std::sort(by.begin(), by.end());
  EXPECT_EQ(inhibitor.InhibitedBy(warn), by);
}

TEST(InhibitRuleTest, ParsesLegacyAndNewMatchersAndRejectsBadInput) {
  std::vector<InhibitRule> rules = Rules(R"(
inhibit_rules:
  - source_match: {a: "1"}
    source_match_re: {b: "2|3"}
    source_matchers: [c!=4]
    target_matchers: ['{d="5", e=~"6"}']
    equal: [z, y, z]
)");
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(MatchersToString(rules[0].source_matchers), R"({a="1",b=~"^(?:2|3)$",c!="4"})");
  EXPECT_EQ(MatchersToString(rules[0].target_matchers), R"({d="5",e=~"6"})");
  EXPECT_EQ(rules[0].equal, (std::vector<std::string>{"y", "z"}));

  Result<ConfigNode> doc =
      ConfigNode::ParseYaml("inhibit_rules:\n  - equal: ['not-a-label']\n", "am.yml");
  ASSERT_TRUE(doc.ok());
  Result<std::vector<InhibitRule>> bad = ParseInhibitRules(*doc->Find("inhibit_rules"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "am.yml:2:13: \"not-a-label\" is not a valid label name");
  doc = ConfigNode::ParseYaml("inhibit_rules:\n  - source_matcher: [a=b]\n", "am.yml");
  ASSERT_TRUE(doc.ok());
  bad = ParseInhibitRules(*doc->Find("inhibit_rules"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "am.yml:2:21: field \"source_matcher\" not found in inhibit rule");
}

}  // namespace
}  // namespace nimify::actions
