#include <gtest/gtest.h>

#include "promql/storage.h"

namespace nimify::promql {
namespace {

LabelMatcher Make(MatchType t, const char* v) {
  auto m = LabelMatcher::Create(t, "l", v);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return *m;
}

TEST(MatcherTest, EqualityAndAbsentAsEmpty) {
  EXPECT_TRUE(Make(MatchType::kEqual, "a").Matches("a"));
  EXPECT_FALSE(Make(MatchType::kEqual, "a").Matches("ab"));
  EXPECT_TRUE(Make(MatchType::kEqual, "").MatchesEmpty());
  EXPECT_TRUE(Make(MatchType::kNotEqual, "a").Matches(""));
}

TEST(MatcherTest, RegexIsFullyAnchored) {
  auto m = Make(MatchType::kRegexMatch, "5..");
  EXPECT_TRUE(m.Matches("503"));
  EXPECT_FALSE(m.Matches("5030"));
  EXPECT_FALSE(m.Matches("x503"));
  auto alt = Make(MatchType::kRegexMatch, "a|b");
  EXPECT_TRUE(alt.Matches("b"));
  EXPECT_FALSE(alt.Matches("ab"));  // anchoring wraps the whole alternation
  EXPECT_TRUE(Make(MatchType::kRegexNoMatch, "a.*").Matches("ba"));
  EXPECT_TRUE(Make(MatchType::kRegexMatch, ".*").MatchesEmpty());
}

TEST(MatcherTest, DotMatchesNewline) {
  EXPECT_TRUE(Make(MatchType::kRegexMatch, "a.b").Matches("a\nb"));
}

TEST(MatcherTest, BadRegexIsAnError) {
  auto m = LabelMatcher::Create(MatchType::kRegexMatch, "l", "a(");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(m.status().message().find("invalid regular expression"), std::string_view::npos);
}

TEST(MatcherTest, ToStringQuotes) {
  EXPECT_EQ(Make(MatchType::kRegexNoMatch, "a\"b").ToString(), "l!~\"a\\\"b\"");
}

}  // namespace
}  // namespace nimify::promql
