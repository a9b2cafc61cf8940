// Nothing crashes: NaN/Inf everywhere, empty storage, extreme times and
// ranges, and the sample limit.
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "promql_eval/eval_test_util.h"

namespace nimify::promql::testing {
namespace {

constexpr Compat kV2 = Compat::kPrometheus2;
constexpr Compat kV3 = Compat::kPrometheus3;

class RobustnessTest : public EvalTest {
 protected:
  void SetUp() override {
    Load(R"(
load 1m
  w{i="nan"} NaN NaN NaN
  w{i="inf"} Inf -Inf Inf
  w{i="mix"} 1 NaN -Inf
  w_bucket{le="1"} NaN
  w_bucket{le="+Inf"} Inf
)");
  }
};

// Every function and operator over awkward values, in both modes.
TEST_F(RobustnessTest, AwkwardValuesNeverFail) {
  const std::vector<std::string> queries = {
      "rate(w[5m])",
      "increase(w[5m])",
      "delta(w[5m])",
      "irate(w[5m])",
      "idelta(w[5m])",
      "deriv(w[5m])",
      "predict_linear(w[5m], 60)",
      "changes(w[5m])",
      "resets(w[5m])",
      "avg_over_time(w[5m])",
      "sum_over_time(w[5m])",
      "min_over_time(w[5m])",
      "max_over_time(w[5m])",
      "quantile_over_time(0.3, w[5m])",
      "stddev_over_time(w[5m])",
      "stdvar_over_time(w[5m])",
      "mad_over_time(w[5m])",
      "ts_of_max_over_time(w[5m])",
      "double_exponential_smoothing(w[5m], 0.3, 0.3)",
      "histogram_quantile(0.5, w_bucket)",
      "histogram_fraction(0, 1, w_bucket)",
      "sum(w)",
      "avg(w)",
      "stddev(w)",
      "quantile(0.5, w)",
      "topk(2, w)",
      "bottomk(2, w)",
      "count_values(\"v\", w)",
      "sort(w)",
      "sort_desc(w)",
      "w * w",
      "w / on(i) w",
      "w % 0",
      "w ^ w",
      "w atan2 w",
      "w > bool w",
      "round(w, 0)",
      "clamp(w, -Inf, Inf)",
      "year(w)",
      "exp(w)",
      "ln(w)",
      "sqrt(w)",
      "acosh(w)",
      "scalar(w) + 1",
      "absent(w)",
      "w[5m:10s]",
      "rate(w[5m:10s])",
      "topk(scalar(w{i=\"inf\"}), w)",
      "limit_ratio(0.5, w)",
      "limitk(1, w)",
  };
  for (Compat c : {kV2, kV3}) {
    for (const std::string& q : queries) {
      auto r = Instant(q, 2 * kMinute, Options(c));
      if (!r.ok()) {
        // Only Prometheus's own errors are acceptable.
        const std::string msg(r.status().message());
        EXPECT_TRUE(msg.find("overflows int64") != std::string::npos ||
                    msg.find("function") != std::string::npos ||
                    msg.find("parse") != std::string::npos)
            << q << ": " << msg;
      }
    }
  }
}

TEST_F(RobustnessTest, TopkWithInfiniteK) {
  EXPECT_EQ(Error("topk(Inf, w)", 0), "Scalar value +Inf overflows int64");
}

TEST_F(RobustnessTest, EmptyStorage) {
  promqltest::MemoryStorage empty;
  for (const char* q : {"nope", "rate(nope[5m])", "sum(nope)", "nope + nope", "topk(3, nope)",
                        "histogram_quantile(0.5, nope)", "nope[5m]", "nope[5m:1m]"}) {
    auto expr = ParseExpr(q);
    ASSERT_TRUE(expr.ok()) << q;
    Evaluator ev(&empty, EvalOptions{});
    auto r = ev.Instant(**expr, 0);
    ASSERT_TRUE(r.ok()) << q << ": " << r.status().ToString();
    if (const auto* v = std::get_if<Vector>(&r->value)) {
      EXPECT_TRUE(v->empty()) << q;
    }
    if (const auto* m = std::get_if<Matrix>(&r->value)) {
      EXPECT_TRUE(m->empty()) << q;
    }
  }
  // A null storage is an empty one.
  auto expr = ParseExpr("sum(nope)");
  ASSERT_TRUE(expr.ok());
  Evaluator ev(nullptr, EvalOptions{});
  EXPECT_TRUE(ev.Instant(**expr, 0).ok());
}

TEST_F(RobustnessTest, ExtremeTimesAndRanges) {
  for (const char* q :
       {"w offset 250y", "w offset -250y", "w @ 9e12", "w @ -9e12", "w @ 9e12 offset -250y",
        "rate(w[250y])", "count_over_time(w[1ms])", "max_over_time(w[250y:250y])",
        "w[250y:100y] offset 250y",
        "max_over_time(max_over_time(w[250y:100y] offset -250y)[250y:1y] offset 250y)"}) {
    auto r = Instant(q, 2 * kMinute);
    EXPECT_TRUE(r.ok()) << q << ": " << r.status().ToString();
  }
  EXPECT_FALSE(Instant("w", std::numeric_limits<std::int64_t>::max()).ok());
  EXPECT_FALSE(Instant("w", std::numeric_limits<std::int64_t>::min()).ok());
  EXPECT_TRUE(Range("w", 0, 10 * kMinute, std::numeric_limits<std::int64_t>::max()).ok());
}

TEST_F(RobustnessTest, DeeplyNestedExpressions) {
  // The parser allows 1000 levels (parentheses count too); evaluation recurses per level.
  for (const char* open : {"abs(", "(1 + ", "-(", "sum("}) {
    std::string q;
    for (int i = 0; i < 450; ++i) q += open;
    q += "w{i=\"mix\"}";
    q += std::string(450, ')');
    auto expr = ParseExpr(q);
    ASSERT_TRUE(expr.ok()) << open << ": " << expr.status().ToString();
    for (Compat c : {kV2, kV3}) {
      Evaluator ev(&storage_, Options(c));
      EXPECT_TRUE(ev.Instant(**expr, 0).ok()) << open;
      EXPECT_TRUE(ev.Range(**expr, 0, 2 * kMinute, kMinute).ok()) << open;
    }
  }
}

TEST_F(RobustnessTest, SampleLimit) {
  EvalOptions o;
  o.max_samples = 5;
  const std::string msg =
      "query processing would load too many samples into memory in query execution";
  auto r = Range("vector(1)", 0, 100 * kMinute, kMinute, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), msg);
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(Error("count_over_time(w[10m:1s])", 2 * kMinute, o), msg);
  // A huge subquery over sparse data stops instead of stepping forever.
  EXPECT_EQ(Error("count_over_time(nope[250y:1ms])", 0), msg);
  // Within the limit the same queries work.
  o.max_samples = 1000;
  EXPECT_TRUE(Range("vector(1)", 0, 100 * kMinute, kMinute, o).ok());
}

// Random well-typed expressions: every one must evaluate or fail cleanly,
// in both modes, as instant and range queries.
class RandomExpr {
 public:
  explicit RandomExpr(unsigned seed) : state_(seed) {}

