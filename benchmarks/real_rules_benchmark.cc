// Group evaluation of 100 mixed rules (rates, ratios against an offset,
// sum by / avg by / max by, thresholds on raw gauges) over 100,000
// node-exporter-like series: the workload of issue 10, through the path the
// engine uses at a cut (RuleRuntime::Evaluate over a FanoutQueryable of the
// shards, with the OutputStore and the alert state).
//
// The argument is the share of instances (in per mille) whose series cross
// their rules' thresholds: 0 (none firing), 100 (10 %), 1000 (all). Each
// iteration is one group evaluation at the next 30 s instant, alert state
// carried over, as in a running engine. Counters: active alerts after the
// evaluation, heap allocations and bytes per evaluation, output series held.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "engine/output_store.h"
#include "engine/rule_runtime.h"
#include "nimify/rules.h"
#include "pipeline/pipeline.h"
#include "storage/fanout_queryable.h"
#include "storage/shard.h"

// Heap allocation counting for the whole binary (relaxed: statistics only).
namespace {
std::atomic<std::uint64_t> g_allocs{0};
std::atomic<std::uint64_t> g_alloc_bytes{0};
}  // namespace

// Out of line: inlined into callers, GCC pairs the malloc and free below
// with new and delete expressions and reports a mismatch.
[[gnu::noinline]] void* operator new(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  g_alloc_bytes.fetch_add(n, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace nimify {
namespace {

constexpr std::int64_t kScrape = 30'000;
constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kFirstEval = 70 * kMinute;
constexpr int kMaxEvaluations = 24;
constexpr std::int64_t kDataEnd = kFirstEval + kMaxEvaluations * kScrape;
// Hot instances change behaviour from here on: rate[5m] at the evaluations
// sees it, the same window an hour earlier does not.
constexpr std::int64_t kHotFrom = 55 * kMinute;
constexpr int kInstances = 1000;

// One family of 10 series per instance.
enum class Kind : std::uint8_t { kCounter, kGauge };
struct SeriesSpec {
  std::vector<std::pair<std::string, std::string>> labels;  // without the common ones
  Kind kind;
  double normal;  // counter: rate per second; gauge: level
  double hot;
};

std::vector<SeriesSpec> InstanceSeries() {
  std::vector<SeriesSpec> s;
  const char* modes[] = {"idle", "user"};
  for (int cpu = 0; cpu < 5; ++cpu) {
    for (int m = 0; m < 2; ++m) {
      s.push_back({{{"__name__", "node_cpu_seconds_total"},
                    {"cpu", std::to_string(cpu)},
                    {"mode", modes[m]}},
                   Kind::kCounter,
                   m == 0 ? 0.9 : 0.08,
                   m == 0 ? 0.02 : 0.95});
    }
  }
  for (const char* name : {"node_network_receive_bytes_total", "node_network_transmit_bytes_total",
                           "node_disk_read_bytes_total", "node_disk_written_bytes_total"}) {
    const bool disk = std::string(name).find("disk") != std::string::npos;
    for (int d = 0; d < 10; ++d) {
      std::string device = disk ? std::string("nvme") + std::to_string(d) + "n1"
                                : std::string("enp") + std::to_string(d) + "s0f1";
      s.push_back({{{"__name__", name}, {"device", device}}, Kind::kCounter, 1.5e6, 4e7});
    }
  }
  const char* mounts[] = {"/", "/var", "/home", "/tmp", "/var/lib/docker", "/var/log",
                          "/boot", "/opt", "/srv", "/data"};
  for (int d = 0; d < 10; ++d) {
    std::vector<std::pair<std::string, std::string>> common = {
        {"device", "/dev/nvme0n1p" + std::to_string(d + 1)},
        {"fstype", "ext4"},
        {"mountpoint", mounts[d]}};
    auto avail = common;
    avail.insert(avail.begin(), {"__name__", "node_filesystem_avail_bytes"});
    auto size = common;
    size.insert(size.begin(), {"__name__", "node_filesystem_size_bytes"});
    s.push_back({avail, Kind::kGauge, 5e10, 4e9});
    s.push_back({size, Kind::kGauge, 1e11, 1e11});
  }
  for (int d = 0; d < 10; ++d) {
    s.push_back({{{"__name__", "node_hwmon_temp_celsius"},
                  {"chip", "platform_coretemp_0"},
                  {"sensor", "temp" + std::to_string(d + 1)}},
                 Kind::kGauge,
                 52,
                 93});
  }
  for (int h = 0; h < 5; ++h) {
    for (const char* code : {"200", "500"}) {
      const bool error = std::string(code) == "500";
      s.push_back({{{"__name__", "http_requests_total"},
                    {"code", code},
                    {"handler", "/api/v1/resource" + std::to_string(h)},
                    {"method", "GET"}},
                   Kind::kCounter,
                   error ? 0.02 : 40.0,
                   error ? 30.0 : 40.0});
    }
  }
  s.push_back({{{"__name__", "node_memory_MemAvailable_bytes"}}, Kind::kGauge, 3.2e10, 2e9});
  s.push_back({{{"__name__", "node_memory_MemTotal_bytes"}}, Kind::kGauge, 6.4e10, 6.4e10});
  s.push_back({{{"__name__", "node_load1"}}, Kind::kGauge, 1.5, 60});
  s.push_back({{{"__name__", "node_load5"}}, Kind::kGauge, 1.4, 55});
  s.push_back({{{"__name__", "node_load15"}}, Kind::kGauge, 1.3, 50});
  s.push_back({{{"__name__", "up"}}, Kind::kGauge, 1, 0});
  s.push_back({{{"__name__", "node_procs_running"}}, Kind::kGauge, 4, 400});
  s.push_back({{{"__name__", "node_context_switches_total"}}, Kind::kCounter, 2e4, 2e6});
  s.push_back({{{"__name__", "node_forks_total"}}, Kind::kCounter, 10, 2000});
  s.push_back({{{"__name__", "node_intr_total"}}, Kind::kCounter, 1e4, 1e4});
  return s;
}

// 100 rules, 10 of each shape; variants differ in their thresholds (and in
// which mountpoint or sensor they read) so that no two are the same.
std::shared_ptr<const RuleSet> MixedRules() {
  std::string y = "groups:\n  - name: node\n    interval: 30s\n    rules:\n";
  auto add = [&y](const std::string& name, const std::string& expr, const char* for_) {
    y += "      - alert: " + name + "\n        expr: '" + expr + "'\n        for: " + for_ +
         "\n        labels:\n          severity: warning\n";
  };
  const char* mounts[] = {"/", "/var", "/home", "/tmp", "/var/lib/docker", "/var/log",
                          "/boot", "/opt", "/srv", "/data"};
  for (int k = 0; k < 10; ++k) {
    const std::string ks = std::to_string(k);
    const std::string eps = "0.00" + ks;
    add("CpuSaturated" + ks,
        "avg by (instance) (rate(node_cpu_seconds_total{mode=\"idle\"}[5m])) < 0.1" + ks, "0s");
    add("NetworkReceiveHigh" + ks,
        "sum by (instance) (rate(node_network_receive_bytes_total[5m])) > 1" + ks + "e8", "2m");
    add("NetworkTransmitJump" + ks,
        "sum by (instance) (rate(node_network_transmit_bytes_total[5m])) / sum by (instance) "
        "(rate(node_network_transmit_bytes_total[5m] offset 1h)) > 3." + ks,
        "0s");
    add("DiskReadHigh" + ks,
        "max by (instance) (rate(node_disk_read_bytes_total[5m])) > 1" + ks + "e7", "0s");
    add("FilesystemAlmostFull" + ks,
        std::string("node_filesystem_avail_bytes{mountpoint=\"") + mounts[k] +
            "\"} / node_filesystem_size_bytes{mountpoint=\"" + mounts[k] + "\"} * 100 < 1" + ks,
        "1m");
    add("HostOverheating" + ks, "max by (instance) (node_hwmon_temp_celsius) > 8" + ks, "0s");
    add("HttpErrorRatio" + ks,
        "sum by (instance) (rate(http_requests_total{code=~\"5..\"}[5m])) / sum by (instance) "
        "(rate(http_requests_total[5m])) > 0.1" + ks,
        "0s");
    add("MemoryLow" + ks,
        "node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes < 0.1" + ks, "0s");
    add("LoadHigh" + ks,
        "node_load5 > on (instance) 2." + ks +
            " * count by (instance) (node_cpu_seconds_total{mode=\"idle\"})",
        "0s");
    add("InstanceDown" + ks, "up < " + eps + " + 0.5", "0s");
  }
  return std::move(RuleSet::Parse(y)).value();
}

// Shards holding 100,000 series from kFirstEval - 70 min to kDataEnd, every 30 s.
struct Data {
  storage::SeriesLimit limit{0};
  std::vector<std::unique_ptr<storage::Shard>> shards;
  std::vector<storage::Shard*> raw;
};

std::unique_ptr<Data> BuildData(int hot_per_mille) {
  auto data = std::make_unique<Data>();
  storage::ShardOptions so;
  so.retention_ms = 2 * 60 * kMinute;
  for (std::uint32_t s = 0; s < 2; ++s) {
    data->shards.push_back(std::make_unique<storage::Shard>(s, so, &data->limit));
    data->raw.push_back(data->shards.back().get());
  }
  const std::vector<SeriesSpec> specs = InstanceSeries();
  std::mt19937_64 rng(42);
  std::normal_distribution<double> noise(0, 1);
  std::size_t n = 0;
  for (int i = 0; i < kInstances; ++i) {
    const bool hot = (i * 7919) % 1000 < hot_per_mille;
    const std::string instance = "ip-10-" + std::to_string(20 + i / 250) + "-" +
                                 std::to_string(i % 250) + "-" + std::to_string(i % 7) +
                                 ".eu-west-1.compute.internal:9100";
    for (const SeriesSpec& spec : specs) {
      std::vector<promql::Label> labels = {{"instance", instance},
                                           {"job", "node-exporter"},
                                           {"env", "production"},
                                           {"cluster", "eu-west-1-prod-3"}};
      for (const auto& [k, v] : spec.labels) labels.push_back({k, v});
      storage::Shard& shard = *data->raw[n++ % 2];
      const auto ref = *shard.Resolve(promql::Labels::FromUnsorted(std::move(labels)));
      double value = spec.kind == Kind::kCounter ? 1e6 * (1 + (n % 97)) : spec.normal;
      for (std::int64_t t = 0; t <= kDataEnd; t += kScrape) {
        const double level = hot && t >= kHotFrom ? spec.hot : spec.normal;
        if (spec.kind == Kind::kCounter) {
          value += level * 30 * (1 + 0.05 * noise(rng));
          if (value < 0) value = 0;
        } else {
          // A random walk around the level.
          value = level * (1 + 0.01 * noise(rng));
        }
        shard.Append(ref, t, value);
      }
    }
  }
  return data;
}

void BM_MixedRulesGroupEval(benchmark::State& state) {
  const int hot = static_cast<int>(state.range(0));
  const auto data = BuildData(hot);
  const auto rules = MixedRules();
  engine::RuntimeOptions ro;
  ro.eager_alerts = false;
  ro.skip_quiet_rules = false;  // inputs change at every instant in a running engine
  auto runtime = std::move(engine::RuleRuntime::Build(*rules, ro, nullptr)).value();
  engine::OutputStore outputs(70 * kMinute);
  std::int64_t t = kFirstEval;
  // One evaluation first, so iterations see alerts carried over.
  {
    engine::EvalOutput out;
    storage::FanoutQueryable view(data->raw, t);
    runtime->Evaluate(t, pipeline::DirtySet(), view, &outputs, &out);
  }
  std::uint64_t allocs = 0;
  std::uint64_t bytes = 0;
  std::uint64_t evaluations = 0;
  std::uint64_t failures = 0;
  for (auto _ : state) {
    t += kScrape;
    engine::EvalOutput out;
    const std::uint64_t a0 = g_allocs.load(std::memory_order_relaxed);
    const std::uint64_t b0 = g_alloc_bytes.load(std::memory_order_relaxed);
    {
      storage::FanoutQueryable view(data->raw, t);
      runtime->Evaluate(t, pipeline::DirtySet(), view, &outputs, &out);
      outputs.Trim(t);
    }
    allocs += g_allocs.load(std::memory_order_relaxed) - a0;
    bytes += g_alloc_bytes.load(std::memory_order_relaxed) - b0;
    evaluations += out.rule_evaluations;
    failures += out.rule_failures;
  }
  const auto iters = static_cast<double>(state.iterations());
  state.counters["active_alerts"] =
      static_cast<double>(runtime->ActiveAlerts(t).size());
  state.counters["allocs_per_eval"] = static_cast<double>(allocs) / iters;
  state.counters["alloc_MB_per_eval"] = static_cast<double>(bytes) / iters / 1e6;
  state.counters["rules_per_eval"] = static_cast<double>(evaluations) / iters;
  state.counters["rule_failures"] = static_cast<double>(failures);
  state.counters["output_series"] = static_cast<double>(outputs.series_count());
}
BENCHMARK(BM_MixedRulesGroupEval)
    ->ArgName("hot_per_mille")
    ->Arg(0)
    ->Arg(100)
    ->Arg(1000)
    ->Iterations(10)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace nimify

BENCHMARK_MAIN();
