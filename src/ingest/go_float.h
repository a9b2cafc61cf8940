// Float text as Prometheus reads and writes it (internal to ingest).
#ifndef NIMIFY_INGEST_GO_FLOAT_H_
#define NIMIFY_INGEST_GO_FLOAT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "nimify/status.h"

namespace nimify::ingest::internal {

// The NaN Prometheus's parsers store for a "NaN" sample (value.NormalNaN),
// distinct from the staleness marker.
inline constexpr std::uint64_t kNormalNaNBits = 0x7ff8000000000001ull;

// Prometheus's textparse parseFloat: Go's strconv.ParseFloat without hex
// floats or underscores. Accepts [+-]digits[.digits][e[+-]digits], ".5", "1.",
// and case-insensitive [+-]Inf, [+-]Infinity, NaN (unsigned). Overflow is an
// error; underflow gives (signed) zero. NaN comes back as kNormalNaNBits.
Result<double> ParsePromFloat(std::string_view text);

// labels.FormatOpenMetricsFloat: Go's strconv 'g' shortest form, with ".0"
// appended when it has neither '.' nor 'e'; "NaN", "+Inf", "-Inf".
std::string FormatOpenMetricsFloat(double v);

}  // namespace nimify::ingest::internal

#endif  // NIMIFY_INGEST_GO_FLOAT_H_
