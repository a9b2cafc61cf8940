#include "ingest/go_float.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>

namespace nimify::ingest::internal {
namespace {

double Parse(std::string_view s) {
  Result<double> r = ParsePromFloat(s);
  EXPECT_TRUE(r.ok()) << s << ": " << r.status().ToString();
  return r.ok() ? *r : -12345;
}

TEST(GoFloatTest, ParsesWhatGoParseFloatParses) {
  EXPECT_EQ(Parse("1"), 1);
  EXPECT_EQ(Parse("-2.5"), -2.5);
  EXPECT_EQ(Parse("+3"), 3);
  EXPECT_EQ(Parse("1e3"), 1000);
  EXPECT_EQ(Parse("1E-2"), 0.01);
  EXPECT_EQ(Parse("4.9351e-05"), 4.9351e-05);
  EXPECT_EQ(Parse(".5"), 0.5);
  EXPECT_EQ(Parse("5."), 5);
  EXPECT_EQ(Parse("007"), 7);
  EXPECT_EQ(Parse("7.424100000000001e-05"), 7.424100000000001e-05);
  EXPECT_EQ(Parse("1.7976931348623157e308"), std::numeric_limits<double>::max());
  EXPECT_EQ(Parse("+Inf"), std::numeric_limits<double>::infinity());
  EXPECT_EQ(Parse("-Inf"), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(Parse("inf"), std::numeric_limits<double>::infinity());
  EXPECT_EQ(Parse("-infinity"), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(Parse("INFINITY"), std::numeric_limits<double>::infinity());
  EXPECT_EQ(std::bit_cast<std::uint64_t>(Parse("NaN")), kNormalNaNBits);
  EXPECT_EQ(std::bit_cast<std::uint64_t>(Parse("nan")), kNormalNaNBits);
  // Underflow is not an error in Go: it gives zero (keeping the sign).
  EXPECT_EQ(Parse("1e-400"), 0);
  EXPECT_TRUE(std::signbit(Parse("-1e-400")));
  EXPECT_EQ(Parse("0e999999999999"), 0);
  EXPECT_EQ(Parse("4.9e-324"), 4.9e-324);  // denormal
}

TEST(GoFloatTest, RejectsTheRest) {
  for (const char* bad : {"",     "+",       "-",    ".",      "e5",    "1e",    "1e+",  "1.2.3",
                          "1 ",   " 1",      "0x10", "0x1p-3", "1_000", "1P5",   "true", "-nan",
                          "+NaN", "infinit", "infx", "1,5",    "--1",   "1e5.5", "١"}) {
    EXPECT_FALSE(ParsePromFloat(bad).ok()) << bad;
  }
  Result<double> overflow = ParsePromFloat("1e400");
  ASSERT_FALSE(overflow.ok());
  EXPECT_NE(overflow.status().message().find("out of range"), std::string_view::npos);
  EXPECT_FALSE(ParsePromFloat("-1e99999999999999999999").ok());
  Result<double> underscore = ParsePromFloat("1_2");
  EXPECT_NE(underscore.status().message().find("unsupported character"), std::string_view::npos);
}

TEST(GoFloatTest, FormatsLikeFormatOpenMetricsFloat) {
  EXPECT_EQ(FormatOpenMetricsFloat(1), "1.0");
  EXPECT_EQ(FormatOpenMetricsFloat(0), "0.0");
  EXPECT_EQ(FormatOpenMetricsFloat(-0.0), "-0.0");
  EXPECT_EQ(FormatOpenMetricsFloat(0.25), "0.25");
  EXPECT_EQ(FormatOpenMetricsFloat(-2.5), "-2.5");
  EXPECT_EQ(FormatOpenMetricsFloat(10), "10.0");
  EXPECT_EQ(FormatOpenMetricsFloat(123456), "123456.0");
  EXPECT_EQ(FormatOpenMetricsFloat(1e6), "1e+06");
  EXPECT_EQ(FormatOpenMetricsFloat(1234567), "1.234567e+06");
  EXPECT_EQ(FormatOpenMetricsFloat(0.0001), "0.0001");
  EXPECT_EQ(FormatOpenMetricsFloat(0.00001), "1e-05");
  EXPECT_EQ(FormatOpenMetricsFloat(1.5e-7), "1.5e-07");
  EXPECT_EQ(FormatOpenMetricsFloat(1e100), "1e+100");
  EXPECT_EQ(FormatOpenMetricsFloat(0.1), "0.1");
  EXPECT_EQ(FormatOpenMetricsFloat(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatOpenMetricsFloat(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatOpenMetricsFloat(std::nan("")), "NaN");
}

}  // namespace
}  // namespace nimify::ingest::internal
