#include "common/go_strconv.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

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

namespace {

// ---------------------------------------------------------------------------
// Decimal digits of a float, as strconv's decimalSlice: digits d[0..nd) with
// the decimal point before d[dp]; trailing zeros trimmed; zero has nd == 0.
struct Digits {
  std::string d;
  int dp = 0;
};

// Parses std::to_chars scientific output "[-]d[.ddd]e[+-]XX".
Digits DigitsFromScientific(std::string_view s) {
  Digits out;
  std::size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  int exp = 0;
  for (; i < s.size() && s[i] != 'e'; ++i) {
    if (s[i] != '.') out.d.push_back(s[i]);
  }
  if (i < s.size()) {
    ++i;
    bool neg = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    for (; i < s.size(); ++i) exp = exp * 10 + (s[i] - '0');
    if (neg) exp = -exp;
  }
  while (!out.d.empty() && out.d.back() == '0') out.d.pop_back();
  out.dp = out.d.empty() ? 0 : exp + 1;
  return out;
}

// Shortest digits (prec < 0) or `sig` significant digits, correctly rounded.
Digits FloatDigits(double v, int sig) {
  std::vector<char> buf(static_cast<std::size_t>(std::max(sig, 0)) + 64);
  std::to_chars_result r;
  if (sig < 0) {
    r = std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::scientific);
  } else {
    r = std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::scientific,
                      std::max(sig - 1, 0));
  }
  return DigitsFromScientific(
      std::string_view(buf.data(), static_cast<std::size_t>(r.ptr - buf.data())));
}

void AppendExponent(std::string* out, int exp, char ch) {
  out->push_back(ch);
  if (exp < 0) {
    out->push_back('-');
    exp = -exp;
  } else {
    out->push_back('+');
  }
  if (exp < 10) {
    out->push_back('0');
    out->push_back(static_cast<char>('0' + exp));
  } else if (exp < 100) {
    out->push_back(static_cast<char>('0' + exp / 10));
    out->push_back(static_cast<char>('0' + exp % 10));
  } else {
    out->push_back(static_cast<char>('0' + exp / 100));
    out->push_back(static_cast<char>('0' + exp / 10 % 10));
    out->push_back(static_cast<char>('0' + exp % 10));
  }
}

// strconv's fmtE: d.ddddde±dd with `prec` digits after the point.
void FmtE(std::string* out, bool neg, const Digits& dg, int prec, char ch) {
  if (neg) out->push_back('-');
  const int nd = static_cast<int>(dg.d.size());
  out->push_back(nd == 0 ? '0' : dg.d[0]);
  if (prec > 0) {
    out->push_back('.');
    int i = 1;
    const int m = std::min(nd, prec + 1);
    if (i < m) {
      out->append(dg.d, 1, static_cast<std::size_t>(m - 1));
      i = m;
    }
    for (; i <= prec; ++i) out->push_back('0');
  }
  AppendExponent(out, nd == 0 ? 0 : dg.dp - 1, ch);
}

// strconv's fmtF: ddd.ddd with `prec` digits after the point.
void FmtF(std::string* out, bool neg, const Digits& dg, int prec) {
  if (neg) out->push_back('-');
  const int nd = static_cast<int>(dg.d.size());
  if (dg.dp > 0) {
    int m = std::min(nd, dg.dp);
    out->append(dg.d, 0, static_cast<std::size_t>(m));
    for (; m < dg.dp; ++m) out->push_back('0');
  } else {
    out->push_back('0');
  }
  if (prec > 0) {
    out->push_back('.');
    for (int i = 1; i <= prec; ++i) {
      const int j = dg.dp + i - 1;
      out->push_back(j >= 0 && j < nd ? dg.d[static_cast<std::size_t>(j)] : '0');
    }
  }
}

// strconv's %b: mantissa "p" binary exponent, e.g. 4503599627370496p-52.
void FmtB(std::string* out, double v) {
  const auto bits = std::bit_cast<std::uint64_t>(v);
  std::uint64_t mant = bits & ((std::uint64_t{1} << 52) - 1);
  int exp = static_cast<int>((bits >> 52) & 0x7FF);
  if (exp == 0) {
    exp = 1;
  } else {
    mant |= std::uint64_t{1} << 52;
  }
  exp -= 1023 + 52;
  if (bits >> 63) out->push_back('-');
  out->append(std::to_string(mant));
  out->push_back('p');
  if (exp >= 0) out->push_back('+');
  out->append(std::to_string(exp));
}

// strconv's %x: -0x1.23abcp+20 (at least two exponent digits).
void FmtX(std::string* out, double v, int prec, bool upper) {
  char buf[64];
  auto r = prec < 0
               ? std::to_chars(buf, buf + sizeof buf, std::fabs(v), std::chars_format::hex)
               : std::to_chars(buf, buf + sizeof buf, std::fabs(v), std::chars_format::hex, prec);
  std::string s(buf, r.ptr);
  if (std::signbit(v)) out->push_back('-');
  out->append(upper ? "0X" : "0x");
  const std::size_t p = s.find('p');
  std::string mant = s.substr(0, p);
  std::string exp = s.substr(p + 1);
  if (upper) std::transform(mant.begin(), mant.end(), mant.begin(), ::toupper);
  out->append(mant);
  out->push_back(upper ? 'P' : 'p');
  char sign = '+';
  if (!exp.empty() && (exp[0] == '+' || exp[0] == '-')) {
    sign = exp[0];
    exp.erase(0, 1);
  }
  out->push_back(sign);
  if (exp.size() < 2) out->push_back('0');
  out->append(exp);
}

}  // namespace

std::string FormatGoFloat(double v, char fmt, int prec) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  std::string out;
  const bool neg = std::signbit(v);
  switch (fmt) {
    case 'b':
      FmtB(&out, v);
      return out;
    case 'x':
    case 'X':
      FmtX(&out, v, prec, fmt == 'X');
      return out;
    case 'f': {
      if (prec < 0) {
        const Digits dg = FloatDigits(v, -1);
        FmtF(&out, neg, dg, std::max(static_cast<int>(dg.d.size()) - dg.dp, 0));
        return out;
      }
      std::vector<char> buf(static_cast<std::size_t>(prec) + 400);
      auto r =
          std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::fixed, prec);
      return std::string(buf.data(), r.ptr);
    }
    case 'e':
    case 'E': {
      const Digits dg = FloatDigits(v, prec < 0 ? -1 : prec + 1);
      FmtE(&out, neg, dg, prec < 0 ? std::max(static_cast<int>(dg.d.size()) - 1, 0) : prec, fmt);
      return out;
    }
    case 'g':
    case 'G': {
      const bool shortest = prec < 0;
      if (prec == 0) prec = 1;
      const Digits dg = FloatDigits(v, shortest ? -1 : prec);
      const int nd = static_cast<int>(dg.d.size());
      if (shortest) prec = nd;
      int eprec = prec;
      if (eprec > nd && nd >= dg.dp) eprec = nd;
      // Shortest output switches to exponent form as if the precision were 6.
      if (shortest) eprec = 6;
      const int exp = dg.dp - 1;
      if (exp < -4 || exp >= eprec) {
        if (prec > nd) prec = nd;
        FmtE(&out, neg, dg, prec - 1, fmt == 'g' ? 'e' : 'E');
        return out;
      }
      if (prec > dg.dp) prec = nd;
      FmtF(&out, neg, dg, std::max(prec - dg.dp, 0));
      return out;
    }
    default:
      out.push_back('%');
      out.push_back(fmt);
      return out;
  }
}

}  // namespace nimify::internal
