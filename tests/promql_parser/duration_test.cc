// model.ParseDuration / model.Duration.String and Go's number conversion.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "promql/lexer.h"
#include "promql/parser.h"

namespace nimify::promql {
namespace {

TEST(ParseDurationTest, ValidDurations) {
  const struct {
    const char* text;
    std::int64_t ms;
  } cases[] = {
      {"0", 0},
      {"0s", 0},
      {"1ms", 1},
      {"5m", 300'000},
      {"1h30m", 5'400'000},
      {"1d", 86'400'000},
      {"2w", 14 * 86'400'000LL},
      {"1y", 365 * 86'400'000LL},
      {"1y2w3d4h5m6s7ms", ((((365LL + 14 + 3) * 24 + 4) * 60 + 5) * 60 + 6) * 1000 + 7},
      {"90s", 90'000},
      {"292y", 292 * 365 * 86'400'000LL},
  };
  for (const auto& c : cases) {
    auto d = ParseDuration(c.text);
    ASSERT_TRUE(d.ok()) << c.text << ": " << d.status().message();
    EXPECT_EQ(*d, c.ms) << c.text;
  }
}

TEST(ParseDurationTest, InvalidDurations) {
  const struct {
    const char* text;
    const char* error;
  } cases[] = {
      {"", "empty duration string"},
      {"5", "not a valid duration string: \"5\""},
      {"m", "not a valid duration string: \"m\""},
      {"-5m", "not a valid duration string: \"-5m\""},
      {"5m1h", "not a valid duration string: \"5m1h\""},
      {"5m5m", "not a valid duration string: \"5m5m\""},
      {"1hs", "unknown unit \"hs\" in duration \"1hs\""},
      {"1.5h", "unknown unit \".\" in duration \"1.5h\""},
      {"5x", "unknown unit \"x\" in duration \"5x\""},
      {"293y", "duration out of range"},
      {"99999999999999999999999s", "not a valid duration string: \"99999999999999999999999s\""},
      {"292y52w", "duration out of range"},
  };
  for (const auto& c : cases) {
    auto d = ParseDuration(c.text);
    ASSERT_FALSE(d.ok()) << c.text;
    EXPECT_EQ(d.status().message(), c.error) << c.text;
  }
}

TEST(FormatDurationTest, MatchesModelDurationString) {
  EXPECT_EQ(FormatDuration(0), "0s");
  EXPECT_EQ(FormatDuration(500), "500ms");
  EXPECT_EQ(FormatDuration(1000), "1s");
  EXPECT_EQ(FormatDuration(90'000), "1m30s");
  EXPECT_EQ(FormatDuration(5'400'000), "1h30m");
  EXPECT_EQ(FormatDuration(86'400'000), "1d");
  EXPECT_EQ(FormatDuration(7 * 86'400'000LL), "1w");
  EXPECT_EQ(FormatDuration(8 * 86'400'000LL), "8d");  // weeks only when exact
  EXPECT_EQ(FormatDuration(365 * 86'400'000LL), "1y");
  EXPECT_EQ(FormatDuration(366 * 86'400'000LL), "366d");  // years only when exact
  EXPECT_EQ(FormatDuration(90 * 86'400'000LL), "90d");
  EXPECT_EQ(FormatDuration(-300'000), "-5m");
  EXPECT_EQ(FormatDuration(3'723'004), "1h2m3s4ms");
  EXPECT_EQ(FormatDuration(std::numeric_limits<std::int64_t>::min()).substr(0, 1), "-");
  for (std::int64_t ms : {1LL, 999LL, 61'001LL, 3'600'000LL, 123'456'789LL, 31'536'000'000LL}) {
    auto back = ParseDuration(FormatDuration(ms));
    ASSERT_TRUE(back.ok()) << FormatDuration(ms);
    EXPECT_EQ(*back, ms);
  }
}

TEST(ParseGoNumberTest, IntThenFloat) {
  const struct {
    const char* text;
    double value;
  } cases[] = {
      {"0", 0},     {"42", 42},      {"0x1f", 31},    {"0X1F", 31},
      {"010", 8},   {"09", 9},       {"1_000", 1000}, {"0x_1f", 31},
      {"1.5", 1.5}, {"1e3", 1000},   {"1E-2", 0.01},  {".5", 0.5},
      {"5.", 5},    {"1_0.5", 10.5}, {"1e-400", 0},   {"99999999999999999999", 1e20},
  };
  for (const auto& c : cases) {
    double v = -1;
    std::string error;
    ASSERT_TRUE(ParseGoNumber(c.text, &v, &error)) << c.text << ": " << error;
    EXPECT_EQ(v, c.value) << c.text;
  }
  double v = 0;
  std::string error;
  ASSERT_TRUE(ParseGoNumber("Inf", &v, &error));
  EXPECT_TRUE(std::isinf(v));
  ASSERT_TRUE(ParseGoNumber("nAn", &v, &error));
  EXPECT_TRUE(std::isnan(v));
  EXPECT_FALSE(ParseGoNumber("1e400", &v, &error));
  EXPECT_EQ(error, "strconv.ParseFloat: parsing \"1e400\": value out of range");
  EXPECT_FALSE(ParseGoNumber("0xffffffffffffffffff", &v, &error));
  EXPECT_EQ(error, "strconv.ParseFloat: parsing \"0xffffffffffffffffff\": invalid syntax");
  EXPECT_FALSE(ParseGoNumber("1__0", &v, &error));
  EXPECT_FALSE(ParseGoNumber("abc", &v, &error));
  EXPECT_FALSE(ParseGoNumber("", &v, &error));
}

TEST(UnquoteStringTest, GoEscapes) {
  std::string out;
  ASSERT_TRUE(UnquoteString(R"("a\tb\x41\101\u00e9\U0001F600\\\"")", &out));
  EXPECT_EQ(out, "a\tbAA\xc3\xa9\xf0\x9f\x98\x80\\\"");
  ASSERT_TRUE(UnquoteString(R"('it\'s')", &out));
  EXPECT_EQ(out, "it's");
  ASSERT_TRUE(UnquoteString("`a\\nb`", &out));
  EXPECT_EQ(out, "a\\nb");
  ASSERT_TRUE(UnquoteString(R"("\xff")", &out));
  EXPECT_EQ(out, "\xff");
  EXPECT_FALSE(UnquoteString(R"("a)", &out));
  EXPECT_FALSE(UnquoteString(R"("\'")", &out));
  EXPECT_FALSE(UnquoteString(R"("\q")", &out));
  EXPECT_FALSE(UnquoteString("\"a\nb\"", &out));
  EXPECT_FALSE(UnquoteString("x", &out));
  // Surrogate halves and runes past U+10FFFF are not valid runes in Go.
  EXPECT_FALSE(UnquoteString(R"("\uD800")", &out));
  EXPECT_FALSE(UnquoteString(R"("\uDFFF")", &out));
  EXPECT_FALSE(UnquoteString(R"("\U00110000")", &out));
  ASSERT_TRUE(UnquoteString(R"("\uD7FF\uE000")", &out));
  EXPECT_EQ(out, "\xed\x9f\xbf\xee\x80\x80");
}

}  // namespace
}  // namespace nimify::promql
