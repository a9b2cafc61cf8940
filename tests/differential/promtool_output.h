// Reads the failure report of Prometheus 2.42's `promtool test rules`
// (cmd/promtool/unittest.go), which it writes to stderr:
//
//     expr: "rate(x[5m])", time: 10m,
//         exp: {job="a"} 1E+00
//         got: {job="a"} 1.5E+00, {job="b"} NaN
//     expr: "x + on() y", time: 3m, err: multiple matches for labels: ...
//
// Samples print as `Labels.String() strconv.FormatFloat(v, 'E', -1, 64)`,
// the lists joined with ", " ("nil" when empty).
#ifndef NIMIFY_TESTS_DIFFERENTIAL_PROMTOOL_OUTPUT_H_
#define NIMIFY_TESTS_DIFFERENTIAL_PROMTOOL_OUTPUT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "nimify/status.h"
#include "promql/labels.h"

namespace nimify::differential {

struct ReportedSample {
  promql::Labels labels;
  double value = 0;
};

// One failed promql_expr_test.
struct ReportedFailure {
  std::string expr;  // unquoted
  std::int64_t time_ms = 0;
  bool is_error = false;  // the query failed; `error` holds promtool's text
  std::string error;
  std::vector<ReportedSample> expected;
  std::vector<ReportedSample> got;
};

struct PromtoolReport {
  std::vector<ReportedFailure> failures;
  // Non-blank lines that are none of the above (e.g. a YAML or rule-file
  // error that failed the whole file); the caller must not ignore them.
  std::vector<std::string> other_lines;
};

// Never fails on unknown lines (they go to other_lines); fails when an
// `expr:` block is malformed, with the line number.
Result<PromtoolReport> ParsePromtoolReport(std::string_view text);

// One `exp:`/`got:` list: "nil" or `{l="v", ...} 1.5E+00, {...} NaN`.
Result<std::vector<ReportedSample>> ParseReportedSamples(std::string_view text);

}  // namespace nimify::differential

#endif  // NIMIFY_TESTS_DIFFERENTIAL_PROMTOOL_OUTPUT_H_
