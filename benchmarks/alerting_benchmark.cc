// Alerting: loading and validating real rule files, the AlertingRule
// lifecycle step over many alerts, and rule-group evaluations over storage.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "alerting/group.h"
#include "alerting/rule.h"
#include "alerting/rule_file.h"
#include "promql/evaluator.h"
#include "promqltest/memory_storage.h"

namespace nimify::alerting {
namespace {

constexpr std::int64_t kMin = 60'000;

std::vector<std::string> CorpusFiles() {
  std::vector<std::string> files;
  const std::filesystem::path dir =
      std::filesystem::path(NIMIFY_SHARED_DIR) / "corpus/awesome-prometheus-alerts/dist/rules";
  std::error_code ec;
  for (std::filesystem::recursive_directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->path().extension() == ".yml") files.push_back(it->path().string());
  }
  return files;
}

// Parse + validate (expressions and templates) of 112 files / 954 rules.
void BM_LoadCorpus(benchmark::State& state) {
  const auto files = CorpusFiles();
  if (files.empty()) {
    state.SkipWithError("corpus not found");
    return;
  }
  std::size_t rules = 0;
  for (auto _ : state) {
    auto loaded = LoadRuleFiles(files);
    if (!loaded.ok()) {
      state.SkipWithError("corpus failed to load");
      return;
    }
    for (const auto& f : *loaded) rules += f.RuleCount();
  }
  state.counters["rules/s"] =
      benchmark::Counter(static_cast<double>(rules), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_LoadCorpus)->Unit(benchmark::kMillisecond);

std::shared_ptr<RuleSpec> HostSpec() {
  auto loaded = ParseRuleFile(R"(groups:
- name: g
  rules:
  - alert: HostHighCpuLoad
    expr: cpu > 0.8
    for: 5m
    labels: {severity: warning}
    annotations:
      summary: 'Host high CPU load (instance {{ $labels.instance }})'
      description: "CPU load is > 80%\n  VALUE = {{ $value }}\n  LABELS = {{ $labels }}"
)",
                              "bench.yml");
  if (!loaded.ok()) return nullptr;
  return std::make_shared<RuleSpec>(loaded->groups[0].rules[0]);
}

promql::Vector HostResult(int n) {
  promql::Vector v;
  for (int i = 0; i < n; ++i) {
    v.push_back(promql::Sample{promql::Labels{{"__name__", "cpu"},
                                              {"instance", "host-" + std::to_string(i) + ":9100"},
                                              {"job", "node"}},
                               0, 0.9, false});
  }
  return v;
}

// One evaluation step of an alerting rule whose n alerts are all already
// active: templates, identity, state machine and ALERTS samples.
void BM_AlertingRuleStep(benchmark::State& state) {
  auto spec = HostSpec();
  if (!spec) {
    state.SkipWithError("rule did not parse");
    return;
  }
  AlertingRule rule(spec);
  const promql::Vector result = HostResult(static_cast<int>(state.range(0)));
  const EvalContext ctx;
  std::int64_t ts = 0;
  for (auto _ : state) {
    auto out = rule.ApplyResult(ctx, result, ts, 0, 0);
    benchmark::DoNotOptimize(out);
    ts += kMin;
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_AlertingRuleStep)->Arg(100)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);

class DiscardAppender final : public SampleAppender {
 public:
  Status Append(const promql::Labels&, std::int64_t, double) override { return Status::Ok(); }
};

// A recording rule and two alerting rules over n series of MemoryStorage.
void BM_GroupEval(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  promqltest::MemoryStorage storage;
  for (int i = 0; i < n; ++i) {
    const promql::Labels labels{{"__name__", "http_requests_total"},
                                {"instance", "i" + std::to_string(i % 100)},
                                {"job", "api"},
                                {"status", i % 10 == 0 ? "500" : "200"},
                                {"path", "/p" + std::to_string(i)}};
    for (int t = 0; t <= 10; ++t) {
      if (!storage.Append(labels, t * kMin, t * (i % 7 + 1.0)).ok()) {
        state.SkipWithError("append failed");
        return;
      }
    }
  }
  auto file = ParseRuleFile(R"(groups:
- name: g
  rules:
  - record: instance:http_requests:rate5m
    expr: sum by (job, instance) (rate(http_requests_total[5m]))
  - alert: HighErrorRate
    expr: sum by (job, instance) (rate(http_requests_total{status=~"5.."}[5m])) / instance:http_requests:rate5m > 0.05
    for: 2m
    labels: {severity: SEV-1}
    annotations: {summary: '{{ $labels.instance }}: {{ $value | humanizePercentage }}'}
  - alert: AnyRequests
    expr: rate(http_requests_total[5m]) > 0
    labels: {severity: SEV-3}
)",
                            "bench.yml");
  if (!file.ok()) {
    state.SkipWithError("rules did not parse");
    return;
  }
  auto group = RuleGroup::Create(file->groups[0], GroupOptions{});
  if (!group.ok()) {
    state.SkipWithError("group failed");
    return;
  }
  promql::Evaluator evaluator(&storage, promql::EvalOptions{});
  const QueryFunc query = MakeEvaluatorQueryFunc(&evaluator);
  DiscardAppender appender;
  for (auto _ : state) {
    auto stats = (*group)->Eval(10 * kMin, query, &appender, nullptr);
    benchmark::DoNotOptimize(stats);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_GroupEval)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace nimify::alerting

BENCHMARK_MAIN();
