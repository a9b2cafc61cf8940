// Parser tests: input -> canonical text, input -> exact Prometheus error, and
// the shape of the syntax tree the evaluator reads.
#include "promql/parser.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "promql/ast.h"

namespace nimify::promql {
namespace {

struct PrintCase {
  const char* input;
  const char* printed;
};

// Every grammar feature, with the text Prometheus's printer produces for it.
const PrintCase kPrintCases[] = {
    // Numbers: decimal, hex, octal (leading 0), underscores, exponents, specials.
    {"1", "1"},
    {"+1", "1"},
    {"-1", "-1"},
    {"--1", "1"},
    {".5", "0.5"},
    {"5.", "5"},
    {"1e3", "1000"},
    {"1E-2", "0.01"},
    {"0x1f", "31"},
    {"0X1F", "31"},
    {"0xe", "14"},
    {"010", "8"},
    {"09", "9"},
    {"1_000", "1000"},
    {"1_000.5", "1000.5"},
    {"Inf", "+Inf"},
    {"-inf", "-Inf"},
    {"+iNf", "+Inf"},
    {"NaN", "NaN"},
    {"nan", "NaN"},
    {"1048576", "1048576"},
    {"123456789012345678901234567890", "123456789012345680000000000000"},
    // Durations used as numbers keep their duration form.
    {"5m", "5m"},
    {"-5m", "-5m"},
    {"1h30m", "1h30m"},
    {"90m", "1h30m"},
    {"1y2w", "379d"},
    {"2w", "2w"},
    {"10ms", "10ms"},
    {"1d", "1d"},
    // Strings.
    {R"("abc")", R"("abc")"},
    {R"('abc')", R"("abc")"},
    {"`a\\b`", R"("a\\b")"},
    {R"("a\"b")", R"("a\"b")"},
    {R"('a\'b')", R"("a'b")"},
    {R"("\n\t\\")", R"("\n\t\\")"},
    {R"("\x41\101\u00e9\U0001F600")", "\"AA\xc3\xa9\xf0\x9f\x98\x80\""},
    {R"("\a\b\f\v\r")", R"("\a\b\f\v\r")"},
    {R"("\uFFFD\u00a0")", R"("\ufffd\u00a0")"},
    // Selectors.
    {"foo", "foo"},
    {"foo:bar:rate5m", "foo:bar:rate5m"},
    {R"(foo{a="b"})", R"(foo{a="b"})"},
    {R"(foo{b="1",a="2"})", R"(foo{a="2",b="1"})"},
    {R"(foo{a="b",})", R"(foo{a="b"})"},
    {R"(foo{})", "foo"},
    {R"(foo{a!="b",c=~"d.*",e!~"f"})", R"(foo{a!="b",c=~"d.*",e!~"f"})"},
    {R"({__name__="foo"})", R"({__name__="foo"})"},
    {R"({__name__=~"a|b"})", R"({__name__=~"a|b"})"},
    {R"({__name__="",a="x"})", R"({__name__="",a="x"})"},
    {R"({a="b"})", R"({a="b"})"},
    {R"({"metric.name"})", R"({__name__="metric.name"})"},
    {R"({"metric.name", "l.x"="v"})", R"({"l.x"="v",__name__="metric.name"})"},
    {R"({"_0"="1"})", R"({_0="1"})"},
    {R"({"0"="1"})", R"({"0"="1"})"},
    {"{``=\"0\"}", R"({""="0"})"},
    {R"(foo{a=`raw`})", R"(foo{a="raw"})"},
    {"foo{a='x'}", R"(foo{a="x"})"},
    {"foo{ a = \"b\" , }", R"(foo{a="b"})"},
    // Keywords are metric names where the grammar allows it, in any case.
    {"sum", "sum"},
    {"SUM", "SUM"},
    {"by", "by"},
    {"and", "and"},
    {"offset", "offset"},
    {"start", "start"},
    {"step", "step"},
    {"fill + fill", "fill + fill"},
    {R"(offset{step="1s"}[5m])", R"(offset{step="1s"}[5m])"},
    {R"(sum{job="a"})", R"(sum{job="a"})"},
    {"inf2", "inf2"},
    {"nan_metric", "nan_metric"},
    // Range selectors, numbers as durations (3.x).
    {"foo[5m]", "foo[5m]"},
    {"foo[300]", "foo[5m]"},
    {"foo[1.5]", "foo[1s500ms]"},
    {"foo[ 5m ]", "foo[5m]"},
    {"foo[+5m]", "foo[5m]"},
    {"foo[1h30m]", "foo[1h30m]"},
    {"foo[5y]", "foo[5y]"},
    {R"(foo{a="b"}[5m])", R"(foo{a="b"}[5m])"},
    // Offsets, negative offsets, @ in either order.
    {"foo offset 5m", "foo offset 5m"},
    {"foo OFFSET 5m", "foo offset 5m"},
    {"foo offset -7m", "foo offset -7m"},
    {"foo offset +5m", "foo offset 5m"},
    {"foo offset 50", "foo offset 50s"},
    {"foo offset 0.5", "foo offset 500ms"},
    {"foo[5m] offset 1w", "foo[5m] offset 1w"},
    {"foo[12m] offset -3m", "foo[12m] offset -3m"},
    {"foo @ 100", "foo @ 100.000"},
    {"foo @ 100.5", "foo @ 100.500"},
    {"foo @ -100", "foo @ -100.000"},
    {"foo @ +100", "foo @ 100.000"},
    {"foo @ 100s", "foo @ 100.000"},
    {"foo @ 1m", "foo @ 60.000"},
    {"foo @ 0x10", "foo @ 16.000"},
    {"foo @ start()", "foo @ start()"},
    {"foo @ end()", "foo @ end()"},
    {"foo @ START()", "foo @ start()"},
    {"foo @ 100 offset 5m", "foo @ 100.000 offset 5m"},
    {"foo offset 5m @ 100", "foo @ 100.000 offset 5m"},
    {"foo[5m] @ 100 offset 1m", "foo[5m] @ 100.000 offset 1m"},
    {"foo[5m] offset 1m @ end()", "foo[5m] @ end() offset 1m"},
    // Subqueries.
    {"foo[5m:1m]", "foo[5m:1m]"},
    {"foo[5m:]", "foo[5m:]"},
    {"foo[300:60]", "foo[5m:1m]"},
    {"foo[5m: 1m]", "foo[5m:1m]"},
    {"rate(foo[5m])[30m:1m]", "rate(foo[5m])[30m:1m]"},
    {"(foo + bar)[5m:]", "(foo + bar)[5m:]"},
    {"foo[5m:] offset 10m", "foo[5m:] offset 10m"},
    {"foo[5m:1m] @ 123 offset 1m", "foo[5m:1m] @ 123.000 offset 1m"},
    {"foo[5m:1m] offset 1m @ 123", "foo[5m:1m] @ 123.000 offset 1m"},
    {"min_over_time(rate(foo[2s])[5m:] offset 4m)[4m:3s]",
     "min_over_time(rate(foo[2s])[5m:] offset 4m)[4m:3s]"},
    {"sum(foo)[5m:]", "sum(foo)[5m:]"},
    // Unary operators.
    {"-foo", "-foo"},
    {"+foo", "+foo"},
    {"- -foo", "--foo"},
    {"-(1)", "-(1)"},
    {"-foo offset 5m", "-foo offset 5m"},
    // Binary operators and precedence (printing keeps the parse tree as written).
    {"1 + 2", "1 + 2"},
    {"1+2*3", "1 + 2 * 3"},
    {"(1 + 2) * 3", "(1 + 2) * 3"},
    {"-2^2", "-2 ^ 2"},
    {"Inf ^ 2", "Inf ^ 2"},
    {"-Inf ^ 2", "-Inf ^ 2"},
    {"2 ^ Inf", "2 ^ +Inf"},
    {"2^3^2", "2 ^ 3 ^ 2"},
    {"a atan2 b", "a atan2 b"},
    {"a ATAN2 b", "a atan2 b"},
    {"a % b", "a % b"},
    {"a == b", "a == b"},
    {"a != b", "a != b"},
    {"a >= b", "a >= b"},
    {"a<=b", "a <= b"},
    {"a > bool 1", "a > bool 1"},
    {"1 == bool 1", "1 == bool 1"},
    {"1 < BOOL 2", "1 < bool 2"},
    {"a and b", "a and b"},
    {"a AND b", "a and b"},
    {"a or b", "a or b"},
    {"a unless b", "a unless b"},
    {"a and on(c) b", "a and on (c) b"},
    {"a and on() b", "a and on () b"},
    {"a or ignoring(c) b", "a or ignoring (c) b"},
    {"a - on() c", "a - on () c"},
    {"a - on(b) c", "a - on (b) c"},
    {"a - ON(b) c", "a - on (b) c"},
    {"a - on(b) group_left(x) c", "a - on (b) group_left (x) c"},
    {"a - on(b) group_left(x, y) c", "a - on (b) group_left (x, y) c"},
    {"a - on(b) group_left(x,) c", "a - on (b) group_left (x) c"},
    {"a - on(b) group_left c", "a - on (b) group_left () c"},
    {"a - on(b) group_left() (c)", "a - on (b) group_left () (c)"},
    {"a - on(b) group_right(x) c", "a - on (b) group_right (x) c"},
    {"a - ignoring(b) c", "a - ignoring (b) c"},
    {"a - ignoring() c", "a - c"},
    {"a - ignoring() group_left(__metric__) c", "a - ignoring () group_left (__metric__) c"},
    {"a - ignoring() group_left c", "a - ignoring () group_left () c"},
    {"a > bool on(b) c", "a > bool on (b) c"},
    {"a + on(sum, by, bool, on) b", "a + on (sum, by, bool, on) b"},
    {"a + on(\"foo.bar\") b", "a + on (\"foo.bar\") b"},
    {"1 + on() 2", "1 + 2"},
    {"foo + 1 * on() bar", "foo + 1 * bar"},
    {"a + b offset 5m", "a + b offset 5m"},
    {"a + b @ 5", "a + b @ 5.000"},
    // Aggregations.
    {"sum(foo)", "sum(foo)"},
    {"SUM(foo)", "sum(foo)"},
    {"sum by (a, b) (foo)", "sum by (a, b) (foo)"},
    {"sum by(a,b,) (foo)", "sum by (a, b) (foo)"},
    {"sum(foo) by (a)", "sum by (a) (foo)"},
    {"sum without (a) (foo)", "sum without (a) (foo)"},
    {"sum(foo) without (a)", "sum without (a) (foo)"},
    {"sum without () (foo)", "sum without () (foo)"},
    {"sum by () (foo)", "sum(foo)"},
    {"sum by (\"foo.bar\") (x)", "sum by (\"foo.bar\") (x)"},
    {"sum BY (a) (foo)", "sum by (a) (foo)"},
    {"sum by (sum, offset, start) (x)", "sum by (sum, offset, start) (x)"},
    {"avg(x)", "avg(x)"},
    {"count(x)", "count(x)"},
    {"min(x)", "min(x)"},
    {"max(x)", "max(x)"},
    {"group(x)", "group(x)"},
    {"stddev(x)", "stddev(x)"},
    {"stdvar(x)", "stdvar(x)"},
    {"topk(5, x)", "topk(5, x)"},
    {"bottomk(5, x) by (a)", "bottomk by (a) (5, x)"},
    {"count_values(\"v\", x)", "count_values(\"v\", x)"},
    {"quantile(0.9, x)", "quantile(0.9, x)"},
    {"limitk(2, x)", "limitk(2, x)"},
    {"limit_ratio(0.5, x)", "limit_ratio(0.5, x)"},
    {"topk(scalar(y), x)", "topk(scalar(y), x)"},
    {"sum(sum by (a) (x))", "sum(sum by (a) (x))"},
    // Functions.
    {"time()", "time()"},
    {"pi()", "pi()"},
    {"rate(x[5m])", "rate(x[5m])"},
    {"vector(1)", "vector(1)"},
    {"scalar(x)", "scalar(x)"},
    {"round(x)", "round(x)"},
    {"round(x, 5)", "round(x, 5)"},
    {"hour()", "hour()"},
    {"hour(x)", "hour(x)"},
    {"clamp(x, 0, 1)", "clamp(x, 0, 1)"},
    {"absent(foo{job=\"x\"})", "absent(foo{job=\"x\"})"},
    {"histogram_quantile(0.9, rate(b[5m]))", "histogram_quantile(0.9, rate(b[5m]))"},
    {"label_replace(up, \"a\", \"$1\", \"b\", \"(.*)\")",
     "label_replace(up, \"a\", \"$1\", \"b\", \"(.*)\")"},
    {"label_join(up, \"a\", \",\", \"b\", \"c\", \"d\")",
     "label_join(up, \"a\", \",\", \"b\", \"c\", \"d\")"},
    {"sort_by_label(up, \"a\", \"b\")", "sort_by_label(up, \"a\", \"b\")"},
    {"predict_linear(foo[1h], 3000)", "predict_linear(foo[1h], 3000)"},
    {"quantile_over_time(0.5, foo[1h])", "quantile_over_time(0.5, foo[1h])"},
    {"holt_winters(x[5m], 0.5, 0.5)", "holt_winters(x[5m], 0.5, 0.5)"},
    {"double_exponential_smoothing(x[5m], 0.5, 0.5)",
     "double_exponential_smoothing(x[5m], 0.5, 0.5)"},
    {"rate (x[5m])", "rate(x[5m])"},
    // Comments and whitespace.
    {"foo # comment", "foo"},
    {"# comment\nfoo", "foo"},
    {"sum(\n  foo # why\n) by (\n a # c\n)", "sum by (a) (foo)"},
    {"foo{a=\"b\" # c\n}", "foo{a=\"b\"}"},
    {"\t foo \r\n", "foo"},
    // A string is a valid query result type.
    {"\"foo\"", "\"foo\""},
};

TEST(ParseExprTest, PrintsCanonicalForm) {
  for (const auto& c : kPrintCases) {
    auto expr = ParseExpr(c.input);
    ASSERT_TRUE(expr.ok()) << c.input << ": " << expr.status().message();
    EXPECT_EQ((*expr)->ToString(), c.printed) << c.input;
    // The canonical form parses back to itself.
    auto again = ParseExpr((*expr)->ToString());
    ASSERT_TRUE(again.ok()) << (*expr)->ToString() << ": " << again.status().message();
    EXPECT_EQ((*again)->ToString(), c.printed) << c.input;
  }
}

struct ErrorCase {
  const char* input;
  const char* error;
};

// Inputs Prometheus rejects, with its exact message and position.
const ErrorCase kErrorCases[] = {
    // Empty input and lexer errors.
    {"", "unknown position: parse error: no expression found in input"},
    {"   ", "1:1: parse error: no expression found in input"},
    {"# just a comment\n\n", "1:1: parse error: no expression found in input"},
    {".", "1:1: parse error: unexpected character: '.'"},
    {"2.5.", "1:1: parse error: bad number or duration syntax: \"2.5.\""},
    {"100..4", "1:1: parse error: bad number or duration syntax: \"100..\""},
    {"0deadbeef", "1:1: parse error: bad number or duration syntax: \"0de\""},
    {"0xee", "1:1: parse error: bad number or duration syntax: \"0xee\""},
    {"1e", "1:1: parse error: bad number or duration syntax: \"1e\""},
    {"1_", "1:1: parse error: bad number or duration syntax: \"1_\""},
    {"1__0", "1:1: parse error: bad number or duration syntax: \"1__\""},
    {"0x",
     "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"0x\": invalid syntax"},
    {"1e400",
     "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"1e400\": value out of "
     "range"},
    {"5mm", "1:1: parse error: bad number or duration syntax: \"5mm\""},
    {"5m1h", "1:1: parse error: not a valid duration string: \"5m1h\""},
    {"1 =~ 1", "1:3: parse error: unexpected character after '=': '~'"},
    {"1 !~ 1", "1:3: parse error: unexpected character after '!': '~'"},
    {"a !", "1:3: parse error: unexpected character after '!': '\xef\xbf\xbd'"},
    {"}", "1:1: parse error: unexpected character: '}'"},
    {"some}", "1:5: parse error: unexpected character: '}'"},
    {"$", "1:1: parse error: unexpected character: '$'"},
    {"a ; b", "1:3: parse error: unexpected character: ';'"},
    {"\xff", "1:1: parse error: unexpected character: '\xef\xbf\xbd'"},
    {"\x01", "1:1: parse error: unexpected character: '\\x01'"},
    {"(1))", "1:5: parse error: unexpected right parenthesis ')'"},
    {"((1)", "1:5: parse error: unclosed left parenthesis"},
    {"(", "1:2: parse error: unclosed left parenthesis"},
    {"sum(", "1:5: parse error: unclosed left parenthesis"},
    {"sum(rate(", "1:10: parse error: unclosed left parenthesis"},
    {"foo]", "1:4: parse error: unexpected right bracket ']'"},
    {"foo[5m", "1:7: parse error: unclosed left bracket"},
    {"foo[5m:1m][", "1:12: parse error: unexpected end of input in duration expression"},
    {"{", "1:2: parse error: unexpected end of input inside braces"},
    {"some{", "1:6: parse error: unexpected end of input inside braces"},
    {"foo{a{", "1:6: parse error: unexpected left brace '{'"},
    {"some_metric{a:b=\"b\"}", "1:14: parse error: unexpected character inside braces: ':'"},
    {"foo{a*\"b\"}", "1:6: parse error: unexpected character inside braces: '*'"},
    {"foo{a>=\"b\"}", "1:6: parse error: unexpected character inside braces: '>'"},
    {"foo{1}", "1:5: parse error: unexpected character inside braces: '1'"},
    {"foo{a!b}", "1:6: parse error: unexpected character after '!' inside braces: 'b'"},
    {"\"abc", "1:1: parse error: unterminated quoted string"},
    {"\"a\nb\"", "1:1: parse error: unterminated quoted string"},
    {"`abc", "1:1: parse error: unterminated raw string"},
    {"\"\\", "1:1: parse error: escape sequence not terminated"},
    {"\"\\c\"", "1:1: parse error: unknown escape sequence U+0063 'c'"},
    {"\"\\'\"", "1:1: parse error: unknown escape sequence U+0027 '''"},
    {"\"\\x.\"", "1:1: parse error: illegal character U+002E '.' in escape sequence"},
    {"\"\\x4\"", "1:1: parse error: illegal character U+0022 '\"' in escape sequence"},
    {"\"\\uD800\"", "1:1: parse error: escape sequence is an invalid Unicode code point"},
    {"\"\\U00110000\"", "1:1: parse error: escape sequence is an invalid Unicode code point"},
    {"\"\\400\"", "1:1: parse error: escape sequence is an invalid Unicode code point"},
    {"foo{a=\"\xff\"}", "1:7: parse error: invalid UTF-8 rune"},
    {"`\xc3`", "1:1: parse error: invalid UTF-8 rune"},
    {"foo[\"5m\"]", "1:5: parse error: unexpected character in duration expression: '\"'"},
    {"foo[5m x 5m]", "1:8: parse error: unexpected character: 'x', expected ':'"},
    {"foo[5s s 5s]", "1:8: parse error: unexpected character: 's', expected ':'"},
    {"foo[5m::]", "1:8: parse error: unexpected colon ':'"},
    {"foo[:5m]", "1:6: parse error: unexpected colon before duration in duration expression"},
    {"foo[5m][[", "1:9: parse error: unexpected character in duration expression: '['"},
    {"foo[5m [", "1:8: parse error: unexpected left bracket '['"},
    // Syntax errors.
    {"1+", "1:3: parse error: unexpected end of input"},
    {"1 /", "1:4: parse error: unexpected end of input"},
    {"*1", "1:1: parse error: unexpected <op:*>"},
    {"*test", "1:1: parse error: unexpected <op:*>"},
    {"@@", "1:1: parse error: unexpected <op:@>"},
    {"-=", "1:2: parse error: unexpected \"=\""},
    {"++-++-+-+-<", "1:11: parse error: unexpected <op:<>"},
    {"e-+=/(0)", "1:4: parse error: unexpected \"=\""},
    {"1 2", "1:3: parse error: unexpected number \"2\""},
    {"foo bar", "1:5: parse error: unexpected identifier \"bar\""},
    {"foo:bar(1)", "1:8: parse error: unexpected \"(\""},
    {"on", "1:1: parse error: unexpected <on>"},
    {"foo \"some long string\"", "1:5: parse error: unexpected string \"\\\"some long\"..."},
    {"foo 12345678901", "1:5: parse error: unexpected number \"1234567890\"..."},
    {"foo 5m", "1:5: parse error: unexpected duration \"5m\""},
    {"foo start", "1:5: parse error: unexpected \"start\""},
    {"a - on(b) ignoring(c) d", "1:11: parse error: unexpected <ignoring>"},
    {"foo + group_left(baz) bar", "1:7: parse error: unexpected <group_left>"},
    {"foo == on(a) bool bar", "1:14: parse error: unexpected <bool>"},
    {"foo + on bar",
     "1:10: parse error: unexpected identifier \"bar\" in grouping opts, expected \"(\""},
    {"foo + on(a b) bar",
     "1:12: parse error: unexpected identifier \"b\" in grouping opts, expected \",\" or \")\""},
    {"foo(1 2)", "1:7: parse error: unexpected number \"2\""},
    {"(1 2)", "1:4: parse error: unexpected number \"2\""},
    {"foo{a=b}",
     "1:7: parse error: unexpected identifier \"b\" in label matching, expected string"},
    {"foo{gibberish}",
     "1:14: parse error: unexpected \"}\" in label matching, expected label matching operator"},
    {"foo{__name__= =}", "1:15: parse error: unexpected \"=\" in label matching, expected string"},
    {"foo{,}",
     "1:5: parse error: unexpected \",\" in label matching, expected identifier or \"}\""},
    {"foo{__name__ == \"bar\"}",
     "1:15: parse error: unexpected \"=\" in label matching, expected string"},
    {"foo{__name__=\"bar\" lol}",
     "1:20: parse error: unexpected identifier \"lol\" in label matching, expected \",\" or \"}\""},
    {"foo{\"a\"=}", "1:9: parse error: unexpected \"}\" in label matching, expected string"},
    {"foo{\"a\" \"b\"}",
     "1:9: parse error: unexpected string \"\\\"b\\\"\" in label matching, expected \",\" or "
     "\"}\""},
    {"foo{a=\"b\",,}",
     "1:11: parse error: unexpected \",\" in label matching, expected identifier or \"}\""},
    {"foo[]",
     "1:5: parse error: unexpected \"]\" in subquery or range selector, expected number, duration, "
     "step(), or range()"},
    {"foo[step]",
     "1:9: parse error: unexpected \"]\" in subquery or range selector, expected number, duration, "
     "step(), or range()"},
    {"foo[5m 5m]",
     "1:8: parse error: unexpected duration \"5m\" in subquery or range, expected \":\" or \"]\""},
    {"rate(foo[5m)",
     "1:12: parse error: unexpected \")\" in subquery or range, expected \":\" or \"]\""},
    {"foo[5m:1m 1m]",
     "1:11: parse error: unexpected duration \"1m\" in subquery selector, expected \"]\""},
    {"foo[5m:,]",
     "1:8: parse error: unexpected \",\" in subquery selector, expected number, duration, step(), "
     "range(), or \"]\""},
    {"some_metric[5m] OFFSET",
     "1:23: parse error: unexpected end of input in offset, expected number, duration, step(), or "
     "range()"},
    {"foo offset bar",
     "1:12: parse error: unexpected identifier \"bar\" in offset, expected number, duration, "
     "step(), or range()"},
    {"foo offset - -5m",
     "1:14: parse error: unexpected <op:-> in offset, expected number, duration, step(), or "
     "range()"},
    {"some_metric[5m] OFFSET 1mm", "1:24: parse error: bad number or duration syntax: \"1mm\""},
    {"some_metric[5m] @", "1:18: parse error: unexpected end of input in @, expected timestamp"},
    {"foo @ bar", "1:7: parse error: unexpected identifier \"bar\" in @, expected timestamp"},
    {"foo @ start", "1:12: parse error: unexpected end of input in @, expected timestamp"},
    {"foo @ start(1)", "1:13: parse error: unexpected number \"1\" in @, expected timestamp"},
    {"sum by (\"foo)(some_metric{})", "1:9: parse error: unterminated quoted string"},
    {"sum without(==)(some_metric)",
     "1:13: parse error: unexpected <op:==> in grouping opts, expected label"},
    {"sum without(,)(some_metric)",
     "1:13: parse error: unexpected \",\" in grouping opts, expected label"},
    {"sum without(foo,,)(some_metric)",
     "1:17: parse error: unexpected \",\" in grouping opts, expected label"},
    {"sum without(foo bar)(some_metric)",
     "1:17: parse error: unexpected identifier \"bar\" in grouping opts, expected \",\" or \")\""},
    {"sum by (without) (x)",
     "1:9: parse error: unexpected <without> in grouping opts, expected label"},
    {"sum by (inf) (x)",
     "1:9: parse error: unexpected number \"inf\" in grouping opts, expected label"},
    {"sum some_metric by (test)", "1:5: parse error: unexpected identifier \"some_metric\""},
    {"sum (some_metric) by test",
     "1:22: parse error: unexpected identifier \"test\" in grouping opts, expected \"(\""},
    {"MIN keep_common (some_metric)", "1:5: parse error: unexpected identifier \"keep_common\""},
    {"MIN (some_metric) keep_common", "1:19: parse error: unexpected identifier \"keep_common\""},
    {"sum (some_metric) without (test) by (test)", "1:34: parse error: unexpected <by>"},
    {"sum without (test) (some_metric) by (test)", "1:34: parse error: unexpected <by>"},
    {"sum by (a) foo", "1:12: parse error: unexpected identifier \"foo\" in aggregation"},
    {"sum(1 2)", "1:7: parse error: unexpected number \"2\" in aggregation"},
    {"sum(rate(x[5m] y))", "1:16: parse error: unexpected identifier \"y\" in aggregation"},
    {"sum(a +)", "1:8: parse error: unexpected \")\" in aggregation"},
    {"sum(sum(x) by (a) by (b))", "1:19: parse error: unexpected <by> in aggregation"},
    {"sum(foo offset )",
     "1:16: parse error: unexpected \")\" in offset, expected number, duration, step(), or "
     "range()"},
    {"topk(some_metric,)", "1:17: parse error: trailing commas not allowed in function call args"},
    {"rate(x,)", "1:7: parse error: trailing commas not allowed in function call args"},
    {"f(a,,b)", "1:4: parse error: trailing commas not allowed in function call args"},
    // Semantic errors found while parsing.
    {"non_existent_function_far_bar()",
     "1:1: parse error: unknown function with name \"non_existent_function_far_bar\""},
    {"a>b()", "1:3: parse error: unknown function with name \"b\""},
    {"Rate(x[5m])", "1:1: parse error: unknown function with name \"Rate\""},
    {"foo(1 +)", "1:8: parse error: unexpected \")\""},
    {"sum () by (test)", "1:1: parse error: no arguments for aggregate expression provided"},
    {"topk(some_metric)",
     "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 2, "
     "got 1"},
    {"sum(a, b)",
     "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 1, "
     "got 2"},
    {"foo[5y1hs]", "1:5: parse error: unknown unit \"hs\" in duration \"5y1hs\""},
    {"foo[5m1h]", "1:5: parse error: not a valid duration string: \"5m1h\""},
    {"foo[5m1m]", "1:5: parse error: not a valid duration string: \"5m1m\""},
    {"foo[5mm]", "1:5: parse error: bad number or duration syntax: \"5mm\""},
    {"foo[5m1]", "1:5: parse error: bad number or duration syntax: \"5m1\""},
    {"foo[5m:1m1]", "1:8: parse error: bad number or duration syntax: \"1m1\""},
    {"foo[1.5m]", "1:5: parse error: unknown unit \".\" in duration \"1.5m\""},
    {"foo[300y]", "1:5: parse error: duration out of range"},
    {"foo[0m]", "1:5: parse error: duration must be greater than 0"},
    {"foo[0]", "1:5: parse error: duration must be greater than 0"},
    {"foo[-1]", "1:5: parse error: duration must be greater than 0"},
    {"foo[5m:0s]", "1:8: parse error: duration must be greater than 0"},
    {"foo[9.5e10]", "1:5: parse error: duration out of range"},
    {"foo[NaN]", "1:5: parse error: unexpected character in duration expression: 'N'"},
    {"foo offset NaN", "1:12: parse error: duration out of range"},
    {"foo offset 9.5e10", "1:12: parse error: duration out of range"},
    {"foo offset -9.5e10", "1:12: parse error: duration out of range"},
    {"foo[5m+1m]", "1:5: parse error: experimental duration expression is not enabled"},
    {"foo[step()]", "1:5: parse error: experimental duration expression is not enabled"},
    {"foo offset (5m)", "1:13: parse error: experimental duration expression is not enabled"},
    {"foo[5m] smoothed", "1:1: parse error: smoothed modifier is experimental and not enabled"},
    {"foo anchored", "1:1: parse error: anchored modifier is experimental and not enabled"},
    {"a + fill(0) b", "1:1: parse error: binop fill modifiers are experimental and not enabled"},
    {"a </ 1", "1:3: parse error: native histogram trim operator \"</\" is not supported"},
    {"1 offset 1d",
     "1:1: parse error: offset modifier must be preceded by an instant vector selector or range "
     "vector selector or a subquery"},
    {"sum(x) offset 1d",
     "1:1: parse error: offset modifier must be preceded by an instant vector selector or range "
     "vector selector or a subquery"},
    {"foo offset 1s offset 2s", "1:1: parse error: offset may not be set multiple times"},
    {"foo[5m] offset 1s offset 2s", "1:1: parse error: offset may not be set multiple times"},
    {"some_metric OFFSET 1m[5m]", "1:22: parse error: no offset modifiers allowed before range"},
    {"some_metric @ 1234 [5m]", "1:20: parse error: no @ modifiers allowed before range"},
    {"some_metric @ start() [5m]", "1:23: parse error: no @ modifiers allowed before range"},
    {"some_metric @ end()[5m]", "1:20: parse error: no @ modifiers allowed before range"},
    {"(foo + bar)[5m]", "1:12: parse error: ranges only allowed for vector selectors"},
    {"rate(food[1m])[1h] offset 1h", "1:15: parse error: ranges only allowed for vector selectors"},
    {"foo[5m][5m]", "1:8: parse error: ranges only allowed for vector selectors"},
    {"1[5m]", "1:2: parse error: ranges only allowed for vector selectors"},
    {"rate(some_metric[5m]) @ 1234",
     "1:1: parse error: @ modifier must be preceded by an instant vector selector or range vector "
     "selector or a subquery"},
    {"foo @ 1 @ 2", "1:1: parse error: @ <timestamp> may not be set multiple times"},
    {"foo @ start() @ end()", "1:1: parse error: @ <timestamp> may not be set multiple times"},
    {"foo @ +Inf", "1:1: parse error: timestamp out of bounds for @ modifier: +Inf"},
    {"foo @ -Inf", "1:1: parse error: timestamp out of bounds for @ modifier: -Inf"},
    {"foo @ NaN", "1:1: parse error: timestamp out of bounds for @ modifier: NaN"},
    {"foo @ 1e19",
     "1:1: parse error: timestamp out of bounds for @ modifier: 10000000000000000000.000000"},
    {"foo @ -1e16",
     "1:1: parse error: timestamp out of bounds for @ modifier: -10000000000000000.000000"},
    {"foo{a=~\"(\"}", "1:5: parse error: error parsing regexp: missing closing ): `(`"},
    {"foo{a=~\"a**\"}",
     "1:5: parse error: error parsing regexp: invalid nested repetition operator: `**`"},
    {"foo{a=~\"[z-a]\"}",
     "1:5: parse error: error parsing regexp: invalid character class range: `z-a`"},
    {"foo{a=~\"\\\\q\"}", "1:5: parse error: error parsing regexp: invalid escape sequence: `\\q`"},
    {"sum by (\"\") (x)", "1:9: parse error: invalid label name for grouping: \"\""},
    {"sum by (\"\\xff\") (x)", "1:9: parse error: invalid label name for grouping: \"\\xff\""},
    // Type checking (only once everything parsed).
    {"1 and 1", "1:1: parse error: set operator \"and\" not allowed in binary scalar expression"},
    {"1 == 1", "1:3: parse error: comparisons between scalars must use BOOL modifier"},
    {"1 or 1", "1:1: parse error: set operator \"or\" not allowed in binary scalar expression"},
    {"1 unless 1",
     "1:1: parse error: set operator \"unless\" not allowed in binary scalar expression"},
    {"foo and 1", "1:1: parse error: set operator \"and\" not allowed in binary scalar expression"},
    {"1 and foo", "1:1: parse error: set operator \"and\" not allowed in binary scalar expression"},
    {"1 or on(bar) foo", "1:1: parse error: vector matching only allowed between instant vectors"},
    {"foo == on(bar) 10", "1:1: parse error: vector matching only allowed between instant vectors"},
    {"foo and on(bar) group_left(baz) bar",
     "1:1: parse error: no grouping allowed for \"and\" operation"},
    {"foo or on(bar) group_right(baz) bar",
     "1:1: parse error: no grouping allowed for \"or\" operation"},
    {"foo unless on(bar) group_left(baz) bar",
     "1:1: parse error: no grouping allowed for \"unless\" operation"},
    {"http_requests{group=\"production\"} + on(instance) group_left(job,instance) "
     "cpu_count{type=\"smp\"}",
     "1:35: parse error: label \"instance\" must not occur in ON and GROUP clause at once"},
    {"foo + bool bar", "1:5: parse error: bool modifier can only be used on comparison operators"},
    {"foo + bool 10", "1:5: parse error: bool modifier can only be used on comparison operators"},
    {"foo and bool 10", "1:5: parse error: bool modifier can only be used on comparison operators"},
    {"1\n  == 1", "2:3: parse error: comparisons between scalars must use BOOL modifier"},
    {"foo[5m] + 1",
     "1:1: parse error: binary expression must contain only scalar and instant vector types"},
    {"1 + foo[5m]",
     "1:5: parse error: binary expression must contain only scalar and instant vector types"},
    {"\"a\" + 1",
     "1:1: parse error: binary expression must contain only scalar and instant vector types"},
    {"-\"string\"",
     "1:1: parse error: unary expression only allowed on expressions of type scalar or instant "
     "vector, got \"string\""},
    {"-test[5m]",
     "1:1: parse error: unary expression only allowed on expressions of type scalar or instant "
     "vector, got \"range vector\""},
    {"{}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{x=\"\"}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{x=~\".*\"}",
     "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{x!~\".+\"}",
     "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{x!=\"a\"}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{__name__=~\".*\"}",
     "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"foo{__name__=\"bar\"}",
     "1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\""},
    {"foo{__name__=~\"bar\"}",
     "1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\""},
    {"sum(foo[5m])",
     "1:5: parse error: expected type instant vector in aggregation expression, got range vector"},
    {"sum(1)",
     "1:5: parse error: expected type instant vector in aggregation expression, got scalar"},
    {"topk(some_metric, other_metric)",
     "1:6: parse error: expected type scalar in aggregation parameter, got instant vector"},
    {"count_values(5, other_metric)",
     "1:14: parse error: expected type string in aggregation parameter, got scalar"},
    {"quantile(\"a\", x)",
     "1:10: parse error: expected type scalar in aggregation parameter, got string"},
    {"floor()", "1:1: parse error: expected 1 argument(s) in call to \"floor\", got 0"},
    {"floor(some_metric, other_metric)",
     "1:1: parse error: expected 1 argument(s) in call to \"floor\", got 2"},
    {"floor(1)",
     "1:7: parse error: expected type instant vector in call to function \"floor\", got scalar"},
    {"hour(some_metric, some_metric, some_metric)",
     "1:1: parse error: expected at most 1 argument(s) in call to \"hour\", got 3"},
    {"round(a, 1, 2)",
     "1:1: parse error: expected at most 2 argument(s) in call to \"round\", got 3"},
    {"label_join(a, \"b\")",
     "1:1: parse error: expected at least 3 argument(s) in call to \"label_join\", got 2"},
    {"label_join(a, \"b\", \"c\", \"d\", 1)",
     "1:30: parse error: expected type string in call to function \"label_join\", got scalar"},
    {"time(some_metric)", "1:1: parse error: expected 0 argument(s) in call to \"time\", got 1"},
    {"rate(some_metric)",
     "1:6: parse error: expected type range vector in call to function \"rate\", got instant "
     "vector"},
    {"rate(avg)",
     "1:6: parse error: expected type range vector in call to function \"rate\", got instant "
     "vector"},
    {"test[5d] OFFSET 10s [10m:5s]",
     "1:1: parse error: subquery is only allowed on instant vector, got matrix instead"},
    {"(foo + bar{nm=\"val\"})[5m:][10m:5s]",
     "1:1: parse error: subquery is only allowed on instant vector, got matrix instead"},
    {"\"a\"[5m:]",
     "1:1: parse error: subquery is only allowed on instant vector, got string instead"},
    {"1[5m:]", "1:1: parse error: subquery is only allowed on instant vector, got scalar instead"},
    {"label_replace(a, `b`, `c\xff`, `d`, `.*`)", "1:23: parse error: invalid UTF-8 rune"},
    // Errors are reported on the line they occur on.
    {"sum(\n  rate(x[5m\n))",
     "3:1: parse error: unexpected \")\" in subquery or range, expected \":\" or \"]\""},
    {"foo\n\n  bar", "3:3: parse error: unexpected identifier \"bar\""},
};

TEST(ParseExprTest, ReportsPrometheusErrors) {
  for (const auto& c : kErrorCases) {
    auto expr = ParseExpr(c.input);
    ASSERT_FALSE(expr.ok()) << c.input << " parsed as " << (*expr)->ToString();
    EXPECT_EQ(expr.status().code(), StatusCode::kParseError) << c.input;
    EXPECT_EQ(expr.status().message(), c.error) << c.input;
  }
}

TEST(ParseExprTest, HugeNumbersAreErrorsNotInfinities) {
  const std::string nines(330, '9');
  auto e = ParseExpr(nines);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(),
            "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"" + nines +
                "\": value out of range");
  // Just below the limit is a finite number.
  auto big = ParseExpr(std::string(300, '9'));
  ASSERT_TRUE(big.ok());
  EXPECT_EQ((*big)->ToString(), "1" + std::string(300, '0'));
}

TEST(ParseExprTest, SubqueryIsARangeVectorArgument) {
  auto expr = ParseExpr("rate(x[5m:])");
  ASSERT_TRUE(expr.ok()) << expr.status().message();
  EXPECT_EQ((*expr)->ToString(), "rate(x[5m:])");
}

TEST(ParseExprTest, ExperimentalFunctionsCanBeDisabled) {
  ParseOptions options;
  options.enable_experimental_functions = false;
  auto call = ParseExpr("mad_over_time(x[5m])", options);
  ASSERT_FALSE(call.ok());
  EXPECT_EQ(call.status().message(), "1:1: parse error: function \"mad_over_time\" is not enabled");
  auto agg = ParseExpr("limitk(1, x)", options);
  ASSERT_FALSE(agg.ok());
  EXPECT_EQ(agg.status().message(),
            "1:1: parse error: limitk() is experimental and must be enabled with "
            "--enable-feature=promql-experimental-functions");
  EXPECT_TRUE(ParseExpr("rate(x[5m])", options).ok());
  EXPECT_TRUE(ParseExpr("mad_over_time(x[5m])").ok());
}

// ---- Tree shape.

template <typename T>
const T& As(const ExprPtr& e, ExprKind kind) {
  EXPECT_EQ(e->kind(), kind);
  return static_cast<const T&>(*e);
}

ExprPtr MustParse(std::string_view input) {
  auto expr = ParseExpr(input);
  EXPECT_TRUE(expr.ok()) << input << ": " << expr.status().message();
  if (!expr.ok()) return nullptr;
  return std::move(expr).value();
}

TEST(ParseExprTest, VectorSelectorFields) {
  ExprPtr e = MustParse(R"(foo{a="b", c!~"d"} offset -5m @ 12.3456)");
  ASSERT_NE(e, nullptr);
  const auto& vs = As<VectorSelector>(e, ExprKind::kVectorSelector);
  EXPECT_EQ(vs.type(), ValueType::kVector);
  EXPECT_EQ(vs.name, "foo");
  ASSERT_EQ(vs.matchers.size(), 3u);
  EXPECT_EQ(vs.matchers[0].ToString(), R"(a="b")");
  EXPECT_EQ(vs.matchers[1].type(), MatchType::kRegexNoMatch);
  // The name written outside the braces becomes the last matcher.
  EXPECT_EQ(vs.matchers[2].ToString(), R"(__name__="foo")");
  EXPECT_EQ(vs.offset_ms, -5 * 60 * 1000);
  EXPECT_EQ(vs.at, AtKind::kTimestamp);
  EXPECT_EQ(vs.at_ms, 12346);  // rounded to milliseconds
  EXPECT_EQ(vs.pos.start, 0);
  EXPECT_EQ(vs.pos.end, static_cast<int>(
                            std::string_view(R"(foo{a="b", c!~"d"} offset -5m @ 12.3456)").size()));
}

TEST(ParseExprTest, MatrixAndSubqueryFields) {
  ExprPtr m = MustParse("foo[90s] offset 1h @ end()");
  ASSERT_NE(m, nullptr);
  const auto& ms = As<MatrixSelector>(m, ExprKind::kMatrixSelector);
  EXPECT_EQ(ms.type(), ValueType::kMatrix);
  EXPECT_EQ(ms.range_ms, 90'000);
  ASSERT_NE(ms.selector, nullptr);
  EXPECT_EQ(ms.selector->offset_ms, 3'600'000);
  EXPECT_EQ(ms.selector->at, AtKind::kEnd);

  ExprPtr s = MustParse("rate(foo[1m])[1h:30s] offset 10m @ start()");
  ASSERT_NE(s, nullptr);
  const auto& sq = As<SubqueryExpr>(s, ExprKind::kSubquery);
  EXPECT_EQ(sq.type(), ValueType::kMatrix);
  EXPECT_EQ(sq.range_ms, 3'600'000);
  EXPECT_EQ(sq.step_ms, 30'000);
  EXPECT_EQ(sq.offset_ms, 600'000);
  EXPECT_EQ(sq.at, AtKind::kStart);
  ASSERT_NE(sq.expr, nullptr);
  EXPECT_EQ(sq.expr->kind(), ExprKind::kCall);

  ExprPtr d = MustParse("foo[5m:]");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(As<SubqueryExpr>(d, ExprKind::kSubquery).step_ms, 0);

  ExprPtr n = MustParse("foo[2.5] offset 0.25");
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(As<MatrixSelector>(n, ExprKind::kMatrixSelector).range_ms, 2500);
}

TEST(ParseExprTest, PrecedenceShapesTheTree) {
  // -2^2 is -(2^2); a - b - c is (a - b) - c; 2^3^2 is 2^(3^2).
  ExprPtr e = MustParse("-2^2");
  ASSERT_NE(e, nullptr);
  const auto& u = As<UnaryExpr>(e, ExprKind::kUnary);
  EXPECT_TRUE(u.negate);
  EXPECT_EQ(u.type(), ValueType::kScalar);
  EXPECT_EQ(As<BinaryExpr>(u.expr, ExprKind::kBinary).op, BinaryOp::kPow);

  ExprPtr l = MustParse("a - b - c");
  ASSERT_NE(l, nullptr);
  const auto& outer = As<BinaryExpr>(l, ExprKind::kBinary);
  EXPECT_EQ(outer.lhs->kind(), ExprKind::kBinary);
  EXPECT_EQ(outer.rhs->kind(), ExprKind::kVectorSelector);

  ExprPtr r = MustParse("2^3^2");
  ASSERT_NE(r, nullptr);
  const auto& pow = As<BinaryExpr>(r, ExprKind::kBinary);
  EXPECT_EQ(pow.lhs->kind(), ExprKind::kNumberLiteral);
  EXPECT_EQ(pow.rhs->kind(), ExprKind::kBinary);

  // or < and/unless < comparisons < +- < */% atan2 < ^.
  ExprPtr p = MustParse("a or b and c == d + e * f ^ g");
  ASSERT_NE(p, nullptr);
  const BinaryExpr* node = &As<BinaryExpr>(p, ExprKind::kBinary);
  const BinaryOp chain[] = {BinaryOp::kOr,  BinaryOp::kAnd, BinaryOp::kEql,
                            BinaryOp::kAdd, BinaryOp::kMul, BinaryOp::kPow};
  for (BinaryOp op : chain) {
    ASSERT_NE(node, nullptr);
    EXPECT_EQ(node->op, op);
    node = node->rhs->kind() == ExprKind::kBinary ? static_cast<const BinaryExpr*>(node->rhs.get())
                                                  : nullptr;
  }
  // Unary minus binds like '*': -a * b is (-a) * b.
  ExprPtr m = MustParse("-a * b");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(As<BinaryExpr>(m, ExprKind::kBinary).lhs->kind(), ExprKind::kUnary);
}

TEST(ParseExprTest, UnaryMinusFoldsIntoNumbers) {
  ExprPtr e = MustParse("- 5");
  ASSERT_NE(e, nullptr);
  const auto& n = As<NumberLiteral>(e, ExprKind::kNumberLiteral);
  EXPECT_EQ(n.value, -5);
  EXPECT_EQ(n.pos.start, 0);
  ExprPtr d = MustParse("-5m");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(As<NumberLiteral>(d, ExprKind::kNumberLiteral).value, -300);
  ExprPtr i = MustParse("-Inf");
  ASSERT_NE(i, nullptr);
  EXPECT_TRUE(std::isinf(As<NumberLiteral>(i, ExprKind::kNumberLiteral).value));
}

TEST(ParseExprTest, BinaryMatchingAndTypes) {
  ExprPtr e = MustParse("a * on(x, y) group_left(z) b");
  ASSERT_NE(e, nullptr);
  const auto& b = As<BinaryExpr>(e, ExprKind::kBinary);
  EXPECT_EQ(b.type(), ValueType::kVector);
  ASSERT_TRUE(b.matching.has_value());
  EXPECT_TRUE(b.matching->on);
  EXPECT_EQ(b.matching->card, Cardinality::kManyToOne);
  EXPECT_EQ(b.matching->matching_labels, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(b.matching->include, (std::vector<std::string>{"z"}));

  ExprPtr s = MustParse("a and b");
  ASSERT_NE(s, nullptr);
  const auto& set = As<BinaryExpr>(s, ExprKind::kBinary);
  ASSERT_TRUE(set.matching.has_value());
  EXPECT_EQ(set.matching->card, Cardinality::kManyToMany);

  ExprPtr v = MustParse("a / ignoring(q) b");
  ASSERT_NE(v, nullptr);
  const auto& ign = As<BinaryExpr>(v, ExprKind::kBinary);
  ASSERT_TRUE(ign.matching.has_value());
  EXPECT_FALSE(ign.matching->on);
  EXPECT_EQ(ign.matching->card, Cardinality::kOneToOne);

  // Scalar sides get no vector matching.
  ExprPtr m = MustParse("a > bool 1");
  ASSERT_NE(m, nullptr);
  const auto& mixed = As<BinaryExpr>(m, ExprKind::kBinary);
  EXPECT_FALSE(mixed.matching.has_value());
  EXPECT_TRUE(mixed.return_bool);
  EXPECT_EQ(mixed.type(), ValueType::kVector);

  ExprPtr sc = MustParse("1 + 2 * 3");
  ASSERT_NE(sc, nullptr);
  EXPECT_EQ(sc->type(), ValueType::kScalar);
  EXPECT_FALSE(As<BinaryExpr>(sc, ExprKind::kBinary).matching.has_value());
}

TEST(ParseExprTest, AggregateFields) {
  ExprPtr e = MustParse("topk without (a, \"b.c\") (3, x)");
  ASSERT_NE(e, nullptr);
  const auto& a = As<AggregateExpr>(e, ExprKind::kAggregate);
  EXPECT_EQ(a.op, AggregateOp::kTopK);
  EXPECT_TRUE(a.without);
  EXPECT_EQ(a.grouping, (std::vector<std::string>{"a", "b.c"}));
  ASSERT_NE(a.param, nullptr);
  EXPECT_EQ(a.param->kind(), ExprKind::kNumberLiteral);
  ASSERT_NE(a.expr, nullptr);
  EXPECT_EQ(a.expr->kind(), ExprKind::kVectorSelector);

  ExprPtr s = MustParse("sum(x) by (job)");
  ASSERT_NE(s, nullptr);
  const auto& sum = As<AggregateExpr>(s, ExprKind::kAggregate);
  EXPECT_EQ(sum.op, AggregateOp::kSum);
  EXPECT_FALSE(sum.without);
  EXPECT_EQ(sum.param, nullptr);
  EXPECT_EQ(sum.grouping, (std::vector<std::string>{"job"}));
}

TEST(ParseExprTest, CallFields) {
  ExprPtr e = MustParse("clamp_max(rate(x[5m]), 10)");
  ASSERT_NE(e, nullptr);
  const auto& c = As<Call>(e, ExprKind::kCall);
  ASSERT_NE(c.func, nullptr);
  EXPECT_EQ(c.func->name, "clamp_max");
  EXPECT_EQ(c.type(), ValueType::kVector);
  ASSERT_EQ(c.args.size(), 2u);
  EXPECT_EQ(c.args[0]->type(), ValueType::kVector);
  EXPECT_EQ(c.args[1]->type(), ValueType::kScalar);

  ExprPtr t = MustParse("time()");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->type(), ValueType::kScalar);
  ExprPtr p = MustParse("(scalar(x))");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->kind(), ExprKind::kParen);
  EXPECT_EQ(p->type(), ValueType::kScalar);
}

TEST(ParseExprTest, StringEscapesAreDecoded) {
  ExprPtr e = MustParse(R"("\x41\101\u00e9\t\\")");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(As<StringLiteral>(e, ExprKind::kStringLiteral).value, "AA\xc3\xa9\t\\");
  ExprPtr raw = MustParse("`\\n`");
  ASSERT_NE(raw, nullptr);
  EXPECT_EQ(As<StringLiteral>(raw, ExprKind::kStringLiteral).value, "\\n");
  ExprPtr bytes = MustParse(R"(foo{a="\xff"})");
  ASSERT_NE(bytes, nullptr);
  EXPECT_EQ(As<VectorSelector>(bytes, ExprKind::kVectorSelector).matchers[0].value(), "\xff");
}

TEST(ParseExprTest, DeepNestingIsRefusedNotCrashed) {
  std::string deep(100000, '(');
  deep += "1";
  deep += std::string(100000, ')');
  auto e = ParseExpr(deep);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("nested too deeply"), std::string_view::npos)
      << e.status().message();

  std::string chain = "1";
  for (int i = 0; i < 5000; ++i) chain += " + 1";
  auto c = ParseExpr(chain);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("nested too deeply"), std::string_view::npos);

  std::string unary(50000, '-');
  unary += "foo";
  EXPECT_FALSE(ParseExpr(unary).ok());

  // Deep but within the limit is fine.
  std::string ok(400, '(');
  ok += "foo";
  ok += std::string(400, ')');
  auto fine = ParseExpr(ok);
  ASSERT_TRUE(fine.ok()) << fine.status().message();
  EXPECT_EQ((*fine)->ToString(), ok);
}

TEST(ParseExprTest, PositionsCountBytesAndLines) {
  auto e = ParseExpr("foo{a=\"\xc3\xa9\"} +\n  bar baz");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(), "2:7: parse error: unexpected identifier \"baz\"");
}

// ---- ParseMetric / ParseMetricSelector.

TEST(ParseMetricTest, SeriesDescriptions) {
  auto a = ParseMetric(R"(foo{b="2", a="1"})");
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(*a, (Labels{{"__name__", "foo"}, {"a", "1"}, {"b", "2"}}));

  auto b = ParseMetric(R"({__name__="x", a="b"})");
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(*b, (Labels{{"__name__", "x"}, {"a", "b"}}));

  auto c = ParseMetric("name");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, (Labels{{"__name__", "name"}}));

