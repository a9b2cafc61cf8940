// Shared helpers for the evaluator tests: load series in promqltest notation,
// run a query, and read results as label-string -> value maps.
#ifndef NIMIFY_TESTS_PROMQL_EVAL_EVAL_TEST_UTIL_H_
#define NIMIFY_TESTS_PROMQL_EVAL_EVAL_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>

#include "promql/evaluator.h"
#include "promql/parser.h"
#include "promqltest/memory_storage.h"
#include "promqltest/script.h"

namespace nimify::promql::testing {

inline EvalOptions Options(Compat compat, bool delayed = false) {
  EvalOptions o;
  o.compat = compat;
  o.delayed_name_removal = delayed;
  return o;
}

inline constexpr std::int64_t kMinute = 60'000;

class EvalTest : public ::testing::Test {
 protected:
  void Load(std::string_view text) {
    const Status st = promqltest::LoadSeriesText(text, "test", &storage_);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  Result<QueryResult> Instant(std::string_view query, std::int64_t ts,
                              const EvalOptions& options = EvalOptions{}) {
    auto expr = ParseExpr(query);
    if (!expr.ok()) return expr.status();
    Evaluator ev(&storage_, options);
    return ev.Instant(**expr, ts, query);
  }

  Result<QueryResult> Range(std::string_view query, std::int64_t start, std::int64_t end,
                            std::int64_t step, const EvalOptions& options = EvalOptions{}) {
    auto expr = ParseExpr(query);
    if (!expr.ok()) return expr.status();
    Evaluator ev(&storage_, options);
    return ev.Range(**expr, start, end, step, query);
  }

  // An instant query that must return a vector, as label string -> value.
  std::map<std::string, double> Vec(std::string_view query, std::int64_t ts,
                                    const EvalOptions& options = EvalOptions{}) {
    std::map<std::string, double> out;
    auto r = Instant(query, ts, options);
    EXPECT_TRUE(r.ok()) << query << ": " << r.status().ToString();
    if (!r.ok()) return out;
    const auto* vec = std::get_if<Vector>(&r->value);
    EXPECT_NE(vec, nullptr) << query << " did not return a vector";
    if (vec == nullptr) return out;
    for (const Sample& s : *vec) {
      EXPECT_EQ(s.t, ts);
      EXPECT_TRUE(out.emplace(s.metric.ToString(), s.v).second)
          << "duplicate " << s.metric.ToString();
    }
    return out;
  }

  // The single value of a one-element vector (or a scalar).
  double One(std::string_view query, std::int64_t ts, const EvalOptions& options = EvalOptions{}) {
    auto r = Instant(query, ts, options);
    EXPECT_TRUE(r.ok()) << query << ": " << r.status().ToString();
    if (!r.ok()) return -12345;
    if (const auto* s = std::get_if<Scalar>(&r->value)) return s->v;
    const auto* vec = std::get_if<Vector>(&r->value);
    EXPECT_TRUE(vec != nullptr && vec->size() == 1) << query << " did not return one sample";
    if (vec == nullptr || vec->size() != 1) return -12345;
    return (*vec)[0].v;
  }

  // The error message of a query that must fail.
  std::string Error(std::string_view query, std::int64_t ts,
                    const EvalOptions& options = EvalOptions{}) {
    auto r = Instant(query, ts, options);
    EXPECT_FALSE(r.ok()) << query << " unexpectedly succeeded";
    return r.ok() ? "" : std::string(r.status().message());
  }

  promqltest::MemoryStorage storage_;
};

}  // namespace nimify::promql::testing

#endif  // NIMIFY_TESTS_PROMQL_EVAL_EVAL_TEST_UTIL_H_
