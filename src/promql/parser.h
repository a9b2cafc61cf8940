// PromQL parser: text -> type-checked syntax tree.
//
//   auto expr = promql::ParseExpr("sum by (job) (rate(x[5m]))");
//   if (!expr.ok()) std::cerr << expr.status().message();  // "1:15: parse error: ..."
#ifndef NIMIFY_PROMQL_PARSER_H_
#define NIMIFY_PROMQL_PARSER_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "nimify/status.h"
#include "promql/ast.h"
#include "promql/labels.h"

namespace nimify::promql {

struct ParseOptions {
  // Accept functions Prometheus marks experimental (sort_by_label, mad_over_time, ...).
  bool enable_experimental_functions = true;
};

// Parses and type-checks. Errors are kParseError with Prometheus's text,
// e.g. "1:15: parse error: unexpected <by>". Never throws, never crashes.
Result<ExprPtr> ParseExpr(std::string_view input, const ParseOptions& options = {});

// Parses a series description `name{a="b"}` / `{__name__="x", a="b"}` (only `=`)
// into a label set, as promqltest and promtool input_series use.
Result<Labels> ParseMetric(std::string_view input);

// Parses a selector `name{a=~"b"}` into matchers (as used by `match[]` APIs).
Result<std::vector<LabelMatcher>> ParseMetricSelector(std::string_view input);

// Prometheus model.ParseDuration: "1h30m", "5m", "0", "1y2w", in milliseconds.
Result<std::int64_t> ParseDuration(std::string_view input);
// Formats milliseconds as Prometheus does ("1h30m", "0s").
std::string FormatDuration(std::int64_t ms);
// The value of a duration literal in an expression (`5m` as a number, PromQL
// 3): Go's time.Duration.Seconds() of its nanoseconds.
double DurationLiteralSeconds(std::int64_t nanos);

}  // namespace nimify::promql

#endif  // NIMIFY_PROMQL_PARSER_H_
