// PromQL evaluation over any Queryable, with Prometheus 2 or 3 semantics.
#ifndef NIMIFY_PROMQL_EVALUATOR_H_
#define NIMIFY_PROMQL_EVALUATOR_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "nimify/status.h"
#include "promql/ast.h"
#include "promql/storage.h"
#include "promql/value.h"

namespace nimify::promql {

// Which Prometheus the answers must match.
enum class Compat : std::uint8_t {
  kPrometheus2,  // range and lookback windows closed: t - d <= T <= t
  kPrometheus3,  // left-open: t - d < T <= t (the default)
};

struct EvalOptions {
  std::int64_t lookback_delta_ms = 5 * 60 * 1000;
  Compat compat = Compat::kPrometheus3;
  std::int64_t default_subquery_step_ms = 60 * 1000;
  // Drop __name__ only at the end of the query (Prometheus's experimental
  // "promql-delayed-name-removal"; on in promqltest's engine).
  bool delayed_name_removal = false;
  // Upper bound on samples a query may hold at once ("query processing would
  // load too many samples into memory in query execution").
  std::int64_t max_samples = 50'000'000;
};

struct QueryResult {
  Value value;
  std::vector<std::string> warnings;  // Prometheus annotations of level warning
  std::vector<std::string> infos;     // ... and info
};

// Thread safety: an Evaluator is immutable after construction; concurrent
// queries are safe if the Queryable's NewQuerier is.
class Evaluator {
 public:
  Evaluator(Queryable* storage, EvalOptions options);

  const EvalOptions& options() const noexcept { return options_; }

  // Instant query at ts_ms. Errors a query can raise in Prometheus (e.g. a
  // many-to-many match) come back as kInvalidArgument with Prometheus's text;
  // exceeding max_samples is kResourceExhausted (with Prometheus's text too).
  // `query` is the text `expr` was parsed from: annotations end with its
  // " (line:col)"; without it positions assume a one-line query.
  Result<QueryResult> Instant(const Expr& expr, std::int64_t ts_ms,
                              std::string_view query = {}) const;

  // Range query; the value is always a Matrix (a scalar becomes one series).
  // step_ms must be > 0 and end_ms >= start_ms.
  Result<QueryResult> Range(const Expr& expr, std::int64_t start_ms, std::int64_t end_ms,
                            std::int64_t step_ms, std::string_view query = {}) const;

 private:
  Queryable* storage_;
  EvalOptions options_;
};

}  // namespace nimify::promql

#endif  // NIMIFY_PROMQL_EVALUATOR_H_
