// Integer parsing and string escapes with the exact rules of Go's strconv, shared by
// the PromQL parser, the test-series notation and the template engine (all follow Go).
#ifndef NIMIFY_COMMON_GO_STRCONV_H_
#define NIMIFY_COMMON_GO_STRCONV_H_

#include <cstdint>
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

}  // namespace nimify::internal

#endif  // NIMIFY_COMMON_GO_STRCONV_H_
