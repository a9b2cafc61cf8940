// The PromQL function table: for each function its signature (argument and
// return types), how the evaluator computes it, and what the rule analysis may
// assume about it. One entry per function, so a new function is added once.
#ifndef NIMIFY_PROMQL_FUNCTIONS_H_
#define NIMIFY_PROMQL_FUNCTIONS_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "promql/value.h"

namespace nimify::promql {

enum class FunctionKind : std::uint8_t {
  kUnknown,
  // Range-vector functions.
  kRate,
  kIncrease,
  kDelta,
  kIrate,
  kIdelta,
  kDeriv,
  kPredictLinear,
  kChanges,
  kResets,
  kAvgOverTime,
  kCountOverTime,
  kSumOverTime,
  kMinOverTime,
  kMaxOverTime,
  kQuantileOverTime,
  kStddevOverTime,
  kStdvarOverTime,
  kLastOverTime,
  kFirstOverTime,
  kPresentOverTime,
  kAbsentOverTime,
  kMadOverTime,
  kTsOfFirstOverTime,
  kTsOfLastOverTime,
  kTsOfMaxOverTime,
  kTsOfMinOverTime,
  kDoubleExponentialSmoothing,
  // Everything else.
  kAbs,
  kAbsent,
  kAcos,
  kAcosh,
  kAsin,
  kAsinh,
  kAtan,
  kAtanh,
  kCeil,
  kClamp,
  kClampMax,
  kClampMin,
  kCos,
  kCosh,
  kDayOfMonth,
  kDayOfWeek,
  kDayOfYear,
  kDaysInMonth,
  kDeg,
  kExp,
  kFloor,
  kHistogramQuantile,
  kHistogramFraction,
  kHistogramNative,
  kHour,
  kLabelReplace,
  kLabelJoin,
  kLn,
  kLog10,
  kLog2,
  kMinute,
  kMonth,
  kPi,
  kRad,
  kRound,
  kScalar,
  kSgn,
  kSin,
  kSinh,
  kSort,
  kSortDesc,
  kSortByLabel,
  kSortByLabelDesc,
  kSqrt,
  kTan,
  kTanh,
  kTime,
  kTimestamp,
  kVector,
  kYear,
  // Evaluated, but not in the table yet (experimental in Prometheus 3).
  kMaxOf,
  kMinOf,
  kQueryStart,
  kQueryEnd,
  kQueryRange,
  kQueryStep,
};

// What a function's result can do between two evaluations when none of the
// series it reads got a sample (see promql/analysis.h, ClassifyQuietChange).
enum class QuietClass : std::uint8_t {
  kAny,             // may change with time alone (time(), absent(), the date functions)
  kConstant,        // pi(): a constant scalar
  kVectorOf,        // vector(s): one element, from a scalar argument
  kElementwise,     // each output element from one input element, same existence
  kWindow,          // of a range vector: exists while its window keeps samples
  kWindowLastValue, // kWindow, and its value is fixed while it exists
  kHistogramQuantile,  // elementwise over the buckets of its vector argument
};

struct Function {
  std::string_view name;
  std::vector<ValueType> arg_types;
  // 0: exactly arg_types; -1: the last type repeats without bound;
  // n > 0: up to n trailing arguments may be omitted.
  int variadic = 0;
  ValueType return_type = ValueType::kVector;
  bool experimental = false;
  FunctionKind kind = FunctionKind::kUnknown;
  QuietClass quiet = QuietClass::kAny;
  // The result may hold elements no input sample made: absent(),
  // absent_over_time(), vector().
  bool makes_elements = false;
};

// Null when no function has that name.
const Function* LookupFunction(std::string_view name) noexcept;

// Every function, in name order (for docs and tests).
const std::vector<Function>& AllFunctions();

}  // namespace nimify::promql

#endif  // NIMIFY_PROMQL_FUNCTIONS_H_
