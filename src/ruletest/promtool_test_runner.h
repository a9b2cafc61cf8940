// `nimify test rules`: promtool's rule unit tests (cmd/promtool/unittest.go),
// with its file format, execution model and failure messages.
//
//   UnitTestOptions options;
//   options.compat = promql::Compat::kPrometheus2;   // match Debian's promtool 2.42
//   int exit_code = RunRuleUnitTests({"rules/runbook.test.yml"}, options, std::cout, std::cerr);
//
// Execution model: the input series are loaded lazily on the test's `interval`
// grid; every rule group of `rule_files` is evaluated at 0, ei, 2ei, ... up to
// the largest eval_time (ei = evaluation_interval), loading the samples up to
// each step first; alert checks compare the firing alerts of the latest step
// <= eval_time; expression checks run afterwards as instant queries.
#ifndef NIMIFY_RULETEST_PROMTOOL_TEST_RUNNER_H_
#define NIMIFY_RULETEST_PROMTOOL_TEST_RUNNER_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "promql/evaluator.h"

namespace nimify::ruletest {

struct UnitTestOptions {
  // kPrometheus2 reproduces Debian's promtool 2.42: closed windows, 3.x-only
  // fields rejected, and a test group without `interval` loading every sample
  // at t=0. kPrometheus3 follows current Prometheus.
  promql::Compat compat = promql::Compat::kPrometheus3;
  // Only test groups whose name matches (unanchored; several are OR-ed), as --run.
  std::vector<std::string> run_patterns;
  // Relative tolerance for expected sample values; 0 compares exactly as promtool
  // does. Prometheus sums in hash-map order, so the last bits of sum/avg vary
  // between its own runs; the default accepts that.
  double value_tolerance = 1e-9;
};

enum class UnitTestOutcome : std::uint8_t {
  kPassed,
  kFailed,    // a check failed or a rule or query failed to evaluate
  kBadInput,  // the test file, a rule file or an input series is malformed
};

struct UnitTestFileResult {
  std::string file;
  UnitTestOutcome outcome = UnitTestOutcome::kPassed;
  std::vector<std::string> errors;    // promtool-formatted, one per failure
  std::vector<std::string> warnings;  // e.g. a rule_files pattern matching nothing
};

// Runs one test file. Never throws; every problem ends up in `errors`.
UnitTestFileResult RunRuleUnitTestFile(const std::string& path, const UnitTestOptions& options);

// Runs the files, printing promtool's output ("Unit Testing:  f", "  SUCCESS" or
// "  FAILED:" and the errors) to `out` / `err`. Returns 0 if all passed, 2 if
// any file was bad input, else 1.
int RunRuleUnitTests(const std::vector<std::string>& files, const UnitTestOptions& options,
                     std::ostream& out, std::ostream& err);

// Go's time.Duration.String() of a millisecond duration: "0s", "1m0s", "1h0m0s", "1.5s".
std::string GoDurationString(std::int64_t ms);

// Go's strconv.FormatFloat(v, 'E', -1, 64): "1E+00", "1.234567E+06", "+Inf", "NaN".
std::string FormatFloatE(double v);

}  // namespace nimify::ruletest

#endif  // NIMIFY_RULETEST_PROMTOOL_TEST_RUNNER_H_
