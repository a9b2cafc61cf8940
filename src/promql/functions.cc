#include "promql/functions.h"

#include <algorithm>

namespace nimify::promql {

namespace {

constexpr ValueType kScalar = ValueType::kScalar;
constexpr ValueType kVector = ValueType::kVector;
constexpr ValueType kMatrix = ValueType::kMatrix;
constexpr ValueType kString = ValueType::kString;

std::vector<Function> BuildTable() {
  // Prometheus 3's functions (promql/parser/functions.go) minus the native-
  // histogram-only and not-yet-supported experimental ones (info,
  // histogram_quantiles, start/end/step/range/min_of/max_of, start_timestamp),
  // plus holt_winters, the Prometheus 2 name of double_exponential_smoothing.
  std::vector<Function> table = {
      {"abs", {kVector}, 0, kVector, false},
      {"absent", {kVector}, 0, kVector, false},
      {"absent_over_time", {kMatrix}, 0, kVector, false},
      {"acos", {kVector}, 0, kVector, false},
      {"acosh", {kVector}, 0, kVector, false},
      {"asin", {kVector}, 0, kVector, false},
      {"asinh", {kVector}, 0, kVector, false},
      {"atan", {kVector}, 0, kVector, false},
      {"atanh", {kVector}, 0, kVector, false},
      {"avg_over_time", {kMatrix}, 0, kVector, false},
      {"ceil", {kVector}, 0, kVector, false},
      {"changes", {kMatrix}, 0, kVector, false},
      {"clamp", {kVector, kScalar, kScalar}, 0, kVector, false},
      {"clamp_max", {kVector, kScalar}, 0, kVector, false},
      {"clamp_min", {kVector, kScalar}, 0, kVector, false},
      {"cos", {kVector}, 0, kVector, false},
      {"cosh", {kVector}, 0, kVector, false},
      {"count_over_time", {kMatrix}, 0, kVector, false},
      {"day_of_month", {kVector}, 1, kVector, false},
      {"day_of_week", {kVector}, 1, kVector, false},
      {"day_of_year", {kVector}, 1, kVector, false},
      {"days_in_month", {kVector}, 1, kVector, false},
      {"deg", {kVector}, 0, kVector, false},
      {"delta", {kMatrix}, 0, kVector, false},
      {"deriv", {kMatrix}, 0, kVector, false},
      {"double_exponential_smoothing", {kMatrix, kScalar, kScalar}, 0, kVector, true},
      {"exp", {kVector}, 0, kVector, false},
      {"first_over_time", {kMatrix}, 0, kVector, false},
      {"floor", {kVector}, 0, kVector, false},
      {"histogram_avg", {kVector}, 0, kVector, false},
      {"histogram_count", {kVector}, 0, kVector, false},
      {"histogram_fraction", {kScalar, kScalar, kVector}, 0, kVector, false},
      {"histogram_quantile", {kScalar, kVector}, 0, kVector, false},
      {"histogram_stddev", {kVector}, 0, kVector, false},
      {"histogram_stdvar", {kVector}, 0, kVector, false},
      {"histogram_sum", {kVector}, 0, kVector, false},
      {"holt_winters", {kMatrix, kScalar, kScalar}, 0, kVector, false},
      {"hour", {kVector}, 1, kVector, false},
      {"idelta", {kMatrix}, 0, kVector, false},
      {"increase", {kMatrix}, 0, kVector, false},
      {"irate", {kMatrix}, 0, kVector, false},
      {"label_join", {kVector, kString, kString, kString}, -1, kVector, false},
      {"label_replace", {kVector, kString, kString, kString, kString}, 0, kVector, false},
      {"last_over_time", {kMatrix}, 0, kVector, false},
      {"ln", {kVector}, 0, kVector, false},
      {"log10", {kVector}, 0, kVector, false},
      {"log2", {kVector}, 0, kVector, false},
      {"mad_over_time", {kMatrix}, 0, kVector, true},
      {"max_over_time", {kMatrix}, 0, kVector, false},
      {"min_over_time", {kMatrix}, 0, kVector, false},
      {"minute", {kVector}, 1, kVector, false},
      {"month", {kVector}, 1, kVector, false},
      {"pi", {}, 0, kScalar, false},
      {"predict_linear", {kMatrix, kScalar}, 0, kVector, false},
      {"present_over_time", {kMatrix}, 0, kVector, false},
      {"quantile_over_time", {kScalar, kMatrix}, 0, kVector, false},
      {"rad", {kVector}, 0, kVector, false},
      {"rate", {kMatrix}, 0, kVector, false},
      {"resets", {kMatrix}, 0, kVector, false},
      {"round", {kVector, kScalar}, 1, kVector, false},
      {"scalar", {kVector}, 0, kScalar, false},
      {"sgn", {kVector}, 0, kVector, false},
      {"sin", {kVector}, 0, kVector, false},
      {"sinh", {kVector}, 0, kVector, false},
      {"sort", {kVector}, 0, kVector, false},
      {"sort_by_label", {kVector, kString}, -1, kVector, true},
      {"sort_by_label_desc", {kVector, kString}, -1, kVector, true},
      {"sort_desc", {kVector}, 0, kVector, false},
      {"sqrt", {kVector}, 0, kVector, false},
      {"stddev_over_time", {kMatrix}, 0, kVector, false},
      {"stdvar_over_time", {kMatrix}, 0, kVector, false},
      {"sum_over_time", {kMatrix}, 0, kVector, false},
      {"tan", {kVector}, 0, kVector, false},
      {"tanh", {kVector}, 0, kVector, false},
      {"time", {}, 0, kScalar, false},
      {"timestamp", {kVector}, 0, kVector, false},
      {"ts_of_first_over_time", {kMatrix}, 0, kVector, true},
      {"ts_of_last_over_time", {kMatrix}, 0, kVector, true},
      {"ts_of_max_over_time", {kMatrix}, 0, kVector, true},
      {"ts_of_min_over_time", {kMatrix}, 0, kVector, true},
      {"vector", {kScalar}, 0, kVector, false},
      {"year", {kVector}, 1, kVector, false},
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
