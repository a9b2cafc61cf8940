// Multi-producer stress and consistent-cut tests. Labelled `tsan` so CI runs
// them under ThreadSanitizer (scripts/build.sh tsan; ctest -L tsan).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/pipeline.h"
#include "promql/labels.h"
#include "storage/fanout_queryable.h"

namespace nimify::pipeline {
namespace {

using promql::LabelMatcher;
using promql::Labels;
using promql::MatchType;

constexpr std::int64_t kStepMs = 10;

double ValueOf(int producer, int series, int i) { return producer * 1e6 + series * 1e3 + i; }

struct Scenario {
  int producers = 4;
  int series_per_producer = 50;
  int samples_per_series = 400;
  PipelineOptions options;
};

// Checks, at a cut at t, that each listed series shows exactly its samples
// 0..floor(t / step) (all sent, since every watermark passed t) and nothing later.
class CutChecker {
 public:
  explicit CutChecker(const Scenario& s) : s_(s) {}

  void Check(const Cut& cut, bool full) {
    auto querier = cut.storage.NewQuerier(INT64_MIN, INT64_MAX);
    std::vector<promql::SeriesView> views;
    const auto matcher = *LabelMatcher::Create(MatchType::kEqual, "__name__", "stress");
    if (!(*querier)->Select({&matcher, 1}, INT64_MIN, INT64_MAX, &views).ok()) {
      Fail("select failed");
      return;
    }
    const std::int64_t last_i = std::min<std::int64_t>(cut.t / kStepMs, s_.samples_per_series - 1);
    int checked = 0;
    for (const auto& v : views) {
      const int producer = std::stoi(std::string(v.labels->Get("producer")));
      const int series = std::stoi(std::string(v.labels->Get("series")));
      if (!full && series != 0) continue;
      ++checked;
      if (static_cast<std::int64_t>(v.points.size()) != last_i + 1) {
        Fail("cut at " + std::to_string(cut.t) + ": " + v.labels->ToString() + " shows " +
             std::to_string(v.points.size()) + " samples, want " + std::to_string(last_i + 1));
        continue;
      }
      for (std::int64_t i = 0; i <= last_i; ++i) {
        const auto& p = v.points[static_cast<std::size_t>(i)];
        if (p.t != i * kStepMs || p.v != ValueOf(producer, series, static_cast<int>(i))) {
          Fail("cut at " + std::to_string(cut.t) + ": wrong sample " + std::to_string(i) + " in " +
               v.labels->ToString());
          break;
        }
      }
    }
    const int want = full ? s_.producers * s_.series_per_producer : s_.producers;
    if (cut.t >= 0 && checked != want) {
      Fail("cut at " + std::to_string(cut.t) + ": saw " + std::to_string(checked) +
           " series, want " + std::to_string(want));
    }
    cuts_checked_.fetch_add(1, std::memory_order_relaxed);
  }

  int failures() const { return failures_.load(); }
  int cuts_checked() const { return cuts_checked_.load(); }
  std::string first_failure() {
    std::lock_guard lock(mu_);
    return first_;
  }

