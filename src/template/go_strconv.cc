// Go's strconv as templates use it: ParseFloat, Quote and friends, Unquote.
// The Go semantics live in common/go_strconv.h; this file adds the template
// engine's Result-returning forms and Unquote, which only templates need.
#include "common/go_strconv.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "common/utf8.h"
#include "template/go_format.h"

namespace nimify::tmpl {

using internal::kMaxRune;
using internal::kRuneError;

Result<double> ParseFloat(std::string_view s) {
  double v = 0;
  const internal::GoNumError e = internal::ParseGoFloat(s, &v);
  if (e != internal::GoNumError::kNone) {
    return Status::InvalidArgument(internal::GoParseFloatError(s, e));
  }
  return v;
}

std::int64_t GoFloatToInt64(double v) noexcept {
  constexpr double kTwo63 = 9223372036854775808.0;
  if (std::isnan(v) || v >= kTwo63 || v < -kTwo63) return std::numeric_limits<std::int64_t>::min();
  return static_cast<std::int64_t>(v);
}

std::string Quote(std::string_view s) { return internal::GoQuote(s); }
std::string QuoteToAscii(std::string_view s) { return internal::GoQuoteToAscii(s); }
std::string QuoteRune(std::int32_t r) { return internal::GoQuoteRune(r); }

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

}  // namespace nimify::tmpl
