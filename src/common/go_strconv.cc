#include "common/go_strconv.h"

#include <limits>

namespace nimify::internal {
namespace {

bool IsDigit(char c) noexcept { return c >= '0' && c <= '9'; }
char Lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

bool GoUnderscoresOk(std::string_view s) noexcept {
  char saw = '^';  // ^ start, 0 digit or prefix, _ underscore, ! other
  std::size_t i = 0;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) s.remove_prefix(1);
  bool hex = false;
  if (s.size() >= 2 && s[0] == '0' &&
      (Lower(s[1]) == 'b' || Lower(s[1]) == 'o' || Lower(s[1]) == 'x')) {
    i = 2;
    saw = '0';
    hex = Lower(s[1]) == 'x';
  }
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (IsDigit(c) || (hex && Lower(c) >= 'a' && Lower(c) <= 'f')) {
      saw = '0';
      continue;
    }
    if (c == '_') {
      if (saw != '0') return false;
      saw = '_';
      continue;
    }
    if (saw == '_') return false;
    saw = '!';
  }
  return saw != '_';
}

bool ParseGoInt(std::string_view s, std::int64_t* out) noexcept {
  const std::string_view original = s;
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return false;
  std::uint64_t base = 10;
  if (s[0] == '0') {
    if (s.size() >= 3 && Lower(s[1]) == 'b') {
      base = 2;
      s.remove_prefix(2);
    } else if (s.size() >= 3 && Lower(s[1]) == 'o') {
      base = 8;
      s.remove_prefix(2);
    } else if (s.size() >= 3 && Lower(s[1]) == 'x') {
      base = 16;
      s.remove_prefix(2);
    } else {
      base = 8;
      s.remove_prefix(1);
    }
  }
  constexpr std::uint64_t kMinMagnitude = std::uint64_t{1} << 63;  // of int64 min
  const std::uint64_t limit = negative ? kMinMagnitude : kMinMagnitude - 1;
  bool underscores = false;
  std::uint64_t n = 0;
  for (const char c : s) {
    if (c == '_') {
      underscores = true;
      continue;
    }
    std::uint64_t digit = 0;
    if (IsDigit(c)) {
      digit = static_cast<std::uint64_t>(c - '0');
    } else if (Lower(c) >= 'a' && Lower(c) <= 'z') {
      digit = static_cast<std::uint64_t>(Lower(c) - 'a' + 10);
    } else {
      return false;
    }
    if (digit >= base) return false;
    if (n > (limit - digit) / base) return false;  // out of range
    n = n * base + digit;
  }
  if (underscores && !GoUnderscoresOk(original)) return false;
  if (negative) {
    *out = n == kMinMagnitude ? std::numeric_limits<std::int64_t>::min()
                              : -static_cast<std::int64_t>(n);
  } else {
    *out = static_cast<std::int64_t>(n);
  }
  return true;
}

int GoSimpleEscape(char letter) noexcept {
  switch (letter) {
    case 'a': return '\a';
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'v': return '\v';
    case '\\': return '\\';
    default: return -1;
  }
}

}  // namespace nimify::internal
