// Binary operators, vector matching and its errors, name dropping, and
// aggregations (including the Prometheus 2 / 3 differences).
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "promql_eval/eval_test_util.h"

namespace nimify::promql::testing {
namespace {

constexpr Compat kV2 = Compat::kPrometheus2;
constexpr Compat kV3 = Compat::kPrometheus3;
using Map = std::map<std::string, double>;

class OperatorTest : public EvalTest {
 protected:
  void SetUp() override {
    Load(R"(
load 1m
  a{l="x", k="1"} 1
  a{l="y", k="1"} 2
  c{l="x", k="1"} 10
  b{k="1"} 3
  d{l="x"} 4
  e{l="x", k="1"} 5
  f{k="1", m="z"} 2
)");
  }
};

TEST_F(OperatorTest, ArithmeticDropsTheNameComparisonsKeepIt) {
  EXPECT_EQ(Vec("a * 2", 0), (Map{{"{k=\"1\", l=\"x\"}", 2}, {"{k=\"1\", l=\"y\"}", 4}}));
  EXPECT_EQ(Vec("a > 1", 0), (Map{{"a{k=\"1\", l=\"y\"}", 2}}));
  EXPECT_EQ(Vec("a > bool 1", 0), (Map{{"{k=\"1\", l=\"x\"}", 0}, {"{k=\"1\", l=\"y\"}", 1}}));
  // A scalar on the left still yields the vector's value for comparisons.
  EXPECT_EQ(Vec("1 < a", 0), (Map{{"a{k=\"1\", l=\"y\"}", 2}}));
  EXPECT_EQ(Vec("a + c", 0), (Map{{"{k=\"1\", l=\"x\"}", 11}}));
  EXPECT_EQ(Vec("a == c", 0), Map{});
  EXPECT_EQ(Vec("c >= a", 0), (Map{{"c{k=\"1\", l=\"x\"}", 10}}));
}

TEST_F(OperatorTest, GoArithmeticEdgeCases) {
  EXPECT_EQ(One("vector(5) % 3", 0), 2);
  EXPECT_EQ(One("vector(-5) % 3", 0), -2);  // math.Mod keeps the dividend's sign
  EXPECT_TRUE(std::isnan(One("vector(5) % 0", 0)));
  EXPECT_EQ(One("vector(2) ^ 10", 0), 1024);
  EXPECT_EQ(One("vector(1) / 0", 0), std::numeric_limits<double>::infinity());
  EXPECT_EQ(One("vector(-1) / 0", 0), -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(One("vector(0) / 0", 0)));
  EXPECT_NEAR(One("vector(1) atan2 vector(1)", 0), M_PI / 4, 1e-15);
  EXPECT_EQ(One("NaN == bool NaN", 0), 0);
  EXPECT_EQ(One("1 < bool 2", 0), 1);
}

TEST_F(OperatorTest, AtanTwoDropsTheNameOnlyInV3) {
  EXPECT_EQ(Vec("a atan2 c", 0, Options(kV3)).begin()->first, "{k=\"1\", l=\"x\"}");
  EXPECT_EQ(Vec("a atan2 c", 0, Options(kV2)).begin()->first, "a{k=\"1\", l=\"x\"}");
}

TEST_F(OperatorTest, OnIgnoringAndGroupModifiers) {
  EXPECT_EQ(Vec("a * on(k) group_left b", 0),
            (Map{{"{k=\"1\", l=\"x\"}", 3}, {"{k=\"1\", l=\"y\"}", 6}}));
  EXPECT_EQ(Vec("b * on(k) group_right a", 0),
            (Map{{"{k=\"1\", l=\"x\"}", 3}, {"{k=\"1\", l=\"y\"}", 6}}));
  // group_left(label) copies the label from the "one" side.
  EXPECT_EQ(Vec("a * on(k) group_left(m) f", 0),
            (Map{{"{k=\"1\", l=\"x\", m=\"z\"}", 2}, {"{k=\"1\", l=\"y\", m=\"z\"}", 4}}));
  EXPECT_EQ(Vec("c * on(l) d", 0), (Map{{"{l=\"x\"}", 40}}));
  EXPECT_EQ(Vec("c * ignoring(k) d", 0), (Map{{"{l=\"x\"}", 40}}));
  // One-to-one on(): the result has only the matching labels.
  EXPECT_EQ(Vec("c + on(k) b", 0), (Map{{"{k=\"1\"}", 13}}));
}

TEST_F(OperatorTest, ManyToManyAndManyToOneErrors) {
  EXPECT_EQ(Error("a + on(k) b", 0),
            "multiple matches for labels: many-to-one matching must be explicit "
            "(group_left/group_right)");
  EXPECT_EQ(Error("b + on(k) a", 0, Options(kV3)),
            "found duplicate series for the match group {k=\"1\"} on the right hand-side of the "
            "operation: [{__name__=\"a\", k=\"1\", l=\"x\"}, {__name__=\"a\", k=\"1\", "
            "l=\"y\"}];many-to-many matching not allowed: matching labels must be unique on one "
            "side");
  // Prometheus 2 printed the later series first.
  EXPECT_EQ(Error("b + on(k) a", 0, Options(kV2)),
            "found duplicate series for the match group {k=\"1\"} on the right hand-side of the "
            "operation: [{__name__=\"a\", k=\"1\", l=\"y\"}, {__name__=\"a\", k=\"1\", "
            "l=\"x\"}];many-to-many matching not allowed: matching labels must be unique on one "
            "side");
  EXPECT_EQ(Error("a * on(k) group_right b", 0),
            "found duplicate series for the match group {k=\"1\"} on the left hand-side of the "
            "operation: [{__name__=\"a\", k=\"1\", l=\"x\"}, {__name__=\"a\", k=\"1\", "
            "l=\"y\"}];many-to-many matching not allowed: matching labels must be unique on one "
            "side");
  EXPECT_EQ(Error("{__name__=~\"a|c\", l=\"x\"} * on(k) group_left b", 0),
            "multiple matches for labels: grouping labels must ensure unique matches");
}

TEST_F(OperatorTest, ComparisonFilteringAndTheManyToOneCheck) {
  // 3.x checks for duplicate matches before filtering; 2.42 after.
  EXPECT_FALSE(Instant("a > on(k) b", 0, Options(kV3)).ok());
  EXPECT_TRUE(Vec("a > on(k) b", 0, Options(kV2)).empty());
}

TEST_F(OperatorTest, SetOperators) {
  EXPECT_EQ(Vec("a and c", 0), (Map{{"a{k=\"1\", l=\"x\"}", 1}}));
  EXPECT_EQ(Vec("a unless c", 0), (Map{{"a{k=\"1\", l=\"y\"}", 2}}));
  EXPECT_EQ(Vec("c or a", 0), (Map{{"c{k=\"1\", l=\"x\"}", 10}, {"a{k=\"1\", l=\"y\"}", 2}}));
  EXPECT_EQ(Vec("a and on(k) b", 0).size(), 2u);
  EXPECT_EQ(Vec("a unless on() b", 0).size(), 0u);
  EXPECT_EQ(Vec("nope or b", 0), (Map{{"b{k=\"1\"}", 3}}));
}

TEST_F(OperatorTest, DuplicateLabelsetsAfterNameDropping) {
  const char* q = "max_over_time({__name__=~\"a|c\", l=\"x\"}[5m])";
  EXPECT_EQ(Error(q, kMinute, Options(kV3)),
            "vector cannot contain metrics with the same labelset");
  EXPECT_EQ(Error(q, kMinute, Options(kV2)),
            "vector cannot contain metrics with the same labelset");
  EXPECT_EQ(Error("-{__name__=~\"a|c\", l=\"x\"}", 0),
            "vector cannot contain metrics with the same labelset");
  EXPECT_EQ(Error("ceil({__name__=~\"a|c\", l=\"x\"})", 0, Options(kV2)),
            "vector cannot contain metrics with the same labelset");
  // With delayed name removal the names are dropped only at the end, so a
  // label_replace can still read them.
  EXPECT_EQ(Vec(R"q(label_replace(-{__name__=~"a|c", l="x"}, "n", "$1", "__name__", "(.*)"))q", 0,
                Options(kV3, /*delayed=*/true)),
            (Map{{"{k=\"1\", l=\"x\", n=\"a\"}", -1}, {"{k=\"1\", l=\"x\", n=\"c\"}", -10}}));
  EXPECT_EQ(Error("-{__name__=~\"a|c\", l=\"x\"}", 0, Options(kV3, true)),
            "vector cannot contain metrics with the same labelset");
}

TEST_F(OperatorTest, DelayedNameRemovalKeepsNamesThroughAggregation) {
  EXPECT_EQ(Vec("sum by (__name__) (a * 1)", 0, Options(kV3)), (Map{{"{}", 3}}));
  EXPECT_EQ(Error("sum by (__name__) ({__name__=~\"a|c\"} * 1)", 0, Options(kV3, true)),
            "vector cannot contain metrics with the same labelset");
  EXPECT_EQ(Vec("sum by (__name__) (a)", 0, Options(kV3, true)), (Map{{"a", 3}}));
}

class AggregateTest : public EvalTest {
 protected:
  void SetUp() override {
    Load(R"(
load 1m
  v{g="1", i="a"} 1
  v{g="1", i="b"} 5
  v{g="1", i="c"} 3
  v{g="2", i="d"} 10
  n{i="a"} NaN
  k{i="a"} 1e100
  k{i="b"} 1
  k{i="c"} -1e100
  big{i="a"} 1e308
  big{i="b"} 1e308
)");
  }
};

TEST_F(AggregateTest, Basics) {
  EXPECT_EQ(Vec("sum by (g) (v)", 0), (Map{{"{g=\"1\"}", 9}, {"{g=\"2\"}", 10}}));
  EXPECT_EQ(Vec("sum without (i) (v)", 0), (Map{{"{g=\"1\"}", 9}, {"{g=\"2\"}", 10}}));
  EXPECT_EQ(Vec("avg by (g) (v)", 0), (Map{{"{g=\"1\"}", 3}, {"{g=\"2\"}", 10}}));
  EXPECT_EQ(Vec("count(v)", 0), (Map{{"{}", 4}}));
  EXPECT_EQ(Vec("min(v)", 0), (Map{{"{}", 1}}));
  EXPECT_EQ(Vec("max by (g) (v)", 0), (Map{{"{g=\"1\"}", 5}, {"{g=\"2\"}", 10}}));
  EXPECT_EQ(Vec("group by (g) (v)", 0), (Map{{"{g=\"1\"}", 1}, {"{g=\"2\"}", 1}}));
  EXPECT_EQ(Vec("quantile by (g) (0.5, v)", 0), (Map{{"{g=\"1\"}", 3}, {"{g=\"2\"}", 10}}));
  EXPECT_NEAR(One("stdvar by (g) (v{g=\"1\"})", 0), 8.0 / 3, 1e-12);
  EXPECT_EQ(Vec("count_values(\"val\", v)", 0),
            (Map{{"{val=\"1\"}", 1}, {"{val=\"10\"}", 1}, {"{val=\"3\"}", 1}, {"{val=\"5\"}", 1}}));
  EXPECT_EQ(Vec("count_values by (g) (\"val\", v{g=\"1\"} > 2)", 0),
            (Map{{"{g=\"1\", val=\"3\"}", 1}, {"{g=\"1\", val=\"5\"}", 1}}));
  // by (__name__) keeps the name in the group; without drops it.
  EXPECT_EQ(Vec("sum by (__name__) (v)", 0), (Map{{"v", 19}}));
}

TEST_F(AggregateTest, StddevOfNaNDiffersBetweenVersions) {
  EXPECT_TRUE(std::isnan(One("stddev(n)", 0, Options(kV3))));
  EXPECT_EQ(One("stddev(n)", 0, Options(kV2)), 0);
  EXPECT_TRUE(std::isnan(One("stdvar(n)", 0, Options(kV3))));
}

TEST_F(AggregateTest, KahanSummationOnlyInV3) {
  EXPECT_EQ(One("sum(k)", 0, Options(kV3)), 1);
  EXPECT_EQ(One("sum(k)", 0, Options(kV2)), 0);
  EXPECT_EQ(One("avg(big)", 0, Options(kV3)), 1e308);
  EXPECT_EQ(One("avg(big)", 0, Options(kV2)), 1e308);
  EXPECT_EQ(One("sum(big)", 0), std::numeric_limits<double>::infinity());
}

// Differences between the Prometheus 2.42 and 3 accumulators that the
// conformance scripts leave open. Expected values follow each version's
// algorithm by hand: 2.42 averages with mean += x/n - mean/n; 3 keeps a Kahan
// sum and falls back to an incremental Kahan mean once the sum overflows.
TEST_F(AggregateTest, AvgFormulaDiffersBetweenVersions) {
  Load(R"(
load 1m
  ov{i="a"} 1e308
  ov{i="b"} 1e308
  ov{i="c"} -1e308
)");
  // k is 1e100, 1, -1e100: 3's compensated sum keeps the 1; 2.42's running
  // mean is 5e99 after two samples and then exactly 0.
  EXPECT_EQ(One("avg(k)", 0, Options(kV3)), 1.0 / 3);
  EXPECT_EQ(One("avg(k)", 0, Options(kV2)), 0);
  // 1e308 + 1e308 overflows: 3 switches to the incremental mean (1e308, then
  // 2/3 * 1e308 + -1e308/3); 2.42's formula rounds one ulp higher.
  EXPECT_EQ(One("avg(ov)", 0, Options(kV3)), 3.333333333333333e+307);
  EXPECT_EQ(One("avg(ov)", 0, Options(kV2)), 3.3333333333333337e+307);
}

TEST_F(AggregateTest, SumOfNegativeZeroDiffersBetweenVersions) {
  Load(R"(
load 1m
  nz{i="a"} -0
)");
  // 3 adds the (zero) Kahan compensation to the sum, which turns -0 into +0.
  EXPECT_FALSE(std::signbit(One("sum(nz)", 0, Options(kV3))));
  EXPECT_TRUE(std::signbit(One("sum(nz)", 0, Options(kV2))));
}

TEST_F(AggregateTest, V2SumOfTwoNaNsKeepsTheFirst) {
  Load(R"(
load 1m
  n{i="a"} NaN
  m{i="b"} NaN
)");
  // Go's `sum += x` on NaN operands returns the sum's NaN: the sign of the
  // first series' NaN survives.
  EXPECT_FALSE(std::signbit(One("sum(n or -m)", 0, Options(kV2))));
  EXPECT_TRUE(std::signbit(One("sum(-m or n)", 0, Options(kV2))));
}

TEST_F(AggregateTest, StddevOfInfDiffersBetweenVersions) {
  Load(R"(
load 1m
  infinite{i="a"} Inf
)");
  // 3 starts the variance at NaN for a NaN or Inf first value; 2.42 at 0.
  EXPECT_TRUE(std::isnan(One("stddev(infinite)", 0, Options(kV3))));
  EXPECT_TRUE(std::isnan(One("stdvar(infinite)", 0, Options(kV3))));
  EXPECT_EQ(One("stddev(infinite)", 0, Options(kV2)), 0);
  EXPECT_EQ(One("stdvar(infinite)", 0, Options(kV2)), 0);
}

TEST_F(AggregateTest, TopkReplacesNaNHeadOnlyWithNumbersInV3) {
  Load(R"(
load 1m
  nn{i="a"} NaN
  nn{i="b"} NaN
)");
  auto first = [&](std::string_view q, const EvalOptions& o) {
    auto r = Instant(q, 0, o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return std::string();
    const auto& vec = std::get<Vector>(r->value);
    EXPECT_EQ(vec.size(), 1u);
    return vec.empty() ? std::string() : std::string(vec[0].metric.Get("i"));
  };
  // 2.42 replaces a NaN head with any sample, NaN included; 3 keeps it.
  EXPECT_EQ(first("topk(1, nn)", Options(kV3)), "a");
  EXPECT_EQ(first("topk(1, nn)", Options(kV2)), "b");
  EXPECT_EQ(first("bottomk(1, nn)", Options(kV3)), "a");
  EXPECT_EQ(first("bottomk(1, nn)", Options(kV2)), "b");
  // A number beats a NaN head in both.
  EXPECT_EQ(One("topk(1, nn or v{i=\"a\"})", 0, Options(kV2)), 1);
  EXPECT_EQ(One("topk(1, nn or v{i=\"a\"})", 0, Options(kV3)), 1);
}

TEST_F(AggregateTest, NegativeHugeKIsEmptyInV3AndAnErrorIn242) {
  // 3 returns nothing once the largest k is below 1; 2.42 range-checks k
  // first, with "overflows" for both directions.
  EXPECT_TRUE(Vec("topk(-1e19, v)", 0, Options(kV3)).empty());
  EXPECT_EQ(Error("topk(-1e19, v)", 0, Options(kV2)), "Scalar value -1e+19 overflows int64");
}

TEST_F(AggregateTest, TopkBottomkKeepLabelsAndOrder) {
  auto order = [&](std::string_view q, const EvalOptions& o) {
    std::vector<std::string> out;
    auto r = Instant(q, 0, o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return out;
    for (const Sample& s : std::get<Vector>(r->value)) out.push_back(s.metric.ToString());
    return out;
  };
  for (Compat c : {kV2, kV3}) {
    EXPECT_EQ(order("topk(2, v)", Options(c)),
              (std::vector<std::string>{"v{g=\"2\", i=\"d\"}", "v{g=\"1\", i=\"b\"}"}));
    EXPECT_EQ(order("bottomk(2, v)", Options(c)),
              (std::vector<std::string>{"v{g=\"1\", i=\"a\"}", "v{g=\"1\", i=\"c\"}"}));
    EXPECT_EQ(order("topk by (g) (1, v)", Options(c)),
              (std::vector<std::string>{"v{g=\"1\", i=\"b\"}", "v{g=\"2\", i=\"d\"}"}));
    EXPECT_TRUE(order("topk(0, v)", Options(c)).empty());
  }
  EXPECT_EQ(order("limitk(1, v)", Options(kV3)).size(), 1u);
}

TEST_F(AggregateTest, ParameterErrors) {
  EXPECT_EQ(Error("topk(scalar(nope), v)", 0), "Parameter value is NaN");
  EXPECT_EQ(Error("topk(1e19, v)", 0), "Scalar value 1e+19 overflows int64");
  EXPECT_TRUE(Vec("bottomk(-1e19, v)", 0, Options(kV3)).empty());
  EXPECT_EQ(Error("topk(NaN, v)", 0, Options(kV2)), "Scalar value NaN overflows int64");
  EXPECT_EQ(Error("limit_ratio(NaN, v)", 0), "Ratio value is NaN");
  EXPECT_EQ(Error("count_values(\"\", v)", 0), "invalid label name \"\"");
  EXPECT_EQ(Error("count_values(\"a-b\", v)", 0, Options(kV2)), "invalid label name \"a-b\"");
  EXPECT_EQ(Vec("count_values(\"a-b\", v{i=\"a\"})", 0, Options(kV3)),
            (Map{{"{\"a-b\"=\"1\"}", 1}}));
}

TEST_F(AggregateTest, RangeQueryTopkUnionsSeries) {
  Load(R"(
load 1m
  t{i="a"} 1 5
  t{i="b"} 2 1
)");
  auto r = Range("topk(1, t)", 0, kMinute, kMinute);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto& mat = std::get<Matrix>(r->value);
  ASSERT_EQ(mat.size(), 2u);
  EXPECT_EQ(mat[0].metric.Get("i"), "a");
  ASSERT_EQ(mat[0].points.size(), 1u);
  EXPECT_EQ(mat[0].points[0].t, kMinute);
  EXPECT_EQ(mat[1].points[0].t, 0);
}

}  // namespace
}  // namespace nimify::promql::testing
