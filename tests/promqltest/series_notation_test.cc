#include "promqltest/series_notation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "promql/value.h"

namespace nimify::promqltest {
namespace {

SeriesValues Values(std::string_view text) {
  auto v = ParseSeriesValues(text);
  EXPECT_TRUE(v.ok()) << text << ": " << v.status().ToString();
  return v.ok() ? *v : SeriesValues{};
}

std::string ErrorOf(std::string_view text) {
  auto v = ParseSeriesValues(text);
  EXPECT_FALSE(v.ok()) << text << " parsed but should not";
  return v.ok() ? "" : std::string(v.status().message());
}

TEST(SeriesValues, IncrementGivesNPlusOneValues) {
  EXPECT_EQ(Values("1+2x3"), (SeriesValues{1.0, 3.0, 5.0, 7.0}));
  EXPECT_EQ(Values("10-3x2"), (SeriesValues{10.0, 7.0, 4.0}));
  EXPECT_EQ(Values("-1-2x2"), (SeriesValues{-1.0, -3.0, -5.0}));
  EXPECT_EQ(Values("0+10x100").size(), 101u);
  EXPECT_EQ(Values("0+10x100").back(), 1000.0);
}

TEST(SeriesValues, RepeatAndBlanks) {
  EXPECT_EQ(Values("7x3"), (SeriesValues{7.0, 7.0, 7.0, 7.0}));
  EXPECT_EQ(Values("1x0"), (SeriesValues{1.0}));
  EXPECT_EQ(Values("_"), (SeriesValues{std::nullopt}));
  // `_xN` is N blanks, not N+1.
  EXPECT_EQ(Values("_x3"), (SeriesValues{std::nullopt, std::nullopt, std::nullopt}));
  EXPECT_EQ(Values("1 _x2 2"), (SeriesValues{1.0, std::nullopt, std::nullopt, 2.0}));
  EXPECT_TRUE(Values("_x0").empty());
  EXPECT_TRUE(Values("").empty());
  EXPECT_EQ(Values("  1\t\t2  "), (SeriesValues{1.0, 2.0}));
}

TEST(SeriesValues, HexIsNotAcceptedSoZeroXFiveIsSixZeros) {
  EXPECT_EQ(Values("0x5"), SeriesValues(6, 0.0));
  EXPECT_NE(ErrorOf("0x1f").find("invalid repetition"), std::string::npos);
}

TEST(SeriesValues, NumberForms) {
  auto v = Values(".5 1e3 -2.5 +4 1E-2 Inf -inf +INF 010 1_000");
  ASSERT_EQ(v.size(), 10u);
  EXPECT_EQ(*v[0], 0.5);
  EXPECT_EQ(*v[1], 1000.0);
  EXPECT_EQ(*v[2], -2.5);
  EXPECT_EQ(*v[3], 4.0);
  EXPECT_EQ(*v[4], 0.01);
  EXPECT_EQ(*v[5], std::numeric_limits<double>::infinity());
  EXPECT_EQ(*v[6], -std::numeric_limits<double>::infinity());
  EXPECT_EQ(*v[7], std::numeric_limits<double>::infinity());
  EXPECT_EQ(*v[8], 8.0);  // Go's ParseInt(s, 0, 64): a leading 0 is octal
  EXPECT_EQ(*v[9], 1000.0);
  auto nan = Values("NaN nan -NaN Inf+0x1");
  ASSERT_EQ(nan.size(), 5u);
  EXPECT_TRUE(std::isnan(*nan[0]));
  EXPECT_TRUE(std::isnan(*nan[1]));
  EXPECT_TRUE(std::isnan(*nan[2]));
  EXPECT_FALSE(promql::IsStaleNaN(*nan[0]));
  EXPECT_EQ(*nan[4], std::numeric_limits<double>::infinity());
}

TEST(SeriesValues, Stale) {
  auto v = Values("1 stale 2");
  ASSERT_EQ(v.size(), 3u);
  EXPECT_TRUE(promql::IsStaleNaN(*v[1]));
  EXPECT_FALSE(promql::IsStaleNaN(*v[2]));
}

TEST(SeriesValues, AccumulatesByRepeatedAddition) {
  // Prometheus adds the increment step by step; a + i*b would round differently.
  auto v = Values("0.1+0.1x9");
  ASSERT_EQ(v.size(), 10u);
  double k = 0.1;
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(*v[static_cast<std::size_t>(i)], k) << i;
    k += 0.1;
  }
  EXPECT_NE(*v[9], 0.1 + 9 * 0.1);
}

TEST(SeriesValues, Errors) {
  EXPECT_NE(ErrorOf("5m").find("bad number syntax"), std::string::npos);
  EXPECT_NE(ErrorOf("abc").find("expected number or \"stale\""), std::string::npos);
  ErrorOf("1+-2x3");
  ErrorOf("1x");
  ErrorOf("1+2");
  ErrorOf("stalex2");
  ErrorOf("Stale");
  ErrorOf("Infx2");
  ErrorOf("1 x3");
  ErrorOf("1e");
  ErrorOf("1.2.3");
  ErrorOf("1e400");
  ErrorOf("_3");
  ErrorOf("1x3x4");
  ErrorOf("1x99999999999999");
  EXPECT_NE(ErrorOf("{{schema:0 sum:1}}").find("native histogram"), std::string::npos);
  // Positions are 1-based columns of the text.
  EXPECT_EQ(ErrorOf("1 2 bogus").substr(0, 4), "1:5:");
}

TEST(SeriesLine, MetricAndValues) {
  auto line = ParseSeriesLine(R"(http_requests{job="api", code="500"} 1+1x2 _ stale)");
  ASSERT_TRUE(line.ok()) << line.status().ToString();
  EXPECT_EQ(line->metric.ToString(), R"(http_requests{code="500", job="api"})");
  ASSERT_EQ(line->values.size(), 5u);
  EXPECT_EQ(*line->values[2], 3.0);
  EXPECT_FALSE(line->values[3].has_value());
  EXPECT_TRUE(promql::IsStaleNaN(*line->values[4]));
}

TEST(SeriesLine, LabelForms) {
  auto empty = ParseSeriesLine("{} 5");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->metric.empty());
  EXPECT_EQ(empty->values, (SeriesValues{5.0}));

