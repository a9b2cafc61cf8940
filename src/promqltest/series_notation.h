// The series notation shared by promqltest `load` blocks, expected results and
// promtool `input_series`: `metric{l="v"} 1+2x3 _ _x2 stale -Inf`.
#ifndef NIMIFY_PROMQLTEST_SERIES_NOTATION_H_
#define NIMIFY_PROMQLTEST_SERIES_NOTATION_H_

#include <optional>
#include <string_view>
#include <vector>

#include "nimify/status.h"
#include "promql/labels.h"

namespace nimify::promqltest {

// One entry per step: nullopt for a missing sample (`_`), StaleNaN for `stale`.
using SeriesValues = std::vector<std::optional<double>>;

// Expands the value part: `a+bxN` gives N+1 samples, `_xN` N missing ones,
// `vxN` N+1 copies; hex is not accepted (`0x5` is six zeros, as Prometheus).
Result<SeriesValues> ParseSeriesValues(std::string_view text);

struct SeriesLine {
  promql::Labels metric;
  SeriesValues values;
};

// Splits `metric{...} values` and parses both halves.
Result<SeriesLine> ParseSeriesLine(std::string_view line);

}  // namespace nimify::promqltest

#endif  // NIMIFY_PROMQLTEST_SERIES_NOTATION_H_
