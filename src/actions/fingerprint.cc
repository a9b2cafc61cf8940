#include "actions/fingerprint.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "common/utf8.h"

namespace nimify::actions {

namespace {

constexpr std::uint64_t kFnvOffset64 = 14695981039346656037ULL;
constexpr std::uint64_t kFnvPrime64 = 1099511628211ULL;
constexpr unsigned char kSeparatorByte = 0xff;

std::uint64_t HashAdd(std::uint64_t h, std::string_view s) noexcept {
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= kFnvPrime64;
  }
  return h;
}

std::uint64_t HashAddByte(std::uint64_t h, unsigned char b) noexcept {
  h ^= b;
  h *= kFnvPrime64;
  return h;
}

void AppendHex(std::uint32_t v, int digits, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; --i) out->push_back(kHex[(v >> (4 * i)) & 0xf]);
}

// Go's unicode.IsPrint, approximated: controls, DEL..U+009F, the line and
// paragraph separators and non-characters are escaped; other runes are kept.
bool IsGoPrintable(std::int32_t r) noexcept {
  if (r < 0x20 || (r >= 0x7f && r <= 0xa0) || r == 0xad) return false;
  if (r == 0x2028 || r == 0x2029 || r == 0xfeff) return false;
  if ((r & 0xfffe) == 0xfffe) return false;
  return true;
}

}  // namespace

std::uint64_t Fingerprint(const OwnedLabels& labels) noexcept {
  std::uint64_t h = kFnvOffset64;
  for (const OwnedLabel& l : labels) {
    h = HashAdd(h, l.name);
    h = HashAddByte(h, kSeparatorByte);
    h = HashAdd(h, l.value);
    h = HashAddByte(h, kSeparatorByte);
  }
  return h;
}

std::string FingerprintString(std::uint64_t fingerprint) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(fingerprint));
  return buf;
}

std::string GoQuote(std::string_view s) {
  std::string out = "\"";
  while (!s.empty()) {
    int width = 0;
    const std::int32_t r = internal::DecodeUtf8(s, &width);
    const std::string_view bytes = s.substr(0, static_cast<std::size_t>(width));
    s.remove_prefix(static_cast<std::size_t>(width));
    if (r == internal::kRuneError && width == 1) {
      out += "\\x";
      AppendHex(static_cast<unsigned char>(bytes[0]), 2, &out);
      continue;
    }
    switch (r) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\a':
        out += "\\a";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\v':
        out += "\\v";
        continue;
      default:
        break;
    }
    if (IsGoPrintable(r)) {
      out += bytes;
    } else if (r < 0x80) {
      out += "\\x";
      AppendHex(static_cast<std::uint32_t>(r), 2, &out);
    } else if (r < 0x10000) {
      out += "\\u";
      AppendHex(static_cast<std::uint32_t>(r), 4, &out);
    } else {
      out += "\\U";
      AppendHex(static_cast<std::uint32_t>(r), 8, &out);
    }
  }
  out += '"';
  return out;
}

std::string LabelSetString(const OwnedLabels& labels) {
  // Go sorts the formatted pairs, not the names ("a0=" sorts before "a=").
  std::vector<std::string> pairs;
  pairs.reserve(labels.size());
  for (const OwnedLabel& l : labels) pairs.push_back(l.name + "=" + GoQuote(l.value));
  std::sort(pairs.begin(), pairs.end());
  std::string out = "{";
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    if (i > 0) out += ", ";
    out += pairs[i];
  }
  out += '}';
  return out;
}

}  // namespace nimify::actions
