#include "promql/functions.h"

#include <algorithm>

namespace nimify::promql {

namespace {

constexpr ValueType kScalar = ValueType::kScalar;
constexpr ValueType kVector = ValueType::kVector;
constexpr ValueType kMatrix = ValueType::kMatrix;
constexpr ValueType kString = ValueType::kString;
using K = FunctionKind;
using Q = QuietClass;

std::vector<Function> BuildTable() {
  // Prometheus 3's functions (promql/parser/functions.go) minus the native-
  // histogram-only and not-yet-supported experimental ones (info,
  // histogram_quantiles, start/end/step/range/min_of/max_of, start_timestamp),
  // plus holt_winters, the Prometheus 2 name of double_exponential_smoothing.
  std::vector<Function> table = {
      {"abs", {kVector}, 0, kVector, false, K::kAbs, Q::kElementwise},
      {"absent", {kVector}, 0, kVector, false, K::kAbsent, Q::kAny, true},
      {"absent_over_time", {kMatrix}, 0, kVector, false, K::kAbsentOverTime, Q::kAny, true},
      {"acos", {kVector}, 0, kVector, false, K::kAcos, Q::kElementwise},
      {"acosh", {kVector}, 0, kVector, false, K::kAcosh, Q::kElementwise},
      {"asin", {kVector}, 0, kVector, false, K::kAsin, Q::kElementwise},
      {"asinh", {kVector}, 0, kVector, false, K::kAsinh, Q::kElementwise},
      {"atan", {kVector}, 0, kVector, false, K::kAtan, Q::kElementwise},
      {"atanh", {kVector}, 0, kVector, false, K::kAtanh, Q::kElementwise},
      {"avg_over_time", {kMatrix}, 0, kVector, false, K::kAvgOverTime, Q::kWindow},
      {"ceil", {kVector}, 0, kVector, false, K::kCeil, Q::kElementwise},
      {"changes", {kMatrix}, 0, kVector, false, K::kChanges, Q::kWindow},
      {"clamp", {kVector, kScalar, kScalar}, 0, kVector, false, K::kClamp, Q::kElementwise},
      {"clamp_max", {kVector, kScalar}, 0, kVector, false, K::kClampMax, Q::kElementwise},
      {"clamp_min", {kVector, kScalar}, 0, kVector, false, K::kClampMin, Q::kElementwise},
      {"cos", {kVector}, 0, kVector, false, K::kCos, Q::kElementwise},
      {"cosh", {kVector}, 0, kVector, false, K::kCosh, Q::kElementwise},
      {"count_over_time", {kMatrix}, 0, kVector, false, K::kCountOverTime, Q::kWindow},
      {"day_of_month", {kVector}, 1, kVector, false, K::kDayOfMonth, Q::kAny},
      {"day_of_week", {kVector}, 1, kVector, false, K::kDayOfWeek, Q::kAny},
      {"day_of_year", {kVector}, 1, kVector, false, K::kDayOfYear, Q::kAny},
      {"days_in_month", {kVector}, 1, kVector, false, K::kDaysInMonth, Q::kAny},
      {"deg", {kVector}, 0, kVector, false, K::kDeg, Q::kElementwise},
      {"delta", {kMatrix}, 0, kVector, false, K::kDelta, Q::kWindow},
      {"deriv", {kMatrix}, 0, kVector, false, K::kDeriv, Q::kWindow},
      {"double_exponential_smoothing", {kMatrix, kScalar, kScalar}, 0, kVector, true, K::kDoubleExponentialSmoothing, Q::kWindow},
      {"exp", {kVector}, 0, kVector, false, K::kExp, Q::kElementwise},
      {"first_over_time", {kMatrix}, 0, kVector, false, K::kFirstOverTime, Q::kAny},
      {"floor", {kVector}, 0, kVector, false, K::kFloor, Q::kElementwise},
      {"histogram_avg", {kVector}, 0, kVector, false, K::kHistogramNative, Q::kAny},
      {"histogram_count", {kVector}, 0, kVector, false, K::kHistogramNative, Q::kAny},
      {"histogram_fraction", {kScalar, kScalar, kVector}, 0, kVector, false, K::kHistogramFraction, Q::kAny},
      {"histogram_quantile", {kScalar, kVector}, 0, kVector, false, K::kHistogramQuantile, Q::kHistogramQuantile},
      {"histogram_stddev", {kVector}, 0, kVector, false, K::kHistogramNative, Q::kAny},
      {"histogram_stdvar", {kVector}, 0, kVector, false, K::kHistogramNative, Q::kAny},
      {"histogram_sum", {kVector}, 0, kVector, false, K::kHistogramNative, Q::kAny},
      {"holt_winters", {kMatrix, kScalar, kScalar}, 0, kVector, false, K::kDoubleExponentialSmoothing, Q::kWindow},
      {"hour", {kVector}, 1, kVector, false, K::kHour, Q::kAny},
      {"idelta", {kMatrix}, 0, kVector, false, K::kIdelta, Q::kWindow},
      {"increase", {kMatrix}, 0, kVector, false, K::kIncrease, Q::kWindow},
      {"irate", {kMatrix}, 0, kVector, false, K::kIrate, Q::kWindow},
      {"label_join", {kVector, kString, kString, kString}, -1, kVector, false, K::kLabelJoin, Q::kElementwise},
      {"label_replace", {kVector, kString, kString, kString, kString}, 0, kVector, false, K::kLabelReplace, Q::kElementwise},
      {"last_over_time", {kMatrix}, 0, kVector, false, K::kLastOverTime, Q::kWindowLastValue},
      {"ln", {kVector}, 0, kVector, false, K::kLn, Q::kElementwise},
      {"log10", {kVector}, 0, kVector, false, K::kLog10, Q::kElementwise},
      {"log2", {kVector}, 0, kVector, false, K::kLog2, Q::kElementwise},
      {"mad_over_time", {kMatrix}, 0, kVector, true, K::kMadOverTime, Q::kWindow},
      {"max_over_time", {kMatrix}, 0, kVector, false, K::kMaxOverTime, Q::kWindow},
      {"min_over_time", {kMatrix}, 0, kVector, false, K::kMinOverTime, Q::kWindow},
      {"minute", {kVector}, 1, kVector, false, K::kMinute, Q::kAny},
      {"month", {kVector}, 1, kVector, false, K::kMonth, Q::kAny},
      {"pi", {}, 0, kScalar, false, K::kPi, Q::kConstant},
      {"predict_linear", {kMatrix, kScalar}, 0, kVector, false, K::kPredictLinear, Q::kWindow},
      {"present_over_time", {kMatrix}, 0, kVector, false, K::kPresentOverTime, Q::kWindowLastValue},
      {"quantile_over_time", {kScalar, kMatrix}, 0, kVector, false, K::kQuantileOverTime, Q::kWindow},
      {"rad", {kVector}, 0, kVector, false, K::kRad, Q::kElementwise},
      {"rate", {kMatrix}, 0, kVector, false, K::kRate, Q::kWindow},
      {"resets", {kMatrix}, 0, kVector, false, K::kResets, Q::kWindow},
      {"round", {kVector, kScalar}, 1, kVector, false, K::kRound, Q::kElementwise},
      {"scalar", {kVector}, 0, kScalar, false, K::kScalar, Q::kAny},
      {"sgn", {kVector}, 0, kVector, false, K::kSgn, Q::kElementwise},
      {"sin", {kVector}, 0, kVector, false, K::kSin, Q::kElementwise},
      {"sinh", {kVector}, 0, kVector, false, K::kSinh, Q::kElementwise},
      {"sort", {kVector}, 0, kVector, false, K::kSort, Q::kElementwise},
      {"sort_by_label", {kVector, kString}, -1, kVector, true, K::kSortByLabel, Q::kAny},
      {"sort_by_label_desc", {kVector, kString}, -1, kVector, true, K::kSortByLabelDesc, Q::kAny},
      {"sort_desc", {kVector}, 0, kVector, false, K::kSortDesc, Q::kElementwise},
      {"sqrt", {kVector}, 0, kVector, false, K::kSqrt, Q::kElementwise},
      {"stddev_over_time", {kMatrix}, 0, kVector, false, K::kStddevOverTime, Q::kWindow},
      {"stdvar_over_time", {kMatrix}, 0, kVector, false, K::kStdvarOverTime, Q::kWindow},
      {"sum_over_time", {kMatrix}, 0, kVector, false, K::kSumOverTime, Q::kWindow},
      {"tan", {kVector}, 0, kVector, false, K::kTan, Q::kElementwise},
      {"tanh", {kVector}, 0, kVector, false, K::kTanh, Q::kElementwise},
      {"time", {}, 0, kScalar, false, K::kTime, Q::kAny},
      {"timestamp", {kVector}, 0, kVector, false, K::kTimestamp, Q::kAny},
      {"ts_of_first_over_time", {kMatrix}, 0, kVector, true, K::kTsOfFirstOverTime, Q::kAny},
      {"ts_of_last_over_time", {kMatrix}, 0, kVector, true, K::kTsOfLastOverTime, Q::kAny},
      {"ts_of_max_over_time", {kMatrix}, 0, kVector, true, K::kTsOfMaxOverTime, Q::kAny},
      {"ts_of_min_over_time", {kMatrix}, 0, kVector, true, K::kTsOfMinOverTime, Q::kAny},
      {"vector", {kScalar}, 0, kVector, false, K::kVector, Q::kVectorOf, true},
      {"year", {kVector}, 1, kVector, false, K::kYear, Q::kAny},
  };
  std::sort(table.begin(), table.end(),
            [](const Function& a, const Function& b) { return a.name < b.name; });
  return table;
}

}  // namespace

const std::vector<Function>& AllFunctions() {
  static const std::vector<Function>* const table = new std::vector<Function>(BuildTable());
  return *table;
}

const Function* LookupFunction(std::string_view name) noexcept {
  const auto& table = AllFunctions();
  const auto it =
      std::lower_bound(table.begin(), table.end(), name,
                       [](const Function& f, std::string_view n) { return f.name < n; });
  if (it == table.end() || it->name != name) return nullptr;
  return &*it;
}

}  // namespace nimify::promql
