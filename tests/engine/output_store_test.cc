#include "engine/output_store.h"

#include <gtest/gtest.h>

#include <vector>

#include "promql/labels.h"
#include "promql/storage.h"

namespace nimify::engine {
namespace {

std::vector<promql::SeriesView> SelectName(const OutputStore& store, const char* name) {
  auto m = promql::LabelMatcher::Create(promql::MatchType::kEqual, "__name__", name);
  EXPECT_TRUE(m.ok());
  std::vector<promql::SeriesView> out;
  store.Select({&*m, 1}, 0, 1'000'000, &out);
  return out;
}

TEST(OutputStoreTest, LatestOnlySeriesKeepTheNewestSampleAndTheAppendRules) {
  OutputStore store(600'000);
  const promql::Labels kept{{"__name__", "ALERTS"}, {"a", "1"}};
  const promql::Labels latest{{"__name__", "ALERTS_FOR_STATE"}, {"a", "1"}};
  ASSERT_TRUE(store.Append(latest, 1000, 1).ok());
  ASSERT_TRUE(store.Append(latest, 2000, 1).ok());
  store.SetKeepLatestOnly("ALERTS_FOR_STATE", true);
  ASSERT_EQ(SelectName(store, "ALERTS_FOR_STATE")[0].points.size(), 1u);  // history dropped
  for (std::int64_t t = 3000; t <= 5000; t += 1000) {
    ASSERT_TRUE(store.Append(kept, t, 1).ok());
    ASSERT_TRUE(store.Append(latest, t, static_cast<double>(t)).ok());
  }
  EXPECT_EQ(SelectName(store, "ALERTS")[0].points.size(), 3u);
  const auto got = SelectName(store, "ALERTS_FOR_STATE");
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].points.size(), 1u);
  EXPECT_EQ(got[0].points[0].t, 5000);
  EXPECT_EQ(got[0].points[0].v, 5000);
  // Still checked against the newest sample.
  EXPECT_FALSE(store.Append(latest, 4000, 1).ok());
  EXPECT_FALSE(store.Append(latest, 5000, 1).ok());
  EXPECT_TRUE(store.Append(latest, 5000, 5000).ok());
  // A new series of that name is latest-only too; switching back keeps history again.
  const promql::Labels other{{"__name__", "ALERTS_FOR_STATE"}, {"a", "2"}};
  ASSERT_TRUE(store.Append(other, 6000, 1).ok());
  ASSERT_TRUE(store.Append(other, 7000, 1).ok());
  store.SetKeepLatestOnly("ALERTS_FOR_STATE", false);
  ASSERT_TRUE(store.Append(other, 8000, 1).ok());
  for (const auto& s : SelectName(store, "ALERTS_FOR_STATE")) {
    EXPECT_EQ(s.points.size(), s.labels->Get("a") == "2" ? 2u : 1u);
  }
}

}  // namespace
}  // namespace nimify::engine
