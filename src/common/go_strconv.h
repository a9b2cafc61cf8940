// Integer parsing, float formatting and string escapes with the exact rules of
// Go's strconv, shared by the PromQL parser and evaluator, the test-series
// notation, the promtool runner, the ingest codecs and the template engine
// (Prometheus prints and reads numbers as Go does).
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
