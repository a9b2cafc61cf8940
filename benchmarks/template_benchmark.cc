// Alert template compile and expansion: a typical annotation (as in the
// awesome-prometheus-alerts corpus) and a printf/humanize-heavy one.
#include <benchmark/benchmark.h>

#include "template/alert_template.h"

namespace nimify::tmpl {
namespace {

constexpr const char* kTypical =
    "Host {{ $labels.instance }} is out of memory ({{ $value | humanize }} left)\n"
    "  VALUE = {{ $value }}\n  LABELS = {{ $labels }}";

constexpr const char* kFormatting =
    "{{ with $labels.cluster -}} [{{ . }}] {{- end }} {{ printf \"%.2f\" $value }}% "
    "{{ humanizeDuration $value }} {{ humanize1024 $value }} {{ humanizePercentage $value }} "
    "{{ if gt $value 80.0 }}critical{{ else }}warning{{ end }} {{ title $labels.job }}";

TemplateData Data() {
  TemplateData d;
  d.labels = promql::Labels{{"__name__", "node_memory_MemAvailable_bytes"},
                            {"cluster", "eu-west-1"},
                            {"instance", "10.0.3.17:9100"},
                            {"job", "node-exporter"},
                            {"severity", "critical"}};
  d.value = 123456789.25;
  d.external_labels = promql::Labels{{"replica", "a"}};
  d.external_url = "http://prometheus.example.com:9090";
  return d;
}

void BM_ExpandTypicalAnnotation(benchmark::State& state) {
  auto t = AlertTemplate::Compile(kTypical, "__alert_HostOutOfMemory");
  if (!t.ok()) {
    state.SkipWithError("compile failed");
    return;
  }
  const TemplateData data = Data();
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string out = t->Expand(data);
    bytes += out.size();
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(BM_ExpandTypicalAnnotation);

void BM_ExpandFormattingAnnotation(benchmark::State& state) {
  auto t = AlertTemplate::Compile(kFormatting, "__alert_X");
  if (!t.ok()) {
    state.SkipWithError("compile failed");
    return;
  }
  const TemplateData data = Data();
  for (auto _ : state) {
    std::string out = t->Expand(data);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_ExpandFormattingAnnotation);

void BM_CompileTypicalAnnotation(benchmark::State& state) {
  for (auto _ : state) {
    auto t = AlertTemplate::Compile(kTypical, "__alert_HostOutOfMemory");
    benchmark::DoNotOptimize(t);
  }
}
BENCHMARK(BM_CompileTypicalAnnotation);

}  // namespace
}  // namespace nimify::tmpl

BENCHMARK_MAIN();
