// PromQL values: scalar, string, instant vector and range vector (matrix).
#ifndef NIMIFY_PROMQL_VALUE_H_
#define NIMIFY_PROMQL_VALUE_H_

#include <bit>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "promql/labels.h"

namespace nimify::promql {

// Prometheus's staleness marker: a NaN with a distinct payload.
inline constexpr std::uint64_t kStaleNaNBits = 0x7ff0000000000002ull;
inline double StaleNaN() noexcept { return std::bit_cast<double>(kStaleNaNBits); }
inline bool IsStaleNaN(double v) noexcept { return std::bit_cast<std::uint64_t>(v) == kStaleNaNBits; }

// Timestamps are Unix milliseconds throughout, as in Prometheus.
struct Point {
  std::int64_t t = 0;
  double v = 0;
};

struct Sample {
  Labels metric;
  std::int64_t t = 0;
  double v = 0;
  // Set when delayed name removal is on and __name__ must be dropped at the end.
  bool drop_name = false;
};

struct Series {
  Labels metric;
  std::vector<Point> points;
  bool drop_name = false;
};

using Vector = std::vector<Sample>;
using Matrix = std::vector<Series>;

struct Scalar {
  std::int64_t t = 0;
  double v = 0;
};

struct String {
  std::int64_t t = 0;
  std::string v;
};

enum class ValueType : std::uint8_t { kNone, kScalar, kVector, kMatrix, kString };

// Prometheus's names: "scalar", "instant vector", "range vector", "string".
const char* ValueTypeName(ValueType t) noexcept;

using Value = std::variant<Scalar, Vector, Matrix, String>;

inline ValueType TypeOf(const Value& v) noexcept {
  switch (v.index()) {
    case 0: return ValueType::kScalar;
    case 1: return ValueType::kVector;
    case 2: return ValueType::kMatrix;
    default: return ValueType::kString;
  }
}

}  // namespace nimify::promql

#endif  // NIMIFY_PROMQL_VALUE_H_
