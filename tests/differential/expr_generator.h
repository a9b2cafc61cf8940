// Random input series and random well-typed PromQL expressions (Prometheus
// 2.42 syntax) for the differential test against promtool.
//
//   Rng rng(seed);
//   Dataset data = GenerateDataset(&rng);
//   ExprGenerator gen(&data, &rng);
//   GeneratedExpr e = gen.Generate();
//
// Everything is a pure function of the seed, so a failing run can be replayed.
#ifndef NIMIFY_TESTS_DIFFERENTIAL_EXPR_GENERATOR_H_
#define NIMIFY_TESTS_DIFFERENTIAL_EXPR_GENERATOR_H_

#include <cstdint>
#include <string>
#include <vector>

namespace nimify::differential {

// splitmix64: the same sequence on every platform and standard library
// (std::uniform_int_distribution is not specified bit for bit).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t Next();
  // Uniform in [0, n); n > 0.
  int Below(int n);
  // Uniform in [lo, hi].
  int Between(int lo, int hi) { return lo + Below(hi - lo + 1); }
  bool Chance(double p);
  template <typename T>
  const T& Pick(const std::vector<T>& items) {
    return items[static_cast<std::size_t>(Below(static_cast<int>(items.size())))];
  }

 private:
  std::uint64_t state_;
};

// Shortest text that reads back as exactly `v` ("0.1", "1e+21", "NaN", "+Inf").
std::string FormatFloat(double v);

enum class FamilyKind { kCounter, kGauge, kHistogramBucket, kUp };

// One metric name and the label sets of its series.
struct Family {
  std::string name;
  FamilyKind kind = FamilyKind::kGauge;
  std::vector<std::string> label_names;                // without __name__
  std::vector<std::vector<std::string>> label_values;  // per series, parallel to label_names
};

// One promtool input_series entry.
struct InputSeries {
  std::string metric;  // `name{l="v", ...}`
  std::string values;  // series notation: `1 2 _ stale 3+2x4 _x3`
};

struct Dataset {
  std::int64_t interval_ms = 0;  // input_series step
  // The last evaluation step of the group; promtool loads no sample after it.
  std::int64_t max_time_ms = 0;
  std::vector<Family> families;
  std::vector<InputSeries> series;
};

// Counters with resets, gauges (some constant stretches, a NaN), classic
// histogram buckets with `le`, `up`, and two gauges that differ only by name;
// with gaps (`_`, `_xN` longer than the lookback), stale markers, series that
// start late or stop early, and label values that need quoting.
Dataset GenerateDataset(Rng* rng);

// topk/bottomk pick arbitrarily among equal values, so an expression is only
// usable if no tie straddles the k-th place at any evaluation time.
struct TieCheck {
  std::string operand;  // the aggregated expression, standalone
  bool bottom = false;  // bottomk
  int k = 0;
  bool without = false;
  std::vector<std::string> grouping;
};

struct GeneratedExpr {
  std::string text;
  std::vector<TieCheck> tie_checks;
};

class ExprGenerator {
 public:
  ExprGenerator(const Dataset* data, Rng* rng) : data_(data), rng_(rng) {}

  // A new expression, vector- or scalar-valued at the top.
  GeneratedExpr Generate();

 private:
  // A vector expression and the label names its samples may carry.
  struct Vec {
    std::string text;
    std::vector<std::string> labels;
    bool atomic = true;  // needs no parentheses as an operand
  };

  Vec Vector(int depth, int family, bool in_subquery);
  Vec Selector(int family, bool allow_modifiers);
  Vec RangeCall(int depth, int family, bool in_subquery);
  std::string RangeArg(int depth, int family);
  Vec Aggregation(int depth, int family, bool in_subquery);
  Vec BinaryVectorVector(int depth, int family, bool in_subquery);
  Vec BinaryVectorScalar(int depth, int family, bool in_subquery);
  Vec InstantCall(int depth, int family, bool in_subquery);
  Vec HistogramQuantile(int depth, bool in_subquery);
  Vec LabelManipulation(int depth, int family, bool in_subquery);
  std::string Scalar(int depth, bool in_subquery);
  std::string Literal();
  std::string Grouping(const std::vector<std::string>& available, bool* without,
                       std::vector<std::string>* names);
  std::string Modifiers();
  std::string Operand(const Vec& v);

  int FamilyOf(FamilyKind kind) const;
  int RandomFamily();

  const Dataset* data_;
  Rng* rng_;
  int subqueries_left_ = 0;
  int no_at_ = 0;  // > 0: generate no `@` modifiers
  // > 0 inside the operand of sin/cos/tan or `%`, which turn a last-bit
  // difference of a huge value into a different answer: there, no exp, sinh,
  // cosh or `^` (whose last bits depend on Go's libm) is generated.
  int periodic_ = 0;
  std::vector<TieCheck> tie_checks_;
};

}  // namespace nimify::differential

#endif  // NIMIFY_TESTS_DIFFERENTIAL_EXPR_GENERATOR_H_
