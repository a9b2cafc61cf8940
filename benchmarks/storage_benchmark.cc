// Storage benchmarks: window append/decode, shard ingest and memory per series,
// label resolution, and selecting at one instant through the fan-out view.
#include <benchmark/benchmark.h>

#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "promql/labels.h"
#include "promql/storage.h"
#include "storage/fanout_queryable.h"
#include "storage/series_window.h"
#include "storage/shard.h"

namespace nimify::storage {
namespace {

constexpr std::int64_t kScrapeMs = 15'000;
constexpr std::int64_t kRetentionMs = 5 * 60'000;

// A counter-like value stream: mostly small integer increments.
double NextCounter(double v, std::mt19937& rng) { return v + static_cast<double>(rng() % 64); }

// Six labels, as an exporter's series have. Realistic: 200 metric names x
// instances, every label value shared by at least 200 series. With
// `unique_label`, each series also carries a value of its own (a pod or
// request id): the worst case for interning.
promql::Labels SeriesLabels(int i, bool unique_label = false) {
  const int instance = i / 200;
  promql::LabelsBuilder b;
  b.Set("__name__", "metric_" + std::to_string(i % 200));
  b.Set("instance",
        "10.0." + std::to_string(instance / 256) + "." + std::to_string(instance % 256) + ":9100");
  b.Set("job", "job-" + std::to_string(instance % 10));
  b.Set("env", instance % 3 == 0 ? "prod" : "staging");
  b.Set("cluster", "eu-" + std::to_string(instance % 4));
  if (unique_label) {
    b.Set("pod", "api-7d9f8b6c5-" + std::to_string(i));
  } else {
    b.Set("code", std::to_string(200 + i % 5));
  }
  return b.Build();
}

std::int64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  std::int64_t pages = 0;
  std::int64_t resident = 0;
  statm >> pages >> resident;
  return resident * 4096;
}

// Appends to many windows round-robin, as a shard does; the horizon follows the data.
void BM_WindowAppend(benchmark::State& state) {
  const auto series = static_cast<std::size_t>(state.range(0));
  std::vector<SeriesWindow> windows(series);
  std::mt19937 rng(1);
  std::vector<double> values(series, 1000);
  std::int64_t t = 1'700'000'000'000;
  std::size_t i = 0;
  for (auto _ : state) {
    values[i] = NextCounter(values[i], rng);
    benchmark::DoNotOptimize(windows[i].Append(t, values[i], t - kRetentionMs));
    if (++i == series) {
      i = 0;
      t += kScrapeMs;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WindowAppend)->Arg(1)->Arg(1000)->Arg(100'000);

void BM_WindowDecode(benchmark::State& state) {
  SeriesWindow w;
  std::mt19937 rng(2);
  double v = 1000;
  for (int i = 0; i < 21; ++i) {
    v = NextCounter(v, rng);
    (void)w.Append(1'700'000'000'000 + i * kScrapeMs, v, kNoTime);
  }
  std::vector<promql::Point> out;
  for (auto _ : state) {
    out.clear();
    w.Decode(&out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * 21);
  state.counters["bytes_per_window"] = static_cast<double>(w.HeapBytes());
}
BENCHMARK(BM_WindowDecode);

void BM_ResolveExisting(benchmark::State& state) {
  Shard shard(0, ShardOptions{}, nullptr);
  std::vector<std::vector<LabelView>> views;
  std::vector<promql::Labels> labels;
  for (int i = 0; i < 10'000; ++i) labels.push_back(SeriesLabels(i));
  for (const auto& l : labels) {
    views.push_back(ViewLabels(l));
    (void)shard.Resolve(views.back(), HashLabels(views.back()));
  }
  std::size_t i = 0;
  for (auto _ : state) {
    const auto& v = views[i];
    benchmark::DoNotOptimize(shard.Resolve(v, HashLabels(v)));
    if (++i == views.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ResolveExisting);

// Fills a shard with `series` series and a full 5-minute window at 15 s, then
// times further scrape rounds. Reports heap bytes per series (the shard's own
// estimate) and resident bytes per series (RSS growth while filling).
void BM_ShardIngest(benchmark::State& state) {
  const int series = static_cast<int>(state.range(0));
  const bool unique_label = state.range(1) != 0;
  // The benchmark's own arrays exist before the baseline, so RSS growth is the shard's.
  std::vector<SeriesRef> refs(static_cast<std::size_t>(series));
  std::vector<double> values(static_cast<std::size_t>(series), 1000);
  const std::int64_t rss_before = ResidentBytes();
  auto shard = std::make_unique<Shard>(0, ShardOptions{.retention_ms = kRetentionMs}, nullptr);
  for (int i = 0; i < series; ++i) {
    refs[static_cast<std::size_t>(i)] = *shard->Resolve(SeriesLabels(i, unique_label));
  }
  std::mt19937 rng(3);
  std::int64_t t = 1'700'000'000'000;
  auto scrape = [&] {
    shard->SetHorizon(t - kRetentionMs + 1);
    for (int i = 0; i < series; ++i) {
      values[static_cast<std::size_t>(i)] = NextCounter(values[static_cast<std::size_t>(i)], rng);
      (void)shard->Append(refs[static_cast<std::size_t>(i)], t,
                          values[static_cast<std::size_t>(i)]);
    }
    t += kScrapeMs;
  };
  for (int round = 0; round < 25; ++round) scrape();  // a full window plus eviction
  shard->CollectGarbage();                            // refreshes the memory estimate
  const std::int64_t rss_after = ResidentBytes();
  const ShardStats stats = shard->stats();
  for (auto _ : state) scrape();
  state.SetItemsProcessed(state.iterations() * series);
  state.counters["heap_B_per_series"] = static_cast<double>(stats.memory_bytes) / series;
  state.counters["rss_B_per_series"] = static_cast<double>(rss_after - rss_before) / series;
}
BENCHMARK(BM_ShardIngest)
    ->Args({10'000, 0})
    ->Args({100'000, 0})
    ->Args({1'000'000, 0})
    ->Args({1'000'000, 1})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

// The storage side of one evaluation instant: `rules` selects, each of one
// metric over all `series` series, through one fan-out view (so each series
// is decoded once). Reports the time per (rule x series) pair.
void BM_SelectAtCut(benchmark::State& state) {
  const int series = static_cast<int>(state.range(0));
  const int rules = static_cast<int>(state.range(1));
  const SeriesOrder order = state.range(2) != 0 ? SeriesOrder::kByLabels : SeriesOrder::kArrival;
  Shard s0(0, ShardOptions{.retention_ms = kRetentionMs}, nullptr);
  Shard s1(1, ShardOptions{.retention_ms = kRetentionMs}, nullptr);
  std::vector<SeriesRef> refs;
  for (int i = 0; i < series; ++i) refs.push_back(*(i % 2 ? s1 : s0).Resolve(SeriesLabels(i)));
  std::mt19937 rng(4);
  const std::int64_t t0 = 1'700'000'000'000;
  for (int round = 0; round < 21; ++round) {
    for (int i = 0; i < series; ++i) {
      (void)(i % 2 ? s1 : s0)
          .Append(refs[static_cast<std::size_t>(i)], t0 + round * kScrapeMs,
                  static_cast<double>(rng() % 1000));
    }
  }
  const std::int64_t at = t0 + 20 * kScrapeMs;
  std::vector<std::vector<promql::LabelMatcher>> selectors;
  for (int r = 0; r < rules; ++r) {
    // Every rule reads every series (a regex over all metric names).
    selectors.push_back(
        {*promql::LabelMatcher::Create(promql::MatchType::kRegexMatch, "__name__", "metric_.*")});
  }
  Shard* shards[] = {&s0, &s1};
  std::vector<promql::SeriesView> out;
  std::size_t selected = 0;
  for (auto _ : state) {
    FanoutQueryable view(shards, at, order);
    for (const auto& matchers : selectors) {
      out.clear();
      auto querier = view.NewQuerier(at - kRetentionMs, at);
      (void)(*querier)->Select(matchers, at - kRetentionMs + 1, at, &out);
      selected += out.size();
      benchmark::DoNotOptimize(out.data());
    }
  }
  if (selected != static_cast<std::size_t>(state.iterations()) * series * rules) {
    state.SkipWithError("a select missed series");
  }
  state.SetItemsProcessed(state.iterations() * series * rules);
}
BENCHMARK(BM_SelectAtCut)
    ->Args({10'000, 1, 0})
    ->Args({10'000, 100, 0})
    ->Args({10'000, 100, 1})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace nimify::storage

BENCHMARK_MAIN();
