#include "pipeline/selector_index.h"

#include <gtest/gtest.h>

#include <vector>

namespace nimify::pipeline {
namespace {

using promql::LabelMatcher;
using promql::Labels;
using promql::MatchType;

LabelMatcher M(MatchType type, const char* name, const char* value) {
  return *LabelMatcher::Create(type, name, value);
}

TEST(SelectorIndexTest, MatchesByNameAndWithoutName) {
  SelectorIndex index({
      {1,
       {{M(MatchType::kEqual, "__name__", "http_requests_total"),
         M(MatchType::kEqual, "code", "500")}}},
      {2,
       {{M(MatchType::kEqual, "__name__", "up")},
        {M(MatchType::kEqual, "__name__", "http_requests_total")}}},
      {3, {{M(MatchType::kRegexMatch, "job", "api|web")}}},
      {4,
       {{M(MatchType::kRegexMatch, "__name__", "http_.*"), M(MatchType::kNotEqual, "env", "dev")}}},
      {5, {{M(MatchType::kEqual, "__name__", "up"), M(MatchType::kEqual, "job", "")}}},
  });
  EXPECT_EQ(index.selector_count(), 6u);
  EXPECT_EQ(
      index.Match(Labels{{"__name__", "http_requests_total"}, {"code", "500"}, {"job", "api"}}),
      (std::vector<std::uint32_t>{1, 2, 3, 4}));
  EXPECT_EQ(
      index.Match(Labels{{"__name__", "http_requests_total"}, {"code", "200"}, {"env", "dev"}}),
      (std::vector<std::uint32_t>{2}));
  EXPECT_EQ(index.Match(Labels{{"__name__", "up"}}), (std::vector<std::uint32_t>{2, 5}));
  EXPECT_EQ(index.Match(Labels{{"__name__", "up"}, {"job", "web"}}),
            (std::vector<std::uint32_t>{2, 3}));
  EXPECT_TRUE(index.Match(Labels{{"__name__", "other"}}).empty());
  EXPECT_TRUE(SelectorIndex().Match(Labels{{"__name__", "up"}}).empty());
}

}  // namespace
}  // namespace nimify::pipeline
