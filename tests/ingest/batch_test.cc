#include "ingest/batch.h"

#include <gtest/gtest.h>

#include <bit>
#include <string>
#include <vector>

#include "promql/value.h"

namespace nimify::ingest {
namespace {

using promql::Labels;
using promql::Point;

TEST(BatchTest, AddSeriesAndRead) {
  Batch batch;
  EXPECT_TRUE(batch.empty());
  const Point a_points[] = {{1000, 1}, {2000, 2}};
  batch.AddSeries(Labels{{"__name__", "up"}, {"job", "api"}}, a_points);
  batch.AddSeries(Labels{{"__name__", "down"}}, {});
  ASSERT_EQ(batch.series_count(), 2u);
  EXPECT_EQ(batch.sample_count(), 2u);

  const BatchSeries up = batch.series(0);
  ASSERT_EQ(up.labels.size(), 2u);
  EXPECT_EQ(up.labels[0].name, "__name__");
  EXPECT_EQ(up.labels[1].value, "api");
  EXPECT_EQ(up.MetricName(), "up");
  EXPECT_EQ(up.Get("job"), "api");
  EXPECT_EQ(up.Get("missing"), "");
  ASSERT_EQ(up.samples.size(), 2u);
  EXPECT_EQ(up.samples[1].t, 2000);
  EXPECT_EQ(up.samples[1].v, 2);
  EXPECT_EQ(up.ToLabels(), (Labels{{"__name__", "up"}, {"job", "api"}}));
  EXPECT_TRUE(batch.series(1).samples.empty());

  const std::vector<promql::Series> series = batch.ToSeries();
  ASSERT_EQ(series.size(), 2u);
  EXPECT_EQ(series[0].metric.ToString(), "up{job=\"api\"}");
  ASSERT_EQ(series[0].points.size(), 2u);
  EXPECT_EQ(series[0].points[0].t, 1000);
  EXPECT_EQ(series[1].metric.ToString(), "down");
}

TEST(BatchTest, ViewsSurviveMovesAndGrowth) {
  Batch batch;
  const Point p[] = {{1, 1}};
  batch.AddSeries(Labels{{"__name__", "first"}, {"big", std::string(20000, 'x')}}, p);
  const std::string_view first_name = batch.series(0).labels[0].value;  // __name__
  const std::string_view big = batch.series(0).labels[1].value;
  // Enough text to need several arena blocks.
  for (int i = 0; i < 2000; ++i) {
    batch.AddSeries(Labels{{"__name__", "m" + std::to_string(i)}, {"v", std::string(100, 'a')}}, p);
  }
  Batch moved = std::move(batch);
  EXPECT_EQ(first_name, "first");
  EXPECT_EQ(big, std::string(20000, 'x'));
  EXPECT_EQ(moved.series(0).MetricName(), "first");
  EXPECT_EQ(moved.series(2000).MetricName(), "m1999");
}

TEST(BatchTest, BuilderRollsBackEverything) {
  Batch batch;
  const Point p[] = {{5, 6}};
  batch.AddSeries(Labels{{"__name__", "kept"}}, p);
  Batch before;
  before.AddSeries(Labels{{"__name__", "kept"}}, p);
  {
    BatchBuilder builder(&batch);
    for (int i = 0; i < 1000; ++i) {  // several arena blocks
      builder.AddLabel("__name__", builder.CopyString(std::string(200, 'n')));
      builder.AddSample(i, i);
      builder.FinishSeries();
    }
    builder.CopyString(std::string(100000, 'b'));  // a big allocation
    builder.AdoptBuffer(std::make_unique<char[]>(10));
    builder.stats().histograms_skipped = 7;
    builder.AddLabel("__name__", "pending");
    EXPECT_EQ(batch.series_count(), 1001u);
  }  // no Commit()
  EXPECT_TRUE(batch == before);
  EXPECT_EQ(batch.stats().histograms_skipped, 0u);
  // The batch still works after the rollback.
  batch.AddSeries(Labels{{"__name__", "after"}}, p);
  EXPECT_EQ(batch.series(1).MetricName(), "after");
  EXPECT_EQ(batch.series(0).MetricName(), "kept");
}

TEST(BatchTest, BuilderCommitKeeps) {
  Batch batch;
  {
    BatchBuilder builder(&batch);
    builder.AddLabel("__name__", builder.CopyString("x"));
    builder.AddLabel("a", builder.CopyString("b"));
    EXPECT_EQ(builder.pending_labels().size(), 2u);
    builder.AddSample(1, 2);
    EXPECT_EQ(builder.pending_sample_count(), 1u);
    builder.FinishSeries();
    builder.AddLabel("__name__", "discarded");
    builder.AddSample(3, 4);
    builder.DiscardSeries();
    builder.stats().exemplars_skipped = 2;
    builder.Commit();
  }
  ASSERT_EQ(batch.series_count(), 1u);
  EXPECT_EQ(batch.sample_count(), 1u);
  EXPECT_EQ(batch.series(0).ToLabels().ToString(), "x{a=\"b\"}");
  EXPECT_EQ(batch.stats().exemplars_skipped, 2u);
}

TEST(BatchTest, EqualityComparesNaNBits) {
  const Point stale[] = {{1, promql::StaleNaN()}};
  const Point nan[] = {{1, std::bit_cast<double>(0x7ff8000000000001ull)}};
  Batch a;
  Batch b;
  Batch c;
  a.AddSeries(Labels{{"__name__", "m"}}, stale);
  b.AddSeries(Labels{{"__name__", "m"}}, stale);
  c.AddSeries(Labels{{"__name__", "m"}}, nan);
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(a == c);
  Batch d;
  d.AddSeries(Labels{{"__name__", "n"}}, stale);
  EXPECT_FALSE(a == d);
}

TEST(BatchTest, ClearEmptiesAndStaysUsable) {
  Batch batch;
  const Point p[] = {{1, 1}};
  for (int i = 0; i < 500; ++i) {
    batch.AddSeries(Labels{{"__name__", std::string(300, 'z')}}, p);
  }
  batch.Clear();
  EXPECT_TRUE(batch.empty());
  EXPECT_EQ(batch.sample_count(), 0u);
  EXPECT_TRUE(batch == Batch());
  batch.AddSeries(Labels{{"__name__", "again"}}, p);
  EXPECT_EQ(batch.series(0).MetricName(), "again");
}

}  // namespace
}  // namespace nimify::ingest
