// Engine benchmarks. `nimify bench` runs the whole workload with latency and
// memory; these isolate the engine's own steps.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/output_store.h"
#include "engine/rule_runtime.h"
#include "engine/sample_tracker.h"
#include "nimify/engine.h"
#include "nimify/rules.h"
#include "pipeline/pipeline.h"
#include "promql/parser.h"
#include "storage/fanout_queryable.h"
#include "storage/shard.h"

namespace nimify {
namespace {

constexpr std::int64_t kStep = 15'000;

// `rules` threshold rules over `metrics` metrics, for: 0, interval 15s.
std::shared_ptr<const RuleSet> ThresholdRules(int rules, int metrics) {
  std::string y = "groups:\n  - name: bench\n    interval: 15s\n    rules:\n";
  for (int k = 0; k < rules; ++k) {
    y += "      - alert: High" + std::to_string(k) + "\n        expr: m" +
         std::to_string(k % metrics) + " > " + std::to_string(500 + k) + "\n";
  }
  return std::move(RuleSet::Parse(y)).value();
}

std::string Metric(std::size_t i, int metrics) { return "m" + std::to_string(i % metrics); }

// One producer, one step of `series` samples per iteration (AppendBatch, then
// the watermark moves and the engine evaluates 100 rules at that instant).
void BM_EngineStep(benchmark::State& state) {
  const auto series = static_cast<std::size_t>(state.range(0));
  EngineOptions options;
  options.shards = 2;
  options.incremental_thresholds = state.range(1) != 0;
  auto engine = std::move(Engine::Create(options, ThresholdRules(100, 10))).value();
  auto producer = std::move(engine->NewProducer()).value();
  std::vector<SeriesRef> refs;
  for (std::size_t i = 0; i < series; ++i) {
    const std::string name = Metric(i, 10), id = std::to_string(i);
    const Label labels[] = {{"__name__", name}, {"id", id}};
    refs.push_back(*producer->Resolve(labels));
  }
  std::vector<Sample> batch(series);
  std::int64_t step = 0;
  for (auto _ : state) {
    const std::int64_t t = step * kStep;
    for (std::size_t i = 0; i < series; ++i) {
      // One series in 10,000 crosses the thresholds each step.
      const double v = (i + static_cast<std::size_t>(step)) % 10'000 == 0 ? 1000 : static_cast<double>(i % 100);
      batch[i] = {refs[i], t, v};
    }
    benchmark::DoNotOptimize(producer->AppendBatch(batch));
    benchmark::DoNotOptimize(producer->AdvanceWatermark(t));
    ++step;
  }
  producer->Close();
  benchmark::DoNotOptimize(engine->Stop());
  state.SetItemsProcessed(static_cast<std::int64_t>(series) * state.iterations());
  state.counters["rule_evaluations"] = static_cast<double>(engine->stats().rule_evaluations);
}
BENCHMARK(BM_EngineStep)->Args({10'000, 1})->Args({10'000, 0})->Unit(benchmark::kMillisecond)->UseRealTime();

// Resolve of a series the engine already knows (the per-request cost of a
// remote-write receiver that does not cache refs).
void BM_ResolveKnown(benchmark::State& state) {
  auto engine = std::move(Engine::Create({}, nullptr)).value();
  std::vector<std::string> ids;
  for (int i = 0; i < 10'000; ++i) ids.push_back(std::to_string(i));
  for (const auto& id : ids) {
    const Label labels[] = {{"__name__", "m"}, {"instance", "host-1:9100"}, {"id", id}};
    benchmark::DoNotOptimize(engine->Resolve(labels));
  }
  std::size_t i = 0;
  for (auto _ : state) {
    const Label labels[] = {{"instance", "host-1:9100"}, {"__name__", "m"}, {"id", ids[i]}};
    benchmark::DoNotOptimize(engine->Resolve(labels));
    i = (i + 1) % ids.size();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ResolveKnown);

// Hears crossings and drops them.
class NullCrossingListener final : public engine::CrossingListener {
 public:
  void OnCrossing(std::uint32_t, std::size_t, const promql::Labels&, std::int64_t, double,
                  std::uint32_t) override {}
};

// The tracker's per-sample step for a series feeding 10 threshold rules, on
// samples that do not cross (the common case) and on ones that do; over
// `series` series, with or without a crossing listener (fire_on_crossing,
// which reads and writes the slot's seen word on every sample).
void BM_TrackerOnSample(benchmark::State& state) {
  const bool crossing = state.range(0) != 0;
  const auto series = static_cast<int>(state.range(1));
  const bool listening = state.range(2) != 0;
  storage::Shard shard(0, storage::ShardOptions{}, nullptr);
  std::vector<storage::SeriesRef> refs;
  for (int i = 0; i < series; ++i) {
    refs.push_back(*shard.Resolve(promql::Labels{{"__name__", "m"}, {"id", std::to_string(i)}}));
  }
  std::vector<engine::ThresholdPredicate> preds;
  for (int k = 0; k < 10; ++k) preds.push_back({promql::BinaryOp::kGtr, 500.0 + k, false});
  engine::SampleTracker tracker(1, promql::EvalOptions{}, {preds});
  NullCrossingListener listener;
  if (listening) tracker.SetCrossingListener(&listener);
  const std::uint32_t inputs[] = {0};
  std::int64_t t = 0;
  std::size_t i = 0;
  for (auto _ : state) {
    tracker.OnSample(shard, refs[i], inputs, t, crossing ? 1000 : 1);
    if (++i == refs.size()) {
      i = 0;
      t += kStep;
      state.PauseTiming();
      tracker.Prune(t);
      tracker.CutDone(t - kStep);  // the previous step is evaluated, as in a run
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TrackerOnSample)
    ->ArgNames({"crossing", "series", "listener"})
    ->Args({0, 1000, 0})
    ->Args({1, 1000, 0})
    ->Args({0, 1000, 1})
    ->Args({0, 1'000'000, 0})
    ->Args({0, 1'000'000, 1});

// Every rule once over `series` series with a 5-minute window: 100 threshold
// rules through the PromQL evaluator (what `full_eval_ms` measures).
void BM_FullEvaluation(benchmark::State& state) {
  const auto series = static_cast<std::size_t>(state.range(0));
  storage::SeriesLimit limit(0);
  std::vector<std::unique_ptr<storage::Shard>> shards;
  std::vector<storage::Shard*> raw;
  for (std::uint32_t s = 0; s < 2; ++s) {
    shards.push_back(std::make_unique<storage::Shard>(s, storage::ShardOptions{}, &limit));
    raw.push_back(shards.back().get());
  }
  for (std::size_t i = 0; i < series; ++i) {
    storage::Shard& shard = *raw[i % 2];
    const auto ref =
        *shard.Resolve(promql::Labels{{"__name__", Metric(i, 10)}, {"id", std::to_string(i)}});
    for (std::int64_t t = 0; t <= 5 * 60'000; t += kStep) shard.Append(ref, t, static_cast<double>(i % 100));
  }
  const auto rules = ThresholdRules(100, 10);
  engine::RuntimeOptions ro;
  ro.eager_alerts = false;
  for (auto _ : state) {
    state.PauseTiming();
    auto runtime = std::move(engine::RuleRuntime::Build(*rules, ro, nullptr)).value();
    engine::OutputStore outputs(5 * 60'000);
    engine::EvalOutput out;
    storage::FanoutQueryable view(raw, 5 * 60'000);
    state.ResumeTiming();
    runtime->Evaluate(5 * 60'000, pipeline::DirtySet(), view, &outputs, &out);
    benchmark::DoNotOptimize(out.rule_evaluations);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(series) * 10 * state.iterations());
}
BENCHMARK(BM_FullEvaluation)->Arg(10'000)->Arg(100'000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace nimify

BENCHMARK_MAIN();
