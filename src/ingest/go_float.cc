#include "ingest/go_float.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>

#include "common/go_strconv.h"
#include "ingest/series_checks.h"

namespace nimify::ingest::internal {

Result<double> ParsePromFloat(std::string_view text) {
  // Go 1.13 float forms (hex "p" exponents, '_' separators) are refused, as
  // Prometheus refuses them. A plain loop: find_first_of calls memchr per byte.
  bool unsupported = false;
  for (char c : text) unsupported |= (c == 'p' || c == 'P' || c == '_');
  if (unsupported) {
    return Status::ParseError("unsupported character in float " + Quote(text));
  }
  double v = 0;
  switch (nimify::internal::ParseGoFloat(text, &v)) {
    case nimify::internal::GoNumError::kNone:
      return std::isnan(v) ? std::bit_cast<double>(kNormalNaNBits) : v;
    case nimify::internal::GoNumError::kRange:
      return Status::ParseError("float " + Quote(text) + " is out of range");
    case nimify::internal::GoNumError::kSyntax:
      break;
  }
  return Status::ParseError("invalid float syntax " + Quote(text));
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
