#include "actions/inhibit.h"

#include <algorithm>
#include <set>
#include <utility>

#include "actions/fingerprint.h"

namespace nimify::actions {

namespace {

Result<Matchers> SideMatchers(const ConfigNode& node, const char* match, const char* match_re,
                              const char* matchers) {
  Matchers out;
  if (const ConfigNode* n = node.Find(match); n != nullptr) {
    NIMIFY_ASSIGN_OR_RETURN(out, ParseLegacyMatch(*n));
  }
  if (const ConfigNode* n = node.Find(match_re); n != nullptr) {
    NIMIFY_ASSIGN_OR_RETURN(Matchers re, ParseLegacyMatchRe(*n));
    for (Matcher& m : re) out.push_back(std::move(m));
  }
  if (const ConfigNode* n = node.Find(matchers); n != nullptr) {
    NIMIFY_ASSIGN_OR_RETURN(Matchers ms, ParseMatchersList(*n));
    for (Matcher& m : ms) out.push_back(std::move(m));
  }
  return out;
}

}  // namespace

Result<InhibitRule> ParseInhibitRule(const ConfigNode& node) {
  if (!node.is_map()) return node.Error("inhibit rule: expected a mapping");
  NIMIFY_RETURN_IF_ERROR(
      node.CheckKeys({"source_match", "source_match_re", "source_matchers", "target_match",
                      "target_match_re", "target_matchers", "equal"},
                     "inhibit rule"));
  InhibitRule rule;
  rule.position = node.position();
  NIMIFY_ASSIGN_OR_RETURN(rule.source_matchers,
                          SideMatchers(node, "source_match", "source_match_re", "source_matchers"));
  NIMIFY_ASSIGN_OR_RETURN(rule.target_matchers,
                          SideMatchers(node, "target_match", "target_match_re", "target_matchers"));
  if (const ConfigNode* eq = node.Find("equal"); eq != nullptr) {
    NIMIFY_ASSIGN_OR_RETURN(std::vector<std::string> names, eq->AsStringList());
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (!IsValidLabelName(names[i])) {
        return eq->items()[i].Error("\"" + names[i] + "\" is not a valid label name");
      }
    }
    std::set<std::string> unique(names.begin(), names.end());
    rule.equal.assign(unique.begin(), unique.end());
  }
  return rule;
}

Result<std::vector<InhibitRule>> ParseInhibitRules(const ConfigNode& node) {
  std::vector<InhibitRule> out;
  if (node.is_null()) return out;
  if (!node.is_sequence()) return node.Error("inhibit_rules: expected a list");
  for (const ConfigNode& item : node.items()) {
    NIMIFY_ASSIGN_OR_RETURN(InhibitRule rule, ParseInhibitRule(item));
    out.push_back(std::move(rule));
  }
  return out;
}

Inhibitor::Inhibitor(std::vector<InhibitRule> rules)
    : rules_(std::move(rules)), sources_(rules_.size()) {}

void Inhibitor::SetFiring(const std::vector<OwnedLabels>& firing) {
  std::vector<const OwnedLabels*> pointers;
  pointers.reserve(firing.size());
  for (const OwnedLabels& labels : firing) pointers.push_back(&labels);
  SetFiringFrom(pointers);
}

void Inhibitor::SetFiringFrom(std::span<const OwnedLabels* const> firing) {
  for (std::size_t r = 0; r < rules_.size(); ++r) {
    sources_[r].clear();
    for (const OwnedLabels* labels : firing) {
      if (!MatchesAll(rules_[r].source_matchers, *labels)) continue;
      sources_[r].push_back(
          {*labels, Fingerprint(*labels), MatchesAll(rules_[r].target_matchers, *labels)});
    }
  }
}

std::vector<std::uint64_t> Inhibitor::InhibitedBy(const OwnedLabels& labels) const {
  std::vector<std::uint64_t> out;
  for (std::size_t r = 0; r < rules_.size(); ++r) {
    const InhibitRule& rule = rules_[r];
    if (!MatchesAll(rule.target_matchers, labels)) continue;
    const bool two_sided = MatchesAll(rule.source_matchers, labels);
    for (const Source& source : sources_[r]) {
      if (two_sided && source.matches_target) continue;
      bool equal = true;
      for (const std::string& name : rule.equal) {
        if (LabelValue(source.labels, name) != LabelValue(labels, name)) {
          equal = false;
          break;
        }
      }
      if (equal) out.push_back(source.fingerprint);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace nimify::actions
