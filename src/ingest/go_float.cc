#include "ingest/go_float.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>

#include "common/go_strconv.h"
#include "ingest/series_checks.h"

namespace nimify::ingest::internal {

namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view lower) noexcept {
  if (a.size() != lower.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

bool IsDigit(char c) noexcept { return c >= '0' && c <= '9'; }

// Checks digits[.digits][e[+-]digits] (at least one mantissa digit) and returns
// the decimal exponent of the leading nonzero digit, saturated, so that an
// out-of-range result can be told apart as overflow (> 0) or underflow.
bool CheckDecimal(std::string_view s, long long* magnitude) noexcept {
  std::size_t i = 0;
  std::size_t mantissa_digits = 0;
  long long lead = 0;  // exponent of the first nonzero digit, before the e part
  bool seen_nonzero = false;
  long long int_digits_after_lead = 0;
  while (i < s.size() && IsDigit(s[i])) {
    if (seen_nonzero) {
      ++int_digits_after_lead;
    } else if (s[i] != '0') {
      seen_nonzero = true;
    }
    ++mantissa_digits;
    ++i;
  }
  lead = int_digits_after_lead;
  if (i < s.size() && s[i] == '.') {
    ++i;
    long long frac_pos = 0;
    while (i < s.size() && IsDigit(s[i])) {
      ++frac_pos;
      if (!seen_nonzero && s[i] != '0') {
        seen_nonzero = true;
        lead = -frac_pos;
      }
      ++mantissa_digits;
      ++i;
    }
  }
  if (mantissa_digits == 0) return false;
  long long exp = 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool neg = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      neg = s[i] == '-';
      ++i;
    }
    if (i >= s.size() || !IsDigit(s[i])) return false;
    while (i < s.size() && IsDigit(s[i])) {
      if (exp < 100'000'000) exp = exp * 10 + (s[i] - '0');
      ++i;
    }
    if (neg) exp = -exp;
  }
  if (i != s.size()) return false;
  *magnitude = seen_nonzero ? lead + exp : 0;
  return true;
}

}  // namespace

Result<double> ParsePromFloat(std::string_view text) {
  // Go 1.13 float forms (hex "p" exponents, '_' separators) are refused, as
  // Prometheus refuses them. A plain loop: find_first_of calls memchr per byte.
  bool unsupported = false;
  for (char c : text) unsupported |= (c == 'p' || c == 'P' || c == '_');
  if (unsupported) {
    return Status::ParseError("unsupported character in float " + Quote(text));
  }
  std::string_view rest = text;
  bool negative = false;
  const bool has_sign = !rest.empty() && (rest[0] == '+' || rest[0] == '-');
  if (has_sign) {
    negative = rest[0] == '-';
    rest.remove_prefix(1);
  }
  if (EqualsIgnoreCase(rest, "inf") || EqualsIgnoreCase(rest, "infinity")) {
    return negative ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
  }
  if (!has_sign && EqualsIgnoreCase(rest, "nan")) return std::bit_cast<double>(kNormalNaNBits);
  long long magnitude = 0;
  if (!CheckDecimal(rest, &magnitude)) {
    return Status::ParseError("invalid float syntax " + Quote(text));
  }
  double v = 0;
  const auto [ptr, ec] =
      std::from_chars(rest.data(), rest.data() + rest.size(), v, std::chars_format::general);
  if (ec == std::errc::result_out_of_range) {
    if (magnitude > 0) {
      return Status::ParseError("float " + Quote(text) + " is out of range");
    }
    v = 0;  // underflow: Go returns zero without an error
  } else if (ec != std::errc() || ptr != rest.data() + rest.size()) {
    return Status::ParseError("invalid float syntax " + Quote(text));
  }
  return negative ? -v : v;
}

std::string FormatOpenMetricsFloat(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  std::string out = nimify::internal::FormatGoFloat(v, 'g', -1);
  // An integer gets ".0" so that it reads as a float.
  if (out.find_first_of(".e") == std::string::npos) out += ".0";
  return out;
}

}  // namespace nimify::ingest::internal
