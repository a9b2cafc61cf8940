#include "storage/shard.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <random>
#include <string>
#include <vector>

#include "promql/labels.h"
#include "promql/storage.h"
#include "promqltest/memory_storage.h"
#include "storage/fanout_queryable.h"

namespace nimify::storage {
namespace {

using promql::LabelMatcher;
using promql::Labels;
using promql::MatchType;
using promql::Point;
using promql::SeriesView;

LabelMatcher M(MatchType type, std::string name, std::string value) {
  auto m = LabelMatcher::Create(type, std::move(name), std::move(value));
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return *m;
}

// A Select result in a canonical form: sorted by labels, with the points
// (values as bits, so that NaNs compare equal and stale markers stay distinct).
using Canonical =
    std::vector<std::pair<std::string, std::vector<std::pair<std::int64_t, std::uint64_t>>>>;
Canonical Canon(const std::vector<SeriesView>& views) {
  Canonical out;
  for (const SeriesView& s : views) {
    std::vector<std::pair<std::int64_t, std::uint64_t>> points;
    for (const Point& p : s.points) points.emplace_back(p.t, std::bit_cast<std::uint64_t>(p.v));
    out.emplace_back(s.labels->ToString(), std::move(points));
  }
  std::sort(out.begin(), out.end());
  return out;
}

Canonical SelectAll(promql::Queryable& q, const std::vector<LabelMatcher>& matchers,
                    std::int64_t mint, std::int64_t maxt) {
  auto querier = q.NewQuerier(mint, maxt);
  EXPECT_TRUE(querier.ok());
  std::vector<SeriesView> views;
  Status s = (*querier)->Select(matchers, mint, maxt, &views);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return Canon(views);
}

TEST(ShardTest, ResolveIsIdempotentAndDistinguishesSeries) {
  Shard shard(3, ShardOptions{}, nullptr);
  auto a = shard.Resolve(Labels{{"__name__", "up"}, {"job", "api"}});
  auto b = shard.Resolve(Labels{{"__name__", "up"}, {"job", "db"}});
  auto a2 = shard.Resolve(Labels{{"job", "api"}, {"__name__", "up"}});
  ASSERT_TRUE(a.ok() && b.ok() && a2.ok());
  EXPECT_EQ(*a, *a2);
  EXPECT_NE(*a, *b);
  EXPECT_EQ(ShardOf(*a), 3u);
  EXPECT_NE(*a, 0u);
  EXPECT_EQ(shard.stats().series_live, 2u);
  EXPECT_EQ(shard.stats().series_created, 2u);
}

TEST(ShardTest, RejectsBadLabelSets) {
  Shard shard(0, ShardOptions{}, nullptr);
  const std::vector<LabelView> unsorted = {{"b", "1"}, {"a", "2"}};
  const std::vector<LabelView> duplicate = {{"a", "1"}, {"a", "2"}};
  const std::vector<LabelView> empty_value = {{"a", ""}};
  auto r1 = shard.Resolve(unsorted, HashLabels(unsorted));
  auto r2 = shard.Resolve(duplicate, HashLabels(duplicate));
  auto r3 = shard.Resolve(empty_value, HashLabels(empty_value));
  auto r4 = shard.Resolve(std::span<const LabelView>(), 0);
  EXPECT_EQ(r1.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r1.status().message().find("not sorted"), std::string_view::npos);
  EXPECT_NE(r2.status().message().find("duplicate label name a"), std::string_view::npos);
  EXPECT_NE(r3.status().message().find("empty value"), std::string_view::npos);
  EXPECT_EQ(r4.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(shard.stats().series_live, 0u);
}

TEST(ShardTest, CardinalityLimitIsSharedAndExplained) {
  SeriesLimit limit(3);
  Shard s0(0, ShardOptions{}, &limit);
  Shard s1(1, ShardOptions{}, &limit);
  ASSERT_TRUE(s0.Resolve(Labels{{"__name__", "a"}}).ok());
  ASSERT_TRUE(s1.Resolve(Labels{{"__name__", "b"}}).ok());
  ASSERT_TRUE(s0.Resolve(Labels{{"__name__", "c"}}).ok());
  // Existing series still resolve at the limit.
  ASSERT_TRUE(s1.Resolve(Labels{{"__name__", "b"}}).ok());
  auto refused = s1.Resolve(Labels{{"__name__", "d"}, {"pod", "x-1"}});
  ASSERT_EQ(refused.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(refused.status().message().find("series limit reached: 3 active series"),
            std::string_view::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("d{pod=\"x-1\"}"), std::string_view::npos);
  EXPECT_EQ(s1.stats().series_refused, 1u);
  EXPECT_EQ(limit.live(), 3u);
}

TEST(ShardTest, AppendClassifiesEverySample) {
  Shard shard(0, ShardOptions{}, nullptr);
  auto ref = shard.Resolve(Labels{{"__name__", "x"}});
  ASSERT_TRUE(ref.ok());
  bool is_new = false;
  shard.PrefetchForAppend(*ref);  // a hint only, even before the owner has seen the series
  EXPECT_EQ(shard.Append(*ref, 1000, 1, &is_new), SampleResult::kOk);
  EXPECT_TRUE(is_new);
  shard.PrefetchForAppend(*ref);
  EXPECT_EQ(shard.Append(*ref, 2000, 2, &is_new), SampleResult::kOk);
  EXPECT_FALSE(is_new);
  EXPECT_EQ(shard.Append(*ref, 1500, 2), SampleResult::kOutOfOrder);
  EXPECT_EQ(shard.Append(*ref, 2000, 2), SampleResult::kDuplicate);
  EXPECT_EQ(shard.Append(*ref, 2000, 5), SampleResult::kConflict);
  shard.SetHorizon(10'000);
  EXPECT_EQ(shard.Append(*ref, 9'999, 5), SampleResult::kTooOld);
  shard.PrefetchForAppend(MakeSeriesRef(0, 1, 77));
  shard.PrefetchForAppend(MakeSeriesRef(1, GenerationOf(*ref), SlotOf(*ref)));
  EXPECT_EQ(shard.Append(MakeSeriesRef(0, 1, 77), 20'000, 1), SampleResult::kUnknownSeries);
  EXPECT_EQ(shard.Append(MakeSeriesRef(1, GenerationOf(*ref), SlotOf(*ref)), 20'000, 1),
            SampleResult::kUnknownSeries);
  const ShardStats s = shard.stats();
  EXPECT_EQ(s.samples_appended, 2u);
  EXPECT_EQ(s.out_of_order, 1u);
  EXPECT_EQ(s.duplicates, 1u);
  EXPECT_EQ(s.conflicts, 1u);
  EXPECT_EQ(s.too_old, 1u);
  EXPECT_EQ(s.unknown_series, 2u);
}

TEST(ShardTest, WithoutIdleRoundsGarbageCollectionFreesStaleSeriesAndInvalidatesTheirRefs) {
  SeriesLimit limit(0);
  Shard shard(0, ShardOptions{.idle_series_rounds = 0}, &limit);
  auto old_ref = shard.Resolve(Labels{{"__name__", "old"}, {"pod", "p1"}});
  auto live_ref = shard.Resolve(Labels{{"__name__", "live"}, {"pod", "p1"}});
  auto never_ref = shard.Resolve(Labels{{"__name__", "never"}});
  ASSERT_TRUE(old_ref.ok() && live_ref.ok() && never_ref.ok());
  ASSERT_EQ(shard.Append(*old_ref, 1000, 1), SampleResult::kOk);
  ASSERT_EQ(shard.Append(*live_ref, 1000, 1), SampleResult::kOk);
  ASSERT_EQ(shard.Append(*live_ref, 50'000, 2), SampleResult::kOk);
  shard.SetHorizon(10'000);
  EXPECT_EQ(shard.CollectGarbage(), 1u);  // "old"; "never" gets two rounds of grace
  EXPECT_EQ(shard.Append(*old_ref, 60'000, 1), SampleResult::kUnknownSeries);
  EXPECT_EQ(shard.CollectGarbage(), 0u);
  EXPECT_EQ(shard.CollectGarbage(), 1u);  // "never" was resolved but never written
  EXPECT_EQ(shard.stats().series_live, 1u);
  EXPECT_EQ(limit.live(), 1u);

  // Re-resolving gives a working ref again (possibly the same slot, another generation).
  auto again = shard.Resolve(Labels{{"__name__", "old"}, {"pod", "p1"}});
  ASSERT_TRUE(again.ok());
  EXPECT_NE(*again, *old_ref);
  bool is_new = false;
  EXPECT_EQ(shard.Append(*again, 60'000, 7, &is_new), SampleResult::kOk);
  EXPECT_TRUE(is_new);
  EXPECT_EQ(shard.Append(*old_ref, 70'000, 1), SampleResult::kUnknownSeries);
  const auto got = SelectAll(shard, {M(MatchType::kEqual, "pod", "p1")}, 0, 100'000);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].first, "live{pod=\"p1\"}");
  EXPECT_EQ(got[1].first, "old{pod=\"p1\"}");
  EXPECT_EQ(got[1].second, (std::vector<std::pair<std::int64_t, std::uint64_t>>{
                               {60'000, std::bit_cast<std::uint64_t>(7.0)}}));
}

using Points = std::vector<std::pair<std::int64_t, std::uint64_t>>;
std::uint64_t Bits(double v) { return std::bit_cast<std::uint64_t>(v); }

TEST(ShardTest, IdleSeriesIsHiddenButItsRefRevivesIt) {
  SeriesLimit limit(0);
  Shard shard(0, ShardOptions{.idle_series_rounds = 3}, &limit);
  auto paused = shard.Resolve(Labels{{"__name__", "paused"}, {"pod", "p1"}});
  auto steady = shard.Resolve(Labels{{"__name__", "steady"}, {"pod", "p1"}});
  ASSERT_TRUE(paused.ok() && steady.ok());
  ASSERT_EQ(shard.Append(*paused, 1000, 1), SampleResult::kOk);
  ASSERT_EQ(shard.Append(*steady, 1000, 1), SampleResult::kOk);
  ASSERT_EQ(shard.Append(*steady, 50'000, 2), SampleResult::kOk);
  shard.SetHorizon(10'000);
  EXPECT_EQ(shard.CollectGarbage(), 1u);  // "paused" goes idle
  EXPECT_FALSE(shard.IsLiveSlot(SlotOf(*paused)));
  EXPECT_EQ(shard.stats().series_live, 1u);
  EXPECT_EQ(shard.stats().series_idle, 1u);
  EXPECT_EQ(limit.live(), 1u);

  // Queries no longer see it, through the index or a scan of every series.
  EXPECT_TRUE(SelectAll(shard, {M(MatchType::kEqual, "__name__", "paused")}, 0, 100'000).empty());
  auto all = SelectAll(shard, {M(MatchType::kRegexMatch, "pod", ".*")}, 0, 100'000);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].first, "steady{pod=\"p1\"}");

  // Resolving the same labels while idle gives the same ref.
  auto again = shard.Resolve(Labels{{"__name__", "paused"}, {"pod", "p1"}});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *paused);

  // The cached ref revives it: a new series to the owner, with only the new samples.
  bool is_new = false;
  EXPECT_EQ(shard.Append(*paused, 60'000, 7, &is_new), SampleResult::kOk);
  EXPECT_TRUE(is_new);
  EXPECT_EQ(shard.Append(*paused, 61'000, 8, &is_new), SampleResult::kOk);
  EXPECT_FALSE(is_new);
  EXPECT_TRUE(shard.IsLiveSlot(SlotOf(*paused)));
  const auto got = SelectAll(shard, {M(MatchType::kEqual, "__name__", "paused")}, 0, 100'000);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].first, "paused{pod=\"p1\"}");
  EXPECT_EQ(got[0].second, (Points{{60'000, Bits(7)}, {61'000, Bits(8)}}));
  const ShardStats s = shard.stats();
  EXPECT_EQ(s.series_live, 2u);
  EXPECT_EQ(s.series_idle, 0u);
  EXPECT_EQ(s.series_created, 2u);
  EXPECT_EQ(s.unknown_series, 0u);
  EXPECT_EQ(limit.live(), 2u);
}

TEST(ShardTest, IdleEntryIsFreedAfterIdleSeriesRounds) {
  Shard shard(0, ShardOptions{.idle_series_rounds = 3}, nullptr);
  auto ref = shard.Resolve(Labels{{"__name__", "x"}});
  ASSERT_TRUE(ref.ok());
  for (std::int64_t t = 1000; t <= 1'000'000; t += 1000) {
    ASSERT_EQ(shard.Append(*ref, t, static_cast<double>(t % 7)), SampleResult::kOk);
  }
  shard.SetHorizon(0);
  EXPECT_EQ(shard.CollectGarbage(), 0u);
  const std::uint64_t live_bytes = shard.stats().memory_bytes;

  shard.SetHorizon(2'000'000);
  EXPECT_EQ(shard.CollectGarbage(), 1u);              // idle from here
  EXPECT_LT(shard.stats().memory_bytes, live_bytes);  // the window is freed
  for (int round = 1; round < 3; ++round) {
    EXPECT_EQ(shard.CollectGarbage(), 0u);
    EXPECT_EQ(shard.stats().series_idle, 1u) << "round " << round;
    auto same = shard.Resolve(Labels{{"__name__", "x"}});
    ASSERT_TRUE(same.ok());
    EXPECT_EQ(*same, *ref);
  }
  EXPECT_EQ(shard.CollectGarbage(), 0u);  // idle for 3 rounds: freed
  ShardStats s = shard.stats();
  EXPECT_EQ(s.series_idle, 0u);
  EXPECT_EQ(s.series_live, 0u);
  EXPECT_EQ(shard.Append(*ref, 3'000'000, 1), SampleResult::kUnknownSeries);
  EXPECT_EQ(shard.stats().unknown_series, 1u);

  // The labels now make a new series with another ref.
  auto fresh = shard.Resolve(Labels{{"__name__", "x"}});
  ASSERT_TRUE(fresh.ok());
  EXPECT_NE(*fresh, *ref);
  bool is_new = false;
  EXPECT_EQ(shard.Append(*fresh, 3'000'000, 1, &is_new), SampleResult::kOk);
  EXPECT_TRUE(is_new);
  EXPECT_EQ(shard.Append(*ref, 3'001'000, 1), SampleResult::kUnknownSeries);
  EXPECT_EQ(shard.stats().series_created, 2u);
}

TEST(ShardTest, SeriesLimitCountsLiveSeriesNotIdleOnes) {
  SeriesLimit limit(2);
  {
    Shard shard(0, ShardOptions{.idle_series_rounds = 5}, &limit);
    auto a = shard.Resolve(Labels{{"__name__", "a"}});
    auto b = shard.Resolve(Labels{{"__name__", "b"}});
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_EQ(shard.Append(*a, 1000, 1), SampleResult::kOk);
    ASSERT_EQ(shard.Append(*b, 1000, 1), SampleResult::kOk);
    shard.SetHorizon(10'000);
    EXPECT_EQ(shard.CollectGarbage(), 2u);
    EXPECT_EQ(limit.live(), 0u);
    EXPECT_EQ(shard.stats().series_idle, 2u);

    // Idle series leave room for new ones...
    auto c = shard.Resolve(Labels{{"__name__", "c"}});
    auto d = shard.Resolve(Labels{{"__name__", "d"}});
    ASSERT_TRUE(c.ok() && d.ok());
    ASSERT_EQ(shard.Append(*c, 20'000, 1), SampleResult::kOk);
    EXPECT_EQ(shard.Resolve(Labels{{"__name__", "e"}}).status().code(),
              StatusCode::kResourceExhausted);
    // ...so reviving one needs room too: refused while the limit is reached.
    EXPECT_EQ(shard.Append(*a, 20'000, 1), SampleResult::kUnknownSeries);
    EXPECT_EQ(shard.stats().series_refused, 2u);
    EXPECT_EQ(shard.stats().series_idle, 2u);
    EXPECT_EQ(limit.live(), 2u);

    // "d" was never appended to: freed on the second collection after it was resolved.
    EXPECT_EQ(shard.CollectGarbage(), 0u);
    EXPECT_EQ(shard.CollectGarbage(), 0u);
    EXPECT_EQ(shard.CollectGarbage(), 1u);
    EXPECT_EQ(limit.live(), 1u);
    bool is_new = false;
    EXPECT_EQ(shard.Append(*a, 30'000, 2, &is_new), SampleResult::kOk);
    EXPECT_TRUE(is_new);
    EXPECT_EQ(limit.live(), 2u);
    const ShardStats s = shard.stats();
    EXPECT_EQ(s.series_live, 2u);  // "a" and "c"
    EXPECT_EQ(s.series_idle, 1u);  // "b"
    auto b_again = shard.Resolve(Labels{{"__name__", "b"}});
    ASSERT_TRUE(b_again.ok());
    EXPECT_EQ(*b_again, *b);
  }
  // A destroyed shard gives back only the places its live series held.
  EXPECT_EQ(limit.live(), 0u);
}

// The same random data in a Shard, in two shards behind a FanoutQueryable,
// and in MemoryStorage must select the same series and points for random
// matchers of every kind.
TEST(ShardTest, SelectMatchesMemoryStorageOnRandomData) {
  std::mt19937 rng(5);
  Shard single(0, ShardOptions{}, nullptr);
  Shard part0(0, ShardOptions{}, nullptr);
  Shard part1(1, ShardOptions{}, nullptr);
  promqltest::MemoryStorage memory;
  const std::vector<std::string> names = {"http_requests_total", "up", "cpu"};
  const std::vector<std::string> jobs = {"api", "db", "cache", "api-canary"};
  std::vector<std::pair<Labels, std::pair<SeriesRef, SeriesRef>>> series;
  for (int i = 0; i < 120; ++i) {
    promql::LabelsBuilder b;
    b.Set("__name__", names[rng() % names.size()]);
    b.Set("job", jobs[rng() % jobs.size()]);
    if (rng() % 3 != 0) b.Set("instance", "host-" + std::to_string(rng() % 10));
    if (rng() % 4 == 0) b.Set("env", rng() % 2 ? "prod" : "dev");
    const Labels labels = b.Build();
    auto r1 = single.Resolve(labels);
    Shard& part = labels.Hash() % 2 ? part1 : part0;
    auto r2 = part.Resolve(labels);
    ASSERT_TRUE(r1.ok() && r2.ok());
    if (std::any_of(series.begin(), series.end(),
                    [&](const auto& s) { return s.first == labels; })) {
      continue;
    }
    series.push_back({labels, {*r1, *r2}});
  }
  for (std::int64_t t = 0; t < 600'000; t += 1000 + static_cast<std::int64_t>(rng() % 9000)) {
    for (const auto& [labels, refs] : series) {
      if (rng() % 3 == 0) continue;
      const double v = rng() % 5 == 0 ? promql::StaleNaN() : static_cast<double>(rng() % 100);
      ASSERT_EQ(single.Append(refs.first, t, v), SampleResult::kOk);
      Shard& part = labels.Hash() % 2 ? part1 : part0;
      ASSERT_EQ(part.Append(refs.second, t, v), SampleResult::kOk);
      ASSERT_TRUE(memory.Append(labels, t, v).ok());
    }
  }
  std::vector<Shard*> parts = {&part0, &part1};
  FanoutQueryable fanout(parts);
  const std::vector<std::string> values = {"api", "db", "", "host-3", "up", "prod", "nope"};
  const std::vector<std::string> regexes = {"a.*",    ".*", "",       "host-[0-4]",
                                            "up|cpu", ".+", "d.*|c.*"};
  const std::vector<std::string> label_names = {"__name__", "job", "instance", "env", "missing"};
  int non_empty = 0;
  for (int q = 0; q < 400; ++q) {
    std::vector<LabelMatcher> matchers;
    const int n = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < n; ++i) {
      const auto type = static_cast<MatchType>(rng() % 4);
      const std::string& name = label_names[rng() % label_names.size()];
      const bool regex = type == MatchType::kRegexMatch || type == MatchType::kRegexNoMatch;
      const std::string& value =
          regex ? regexes[rng() % regexes.size()] : values[rng() % values.size()];
      matchers.push_back(M(type, name, value));
    }
    const std::int64_t mint = static_cast<std::int64_t>(rng() % 600'000) - 1000;
    const std::int64_t maxt = mint + static_cast<std::int64_t>(rng() % 200'000);
    const Canonical want = SelectAll(memory, matchers, mint, maxt);
    std::string desc;
    for (const auto& m : matchers) desc += m.ToString() + " ";
    const Canonical from_single = SelectAll(single, matchers, mint, maxt);
    const Canonical from_fanout = SelectAll(fanout, matchers, mint, maxt);
    EXPECT_TRUE(from_single == want) << desc << mint << ".." << maxt << ": " << from_single.size()
                                     << " series vs " << want.size();
    EXPECT_TRUE(from_fanout == want) << desc << mint << ".." << maxt << ": " << from_fanout.size()
                                     << " series vs " << want.size();
    non_empty += want.empty() ? 0 : 1;
  }
  EXPECT_GT(non_empty, 100);  // the comparison exercised real results
}

TEST(ShardTest, FanoutHidesSamplesAfterItsInstant) {
  Shard shard(0, ShardOptions{}, nullptr);
  auto ref = shard.Resolve(Labels{{"__name__", "x"}});
  ASSERT_TRUE(ref.ok());
  for (std::int64_t t = 0; t <= 100; t += 10)
    ASSERT_EQ(shard.Append(*ref, t, t), SampleResult::kOk);
  Shard* shards[] = {&shard};
  FanoutQueryable view(shards, 45);
  const auto got = SelectAll(view, {M(MatchType::kEqual, "__name__", "x")}, 20, 1000);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].second, (std::vector<std::pair<std::int64_t, std::uint64_t>>{
                               {20, std::bit_cast<std::uint64_t>(20.0)},
                               {30, std::bit_cast<std::uint64_t>(30.0)},
                               {40, std::bit_cast<std::uint64_t>(40.0)}}));
  // A series whose samples are all after the instant is not selected at all.
  EXPECT_TRUE(SelectAll(view, {M(MatchType::kEqual, "__name__", "x")}, 50, 1000).empty());
}

TEST(ShardTest, AReadWithAnEarlierStartKeepsTheViewsOfEarlierReads) {
  Shard shard(0, ShardOptions{}, nullptr);
  auto ref = shard.Resolve(Labels{{"__name__", "x"}});
  ASSERT_TRUE(ref.ok());
  for (std::int64_t t = 0; t <= 100; t += 10) ASSERT_EQ(shard.Append(*ref, t, t), SampleResult::kOk);
  Shard* shards[] = {&shard};
  FanoutQueryable view(shards);
  const auto m = M(MatchType::kEqual, "__name__", "x");
  std::vector<promql::SeriesView> late;
  ASSERT_TRUE(view.Select({&m, 1}, 80, 100, &late).ok());
  std::vector<promql::SeriesView> early;
  ASSERT_TRUE(view.Select({&m, 1}, 10, 30, &early).ok());
  ASSERT_EQ(late.size(), 1u);
  ASSERT_EQ(early.size(), 1u);
  // The first views still read the samples they were given.
  ASSERT_EQ(late[0].points.size(), 3u);
  EXPECT_EQ(late[0].points.front().t, 80);
  EXPECT_EQ(late[0].points.back().t, 100);
  ASSERT_EQ(early[0].points.size(), 3u);
  EXPECT_EQ(early[0].points.front().t, 10);
  EXPECT_EQ(early[0].points.back().v, 30);
  EXPECT_EQ(*late[0].labels, *early[0].labels);
  EXPECT_EQ(late[0].labels->ToString(), "x");
}

// Reads at successive evaluations (a new FanoutQueryable each time) reuse
// what the shard remembers (each series' labels, the series a selector
// matched) and must still see series that arrived or went away in between.
TEST(ShardTest, SuccessiveCutsSeeSeriesComeAndGo) {
  Shard shard(0, ShardOptions{.idle_series_rounds = 0}, nullptr);
  Shard* shards[] = {&shard};
  const auto m = M(MatchType::kRegexMatch, "job", "a.*");
  auto a1 = shard.Resolve(Labels{{"__name__", "x"}, {"job", "api"}, {"pod", "1"}});
  auto b1 = shard.Resolve(Labels{{"__name__", "x"}, {"job", "batch"}, {"pod", "1"}});
  ASSERT_TRUE(a1.ok() && b1.ok());
  for (std::int64_t t = 0; t <= 100'000; t += 10'000) {
    ASSERT_EQ(shard.Append(*a1, t, static_cast<double>(t)), SampleResult::kOk);
    ASSERT_EQ(shard.Append(*b1, t, 1), SampleResult::kOk);
  }
  const Labels* first_labels = nullptr;
  {
    FanoutQueryable view(shards, 100'000);
    std::vector<SeriesView> got;
    ASSERT_TRUE(view.Select({&m, 1}, 70'000, 100'000, &got).ok());
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].labels->ToString(), "x{job=\"api\", pod=\"1\"}");
    EXPECT_EQ(got[0].points.size(), 4u);
    first_labels = got[0].labels;
  }
  // The next cut: one more sample, and a new series the selector matches.
  auto a2 = shard.Resolve(Labels{{"__name__", "x"}, {"job", "auth"}, {"pod", "2"}});
  ASSERT_TRUE(a2.ok());
  ASSERT_EQ(shard.Append(*a1, 110'000, 110'000), SampleResult::kOk);
  ASSERT_EQ(shard.Append(*a2, 110'000, 5), SampleResult::kOk);
  {
    FanoutQueryable view(shards, 110'000);
    std::vector<SeriesView> got;
    ASSERT_TRUE(view.Select({&m, 1}, 80'000, 110'000, &got).ok());
    const Canonical canon = Canon(got);
    ASSERT_EQ(canon.size(), 2u);
    EXPECT_EQ(canon[0].first, "x{job=\"api\", pod=\"1\"}");
    EXPECT_EQ(canon[0].second, (Points{{80'000, Bits(80'000)},
                                       {90'000, Bits(90'000)},
                                       {100'000, Bits(100'000)},
                                       {110'000, Bits(110'000)}}));
    EXPECT_EQ(canon[1].first, "x{job=\"auth\", pod=\"2\"}");
    // The label set of a series is built once, not at every cut.
    const auto api = std::find_if(
        got.begin(), got.end(), [](const SeriesView& v) { return v.labels->Get("job") == "api"; });
    ASSERT_NE(api, got.end());
    EXPECT_EQ(api->labels, first_labels);
    // An earlier start in the same cut decodes the older samples too.
    std::vector<SeriesView> older;
    ASSERT_TRUE(view.Select({&m, 1}, 0, 110'000, &older).ok());
    ASSERT_EQ(older.size(), 2u);
    for (const SeriesView& v : older) {
      EXPECT_EQ(v.points.size(), v.labels->Get("job") == "api" ? 12u : 1u);
    }
  }
  // "api" stops; once it is collected, its slot goes to a new series whose
  // labels must not be the old ones.
  shard.SetHorizon(115'000);
  ASSERT_EQ(shard.Append(*a2, 120'000, 6), SampleResult::kOk);
  ASSERT_EQ(shard.Append(*b1, 120'000, 2), SampleResult::kOk);
  EXPECT_EQ(shard.CollectGarbage(), 1u);
  auto a3 = shard.Resolve(Labels{{"__name__", "x"}, {"job", "admin"}, {"pod", "3"}});
  ASSERT_TRUE(a3.ok());
  ASSERT_EQ(shard.Append(*a3, 120'000, 9), SampleResult::kOk);
  {
    FanoutQueryable view(shards, 120'000);
    std::vector<SeriesView> got;
    ASSERT_TRUE(view.Select({&m, 1}, 115'000, 120'000, &got).ok());
    const Canonical canon = Canon(got);
    ASSERT_EQ(canon.size(), 2u);
    EXPECT_EQ(canon[0].first, "x{job=\"admin\", pod=\"3\"}");
    EXPECT_EQ(canon[0].second, (Points{{120'000, Bits(9)}}));
    EXPECT_EQ(canon[1].first, "x{job=\"auth\", pod=\"2\"}");
    EXPECT_EQ(canon[1].second, (Points{{120'000, Bits(6)}}));
  }
}

}  // namespace
}  // namespace nimify::storage
