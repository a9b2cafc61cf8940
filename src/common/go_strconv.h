// Number parsing and formatting and string quoting with the exact rules of
// Go's strconv, shared by the PromQL parser and evaluator, the test-series
// notation, the promtool runner, the ingest codecs, the actions and the
// template engine (Prometheus prints and reads numbers and strings as Go does).
// The one home of these Go text helpers, with common/utf8.h (UTF-8 and
// unicode.IsPrint); callers add only their own policy on top.
#ifndef NIMIFY_COMMON_GO_STRCONV_H_
#define NIMIFY_COMMON_GO_STRCONV_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace nimify::internal {

// Go's strconv underscoreOK: in a number with an optional sign and base
// prefix, each '_' must sit between digits (or right after the prefix).
bool GoUnderscoresOk(std::string_view s) noexcept;

// strconv.ParseInt(s, 0, 64): optional sign, 0b/0o/0x prefixes, a leading 0
// means octal, '_' separators. False on bad syntax or out of int64 range.
bool ParseGoInt(std::string_view s, std::int64_t* out) noexcept;

// The outcome of ParseGoFloat, as Go's *NumError.Err: nil, ErrSyntax or ErrRange.
enum class GoNumError { kNone, kSyntax, kRange };

// strconv.ParseFloat(s, 64): decimal and hexadecimal (0x1.8p3, 'p' exponent
// required) floats, '_' digit separators where Go allows them, and
// case-insensitive "Inf", "Infinity" (either with a sign) and "NaN" (without).
// Rounds to nearest even. Overflow gives kRange and *value = ±Inf; underflow
// gives (signed) zero or a subnormal without an error. On kSyntax *value is
// left alone. Callers refuse forms their format does not allow beforehand
// (Prometheus's text format refuses 'p' and '_').
//   ParseGoFloat("1_000.5", &v)  // kNone, 1000.5
//   ParseGoFloat("0x1p-2", &v)   // kNone, 0.25
//   ParseGoFloat("1e400", &v)    // kRange, +Inf
GoNumError ParseGoFloat(std::string_view s, double* value) noexcept;

// Go's message for a ParseFloat error (`e` is not kNone):
//   strconv.ParseFloat: parsing "1e400": value out of range
std::string GoParseFloatError(std::string_view s, GoNumError e);

// How GoQuote escapes: strconv.Quote is the default; `quote` '\'' with
// ascii_only false is QuoteRune's escaping, ascii_only true is QuoteToASCII.
struct GoQuoteStyle {
  char quote = '"';
  bool ascii_only = false;
  // Escape U+FFFD (printable for Go) as \ufffd. PromQL's lexer refuses a
  // literal U+FFFD in a string, so printed queries escape it to stay parseable.
  bool escape_replacement_char = false;
};

// strconv's appendEscapedRune: `rune` as it appears inside a quoted literal.
void AppendGoEscapedRune(std::int32_t rune, const GoQuoteStyle& style, std::string* out);
// strconv.Quote with `style`, appended to *out: invalid UTF-8 bytes become \xNN.
void AppendGoQuoted(std::string_view s, const GoQuoteStyle& style, std::string* out);

// strconv.Quote, QuoteToASCII and QuoteRune (an invalid rune quotes as U+FFFD).
//   GoQuote("a\tb\u00a0")   // "\"a\\tb\\u00a0\""
std::string GoQuote(std::string_view s);
std::string GoQuoteToAscii(std::string_view s);
std::string GoQuoteRune(std::int32_t rune);

// The byte a one-letter Go escape stands for (\a \b \f \n \r \t \v \\), or -1.
// Quote escapes are left to callers: which quote may be escaped depends on the string.
int GoSimpleEscape(char letter) noexcept;

// strconv.FormatFloat(v, fmt, prec, 64) for fmt in b e E f g G x X; prec -1 is
// the shortest representation that reads back as v. NaN, +Inf and -Inf are
// spelled as Go spells them. Also fmt's %v (g, -1), %.Ng (g, N) and %f (f, 6).
//   FormatGoFloat(1e6, 'g', -1)   // "1e+06"
//   FormatGoFloat(0.1, 'f', -1)   // "0.1"
std::string FormatGoFloat(double v, char fmt, int prec);

}  // namespace nimify::internal

#endif  // NIMIFY_COMMON_GO_STRCONV_H_
