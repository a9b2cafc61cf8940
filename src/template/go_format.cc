#include "template/go_format.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <complex>
#include <cstring>
#include <limits>
#include <vector>

#include "common/go_strconv.h"
#include "common/utf8.h"

namespace nimify::tmpl {
namespace {

constexpr std::string_view kLowerHex = "0123456789abcdefx";
constexpr std::string_view kUpperHex = "0123456789ABCDEFX";
using internal::kMaxRune;
using internal::kRuneError;

char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualFoldAscii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (LowerAscii(a[i]) != LowerAscii(b[i])) return false;
  }
  return true;
}

// strconv's underscoreOK: underscores only between digits or after a base prefix.
bool UnderscoreOk(std::string_view s) {
  char saw = '^';
  std::size_t i = 0;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  bool hex = false;
  if (s.size() >= 2 && s[0] == '0' &&
      (LowerAscii(s[1]) == 'b' || LowerAscii(s[1]) == 'o' || LowerAscii(s[1]) == 'x')) {
    i = 2;
    saw = '0';
    hex = LowerAscii(s[1]) == 'x';
  }
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if ((c >= '0' && c <= '9') || (hex && LowerAscii(c) >= 'a' && LowerAscii(c) <= 'f')) {
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

// Validates Go float syntax; fills `clean` (underscores removed, sign kept) and `hex`.
bool ScanGoFloat(std::string_view s, std::string* clean, bool* hex) {
  std::size_t i = 0;
  std::string out;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) out.push_back(s[i++]);
  *hex = false;
  if (i + 1 < s.size() && s[i] == '0' && LowerAscii(s[i + 1]) == 'x') {
    *hex = true;
    i += 2;
  }
  bool saw_digits = false, saw_dot = false, underscores = false;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '_') {
      underscores = true;
      continue;
    }
    if (c == '.') {
      if (saw_dot) break;
      saw_dot = true;
      out.push_back(c);
      continue;
    }
    const bool digit =
        (c >= '0' && c <= '9') || (*hex && LowerAscii(c) >= 'a' && LowerAscii(c) <= 'f');
    if (!digit) break;
    saw_digits = true;
    out.push_back(c);
  }
  if (!saw_digits) return false;
  if (i < s.size() && LowerAscii(s[i]) == (*hex ? 'p' : 'e')) {
    out.push_back(*hex ? 'p' : 'e');
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) out.push_back(s[i++]);
    bool exp_digits = false;
    for (; i < s.size(); ++i) {
      if (s[i] == '_') {
        underscores = true;
        continue;
      }
      if (s[i] < '0' || s[i] > '9') break;
      exp_digits = true;
      out.push_back(s[i]);
    }
    if (!exp_digits) return false;
  } else if (*hex) {
    return false;  // hex mantissa requires a p exponent
  }
  if (i != s.size()) return false;
  if (underscores && !UnderscoreOk(s)) return false;
  *clean = std::move(out);
  return true;
}

}  // namespace

Result<double> ParseFloat(std::string_view s) {
  auto syntax_error = [&] {
    return Status::InvalidArgument("strconv.ParseFloat: parsing " + Quote(s) + ": invalid syntax");
  };
  std::string_view body = s;
  bool neg = false;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    neg = body[0] == '-';
    body.remove_prefix(1);
  }
  if (EqualFoldAscii(body, "inf") || EqualFoldAscii(body, "infinity")) {
    return neg ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  }
  if (EqualFoldAscii(s, "nan")) return std::numeric_limits<double>::quiet_NaN();
  std::string clean;
  bool hex = false;
  if (!ScanGoFloat(s, &clean, &hex)) return syntax_error();
  std::string_view digits = clean;
  bool negative = false;
  if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) {
    negative = digits[0] == '-';
    digits.remove_prefix(1);
  }
  double v = 0;
  const auto fmt = hex ? std::chars_format::hex : std::chars_format::general;
  auto r = std::from_chars(digits.data(), digits.data() + digits.size(), v, fmt);
  if (r.ec == std::errc::result_out_of_range) {
    // from_chars reports both overflow and underflow; Go rounds underflow to 0.
    const std::size_t e = digits.find_first_of(hex ? "pP" : "eE");
    long exp = 0;
    if (e != std::string_view::npos) {
      std::from_chars(digits.data() + e + 1 + (digits[e + 1] == '+'), digits.data() + digits.size(),
                      exp);
    }
    // Decimal (or binary) magnitude of the value: negative means it underflowed.
    const std::string_view mant = digits.substr(0, e);
    const std::size_t dot = std::min(mant.find('.'), mant.size());
    const std::size_t first = mant.find_first_not_of("0.");
    long magnitude = exp;
    if (first != std::string_view::npos) {
      magnitude +=
          first < dot ? static_cast<long>(dot - first) : -static_cast<long>(first - dot - 1);
    }
    if (magnitude < 0) return negative ? -0.0 : 0.0;
    return Status::InvalidArgument("strconv.ParseFloat: parsing " + Quote(s) +
                                   ": value out of range");
  }
  if (r.ec != std::errc() || r.ptr != digits.data() + digits.size()) return syntax_error();
  return negative ? -v : v;
}

std::int64_t GoFloatToInt64(double v) noexcept {
  constexpr double kTwo63 = 9223372036854775808.0;
  if (std::isnan(v) || v >= kTwo63 || v < -kTwo63) return std::numeric_limits<std::int64_t>::min();
  return static_cast<std::int64_t>(v);
}

// ---------------------------------------------------------------------------
// UTF-8 and Unicode.

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

bool IsPrintRune(std::int32_t r) {
  if (r < 0x80) return r >= 0x20 && r < 0x7F;
  if (r <= 0xA0 || r == 0xAD) return false;
  if (r > kMaxRune || (r >= 0xD800 && r <= 0xF8FF)) return false;  // surrogates, private use
  if ((r >= 0x600 && r <= 0x605) || r == 0x61C || r == 0x6DD || r == 0x70F || r == 0x1680 ||
      r == 0x180E)
    return false;
  if ((r >= 0x2000 && r <= 0x200F) || (r >= 0x2028 && r <= 0x202F) ||
      (r >= 0x205F && r <= 0x206F) || r == 0x3000)
    return false;
  if (r == 0xFEFF || (r >= 0xFFF0 && r <= 0xFFFB) || r == 0xFFFE || r == 0xFFFF) return false;
  if ((r >= 0xE0000 && r <= 0xE0FFF) || r >= 0xF0000) return false;
  return true;
}

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