  auto braces_name = ParseSeriesLine(R"({__name__="foo", a='b',} 1)");
  ASSERT_TRUE(braces_name.ok()) << braces_name.status().ToString();
  EXPECT_EQ(braces_name->metric.ToString(), R"(foo{a="b"})");

  auto outside_wins = ParseSeriesLine(R"(foo{__name__="bar"} 1)");
  ASSERT_TRUE(outside_wins.ok());
  EXPECT_EQ(outside_wins->metric.MetricName(), "foo");

  auto escapes = ParseSeriesLine(R"(m{a="x\"y\n\u00e9", b=`raw\n`} 1)");
  ASSERT_TRUE(escapes.ok()) << escapes.status().ToString();
  EXPECT_EQ(escapes->metric.Get("a"), "x\"y\n\xc3\xa9");
  EXPECT_EQ(escapes->metric.Get("b"), "raw\\n");

  auto colon = ParseSeriesLine("job:rate5m 1");
  ASSERT_TRUE(colon.ok());
  EXPECT_EQ(colon->metric.MetricName(), "job:rate5m");

  auto quoted_name = ParseSeriesLine(R"({"my.metric", "a.b"="c"} 1)");
  ASSERT_TRUE(quoted_name.ok()) << quoted_name.status().ToString();
  EXPECT_EQ(quoted_name->metric.MetricName(), "my.metric");
  EXPECT_EQ(quoted_name->metric.Get("a.b"), "c");

  auto no_values = ParseSeriesLine("foo");
  ASSERT_TRUE(no_values.ok());
  EXPECT_TRUE(no_values->values.empty());
}

