// Event-driven evaluation: what a group instant costs when most rules' inputs
// are idle, with and without skipping the rules whose result cannot change
// (EngineOptions::skip_quiet_rules).
//
// 100 ratio alerts `quiet_errors{rule="k"} / quiet_total{rule="k"} > 0.5`,
// each over 500 + 500 series that get a sample every 4 minutes (inside the 5m
// lookback, so the series stay visible); a heartbeat series moves time every
// 15 s. One iteration is one 15 s step: append, move the watermark, and wait
// until the engine has evaluated that instant.
#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "nimify/engine.h"
#include "nimify/rules.h"

namespace nimify {
namespace {

constexpr std::int64_t kStep = 15'000;
constexpr int kRules = 100;
constexpr int kSeriesPerSide = 500;
constexpr std::int64_t kRefreshSteps = 16;  // 4 minutes

std::shared_ptr<const RuleSet> RatioRules() {
  std::string y = "groups:\n  - name: ratios\n    interval: 15s\n    rules:\n";
  for (int k = 0; k < kRules; ++k) {
    const std::string rule = std::to_string(k);
    y += "      - alert: Ratio" + rule + "\n        expr: quiet_errors{rule=\"" + rule +
         "\"} / quiet_total{rule=\"" + rule + "\"} > 0.5\n        for: 1m\n";
  }
  return std::move(RuleSet::Parse(y)).value();
}

void WaitForInstant(const Engine& engine, std::int64_t t) {
  while (engine.last_evaluation_ms() < t) std::this_thread::sleep_for(std::chrono::microseconds(20));
}

void BM_QuietRuleInstant(benchmark::State& state) {
  EngineOptions options;
  options.shards = 2;
  options.skip_quiet_rules = state.range(0) != 0;
  auto engine = std::move(Engine::Create(options, RatioRules())).value();
  auto producer = std::move(engine->NewProducer()).value();
  std::vector<Sample> quiet;
  for (int k = 0; k < kRules; ++k) {
    const std::string rule = std::to_string(k);
    for (int s = 0; s < kSeriesPerSide; ++s) {
      const std::string id = std::to_string(s);
      const Label errors[] = {{"__name__", "quiet_errors"}, {"rule", rule}, {"id", id}};
      const Label total[] = {{"__name__", "quiet_total"}, {"rule", rule}, {"id", id}};
      quiet.push_back({*producer->Resolve(errors), 0, 1});
      quiet.push_back({*producer->Resolve(total), 0, 100});
    }
  }
  const Label heartbeat_labels[] = {{"__name__", "heartbeat"}};
  const SeriesRef heartbeat = *producer->Resolve(heartbeat_labels);
  std::int64_t step = 0;
  const EngineStats before = engine->stats();
  for (auto _ : state) {
    const std::int64_t t = step * kStep;
    if (step % kRefreshSteps == 0) {
      for (auto& s : quiet) s.timestamp_ms = t;
      benchmark::DoNotOptimize(producer->AppendBatch(quiet));
    }
    benchmark::DoNotOptimize(producer->Append(heartbeat, t, 1));
    benchmark::DoNotOptimize(producer->AdvanceWatermark(t));
    WaitForInstant(*engine, t);
    ++step;
  }
  const EngineStats after = engine->stats();
  producer->Close();
  benchmark::DoNotOptimize(engine->Stop());
  const auto steps = static_cast<double>(state.iterations());
  state.counters["evaluations_per_step"] =
      static_cast<double>(after.rule_evaluations - before.rule_evaluations) / steps;
  state.counters["skipped_per_step"] =
      static_cast<double>(after.rule_evaluations_skipped - before.rule_evaluations_skipped) / steps;
}
BENCHMARK(BM_QuietRuleInstant)
    ->ArgName("skip")
    ->Arg(1)
    ->Arg(0)
    ->Iterations(320)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace nimify

BENCHMARK_MAIN();
