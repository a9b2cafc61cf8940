#include "promqltest/memory_storage.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace nimify::promqltest {
namespace {

using promql::LabelMatcher;
using promql::Labels;
using promql::MatchType;
using promql::SeriesView;

LabelMatcher Matcher(MatchType type, std::string name, std::string value) {
  auto m = LabelMatcher::Create(type, std::move(name), std::move(value));
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return *m;
}

std::vector<SeriesView> Select(MemoryStorage& storage, const std::vector<LabelMatcher>& matchers,
                               std::int64_t mint, std::int64_t maxt) {
  auto querier = storage.NewQuerier(mint, maxt);
  EXPECT_TRUE(querier.ok());
  std::vector<SeriesView> out;
  EXPECT_TRUE((*querier)->Select(matchers, mint, maxt, &out).ok());
  return out;
}

class MemoryStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Appended out of label order on purpose: queries see creation order.
    Add({{"__name__", "http_requests"}, {"job", "b"}}, {0, 10, 20});
    Add({{"__name__", "http_requests"}, {"job", "a"}}, {0, 10});
    Add({{"__name__", "up"}, {"job", "a"}}, {5});
    Add({{"__name__", "http_requests"}, {"job", "a"}, {"code", "500"}}, {30});
  }
  void Add(Labels labels, std::vector<std::int64_t> times) {
    for (auto t : times) {
      ASSERT_TRUE(storage_.Append(labels, t, static_cast<double>(t) / 10).ok());
    }
  }
  MemoryStorage storage_;
};

TEST_F(MemoryStorageTest, SelectsByNameInCreationOrder) {
  auto out = Select(storage_, {Matcher(MatchType::kEqual, "__name__", "http_requests")}, 0, 100);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].labels->ToString(), R"(http_requests{job="b"})");
  EXPECT_EQ(out[1].labels->ToString(), R"(http_requests{job="a"})");
  EXPECT_EQ(out[2].labels->ToString(), R"(http_requests{code="500", job="a"})");
  EXPECT_EQ(out[0].points.size(), 3u);
  EXPECT_EQ(storage_.series_count(), 4u);
}

TEST_F(MemoryStorageTest, RangeIsInclusiveAtBothEnds) {
  auto out = Select(storage_, {Matcher(MatchType::kEqual, "job", "b")}, 10, 20);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].points.size(), 2u);
  EXPECT_EQ(out[0].points[0].t, 10);
  EXPECT_EQ(out[0].points[1].t, 20);
  EXPECT_DOUBLE_EQ(out[0].points[1].v, 2.0);
}

TEST_F(MemoryStorageTest, SeriesWithoutSamplesInRangeAreOmitted) {
  auto out = Select(storage_, {Matcher(MatchType::kEqual, "job", "a")}, 11, 29);
  EXPECT_TRUE(out.empty());
  out = Select(storage_, {Matcher(MatchType::kEqual, "job", "a")}, 5, 5);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].labels->MetricName(), "up");
}

TEST_F(MemoryStorageTest, AllMatchersMustMatchAndAbsentLabelIsEmpty) {
  auto out = Select(storage_,
                    {Matcher(MatchType::kRegexMatch, "__name__", "http_.*"),
                     Matcher(MatchType::kEqual, "code", "")},
                    0, 100);
  ASSERT_EQ(out.size(), 2u);  // the two without a code label
  EXPECT_EQ(out[0].labels->Get("job"), "b");
  EXPECT_EQ(out[1].labels->Get("job"), "a");

  out = Select(
      storage_,
      {Matcher(MatchType::kNotEqual, "code", ""), Matcher(MatchType::kRegexNoMatch, "job", "b")}, 0,
      100);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].labels->Get("code"), "500");
}

TEST_F(MemoryStorageTest, UnknownNameSelectsNothing) {
  EXPECT_TRUE(Select(storage_, {Matcher(MatchType::kEqual, "__name__", "nope")}, 0, 100).empty());
}

