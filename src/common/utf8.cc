#include "common/utf8.h"

#include <algorithm>
#include <iterator>

namespace nimify::internal {

void AppendUtf8(std::int32_t rune, std::string* out) {
  const auto u = static_cast<std::uint32_t>(IsValidRune(rune) ? rune : kRuneError);
  if (u < 0x80) {
    out->push_back(static_cast<char>(u));
  } else if (u < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (u >> 6)));
    out->push_back(static_cast<char>(0x80 | (u & 0x3F)));
  } else if (u < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (u >> 12)));
    out->push_back(static_cast<char>(0x80 | ((u >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (u & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (u >> 18)));
    out->push_back(static_cast<char>(0x80 | ((u >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((u >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (u & 0x3F)));
  }
}

std::int32_t DecodeUtf8(std::string_view s, int* width) noexcept {
  if (s.empty()) {
    *width = 0;
    return kRuneError;
  }
  const auto lead = static_cast<unsigned char>(s[0]);
  *width = 1;
  if (lead < 0x80) return lead;
  int length = 0;
  std::int32_t rune = 0;
  std::int32_t min_rune = 0;  // smaller values are overlong encodings
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    rune = lead & 0x1F;
    min_rune = 0x80;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    rune = lead & 0x0F;
    min_rune = 0x800;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    rune = lead & 0x07;
    min_rune = 0x10000;
  } else {
    return kRuneError;
  }
  if (s.size() < static_cast<std::size_t>(length)) return kRuneError;
  for (int i = 1; i < length; ++i) {
    const auto c = static_cast<unsigned char>(s[static_cast<std::size_t>(i)]);
    if ((c & 0xC0) != 0x80) return kRuneError;
    rune = (rune << 6) | (c & 0x3F);
  }
  if (rune < min_rune || !IsValidRune(rune)) return kRuneError;
  *width = length;
  return rune;
}

bool IsValidUtf8Tail(std::string_view s) noexcept {
  while (!s.empty()) {
    if (static_cast<unsigned char>(s[0]) < 0x80) {
      s.remove_prefix(1);
      continue;
    }
    int width = 0;
    if (DecodeUtf8(s, &width) == kRuneError && width == 1) return false;
    s.remove_prefix(static_cast<std::size_t>(width));
  }
  return true;
}

namespace {

struct RuneRange {
  std::uint32_t lo;
  std::uint32_t hi;
};

constexpr RuneRange kPrintRanges[] = {
#include "common/go_print_table.inc"
};

}  // namespace

bool IsGoPrint(std::int32_t rune) noexcept {
  if (rune < 0x100) {
    // Latin-1: ASCII graphic characters and space, then everything from
    // U+00A1 except the soft hyphen U+00AD (a format character).
    if (rune < 0x80) return rune >= 0x20 && rune < 0x7F;
    return rune > 0xA0 && rune != 0xAD;
  }
  const auto r = static_cast<std::uint32_t>(rune);
  const auto* it = std::upper_bound(std::begin(kPrintRanges), std::end(kPrintRanges), r,
                                    [](std::uint32_t v, const RuneRange& x) { return v < x.lo; });
  return it != std::begin(kPrintRanges) && r <= std::prev(it)->hi;
}

}  // namespace nimify::internal
