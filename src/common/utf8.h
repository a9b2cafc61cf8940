// UTF-8 and hex-digit helpers shared by every stage, with Go's semantics
// (unicode/utf8 and strconv), so PromQL, templates and the test notation all
// treat bad bytes and bad code points the same way.
#ifndef NIMIFY_COMMON_UTF8_H_
#define NIMIFY_COMMON_UTF8_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace nimify::internal {

inline constexpr std::int32_t kRuneError = 0xFFFD;
inline constexpr std::int32_t kMaxRune = 0x10FFFF;

// True for code points Go can encode: 0..U+10FFFF without surrogates.
constexpr bool IsValidRune(std::int32_t rune) noexcept {
  return rune >= 0 && rune <= kMaxRune && (rune < 0xD800 || rune > 0xDFFF);
}

// Appends `rune` as UTF-8, as Go's utf8.AppendRune: an invalid code point
// (negative, surrogate, above U+10FFFF) is written as U+FFFD.
void AppendUtf8(std::int32_t rune, std::string* out);

// Decodes the first code point of `s`, as Go's utf8.DecodeRuneInString:
// empty input gives U+FFFD with width 0; an invalid, truncated or overlong
// sequence or an encoded surrogate gives U+FFFD with width 1.
std::int32_t DecodeUtf8(std::string_view s, int* width) noexcept;

// utf8.ValidString for text that is not all ASCII (from its first non-ASCII byte).
bool IsValidUtf8Tail(std::string_view s) noexcept;

// Go's utf8.ValidString: no overlong forms, no surrogates, nothing above
// U+10FFFF, no truncated sequence. Inline because label values on the ingest
// path are nearly always ASCII: 8 bytes are tested at a time first.
inline bool IsValidUtf8(std::string_view s) noexcept {
  const char* p = s.data();
  const char* const end = p + s.size();
  while (end - p >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    if (word & 0x8080808080808080ull) return IsValidUtf8Tail(std::string_view(p, end));
    p += 8;
  }
  for (; p < end; ++p) {
    if (static_cast<unsigned char>(*p) >= 0x80) return IsValidUtf8Tail(std::string_view(p, end));
  }
  return true;
}

// Go's unicode.IsPrint (and strconv.IsPrint): letters, marks, numbers,
// punctuation, symbols and U+0020, from Unicode 15.0.0 tables as Go 1.21+
// has them. Other spaces (U+00A0, U+2000), controls, format characters
// (U+00AD, U+FEFF), private use, surrogates and unassigned code points are not.
bool IsGoPrint(std::int32_t rune) noexcept;

// The value of a hex digit (either case), or -1 for any other byte.
constexpr int HexDigitValue(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace nimify::internal

#endif  // NIMIFY_COMMON_UTF8_H_
