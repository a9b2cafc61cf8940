// Durations, number and string literals with Go's (Prometheus's) semantics.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "common/go_strconv.h"
#include "common/utf8.h"
#include "promql/lexer.h"
#include "promql/parser.h"

namespace nimify::promql {

namespace {

constexpr std::uint64_t kNanosPerMilli = 1'000'000;

struct DurationUnit {
  std::string_view name;
  int order;  // units must appear in increasing order
  std::uint64_t nanos;
};

constexpr DurationUnit kUnits[] = {
    {"y", 1, 365ull * 24 * 3600 * 1'000'000'000},
    {"w", 2, 7ull * 24 * 3600 * 1'000'000'000},
    {"d", 3, 24ull * 3600 * 1'000'000'000},
    {"h", 4, 3600ull * 1'000'000'000},
    {"m", 5, 60ull * 1'000'000'000},
    {"s", 6, 1'000'000'000},
    {"ms", 7, 1'000'000},
};

bool IsDigit(char c) noexcept { return c >= '0' && c <= '9'; }
bool ContainsByte(std::string_view s, char c) { return s.find(c) != std::string_view::npos; }

}  // namespace

bool ParseGoNumber(std::string_view s, double* value, std::string* error) {
  std::int64_t as_int = 0;
  if (internal::ParseGoInt(s, &as_int)) {
    *value = static_cast<double>(as_int);
    return true;
  }
  const internal::GoNumError e = internal::ParseGoFloat(s, value);
  if (e == internal::GoNumError::kNone) return true;
  *error = internal::GoParseFloatError(s, e);
  return false;
}

bool ParseDurationNanos(std::string_view s, std::int64_t* nanos, std::string* error) {
  if (s == "0") {
    *nanos = 0;
    return true;
  }
  if (s.empty()) {
    *error = "empty duration string";
    return false;
  }
  const std::string invalid = "not a valid duration string: " + GoQuote(s);
  const std::string_view orig = s;
  std::uint64_t total = 0;
  int last_order = 0;
  while (!s.empty()) {
    if (!IsDigit(s[0])) {
      *error = invalid;
      return false;
    }
    std::size_t i = 0;
    std::uint64_t v = 0;
    bool overflow = false;
    for (; i < s.size() && IsDigit(s[i]); ++i) {
      const auto d = static_cast<std::uint64_t>(s[i] - '0');
      if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) overflow = true;
      v = v * 10 + d;
    }
    if (overflow) {
      *error = invalid;
      return false;
    }
    s.remove_prefix(i);
    for (i = 0; i < s.size() && !IsDigit(s[i]); ++i) {
    }
    if (i == 0) {
      *error = invalid;
      return false;
    }
    const std::string_view unit_name = s.substr(0, i);
    s.remove_prefix(i);
    const DurationUnit* unit = nullptr;
    for (const auto& u : kUnits) {
      if (u.name == unit_name) unit = &u;
    }
    if (unit == nullptr) {
      *error = "unknown unit " + GoQuote(unit_name) + " in duration " + GoQuote(orig);
      return false;
    }
    if (unit->order <= last_order) {
      *error = invalid;
      return false;
    }
    last_order = unit->order;
    constexpr std::uint64_t kLimit = 1ull << 63;
    if (v > kLimit / unit->nanos) {
      *error = "duration out of range";
      return false;
    }
    total += v * unit->nanos;
    if (total > kLimit - 1) {
      *error = "duration out of range";
      return false;
    }
  }
  *nanos = static_cast<std::int64_t>(total);
  return true;
}

bool UnquoteString(std::string_view token, std::string* out) {
  out->clear();
  const std::size_t n = token.size();
  if (n < 2) return false;
  const char quote = token[0];
  if (quote != token[n - 1]) return false;
  std::string_view s = token.substr(1, n - 2);
  if (quote == '`') {
    if (ContainsByte(s, '`')) return false;
    out->assign(s);
    return true;
  }
  if (quote != '"' && quote != '\'') return false;
  if (ContainsByte(s, '\n')) return false;
  if (!ContainsByte(s, '\\') && !ContainsByte(s, quote)) {
    out->assign(s);
    return true;
  }
  out->reserve(s.size());
  while (!s.empty()) {
    const char c = s[0];
    if (c == quote) return false;
    if (c != '\\') {
      out->push_back(c);  // multi-byte runes are copied byte by byte
      s.remove_prefix(1);
      continue;
    }
    if (s.size() <= 1) return false;
    const char e = s[1];
    s.remove_prefix(2);
    if (const int simple = internal::GoSimpleEscape(e); simple >= 0) {
      out->push_back(static_cast<char>(simple));
      continue;
    }
    switch (e) {
      case 'x':
      case 'u':
      case 'U': {
        const std::size_t len = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        if (s.size() < len) return false;
        std::uint32_t v = 0;
        for (std::size_t j = 0; j < len; ++j) {
          const int x = internal::HexDigitValue(s[j]);
          if (x < 0) return false;
          v = (v << 4) | static_cast<std::uint32_t>(x);
        }
        s.remove_prefix(len);
        if (e == 'x') {
          out->push_back(static_cast<char>(v));  // a single byte, possibly not UTF-8
          break;
        }
        // utf8.ValidRune, as strutil.Unquote requires: no surrogate halves.
        if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return false;
        internal::AppendUtf8(static_cast<std::int32_t>(v), out);
        break;
      }
      case '0':
      case '1':
      case '2':
      case '3':
      case '4':
      case '5':
      case '6':
      case '7': {
        std::uint32_t v = static_cast<std::uint32_t>(e - '0');
        if (s.size() < 2) return false;
        for (int j = 0; j < 2; ++j) {
          const int x = s[static_cast<std::size_t>(j)] - '0';
          if (x < 0 || x > 7) return false;
          v = (v << 3) | static_cast<std::uint32_t>(x);
        }
        s.remove_prefix(2);
        if (v > 255) return false;
        out->push_back(static_cast<char>(v));
        break;
      }
      case '\'':
      case '"':
        if (e != quote) return false;
        out->push_back(e);
        break;
      default:
        return false;
    }
  }
  return true;
}

Result<std::int64_t> ParseDuration(std::string_view input) {
  std::int64_t nanos = 0;
  std::string error;
  if (!ParseDurationNanos(input, &nanos, &error)) return Status::InvalidArgument(error);
  return nanos / static_cast<std::int64_t>(kNanosPerMilli);
}

double DurationLiteralSeconds(std::int64_t nanos) {
  const std::int64_t sec = nanos / 1'000'000'000;
  const std::int64_t rest = nanos % 1'000'000'000;
  return static_cast<double>(sec) + static_cast<double>(rest) / 1e9;
}

std::string FormatDuration(std::int64_t ms) {
  if (ms == 0) return "0s";
  std::string out;
  // Magnitude as unsigned so that INT64_MIN stays representable.
  std::uint64_t rest = static_cast<std::uint64_t>(ms);
  if (ms < 0) {
    out.push_back('-');
    rest = ~rest + 1;
  }
  auto unit = [&](const char* name, std::uint64_t mult, bool exact) {
    if (exact && rest % mult != 0) return;
    if (const std::uint64_t v = rest / mult; v > 0) {
      out += std::to_string(v);
      out += name;
      rest -= v * mult;
    }
  };
  // Years and weeks only when exact: "90d" reads better than "12w6d".
  unit("y", 1000ull * 60 * 60 * 24 * 365, true);
  unit("w", 1000ull * 60 * 60 * 24 * 7, true);
  unit("d", 1000ull * 60 * 60 * 24, false);
  unit("h", 1000ull * 60 * 60, false);
  unit("m", 1000ull * 60, false);
  unit("s", 1000, false);
  unit("ms", 1, false);
  return out;
}

}  // namespace nimify::promql
