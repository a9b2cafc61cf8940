#include "promql/labels.h"

#include <gtest/gtest.h>

namespace nimify::promql {
namespace {

TEST(LabelsTest, SortedDedupedAndEmptyValuesDropped) {
  Labels l{{"job", "api"}, {"__name__", "up"}, {"instance", ""}, {"job", "db"}};
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l.items()[0].name, "__name__");
  EXPECT_EQ(l.items()[1].name, "job");
  EXPECT_EQ(l.Get("job"), "db");  // the later duplicate wins
  EXPECT_FALSE(l.Has("instance"));
}

TEST(LabelsTest, SetAndDelKeepOrder) {
  Labels l{{"b", "2"}};
  l.Set("a", "1");
  l.Set("c", "3");
  l.Set("b", "two");
  EXPECT_EQ(l.ToString(), "{a=\"1\", b=\"two\", c=\"3\"}");
  l.Del("b");
  l.Set("c", "");
  EXPECT_EQ(l.ToString(), "{a=\"1\"}");
}

TEST(LabelsTest, ToStringPrintsMetricNameOutsideBraces) {
  EXPECT_EQ((Labels{{"__name__", "up"}}).ToString(), "up");
  EXPECT_EQ((Labels{{"__name__", "up"}, {"job", "a"}}).ToString(), "up{job=\"a\"}");
  EXPECT_EQ(Labels().ToString(), "{}");
  // A name that is not a valid metric name stays inside the braces.
  EXPECT_EQ((Labels{{"__name__", "a.b"}}).ToString(), "{__name__=\"a.b\"}");
}

TEST(LabelsTest, QuoteEscapesLikeGo) {
  EXPECT_EQ(QuoteLabelValue("a\"b\\c\nd\t"), "\"a\\\"b\\\\c\\nd\\t\"");
  EXPECT_EQ(QuoteLabelValue(std::string("\x01", 1)), "\"\\x01\"");
}

TEST(LabelsTest, CompareIsLexicographicByNameThenValue) {
  Labels a{{"a", "1"}};
  Labels b{{"a", "2"}};
  Labels c{{"a", "1"}, {"b", "1"}};
  Labels d{{"b", "0"}};
  EXPECT_LT(Labels::Compare(a, b), 0);
  EXPECT_LT(Labels::Compare(a, c), 0);  // prefix sorts first
  EXPECT_LT(Labels::Compare(c, d), 0);  // name "a" < "b"
  EXPECT_EQ(Labels::Compare(a, Labels{{"a", "1"}}), 0);
}

TEST(LabelsTest, HashDistinguishesBoundaries) {
  Labels a{{"ab", "c"}};
  Labels b{{"a", "bc"}};
  EXPECT_NE(a.Hash(), b.Hash());
  EXPECT_EQ(a.Hash(), (Labels{{"ab", "c"}}).Hash());
}

TEST(LabelsTest, KeepOnlyAndDrop) {
  Labels l{{"__name__", "x"}, {"a", "1"}, {"b", "2"}, {"c", "3"}};
  EXPECT_EQ(l.KeepOnly({"a", "c", "zz"}).ToString(), "{a=\"1\", c=\"3\"}");
  EXPECT_EQ(l.Drop({"a"}, true).ToString(), "{b=\"2\", c=\"3\"}");
  EXPECT_EQ(l.Drop({"a"}, false).ToString(), "x{b=\"2\", c=\"3\"}");
}

TEST(LabelsTest, BuilderOverwritesAndDeletes) {
  LabelsBuilder b(Labels{{"a", "1"}, {"b", "2"}});
  b.Set("a", "9");
  b.Del("b");
  b.Set("c", "3");
  EXPECT_EQ(b.Build().ToString(), "{a=\"9\", c=\"3\"}");
}

TEST(LabelsTest, CopiesShareUntilOneIsModified) {
  const Labels original{{"a", "1"}, {"b", "2"}};
  Labels copy = original;
  EXPECT_EQ(&copy.items(), &original.items());  // shared, not copied
  const std::uint64_t hash = original.Hash();
  copy.Set("c", "3");
  EXPECT_EQ(original.ToString(), "{a=\"1\", b=\"2\"}");
  EXPECT_EQ(copy.ToString(), "{a=\"1\", b=\"2\", c=\"3\"}");
  EXPECT_EQ(original.Hash(), hash);
  // The cached hash follows the modification.
  EXPECT_EQ(copy.Hash(), (Labels{{"a", "1"}, {"b", "2"}, {"c", "3"}}).Hash());
  EXPECT_NE(copy, original);
  copy.Del("c");
  EXPECT_EQ(copy, original);
  EXPECT_EQ(copy.Hash(), hash);
}

TEST(LabelsTest, SettingTheSameValueOrDeletingAnAbsentNameKeepsSharing) {
  const Labels original{{"a", "1"}};
  Labels copy = original;
  copy.Set("a", "1");
  copy.Del("zz");
  EXPECT_EQ(&copy.items(), &original.items());
}

TEST(LabelsTest, EqualityAndOrderWithCachedHashes) {
  Labels a{{"a", "1"}, {"b", "2"}};
  Labels b = Labels::FromSorted({{"a", "1"}, {"b", "2"}});
  Labels c{{"a", "1"}, {"b", "3"}};
  (void)a.Hash();
  (void)c.Hash();
  EXPECT_EQ(a, b);  // one hash cached, the other not
  EXPECT_NE(a, c);  // both cached, different
  EXPECT_LT(a, c);
  EXPECT_EQ(Labels::Compare(a, b), 0);
  EXPECT_EQ(Labels(), Labels::FromSorted({}));
  Labels emptied{{"a", "1"}};
  emptied.Del("a");
  EXPECT_EQ(emptied, Labels());
  EXPECT_EQ(emptied.Hash(), Labels().Hash());
}

TEST(LabelsTest, FromUnsortedOnSortedInputKeepsItAsIs) {
  EXPECT_EQ(Labels::FromUnsorted({{"a", "1"}, {"b", "2"}}).ToString(), "{a=\"1\", b=\"2\"}");
  EXPECT_EQ(Labels::FromUnsorted({{"b", "2"}, {"a", "1"}, {"b", "3"}, {"c", ""}}).ToString(),
            "{a=\"1\", b=\"3\"}");
}

TEST(LabelsTest, NameValidation) {
  EXPECT_TRUE(IsValidLabelName("_a1"));
  EXPECT_FALSE(IsValidLabelName("1a"));
  EXPECT_FALSE(IsValidLabelName("a:b"));
  EXPECT_FALSE(IsValidLabelName(""));
  EXPECT_TRUE(IsValidMetricName("a:b_c"));
  EXPECT_FALSE(IsValidMetricName("a-b"));
}

}  // namespace
}  // namespace nimify::promql
