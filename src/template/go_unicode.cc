// Go's unicode/utf8 and unicode rune helpers as templates use them.
#include <cstdint>
#include <string>
#include <string_view>

#include "common/utf8.h"
#include "template/go_format.h"

namespace nimify::tmpl {

using internal::kMaxRune;
using internal::kRuneError;

std::int32_t DecodeRune(std::string_view s, int* width) { return internal::DecodeUtf8(s, width); }

std::int32_t DecodeLastRune(std::string_view s, int* width) {
  if (s.empty()) {
    *width = 0;
    return kRuneError;
  }
  std::size_t start = s.size() - 1;
  const std::size_t lim = s.size() >= 4 ? s.size() - 4 : 0;
  while (start > lim && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
  int w = 0;
  const std::int32_t r = DecodeRune(s.substr(start), &w);
  if (start + static_cast<std::size_t>(w) != s.size()) {
    *width = 1;
    return kRuneError;
  }
  *width = w;
  return r;
}

void AppendRune(std::string* out, std::int32_t r) { internal::AppendUtf8(r, out); }

std::size_t RuneCount(std::string_view s) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size();) {
    int w = 1;
    DecodeRune(s.substr(i), &w);
    i += static_cast<std::size_t>(w);
    ++n;
  }
  return n;
}

bool IsPrintRune(std::int32_t r) { return internal::IsGoPrint(r); }

bool IsLetterRune(std::int32_t r) {
  if (r < 0x80) return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z');
  if (r < 0x100)
    return r == 0xAA || r == 0xB5 || r == 0xBA || (r >= 0xC0 && r != 0xD7 && r != 0xF7);
  if (!IsPrintRune(r)) return false;
  // Symbols and punctuation blocks outside Latin-1 are not letters.
  if ((r >= 0x2010 && r <= 0x2BFF) || (r >= 0x3000 && r <= 0x303F) ||
      (r >= 0xFE30 && r <= 0xFE6F) || (r >= 0xFF01 && r <= 0xFF0F) ||
      (r >= 0x1F000 && r <= 0x1FAFF))
    return false;
  return true;
}

bool IsDigitRune(std::int32_t r) {
  if (r < 0x80) return r >= '0' && r <= '9';
  return (r >= 0x660 && r <= 0x669) || (r >= 0x6F0 && r <= 0x6F9) || (r >= 0x966 && r <= 0x96F) ||
         (r >= 0xFF10 && r <= 0xFF19);
}

bool IsSpaceRune(std::int32_t r) {
  switch (r) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xA0:
      return true;
    default:
      return r == 0x1680 || (r >= 0x2000 && r <= 0x200A) || r == 0x2028 || r == 0x2029 ||
             r == 0x202F || r == 0x205F || r == 0x3000;
  }
}

std::int32_t ToUpperRune(std::int32_t r) {
  if (r < 0x80) return (r >= 'a' && r <= 'z') ? r - 32 : r;
  if (r == 0xB5) return 0x39C;
  if (r == 0xFF) return 0x178;
  if (r >= 0xE0 && r <= 0xFE && r != 0xF7) return r - 32;
  if (r >= 0x100 && r <= 0x17F && r != 0x130 && r != 0x131 && r != 0x138 && r != 0x149 &&
      r != 0x17F) {
    const bool odd_lower = (r >= 0x139 && r <= 0x148) || (r >= 0x179 && r <= 0x17E);
    if (odd_lower) return (r % 2 == 0) ? r - 1 : r;
    return (r % 2 == 1) ? r - 1 : r;
  }
  if (r >= 0x3B1 && r <= 0x3C9 && r != 0x3C2) return r - 32;
  if (r == 0x3C2) return 0x3A3;
  if (r >= 0x430 && r <= 0x44F) return r - 32;
  if (r >= 0x450 && r <= 0x45F) return r - 80;
  return r;
}

std::int32_t ToLowerRune(std::int32_t r) {
  if (r < 0x80) return (r >= 'A' && r <= 'Z') ? r + 32 : r;
  if (r >= 0xC0 && r <= 0xDE && r != 0xD7) return r + 32;
  if (r == 0x178) return 0xFF;
  if (r >= 0x100 && r <= 0x17F && r != 0x130 && r != 0x131 && r != 0x138 && r != 0x149 &&
      r != 0x17F) {
    const bool odd_lower = (r >= 0x139 && r <= 0x148) || (r >= 0x179 && r <= 0x17E);
    if (odd_lower) return (r % 2 == 1) ? r + 1 : r;
    return (r % 2 == 0) ? r + 1 : r;
  }
  if (r >= 0x391 && r <= 0x3A9 && r != 0x3A2) return r + 32;
  if (r >= 0x410 && r <= 0x42F) return r + 32;
  if (r >= 0x400 && r <= 0x40F) return r + 80;
  return r;
}

}  // namespace nimify::tmpl
