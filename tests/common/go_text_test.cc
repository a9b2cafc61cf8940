// The shared Go text helpers (common/go_strconv.h, common/utf8.h) against
// what Go's strconv and unicode packages return for the same input; the
// expectations are Go's documented and observed results.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "common/go_strconv.h"
#include "common/utf8.h"

namespace nimify::internal {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// ParseGoFloat's value, or a NaN with payload 1 to mark an error in EXPECT_EQs.
double Parsed(std::string_view s) {
  double v = 0;
  return ParseGoFloat(s, &v) == GoNumError::kNone ? v
                                                  : std::bit_cast<double>(0x7ff0000000000001ull);
}
GoNumError ErrorOf(std::string_view s) {
  double v = 0;
  return ParseGoFloat(s, &v);
}

TEST(IsGoPrintTest, AsciiAndLatin1) {
  EXPECT_TRUE(IsGoPrint(' '));
  EXPECT_TRUE(IsGoPrint('~'));
  EXPECT_FALSE(IsGoPrint('\t'));
  EXPECT_FALSE(IsGoPrint(0x7F));
  EXPECT_FALSE(IsGoPrint(0x85));  // NEL, a C1 control
  EXPECT_FALSE(IsGoPrint(0xA0));  // no-break space: Zs, graphic but not printable
  EXPECT_TRUE(IsGoPrint(0xA1));
  EXPECT_FALSE(IsGoPrint(0xAD));  // soft hyphen: Cf
  EXPECT_TRUE(IsGoPrint(0xE9));
  EXPECT_TRUE(IsGoPrint(0xFF));
  EXPECT_FALSE(IsGoPrint(-1));
}

TEST(IsGoPrintTest, SpacesAndFormatCharactersAreNotPrintable) {
  // unicode.IsPrint accepts U+0020 only among the spaces.
  for (std::int32_t r : {0x1680, 0x2000, 0x2001, 0x200A, 0x202F, 0x205F, 0x3000}) {
    EXPECT_FALSE(IsGoPrint(r)) << std::hex << r;
  }
  for (std::int32_t r : {0x200B, 0x200E, 0x2028, 0x2029, 0x2060, 0xFEFF, 0x180E, 0xE0001}) {
    EXPECT_FALSE(IsGoPrint(r)) << std::hex << r;
  }
}

TEST(IsGoPrintTest, OtherCategories) {
  EXPECT_TRUE(IsGoPrint(0x0300));   // combining grave accent: Mn
  EXPECT_TRUE(IsGoPrint(0x0660));   // Arabic-Indic digit zero: Nd
  EXPECT_TRUE(IsGoPrint(0x2010));   // hyphen: Pd
  EXPECT_TRUE(IsGoPrint(0x20AC));   // euro sign: Sc
  EXPECT_TRUE(IsGoPrint(0x4E00));   // CJK ideograph (a range entry in UnicodeData.txt)
  EXPECT_TRUE(IsGoPrint(0xFFFD));   // replacement character: So
  EXPECT_TRUE(IsGoPrint(0x1F600));  // emoji
  EXPECT_TRUE(IsGoPrint(0x20000));  // CJK extension B
  EXPECT_TRUE(IsGoPrint(0xE0100));  // variation selector 17: Mn
  EXPECT_FALSE(IsGoPrint(0x0378));  // unassigned
  EXPECT_FALSE(IsGoPrint(0xD800));  // surrogate
  EXPECT_FALSE(IsGoPrint(0xE000));  // private use
  EXPECT_FALSE(IsGoPrint(0xFFFE));  // noncharacter
  EXPECT_FALSE(IsGoPrint(0x10FFFF));
  EXPECT_FALSE(IsGoPrint(0x110000));
}

TEST(IsGoPrintTest, UsesUnicode15LikeGo121) {
  EXPECT_TRUE(IsGoPrint(0x11F00));  // Kawi, new in Unicode 15.0
  EXPECT_TRUE(IsGoPrint(0x31350));  // CJK extension H, new in Unicode 15.0
}

TEST(IsValidUtf8Test, MatchesUtf8ValidString) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii, longer than eight bytes"));
  EXPECT_TRUE(IsValidUtf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_TRUE(IsValidUtf8("\xEF\xBF\xBD"));  // an encoded U+FFFD is valid
  EXPECT_FALSE(IsValidUtf8("\xFF"));
  EXPECT_FALSE(IsValidUtf8("abcdefgh\x80"));           // stray continuation after 8 ASCII bytes
  EXPECT_FALSE(IsValidUtf8("\xC3"));                   // truncated
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));               // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));           // surrogate U+D800
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));       // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("ok so far \xE2\x82 no"));  // truncated in the middle
}