// ---------------------------------------------------------------------------
// Quoting.

namespace {

void AppendHex(std::string* out, std::uint32_t v, int digits) {
  for (int i = digits - 1; i >= 0; --i) out->push_back(kLowerHex[(v >> (4 * i)) & 0xF]);
}

void AppendEscapedRune(std::string* out, std::int32_t r, char quote, bool ascii_only) {
  if (r == quote || r == '\\') {
    out->push_back('\\');
    AppendRune(out, r);
    return;
  }
  if (ascii_only) {
    if (r < 0x80 && IsPrintRune(r)) {
      out->push_back(static_cast<char>(r));
      return;
    }
  } else if (IsPrintRune(r)) {
    AppendRune(out, r);
    return;
  }
  switch (r) {
    case '\a':
      out->append("\\a");
      return;
    case '\b':
      out->append("\\b");
      return;
    case '\f':
      out->append("\\f");
      return;
    case '\n':
      out->append("\\n");
      return;
    case '\r':
      out->append("\\r");
      return;
    case '\t':
      out->append("\\t");
      return;
    case '\v':
      out->append("\\v");
      return;
    default:
      break;
  }
  if (r < ' ' || r == 0x7F) {
    out->append("\\x");
    AppendHex(out, static_cast<std::uint32_t>(r), 2);
    return;
  }
  if (r > kMaxRune || (r >= 0xD800 && r <= 0xDFFF)) r = kRuneError;
  if (r < 0x10000) {
    out->append("\\u");
    AppendHex(out, static_cast<std::uint32_t>(r), 4);
  } else {
    out->append("\\U");
    AppendHex(out, static_cast<std::uint32_t>(r), 8);
  }
}

std::string QuoteWith(std::string_view s, char quote, bool ascii_only) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back(quote);
  for (std::size_t i = 0; i < s.size();) {
    int w = 1;
    const std::int32_t r = DecodeRune(s.substr(i), &w);
    if (w == 1 && r == kRuneError) {
      out.append("\\x");
      AppendHex(&out, static_cast<unsigned char>(s[i]), 2);
      ++i;
      continue;
    }
    AppendEscapedRune(&out, r, quote, ascii_only);
    i += static_cast<std::size_t>(w);
  }
  out.push_back(quote);
  return out;
}

}  // namespace

std::string Quote(std::string_view s) { return QuoteWith(s, '"', false); }
std::string QuoteToAscii(std::string_view s) { return QuoteWith(s, '"', true); }

std::string QuoteRune(std::int32_t r) {
  std::string out = "'";
  if (r < 0 || r > kMaxRune || (r >= 0xD800 && r <= 0xDFFF)) r = kRuneError;
  AppendEscapedRune(&out, r, '\'', false);
  out.push_back('\'');
  return out;
}

bool CanBackquote(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    int w = 1;
    const std::int32_t r = DecodeRune(s.substr(i), &w);
    i += static_cast<std::size_t>(w);
    if (w > 1) {
      if (r == 0xFEFF) return false;
      continue;
    }
    if (r == kRuneError) return false;
    if ((r < ' ' && r != '\t') || r == '`' || r == 0x7F) return false;
  }
  return true;
}

bool UnquoteChar(std::string_view* s, char quote, std::int32_t* rune) {
  if (s->empty()) return false;
  const char c = (*s)[0];
  if (c == quote && (quote == '\'' || quote == '"')) return false;
  if (static_cast<unsigned char>(c) >= 0x80) {
    int w = 1;
    *rune = DecodeRune(*s, &w);
    s->remove_prefix(static_cast<std::size_t>(w));
    return true;
  }
  if (c != '\\') {
    *rune = static_cast<unsigned char>(c);
    s->remove_prefix(1);
    return true;
  }
  if (s->size() <= 1) return false;
  const char e = (*s)[1];
  s->remove_prefix(2);
  if (const int simple = internal::GoSimpleEscape(e); simple >= 0) {
    *rune = simple;
    return true;
  }
  switch (e) {
    case 'x':
    case 'u':
    case 'U': {
      const std::size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
      if (s->size() < n) return false;
      std::int32_t v = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const int h = internal::HexDigitValue((*s)[i]);
        if (h < 0) return false;
        v = (v << 4) | h;
      }
      s->remove_prefix(n);
      if (e != 'x' && (v > kMaxRune || (v >= 0xD800 && v <= 0xDFFF))) return false;
      *rune = v;  // \x yields a byte value; callers append it as a byte
      if (e == 'x') *rune = -1 - v;
      return true;
    }
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7': {
      std::int32_t v = e - '0';
      if (s->size() < 2) return false;
      for (int i = 0; i < 2; ++i) {
        const char d = (*s)[static_cast<std::size_t>(i)];
        if (d < '0' || d > '7') return false;
        v = v * 8 + (d - '0');
      }
      s->remove_prefix(2);
      if (v > 255) return false;
      *rune = -1 - v;  // a byte value, like \x
      return true;
    }
    case '\'':
    case '"':
      if (e != quote) return false;
      *rune = e;
      return true;
    default:
      return false;
  }
}

bool Unquote(std::string_view quoted, std::string* out) {
  if (quoted.size() < 2) return false;
  const char q = quoted.front();
  if (q != quoted.back()) return false;
  std::string_view body = quoted.substr(1, quoted.size() - 2);
  out->clear();
  if (q == '`') {
    if (body.find('`') != std::string_view::npos) return false;
    for (char c : body) {
      if (c != '\r') out->push_back(c);  // raw strings drop carriage returns
    }
    return true;
  }
  if (q != '"' && q != '\'') return false;
  if (body.find('\n') != std::string_view::npos) return false;
  if (q == '\'') {
    std::int32_t r = 0;
    if (!UnquoteChar(&body, '\'', &r) || !body.empty()) return false;
    if (r < 0) {
      out->push_back(static_cast<char>(-1 - r));
    } else {
      AppendRune(out, r);
    }
    return true;
  }
  while (!body.empty()) {
    std::int32_t r = 0;
    if (!UnquoteChar(&body, '"', &r)) return false;
    if (r < 0) {
      out->push_back(static_cast<char>(-1 - r));
    } else {
      AppendRune(out, r);
    }
  }
  return true;
}