TEST(MemoryStorage, EqualTimestampReplacesOlderIsRejected) {
  MemoryStorage storage;
  const Labels m{{"__name__", "x"}};
  ASSERT_TRUE(storage.Append(m, 1000, 1).ok());
  ASSERT_TRUE(storage.Append(m, 2000, 2).ok());
  ASSERT_TRUE(storage.Append(m, 2000, 3).ok());
  const Status older = storage.Append(m, 1500, 4);
  EXPECT_EQ(older.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(older.message().find("out of order sample"), std::string_view::npos);
  ASSERT_EQ(storage.AllSeries().size(), 1u);
  ASSERT_EQ(storage.AllSeries()[0]->points.size(), 2u);
  EXPECT_EQ(storage.AllSeries()[0]->points[1].v, 3);
}

TEST(MemoryStorage, EmptyLabelsRejectedAndClearDropsAll) {
  MemoryStorage storage;
  EXPECT_FALSE(storage.Append(Labels{}, 0, 1).ok());
  ASSERT_TRUE(storage.Append(Labels{{"__name__", "x"}}, 0, 1).ok());
  storage.Clear();
  EXPECT_EQ(storage.series_count(), 0u);
  EXPECT_TRUE(Select(storage, {Matcher(MatchType::kEqual, "__name__", "x")}, 0, 10).empty());
  // Usable again after Clear, including an older timestamp than before.
  ASSERT_TRUE(storage.Append(Labels{{"__name__", "x"}}, -5, 1).ok());
  EXPECT_EQ(Select(storage, {Matcher(MatchType::kEqual, "__name__", "x")}, -10, 10).size(), 1u);
}

TEST(MemoryStorage, KeepsStaleMarkers) {
  MemoryStorage storage;
  const Labels m{{"__name__", "x"}};
  ASSERT_TRUE(storage.Append(m, 0, 1).ok());
  ASSERT_TRUE(storage.Append(m, 10, promql::StaleNaN()).ok());
  auto out = Select(storage, {Matcher(MatchType::kEqual, "__name__", "x")}, 0, 10);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].points.size(), 2u);
  EXPECT_TRUE(promql::IsStaleNaN(out[0].points[1].v));
}

TEST(MemoryStorage, ManySeriesStayFindableAndListSorted) {
  MemoryStorage storage;
  for (int i = 999; i >= 0; --i) {
    ASSERT_TRUE(storage.Append(Labels{{"__name__", "m"}, {"i", std::to_string(i)}}, 0, i).ok());
  }
  // Appending to existing series after a query must find them again.
  ASSERT_EQ(Select(storage, {Matcher(MatchType::kEqual, "__name__", "m")}, 0, 0).size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(storage.Append(Labels{{"__name__", "m"}, {"i", std::to_string(i)}}, 10, i).ok());
  }
  const std::vector<const promql::Series*> all = storage.AllSeries();
  ASSERT_EQ(all.size(), 1000u);
  for (std::size_t i = 1; i < all.size(); ++i) EXPECT_TRUE(all[i - 1]->metric < all[i]->metric);
  for (const promql::Series* s : all) EXPECT_EQ(s->points.size(), 2u);
}

// Queries see series in creation order, as Prometheus's TSDB head hands them
// to its engine (promtool's aggregations add floats in that order).
TEST(MemoryStorage, QueriesSeeSeriesInCreationOrder) {
  MemoryStorage storage;
  for (const char* instance : {"c", "a", "b"}) {
    ASSERT_TRUE(storage.Append(Labels{{"__name__", "q"}, {"instance", instance}}, 0, 1).ok());
  }
  for (const auto& matchers :
       {std::vector<LabelMatcher>{Matcher(MatchType::kEqual, "__name__", "q")},
        std::vector<LabelMatcher>{Matcher(MatchType::kRegexMatch, "instance", ".+")}}) {
    auto out = Select(storage, matchers, 0, 0);
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[0].labels->Get("instance"), "c");
    EXPECT_EQ(out[1].labels->Get("instance"), "a");
    EXPECT_EQ(out[2].labels->Get("instance"), "b");
  }
}

}  // namespace
}  // namespace nimify::promqltest
