// Which rules a series feeds: each rule's vector selectors, indexed by metric
// name so that matching a new series tries only the selectors that can match.
//
//   SelectorIndex index(rules);                  // once per rule set
//   std::vector<std::uint32_t> ids = index.Match(series_labels);  // once per new series
#ifndef NIMIFY_PIPELINE_SELECTOR_INDEX_H_
#define NIMIFY_PIPELINE_SELECTOR_INDEX_H_

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "promql/labels.h"
#include "promql/storage.h"

namespace nimify::pipeline {

// A rule's vector selectors: a series that matches any of them feeds the rule.
struct RuleSelectors {
  std::uint32_t rule_id = 0;
  std::vector<std::vector<promql::LabelMatcher>> selectors;
};

// Immutable after construction; safe to share between threads.
class SelectorIndex {
 public:
  SelectorIndex() = default;
  explicit SelectorIndex(std::vector<RuleSelectors> rules);

  // The ids of the rules with a selector matching `labels`, sorted and unique.
  std::vector<std::uint32_t> Match(const promql::Labels& labels) const;

  bool empty() const noexcept { return entries_.empty(); }
  std::size_t selector_count() const noexcept { return entries_.size(); }

 private:
  struct Entry {
    std::uint32_t rule_id;
    std::vector<promql::LabelMatcher> matchers;
  };
  std::vector<Entry> entries_;
  // Selectors with __name__="x", by x; the rest are tried on every series.
  std::unordered_map<std::string, std::vector<std::uint32_t>> by_metric_name_;
  std::vector<std::uint32_t> unnamed_;
};

}  // namespace nimify::pipeline

#endif  // NIMIFY_PIPELINE_SELECTOR_INDEX_H_
