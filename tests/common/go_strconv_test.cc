#include "common/go_strconv.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

namespace nimify::internal {
namespace {

std::optional<std::int64_t> Parse(std::string_view s) {
  std::int64_t value = 0;
  if (!ParseGoInt(s, &value)) return std::nullopt;
  return value;
}

TEST(ParseGoIntTest, AcceptsEveryBaseAndSign) {
  EXPECT_EQ(Parse("0"), 0);
  EXPECT_EQ(Parse("42"), 42);
  EXPECT_EQ(Parse("+42"), 42);
  EXPECT_EQ(Parse("-42"), -42);
  EXPECT_EQ(Parse("0x1F"), 31);
  EXPECT_EQ(Parse("0X1f"), 31);
  EXPECT_EQ(Parse("0b101"), 5);
  EXPECT_EQ(Parse("0o17"), 15);
  EXPECT_EQ(Parse("017"), 15);  // a leading 0 means octal
  EXPECT_EQ(Parse("-0x10"), -16);
  EXPECT_EQ(Parse("1_000"), 1000);
  EXPECT_EQ(Parse("0x_1F"), 31);  // '_' may follow a base prefix
}

TEST(ParseGoIntTest, RejectsBadSyntax) {
  for (const std::string_view bad : {"", "+", "-", "1.5", "1e3", "08", "0b2", "0x", "0xg", "abc",
                                     " 1", "1 ", "1__0", "_1", "1_", "0_x1", "Inf", "NaN", "--1"}) {
    EXPECT_EQ(Parse(bad), std::nullopt) << bad;
  }
}

TEST(ParseGoIntTest, Int64RangeEdges) {
  EXPECT_EQ(Parse("9223372036854775807"), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(Parse("-9223372036854775808"), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(Parse("0x7fffffffffffffff"), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(Parse("9223372036854775808"), std::nullopt);
  EXPECT_EQ(Parse("-9223372036854775809"), std::nullopt);
  EXPECT_EQ(Parse("18446744073709551616"), std::nullopt);  // overflows uint64 too
  EXPECT_EQ(Parse("99999999999999999999999"), std::nullopt);
}

TEST(GoUnderscoresOkTest, FollowsGoRules) {
  EXPECT_TRUE(GoUnderscoresOk("1_000"));
  EXPECT_TRUE(GoUnderscoresOk("-1_000"));
  EXPECT_TRUE(GoUnderscoresOk("0x_ff"));
  EXPECT_TRUE(GoUnderscoresOk("1_0.5_5"));
  EXPECT_TRUE(GoUnderscoresOk("123"));
  EXPECT_FALSE(GoUnderscoresOk("_1"));
  EXPECT_FALSE(GoUnderscoresOk("1_"));
  EXPECT_FALSE(GoUnderscoresOk("1__0"));
  EXPECT_FALSE(GoUnderscoresOk("1_.5"));
  EXPECT_FALSE(GoUnderscoresOk("1._5"));
}

}  // namespace
}  // namespace nimify::internal

namespace nimify::internal {
namespace {

TEST(GoSimpleEscapeTest, OneLetterEscapes) {
  EXPECT_EQ(GoSimpleEscape('a'), '\a');
  EXPECT_EQ(GoSimpleEscape('b'), '\b');
  EXPECT_EQ(GoSimpleEscape('f'), '\f');
  EXPECT_EQ(GoSimpleEscape('n'), '\n');
  EXPECT_EQ(GoSimpleEscape('r'), '\r');
  EXPECT_EQ(GoSimpleEscape('t'), '\t');
  EXPECT_EQ(GoSimpleEscape('v'), '\v');
  EXPECT_EQ(GoSimpleEscape('\\'), '\\');
}

TEST(GoSimpleEscapeTest, OthersAreLeftToTheCaller) {
  for (char c : {'"', '\'', 'x', 'u', 'U', '0', '7', 'q', 'N', '\0'}) {
    EXPECT_EQ(GoSimpleEscape(c), -1) << c;
  }
}

}  // namespace
}  // namespace nimify::internal