// ---------------------------------------------------------------------------
// fmt.

namespace {

struct Flags {
  bool plus = false, minus = false, sharp = false, space = false, zero = false;
  bool plus_v = false, sharp_v = false;
  bool wid_present = false, prec_present = false;
  int wid = 0, prec = 0;
};

class Printer {
 public:
  std::string buf;
  Flags f;

  void PrintArg(const Value& arg, std::int32_t verb);
  void DoPrint(std::span<const Value> args, bool newline);
  void DoPrintf(std::string_view format, std::span<const Value> args);

 private:
  void WritePadding(int n) {
    if (n <= 0) return;
    buf.append(static_cast<std::size_t>(n), f.zero ? '0' : ' ');
  }
  void Pad(std::string_view s) {
    if (!f.wid_present || f.wid == 0) {
      buf.append(s);
      return;
    }
    const int width = f.wid - static_cast<int>(RuneCount(s));
    if (!f.minus) {
      WritePadding(width);
      buf.append(s);
    } else {
      buf.append(s);
      WritePadding(width);
    }
  }
  std::string_view Truncate(std::string_view s) const {
    if (!f.prec_present) return s;
    int n = f.prec;
    for (std::size_t i = 0; i < s.size();) {
      --n;
      if (n < 0) return s.substr(0, i);
      int w = 1;
      DecodeRune(s.substr(i), &w);
      i += static_cast<std::size_t>(w);
    }
    return s;
  }

  void BadVerb(std::int32_t verb);
  void FmtBool(bool v, std::int32_t verb);
  void FmtInteger(std::uint64_t u, bool is_signed, std::int32_t verb);
  void FmtIntegerBase(std::uint64_t u, int base, bool is_signed, std::int32_t verb,
                      std::string_view digits);
  void FmtUnicode(std::uint64_t u);
  void IntegerField(std::uint64_t u, bool is_signed, const char* type_name, std::int32_t verb);
  void FmtFloat(double v, std::int32_t verb);
  void FmtComplex(std::complex<double> v, std::int32_t verb);
  void FmtFloatPrec(double v, char verb, int prec);
  void FmtString(std::string_view s, std::int32_t verb);
  void FmtQ(std::string_view s);
  void FmtSx(std::string_view s, std::string_view digits);
  bool HandleMethods(const Value& v, std::int32_t verb);
  void PrintValue(const Value& v, std::int32_t verb, int depth);