  auto d = ParseMetric("{}");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->empty());

  auto e = ParseMetric(R"({"metric.name", "l.x"="v",})");
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(*e, (Labels{{"__name__", "metric.name"}, {"l.x", "v"}}));

  auto f = ParseMetric(R"(sum{a="\n"})");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->Get("a"), "\n");
  EXPECT_EQ(f->MetricName(), "sum");
}

TEST(ParseMetricTest, PrintedLabelsParseBack) {
  for (const char* input : {R"({__name__="NaN"})", R"({__name__="on", a="b"})", R"(up{a="\xff"})",
                            R"({"a.b"="c", __name__="x:y"})", R"({""="x"})", "sum"}) {
    auto labels = ParseMetric(input);
    ASSERT_TRUE(labels.ok()) << input << ": " << labels.status().message();
    auto again = ParseMetric(labels->ToString());
    ASSERT_TRUE(again.ok()) << labels->ToString() << ": " << again.status().message();
    EXPECT_EQ(*again, *labels) << input;
  }
}

TEST(ParseMetricTest, Errors) {
  const ErrorCase cases[] = {
      {R"(foo{a!="b"})", "1:6: parse error: unexpected <op:!=> in label set, expected \"=\""},
      {R"(foo{a=~"b"})", "1:6: parse error: unexpected <op:=~> in label set, expected \"=\""},
      {R"({a=b})", "1:4: parse error: unexpected identifier \"b\" in label set, expected string"},
      {R"({a="b" xx})",
       "1:8: parse error: unexpected identifier \"xx\" in label set, expected \",\" or \"}\""},
      {R"({,})", "1:2: parse error: unexpected \",\" in label set, expected identifier or \"}\""},
      {R"({a="b",,})",
       "1:8: parse error: unexpected \",\" in label set, expected identifier or \"}\""},
      {R"({"a"=,})", "1:6: parse error: unexpected \",\" in label set, expected string"},
      {R"(foo bar)", "1:5: parse error: unexpected identifier \"bar\""},
      {R"(foo{a="b"} 1)", "1:12: parse error: unexpected number \"1\""},
      {R"(foo{)", "1:5: parse error: unexpected end of input inside braces"},
  };
  for (const auto& c : cases) {
    auto m = ParseMetric(c.input);
    ASSERT_FALSE(m.ok()) << c.input;
    EXPECT_EQ(m.status().message(), c.error) << c.input;
  }
}