TEST(GoQuoteTest, MatchesStrconvQuote) {
  EXPECT_EQ(GoQuote(""), "\"\"");
  EXPECT_EQ(GoQuote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(GoQuote("\a\b\f\n\r\t\v"), "\"\\a\\b\\f\\n\\r\\t\\v\"");
  EXPECT_EQ(GoQuote(std::string("\x00\x1f\x7f", 3)), "\"\\x00\\x1f\\x7f\"");
  EXPECT_EQ(GoQuote("caf\xC3\xA9 \xF0\x9F\x98\x80"), "\"caf\xC3\xA9 \xF0\x9F\x98\x80\"");
  EXPECT_EQ(GoQuote("\xC2\x85"), "\"\\u0085\"");
  EXPECT_EQ(GoQuote("\xC2\xA0"), "\"\\u00a0\"");
  EXPECT_EQ(GoQuote("\xE2\x80\x80"), "\"\\u2000\"");
  EXPECT_EQ(GoQuote("\xEF\xBB\xBF"), "\"\\ufeff\"");
  EXPECT_EQ(GoQuote("\xEF\xBF\xBD"), "\"\xEF\xBF\xBD\"");  // U+FFFD is printable
  EXPECT_EQ(GoQuote("\xF3\xA0\x80\x81"), "\"\\U000e0001\"");
  EXPECT_EQ(GoQuote("\xEE\x80\x80"), "\"\\ue000\"");
  // Invalid UTF-8 is shown byte by byte.
  EXPECT_EQ(GoQuote("\xFF\xFE"), "\"\\xff\\xfe\"");
  EXPECT_EQ(GoQuote("a\xC3"), "\"a\\xc3\"");
  EXPECT_EQ(GoQuote("\xED\xA0\x80"), "\"\\xed\\xa0\\x80\"");
}

TEST(GoQuoteTest, QuoteRuneAndToAscii) {
  EXPECT_EQ(GoQuoteRune('a'), "'a'");
  EXPECT_EQ(GoQuoteRune('\''), "'\\''");
  EXPECT_EQ(GoQuoteRune('"'), "'\"'");
  EXPECT_EQ(GoQuoteRune(0x2000), "'\\u2000'");
  EXPECT_EQ(GoQuoteRune(0x263A), "'\xE2\x98\xBA'");
  EXPECT_EQ(GoQuoteRune(0xD800), "'\xEF\xBF\xBD'");  // invalid runes quote as U+FFFD
  EXPECT_EQ(GoQuoteRune(0x110000), "'\xEF\xBF\xBD'");
  EXPECT_EQ(GoQuoteToAscii("\xE2\x98\xBA\n"), "\"\\u263a\\n\"");
  EXPECT_EQ(GoQuoteToAscii("\xF0\x9F\x98\x80"), "\"\\U0001f600\"");
}

TEST(GoQuoteTest, PromqlStyleEscapesReplacementCharacter) {
  std::string out;
  AppendGoQuoted("a\xEF\xBF\xBD", GoQuoteStyle{.escape_replacement_char = true}, &out);
  EXPECT_EQ(out, "\"a\\ufffd\"");
}

TEST(ParseGoFloatTest, Decimal) {
  EXPECT_EQ(Parsed("1"), 1.0);
  EXPECT_EQ(Parsed("+1.5"), 1.5);
  EXPECT_EQ(Parsed("-2.5e3"), -2500.0);
  EXPECT_EQ(Parsed(".5"), 0.5);
  EXPECT_EQ(Parsed("1."), 1.0);
  EXPECT_EQ(Parsed("1.e2"), 100.0);
  EXPECT_EQ(Parsed("1E-2"), 0.01);
  EXPECT_EQ(Parsed("0.1"), 0.1);
  EXPECT_EQ(Parsed("010"), 10.0);  // ParseFloat reads a leading 0 as decimal
  EXPECT_TRUE(std::signbit(Parsed("-0")));
  EXPECT_EQ(Parsed("1.7976931348623157e308"), std::numeric_limits<double>::max());
  EXPECT_EQ(Parsed("4.9e-324"), std::numeric_limits<double>::denorm_min());
}

TEST(ParseGoFloatTest, SpecialValues) {
  for (std::string_view s : {"Inf", "inf", "+Inf", "INF", "infinity", "+Infinity", "iNfInItY"}) {
    EXPECT_EQ(Parsed(s), kInf) << s;
  }
  EXPECT_EQ(Parsed("-Inf"), -kInf);
  EXPECT_EQ(Parsed("-infinity"), -kInf);
  EXPECT_TRUE(std::isnan(Parsed("NaN")));
  EXPECT_TRUE(std::isnan(Parsed("nan")));
  EXPECT_TRUE(std::isnan(Parsed("nAn")));
  // Go accepts a sign on Inf only, and no other spelling.
  for (std::string_view s : {"+NaN", "-nan", "infin", "Infinityy", "in", "na", "nanx", "++Inf"}) {
    EXPECT_EQ(ErrorOf(s), GoNumError::kSyntax) << s;
  }
}

TEST(ParseGoFloatTest, HexFloats) {
  EXPECT_EQ(Parsed("0x1p-2"), 0.25);
  EXPECT_EQ(Parsed("0X1P+4"), 16.0);
  EXPECT_EQ(Parsed("0x1.8p1"), 3.0);
  EXPECT_EQ(Parsed("-0x.8p1"), -1.0);
  EXPECT_EQ(Parsed("0xAbCp0"), 2748.0);
  EXPECT_EQ(Parsed("0x1p-1074"), std::numeric_limits<double>::denorm_min());
  EXPECT_EQ(Parsed("0x1p-1080"), 0.0);  // underflow is not an error
  // A hex mantissa needs a 'p' exponent; 'e' is a hex digit there.
  for (std::string_view s : {"0x1", "0x1.8", "0x1e3", "0x", "0xp1", "0x1p", "0x1p+"}) {
    EXPECT_EQ(ErrorOf(s), GoNumError::kSyntax) << s;
  }
  double v = 0;
  EXPECT_EQ(ParseGoFloat("0x1p1024", &v), GoNumError::kRange);
  EXPECT_EQ(v, kInf);
}

TEST(ParseGoFloatTest, Underscores) {
  EXPECT_EQ(Parsed("1_000"), 1000.0);
  EXPECT_EQ(Parsed("1_000.000_1"), 1000.0001);
  EXPECT_EQ(Parsed("-1_0e1_0"), -1e11);
  EXPECT_EQ(Parsed("0x_1p0"), 1.0);  // right after the base prefix is allowed
  EXPECT_EQ(Parsed("0x1_0p0"), 16.0);
  // From Go's own atof tests.
  EXPECT_EQ(Parsed("1_23.50_0_0e+1_2"), 1.235e+14);
  EXPECT_EQ(Parsed("0x_1_2.3_4_5p+1_2"), 74565.0);
  for (std::string_view s : {"-_123.5e+12", "123_.5e+12", "123.5_e+12", "123.5e_+12",
                             "123.5e+1__2", "123.5e+12_", "0x12_.345p+12", "0x12.345_p+12"}) {
    EXPECT_EQ(ErrorOf(s), GoNumError::kSyntax) << s;
  }
  for (std::string_view s : {"_1", "1_", "1__0", "1_.5", "1._5", "1e_5", "1_e5", "-_1", "_Inf"}) {
    EXPECT_EQ(ErrorOf(s), GoNumError::kSyntax) << s;
  }
}

TEST(ParseGoFloatTest, SyntaxErrors) {
  for (std::string_view s : {"", "+", "-", ".", "e5", ".e5", "1e", "1e+", "1.2.3", "1e5.0", " 1",
                             "1 ", "1f", "1p5", "0b1", "1,5", "--1"}) {
    EXPECT_EQ(ErrorOf(s), GoNumError::kSyntax) << '"' << s << '"';
  }
}

TEST(ParseGoFloatTest, RangeErrors) {
  double v = 0;
  EXPECT_EQ(ParseGoFloat("1e400", &v), GoNumError::kRange);
  EXPECT_EQ(v, kInf);
  EXPECT_EQ(ParseGoFloat("-1e400", &v), GoNumError::kRange);
  EXPECT_EQ(v, -kInf);
  EXPECT_EQ(ParseGoFloat("1.8e308", &v), GoNumError::kRange);
  // Underflow gives zero, keeping the sign, without an error.
  EXPECT_EQ(ParseGoFloat("1e-400", &v), GoNumError::kNone);
  EXPECT_EQ(v, 0.0);
  EXPECT_EQ(ParseGoFloat("-1e-400", &v), GoNumError::kNone);
  EXPECT_TRUE(std::signbit(v));
  EXPECT_EQ(ParseGoFloat("2e-324", &v), GoNumError::kNone);
  EXPECT_EQ(v, 0.0);
}

TEST(ParseGoFloatTest, ErrorTexts) {
  EXPECT_EQ(GoParseFloatError("abc", GoNumError::kSyntax),
            "strconv.ParseFloat: parsing \"abc\": invalid syntax");
  EXPECT_EQ(GoParseFloatError("1e400", GoNumError::kRange),
            "strconv.ParseFloat: parsing \"1e400\": value out of range");
}

}  // namespace
}  // namespace nimify::internal