  const Value* arg_ = nullptr;  // the operand being printed, for %!verb(type=value)
  bool erroring_ = false;
};

void Printer::BadVerb(std::int32_t verb) {
  erroring_ = true;
  buf.append("%!");
  AppendRune(&buf, verb);
  buf.push_back('(');
  if (arg_ != nullptr && arg_->valid()) {
    buf.append(arg_->TypeName());
    buf.push_back('=');
    const Value copy = *arg_;
    PrintArg(copy, 'v');
  } else {
    buf.append("<nil>");
  }
  buf.push_back(')');
  erroring_ = false;
}

void Printer::FmtBool(bool v, std::int32_t verb) {
  if (verb == 't' || verb == 'v') {
    Pad(v ? "true" : "false");
  } else {
    BadVerb(verb);
  }
}

void Printer::FmtIntegerBase(std::uint64_t u, int base, bool is_signed, std::int32_t verb,
                             std::string_view digits) {
  const bool negative = is_signed && static_cast<std::int64_t>(u) < 0;
  if (negative) u = ~u + 1;
  int prec = 0;
  if (f.prec_present) {
    prec = f.prec;
    if (prec == 0 && u == 0) {
      const bool old_zero = f.zero;
      f.zero = false;
      WritePadding(f.wid);
      f.zero = old_zero;
      return;
    }
  } else if (f.zero && f.wid_present) {
    prec = f.wid;
    if (negative || f.plus || f.space) --prec;  // leave room for the sign
  }
  std::string rev;
  do {
    rev.push_back(digits[u % static_cast<unsigned>(base)]);
    u /= static_cast<unsigned>(base);
  } while (u > 0);
  while (static_cast<int>(rev.size()) < prec) rev.push_back('0');
  if (f.sharp) {
    switch (base) {
      case 2:
        rev.append("b0");
        break;
      case 8:
        if (rev.back() != '0') rev.push_back('0');
        break;
      case 16:
        rev.push_back(digits[16]);
        rev.push_back('0');
        break;
      default:
        break;
    }
  }
  if (verb == 'O') rev.append("o0");
  if (negative) {
    rev.push_back('-');
  } else if (f.plus) {
    rev.push_back('+');
  } else if (f.space) {
    rev.push_back(' ');
  }
  std::reverse(rev.begin(), rev.end());
  const bool old_zero = f.zero;
  f.zero = false;
  Pad(rev);
  f.zero = old_zero;
}

void Printer::FmtUnicode(std::uint64_t u) {
  std::string s = "U+";
  char hex[20];
  auto r = std::to_chars(hex, hex + sizeof hex, u, 16);
  std::string h(hex, r.ptr);
  std::transform(h.begin(), h.end(), h.begin(), ::toupper);
  int prec = 4;
  if (f.prec_present && f.prec > 4) prec = f.prec;
  while (static_cast<int>(h.size()) < prec) h.insert(h.begin(), '0');
  s += h;
  if (f.sharp && u <= static_cast<std::uint64_t>(kMaxRune) &&
      IsPrintRune(static_cast<std::int32_t>(u))) {
    s += " '";
    AppendRune(&s, static_cast<std::int32_t>(u));
    s += "'";
  }
  const bool old_zero = f.zero;
  f.zero = false;
  Pad(s);
  f.zero = old_zero;
}

void Printer::FmtInteger(std::uint64_t u, bool is_signed, std::int32_t verb) {
  switch (verb) {
    case 'v':
    case 'd':
      FmtIntegerBase(u, 10, is_signed, verb, kLowerHex);
      return;
    case 'b':
      FmtIntegerBase(u, 2, is_signed, verb, kLowerHex);
      return;
    case 'o':
    case 'O':
      FmtIntegerBase(u, 8, is_signed, verb, kLowerHex);
      return;
    case 'x':
      FmtIntegerBase(u, 16, is_signed, verb, kLowerHex);
      return;
    case 'X':
      FmtIntegerBase(u, 16, is_signed, verb, kUpperHex);
      return;
    case 'c': {
      std::string s;
      AppendRune(
          &s, u > static_cast<std::uint64_t>(kMaxRune) ? kRuneError : static_cast<std::int32_t>(u));
      Pad(s);
      return;
    }
    case 'q': {
      std::int32_t r =
          u > static_cast<std::uint64_t>(kMaxRune) ? kRuneError : static_cast<std::int32_t>(u);
      if (f.sharp && IsPrintRune(r)) {
        std::string s = "'";
        AppendRune(&s, r);
        s += "'";
        Pad(s);
      } else {
        Pad(QuoteRune(r));
      }
      return;
    }
    case 'U':
      FmtUnicode(u);
      return;
    default:
      BadVerb(verb);
      return;
  }
}

void Printer::FmtFloatPrec(double v, char verb, int prec) {
  if (f.prec_present) prec = f.prec;
  std::string num = FormatFloat(v, verb, prec);
  if (num[0] == '-' || num[0] == '+') {
    // keep the sign
  } else {
    num.insert(num.begin(), '+');
  }
  if (f.space && num[0] == '+' && !f.plus) num[0] = ' ';
  if (num[1] == 'I' || num[1] == 'N') {
    const bool old_zero = f.zero;
    f.zero = false;
    if (num[1] == 'N' && !f.space && !f.plus) num.erase(0, 1);
    Pad(num);
    f.zero = old_zero;
    return;
  }
  if (f.sharp && verb != 'b') {
    int digits = 0;
    if (verb == 'v' || verb == 'g' || verb == 'G' || verb == 'x') {
      digits = prec;
      if (digits == -1) digits = 6;
    }
    std::string tail;
    bool has_dot = false, saw_nonzero = false;
    for (std::size_t i = 1; i < num.size(); ++i) {
      const char c = num[i];
      if (c == '.') {
        has_dot = true;
      } else if (c == 'p' || c == 'P') {
        tail = num.substr(i);
        num.resize(i);
        break;
      } else if ((c == 'e' || c == 'E') && verb != 'x' && verb != 'X') {
        tail = num.substr(i);
        num.resize(i);
        break;
      } else {
        if (c != '0') saw_nonzero = true;
        if (saw_nonzero) --digits;
      }
    }
    if (!has_dot) {
      if (num.size() == 2 && num[1] == '0') --digits;
      num.push_back('.');
    }
    while (digits > 0) {
      num.push_back('0');
      --digits;
    }
    num += tail;
  }
  if (f.plus || num[0] != '+') {
    if (f.zero && f.wid_present && f.wid > static_cast<int>(num.size())) {
      buf.push_back(num[0]);
      WritePadding(f.wid - static_cast<int>(num.size()));
      buf.append(num, 1);
      return;
    }
    Pad(num);
    return;
  }
  Pad(std::string_view(num).substr(1));
}

void Printer::FmtFloat(double v, std::int32_t verb) {
  switch (verb) {
    case 'v':
      FmtFloatPrec(v, 'g', -1);
      return;
    case 'b':
    case 'g':
    case 'G':
    case 'x':
    case 'X':
      FmtFloatPrec(v, static_cast<char>(verb), -1);
      return;
    case 'f':
    case 'e':
    case 'E':
      FmtFloatPrec(v, static_cast<char>(verb), 6);
      return;
    case 'F':
      FmtFloatPrec(v, 'f', 6);
      return;
    default:
      BadVerb(verb);
      return;
  }
}

void Printer::FmtComplex(std::complex<double> v, std::int32_t verb) {
  switch (verb) {
    case 'v':
    case 'b':
    case 'g':
    case 'G':
    case 'x':
    case 'X':
    case 'f':
    case 'F':
    case 'e':
    case 'E': {
      const bool old_plus = f.plus;
      buf.push_back('(');
      FmtFloat(v.real(), verb);
      f.plus = true;  // the imaginary part always has a sign
      FmtFloat(v.imag(), verb);
      buf.append("i)");
      f.plus = old_plus;
      return;
    }
    default:
      BadVerb(verb);
      return;
  }
}

void Printer::FmtQ(std::string_view s) {
  s = Truncate(s);
  if (f.sharp && CanBackquote(s)) {
    Pad("`" + std::string(s) + "`");
    return;
  }
  Pad(f.plus ? QuoteToAscii(s) : Quote(s));
}

void Printer::FmtSx(std::string_view s, std::string_view digits) {
  int length = static_cast<int>(s.size());
  if (f.prec_present && f.prec < length) length = f.prec;
  int width = 2 * length;
  if (width > 0) {
    if (f.space) {
      if (f.sharp) width *= 2;
      width += length - 1;
    } else if (f.sharp) {
      width += 2;
    }
  } else {
    if (f.wid_present) WritePadding(f.wid);
    return;
  }
  if (f.wid_present && f.wid > width && !f.minus) WritePadding(f.wid - width);
  if (f.sharp) {
    buf.push_back('0');
    buf.push_back(digits[16]);
  }
  for (int i = 0; i < length; ++i) {
    if (f.space && i > 0) {
      buf.push_back(' ');
      if (f.sharp) {
        buf.push_back('0');
        buf.push_back(digits[16]);
      }
    }
    const auto c = static_cast<unsigned char>(s[static_cast<std::size_t>(i)]);
    buf.push_back(digits[c >> 4]);
    buf.push_back(digits[c & 0xF]);
  }
  if (f.wid_present && f.wid > width && f.minus) WritePadding(f.wid - width);
}

void Printer::FmtString(std::string_view s, std::int32_t verb) {
  switch (verb) {
    case 'v':
      if (f.sharp_v) {
        FmtQ(s);
      } else {
        Pad(Truncate(s));
      }
      return;
    case 's':
      Pad(Truncate(s));
      return;
    case 'x':
      FmtSx(s, kLowerHex);
      return;
    case 'X':
      FmtSx(s, kUpperHex);
      return;
    case 'q':
      FmtQ(s);
      return;
    default:
      BadVerb(verb);
      return;
  }
}

// Stringer types (time.Time, time.Duration) print their String() for v s x X q.
bool Printer::HandleMethods(const Value& v, std::int32_t verb) {
  if (erroring_) return false;
  if (v.kind() != Kind::kTime && v.kind() != Kind::kDuration) return false;
  switch (verb) {
    case 'v':
    case 's':
    case 'x':
    case 'X':
    case 'q':
      FmtString(
          v.kind() == Kind::kTime ? FormatTime(v.AsTime()) : FormatDuration(v.AsDuration().nanos),
          verb);
      return true;
    default:
      return false;
  }
}

void Printer::PrintValue(const Value& v, std::int32_t verb, int depth) {
  if (depth > 0 && v.valid()) {
    arg_ = &v;
    if (HandleMethods(v, verb)) return;
  }
  arg_ = &v;
  switch (v.kind()) {
    case Kind::kInvalid:
      // Only reachable inside containers: a nil interface{} element.
      if (f.sharp_v) {
        buf.append("interface {}(nil)");
      } else {
        buf.append("<nil>");
      }
      return;
    case Kind::kBool:
      FmtBool(v.AsBool(), verb);
      return;
    case Kind::kInt:
      FmtInteger(static_cast<std::uint64_t>(v.AsInt()), true, verb);
      return;
    case Kind::kFloat:
      FmtFloat(v.AsFloat(), verb);
      return;
    case Kind::kComplex:
      FmtComplex(v.AsComplex(), verb);
      return;
    case Kind::kString:
      FmtString(v.AsString(), verb);
      return;
    case Kind::kMap: {
      const MapValue* m = v.AsMap();
      if (f.sharp_v) {
        buf.append(v.TypeName());
        if (m == nullptr) {
          buf.append("(nil)");
          return;
        }
        buf.push_back('{');
      } else {
        buf.append("map[");
      }
      if (m != nullptr) {
        bool first = true;
        for (const auto& [key, elem] : m->entries) {
          if (!first) buf.append(f.sharp_v ? ", " : " ");
          first = false;
          const Value k = Value::String(key);
          PrintValue(k, verb, depth + 1);
          buf.push_back(':');
          PrintValue(elem, verb, depth + 1);
        }
      }
      buf.push_back(f.sharp_v ? '}' : ']');
      return;
    }
    case Kind::kList: {
      const ListValue* l = v.AsList();
      if (f.sharp_v) {
        buf.append(v.TypeName());
        if (l == nullptr) {
          buf.append("(nil)");
          return;
        }
        buf.push_back('{');
      } else {
        buf.push_back('[');
      }
      if (l != nullptr) {
        for (std::size_t i = 0; i < l->items.size(); ++i) {
          if (i > 0) buf.append(f.sharp_v ? ", " : " ");
          PrintValue(l->items[i], verb, depth + 1);
        }
      }
      buf.push_back(f.sharp_v ? '}' : ']');
      return;
    }
    case Kind::kStruct: {
      const StructValue* s = v.AsStruct();
      if (f.sharp_v) buf.append(s->type_name);
      buf.push_back('{');
      for (std::size_t i = 0; i < s->fields.size(); ++i) {
        if (i > 0) buf.append(f.sharp_v ? ", " : " ");
        if (f.plus_v || f.sharp_v) {
          buf.append(s->fields[i].first);
          buf.push_back(':');
        }
        PrintValue(s->fields[i].second, verb, depth + 1);
      }
      buf.push_back('}');
      return;
    }
    case Kind::kSample: {
      const SampleValue* s = v.AsSample();
      if (s == nullptr) {
        // fmt prints a nil pointer as <nil> for %v and as 0x0 otherwise.
        if (verb == 'v') {
          Pad("<nil>");
        } else {
          BadVerb(verb);
        }
        return;
      }
      if (depth > 0) {
        // Go prints a nested pointer as its address for v/p and the integer verbs,
        // and as a bad verb otherwise; an address is neither useful nor stable, so
        // nimify prints the contents instead.
        switch (verb) {
          case 'v':
          case 'p':
          case 'b':
          case 'o':
          case 'd':
          case 'x':
          case 'X':
            break;
          default:
            BadVerb(verb);
            return;
        }
      }
      if (f.sharp_v) {
        buf.append("&template.sample{Labels:");
      } else {
        buf.append("&{");
        if (f.plus_v) buf.append("Labels:");
      }
      PrintValue(s->labels, verb, depth + 1);
      buf.append(f.sharp_v ? ", Value:" : f.plus_v ? " Value:" : " ");
      const Value val = Value::Float(s->value);
      PrintValue(val, verb, depth + 1);
      buf.push_back('}');
      return;
    }
    case Kind::kTime: {
      // Without String() (a non-string verb, or inside a %!verb(...) error), Go
      // prints the *time.Time struct: &{wall ext loc}; a UTC time has wall = the
      // nanoseconds, ext = seconds since year 1 and a nil loc.
      const TimeValue& t = v.AsTime();
      buf.append("&{");
      IntegerField(static_cast<std::uint64_t>(t.nsec), false, "uint64", verb);
      buf.push_back(' ');
      IntegerField(static_cast<std::uint64_t>(t.unix_sec + 62135596800), true, "int64", verb);
      buf.push_back(' ');
      switch (verb) {
        case 'v':
          buf.append("<nil>");
          break;
        case 'b':
        case 'o':
        case 'd':
        case 'x':
        case 'X':
          FmtIntegerBase(0,
                         verb == 'b'   ? 2
                         : verb == 'o' ? 8
                         : verb == 'd' ? 10
                                       : 16,
                         false, verb, verb == 'X' ? kUpperHex : kLowerHex);
          break;
        default:
          buf.append("%!");
          AppendRune(&buf, verb);
          buf.append("(*time.Location=<nil>)");
      }
      buf.push_back('}');
      return;
    }
    case Kind::kDuration:
      if (verb == 'v' || verb == 's' || verb == 'q' || verb == 'x' || verb == 'X') {
        // Reached while printing a %!verb(...) error, where Go skips String().
        FmtString(FormatDuration(v.AsDuration().nanos), verb);
        return;
      }
      FmtInteger(static_cast<std::uint64_t>(v.AsDuration().nanos), true, verb);
      return;
  }
}

// An integer struct field of Go type `type_name`, printed with `verb`.
void Printer::IntegerField(std::uint64_t u, bool is_signed, const char* type_name,
                           std::int32_t verb) {
  switch (verb) {
    case 'v':
    case 'd':
    case 'b':
    case 'o':
    case 'O':
    case 'x':
    case 'X':
    case 'c':
    case 'q':
    case 'U':
      FmtInteger(u, is_signed, verb);
      return;
    default:
      buf.append("%!");
      AppendRune(&buf, verb);
      buf.push_back('(');
      buf.append(type_name);
      buf.push_back('=');
      buf.append(is_signed ? std::to_string(static_cast<std::int64_t>(u)) : std::to_string(u));
      buf.push_back(')');
  }
}

void Printer::PrintArg(const Value& arg, std::int32_t verb) {
  arg_ = &arg;
  if (!arg.valid()) {
    if (verb == 'T' || verb == 'v') {
      Pad("<nil>");
    } else {
      BadVerb(verb);
    }
    return;
  }
  if (verb == 'T') {
    Pad(Truncate(arg.TypeName()));
    return;
  }
  if (verb == 'p') {
    BadVerb(verb);
    return;
  }
  switch (arg.kind()) {
    case Kind::kBool:
      FmtBool(arg.AsBool(), verb);
      return;
    case Kind::kFloat:
      FmtFloat(arg.AsFloat(), verb);
      return;
    case Kind::kComplex:
      FmtComplex(arg.AsComplex(), verb);
      return;
    case Kind::kInt:
      FmtInteger(static_cast<std::uint64_t>(arg.AsInt()), true, verb);
      return;
    case Kind::kString:
      if (!arg.IsHtml()) {
        FmtString(arg.AsString(), verb);
        return;
      }
      break;
    default:
      break;
  }
  if (!HandleMethods(arg, verb)) PrintValue(arg, verb, 0);
}

void Printer::DoPrint(std::span<const Value> args, bool newline) {
  bool prev_string = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const bool is_string = args[i].kind() == Kind::kString;
    if (newline) {
      if (i > 0) buf.push_back(' ');
    } else if (i > 0 && !is_string && !prev_string) {
      buf.push_back(' ');
    }
    f = Flags{};
    PrintArg(args[i], 'v');
    prev_string = is_string;
  }
  if (newline) buf.push_back('\n');
}

