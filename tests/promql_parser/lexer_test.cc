// Lexer tests: token kinds, modes, and the descriptions used in messages.
#include "promql/lexer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace nimify::promql {
namespace {

std::vector<Token> LexAll(std::string_view input) {
  Lexer lexer(input);
  std::vector<Token> out;
  for (int i = 0; i < 10000; ++i) {
    Token t = lexer.Next();
    const bool end = t.type == TokenType::kEof || t.type == TokenType::kError;
    out.push_back(std::move(t));
    if (end) break;
  }
  return out;
}

std::vector<TokenType> Types(std::string_view input) {
  std::vector<TokenType> types;
  for (const auto& t : LexAll(input)) types.push_back(t.type);
  return types;
}

using T = TokenType;

TEST(LexerTest, OperatorsAndPunctuation) {
  EXPECT_EQ(Types("+ - * / % ^ == != <= < >= > = ( ) , @"),
            (std::vector<T>{T::kAdd, T::kSub, T::kMul, T::kDiv, T::kMod, T::kPow, T::kEqlc, T::kNeq,
                            T::kLte, T::kLss, T::kGte, T::kGtr, T::kEql, T::kLeftParen,
                            T::kRightParen, T::kComma, T::kAt, T::kEof}));
  EXPECT_EQ(Types("a </ b >/ c"), (std::vector<T>{T::kIdentifier, T::kTrimUpper, T::kIdentifier,
                                                  T::kTrimLower, T::kIdentifier, T::kEof}));
}

TEST(LexerTest, KeywordsAreCaseInsensitive) {
  EXPECT_EQ(
      Types("AND Or unless ATAN2 by WITHOUT on ignoring group_left GROUP_RIGHT bool offset"),
      (std::vector<T>{T::kLand, T::kLor, T::kLunless, T::kAtan2, T::kBy, T::kWithout, T::kOn,
                      T::kIgnoring, T::kGroupLeft, T::kGroupRight, T::kBool, T::kOffset, T::kEof}));
  EXPECT_EQ(Types("sum AVG count min max group stddev stdvar topk bottomk count_values quantile "
                  "limitk limit_ratio"),
            (std::vector<T>{T::kSum, T::kAvg, T::kCount, T::kMin, T::kMax, T::kGroup, T::kStddev,
                            T::kStdvar, T::kTopk, T::kBottomk, T::kCountValues, T::kQuantile,
                            T::kLimitk, T::kLimitRatio, T::kEof}));
  EXPECT_EQ(Types("start end"), (std::vector<T>{T::kStart, T::kEnd, T::kEof}));
  // fill* are keywords only before '('.
  EXPECT_EQ(Types("fill fill("),
            (std::vector<T>{T::kIdentifier, T::kFill, T::kLeftParen, T::kError}));
}

TEST(LexerTest, IdentifiersNumbersDurations) {
  const auto tokens = LexAll("foo foo:bar _x1 1 0x1F 1e-3 .5 1_000 Inf nan 5m 1h30m 10ms 1y");
  const std::vector<T> want = {T::kIdentifier, T::kMetricIdentifier, T::kIdentifier, T::kNumber,
                               T::kNumber,     T::kNumber,           T::kNumber,     T::kNumber,
                               T::kNumber,     T::kNumber,           T::kDuration,   T::kDuration,
                               T::kDuration,   T::kDuration,         T::kEof};
  ASSERT_EQ(tokens.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ(tokens[i].type, want[i]) << i;
  EXPECT_EQ(tokens[1].text, "foo:bar");
  EXPECT_EQ(tokens[4].text, "0x1F");
  EXPECT_EQ(tokens[11].text, "1h30m");
  EXPECT_EQ(tokens[11].pos, 48);
}

TEST(LexerTest, InsideBracesKeywordsAreIdentifiers) {
  const auto tokens = LexAll(R"({sum="a", by!~'b', on=~`c`, x!="d"})");
  const std::vector<T> want = {
      T::kLeftBrace, T::kIdentifier, T::kEql,   T::kString,     T::kComma,      T::kIdentifier,
      T::kNeqRegex,  T::kString,     T::kComma, T::kIdentifier, T::kEqlRegex,   T::kString,
      T::kComma,     T::kIdentifier, T::kNeq,   T::kString,     T::kRightBrace, T::kEof};
  ASSERT_EQ(tokens.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ(tokens[i].type, want[i]) << i;
  EXPECT_EQ(tokens[3].text, "\"a\"");
}

TEST(LexerTest, BracketsAndSubqueries) {
  EXPECT_EQ(Types("x[5m:1m]"),
            (std::vector<T>{T::kIdentifier, T::kLeftBracket, T::kDuration, T::kColon, T::kDuration,
                            T::kRightBracket, T::kEof}));
  EXPECT_EQ(Types("x[ 300 : ]"), (std::vector<T>{T::kIdentifier, T::kLeftBracket, T::kNumber,
                                                 T::kColon, T::kRightBracket, T::kEof}));
  EXPECT_EQ(Types("x[step()]"),
            (std::vector<T>{T::kIdentifier, T::kLeftBracket, T::kStep, T::kLeftParen,
                            T::kRightParen, T::kRightBracket, T::kEof}));
}

TEST(LexerTest, CommentsRunToEndOfLine) {
  const auto tokens = LexAll("a # b c\n+ d");
  ASSERT_EQ(tokens.size(), 5u);
  EXPECT_EQ(tokens[1].type, T::kComment);
  EXPECT_EQ(tokens[1].text, "# b c");
  EXPECT_EQ(tokens[2].type, T::kAdd);
}

TEST(LexerTest, ErrorsStopTheStream) {
  Lexer lexer("a $ b");
  EXPECT_EQ(lexer.Next().type, T::kIdentifier);
  const Token bad = lexer.Next();
  EXPECT_EQ(bad.type, T::kError);
  EXPECT_EQ(bad.error, "unexpected character: '$'");
  EXPECT_EQ(bad.pos, 2);
  EXPECT_EQ(lexer.Next().type, T::kEof);
  EXPECT_EQ(lexer.Next().type, T::kEof);
}

TEST(LexerTest, Describe) {
  const auto tokens = LexAll(R"(foo a:b "s" 12 5m ( , = <= and sum by start ))");
  const std::vector<std::string> want = {"identifier \"foo\"",
                                         "metric identifier \"a:b\"",
                                         "string \"\\\"s\\\"\"",
                                         "number \"12\"",
                                         "duration \"5m\"",
                                         "\"(\"",
                                         "\",\"",
                                         "\"=\"",
                                         "<op:<=>",
                                         "<op:and>",
                                         "<aggr:sum>",
                                         "<by>",
                                         "\"start\"",
                                         "\")\"",
                                         "end of input"};
  ASSERT_EQ(tokens.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ(tokens[i].Describe(), want[i]) << i;
  // Long literals are cut after ten characters; keyword text keeps its case.
  EXPECT_EQ(LexAll("123456789012")[0].Describe(), "number \"1234567890\"...");
  EXPECT_EQ(LexAll("BY")[0].Describe(), "<BY>");
}

TEST(GoQuoteTest, MatchesStrconvQuote) {
  EXPECT_EQ(GoQuote("abc"), "\"abc\"");
  EXPECT_EQ(GoQuote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(GoQuote("\a\b\f\n\r\t\v"), "\"\\a\\b\\f\\n\\r\\t\\v\"");
  EXPECT_EQ(GoQuote(std::string("\x00\x1f\x7f", 3)), "\"\\x00\\x1f\\x7f\"");
  EXPECT_EQ(GoQuote("\xc3\xa9\xf0\x9f\x98\x80"), "\"\xc3\xa9\xf0\x9f\x98\x80\"");
  EXPECT_EQ(GoQuote("\xff\xfe"), "\"\\xff\\xfe\"");
  EXPECT_EQ(GoQuote("\xc2\xa0"), "\"\\u00a0\"");  // no-break space is not printable
  EXPECT_EQ(GoQuote("\xe2\x80\x8b"), "\"\\u200b\"");
  EXPECT_EQ(GoQuote("\xf3\xa0\x80\x81"), "\"\\U000e0001\"");
  // U+FFFD is escaped in strings so that printed queries lex again.
  EXPECT_EQ(GoQuote("\xef\xbf\xbd"), "\"\\ufffd\"");
  EXPECT_EQ(GoQuoteRune('\''), "'\\''");
  EXPECT_EQ(GoQuoteRune('"'), "'\"'");
  EXPECT_EQ(GoQuoteRune(-1), "'\xef\xbf\xbd'");
  EXPECT_EQ(GoQuoteRune('\n'), "'\\n'");
}

}  // namespace
}  // namespace nimify::promql
