// The synthetic workloads of `nimify bench`: series i's labels and its value
// at each step, computed (not stored), so that the producers, the recording
// writer and full_eval_ms all see the same data.
//
//   auto w = MakeNodeWorkload({.series = 100'000, .firing_fraction = 0.1, .step_ms = 15'000});
//   OwnedLabels labels = w->Labels(42);
//   double v = w->Value(42, /*step=*/7);
#ifndef NIMIFY_CLI_BENCH_WORKLOAD_H_
#define NIMIFY_CLI_BENCH_WORKLOAD_H_

#include <cstdint>
#include <memory>
#include <string_view>

#include "nimify/sample.h"

namespace nimify::cli {

// Thread safety: immutable after construction; every method may be called
// from any thread at once.
class BenchWorkload {
 public:
  virtual ~BenchWorkload() = default;
  virtual std::string_view name() const = 0;
  virtual std::uint64_t series() const = 0;
  // Sorted by name, __name__ included.
  virtual OwnedLabels Labels(std::uint64_t i) const = 0;
  virtual double Value(std::uint64_t i, std::uint64_t step) const = 0;
  // The series whose sample at `step` is a spike that makes a rule fire
  // (alert latency is measured from its append); none by default.
  virtual bool Spikes(std::uint64_t /*i*/, std::uint64_t /*step*/) const { return false; }
};

// The best case: series i is bench_metric_<i % metrics>{instance, series}
// with values 0-99 and K spikes to 1000 per step (see `nimify bench --help`).
std::unique_ptr<BenchWorkload> MakeThresholdWorkload(std::uint64_t series, std::uint32_t metrics,
                                                     std::uint64_t spikes_per_step);

struct NodeWorkloadOptions {
  std::uint64_t series = 100'000;
  // Fraction of hosts whose series all sit past the thresholds of
  // rules/bench/node.rules.yml and rules/runbook.rules.yml (0 to 1).
  double firing_fraction = 0;
  std::int64_t step_ms = 15'000;
};

// Hosts of about 190 series each, in series order: node_exporter (cpu, memory,
// filesystems, network, disks, vmstat, conntrack, timex), kube-state-metrics
// and cAdvisor for 4 pods of 2 containers, an HTTP service with a latency
// histogram, and the metrics of the runbook's rules. 6-8 labels per series.
// Counters are floats with noise and a reset every 2 hours of event time;
// gauges wander within their band.
std::unique_ptr<BenchWorkload> MakeNodeWorkload(const NodeWorkloadOptions& options);

// Series per host of the node workload.
std::uint64_t NodeWorkloadSeriesPerHost();

}  // namespace nimify::cli

#endif  // NIMIFY_CLI_BENCH_WORKLOAD_H_
