// Go's strconv, fmt and time formatting as template output needs them. The
// expected strings are what Go's standard library prints for the same inputs.
#include "template/go_format.h"

#include <cmath>
#include <limits>
#include <vector>

#include "gtest/gtest.h"

namespace nimify::tmpl {
namespace {

TEST(FormatFloatTest, ShortestG) {
  // %v of a float64: shortest digits; exponent form when the exponent is < -4 or >= 6.
  EXPECT_EQ(FormatFloat(100000, 'g', -1), "100000");
  EXPECT_EQ(FormatFloat(999999, 'g', -1), "999999");
  EXPECT_EQ(FormatFloat(1000000, 'g', -1), "1e+06");
  EXPECT_EQ(FormatFloat(1234567.5, 'g', -1), "1.2345675e+06");
  EXPECT_EQ(FormatFloat(0.0001, 'g', -1), "0.0001");
  EXPECT_EQ(FormatFloat(0.00001, 'g', -1), "1e-05");
  EXPECT_EQ(FormatFloat(1e100, 'g', -1), "1e+100");
  EXPECT_EQ(FormatFloat(5e-324, 'g', -1), "5e-324");
  EXPECT_EQ(FormatFloat(0, 'g', -1), "0");
  EXPECT_EQ(FormatFloat(-0.0, 'g', -1), "-0");
  EXPECT_EQ(FormatFloat(std::numeric_limits<double>::infinity(), 'g', -1), "+Inf");
  EXPECT_EQ(FormatFloat(-std::numeric_limits<double>::infinity(), 'g', -1), "-Inf");
  EXPECT_EQ(FormatFloat(std::nan(""), 'g', -1), "NaN");
}

TEST(FormatFloatTest, FixedPrecision) {
  EXPECT_EQ(FormatFloat(1234567, 'g', 4), "1.235e+06");
  EXPECT_EQ(FormatFloat(999.96, 'g', 4), "1000");
  EXPECT_EQ(FormatFloat(9999.6, 'g', 4), "1e+04");
  EXPECT_EQ(FormatFloat(100, 'g', 4), "100");
  EXPECT_EQ(FormatFloat(0.000012345, 'g', 3), "1.23e-05");
  EXPECT_EQ(FormatFloat(1, 'g', 0), "1");
  EXPECT_EQ(FormatFloat(0, 'g', 4), "0");
  EXPECT_EQ(FormatFloat(3.14159, 'f', 2), "3.14");
  EXPECT_EQ(FormatFloat(2.5, 'f', 0), "2");       // ties to even, exactly representable
  EXPECT_EQ(FormatFloat(1.005, 'f', 2), "1.00");  // 1.005 is slightly below in binary
  EXPECT_EQ(FormatFloat(-0.0, 'f', 1), "-0.0");
  EXPECT_EQ(FormatFloat(1e21, 'f', -1), "1000000000000000000000");
  EXPECT_EQ(FormatFloat(1234.5678, 'e', 3), "1.235e+03");
  EXPECT_EQ(FormatFloat(0, 'e', 2), "0.00e+00");
  EXPECT_EQ(FormatFloat(1e-300, 'E', -1), "1E-300");
  EXPECT_EQ(FormatFloat(1, 'b', -1), "4503599627370496p-52");
  EXPECT_EQ(FormatFloat(1, 'x', -1), "0x1p+00");
  EXPECT_EQ(FormatFloat(3, 'x', -1), "0x1.8p+01");
  EXPECT_EQ(FormatFloat(-0.5, 'X', 2), "-0X1.00P-01");
}

TEST(ParseFloatTest, GoSyntax) {
  auto ok = [](std::string_view s) {
    auto r = ParseFloat(s);
    EXPECT_TRUE(r.ok()) << s << ": " << r.status().message();
    return r.ok() ? *r : -12345.0;
  };
  EXPECT_EQ(ok("1.5"), 1.5);
  EXPECT_EQ(ok("-1e3"), -1000);
  EXPECT_EQ(ok(".5"), 0.5);
  EXPECT_EQ(ok("5."), 5);
  EXPECT_EQ(ok("+7"), 7);
  EXPECT_EQ(ok("1_000.5"), 1000.5);
  EXPECT_EQ(ok("0x1p-2"), 0.25);
  EXPECT_EQ(ok("0x_1p4"), 16);
  EXPECT_TRUE(std::isinf(ok("Inf")) && ok("-inf") < 0 && std::isinf(ok("+Infinity")));
  EXPECT_TRUE(std::isnan(ok("NaN")));
  EXPECT_EQ(ok("1e-400"), 0);  // underflow rounds to zero without an error
}

TEST(ParseFloatTest, Errors) {
  EXPECT_EQ(ParseFloat("abc").status().message(),
            "strconv.ParseFloat: parsing \"abc\": invalid syntax");
  EXPECT_EQ(ParseFloat("").status().message(), "strconv.ParseFloat: parsing \"\": invalid syntax");
  EXPECT_EQ(ParseFloat("1e400").status().message(),
            "strconv.ParseFloat: parsing \"1e400\": value out of range");
  for (std::string_view bad :
       {"1__0", "_1", "1_", "0x1", "1e", "--1", "+nan", "1.5.5", " 1", "0x"}) {
    EXPECT_FALSE(ParseFloat(bad).ok()) << bad;
  }
}

TEST(GoFloatToInt64Test, Amd64Conversion) {
  EXPECT_EQ(GoFloatToInt64(1.9), 1);
  EXPECT_EQ(GoFloatToInt64(-1.9), -1);
  EXPECT_EQ(GoFloatToInt64(1e20), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(GoFloatToInt64(std::nan("")), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(GoFloatToInt64(-9223372036854775808.0), std::numeric_limits<std::int64_t>::min());
}

TEST(QuoteTest, StrconvQuote) {
  EXPECT_EQ(Quote("a\"b\\c\n\t\x01\x7f"), "\"a\\\"b\\\\c\\n\\t\\x01\\x7f\"");
  EXPECT_EQ(Quote("\xc3\xa9\xe2\x80\xa8\xc2\xa0"), "\"\xc3\xa9\\u2028\\u00a0\"");
  EXPECT_EQ(Quote("\xff"), "\"\\xff\"");
  EXPECT_EQ(Quote("\xF0\x9F\x98\x80"), "\"\xF0\x9F\x98\x80\"");
  EXPECT_EQ(QuoteToAscii("\xc3\xa9\xF0\x9F\x98\x80"), "\"\\u00e9\\U0001f600\"");
  EXPECT_EQ(QuoteRune('\''), "'\\''");
  EXPECT_EQ(QuoteRune(0x1F600), "'\xF0\x9F\x98\x80'");
  EXPECT_TRUE(CanBackquote("a\tb"));
  EXPECT_FALSE(CanBackquote("a`b"));
  EXPECT_FALSE(CanBackquote("a\nb"));
}

TEST(QuoteTest, Unquote) {
  std::string out;
  ASSERT_TRUE(Unquote("\"a\\tb\\x41\\101\\u00e9\\U0001F600\\\"\"", &out));
  EXPECT_EQ(out, "a\tbAA\xc3\xa9\xF0\x9F\x98\x80\"");
  ASSERT_TRUE(Unquote("`raw\\n\r`", &out));
  EXPECT_EQ(out, "raw\\n");
  ASSERT_TRUE(Unquote("'x'", &out));
  EXPECT_EQ(out, "x");
  for (std::string_view bad :
       {"\"\\q\"", "\"\\x4\"", "\"a", "`a`b`", "'ab'", "\"\\'\"", "\"\\400\"", "\"\\uD800\""}) {
    EXPECT_FALSE(Unquote(bad, &out)) << bad;
  }
}

std::string F(std::string_view format, std::vector<Value> args) { return Sprintf(format, args); }

TEST(SprintfTest, VerbsAndFlags) {
  EXPECT_EQ(
      F("%d|%5d|%-5d|%05d", {Value::Int(42), Value::Int(42), Value::Int(42), Value::Int(-42)}),
      "42|   42|42   |-0042");
  EXPECT_EQ(F("%x %X %#x %o %#o %b %c %q %U",
              {Value::Int(255), Value::Int(255), Value::Int(255), Value::Int(8), Value::Int(8),
               Value::Int(5), Value::Int(65), Value::Int(65), Value::Int(65)}),
            "ff FF 0xff 10 010 101 A 'A' U+0041");
  EXPECT_EQ(F("%.2f|%8.3f|%-8.1f|%+.1e|%g",
              {Value::Float(3.14159), Value::Float(-3.14159), Value::Float(2.25),
               Value::Float(12345), Value::Float(1e21)}),
            "3.14|  -3.142|2.2     |+1.2e+04|1e+21");
  EXPECT_EQ(F("%s|%10s|%-4s|%.2s|%q|%x",
              {Value::String("hi"), Value::String("hi"), Value::String("hi"),
               Value::String("hello"), Value::String("a\"b"), Value::String("hi")}),
            "hi|        hi|hi  |he|\"a\\\"b\"|6869");
  EXPECT_EQ(F("%t %v %T %T", {Value::Bool(true), Value::Bool(false), Value::Float(1), Value()}),
            "true false float64 <nil>");
  EXPECT_EQ(F("%%|%5.1f%%", {Value::Float(99.44)}), "%| 99.4%");
}

TEST(SprintfTest, GoErrorForms) {
  EXPECT_EQ(F("%d", {Value::String("x")}), "%!d(string=x)");
  EXPECT_EQ(F("%s", {Value::Float(1.5)}), "%!s(float64=1.5)");
  EXPECT_EQ(F("%d %d", {Value::Int(1)}), "1 %!d(MISSING)");
  EXPECT_EQ(F("%d", {Value::Int(1), Value::String("x"), Value()}), "1%!(EXTRA string=x, <nil>)");
  EXPECT_EQ(F("%", {}), "%!(NOVERB)");
  EXPECT_EQ(F("%z", {Value::Int(1)}), "%!z(int=1)");
  EXPECT_EQ(F("%d", {Value()}), "%!d(<nil>)");
  EXPECT_EQ(F("%[3]d", {Value::Int(1)}), "%!d(BADINDEX)");
  EXPECT_EQ(F("%[2]d %[1]d", {Value::Int(1), Value::Int(2)}), "2 1");
  EXPECT_EQ(F("%*d|%-*d|%.*f", {Value::Int(4), Value::Int(7), Value::Int(3), Value::Int(7),
                                Value::Int(1), Value::Float(2.25)}),
            "   7|7  |2.2");
  EXPECT_EQ(F("%*d", {Value::String("x"), Value::Int(7)}), "%!(BADWIDTH)7");
}

TEST(SprintfTest, Containers) {
  auto m = std::make_shared<MapValue>();
  m->entries = {{"a", Value::String("x")}, {"b", Value::String("y z")}};
  const Value map = Value::Map(m);
  EXPECT_EQ(F("%v|%s|%q", {map, map, map}),
            "map[a:x b:y z]|map[a:x b:y z]|map[\"a\":\"x\" \"b\":\"y z\"]");
  EXPECT_EQ(F("%d", {map}), "map[%!d(string=a):%!d(string=x) %!d(string=b):%!d(string=y z)]");
  EXPECT_EQ(F("%#v", {map}), "map[string]string{\"a\":\"x\", \"b\":\"y z\"}");
  EXPECT_EQ(F("%v", {Value::Map(nullptr)}), "map[]");
  auto args = std::make_shared<MapValue>();
  args->elem_is_string = false;
  args->entries = {{"arg0", Value::Int(1)}, {"arg1", Value()}};
  EXPECT_EQ(F("%v %T", {Value::Map(args), Value::Map(args)}),
            "map[arg0:1 arg1:<nil>] map[string]interface {}");
}

TEST(SprintTest, SpacesBetweenNonStrings) {
  const std::vector<Value> args = {Value::Int(1),      Value::Int(2),     Value::String("a"),
                                   Value::String("b"), Value::Float(3.5), Value()};
  EXPECT_EQ(Sprint(args), "1 2ab3.5 <nil>");
  EXPECT_EQ(Sprintln(args), "1 2 a b 3.5 <nil>\n");
}

TEST(TimeFormatTest, DurationString) {
  EXPECT_EQ(FormatDuration(0), "0s");
  EXPECT_EQ(FormatDuration(1), "1ns");
  EXPECT_EQ(FormatDuration(1100), "1.1\xC2\xB5s");
  EXPECT_EQ(FormatDuration(2200000), "2.2ms");
  EXPECT_EQ(FormatDuration(3300000000), "3.3s");
  EXPECT_EQ(FormatDuration(245000000000), "4m5s");
  EXPECT_EQ(FormatDuration(245001000000), "4m5.001s");
  EXPECT_EQ(FormatDuration(18367001000000), "5h6m7.001s");
  EXPECT_EQ(FormatDuration(480000000001), "8m0.000000001s");
  EXPECT_EQ(FormatDuration(std::numeric_limits<std::int64_t>::max()), "2562047h47m16.854775807s");
  EXPECT_EQ(FormatDuration(std::numeric_limits<std::int64_t>::min()), "-2562047h47m16.854775808s");
  EXPECT_EQ(FormatDuration(-1500000), "-1.5ms");
}

TEST(TimeFormatTest, TimeString) {
  EXPECT_EQ(FormatTime({0, 0}), "1970-01-01 00:00:00 +0000 UTC");
  EXPECT_EQ(FormatTime({1435065584, 128000000}), "2015-06-23 13:19:44.128 +0000 UTC");
  EXPECT_EQ(FormatTime({-1, 500000000}), "1969-12-31 23:59:59.5 +0000 UTC");
  EXPECT_EQ(FormatTime({951782400, 0}), "2000-02-29 00:00:00 +0000 UTC");
  EXPECT_EQ(FormatTime({253402300799, 999999999}), "9999-12-31 23:59:59.999999999 +0000 UTC");
  EXPECT_EQ(FormatTimeLayout({1435065584, 128000000}, "Mon Jan 2 15:04:05.000 MST 2006 3PM 06 002"),
            "Tue Jun 23 13:19:44.128 UTC 2015 1PM 15 174");
  EXPECT_EQ(FormatTimeLayout({1435065584, 0}, "Monday, January _2 2006 .999 -07:00 Z07:00"),
            "Tuesday, June 23 2015  +00:00 Z");
}

TEST(UnicodeTest, Helpers) {
  EXPECT_EQ(RuneCount("h\xc3\xa9llo\xff"), 6u);
  EXPECT_EQ(ToUpperRune(0xE9), 0xC9);
  EXPECT_EQ(ToLowerRune(0x410), 0x430);
  EXPECT_EQ(ToUpperRune(0x101), 0x100);
  EXPECT_EQ(ToLowerRune(0x139), 0x13A);
  EXPECT_TRUE(IsLetterRune(0xE9));
  EXPECT_FALSE(IsLetterRune(0x2192));
  EXPECT_EQ(FormatUnicodeSharp(0x2192), "U+2192 '\xe2\x86\x92'");
  EXPECT_EQ(FormatUnicodeSharp(1), "U+0001");
  EXPECT_EQ(UrlQueryEscape("a b/c?d=\xc3\xa9"), "a+b%2Fc%3Fd%3D%C3%A9");
}

}  // namespace
}  // namespace nimify::tmpl