 private:
  void Fail(const std::string& what) {
    if (failures_.fetch_add(1) == 0) {
      std::lock_guard lock(mu_);
      first_ = what;
    }
  }
  const Scenario& s_;
  std::atomic<int> failures_{0};
  std::atomic<int> cuts_checked_{0};
  std::mutex mu_;
  std::string first_;
};

// Producers at different speeds write disjoint series through small rings
// (so they block often); the shards must store every sample exactly once, in
// order, and every cut must be consistent.
void RunScenario(const Scenario& s) {
  CutChecker checker(s);
  std::atomic<std::int64_t> last_cut{INT64_MIN};
  std::atomic<int> out_of_order_cuts{0};
  auto created = Pipeline::Create(s.options);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  std::unique_ptr<Pipeline> p = std::move(created).value();
  p->OnCut([&](const Cut& cut) {
    if (cut.t <= last_cut.load()) out_of_order_cuts.fetch_add(1);
    last_cut.store(cut.t);
    checker.Check(cut, cut.scheduled);
  });
  p->SetSelectors({{1, {{*LabelMatcher::Create(MatchType::kEqual, "producer", "0")}}},
                   {2, {{*LabelMatcher::Create(MatchType::kRegexMatch, "series", "1.*")}}}});
  ASSERT_TRUE(p->Start().ok());

  // Every producer registers before any data flows: one that joined later
  // would start at the last cut, and its older samples would be late.
  std::vector<std::unique_ptr<Producer>> producers;
  for (int producer = 0; producer < s.producers; ++producer) {
    auto made =
        p->NewProducer({.backpressure = Backpressure::kWait, .max_wait = std::chrono::seconds(60)});
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    producers.push_back(std::move(made).value());
  }
  std::vector<std::thread> threads;
  std::atomic<int> append_errors{0};
  for (int producer = 0; producer < s.producers; ++producer) {
    threads.emplace_back([&, producer] {
      Producer* out = producers[static_cast<std::size_t>(producer)].get();
      std::vector<SeriesRef> refs;
      for (int k = 0; k < s.series_per_producer; ++k) {
        auto ref = p->Resolve(Labels{{"__name__", "stress"},
                                     {"producer", std::to_string(producer)},
                                     {"series", std::to_string(k)}});
        if (!ref.ok()) {
          append_errors.fetch_add(1);
          return;
        }
        refs.push_back(*ref);
      }
      for (int i = 0; i < s.samples_per_series; ++i) {
        for (int k = 0; k < s.series_per_producer; ++k) {
          if (!out->Append(refs[static_cast<std::size_t>(k)], i * kStepMs, ValueOf(producer, k, i))
                   .ok()) {
            append_errors.fetch_add(1);
          }
        }
        if (!out->Flush().ok()) append_errors.fetch_add(1);
        // Producers run at different speeds, so watermarks diverge.
        if (producer == s.producers - 1 && i % 8 == 0) {
          std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
      }
      out->Close();
    });
  }
  for (auto& t : threads) t.join();
  p->Stop();

  EXPECT_EQ(append_errors.load(), 0);
  EXPECT_EQ(checker.failures(), 0) << checker.first_failure();
  EXPECT_GT(checker.cuts_checked(), 0);
  EXPECT_EQ(out_of_order_cuts.load(), 0);
  const std::uint64_t total =
      static_cast<std::uint64_t>(s.producers) * s.series_per_producer * s.samples_per_series;
  const PipelineStats stats = p->stats();
  EXPECT_EQ(stats.samples_accepted, total);
  EXPECT_EQ(stats.samples_refused, 0u);
  EXPECT_EQ(stats.samples_late_refused, 0u);
  EXPECT_EQ(stats.samples_late_stored, 0u);
  EXPECT_EQ(stats.shards.samples_appended, total);
  EXPECT_EQ(stats.shards.out_of_order + stats.shards.duplicates + stats.shards.conflicts +
                stats.shards.unknown_series + stats.shards.too_old,
            0u);
  EXPECT_EQ(stats.last_cut_t, (s.samples_per_series - 1) * kStepMs);

  // Exactly once and in order: the final windows hold every sample.
  std::vector<storage::Shard*> shards;
  for (std::uint32_t i = 0; i < s.options.shards; ++i) shards.push_back(&p->shard_for_test(i));
  storage::FanoutQueryable view(shards);
  Cut final_cut{(s.samples_per_series - 1) * kStepMs, true, 0, DirtySet(), view};
  CutChecker final_checker(s);
  final_checker.Check(final_cut, /*full=*/true);
  EXPECT_EQ(final_checker.failures(), 0) << final_checker.first_failure();
}

TEST(PipelineStressTest, ManyProducersSmallRingsEagerAndScheduledCuts) {
  Scenario s;
  s.options = {.shards = 3,
               .ring_capacity = 64,
               .max_producers = 8,
               .batch_size = 16,
               .retention_ms = 1'000'000'000,
               .cut_interval_ms = 100,
               .eager_cuts = true};
  RunScenario(s);
}

// The same with producers taking the cuts themselves whenever every worker sleeps.
TEST(PipelineStressTest, ManyProducersSmallRingsInlineCuts) {
  Scenario s;
  s.options = {.shards = 3,
               .ring_capacity = 64,
               .max_producers = 8,
               .batch_size = 16,
               .retention_ms = 1'000'000'000,
               .cut_interval_ms = 100,
               .eager_cuts = true,
               .inline_cuts = true};
  RunScenario(s);
}

TEST(PipelineStressTest, OneShardManyProducersScheduledOnly) {
  Scenario s;
  s.producers = 6;
  s.series_per_producer = 20;
  s.samples_per_series = 300;
  s.options = {.shards = 1,
               .ring_capacity = 32,
               .max_producers = 8,
               .batch_size = 8,
               .retention_ms = 1'000'000'000,
               .cut_interval_ms = 50,
               .eager_cuts = false};
  RunScenario(s);
}

TEST(PipelineStressTest, ManyShardsFewSeries) {
  Scenario s;
  s.producers = 3;
  s.series_per_producer = 8;
  s.samples_per_series = 600;
  s.options = {.shards = 8,
               .ring_capacity = 16,
               .max_producers = 4,
               .batch_size = 4,
               .retention_ms = 1'000'000'000,
               .cut_interval_ms = 70,
               .eager_cuts = true};
  RunScenario(s);
}

}  // namespace
}  // namespace nimify::pipeline