TEST(ParseMetricSelectorTest, Matchers) {
  auto m = ParseMetricSelector(R"(up{job=~"a|b", env!="prod"})");
  ASSERT_TRUE(m.ok()) << m.status().message();
  ASSERT_EQ(m->size(), 3u);
  EXPECT_EQ((*m)[0].ToString(), R"(job=~"a|b")");
  EXPECT_TRUE((*m)[0].Matches("b"));
  EXPECT_FALSE((*m)[0].Matches("ab"));
  EXPECT_EQ((*m)[1].ToString(), R"(env!="prod")");
  EXPECT_EQ((*m)[2].ToString(), R"(__name__="up")");

  auto only = ParseMetricSelector(R"({__name__=~"x.*"})");
  ASSERT_TRUE(only.ok());
  EXPECT_EQ(only->size(), 1u);

  auto bad = ParseMetricSelector("up + 1");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "1:4: parse error: unexpected <op:+>");
  EXPECT_FALSE(ParseMetricSelector("rate(x[5m])").ok());
  EXPECT_FALSE(ParseMetricSelector("").ok());
  EXPECT_FALSE(ParseMetricSelector(R"(x{a=~"("})").ok());
}

// ---- The function table.

TEST(FunctionTableTest, ArgumentAndReturnTypes) {
  const Function* rate = LookupFunction("rate");
  ASSERT_NE(rate, nullptr);
  EXPECT_EQ(rate->arg_types, (std::vector<ValueType>{ValueType::kMatrix}));
  EXPECT_EQ(rate->return_type, ValueType::kVector);
  EXPECT_EQ(rate->variadic, 0);

  const Function* label_join = LookupFunction("label_join");
  ASSERT_NE(label_join, nullptr);
  EXPECT_EQ(label_join->variadic, -1);
  EXPECT_EQ(label_join->arg_types.size(), 4u);

  const Function* round = LookupFunction("round");
  ASSERT_NE(round, nullptr);
  EXPECT_EQ(round->variadic, 1);

  const Function* scalar = LookupFunction("scalar");
  ASSERT_NE(scalar, nullptr);
  EXPECT_EQ(scalar->return_type, ValueType::kScalar);

  EXPECT_TRUE(LookupFunction("mad_over_time")->experimental);
  EXPECT_TRUE(LookupFunction("sort_by_label")->experimental);
  EXPECT_FALSE(LookupFunction("holt_winters")->experimental);
  EXPECT_EQ(LookupFunction("Rate"), nullptr);
  EXPECT_EQ(LookupFunction("info"), nullptr);
  EXPECT_EQ(LookupFunction(""), nullptr);
}

