// Pipeline benchmarks: SPSC ring handoff (single items vs batches), selector
// matching for new series, end-to-end ingest through the shard workers, and
// sample -> cut-callback latency.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/pipeline.h"
#include "pipeline/selector_index.h"
#include "pipeline/spsc_ring.h"
#include "promql/labels.h"

namespace nimify::pipeline {
namespace {

using promql::LabelMatcher;
using promql::Labels;
using promql::MatchType;

double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Item {
  std::uint64_t a = 0;
  std::int64_t t = 0;
  double v = 0;
};

// Producer (the benchmark thread) -> consumer thread through one ring, with
// `batch` items per publish. The consumer parks when empty.
void BM_RingHandoff(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  auto ring = std::move(SpscRing<Item>::Create(4096)).value();
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> received{0};
  std::thread consumer([&] {
    std::vector<Item> out(256);
    std::uint64_t n = 0;
    while (true) {
      const std::size_t got =
          ring->PopWait(out.data(), out.size(), Clock::now() + std::chrono::milliseconds(5));
      n += got;
      if (got == 0 && done.load()) break;
    }
    received = n;
  });
  std::vector<Item> items(batch);
  std::uint64_t sent = 0;
  const double cpu0 = ProcessCpuSeconds();
  for (auto _ : state) {
    if (batch == 1) {
      const Item item{sent, 0, 0};
      ring->PushWait({&item, 1}, kNoDeadline);
    } else {
      for (std::size_t i = 0; i < batch; ++i) items[i].a = sent + i;
      ring->PushWait(items, kNoDeadline);
    }
    sent += batch;
  }
  done = true;
  consumer.join();
  const double cpu = ProcessCpuSeconds() - cpu0;
  if (received.load() != sent) state.SkipWithError("items lost");
  state.SetItemsProcessed(static_cast<std::int64_t>(sent));
  state.counters["cpu_ns_per_item"] = cpu * 1e9 / static_cast<double>(sent);
}
BENCHMARK(BM_RingHandoff)->Arg(1)->Arg(64)->UseRealTime();

std::vector<RuleSelectors> HundredRules() {
  std::vector<RuleSelectors> rules;
  for (std::uint32_t r = 0; r < 100; ++r) {
    const std::string metric = "metric_" + std::to_string(r % 25);
    std::vector<LabelMatcher> selector = {
        *LabelMatcher::Create(MatchType::kEqual, "__name__", metric),
        *LabelMatcher::Create(MatchType::kRegexMatch, "job",
                              "api-" + std::to_string(r % 10) + ".*")};
    rules.push_back({r, {selector}});
  }
  // A few rules without a metric name are tried on every series.
  for (std::uint32_t r = 100; r < 105; ++r) {
    rules.push_back({r, {{*LabelMatcher::Create(MatchType::kEqual, "code", std::to_string(r))}}});
  }
  return rules;
}

Labels SeriesLabels(int i) {
  return Labels{{"__name__", "metric_" + std::to_string(i % 25)},
                {"code", i % 7 == 0 ? "500" : "200"},
                {"instance", "10.0." + std::to_string((i / 10) % 256) + ":9100"},
                {"job", "api-" + std::to_string(i % 20)},
                {"series", std::to_string(i)}};
}

// The once-per-new-series cost of finding the rules a series feeds.
void BM_SelectorMatch(benchmark::State& state) {
  const SelectorIndex index(HundredRules());
  std::vector<Labels> series;
  for (int i = 0; i < 1000; ++i) series.push_back(SeriesLabels(i));
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(index.Match(series[i]));
    if (++i == series.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SelectorMatch);

// One producer (the benchmark thread) sends scrape rounds of `series` samples
// through `shards` workers with 100+ rules registered; each round is flushed,
// so each round also makes a cut (every rule is dirty). Reports process CPU
// per sample (producer + workers) and samples per second of wall time.
void BM_PipelineIngest(benchmark::State& state) {
  const auto shards = static_cast<std::uint32_t>(state.range(0));
  const int series = static_cast<int>(state.range(1));
  auto pipeline =
      std::move(
          Pipeline::Create({.shards = shards, .ring_capacity = 16384, .retention_ms = 5 * 60'000}))
          .value();
  std::atomic<std::uint64_t> cuts{0};
  pipeline->OnCut([&](const Cut&) { cuts.fetch_add(1, std::memory_order_relaxed); });
  pipeline->SetSelectors(HundredRules());
  if (!pipeline->Start().ok()) state.SkipWithError("start failed");
  auto producer = std::move(pipeline->NewProducer()).value();
  std::vector<SeriesRef> refs;
  for (int i = 0; i < series; ++i) refs.push_back(*pipeline->Resolve(SeriesLabels(i)));
  std::int64_t t = 1'700'000'000'000;
  double value = 0;
  auto round = [&] {
    for (SeriesRef ref : refs) (void)producer->Append(ref, t, value);
    (void)producer->Flush();
    t += 15'000;
    value += 1;
  };
  for (int i = 0; i < 22; ++i) round();  // create series, fill the windows
  while (pipeline->last_cut() < t - 15'000) std::this_thread::yield();
  const double cpu0 = ProcessCpuSeconds();
  std::uint64_t samples = 0;
  for (auto _ : state) {
    round();
    samples += refs.size();
  }
  while (pipeline->last_cut() < t - 15'000) std::this_thread::yield();  // drained
  const double cpu = ProcessCpuSeconds() - cpu0;
  producer->Close();
  pipeline->Stop();
  const PipelineStats stats = pipeline->stats();
  if (stats.samples_refused != 0 || stats.shards.out_of_order != 0) {
    state.SkipWithError("samples were refused or out of order");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(samples));
  state.counters["cpu_ns_per_sample"] = cpu * 1e9 / static_cast<double>(samples);
  state.counters["cuts"] = static_cast<double>(cuts.load());
}
BENCHMARK(BM_PipelineIngest)
    ->Args({1, 100'000})
    ->Args({2, 100'000})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// Time from Append() of a sample to the start of the cut callback that sees it
// (eager cuts), with `shards` workers parked in between.
void BM_SampleToCallbackLatency(benchmark::State& state) {
  const auto shards = static_cast<std::uint32_t>(state.range(0));
  auto pipeline = std::move(Pipeline::Create({.shards = shards})).value();
  std::atomic<std::uint64_t> cuts{0};
  std::atomic<std::int64_t> callback_ns{0};
  pipeline->OnCut([&](const Cut&) {
    callback_ns.store(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
            .count());
    cuts.fetch_add(1);
    cuts.notify_all();
  });
  pipeline->SetSelectors({{1, {{*LabelMatcher::Create(MatchType::kEqual, "__name__", "temp")}}}});
  if (!pipeline->Start().ok()) state.SkipWithError("start failed");
  auto producer = std::move(pipeline->NewProducer()).value();
  const SeriesRef ref = *pipeline->Resolve(Labels{{"__name__", "temp"}});
  std::vector<double> latencies_us;
  std::int64_t t = 1;
  for (auto _ : state) {
    state.PauseTiming();
    std::this_thread::sleep_for(std::chrono::microseconds(200));  // let the workers park
    const std::uint64_t before = cuts.load();
    state.ResumeTiming();
    const auto start = Clock::now();
    (void)producer->Append(ref, t++, 100.0);
    (void)producer->Flush();
    cuts.wait(before);
    const auto ns =
        callback_ns.load() -
        std::chrono::duration_cast<std::chrono::nanoseconds>(start.time_since_epoch()).count();
    latencies_us.push_back(static_cast<double>(ns) / 1000.0);
  }
  producer->Close();
  pipeline->Stop();
  std::sort(latencies_us.begin(), latencies_us.end());
  auto pct = [&](double p) {
    return latencies_us[static_cast<std::size_t>(p * static_cast<double>(latencies_us.size() - 1))];
  };
  state.counters["p50_us"] = pct(0.50);
  state.counters["p99_us"] = pct(0.99);
  state.counters["max_us"] = latencies_us.back();
}
BENCHMARK(BM_SampleToCallbackLatency)->Arg(1)->Arg(2)->Iterations(2000)->UseRealTime();

}  // namespace
}  // namespace nimify::pipeline

BENCHMARK_MAIN();
