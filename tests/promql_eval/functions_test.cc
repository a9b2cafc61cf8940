// Functions: rate family extrapolation, *_over_time, histogram_quantile,
// label_replace/label_join, sorting, dates and absent.
#include <cmath>
#include <limits>
#include <vector>

#include "promql_eval/eval_test_util.h"

namespace nimify::promql::testing {
namespace {

constexpr Compat kV2 = Compat::kPrometheus2;
constexpr Compat kV3 = Compat::kPrometheus3;

TEST_F(EvalTest, RateExtrapolatesToTheWindowEdges) {
  Load(R"(
load 1m
  c_total 0+10x10
)");
  // 3.x: (5m, 10m] holds 6m..10m; extrapolated by 60 s at the start.
  EXPECT_NEAR(One("rate(c_total[5m])", 10 * kMinute, Options(kV3)), 50.0 / 300, 1e-12);
  EXPECT_NEAR(One("rate(c_total[5m])", 10 * kMinute, Options(kV2)), 50.0 / 300, 1e-12);
  EXPECT_NEAR(One("increase(c_total[5m])", 10 * kMinute), 50, 1e-9);
  EXPECT_NEAR(One("delta(c_total[5m])", 10 * kMinute), 50, 1e-9);
  // A single sample gives no rate.
  EXPECT_TRUE(Vec("rate(c_total[30s])", 10 * kMinute).empty());
}

TEST_F(EvalTest, IncreaseStopsExtrapolatingAtTheCounterZeroPoint) {
  Load(R"(
load 1m
  z_total 5+10x4
)");
  // Raw increase 40 over 240 s; extrapolating back 60 s would pass zero,
  // so only 30 s (to the zero point) are added: 40 * 270 / 240.
  EXPECT_NEAR(One("increase(z_total[5m])", 4 * kMinute, Options(kV3)), 45, 1e-9);
  EXPECT_NEAR(One("increase(z_total[5m])", 4 * kMinute, Options(kV2)), 45, 1e-9);
}

TEST_F(EvalTest, CounterResetsAndIrate) {
  Load(R"(
load 1m
  r_total 10 20 5 15
)");
  // (0, 3m]: 20, 5, 15 -> 15 - 20 + 20 (reset) = 15, extrapolated by 60 s.
  EXPECT_NEAR(One("increase(r_total[3m])", 3 * kMinute, Options(kV3)), 22.5, 1e-9);
  EXPECT_NEAR(One("irate(r_total[3m])", 3 * kMinute), 10.0 / 60, 1e-12);
  EXPECT_NEAR(One("irate(r_total[2m])", 2 * kMinute), 5.0 / 60, 1e-12);  // reset: last value
  EXPECT_NEAR(One("idelta(r_total[2m])", 2 * kMinute), -15, 1e-12);
  EXPECT_EQ(One("resets(r_total[5m])", 3 * kMinute), 1);
  EXPECT_EQ(One("changes(r_total[5m])", 3 * kMinute, Options(kV2)), 3);
}

TEST_F(EvalTest, OverTimeFunctions) {
  Load(R"(
load 1m
  g 1 5 3 NaN 2
  h 4 4 4
)");
  const std::int64_t t = 2 * kMinute;  // window (-3m, 2m] = 1 5 3
  EXPECT_EQ(One("sum_over_time(g[5m])", t), 9);
  EXPECT_EQ(One("avg_over_time(g[5m])", t), 3);
  EXPECT_EQ(One("min_over_time(g[5m])", t), 1);
  EXPECT_EQ(One("max_over_time(g[5m])", t), 5);
  EXPECT_EQ(One("count_over_time(g[5m])", t), 3);
  EXPECT_EQ(One("last_over_time(g[5m])", t), 3);
  EXPECT_EQ(One("first_over_time(g[5m])", t), 1);
  EXPECT_EQ(One("quantile_over_time(0.5, g[5m])", t), 3);
  EXPECT_EQ(One("quantile_over_time(0.25, g[5m])", t), 2);
  EXPECT_NEAR(One("stdvar_over_time(g[5m])", t), 8.0 / 3, 1e-12);
  EXPECT_NEAR(One("stddev_over_time(g[5m])", t), std::sqrt(8.0 / 3), 1e-12);
  EXPECT_EQ(One("present_over_time(g[5m])", t), 1);
  EXPECT_EQ(One("mad_over_time(g[5m])", t), 2);
  EXPECT_EQ(One("ts_of_max_over_time(g[5m])", t), 60);
  EXPECT_EQ(One("ts_of_min_over_time(g[5m])", t), 0);
  EXPECT_EQ(One("ts_of_last_over_time(g[5m])", t), 120);
  EXPECT_EQ(One("ts_of_first_over_time(g[5m])", t), 0);
  EXPECT_EQ(One("deriv(h[5m])", t), 0);
  EXPECT_EQ(One("predict_linear(h[5m], 3600)", t), 4);
  // With the NaN in the window (3m), max keeps a number, mad is NaN.
  EXPECT_EQ(One("max_over_time(g[5m])", 3 * kMinute), 5);
  EXPECT_TRUE(std::isnan(One("mad_over_time(g[5m])", 3 * kMinute)));
  // last_over_time keeps the metric name, the others drop it.
  EXPECT_EQ(Vec("last_over_time(g[5m])", t).begin()->first, "g");
  EXPECT_EQ(Vec("max_over_time(g[5m])", t).begin()->first, "{}");
}

TEST_F(EvalTest, DerivAndPredictLinear) {
  Load(R"(
load 1m
  lin 0+60x10
)");
  EXPECT_NEAR(One("deriv(lin[5m])", 10 * kMinute), 1, 1e-12);
  EXPECT_NEAR(One("predict_linear(lin[5m], 60)", 10 * kMinute), 660, 1e-9);
}

TEST_F(EvalTest, DoubleExponentialSmoothing) {
  Load(R"(
load 1m
  des 1 2 3 4
)");
  // Linear data: the smoothed value follows it exactly.
  EXPECT_NEAR(One("double_exponential_smoothing(des[5m], 0.5, 0.5)", 3 * kMinute), 4, 1e-12);
  EXPECT_NEAR(One("holt_winters(des[5m], 0.5, 0.5)", 3 * kMinute, Options(kV2)), 4, 1e-12);
  EXPECT_EQ(Error("double_exponential_smoothing(des[5m], 1, 0.5)", 3 * kMinute),
            "invalid smoothing factor. Expected: 0 < sf < 1, got: 1.000000");
  EXPECT_EQ(Error("double_exponential_smoothing(des[5m], 0.5, 0)", 3 * kMinute),
            "invalid trend factor. Expected: 0 < tf < 1, got: 0.000000");
}

class HistogramTest : public EvalTest {
 protected:
  void SetUp() override {
    Load(R"(
load 1m
  h_bucket{le="1"} 1
  h_bucket{le="2"} 3
  h_bucket{le="+Inf"} 4
  noinf_bucket{le="1"} 1
  noinf_bucket{le="2"} 3
  single_bucket{le="+Inf"} 3
  bad_bucket{le="1"} 5
  bad_bucket{le="2"} 3
  bad_bucket{le="+Inf"} 6
  neg_bucket{le="-1"} 2
  neg_bucket{le="+Inf"} 4
)");
  }
};

TEST_F(HistogramTest, BucketQuantile) {
  EXPECT_EQ(One("histogram_quantile(0.5, h_bucket)", 0), 1.5);
  // Falls into +Inf: the upper bound of the second-highest bucket.
  EXPECT_EQ(One("histogram_quantile(0.9, h_bucket)", 0), 2);
  EXPECT_EQ(One("histogram_quantile(0.25, h_bucket)", 0), 1);
  EXPECT_TRUE(std::isnan(One("histogram_quantile(0.5, noinf_bucket)", 0)));
  EXPECT_TRUE(std::isnan(One("histogram_quantile(0.5, single_bucket)", 0)));
  EXPECT_TRUE(std::isnan(One("histogram_quantile(NaN, h_bucket)", 0)));
  EXPECT_EQ(One("histogram_quantile(-1, h_bucket)", 0), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(One("histogram_quantile(2, h_bucket)", 0), std::numeric_limits<double>::infinity());
  // A lowest bucket at or below zero is returned as it is.
  EXPECT_EQ(One("histogram_quantile(0.2, neg_bucket)", 0), -1);
  // Non-monotonic buckets are fixed: counts become 5, 5, 6.
  EXPECT_EQ(One("histogram_quantile(0.5, bad_bucket)", 0), 0.6);
  // The result drops the name and `le`.
  EXPECT_EQ(Vec("histogram_quantile(0.5, h_bucket)", 0).begin()->first, "{}");
}

TEST_F(HistogramTest, BucketFraction) {
  EXPECT_EQ(One("histogram_fraction(0, 2, h_bucket)", 0), 0.75);
  EXPECT_EQ(One("histogram_fraction(0, 1.5, h_bucket)", 0), 0.5);
  EXPECT_EQ(One("histogram_fraction(2, 1, h_bucket)", 0), 0);
  // Prometheus 2.42 computed fractions of native histograms only.
  EXPECT_TRUE(Vec("histogram_fraction(0, 2, h_bucket)", 0, Options(kV2)).empty());
}

TEST_F(EvalTest, LabelReplaceExpandsLikeGo) {
  Load(R"(
load 1m
  x{src="ab"} 1
)");
  auto got =
      Vec(R"q(label_replace(x, "dst", "$1|${2}x|$name|$$|$2x|$", "src", "(?P<name>a)(b)"))q", 0);
  EXPECT_EQ(got.begin()->first, "x{dst=\"a|bx|a|$||$\", src=\"ab\"}");
  // No match leaves the series alone; an empty result deletes the label.
  EXPECT_EQ(Vec(R"q(label_replace(x, "dst", "v", "src", "zz"))q", 0).begin()->first,
            "x{src=\"ab\"}");
  EXPECT_EQ(Vec(R"q(label_replace(x, "src", "", "src", ".*"))q", 0).begin()->first, "x");
  EXPECT_EQ(Error(R"q(label_replace(x, "dst", "", "src", "(.*"))q", 0),
            "invalid regular expression in label_replace(): (.*");
  EXPECT_EQ(Error(R"q(label_replace(x, "", "", "src", ".*"))q", 0),
            "invalid destination label name in label_replace(): ");
  // Prometheus 2 only accepts the legacy label-name charset.
  EXPECT_EQ(Error(R"q(label_replace(x, "a-b", "", "src", ".*"))q", 0, Options(kV2)),
            "invalid destination label name in label_replace(): a-b");
  EXPECT_EQ(Vec(R"q(label_replace(x, "a-b", "v", "src", ".*"))q", 0).begin()->first,
            "x{\"a-b\"=\"v\", src=\"ab\"}");
}

TEST_F(EvalTest, LabelJoin) {
  Load(R"(
load 1m
  x{a="1", b="2"} 1
)");
  EXPECT_EQ(Vec(R"q(label_join(x, "j", "-", "a", "missing", "b"))q", 0).begin()->first,
            "x{a=\"1\", b=\"2\", j=\"1--2\"}");
  EXPECT_EQ(Error(R"q(label_join(x, "j", "-", ""))q", 0),
            "invalid source label name in label_join(): ");
  EXPECT_EQ(Error(R"q(label_join(x, "", "-", "a"))q", 0),
            "invalid destination label name in label_join(): ");
}

TEST_F(EvalTest, SortFunctions) {
  Load(R"(
load 1m
  v{n="a10"} 3
  v{n="a2"} NaN
  v{n="a1"} 1
  v{n="b"} 2
)");
  auto order = [&](std::string_view q) {
    std::vector<std::string> out;
    auto r = Instant(q, 0);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return out;
    for (const Sample& s : std::get<Vector>(r->value)) out.emplace_back(s.metric.Get("n"));
    return out;
  };
  EXPECT_EQ(order("sort(v)"), (std::vector<std::string>{"a1", "b", "a10", "a2"}));
  EXPECT_EQ(order("sort_desc(v)"), (std::vector<std::string>{"a10", "b", "a1", "a2"}));
  EXPECT_EQ(order("sort_by_label(v, \"n\")"), (std::vector<std::string>{"a1", "a2", "a10", "b"}));
  EXPECT_EQ(order("sort_by_label_desc(v, \"n\")"),
            (std::vector<std::string>{"b", "a10", "a2", "a1"}));
}

TEST_F(EvalTest, DateFunctions) {
  // 2006-01-02T22:04:05Z was a Monday, the 2nd day of the year.
  EXPECT_EQ(One("year(vector(1136239445))", 0), 2006);
  EXPECT_EQ(One("month(vector(1136239445))", 0), 1);
  EXPECT_EQ(One("day_of_month(vector(1136239445))", 0), 2);
  EXPECT_EQ(One("day_of_week(vector(1136239445))", 0), 1);
  EXPECT_EQ(One("day_of_year(vector(1136239445))", 0), 2);
  EXPECT_EQ(One("hour(vector(1136239445))", 0), 22);
  EXPECT_EQ(One("minute(vector(1136239445))", 0), 4);
  EXPECT_EQ(One("days_in_month(vector(1456790399))", 0), 29);  // Feb 2016
  // Without an argument: the evaluation time.
  EXPECT_EQ(One("year()", 0), 1970);
  EXPECT_EQ(One("day_of_week()", 0), 4);
  // Before 1970 the day still rolls over at midnight.
  EXPECT_EQ(One("day_of_month(vector(-1))", 0), 31);
  EXPECT_EQ(One("year(vector(-1))", 0), 1969);
  // NaN and Inf do not crash (Go turns them into the minimum int64).
  EXPECT_FALSE(Vec("year(vector(NaN))", 0).empty());
  EXPECT_FALSE(Vec("year(vector(Inf))", 0).empty());
}

TEST_F(EvalTest, MathFunctions) {
  EXPECT_EQ(One("round(vector(2.5))", 0), 3);
  EXPECT_EQ(One("round(vector(-2.5))", 0), -2);
  EXPECT_EQ(One("round(vector(7), 5)", 0), 5);
  EXPECT_EQ(One("round(vector(7.5), 5)", 0), 10);
  EXPECT_EQ(One("clamp(vector(5), 0, 3)", 0), 3);
  EXPECT_TRUE(Vec("clamp(vector(5), 3, 0)", 0).empty());
  EXPECT_EQ(One("clamp_min(vector(5), 9)", 0), 9);
  EXPECT_EQ(One("clamp_max(vector(5), 2)", 0), 2);
  EXPECT_TRUE(std::isnan(One("clamp_max(vector(5), NaN)", 0)));
  EXPECT_EQ(One("sgn(vector(-3))", 0), -1);
  EXPECT_EQ(One("sgn(vector(0))", 0), 0);
  EXPECT_NEAR(One("deg(vector(pi()))", 0), 180, 1e-12);
  EXPECT_NEAR(One("rad(vector(180))", 0), M_PI, 1e-12);
  // `or` keeps only the left side's series with the same (empty) label set.
  EXPECT_EQ(One("scalar(vector(1) or vector(2))", 0), 1);
  EXPECT_EQ(One("time()", 12'500), 12.5);
}

TEST_F(EvalTest, AbsentTakesLabelsFromEqualityMatchers) {
  Load(R"(
load 1m
  present 1
)");
  EXPECT_EQ(Vec(R"q(absent(nope{job="a", job="b", foo="bar", x=~"y"}))q", 0),
            (std::map<std::string, double>{{"{foo=\"bar\"}", 1}}));
  EXPECT_TRUE(Vec("absent(present)", 0).empty());
  EXPECT_EQ(Vec(R"q(absent_over_time(nope{a="b"}[1m]))q", 0),
            (std::map<std::string, double>{{"{a=\"b\"}", 1}}));
  EXPECT_TRUE(Vec("absent_over_time(present[1m])", 0).empty());
  EXPECT_EQ(Vec("absent(sum(nope))", 0), (std::map<std::string, double>{{"{}", 1}}));
  // In a range query only the steps without data get a 1.
  auto r = Range("absent_over_time(present[1m])", 0, 3 * kMinute, kMinute);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto& mat = std::get<Matrix>(r->value);
  ASSERT_EQ(mat.size(), 1u);
  ASSERT_EQ(mat[0].points.size(), 3u);  // 1m, 2m and 3m: (t-1m, t] holds no sample
  EXPECT_EQ(mat[0].points[0].t, kMinute);
}

TEST_F(EvalTest, ScalarAndVectorConversions) {
  Load(R"(
load 1m
  one 7
  two{i="1"} 1
  two{i="2"} 2
)");
  EXPECT_EQ(One("scalar(one)", 0), 7);
  EXPECT_TRUE(std::isnan(One("scalar(two)", 0)));
  EXPECT_TRUE(std::isnan(One("scalar(nope)", 0)));
  EXPECT_EQ(Vec("vector(3)", 0), (std::map<std::string, double>{{"{}", 3}}));
}

}  // namespace
}  // namespace nimify::promql::testing