// One entry carries what the type checker, the evaluator and the rule
// analysis each need; the kinds must agree with the signatures.
TEST(FunctionTableTest, EveryEntryHasAnEvaluationKindAndAConsistentQuietClass) {
  for (const Function& f : AllFunctions()) {
    SCOPED_TRACE(std::string(f.name));
    EXPECT_NE(f.kind, FunctionKind::kUnknown);
    const bool takes_matrix = std::find(f.arg_types.begin(), f.arg_types.end(),
                                        ValueType::kMatrix) != f.arg_types.end();
    switch (f.quiet) {
      case QuietClass::kWindow:
      case QuietClass::kWindowLastValue:
        EXPECT_TRUE(takes_matrix);
        EXPECT_EQ(f.return_type, ValueType::kVector);
        break;
      case QuietClass::kElementwise:
        ASSERT_FALSE(f.arg_types.empty());
        EXPECT_EQ(f.arg_types[0], ValueType::kVector);
        EXPECT_EQ(f.return_type, ValueType::kVector);
        break;
      case QuietClass::kConstant:
        EXPECT_TRUE(f.arg_types.empty());
        EXPECT_EQ(f.return_type, ValueType::kScalar);
        break;
      default:
        break;
    }
  }
  // Two names, one evaluation.
  EXPECT_EQ(LookupFunction("holt_winters")->kind,
            LookupFunction("double_exponential_smoothing")->kind);
  EXPECT_EQ(LookupFunction("rate")->quiet, QuietClass::kWindow);
  EXPECT_EQ(LookupFunction("last_over_time")->quiet, QuietClass::kWindowLastValue);
  EXPECT_EQ(LookupFunction("time")->quiet, QuietClass::kAny);
  EXPECT_TRUE(LookupFunction("absent")->makes_elements);
  EXPECT_FALSE(LookupFunction("abs")->makes_elements);
}