TEST(SeriesLine, ErrorsCarryPositions) {
  auto bad_value = ParseSeriesLine(R"(foo{a="b"} 1 bogus)");
  ASSERT_FALSE(bad_value.ok());
  EXPECT_EQ(bad_value.status().message().substr(0, 5), "1:14:");

  auto at = ParseSeriesLineAt(R"(foo{a="b"} 1 bogus)", "data.test", 7);
  ASSERT_FALSE(at.ok());
  EXPECT_EQ(at.status().message().substr(0, 17), "data.test:7:14: p");

  EXPECT_FALSE(ParseSeriesLine(R"(foo {a="b"} 1)").ok());
  EXPECT_FALSE(ParseSeriesLine(R"(foo{a=~"b"} 1)").ok());
  EXPECT_FALSE(ParseSeriesLine(R"(foo{a!="b"} 1)").ok());
  EXPECT_FALSE(ParseSeriesLine(R"(foo{a="b" 1)").ok());
  EXPECT_FALSE(ParseSeriesLine(R"(foo{a="b} 1)").ok());
  EXPECT_FALSE(ParseSeriesLine(R"(foo{a} 1)").ok());
  EXPECT_FALSE(ParseSeriesLine(R"(foo{a="\q"} 1)").ok());
  EXPECT_FALSE(ParseSeriesLine("5 5").ok());
  EXPECT_FALSE(ParseSeriesLine("").ok());
}

TEST(SeriesMetric, ReportsWhereTheValuesStart) {
  std::size_t rest = 0;
  auto labels = ParseSeriesMetric(R"(h{le="1"} {{schema:0}})", &rest);
  ASSERT_TRUE(labels.ok());
  EXPECT_EQ(labels->Get("le"), "1");
  EXPECT_EQ(rest, 9u);
}

TEST(GoNumber, IntThenFloat) {
  EXPECT_EQ(*ParseGoNumber("0x1f"), 31.0);
  EXPECT_EQ(*ParseGoNumber("0X1F"), 31.0);
  EXPECT_EQ(*ParseGoNumber("0b101"), 5.0);
  EXPECT_EQ(*ParseGoNumber("0o17"), 15.0);
  EXPECT_EQ(*ParseGoNumber("017"), 15.0);
  EXPECT_EQ(*ParseGoNumber("-5"), -5.0);
  EXPECT_EQ(*ParseGoNumber("+5"), 5.0);
  EXPECT_EQ(*ParseGoNumber("1e3"), 1000.0);
  EXPECT_EQ(*ParseGoNumber("-Inf"), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(*ParseGoNumber("0x1p-2"), 0.25);
  EXPECT_EQ(*ParseGoNumber("9223372036854775808"), 9223372036854775808.0);
  EXPECT_TRUE(std::isnan(*ParseGoNumber("NaN")));
  EXPECT_FALSE(ParseGoNumber("abc").ok());
  EXPECT_FALSE(ParseGoNumber("1_").ok());
  EXPECT_FALSE(ParseGoNumber("").ok());
  EXPECT_FALSE(ParseGoNumber(" 1").ok());
  EXPECT_FALSE(ParseGoNumber(R"({} 1)").ok());
}

}  // namespace
}  // namespace nimify::promqltest

namespace nimify::promqltest {
namespace {

// Garbage in, an error out: never a crash or a hang.
TEST(SeriesLine, SurvivesGarbage) {
  const char* pieces[] = {"m",  "{",  "}",   "\"",  "'",
                          "`",  "a",  "=",   ",",   " ",
                          "1",  "+",  "-",   "x",   "_",
                          ".",  "e",  "Inf", "NaN", "stale",
                          "\\", "{{", "}}",  "0x",  "99999999999999999999",
                          "\t", "~",  "!",   "@st"};
  std::uint64_t state = 42;
  auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<std::size_t>(state >> 33);
  };
  for (int i = 0; i < 20000; ++i) {
    std::string line;
    const std::size_t n = next() % 12;
    for (std::size_t k = 0; k < n; ++k) line += pieces[next() % std::size(pieces)];
    auto parsed = ParseSeriesLine(line);
    if (!parsed.ok()) {
      EXPECT_FALSE(parsed.status().message().empty()) << line;
    }
    (void)ParseGoNumber(line);
    (void)UnquoteGoString(line);
  }
}

}  // namespace
}  // namespace nimify::promqltest
