// `nimify bench` workloads: the node workload's series (labels, counters,
// histograms, the firing fraction), and the CLI (as a process) with
// --workload node, --firing-fraction, --arrival, --no-skip-quiet-rules and a
// recording given as --input, whose series full_eval_ms must evaluate.
// Nothing asserts on speed.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "cli/bench_workload.h"

namespace nimify::cli {
namespace {

std::string Get(const OwnedLabels& labels, const std::string& name) {
  for (const auto& l : labels) {
    if (l.name == name) return l.value;
  }
  return "";
}

TEST(NodeWorkloadTest, SeriesLookLikeExporters) {
  const std::uint64_t per_host = NodeWorkloadSeriesPerHost();
  auto w = MakeNodeWorkload({.series = per_host * 3, .firing_fraction = 0, .step_ms = 15'000});
  std::set<std::string> names;
  std::set<std::string> distinct;  // label sets, flattened
  for (std::uint64_t i = 0; i < w->series(); ++i) {
    const OwnedLabels l = w->Labels(i);
    EXPECT_GE(l.size(), 4u) << i;
    EXPECT_LE(l.size(), 8u) << i;
    for (std::size_t k = 1; k < l.size(); ++k) EXPECT_LT(l[k - 1].name, l[k].name);
    names.insert(Get(l, "__name__"));
    std::string flat;
    for (const auto& x : l) flat += x.name + '=' + x.value + ',';
    distinct.insert(flat);
  }
  EXPECT_EQ(distinct.size(), w->series());  // no two series share a label set
  for (const char* n : {"node_cpu_seconds_total", "node_filesystem_avail_bytes",
                        "node_network_receive_bytes_total", "kube_pod_container_status_restarts_total",
                        "kube_deployment_status_replicas_available", "http_requests_total",
                        "http_request_duration_seconds_bucket", "nvidia_gpu_count"}) {
    EXPECT_TRUE(names.count(n)) << n;
  }
  // node_cpu_seconds_total carries cpu and mode, with 6 labels in all.
  const OwnedLabels cpu = w->Labels(0);
  EXPECT_EQ(Get(cpu, "__name__"), "node_cpu_seconds_total");
  EXPECT_EQ(cpu.size(), 6u);
  EXPECT_NE(Get(cpu, "instance").find(".compute.internal:9100"), std::string::npos);
}

TEST(NodeWorkloadTest, CountersIncreaseBetweenResetsAndBucketsStayCumulative) {
  const std::uint64_t per_host = NodeWorkloadSeriesPerHost();
  auto w = MakeNodeWorkload({.series = per_host, .firing_fraction = 0, .step_ms = 15'000});
  int resets = 0, increases = 0;
  std::map<std::string, std::map<double, std::uint64_t>> buckets;  // handler -> le -> series
  for (std::uint64_t i = 0; i < per_host; ++i) {
    const OwnedLabels l = w->Labels(i);
    const std::string name = Get(l, "__name__");
    if (name == "http_request_duration_seconds_bucket") {
      const std::string le = Get(l, "le");
      buckets[Get(l, "handler")][le == "+Inf" ? 1e300 : std::stod(le)] = i;
    }
    if (name.size() < 6 || name.compare(name.size() - 6, 6, "_total") != 0) continue;
    for (std::uint64_t step = 0; step < 600; ++step) {
      const double a = w->Value(i, step), b = w->Value(i, step + 1);
      if (b < a) {
        ++resets;
      } else if (b > a) {
        ++increases;
      }
    }
  }
  EXPECT_GT(increases, 1000);
  EXPECT_GT(resets, 0);                 // occasional resets ...
  EXPECT_LT(resets * 100, increases);  // ... rare
  ASSERT_EQ(buckets.size(), 2u);
  for (const auto& [handler, by_le] : buckets) {
    ASSERT_EQ(by_le.size(), 8u) << handler;
    for (std::uint64_t step : {3u, 100u, 479u}) {
      double previous = 0;
      for (const auto& [le, series] : by_le) {
        const double v = w->Value(series, step);
        EXPECT_GE(v, previous) << handler << " le " << le;
        previous = v;
      }
    }
  }
}

TEST(NodeWorkloadTest, FiringFractionPicksHosts) {
  const std::uint64_t per_host = NodeWorkloadSeriesPerHost();
  constexpr std::uint64_t kHosts = 2000;
  for (double f : {0.0, 0.1, 0.9}) {
    auto w = MakeNodeWorkload({.series = per_host * kHosts, .firing_fraction = f, .step_ms = 15'000});
    // node_exporter's `up` (the first `up` of a host) is 0 on a hot host.
    std::uint64_t up_index = 0;
    for (std::uint64_t i = 0; i < per_host; ++i) {
      if (Get(w->Labels(i), "__name__") == "up") {
        up_index = i;
        break;
      }
    }
    std::uint64_t down = 0;
    for (std::uint64_t h = 0; h < kHosts; ++h) down += w->Value(h * per_host + up_index, 5) == 0;
    EXPECT_NEAR(static_cast<double>(down) / kHosts, f, 0.03) << f;
  }
}

// ---- the CLI ------------------------------------------------------------------------

std::string RunCli(const std::string& args, int* rc) {
  const std::string cmd = std::string(NIMIFY_BIN) + " bench " + args + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  if (p == nullptr) return out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
  const int status = pclose(p);
  *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

const std::string kNodeRules = std::string(" --rules ") + NIMIFY_SOURCE_DIR +
                               "/rules/bench/node.rules.yml --rules " + NIMIFY_SOURCE_DIR +
                               "/rules/runbook.rules.yml";

rapidjson::Document Parse(const std::string& out) {
  rapidjson::Document d;
  d.Parse(out.c_str());
  EXPECT_FALSE(d.HasParseError()) << out;
  EXPECT_TRUE(d.IsObject()) << out;
  return d;
}

TEST(BenchCliTest, NodeWorkloadWithFiringHostsReportsAlertsAndEvaluationCost) {
  const std::uint64_t series = NodeWorkloadSeriesPerHost() * 20;
  int rc = -1;
  const std::string out = RunCli("--workload node" + kNodeRules + " --series " +
                                     std::to_string(series) +
                                     " --firing-fraction 0.5 --producers 1 --shards 2 "
                                     "--seconds 2 --full-eval-runs 1",
                                 &rc);
  ASSERT_EQ(rc, 0) << out;
  const rapidjson::Document d = Parse(out);
  ASSERT_TRUE(d.IsObject());
  EXPECT_EQ(d["rules"].GetUint64(), 100u);
  EXPECT_EQ(d["series"].GetUint64(), series);
  EXPECT_EQ(std::string(d["workload"].GetString()), "node");
  EXPECT_EQ(std::string(d["arrival"].GetString()), "spread");
  EXPECT_EQ(d["rule_failures"].GetUint64(), 0u);
  EXPECT_EQ(d["samples_refused"].GetUint64(), 0u);
  EXPECT_GT(d["group_evaluation_instants"].GetUint64(), 0u);
  EXPECT_GT(d["eval_cpu_ms_per_instant"].GetDouble(), 0);
  EXPECT_TRUE(d["heap_bytes_per_series"].IsNumber());
  EXPECT_GT(d["active_alerts"].GetUint64(), 0u);
  EXPECT_GT(d["firing_alerts"].GetUint64(), 0u);
  EXPECT_GT(d["full_eval_ms"].GetDouble(), 0);
  EXPECT_GT(d["full_eval_cpu_ms"].GetDouble(), 0);
  const auto& full = d["full_eval"];
  EXPECT_EQ(full["series"].GetUint64(), series);
  EXPECT_EQ(full["at_ms"].GetInt64() % 60'000, 0);
  EXPECT_GT(full["samples"].GetUint64(), series);  // more than one step of each
  EXPECT_GT(full["active_alerts"].GetUint64(), 0u);
}

// The data starts at t=0, so until `rate(...[5m] offset 10m)` (HttpTrafficSurge)
// has its whole window, the old rate is extrapolated from a part of it: at 11
// minutes it is a fifth of the new one and the surge rule goes pending, as it
// would in Prometheus after a fresh start. Minute steps put the end of even a
// slow run (a sanitizer build streams about 45 steps in these 2 seconds) far
// past that.
TEST(BenchCliTest, NodeWorkloadWithoutFiringHostsHasNoAlerts) {
  const std::uint64_t series = NodeWorkloadSeriesPerHost() * 20;
  int rc = -1;
  const std::string out = RunCli("--workload node" + kNodeRules + " --series " +
                                     std::to_string(series) +
                                     " --firing-fraction 0 --producers 2 --shards 2 --seconds 2 "
                                     "--step 60s --full-eval-runs 1 --no-skip-quiet-rules "
                                     "--arrival burst",
                                 &rc);
  ASSERT_EQ(rc, 0) << out;
  const rapidjson::Document d = Parse(out);
  ASSERT_TRUE(d.IsObject());
  EXPECT_EQ(d["active_alerts"].GetUint64(), 0u) << out;
  EXPECT_EQ(d["alerts_fired"].GetUint64(), 0u);
  EXPECT_EQ(d["full_eval"]["active_alerts"].GetUint64(), 0u) << out;
  EXPECT_EQ(d["full_eval"]["series"].GetUint64(), series);
  EXPECT_GT(d["full_eval"]["at_ms"].GetInt64(), 15 * 60'000) << out;  // every window whole
  EXPECT_EQ(std::string(d["arrival"].GetString()), "burst");
  EXPECT_FALSE(d["skip_quiet_rules"].GetBool());
  EXPECT_EQ(d["rule_evaluations_skipped"].GetUint64(), 0u);
  EXPECT_GT(d["rule_evaluations"].GetUint64(), 100u);
}

TEST(BenchCliTest, FullEvalOfAnInputRecordingUsesItsSeries) {
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) /
                                    ("nimify_bench_wl_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string recording = (dir / "node.rw").string();
  const std::uint64_t series = NodeWorkloadSeriesPerHost() * 7;
  int rc = -1;
  // 8 steps of 15 s of the node workload, half of the hosts firing.
  RunCli("--workload node --series " + std::to_string(series) +
             " --firing-fraction 0.5 --seconds 8 --record " + recording,
         &rc);
  ASSERT_EQ(rc, 0);
  // --series is not the recording's: full_eval must count the recording's.
  const std::string out = RunCli("--input " + recording + kNodeRules +
                                     " --series 5000 --producers 1 --shards 2 --seconds 1 "
                                     "--full-eval-runs 1",
                                 &rc);
  std::filesystem::remove_all(dir);
  ASSERT_EQ(rc, 0) << out;
  const rapidjson::Document d = Parse(out);
  ASSERT_TRUE(d.IsObject());
  EXPECT_EQ(std::string(d["workload"].GetString()), "input");
  const auto& full = d["full_eval"];
  EXPECT_EQ(full["series"].GetUint64(), series);
  EXPECT_EQ(full["samples"].GetUint64(), series * 8);
  // Newest sample at 7 * 15 s: evaluated at the next minute boundary.
  EXPECT_EQ(full["at_ms"].GetInt64(), 120'000);
  EXPECT_GT(full["active_alerts"].GetUint64(), 0u);
}

// Each arrival mode, and handlers on the evaluating thread (--inline-handlers).
TEST(BenchCliTest, ThresholdWorkloadMeasuresLatencyInEachArrivalAndHandlerMode) {
  const struct {
    const char* arrival;
    bool inline_handlers;
  } kModes[] = {{"spread", false}, {"burst", false}, {"spread", true}};
  for (const auto& [arrival, inline_handlers] : kModes) {
    int rc = -1;
    const std::string out =
        RunCli(std::string("--arrival ") + arrival + (inline_handlers ? " --inline-handlers" : "") +
                   " --series 4000 --producers 2 --shards 2 --seconds 1 "
                   "--rate 400000 --full-eval-runs 1",
               &rc);
    ASSERT_EQ(rc, 0) << arrival << out;
    const rapidjson::Document d = Parse(out);
    ASSERT_TRUE(d.IsObject());
    EXPECT_EQ(std::string(d["workload"].GetString()), "threshold");
    EXPECT_EQ(std::string(d["arrival"].GetString()), arrival);
    EXPECT_EQ(d["inline_handlers"].GetBool(), inline_handlers) << arrival;
    EXPECT_GT(d["alerts_fired"].GetUint64(), 0u) << arrival;
    EXPECT_GT(d["alert_latency_us"]["samples"].GetUint64(), 0u) << arrival;
    EXPECT_LE(d["alert_latency_us"]["p50"].GetDouble(), d["alert_latency_us"]["p99"].GetDouble());
  }
}

TEST(BenchCliTest, RejectsBadSwitches) {
  int rc = -1;
  RunCli("--firing-fraction 1.5", &rc);
  EXPECT_EQ(rc, 2);
  RunCli("--workload nodes", &rc);
  EXPECT_EQ(rc, 2);
  RunCli("--arrival trickle", &rc);
  EXPECT_EQ(rc, 2);
}

}  // namespace
}  // namespace nimify::cli