TEST(FunctionTableTest, SortedUniqueAndComplete) {
  const auto& all = AllFunctions();
  for (std::size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].name, all[i].name);
  const char* required[] = {"abs",
                            "absent",
                            "absent_over_time",
                            "acos",
                            "acosh",
                            "asin",
                            "asinh",
                            "atan",
                            "atanh",
                            "avg_over_time",
                            "ceil",
                            "changes",
                            "clamp",
                            "clamp_max",
                            "clamp_min",
                            "cos",
                            "cosh",
                            "count_over_time",
                            "days_in_month",
                            "day_of_month",
                            "day_of_week",
                            "day_of_year",
                            "deg",
                            "delta",
                            "deriv",
                            "exp",
                            "floor",
                            "first_over_time",
                            "histogram_avg",
                            "histogram_count",
                            "histogram_fraction",
                            "histogram_quantile",
                            "histogram_stddev",
                            "histogram_stdvar",
                            "histogram_sum",
                            "hour",
                            "idelta",
                            "increase",
                            "irate",
                            "label_replace",
                            "label_join",
                            "last_over_time",
                            "ln",
                            "log10",
                            "log2",
                            "mad_over_time",
                            "max_over_time",
                            "min_over_time",
                            "minute",
                            "month",
                            "pi",
                            "predict_linear",
                            "present_over_time",
                            "quantile_over_time",
                            "rad",
                            "rate",
                            "resets",
                            "round",
                            "scalar",
                            "sgn",
                            "sin",
                            "sinh",
                            "sort",
                            "sort_desc",
                            "sort_by_label",
                            "sort_by_label_desc",
                            "sqrt",
                            "stddev_over_time",
                            "stdvar_over_time",
                            "sum_over_time",
                            "tan",
                            "tanh",
                            "time",
                            "timestamp",
                            "vector",
                            "year",
                            "double_exponential_smoothing",
                            "ts_of_first_over_time",
                            "ts_of_last_over_time",
                            "ts_of_max_over_time",
                            "ts_of_min_over_time",
                            "holt_winters"};
  for (const char* name : required) {
    const Function* f = LookupFunction(name);
    ASSERT_NE(f, nullptr) << name;
    EXPECT_EQ(f->name, name);
    // Every function can be called with a well-typed argument list.
    std::string call = std::string(name) + "(";
    const std::size_t n = f->variadic == 0 ? f->arg_types.size() : f->arg_types.size();
    for (std::size_t i = 0; i < n; ++i) {
      if (i > 0) call += ", ";
      switch (f->arg_types[i]) {
        case ValueType::kScalar:
          call += "1";
          break;
        case ValueType::kVector:
          call += "x";
          break;
        case ValueType::kMatrix:
          call += "x[5m]";
          break;
        case ValueType::kString:
          call += "\"a\"";
          break;
        case ValueType::kNone:
          break;
      }
    }
    call += ")";
    auto parsed = ParseExpr(call);
    ASSERT_TRUE(parsed.ok()) << call << ": " << parsed.status().message();
    EXPECT_EQ((*parsed)->type(), f->return_type) << call;
  }
  EXPECT_EQ(all.size(), std::size(required));
}

}  // namespace
}  // namespace nimify::promql