constexpr int kTooLarge = 1000000;

// Go's parsenum: a decimal number at s[start:end); fails above 1e6.
bool ParseNum(std::string_view s, std::size_t start, std::size_t end, int* num, std::size_t* newi) {
  *num = 0;
  bool isnum = false;
  std::size_t i = start;
  if (start >= end) {
    *newi = end;
    return false;
  }
  for (; i < end && s[i] >= '0' && s[i] <= '9'; ++i) {
    if (*num > kTooLarge) {
      *num = 0;
      *newi = end;
      return false;
    }
    *num = *num * 10 + (s[i] - '0');
    isnum = true;
  }
  *newi = i;
  return isnum;
}

void Printer::DoPrintf(std::string_view format, std::span<const Value> args) {
  const std::size_t end = format.size();
  std::size_t arg_num = 0;
  bool after_index = false;
  bool reordered = false;
  bool good_arg_num = true;

  // Go's argNumber: an explicit [n] index.
  auto arg_number = [&](std::size_t i) -> std::size_t {
    after_index = false;
    if (i >= end || format[i] != '[') return i;
    reordered = true;
    // parseArgNumber
    std::string_view rest = format.substr(i);
    if (rest.size() < 3) {
      good_arg_num = false;
      return i + 1;
    }
    for (std::size_t j = 1; j < rest.size(); ++j) {
      if (rest[j] == ']') {
        int width = 0;
        std::size_t newi = 0;
        const bool ok = ParseNum(rest, 1, j, &width, &newi);
        if (!ok || newi != j) {
          good_arg_num = false;
          return i + j + 1;
        }
        const int index = width - 1;
        if (index >= 0 && static_cast<std::size_t>(index) < args.size()) {
          arg_num = static_cast<std::size_t>(index);
          after_index = true;
          return i + j + 1;
        }
        good_arg_num = false;
        after_index = true;
        return i + j + 1;
      }
    }
    good_arg_num = false;
    return i + 1;
  };
  auto int_from_arg = [&](int* num) -> bool {
    bool is_int = false;
    *num = 0;
    if (arg_num < args.size()) {
      if (args[arg_num].kind() == Kind::kInt) {
        const std::int64_t n = args[arg_num].AsInt();
        if (n <= kTooLarge && n >= -kTooLarge) {
          *num = static_cast<int>(n);
          is_int = true;
        }
      }
      ++arg_num;
    }
    return is_int;
  };

  for (std::size_t i = 0; i < end;) {
    good_arg_num = true;
    const std::size_t lasti = i;
    while (i < end && format[i] != '%') ++i;
    if (i > lasti) buf.append(format.substr(lasti, i - lasti));
    if (i >= end) break;
    ++i;  // skip %
    f = Flags{};
    bool simple_done = false;
    for (; i < end; ++i) {
      const char c = format[i];
      if (c == '#') {
        f.sharp = true;
      } else if (c == '0') {
        f.zero = !f.minus;
      } else if (c == '+') {
        f.plus = true;
      } else if (c == '-') {
        f.minus = true;
        f.zero = false;
      } else if (c == ' ') {
        f.space = true;
      } else {
        if (c >= 'a' && c <= 'z' && arg_num < args.size()) {
          if (c == 'v') {
            f.sharp_v = f.sharp;
            f.sharp = false;
            f.plus_v = f.plus;
            f.plus = false;
          }
          PrintArg(args[arg_num], c);
          ++arg_num;
          ++i;
          simple_done = true;
        }
        break;
      }
    }
    if (simple_done) continue;

    i = arg_number(i);
    if (i < end && format[i] == '*') {
      ++i;
      f.wid_present = int_from_arg(&f.wid);
      if (!f.wid_present) buf.append("%!(BADWIDTH)");
      if (f.wid < 0) {
        f.wid = -f.wid;
        f.minus = true;
        f.zero = false;
      }
      after_index = false;
    } else {
      std::size_t newi = i;
      f.wid_present = ParseNum(format, i, end, &f.wid, &newi);
      i = newi;
      if (after_index && f.wid_present) good_arg_num = false;
    }
    if (i + 1 < end && format[i] == '.') {
      ++i;
      if (after_index) good_arg_num = false;
      i = arg_number(i);
      if (i < end && format[i] == '*') {
        ++i;
        f.prec_present = int_from_arg(&f.prec);
        if (f.prec < 0) {
          f.prec = 0;
          f.prec_present = false;
        }
        if (!f.prec_present) buf.append("%!(BADPREC)");
        after_index = false;
      } else {
        std::size_t newi = i;
        f.prec_present = ParseNum(format, i, end, &f.prec, &newi);
        i = newi;
        if (!f.prec_present) {
          f.prec = 0;
          f.prec_present = true;
        }
      }
    }
    if (!after_index) i = arg_number(i);
    if (i >= end) {
      buf.append("%!(NOVERB)");
      break;
    }
    int size = 1;
    std::int32_t verb = static_cast<unsigned char>(format[i]);
    if (verb >= 0x80) verb = DecodeRune(format.substr(i), &size);
    i += static_cast<std::size_t>(size);

    if (verb == '%') {
      buf.push_back('%');
    } else if (!good_arg_num) {
      buf.append("%!");
      AppendRune(&buf, verb);
      buf.append("(BADINDEX)");
    } else if (arg_num >= args.size()) {
      buf.append("%!");
      AppendRune(&buf, verb);
      buf.append("(MISSING)");
    } else {
      if (verb == 'v') {
        f.sharp_v = f.sharp;
        f.sharp = false;
        f.plus_v = f.plus;
        f.plus = false;
      }
      PrintArg(args[arg_num], verb);
      ++arg_num;
    }
  }
  if (!reordered && arg_num < args.size()) {
    f = Flags{};
    buf.append("%!(EXTRA ");
    for (std::size_t i = arg_num; i < args.size(); ++i) {
      if (i > arg_num) buf.append(", ");
      if (!args[i].valid()) {
        buf.append("<nil>");
      } else {
        buf.append(args[i].TypeName());
        buf.push_back('=');
        PrintArg(args[i], 'v');
      }
    }
    buf.push_back(')');
  }
}

}  // namespace

