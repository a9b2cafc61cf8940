// Annotations: Prometheus 3's warnings and infos with their " (line:col)"
// positions; Prometheus 2 had none.
#include <algorithm>

#include "promql_eval/eval_test_util.h"

namespace nimify::promql::testing {
namespace {

constexpr Compat kV2 = Compat::kPrometheus2;
constexpr Compat kV3 = Compat::kPrometheus3;

class AnnotationTest : public EvalTest {
 protected:
  void SetUp() override {
    Load(R"(
load 1m
  g{i="a"} 1 2 3
  g{i="b"} 1 2 3
  req_total 1 2 3
  bad_bucket{le="1"} 5
  bad_bucket{le="2"} 3
  bad_bucket{le="+Inf"} 6
  weird_bucket{le="abc"} 1
  v 1
)");
  }

  QueryResult Run(std::string_view q, const EvalOptions& o = Options(kV3)) {
    auto r = Instant(q, 2 * kMinute, o);
    EXPECT_TRUE(r.ok()) << q << ": " << r.status().ToString();
    return r.ok() ? *r : QueryResult{};
  }
};

TEST_F(AnnotationTest, RateOfANonCounterIsAnInfoWithPosition) {
  QueryResult r = Run("rate(g[5m])");
  ASSERT_EQ(r.infos.size(), 1u);  // two series, one deduplicated message
  EXPECT_EQ(r.infos[0],
            "PromQL info: metric might not be a counter, name does not end in "
            "_total/_sum/_count/_bucket: \"g\" (1:6)");
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_TRUE(Run("rate(req_total[5m])").infos.empty());
  EXPECT_TRUE(Run("rate(g[5m])", Options(kV2)).infos.empty());
  // Positions count lines and columns in the query text.
  r = Run("sum(\n  rate(g[5m])\n)");
  ASSERT_EQ(r.infos.size(), 1u);
  EXPECT_TRUE(r.infos[0].ends_with("(2:8)")) << r.infos[0];
}

TEST_F(AnnotationTest, QuantileOutOfRangeWarnings) {
  QueryResult r = Run("quantile(2, v)");
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0],
            "PromQL warning: quantile value should be between 0 and 1, got 2 (1:10)");
  r = Run("histogram_quantile(-0.5, bad_bucket)");
  ASSERT_FALSE(r.warnings.empty());
  EXPECT_EQ(r.warnings[0],
            "PromQL warning: quantile value should be between 0 and 1, got -0.5 (1:20)");
  r = Run("quantile_over_time(NaN, v[5m])");
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0],
            "PromQL warning: quantile value should be between 0 and 1, got NaN (1:20)");
}

TEST_F(AnnotationTest, HistogramQuantileMonotonicityInfo) {
  QueryResult r = Run("histogram_quantile(0.5, bad_bucket)");
  ASSERT_EQ(r.infos.size(), 1u);
  EXPECT_EQ(r.infos[0],
            "PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see "
            "https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile), "
            "from buckets 2 to 2, with a max diff of 2, over 1 samples from "
            "1970-01-01T00:02:00Z to 1970-01-01T00:02:00Z (1:25)");
  // With delayed name removal the metric name is still there to report.
  r = Run("histogram_quantile(0.5, bad_bucket)", Options(kV3, /*delayed=*/true));
  ASSERT_EQ(r.infos.size(), 1u);
  EXPECT_NE(r.infos[0].find("for metric name \"bad_bucket\""), std::string::npos) << r.infos[0];
  // A range query merges the steps into one message.
  auto range = Range("histogram_quantile(0.5, bad_bucket)", 0, 2 * kMinute, kMinute);
  ASSERT_TRUE(range.ok()) << range.status().ToString();
  ASSERT_EQ(range->infos.size(), 1u);
  EXPECT_NE(
      range->infos[0].find("over 3 samples from 1970-01-01T00:00:00Z to 1970-01-01T00:02:00Z"),
      std::string::npos)
      << range->infos[0];
}

TEST_F(AnnotationTest, BadBucketLabelWarning) {
  QueryResult r = Run("histogram_quantile(0.5, weird_bucket)");
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0],
            "PromQL warning: bucket label \"le\" is missing or has a malformed value of \"abc\" "
            "(1:25)");
}

TEST_F(AnnotationTest, SortInRangeQueryWarning) {
  auto r = Range("sort(v)", 0, kMinute, kMinute);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_EQ(r->warnings[0],
            "PromQL warning: sort is ineffective for range queries since results are always "
            "ordered by labels (1:1)");
  EXPECT_TRUE(Run("sort(v)").warnings.empty());
}

TEST_F(AnnotationTest, RatioWarnings) {
  QueryResult r = Run("limit_ratio(1.5, v)");
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0],
            "PromQL warning: ratio value should be between -1 and 1, got 1.5, capping to 1 (1:13)");
}

TEST_F(AnnotationTest, WithoutQueryTextPositionsAssumeOneLine) {
  auto expr = ParseExpr("rate(g[5m])");
  ASSERT_TRUE(expr.ok());
  Evaluator ev(&storage_, Options(kV3));
  auto r = ev.Instant(**expr, 2 * kMinute);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->infos.size(), 1u);
  EXPECT_TRUE(r->infos[0].ends_with("(1:6)")) << r->infos[0];
}

}  // namespace
}  // namespace nimify::promql::testing
