#include "differential/promtool_output.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>

#include "differential/expr_generator.h"
#include "promql/parser.h"
#include "promqltest/series_notation.h"

namespace nimify::differential {
namespace {

using promql::Labels;

// Shaped like promtool 2.42's stderr for a failing file.
constexpr char kReport[] =
    "  FAILED:\n"
    "    expr: \"x\", time: 2m,\n"
    "        exp: {__name__=\"x\", a=\"1\"} 5E+00\n"
    "        got: {__name__=\"x\", a=\"1\"} 5E+00, {__name__=\"x\", p=\"q\\\"\\\\z, {\"} NaN\n"
    "    expr: \"{__name__=~\\\"x|y\\\"} + 1\", time: 1h30m, err: vector cannot contain metrics "
    "with the same labelset\n"
    "    expr: \"time()\", time: 0s,\n"
    "        exp: nil\n"
    "        got: {} -3.6E+03\n"
    "\n";

TEST(PromtoolReportTest, ReadsFailuresErrorsAndSamples) {
  auto report = ParsePromtoolReport(kReport);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_TRUE(report->other_lines.empty());
  ASSERT_EQ(report->failures.size(), 3u);

  const auto& first = report->failures[0];
  EXPECT_EQ(first.expr, "x");
  EXPECT_EQ(first.time_ms, 120'000);
  EXPECT_FALSE(first.is_error);
  ASSERT_EQ(first.expected.size(), 1u);
  EXPECT_EQ(first.expected[0].value, 5);
  ASSERT_EQ(first.got.size(), 2u);
  EXPECT_EQ(first.got[1].labels, (Labels{{"__name__", "x"}, {"p", "q\"\\z, {"}}));
  EXPECT_TRUE(std::isnan(first.got[1].value));

  const auto& second = report->failures[1];
  EXPECT_EQ(second.expr, "{__name__=~\"x|y\"} + 1");
  EXPECT_EQ(second.time_ms, 90 * 60'000);
  EXPECT_TRUE(second.is_error);
  EXPECT_EQ(second.error, "vector cannot contain metrics with the same labelset");

  const auto& third = report->failures[2];
  EXPECT_TRUE(third.expected.empty());
  ASSERT_EQ(third.got.size(), 1u);
  EXPECT_TRUE(third.got[0].labels.empty());
  EXPECT_EQ(third.got[0].value, -3600);
}

TEST(PromtoolReportTest, KeepsUnknownLinesForTheCaller) {
  auto report = ParsePromtoolReport("  FAILED:\nyaml: unmarshal errors:\n  line 29: bad\n");
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->failures.empty());
  EXPECT_EQ(report->other_lines.size(), 2u);
}

TEST(PromtoolReportTest, RejectsTruncatedBlocks) {
  EXPECT_FALSE(ParsePromtoolReport("    expr: \"x\", time: 2m,\n        exp: nil\n").ok());
  EXPECT_FALSE(ParsePromtoolReport("    expr: \"x, time: 2m, err: e\n").ok());
  EXPECT_FALSE(ParseReportedSamples("{a=\"1\"} 5E+00x").ok());
  EXPECT_FALSE(ParseReportedSamples("{a=\"1\" 5E+00").ok());
}

TEST(PromtoolReportTest, ReadsInfinities) {
  auto samples = ParseReportedSamples("{} +Inf, {a=\"b\"} -Inf, {b=\"c\"} 1.2345678901234567E-300");
  ASSERT_TRUE(samples.ok()) << samples.status().message();
  ASSERT_EQ(samples->size(), 3u);
  EXPECT_EQ((*samples)[0].value, INFINITY);
  EXPECT_EQ((*samples)[1].value, -INFINITY);
  EXPECT_EQ((*samples)[2].value, 1.2345678901234567E-300);
}

TEST(GeneratorTest, SameSeedSameOutput) {
  auto make = [](std::uint64_t seed) {
    Rng rng(seed);
    Dataset data = GenerateDataset(&rng);
    ExprGenerator gen(&data, &rng);
    std::string out;
    for (const auto& s : data.series) out += s.metric + " " + s.values + "\n";
    for (int i = 0; i < 50; ++i) out += gen.Generate().text + "\n";
    return out;
  };
  EXPECT_EQ(make(1), make(1));
  EXPECT_NE(make(1), make(2));
}

// Everything generated must be valid input for nimify (and hence for promtool).
TEST(GeneratorTest, SeriesAndExpressionsParse) {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    Rng rng(seed);
    Dataset data = GenerateDataset(&rng);
    for (const auto& s : data.series) {
      auto line = promqltest::ParseSeriesLine(s.metric + " " + s.values);
      ASSERT_TRUE(line.ok()) << s.metric << " " << s.values << ": " << line.status().message();
      EXPECT_LE(static_cast<std::int64_t>(line->values.size() - 1) * data.interval_ms, 66 * 60'000)
          << s.metric << " " << s.values;
    }
    ExprGenerator gen(&data, &rng);
    for (int i = 0; i < 200; ++i) {
      std::string text = gen.Generate().text;
      auto expr = promql::ParseExpr(text);
      EXPECT_TRUE(expr.ok()) << text << ": " << expr.status().message();
    }
  }
}

TEST(GeneratorTest, FormatFloatRoundTrips) {
  for (double v : {0.1, 1e21, -2.5, 5e-324, 123456789012345678.0, 1.0 / 3}) {
    std::string text = FormatFloat(v);
    EXPECT_EQ(std::strtod(text.c_str(), nullptr), v) << text;
  }
  EXPECT_EQ(FormatFloat(std::nan("")), "NaN");
  EXPECT_EQ(FormatFloat(-INFINITY), "-Inf");
}

}  // namespace
}  // namespace nimify::differential
