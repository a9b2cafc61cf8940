#include "actions/matchers.h"

#include <gtest/gtest.h>

#include "actions/fingerprint.h"
#include "common/go_strconv.h"

namespace nimify::actions {
namespace {

struct MatcherCase {
  const char* input;
  const char* name;
  MatchType type;
  const char* value;
};

TEST(ParseMatcherTest, AcceptsAlertmanagerSyntax) {
  const MatcherCase cases[] = {
      {"foo=bar", "foo", MatchType::kEqual, "bar"},
      {"foo=\"bar\"", "foo", MatchType::kEqual, "bar"},
      {"  foo  !=  bar baz  ", "foo", MatchType::kNotEqual, "bar baz"},
      {"foo=~\"a|b\"", "foo", MatchType::kRegexp, "a|b"},
      {"foo!~a.*", "foo", MatchType::kNotRegexp, "a.*"},
      {"foo=", "foo", MatchType::kEqual, ""},
      {"foo=\"\"", "foo", MatchType::kEqual, ""},
      {"foo==bar", "foo", MatchType::kEqual, "=bar"},
      {"foo=~~bar", "foo", MatchType::kRegexp, "~bar"},
      {"a:b_1=x", "a:b_1", MatchType::kEqual, "x"},
      {R"(foo="a\"b")", "foo", MatchType::kEqual, "a\"b"},
      {R"(foo="a\nb")", "foo", MatchType::kEqual, "a\nb"},
      {R"(foo="a\\b")", "foo", MatchType::kEqual, "a\\b"},
      {R"(foo=a\qb)", "foo", MatchType::kEqual, "a\\qb"},  // spurious escape stays
      {R"(foo=ab\)", "foo", MatchType::kEqual, "ab\\"},    // trailing backslash is literal
      {"foo=ünïcödé", "foo", MatchType::kEqual, "ünïcödé"},
  };
  for (const MatcherCase& c : cases) {
    SCOPED_TRACE(c.input);
    Result<Matcher> m = ParseMatcher(c.input);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ(m->name(), c.name);
    EXPECT_EQ(m->type(), c.type);
    EXPECT_EQ(m->value(), c.value);
  }
}

TEST(ParseMatcherTest, RejectsWithAlertmanagerMessages) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "bad matcher format: "},
      {"foo", "bad matcher format: foo"},
      {"1foo=bar", "bad matcher format: 1foo=bar"},
      {"foo-bar=baz", "bad matcher format: foo-bar=baz"},
      {"foo~=bar", "bad matcher format: foo~=bar"},
      {"foo=\"bar", "matcher value contains unescaped double quote: \"bar"},
      {"foo=ba\"r", "matcher value contains unescaped double quote: ba\"r"},
      {"foo=\"a\"b\"", "matcher value contains unescaped double quote: \"a\"b\""},
      {"foo=\xff", "matcher value not valid UTF-8: \xff"},
      {"foo=~(a", "error parsing regexp: missing closing ): `(a`"},
  };
  for (const auto& [input, message] : cases) {
    SCOPED_TRACE(input);
    Result<Matcher> m = ParseMatcher(input);
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().message(), message);
  }
}

TEST(ParseMatchersTest, ListsBracesQuotesAndTrailingComma) {
  Result<Matchers> ms = ParseMatchers(R"({foo = "bar", dings != "bums", })");
  ASSERT_TRUE(ms.ok()) << ms.status().ToString();
  ASSERT_EQ(ms->size(), 2u);
  EXPECT_EQ((*ms)[1].ToString(), R"(dings!="bums")");

  ms = ParseMatchers(R"(quote="She said: \"Hi, ladies!\"",b=~"x,y")");
  ASSERT_TRUE(ms.ok()) << ms.status().ToString();
  ASSERT_EQ(ms->size(), 2u);
  EXPECT_EQ((*ms)[0].value(), "She said: \"Hi, ladies!\"");
  EXPECT_EQ((*ms)[1].value(), "x,y");

  EXPECT_TRUE(ParseMatchers("").ok());
  EXPECT_TRUE(ParseMatchers("{}")->empty());
  // An empty element between commas is an error, as in AM.
  ms = ParseMatchers("a=b,,c=d");
  ASSERT_FALSE(ms.ok());
  EXPECT_EQ(ms.status().message(), "bad matcher format: ");
}

