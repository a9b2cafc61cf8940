// Go's number and string formatting as Prometheus templates print them, one
// file per Go package: strconv (FormatFloat, ParseFloat, Quote, Unquote) in
// go_strconv.cc over common/go_strconv.h; fmt (Sprint, Sprintln, Sprintf with
// Go's verbs, flags and %!verb(type=value) errors) in go_fmt.cc; the String()
// and Format forms of time.Time and time.Duration in go_time_format.cc; and
// the unicode/utf8 rune helpers in go_unicode.cc.
//
//   FormatFloat(1e6, 'g', -1)            // "1e+06"
//   Sprintf("%.2f|%5s", {Float(1.5), String("ab")})  // "1.50|   ab"
#ifndef NIMIFY_TEMPLATE_GO_FORMAT_H_
#define NIMIFY_TEMPLATE_GO_FORMAT_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/go_strconv.h"
#include "nimify/status.h"
#include "template/go_value.h"

namespace nimify::tmpl {

// strconv.FormatFloat(v, fmt, prec, 64) for fmt in b e E f g G x X; prec -1 is
// the shortest representation that reads back as v.
inline std::string FormatFloat(double v, char fmt, int prec) {
  return internal::FormatGoFloat(v, fmt, prec);
}

// strconv.ParseFloat(s, 64). The error text is Go's, e.g.
// `strconv.ParseFloat: parsing "abc": invalid syntax`.
Result<double> ParseFloat(std::string_view s);

// Go's float64 -> int64 conversion as amd64 does it: NaN and out-of-range
// values become math.MinInt64.
std::int64_t GoFloatToInt64(double v) noexcept;

// strconv.Quote, QuoteToASCII, QuoteRune, CanBackquote.
std::string Quote(std::string_view s);
std::string QuoteToAscii(std::string_view s);
std::string QuoteRune(std::int32_t r);
bool CanBackquote(std::string_view s);

// strconv.Unquote for "..." and `...` literals; false on a syntax error.
bool Unquote(std::string_view quoted, std::string* out);
// strconv.UnquoteChar: decodes one (possibly escaped) character of a literal
// quoted with `quote`; false on a syntax error.
bool UnquoteChar(std::string_view* s, char quote, std::int32_t* rune);

// fmt.Sprint, fmt.Sprintln, fmt.Sprintf.
std::string Sprint(std::span<const Value> args);
std::string Sprintln(std::span<const Value> args);
std::string Sprintf(std::string_view format, std::span<const Value> args);

// url.QueryEscape: everything but [A-Za-z0-9-_.~] is %XX-escaped, space is '+'.
std::string UrlQueryEscape(std::string_view s);

// time.Time.String() of a UTC time: "2015-06-23 13:19:44.128 +0000 UTC".
std::string FormatTime(const TimeValue& t);
// time.Time.Format(layout) in UTC, for the common layout elements.
std::string FormatTimeLayout(const TimeValue& t, std::string_view layout);
// time.Duration.String(): "1h2m3.5s", "1.5µs", "0s".
std::string FormatDuration(std::int64_t nanos);

// UTF-8 helpers with Go's conventions: an invalid byte decodes as U+FFFD, width 1.
std::int32_t DecodeRune(std::string_view s, int* width);
std::int32_t DecodeLastRune(std::string_view s, int* width);
void AppendRune(std::string* out, std::int32_t r);
std::size_t RuneCount(std::string_view s);
// unicode.IsPrint, exactly (common/utf8.h's IsGoPrint).
bool IsPrintRune(std::int32_t r);
// unicode.IsLetter / IsDigit / IsSpace (exact for ASCII and Latin-1, approximated beyond).
bool IsLetterRune(std::int32_t r);
bool IsDigitRune(std::int32_t r);
bool IsSpaceRune(std::int32_t r);
// unicode.ToUpper / ToLower / ToTitle (ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic).
std::int32_t ToUpperRune(std::int32_t r);
std::int32_t ToLowerRune(std::int32_t r);

// fmt's %#U form used in Go's lexer errors: "U+0041 'A'".
std::string FormatUnicodeSharp(std::int32_t r);

}  // namespace nimify::tmpl

#endif  // NIMIFY_TEMPLATE_GO_FORMAT_H_
