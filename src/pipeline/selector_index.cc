#include "pipeline/selector_index.h"

#include <algorithm>
#include <utility>

namespace nimify::pipeline {

SelectorIndex::SelectorIndex(std::vector<RuleSelectors> rules) {
  for (RuleSelectors& rule : rules) {
    for (auto& matchers : rule.selectors) {
      const auto index = static_cast<std::uint32_t>(entries_.size());
      const promql::LabelMatcher* by_name = nullptr;
      for (const promql::LabelMatcher& m : matchers) {
        if (m.type() == promql::MatchType::kEqual && m.name() == promql::kMetricNameLabel) {
          by_name = &m;
        }
      }
      if (by_name != nullptr) {
        by_metric_name_[by_name->value()].push_back(index);
      } else {
        unnamed_.push_back(index);
      }
      entries_.push_back({rule.rule_id, std::move(matchers)});
    }
  }
}

std::vector<std::uint32_t> SelectorIndex::Match(const promql::Labels& labels) const {
  std::vector<std::uint32_t> rules;
  auto try_entry = [&](std::uint32_t index) {
    const Entry& e = entries_[index];
    for (const promql::LabelMatcher& m : e.matchers) {
      if (!m.Matches(labels.Get(m.name()))) return;
    }
    rules.push_back(e.rule_id);
  };
  if (!by_metric_name_.empty()) {
    if (auto it = by_metric_name_.find(std::string(labels.MetricName()));
        it != by_metric_name_.end()) {
      for (std::uint32_t index : it->second) try_entry(index);
    }
  }
  for (std::uint32_t index : unnamed_) try_entry(index);
  std::sort(rules.begin(), rules.end());
  rules.erase(std::unique(rules.begin(), rules.end()), rules.end());
  return rules;
}

}  // namespace nimify::pipeline
