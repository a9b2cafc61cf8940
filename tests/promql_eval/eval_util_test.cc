// The evaluator's Go-compatibility helpers: number parsing and formatting,
// quoting, natural order, hashing views and the index map.
#include "promql/eval/eval_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace nimify::promql::eval_internal {
namespace {

TEST(GoFloat, ParseAcceptsWhatGoAccepts) {
  double v = 0;
  EXPECT_TRUE(ParseGoFloat("0.25", &v));
  EXPECT_EQ(v, 0.25);
  EXPECT_TRUE(ParseGoFloat("+Inf", &v));
  EXPECT_EQ(v, std::numeric_limits<double>::infinity());
  EXPECT_TRUE(ParseGoFloat("-infinity", &v));
  EXPECT_EQ(v, -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(ParseGoFloat("NaN", &v));
  EXPECT_TRUE(std::isnan(v));
  EXPECT_TRUE(ParseGoFloat(".2", &v));
  EXPECT_EQ(v, 0.2);
  EXPECT_TRUE(ParseGoFloat("2.", &v));
  EXPECT_EQ(v, 2);
  EXPECT_TRUE(ParseGoFloat("2.0e-1", &v));
  EXPECT_EQ(v, 0.2);
  EXPECT_TRUE(ParseGoFloat("0x1p-2", &v));
  EXPECT_EQ(v, 0.25);
  EXPECT_TRUE(ParseGoFloat("1e-400", &v));  // underflow rounds to zero
  EXPECT_EQ(v, 0);
  EXPECT_TRUE(ParseGoFloat("1_000", &v));  // Go allows '_' between digits
  EXPECT_EQ(v, 1000);
  for (const char* bad : {"", "+", ".", "e5", "1e", "0x1", "+nan", " 1", "1 ", "1__000", "abc",
                          "1e400", "infx", "--1"}) {
    EXPECT_FALSE(ParseGoFloat(bad, &v)) << bad;
  }
}

TEST(GoFloat, FormatLikeStrconv) {
  EXPECT_EQ(FormatGoG(1), "1");
  EXPECT_EQ(FormatGoG(0.5), "0.5");
  EXPECT_EQ(FormatGoG(123456.7), "123456.7");
  EXPECT_EQ(FormatGoG(1e6), "1e+06");
  EXPECT_EQ(FormatGoG(1234567.5), "1.2345675e+06");
  EXPECT_EQ(FormatGoG(0.0001), "0.0001");
  EXPECT_EQ(FormatGoG(0.00001), "1e-05");
  EXPECT_EQ(FormatGoG(1e19), "1e+19");
  EXPECT_EQ(FormatGoG(-0.0), "-0");
  EXPECT_EQ(FormatGoG(std::nan("")), "NaN");
  EXPECT_EQ(FormatGoG(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatGoF(1e21), "1000000000000000000000");
  EXPECT_EQ(FormatGoF(0.1), "0.1");
  EXPECT_EQ(FormatGoF(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatGoGPrec(2, 2), "2");
  EXPECT_EQ(FormatGoGPrec(100, 2), "1e+02");
  EXPECT_EQ(FormatGoGPrec(0.123, 2), "0.12");
  EXPECT_EQ(FormatGoFixed6(1), "1.000000");
}

TEST(GoQuoteTest, EscapesLikeStrconvQuote) {
  EXPECT_EQ(GoQuote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(GoQuote("a\xc5z"), "\"a\\xc5z\"");     // invalid UTF-8
  EXPECT_EQ(GoQuote("\xc3\xa9"), "\"\xc3\xa9\"");  // valid and printable
  EXPECT_EQ(GoQuote("\n\t\x01"), "\"\\n\\t\\x01\"");
}

TEST(LabelNames, ValidityDependsOnTheVersion) {
  EXPECT_TRUE(IsValidLabelNameFor("a_1", true));
  EXPECT_FALSE(IsValidLabelNameFor("1a", true));
  EXPECT_FALSE(IsValidLabelNameFor("a-b", true));
  EXPECT_TRUE(IsValidLabelNameFor("a-b", false));
  EXPECT_FALSE(IsValidLabelNameFor("", false));
  EXPECT_FALSE(IsValidLabelNameFor("\xff", false));
}

TEST(NaturalOrder, NumbersCompareByValue) {
  EXPECT_TRUE(NaturalLess("a2", "a10"));
  EXPECT_FALSE(NaturalLess("a10", "a2"));
  EXPECT_TRUE(NaturalLess("a", "b"));
  EXPECT_TRUE(NaturalLess("a", "a1"));
  EXPECT_FALSE(NaturalLess("x", "x"));
  EXPECT_FALSE(NaturalLess("01", "1"));
  EXPECT_FALSE(NaturalLess("1", "01"));
}

TEST(LabelViews, HideAndFilter) {
  const Labels l{{"__name__", "m"}, {"__type__", "counter"}, {"a", "1"}, {"b", "2"}};
  const LabelsRef plain{&l, Hide::kNone, nullptr};
  const LabelsRef no_name{&l, Hide::kName, nullptr};
  const LabelsRef no_meta{&l, Hide::kMeta, nullptr};
  EXPECT_EQ(GetLabel(plain, "__name__"), "m");
  EXPECT_EQ(GetLabel(no_name, "__name__"), "");
  EXPECT_EQ(GetLabel(no_name, "__type__"), "counter");
  EXPECT_EQ(GetLabel(no_meta, "__type__"), "");
  EXPECT_EQ(LabelsString(no_meta), "{a=\"1\", b=\"2\"}");
  const LabelFilter keep_a{true, {"a"}};
  const LabelFilter drop_a{false, {"a"}};
  EXPECT_EQ(LabelsString(LabelsRef{&l, Hide::kMeta, &keep_a}), "{a=\"1\"}");
  EXPECT_EQ(LabelsString(LabelsRef{&l, Hide::kMeta, &drop_a}), "{b=\"2\"}");
  // Equal visible labels hash and compare equal whatever the base is.
  const Labels other{{"a", "1"}, {"b", "2"}};
  const LabelsRef other_ref{&other, Hide::kNone, nullptr};
  EXPECT_EQ(HashLabels(no_meta), HashLabels(other_ref));
  EXPECT_TRUE(LabelsEqual(no_meta, other_ref));
  EXPECT_EQ(CompareLabels(no_meta, other_ref), 0);
  EXPECT_NE(HashLabels(no_name), HashLabels(other_ref));
  EXPECT_EQ(Materialize(no_meta), other);
  const std::vector<std::string> names = {"a"};
  EXPECT_EQ(HashForLabels(plain, names), HashForLabels(other_ref, names));
  EXPECT_EQ(HashWithoutLabels(no_meta, names), HashWithoutLabels(other_ref, names));
  EXPECT_NE(HashExcluding(plain, names), HashExcluding(other_ref, names));
}

// The hash of a set without __name__ is cached in the set (Labels::SecondaryHash):
// whichever path computes it first, every view that shows the same labels
// hashes the same, and a set with __type__ is not cached under the wrong view.
TEST(LabelViews, CachedHashWithoutNameAgreesWithEveryView) {
  const Labels bare{{"a", "1"}, {"b", "2"}};
  const LabelsRef bare_ref{&bare, Hide::kNone, nullptr};
  const std::uint64_t want = HashLabels(bare_ref);
  const std::vector<std::string> none;
  for (int first = 0; first < 3; ++first) {
    // Fresh sets, so that a different call fills the cache each time.
    const Labels named{{"__name__", "m"}, {"a", "1"}, {"b", "2"}};
    const LabelsRef plain{&named, Hide::kNone, nullptr};
    const LabelsRef no_name{&named, Hide::kName, nullptr};
    const LabelsRef no_meta{&named, Hide::kMeta, nullptr};
    const std::uint64_t filled = first == 0   ? HashWithoutLabels(plain, none)
                                 : first == 1 ? HashLabels(no_name)
                                              : HashLabels(no_meta);
    EXPECT_EQ(filled, want);
    EXPECT_EQ(HashWithoutLabels(plain, none), want);
    EXPECT_EQ(HashWithoutLabels(no_name, none), want);
    EXPECT_EQ(HashLabels(no_name), want);
    EXPECT_EQ(HashLabels(no_meta), want);
    EXPECT_NE(HashLabels(plain), want);  // the name is visible here
  }
  const Labels typed{{"__name__", "m"}, {"__type__", "counter"}, {"a", "1"}, {"b", "2"}};
  const LabelsRef typed_no_name{&typed, Hide::kName, nullptr};
  const LabelsRef typed_no_meta{&typed, Hide::kMeta, nullptr};
  EXPECT_EQ(HashLabels(typed_no_meta), want);
  EXPECT_NE(HashLabels(typed_no_name), want);  // __type__ still shows
  EXPECT_EQ(HashLabels(typed_no_meta), want);
  EXPECT_EQ(HashWithoutLabels(typed_no_meta, none), want);
  EXPECT_NE(HashWithoutLabels(LabelsRef{&typed, Hide::kNone, nullptr}, none), want);
}

TEST(IndexMapTest, InsertsFindsAndGrows) {
  IndexMap m(2);
  for (std::uint32_t i = 0; i < 1000; ++i) {
    auto [v, inserted] = m.TryEmplace(i * 7919ull, i);
    EXPECT_TRUE(inserted);
    EXPECT_EQ(v, i);
  }
  EXPECT_EQ(m.size(), 1000u);
  for (std::uint32_t i = 0; i < 1000; ++i) {
    auto [v, inserted] = m.TryEmplace(i * 7919ull, 99999);
    EXPECT_FALSE(inserted);
    EXPECT_EQ(v, i);
  }
  EXPECT_TRUE(m.Insert(0xdeadbeef));
  EXPECT_FALSE(m.Insert(0xdeadbeef));
}

TEST(SafeSort, SurvivesInconsistentComparators) {
  std::vector<double> v;
  for (int i = 0; i < 100; ++i) v.push_back(i % 3 == 0 ? std::nan("") : 100 - i);
  // NaN is "less" than everything, even itself: not a strict weak order.
  SafeStableSort(&v, [](double a, double b) { return std::isnan(a) || a < b; });
  ASSERT_EQ(v.size(), 100u);
  EXPECT_TRUE(std::isnan(v.front()));
  EXPECT_FALSE(std::isnan(v.back()));
}

TEST(Civil, MatchesGoTime) {
  const CivilTime t = ToCivil(1136239445);  // 2006-01-02T22:04:05Z, a Monday
  EXPECT_EQ(t.year, 2006);
  EXPECT_EQ(t.month, 1);
  EXPECT_EQ(t.day, 2);
  EXPECT_EQ(t.hour, 22);
  EXPECT_EQ(t.minute, 4);
  EXPECT_EQ(t.second, 5);
  EXPECT_EQ(t.weekday, 1);
  EXPECT_EQ(t.yday, 2);
  const CivilTime before = ToCivil(-1);
  EXPECT_EQ(before.year, 1969);
  EXPECT_EQ(before.yday, 365);
  EXPECT_EQ(before.weekday, 3);
  EXPECT_EQ(ToCivil(951782400).yday, 60);  // 2000-02-29
}

TEST(LabelsHash, MatchesPrometheusStringLabels) {
  // xxhash64 of the empty encoding is xxhash64("") with seed 0.
  const Labels empty;
  EXPECT_EQ(PrometheusLabelsHash(LabelsRef{&empty, Hide::kNone, nullptr}), 0xef46db3751d8e999ull);
}

}  // namespace
}  // namespace nimify::promql::eval_internal
