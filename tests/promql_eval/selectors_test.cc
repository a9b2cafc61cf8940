// Selectors, lookback, staleness, offset/@, subqueries and range queries,
// with the window edges that differ between Prometheus 2 and 3.
#include <cmath>

#include "promql_eval/eval_test_util.h"

namespace nimify::promql::testing {
namespace {

constexpr Compat kV2 = Compat::kPrometheus2;
constexpr Compat kV3 = Compat::kPrometheus3;

class SelectorTest : public EvalTest {
 protected:
  void SetUp() override {
    Load(R"(
load 1m
  m{job="a"} 1 2 3
  s{job="a"} 1 stale
)");
  }
};

TEST_F(SelectorTest, LookbackIsLeftOpenInV3AndClosedInV2) {
  // The last sample is at 2m; at 7m it is exactly the lookback delta old.
  EXPECT_TRUE(Vec("m", 7 * kMinute, Options(kV3)).empty());
  EXPECT_EQ(Vec("m", 7 * kMinute, Options(kV2)),
            (std::map<std::string, double>{{"m{job=\"a\"}", 3}}));
  // One millisecond earlier both see it.
  EXPECT_EQ(One("m", 7 * kMinute - 1, Options(kV3)), 3);
  EXPECT_EQ(One("m", 7 * kMinute - 1, Options(kV2)), 3);
}

TEST_F(SelectorTest, RangeWindowIsLeftOpenInV3AndClosedInV2) {
  EXPECT_EQ(One("count_over_time(m[1m])", 2 * kMinute, Options(kV3)), 1);
  EXPECT_EQ(One("count_over_time(m[1m])", 2 * kMinute, Options(kV2)), 2);
  // A top-level range selector returns the raw samples with their own times.
  auto r = Instant("m[1m]", 2 * kMinute, Options(kV2));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto& mat = std::get<Matrix>(r->value);
  ASSERT_EQ(mat.size(), 1u);
  ASSERT_EQ(mat[0].points.size(), 2u);
  EXPECT_EQ(mat[0].points[0].t, kMinute);
  EXPECT_EQ(mat[0].points[1].t, 2 * kMinute);
  EXPECT_EQ(mat[0].metric.MetricName(), "m");
}

TEST_F(SelectorTest, SubqueryStepsAreAlignedAndWindowsFollowTheMode) {
  // Inner steps are multiples of 1m: (0, 2m] holds 1m and 2m in v3;
  // [0, 2m] also holds 0 in v2.
  EXPECT_EQ(One("count_over_time(m[2m:1m])", 2 * kMinute, Options(kV3)), 2);
  EXPECT_EQ(One("count_over_time(m[2m:1m])", 2 * kMinute, Options(kV2)), 3);
  // Alignment is absolute: at 2m30s the inner steps are still 1m and 2m.
  EXPECT_EQ(One("sum_over_time(m[2m:1m])", 2 * kMinute + 30'000, Options(kV3)), 2 + 3);
  // The default step is the engine's (1m here); a nested subquery works too.
  EXPECT_EQ(One("max_over_time(max_over_time(m[1m:30s])[2m:])", 2 * kMinute, Options(kV3)), 3);
}

TEST_F(SelectorTest, StaleMarkerHidesTheSeries) {
  EXPECT_EQ(One("s", 30'000), 1);
  EXPECT_TRUE(Vec("s", kMinute).empty());
  EXPECT_TRUE(Vec("s", 3 * kMinute).empty());
  // Range functions skip stale markers instead.
  EXPECT_EQ(One("count_over_time(s[5m])", 2 * kMinute), 1);
}

TEST_F(SelectorTest, OffsetAndAt) {
  EXPECT_EQ(One("m offset 1m", 3 * kMinute), 3);
  EXPECT_EQ(One("m offset -1m", 0), 2);
  EXPECT_EQ(One("m @ 60", 10 * kMinute), 2);
  EXPECT_EQ(One("m @ 120 offset 1m", 10 * kMinute), 2);
  EXPECT_EQ(One("sum_over_time(m[2m] @ 120)", 0, Options(kV3)), 2 + 3);
  // @ start() / @ end() are the query's start and end.
  auto r = Range("m @ end()", 0, 2 * kMinute, kMinute);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto& mat = std::get<Matrix>(r->value);
  ASSERT_EQ(mat.size(), 1u);
  ASSERT_EQ(mat[0].points.size(), 3u);
  for (const Point& p : mat[0].points) EXPECT_EQ(p.v, 3);
  r = Range("m @ start()", kMinute, 2 * kMinute, kMinute);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  for (const Point& p : std::get<Matrix>(r->value)[0].points) EXPECT_EQ(p.v, 2);
}

TEST_F(SelectorTest, TimestampWithAtReturnsTheSampleTime) {
  EXPECT_EQ(One("timestamp(m @ 90)", 10 * kMinute), 60);
  EXPECT_EQ(One("timestamp(m)", 90'000), 60);
  // timestamp() of a non-selector sees the evaluation time.
  EXPECT_EQ(One("timestamp(-m)", 90'000), 90);
}

TEST_F(SelectorTest, RangeQuerySeriesAndScalars) {
  auto r = Range("m", 0, 3 * kMinute, kMinute);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto& mat = std::get<Matrix>(r->value);
  ASSERT_EQ(mat.size(), 1u);
  ASSERT_EQ(mat[0].points.size(), 4u);  // 0, 1m, 2m and 3m (lookback)
  EXPECT_EQ(mat[0].points[3].v, 3);
  EXPECT_EQ(mat[0].points[3].t, 3 * kMinute);

  // A scalar range query becomes one series without labels.
  r = Range("time() * 2", 0, 2 * kMinute, kMinute);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto& scalar_mat = std::get<Matrix>(r->value);
  ASSERT_EQ(scalar_mat.size(), 1u);
  EXPECT_TRUE(scalar_mat[0].metric.empty());
  ASSERT_EQ(scalar_mat[0].points.size(), 3u);
  EXPECT_EQ(scalar_mat[0].points[2].v, 240);
}

TEST_F(SelectorTest, RangeQueryResultIsSortedByLabels) {
  Load(R"(
load 1m
  z{b="2"} 1 1 1
  z{a="9"} 1 1 1
  z{b="1"} 1 1 1
)");
  auto r = Range("z", 0, kMinute, kMinute);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto& mat = std::get<Matrix>(r->value);
  ASSERT_EQ(mat.size(), 3u);
  EXPECT_EQ(mat[0].metric.Get("a"), "9");
  EXPECT_EQ(mat[1].metric.Get("b"), "1");
  EXPECT_EQ(mat[2].metric.Get("b"), "2");
}

TEST_F(SelectorTest, SeriesAppearingMidRangeKeepOnlyTheirSteps) {
  Load(R"(
load 1m
  late _ _ _ 7 7
)");
  auto r = Range("late", 0, 4 * kMinute, kMinute);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto& mat = std::get<Matrix>(r->value);
  ASSERT_EQ(mat.size(), 1u);
  ASSERT_EQ(mat[0].points.size(), 2u);
  EXPECT_EQ(mat[0].points[0].t, 3 * kMinute);
}

TEST_F(SelectorTest, RangeQueryRejectsRangeVectorsAndBadSteps) {
  auto r = Range("m[5m]", 0, kMinute, kMinute);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "invalid expression type \"range vector\" for range query, must be Scalar or instant "
            "Vector");
  EXPECT_FALSE(Range("m", 0, kMinute, 0).ok());
  EXPECT_FALSE(Range("m", kMinute, 0, kMinute).ok());
}

TEST_F(SelectorTest, StringLiteralQuery) {
  auto r = Instant("\"hello\"", 5'000);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto& s = std::get<String>(r->value);
  EXPECT_EQ(s.v, "hello");
  EXPECT_EQ(s.t, 5'000);
}

TEST_F(SelectorTest, InstantScalar) {
  auto r = Instant("1 + 2 * 3", 5'000);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(std::get<Scalar>(r->value).v, 7);
  EXPECT_EQ(std::get<Scalar>(r->value).t, 5'000);
}

}  // namespace
}  // namespace nimify::promql::testing