TEST(MatcherTest, MatchesWithMissingLabelAsEmpty) {
  const OwnedLabels labels = {{"env", "prod"}, {"job", "api"}};
  EXPECT_TRUE(ParseMatcher("job=api")->Matches(labels));
  EXPECT_FALSE(ParseMatcher("job!=api")->Matches(labels));
  EXPECT_TRUE(ParseMatcher("team=")->Matches(labels));
  EXPECT_TRUE(ParseMatcher("team=~\"|x\"")->Matches(labels));
  EXPECT_FALSE(ParseMatcher("team=~.+")->Matches(labels));
  EXPECT_TRUE(ParseMatcher("team!~.+")->Matches(labels));
  // Anchored: a partial match is no match.
  EXPECT_FALSE(ParseMatcher("job=~ap")->Matches(labels));
  EXPECT_TRUE(ParseMatcher("job=~a.|api")->Matches(labels));
  // '.' does not match a newline (Go's default).
  EXPECT_FALSE(ParseMatcher("x=~a.b")->Matches(std::string_view("a\nb")));
}

TEST(MatcherTest, StringFormAndSorting) {
  Matchers ms = *ParseMatchers(R"(b="x\\y\"z", a=~"1|2", a="1", c!="line\nbreak")");
  SortMatchers(&ms);
  EXPECT_EQ(MatchersToString(ms), R"({a="1",a=~"1|2",b="x\\y\"z",c!="line\nbreak"})");
}

TEST(MatchersConfigTest, ErrorsCarryFilePositions) {
  Result<ConfigNode> doc =
      ConfigNode::ParseYaml("matchers:\n  - 'a=b'\n  - 'c=~\"(\"'\n", "routes.yml");
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  Result<Matchers> ms = ParseMatchersList(*doc->Find("matchers"));
  ASSERT_FALSE(ms.ok());
  EXPECT_EQ(ms.status().message(), "routes.yml:3:5: error parsing regexp: missing closing ): `(`");

  doc = ConfigNode::ParseYaml("match:\n  bad-name: x\n", "r.yml");
  ASSERT_TRUE(doc.ok());
  ms = ParseLegacyMatch(*doc->Find("match"));
  ASSERT_FALSE(ms.ok());
  EXPECT_EQ(ms.status().message(), "r.yml:2:13: invalid label name \"bad-name\"");
}

TEST(MatchersConfigTest, LegacyMatchReIsAnchoredLikeAm) {
  Result<ConfigNode> doc = ConfigNode::ParseYaml("match_re:\n  svc: 'a|b'\n", "r.yml");
  ASSERT_TRUE(doc.ok());
  Result<Matchers> ms = ParseLegacyMatchRe(*doc->Find("match_re"));
  ASSERT_TRUE(ms.ok()) << ms.status().ToString();
  ASSERT_EQ(ms->size(), 1u);
  EXPECT_EQ((*ms)[0].ToString(), R"(svc=~"^(?:a|b)$")");
  EXPECT_TRUE((*ms)[0].Matches(std::string_view("b")));
  EXPECT_FALSE((*ms)[0].Matches(std::string_view("ab")));
}

TEST(FingerprintTest, MatchesPrometheusCommon) {
  // FNV-1a 64 offset basis for the empty set, as model.LabelSet{}.Fingerprint().
  EXPECT_EQ(Fingerprint({}), 14695981039346656037ULL);
  EXPECT_EQ(FingerprintString(Fingerprint({})), "cbf29ce484222325");
  // Hand-computed FNV-1a of "a\xffb\xff".
  std::uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : std::string("a\xff"
                                     "b\xff")) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  EXPECT_EQ(Fingerprint({{"a", "b"}}), h);
  EXPECT_NE(Fingerprint({{"a", "b"}}), Fingerprint({{"a", "c"}}));
  EXPECT_EQ(FingerprintString(1), "0000000000000001");
}

TEST(FingerprintTest, LabelSetStringSortsPairsLikeGo) {
  EXPECT_EQ(LabelSetString({{"a", "x"}, {"a0", "y\n\"z\""}}), R"({a0="y\n\"z\"", a="x"})");
  EXPECT_EQ(internal::GoQuote("tab\there\x01\xff"), R"("tab\there\x01\xff")");
  // Alertmanager quotes with Go's %q: U+2000 is a space, not printable.
  EXPECT_EQ(LabelSetString({{"a", "x\xe2\x80\x80y"}}), R"({a="x\u2000y"})");
}

}  // namespace
}  // namespace nimify::actions
