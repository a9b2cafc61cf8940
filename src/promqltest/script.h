// Runs Prometheus's promqltest `.test` scripts (promql/promqltest/test.go)
// against nimify's parser and evaluator.
//
//   promqltest::ScriptOptions options;
//   options.compat = promql::Compat::kPrometheus2;
//   auto result = promqltest::RunScriptFile("functions.test", options);
//   if (result.ok() && result->ok()) ...  // every eval passed or was skipped
//
// Each instant eval is checked the way Prometheus checks it: the query itself,
// the same query as a range query (t-1m..t+1m, step 1m) read at t, and the
// query with `@ t` added to its selectors, evaluated at several other times.
// In Prometheus 3 mode an eval that needs something nimify does not implement
// (native histograms, syntax newer than 3.0, start timestamps) is skipped,
// never silently: each skip carries its reason.
#ifndef NIMIFY_PROMQLTEST_SCRIPT_H_
#define NIMIFY_PROMQLTEST_SCRIPT_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "nimify/status.h"
#include "promql/evaluator.h"
#include "promqltest/memory_storage.h"

namespace nimify::promqltest {

struct ScriptOptions {
  // kPrometheus2: the test engine of Prometheus 2.42 (closed windows, no
  // delayed name removal, 2.42's checks); kPrometheus3: that of Prometheus 3.x
  // (left-open windows, delayed name removal, `expect` lines, range evals).
  promql::Compat compat = promql::Compat::kPrometheus3;
};

enum class EvalStatus { kPassed, kFailed, kSkipped };

struct EvalOutcome {
  int line = 0;  // 1-based line of the `eval` command
  std::string expr;
  EvalStatus status = EvalStatus::kPassed;
  std::string message;  // why it failed, or the skip reason
};

struct ScriptResult {
  std::string origin;
  std::vector<EvalOutcome> evals;
  // Problems outside any eval (a bad command or load line): each fails the script.
  std::vector<std::string> errors;

  int Count(EvalStatus status) const;
  // Skip reason -> number of evals.
  std::map<std::string, int> SkipReasons() const;
  // No failed eval and no script error.
  bool ok() const { return errors.empty() && Count(EvalStatus::kFailed) == 0; }
};

// Parses and runs a whole script. `origin` names it in messages.
ScriptResult RunScript(std::string_view text, std::string_view origin,
                       const ScriptOptions& options);

// Reads the file, then RunScript. Fails only when the file cannot be read.
Result<ScriptResult> RunScriptFile(const std::string& path, const ScriptOptions& options);

// Loads the `load <step>` blocks of `text` (series lines in the promqltest
// notation; `#` comments and blank lines between blocks) into `storage`.
// Other commands are errors. Errors read "<origin>:<line>:<col>: ...".
Status LoadSeriesText(std::string_view text, std::string_view origin, MemoryStorage* storage);

// The test engine's settings for `compat`: lookback 5m, subquery step 1m,
// 10000 samples per query, delayed name removal in Prometheus 3 mode.
promql::EvalOptions TestEngineOptions(promql::Compat compat);

// Prometheus's util/almost.Equal with promqltest's epsilon (1e-6): NaN equals
// NaN, and in Prometheus 3 mode a StaleNaN equals only a StaleNaN.
bool AlmostEqual(double a, double b, promql::Compat compat);

}  // namespace nimify::promqltest

#endif  // NIMIFY_PROMQLTEST_SCRIPT_H_
