// The series notation shared by promqltest `load` blocks, expected results and
// promtool `input_series`: `metric{l="v"} 1+2x3 _ _x2 stale -Inf`.
#ifndef NIMIFY_PROMQLTEST_SERIES_NOTATION_H_
#define NIMIFY_PROMQLTEST_SERIES_NOTATION_H_

#include <cstddef>
#include <optional>
#include <string>
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

// As ParseSeriesLine, but errors read "<origin>:<line_number>:<col>: parse
// error: ..." (without "<origin>:" when origin is empty). Errors of the plain
// functions above use line 1.
Result<SeriesLine> ParseSeriesLineAt(std::string_view line, std::string_view origin,
                                     int line_number);

// Parses only the `metric{...}` (or `{...}`) at the start of `line`;
// *rest_offset receives the offset just past it. For callers that must look
// at the labels of a line whose values they do not parse (native histograms).
Result<promql::Labels> ParseSeriesMetric(std::string_view line, std::size_t* rest_offset);

// Go's strconv.Unquote for "...", '...' and `...` (the whole text must be
// one quoted string), as promqltest reads `expect string` lines.
Result<std::string> UnquoteGoString(std::string_view text);

// Go's strconv.ParseInt(s, 0, 64), falling back to strconv.ParseFloat(s, 64):
// how promqltest reads an expected scalar ("0x1f", "-5", "1e3", "Inf", "NaN").
Result<double> ParseGoNumber(std::string_view text);

}  // namespace nimify::promqltest

#endif  // NIMIFY_PROMQLTEST_SERIES_NOTATION_H_