std::string Sprint(std::span<const Value> args) {
  Printer p;
  p.DoPrint(args, false);
  return std::move(p.buf);
}

std::string Sprintln(std::span<const Value> args) {
  Printer p;
  p.DoPrint(args, true);
  return std::move(p.buf);
}

std::string Sprintf(std::string_view format, std::span<const Value> args) {
  Printer p;
  p.DoPrintf(format, args);
  return std::move(p.buf);
}

std::string FormatUnicodeSharp(std::int32_t r) {
  char hex[16];
  auto res = std::to_chars(hex, hex + sizeof hex, static_cast<std::uint32_t>(r), 16);
  std::string h(hex, res.ptr);
  std::transform(h.begin(), h.end(), h.begin(), ::toupper);
  while (h.size() < 4) h.insert(h.begin(), '0');
  std::string s = "U+" + h;
  if (IsPrintRune(r)) {
    s += " '";
    AppendRune(&s, r);
    s += "'";
  }
  return s;
}

// ---------------------------------------------------------------------------
// time.

namespace {

struct Civil {
  std::int64_t year;
  int month, day, hour, minute, second, yday, weekday;
};

// Days since 1970-01-01 -> proleptic Gregorian date (Howard Hinnant's algorithm).
Civil ToCivil(const TimeValue& t) {
  std::int64_t days = t.unix_sec / 86400;
  std::int64_t secs = t.unix_sec % 86400;
  if (secs < 0) {
    secs += 86400;
    --days;
  }
  Civil c{};
  c.hour = static_cast<int>(secs / 3600);
  c.minute = static_cast<int>(secs / 60 % 60);
  c.second = static_cast<int>(secs % 60);
  c.weekday = static_cast<int>(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday (4)
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  c.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  c.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  c.year = yoe + era * 400 + (c.month <= 2 ? 1 : 0);
  static constexpr int kCum[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
  const bool leap = (c.year % 4 == 0 && c.year % 100 != 0) || c.year % 400 == 0;
  c.yday = kCum[c.month - 1] + c.day + (leap && c.month > 2 ? 1 : 0);
  return c;
}

void AppendInt(std::string* out, std::int64_t v, int width) {
  if (v < 0) {
    out->push_back('-');
    v = -v;
  }
  std::string s = std::to_string(v);
  while (static_cast<int>(s.size()) < width) s.insert(s.begin(), '0');
  out->append(s);
}

constexpr const char* kMonths[] = {"January",   "February", "March",    "April",
                                   "May",       "June",     "July",     "August",
                                   "September", "October",  "November", "December"};
constexpr const char* kDays[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                 "Thursday", "Friday", "Saturday"};

}  // namespace

std::string FormatTime(const TimeValue& t) {
  return FormatTimeLayout(t, "2006-01-02 15:04:05.999999999 -0700 MST");
}

std::string FormatTimeLayout(const TimeValue& t, std::string_view layout) {
  const Civil c = ToCivil(t);
  std::string out;
  auto starts = [&](std::size_t i, std::string_view p) { return layout.substr(i, p.size()) == p; };
  for (std::size_t i = 0; i < layout.size();) {
    const auto fractional = [&](std::size_t j, bool trim) -> std::size_t {
      // ".000" or ".999" (also with ','): fractional seconds.
      std::size_t k = j + 1;
      const char d = layout[k];
      while (k < layout.size() && layout[k] == d) ++k;
      const int digits = std::min(static_cast<int>(k - j - 1), 9);
      std::string frac =
          std::to_string(1000000000 + t.nsec).substr(1, static_cast<std::size_t>(digits));
      if (trim) {
        while (!frac.empty() && frac.back() == '0') frac.pop_back();
        if (!frac.empty()) out += layout[j] + frac;
      } else {
        out += layout[j] + frac;
      }
      return k;
    };
    if (starts(i, "January")) {
      out += kMonths[c.month - 1];
      i += 7;
      continue;
    }
    if (starts(i, "Jan")) {
      out += std::string(kMonths[c.month - 1]).substr(0, 3);
      i += 3;
      continue;
    }
    if (starts(i, "Monday")) {
      out += kDays[c.weekday];
      i += 6;
      continue;
    }
    if (starts(i, "Mon")) {
      out += std::string(kDays[c.weekday]).substr(0, 3);
      i += 3;
      continue;
    }
    if (starts(i, "MST")) {
      out += "UTC";
      i += 3;
      continue;
    }
    if (starts(i, "2006")) {
      AppendInt(&out, c.year, 4);
      i += 4;
      continue;
    }
    if (starts(i, "2")) {
      AppendInt(&out, c.day, 0);
      i += 1;
      continue;
    }
    if (starts(i, "01")) {
      AppendInt(&out, c.month, 2);
      i += 2;
      continue;
    }
    if (starts(i, "02")) {
      AppendInt(&out, c.day, 2);
      i += 2;
      continue;
    }
    if (starts(i, "002")) {
      AppendInt(&out, c.yday, 3);
      i += 3;
      continue;
    }
    if (starts(i, "03")) {
      AppendInt(&out, c.hour % 12 == 0 ? 12 : c.hour % 12, 2);
      i += 2;
      continue;
    }
    if (starts(i, "04")) {
      AppendInt(&out, c.minute, 2);
      i += 2;
      continue;
    }
    if (starts(i, "05")) {
      AppendInt(&out, c.second, 2);
      i += 2;
      continue;
    }
    if (starts(i, "06")) {
      AppendInt(&out, ((c.year % 100) + 100) % 100, 2);
      i += 2;
      continue;
    }
    if (starts(i, "_2")) {
      if (c.day < 10) out.push_back(' ');
      AppendInt(&out, c.day, 0);
      i += 2;
      continue;
    }
    if (starts(i, "15")) {
      AppendInt(&out, c.hour, 2);
      i += 2;
      continue;
    }
    if (starts(i, "1")) {
      AppendInt(&out, c.month, 0);
      i += 1;
      continue;
    }
    if (starts(i, "3")) {
      AppendInt(&out, c.hour % 12 == 0 ? 12 : c.hour % 12, 0);
      i += 1;
      continue;
    }
    if (starts(i, "4")) {
      AppendInt(&out, c.minute, 0);
      i += 1;
      continue;
    }
    if (starts(i, "5")) {
      AppendInt(&out, c.second, 0);
      i += 1;
      continue;
    }
    if (starts(i, "PM")) {
      out += c.hour >= 12 ? "PM" : "AM";
      i += 2;
      continue;
    }
    if (starts(i, "pm")) {
      out += c.hour >= 12 ? "pm" : "am";
      i += 2;
      continue;
    }
    if (starts(i, "-07:00:00")) {
      out += "+00:00:00";
      i += 9;
      continue;
    }
    if (starts(i, "-07:00")) {
      out += "+00:00";
      i += 6;
      continue;
    }
    if (starts(i, "-0700")) {
      out += "+0000";
      i += 5;
      continue;
    }
    if (starts(i, "-07")) {
      out += "+00";
      i += 3;
      continue;
    }
    if (starts(i, "Z07:00")) {
      out += "Z";
      i += 6;
      continue;
    }
    if (starts(i, "Z0700")) {
      out += "Z";
      i += 5;
      continue;
    }
    if (starts(i, "Z07")) {
      out += "Z";
      i += 3;
      continue;
    }
    if ((layout[i] == '.' || layout[i] == ',') && i + 1 < layout.size() &&
        (layout[i + 1] == '0' || layout[i + 1] == '9')) {
      std::size_t k = i + 1;
      while (k < layout.size() && layout[k] == layout[i + 1]) ++k;
      // Go treats .000/.999 as fractional seconds only when not followed by a digit.
      if (k >= layout.size() || layout[k] < '0' || layout[k] > '9') {
        i = fractional(i, layout[i + 1] == '9');
        continue;
      }
    }
    out.push_back(layout[i]);
    ++i;
  }
  return out;
}

std::string FormatDuration(std::int64_t nanos) {
  char buf[40];
  int w = sizeof buf;
  std::uint64_t u = static_cast<std::uint64_t>(nanos);
  const bool neg = nanos < 0;
  if (neg) u = ~u + 1;
  auto fmt_frac = [&](int prec) {
    bool print = false;
    for (int i = 0; i < prec; ++i) {
      const auto digit = static_cast<char>(u % 10);
      print = print || digit != 0;
      if (print) buf[--w] = static_cast<char>('0' + digit);
      u /= 10;
    }
    if (print) buf[--w] = '.';
  };
  auto fmt_int = [&](std::uint64_t v) {
    if (v == 0) {
      buf[--w] = '0';
      return;
    }
    while (v > 0) {
      buf[--w] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
  };
  if (u < 1000000000ull) {
    int prec = 0;
    buf[--w] = 's';
    if (u == 0) {
      buf[--w] = '0';
      return std::string(buf + w, buf + sizeof buf);
    }
    if (u < 1000ull) {
      prec = 0;
      buf[--w] = 'n';
    } else if (u < 1000000ull) {
      prec = 3;
      buf[--w] = '\xB5';  // U+00B5 'µ'
      buf[--w] = '\xC2';
    } else {
      prec = 6;
      buf[--w] = 'm';
    }
    fmt_frac(prec);
    fmt_int(u);
  } else {
    buf[--w] = 's';
    fmt_frac(9);
    fmt_int(u % 60);
    u /= 60;
    if (u > 0) {
      buf[--w] = 'm';
      fmt_int(u % 60);
      u /= 60;
      if (u > 0) {
        buf[--w] = 'h';
        fmt_int(u);
      }
    }
  }
  if (neg) buf[--w] = '-';
  return std::string(buf + w, buf + sizeof buf);
}

}  // namespace nimify::tmpl
