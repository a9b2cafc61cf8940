#include "common/go_strconv.h"

#include <locale.h>  // newlocale, strtod_l

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "common/utf8.h"

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

namespace {

bool IsHexLetter(char c) noexcept { return Lower(c) >= 'a' && Lower(c) <= 'f'; }

bool EqualsFold(std::string_view s, std::string_view lower) noexcept {
  if (s.size() != lower.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (Lower(s[i]) != lower[i]) return false;
  }
  return true;
}

// strconv's readFloat as a syntax check of `body` (no sign): digits with an
// optional '.', then an 'e' exponent (decimal) or the 'p' exponent a hex
// mantissa requires. Sets *hex and *underscores.
bool IsGoFloatSyntax(std::string_view body, bool* hex, bool* underscores) noexcept {
  std::size_t i = 0;
  *hex = body.size() > 2 && body[0] == '0' && Lower(body[1]) == 'x';
  if (*hex) i = 2;
  bool digits = false;
  bool dot = false;
  for (; i < body.size(); ++i) {
    const char c = body[i];
    if (c == '_') {
      *underscores = true;
    } else if (c == '.') {
      if (dot) break;
      dot = true;
    } else if (IsDigit(c) || (*hex && IsHexLetter(c))) {
      digits = true;
    } else {
      break;
    }
  }
  if (!digits) return false;
  if (i < body.size() && Lower(body[i]) == (*hex ? 'p' : 'e')) {
    ++i;
    if (i < body.size() && (body[i] == '+' || body[i] == '-')) ++i;
    if (i >= body.size() || !IsDigit(body[i])) return false;
    for (; i < body.size() && (IsDigit(body[i]) || body[i] == '_'); ++i) {
      if (body[i] == '_') *underscores = true;
    }
  } else if (*hex) {
    return false;
  }
  return i == body.size();
}

// Converts checked float text (sign stripped) the rare way: strtod in the C
// locale tells overflow (±HUGE_VAL) from underflow, which from_chars does not.
double StrtodC(std::string_view text, bool hex) {
  static const locale_t c_locale = newlocale(LC_ALL_MASK, "C", static_cast<locale_t>(nullptr));
  std::string copy = hex ? "0x" : "";
  copy.append(text);
  return strtod_l(copy.c_str(), nullptr, c_locale);
}

}  // namespace

GoNumError ParseGoFloat(std::string_view s, double* value) noexcept {
  std::string_view body = s;
  bool negative = false;
  const bool has_sign = !body.empty() && (body[0] == '+' || body[0] == '-');
  if (has_sign) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  constexpr double kInf = std::numeric_limits<double>::infinity();
  if (EqualsFold(body, "inf") || EqualsFold(body, "infinity")) {
    *value = negative ? -kInf : kInf;
    return GoNumError::kNone;
  }
  if (!has_sign && EqualsFold(body, "nan")) {
    *value = std::numeric_limits<double>::quiet_NaN();
    return GoNumError::kNone;
  }
  bool hex = false;
  bool underscores = false;
  if (!IsGoFloatSyntax(body, &hex, &underscores)) return GoNumError::kSyntax;
  if (underscores && !GoUnderscoresOk(s)) return GoNumError::kSyntax;
  std::string without_underscores;
  std::string_view digits = body;
  if (underscores) {
    for (const char c : body) {
      if (c != '_') without_underscores.push_back(c);
    }
    digits = without_underscores;
  }
  if (hex) digits.remove_prefix(2);  // from_chars takes hex digits without "0x"
  double parsed = 0;
  const char* const end = digits.data() + digits.size();
  const auto [ptr, ec] = std::from_chars(digits.data(), end, parsed,
                                         hex ? std::chars_format::hex : std::chars_format::general);
  if (ec == std::errc::result_out_of_range) {
    parsed = StrtodC(digits, hex);
    if (std::isinf(parsed)) {
      *value = negative ? -kInf : kInf;
      return GoNumError::kRange;
    }
  } else if (ec != std::errc() || ptr != end) {
    return GoNumError::kSyntax;
  }
  *value = negative ? -parsed : parsed;
  return GoNumError::kNone;
}

std::string GoParseFloatError(std::string_view s, GoNumError e) {
  return "strconv.ParseFloat: parsing " + GoQuote(s) +
         (e == GoNumError::kRange ? ": value out of range" : ": invalid syntax");
}

namespace {

constexpr char kLowerHex[] = "0123456789abcdef";

void AppendHexDigits(std::uint32_t v, int digits, std::string* out) {
  for (int shift = 4 * (digits - 1); shift >= 0; shift -= 4) {
    out->push_back(kLowerHex[(v >> shift) & 0xF]);
  }
}

}  // namespace

void AppendGoEscapedRune(std::int32_t rune, const GoQuoteStyle& style, std::string* out) {
  if (rune == style.quote || rune == '\\') {
    out->push_back('\\');
    out->push_back(static_cast<char>(rune));
    return;
  }
  const bool printable = IsGoPrint(rune) && !(style.escape_replacement_char && rune == kRuneError);
  if (style.ascii_only ? (rune < 0x80 && printable) : printable) {
    AppendUtf8(rune, out);
    return;
  }
  switch (rune) {
    case '\a':
      *out += "\\a";
      return;
    case '\b':
      *out += "\\b";
      return;
    case '\f':
      *out += "\\f";
      return;
    case '\n':
      *out += "\\n";
      return;
    case '\r':
      *out += "\\r";
      return;
    case '\t':
      *out += "\\t";
      return;
    case '\v':
      *out += "\\v";
      return;
    default:
      break;
  }
  if (rune < ' ' || rune == 0x7F) {
    *out += "\\x";
    AppendHexDigits(static_cast<std::uint32_t>(rune), 2, out);
    return;
  }
  if (!IsValidRune(rune)) rune = kRuneError;
  if (rune < 0x10000) {
    *out += "\\u";
    AppendHexDigits(static_cast<std::uint32_t>(rune), 4, out);
  } else {
    *out += "\\U";
    AppendHexDigits(static_cast<std::uint32_t>(rune), 8, out);
  }
}

void AppendGoQuoted(std::string_view s, const GoQuoteStyle& style, std::string* out) {
  out->push_back(style.quote);
  while (!s.empty()) {
    const auto lead = static_cast<unsigned char>(s[0]);
    int width = 1;
    const std::int32_t rune = lead < 0x80 ? lead : DecodeUtf8(s, &width);
    if (rune == kRuneError && width == 1) {
      *out += "\\x";
      AppendHexDigits(lead, 2, out);
    } else {
      AppendGoEscapedRune(rune, style, out);
    }
    s.remove_prefix(static_cast<std::size_t>(width));
  }
  out->push_back(style.quote);
}

std::string GoQuote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  AppendGoQuoted(s, GoQuoteStyle{}, &out);
  return out;
}

std::string GoQuoteToAscii(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  AppendGoQuoted(s, GoQuoteStyle{.quote = '"', .ascii_only = true}, &out);
  return out;
}

std::string GoQuoteRune(std::int32_t rune) {
  std::string out = "'";
  AppendGoEscapedRune(IsValidRune(rune) ? rune : kRuneError, GoQuoteStyle{.quote = '\''}, &out);
  out.push_back('\'');
  return out;
}

int GoSimpleEscape(char letter) noexcept {
  switch (letter) {
    case 'a':
      return '\a';
    case 'b':
      return '\b';
    case 'f':
      return '\f';
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    case 'v':
      return '\v';
    case '\\':
      return '\\';
    default:
      return -1;
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