  std::string Vector(int depth) {
    if (depth <= 0) return Pick({"w", "w{i=\"mix\"}", "nope", "w_bucket", "vector(1)"});
    switch (Next() % 9) {
      case 0:
        return Pick({"abs", "ceil", "ln", "sgn", "timestamp", "sort", "-"}) + std::string("(") +
               Vector(depth - 1) + ")";
      case 1:
        return Pick({"rate", "increase", "delta", "irate", "deriv", "changes", "resets",
                     "avg_over_time", "max_over_time", "stddev_over_time", "last_over_time",
                     "present_over_time", "absent_over_time", "mad_over_time", "count_over_time"}) +
               "(" + Matrix(depth - 1) + ")";
      case 2:
        return "(" + Vector(depth - 1) +
               Pick({" + ", " / ", " > ", " == bool ", " and ", " or ", " unless ", " % ", " ^ "}) +
               Pick({"", "on(i) ", "ignoring(le) ", "on() group_left "}) + Vector(depth - 1) + ")";
      case 3:
        return "(" + Vector(depth - 1) + Pick({" * ", " >= ", " - ", " atan2 "}) +
               Scalar(depth - 1) + ")";
      case 4:
        return Pick({"sum", "avg", "max", "count", "stddev", "group"}) +
               Pick({"", " by (i)", " without (le)", " by (__name__)"}) + "(" + Vector(depth - 1) +
               ")";
      case 5:
        return Pick({"topk", "bottomk", "quantile", "limitk"}) + "(" + Scalar(depth - 1) + ", " +
               Vector(depth - 1) + ")";
      case 6:
        return "histogram_quantile(" + Scalar(depth - 1) + ", " + Vector(depth - 1) + ")";
      case 7:
        return "label_replace(" + Vector(depth - 1) + ", \"x\", \"$1\", \"i\", \"(.*)\")";
      default:
        return "quantile_over_time(" + Scalar(depth - 1) + ", " + Matrix(depth - 1) + ")";
    }
  }
  std::string Scalar(int depth) {
    if (depth <= 0) return Pick({"1", "0.5", "NaN", "Inf", "-2", "time()"});
    return Pick({"scalar(" + Vector(depth - 1) + ")", "(" + Scalar(depth - 1) + " + 1)"});
  }
  std::string Matrix(int depth) {
    if (depth <= 0) return Pick({"w[5m]", "nope[1m]", "w[1m] offset 1m", "w[2m] @ 60"});
    return "(" + Vector(depth - 1) + ")[" + Pick({"2m:30s", "5m:", "1m:1m"}) + "]";
  }

 private:
  unsigned Next() {
    state_ = state_ * 1103515245u + 12345u;
    return state_ >> 8;
  }
  std::string Pick(std::initializer_list<std::string> options) {
    auto it = options.begin();
    std::advance(it, Next() % options.size());
    return *it;
  }
  unsigned state_;
};

// NIMIFY_SEED=<n> runs a longer, differently seeded pass (for sanitizer builds).
TEST_F(RobustnessTest, RandomExpressions) {
  const char* seed = std::getenv("NIMIFY_SEED");
  RandomExpr gen(seed != nullptr ? static_cast<unsigned>(std::atoi(seed)) : 42u);
  const int count = seed != nullptr ? 3000 : 400;
  int evaluated = 0;
  for (int i = 0; i < count; ++i) {
    const std::string q = gen.Vector(1 + i % 4);
    auto expr = ParseExpr(q);
    if (!expr.ok()) continue;
    ++evaluated;
    for (Compat c : {kV2, kV3}) {
      for (bool delayed : {false, true}) {
        EvalOptions o = Options(c, delayed);
        o.max_samples = 20000;
        Evaluator ev(&storage_, o);
        // Failing is fine (Prometheus's own errors); an internal error is not.
        auto r = ev.Instant(**expr, 2 * kMinute, q);
        EXPECT_NE(r.status().code(), StatusCode::kInternal) << q << ": " << r.status().ToString();
        r = ev.Range(**expr, 0, 3 * kMinute, 30'000, q);
        EXPECT_NE(r.status().code(), StatusCode::kInternal) << q << ": " << r.status().ToString();
      }
    }
  }
  EXPECT_GT(evaluated, 200);
}

}  // namespace
}  // namespace nimify::promql::testing
