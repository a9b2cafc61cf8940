// Evaluator benchmarks over a MemoryStorage fixture: 10,000 counter series
// (10 minutes at a 15 s scrape interval) and 1,000 classic histograms of 10
// buckets each (10,000 bucket series). Instant queries unless the name says
// otherwise. Reports series/s and ns_per_series (CPU time per input series).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <memory>
#include <string>

#include "promql/evaluator.h"
#include "promql/parser.h"
#include "promqltest/memory_storage.h"

namespace nimify::promql {
namespace {

constexpr int kSeries = 10'000;
constexpr std::int64_t kScrapeMs = 15'000;
constexpr int kSamplesPerSeries = 40;  // 10 minutes
constexpr std::int64_t kEvalTs = kScrapeMs * (kSamplesPerSeries - 1);

// Builds the fixture once; benchmarks share it read-only.
const promqltest::MemoryStorage& Fixture() {
  static const promqltest::MemoryStorage* storage = [] {
    auto* s = new promqltest::MemoryStorage();
    char instance[32];
    for (int i = 0; i < kSeries; ++i) {
      std::snprintf(instance, sizeof(instance), "host-%05d:9100", i);
      const Labels labels{{"__name__", "http_requests_total"},
                          {"instance", instance},
                          {"job", "job-" + std::to_string(i % 20)},
                          {"method", i % 3 == 0 ? "GET" : "POST"},
                          {"region", "eu-west-1"}};
      for (int k = 0; k < kSamplesPerSeries; ++k) {
        (void)s->Append(labels, k * kScrapeMs, 1000.0 + i + k * (1 + i % 7));
      }
    }
    static const char* const kLe[] = {"0.005", "0.01", "0.025", "0.05", "0.1",
                                      "0.25",  "0.5",  "1",     "2.5",  "+Inf"};
    for (int h = 0; h < kSeries / 10; ++h) {
      std::snprintf(instance, sizeof(instance), "host-%05d:9100", h);
      for (int b = 0; b < 10; ++b) {
        const Labels labels{{"__name__", "request_duration_seconds_bucket"},
                            {"instance", instance},
                            {"job", "job-" + std::to_string(h % 20)},
                            {"le", kLe[b]}};
        for (int k = 0; k < kSamplesPerSeries; ++k) {
          (void)s->Append(labels, k * kScrapeMs, (b + 1) * 10.0 * k + h);
        }
      }
    }
    return s;
  }();
  return *storage;
}

void RunInstant(benchmark::State& state, const char* query, std::int64_t ts = kEvalTs,
                Compat compat = Compat::kPrometheus3) {
  auto& storage = const_cast<promqltest::MemoryStorage&>(Fixture());
  auto expr = ParseExpr(query);
  if (!expr.ok()) {
    state.SkipWithError(expr.status().ToString().c_str());
    return;
  }
  EvalOptions options;
  options.compat = compat;
  Evaluator evaluator(&storage, options);
  std::size_t out = 0;
  for (auto _ : state) {
    auto result = evaluator.Instant(**expr, ts);
    if (!result.ok()) {
      state.SkipWithError(result.status().ToString().c_str());
      return;
    }
    out = std::get<Vector>(result->value).size();
    benchmark::DoNotOptimize(out);
  }
  state.counters["result_series"] = static_cast<double>(out);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * kSeries);
  state.counters["ns_per_series"] = benchmark::Counter(
      kSeries * 1e-9, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void BM_Selector(benchmark::State& state) { RunInstant(state, "http_requests_total"); }
void BM_Threshold(benchmark::State& state) { RunInstant(state, "http_requests_total > 1e9"); }
void BM_Rate(benchmark::State& state) { RunInstant(state, "rate(http_requests_total[5m])"); }
void BM_SumByRate(benchmark::State& state) {
  RunInstant(state, "sum by (job) (rate(http_requests_total[5m]))");
}
void BM_RateAlert(benchmark::State& state) {
  RunInstant(state, "sum by (job, instance) (rate(http_requests_total[5m])) > 100");
}
void BM_Ratio(benchmark::State& state) {
  RunInstant(state,
             "rate(http_requests_total{method=\"GET\"}[5m]) / ignoring(method) "
             "rate(http_requests_total{method=\"GET\"}[5m] offset 1m)");
}
void BM_AvgWithout(benchmark::State& state) {
  RunInstant(state, "avg without (instance) (http_requests_total)");
}
void BM_HistogramQuantile(benchmark::State& state) {
  RunInstant(
      state,
      "histogram_quantile(0.9, sum by (job, le) (rate(request_duration_seconds_bucket[5m])))");
}
void BM_HistogramQuantilePerSeries(benchmark::State& state) {
  RunInstant(state, "histogram_quantile(0.99, rate(request_duration_seconds_bucket[5m]))");
}
void BM_TopK(benchmark::State& state) {
  RunInstant(state, "topk(10, rate(http_requests_total[5m]))");
}
// Aggregations without a rate in front, so the grouping and accumulating dominate.
void BM_CountBy(benchmark::State& state) {
  RunInstant(state, "count by (job, method) (http_requests_total)");
}
void BM_QuantileBy(benchmark::State& state) {
  RunInstant(state, "quantile by (job) (0.9, http_requests_total)");
}
void BM_BottomKBy(benchmark::State& state) {
  RunInstant(state, "bottomk by (job) (3, http_requests_total)");
}
// Prometheus 2.42 semantics aggregate step by step.
void BM_SumByV2(benchmark::State& state) {
  RunInstant(state, "sum by (job) (http_requests_total)", kEvalTs, Compat::kPrometheus2);
}
void BM_TopKV2(benchmark::State& state) {
  RunInstant(state, "topk(10, http_requests_total)", kEvalTs, Compat::kPrometheus2);
}

// 10-minute range queries at a 15 s step over 1,000 series.
void RunRange(benchmark::State& state, const char* query) {
  auto& storage = const_cast<promqltest::MemoryStorage&>(Fixture());
  auto expr = ParseExpr(query);
  if (!expr.ok()) {
    state.SkipWithError(expr.status().ToString().c_str());
    return;
  }
  Evaluator evaluator(&storage, EvalOptions{});
  for (auto _ : state) {
    auto result = evaluator.Range(**expr, 60'000, kEvalTs, kScrapeMs);
    if (!result.ok()) {
      state.SkipWithError(result.status().ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(result->value);
  }
}
void BM_RangeRate(benchmark::State& state) {
  RunRange(state, "sum by (job) (rate(http_requests_total{instance=~\"host-00.*\"}[1m]))");
}
void BM_RangeTopK(benchmark::State& state) {
  RunRange(state, "topk by (job) (2, http_requests_total{instance=~\"host-00.*\"})");
}

BENCHMARK(BM_Selector)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Threshold)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Rate)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SumByRate)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RateAlert)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Ratio)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_AvgWithout)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_HistogramQuantile)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_HistogramQuantilePerSeries)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TopK)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_CountBy)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_QuantileBy)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_BottomKBy)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SumByV2)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TopKV2)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RangeRate)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RangeTopK)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace nimify::promql

BENCHMARK_MAIN();
