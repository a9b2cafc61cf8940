// `nimify bench`: runs a synthetic (or recorded) workload through the whole
// in-process pipeline (producers -> rings -> shards -> rule evaluation ->
// alert dispatcher -> handler) and prints one JSON object.
#include <malloc.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/bench_marker.h"
#include "cli/bench_remote_write.h"
#include "cli/bench_workload.h"
#include "cli/commands.h"
#include "common/mutex.h"
#include "ingest/batch.h"
#include "ingest/remote_write.h"
#include "ingest/series_ref_cache.h"
#include "nimify/engine.h"
#include "nimify/rules.h"
#include "promql/labels.h"
#include "promql/parser.h"

namespace nimify::cli {
namespace {

constexpr const char* kUsage =
    "usage: nimify bench [--rules PATH]... [--series N] [--producers P] [--shards S]\n"
    "                    [--seconds T] [--input FILE] [--format json|text]\n"
    "                    [--generated-rules R] [--metrics M] [--step DURATION]\n"
    "                    [--spikes-per-step K] [--record FILE] [--no-eager]\n"
    "                    [--no-incremental]\n"
    "                    [--full-eval-runs N] [--rate SAMPLES_PER_SECOND]\n"
    "                    [--workload threshold|node] [--firing-fraction F|most]\n"
    "                    [--arrival spread|burst] [--no-skip-quiet-rules]\n"
    "                    [--inline-handlers] [--no-fire-on-crossing]\n"
    "       nimify bench --remote-write URL [--series N] [--metrics M] [--input FILE]\n"
    "                    [--connections C] [--samples-per-request K] [--rate R]\n"
    "                    [--seconds T] [--warmup T] [--pid PID]\n"
    "                    [--markers PER_SECOND] [--webhook-listen HOST:PORT]\n"
    "                    [--marker-wait T] [--fresh-markers]\n"
    "       nimify bench --write-marker-config DIR --webhook-listen HOST:PORT\n"
    "\n"
    "Streams a workload through the in-process engine and prints one JSON object:\n"
    "samples_per_second, cpu_ns_per_sample, series, rules, alerts_fired,\n"
    "alert_latency_us {p50, p99, max}, bytes_per_series and full_eval_ms.\n"
    "\n"
    "The synthetic workload: N series spread over M metrics (bench_metric_0..M-1),\n"
    "one sample per series every --step (default 15s) of event time, sent by P\n"
    "producer threads in batches, as fast as the engine takes them, for T seconds\n"
    "of wall time (then each finishes the steps the furthest producer reached, so\n"
    "every step is whole). R generated threshold rules (`bench_metric_<k % M> > 500+k`,\n"
    "for: 0, interval = step) come on top of the --rules files. Each step K series\n"
    "spike to 1000, so the rules on their metric fire (and resolve at the next\n"
    "step); alert latency is from the append of the spike to the handler call.\n"
    "--input replays a recording instead (looping, with shifted timestamps):\n"
    "frames of [u32 little-endian length][remote-write body], decoded and resolved\n"
    "by the producers; --record FILE writes T steps of the synthetic workload as one.\n"
    "--rate paces the producers (total samples per second; default: as fast as\n"
    "the engine takes them): latency is only meaningful below saturation.\n"
    "--workload threshold (the default; the BEST CASE: every rule is answered by the\n"
    "incremental threshold tracker and no full evaluation returns anything) is the\n"
    "above. --workload node: N series shaped like node_exporter, kube-state-metrics,\n"
    "cAdvisor and an HTTP service (6-8 labels, float counters with noise and resets,\n"
    "wandering gauges, a latency histogram; about 190 series per host); run it with\n"
    "--rules rules/bench/node.rules.yml --rules rules/runbook.rules.yml (100 rules).\n"
    "--firing-fraction F (0 to 1, or `most` = 0.9; default 0): the fraction of hosts\n"
    "whose series all cross their rules' thresholds.\n"
    "--arrival spread (default): a step's samples are spread over the step, in event\n"
    "time (each chunk of 1024 series, like one scrape target, has its own timestamp)\n"
    "and, with --rate, in wall time; --arrival burst: all samples of a step share its\n"
    "timestamp and, with --rate, leave together once per step period.\n"
    "--no-skip-quiet-rules: evaluate every rule at every group instant\n"
    "(EngineOptions::skip_quiet_rules = false).\n"
    "--inline-handlers: the latency handler runs on the evaluating thread\n"
    "(EngineOptions::handler_thread = kEvaluator), not the dispatcher thread.\n"
    "--no-fire-on-crossing: `for: 0` threshold alerts wait for the evaluation of\n"
    "their instant instead of firing from the shard thread that stores the\n"
    "crossing sample (EngineOptions::fire_on_crossing = false; with\n"
    "--inline-handlers the handler runs on that thread).\n"
    "full_eval_ms: every rule evaluated once, without the threshold tracker, at the\n"
    "last minute boundary of the data the run streamed (the same synthetic series and\n"
    "values, or the --input recording) with the whole window the rules read; wall\n"
    "time, median of --full-eval-runs (full_eval_cpu_ms: thread CPU). Also reported:\n"
    "eval_cpu_ms_per_instant (CPU of rule evaluation per group evaluation instant\n"
    "while streaming), active_alerts / firing_alerts at the end, and resident growth\n"
    "(bytes_per_series) and live heap growth (heap_bytes_per_series) per series.\n"
    "\n"
    "--remote-write URL sends the same workload (or --input recording) over HTTP as\n"
    "remote-write 1.0 requests (snappy protobuf, K samples each, default 1000) over C\n"
    "keep-alive connections (default 2) to any receiver: nimifyd, or Prometheus with\n"
    "--web.enable-remote-write-receiver. Timestamps are the wall clock, increasing per\n"
    "series: faster than 1,000 samples/s per series they run ahead of the clock, and a\n"
    "receiver refuses them past its allowed future (nimifyd: 5 s; pace small\n"
    "recordings with --rate). --rate R: open loop at R samples/s in all; without it\n"
    "closed loop (each connection sends as soon as the last answer came). Counts\n"
    "start after --warmup seconds (series creation) and last T seconds. Prints one\n"
    "JSON object: samples/s sent and accepted (2xx), request_latency_ms {p50, p99,\n"
    "max}, errors by status, and with --pid the receiver's CPU per accepted sample\n"
    "(utime+stime from /proc/PID/stat) and its resident bytes at the end.\n"
    "\n"
    "The alert path, with nimifyd as the receiver: --markers N adds N marker samples\n"
    "per second of the measured time to the load's requests (a series each,\n"
    "nimify_bench_marker{marker=\"<run>-<id>\"} = <id>, stamped with the wall clock),\n"
    "and serves a webhook on --webhook-listen (default 127.0.0.1:0; give a port so that\n"
    "nimifyd's config can name it). With a --warmup the markers are armed: each marker\n"
    "series gets a 0 sample at the start, so its marker crosses from a known value, as\n"
    "`up` does when a known target goes down, and nimifyd can fire it from the crossing\n"
    "sample. --fresh-markers: no 0 samples; each marker is the first sample of its\n"
    "series (a new target, down from the start) and waits for the evaluation of its\n"
    "instant. nimifyd must run a config that --write-marker-config DIR writes: the\n"
    "rule `nimify_bench_marker > 0` (interval 1s), each marker its own group,\n"
    "group_wait 0s, a `webhook` handler to http://HOST:PORT/marker, and\n"
    "engine.allowed_lateness 2s in DIR/nimify-bench-marker.yml (armed markers: give\n"
    "--warmup 3 or more, so that the 0 samples are settled) or 0s in\n"
    "DIR/nimify-bench-marker-fresh.yml (for --fresh-markers):\n"
    "  nimify bench --write-marker-config /tmp/m --webhook-listen 127.0.0.1:9196\n"
    "  nimifyd --config.file=/tmp/m/nimify-bench-marker.yml ... &\n"
    "  nimify bench --remote-write URL --markers 20 --warmup 5 \\\n"
    "      --webhook-listen 127.0.0.1:9196 ...\n"
    "Each firing alert the webhook receives is matched to its marker:\n"
    "sample_to_handler_us {p50, p99, max, count} runs from the write of the request\n"
    "that carried the marker to the webhook request received whole, so it holds the\n"
    "remote-write request (with its load samples), the append, for fresh markers the\n"
    "evaluation (when the clock passes the sample: up to the engine's clock tick,\n"
    "50 ms), dispatch, routing and the webhook's HTTP POST on a new connection.\n"
    "markers {sent, armed, accepted, delivered, duplicates, unexpected}: after the\n"
    "load, undelivered markers get --marker-wait seconds (default 5) more.\n";

int UsageError(const std::string& msg) {
  std::fprintf(stderr, "nimify bench: %s\n\n%s", msg.c_str(), kUsage);
  return 2;
}

struct BenchOptions {
  std::vector<std::string> rule_paths;
  std::uint64_t series = 100'000;
  std::uint32_t producers = 2;
  std::uint32_t shards = 2;
  double seconds = 10;
  std::string input;
  std::string record;
  bool json = true;
  std::uint32_t generated_rules = 100;
  std::uint32_t metrics = 10;
  std::int64_t step_ms = 15'000;
  std::uint64_t spikes_per_step = 0;  // 0: series / 10'000 (at least 1)
  bool eager = true;
  bool incremental = true;
  int full_eval_runs = 3;  // 0: skip (full_eval_ms is null)
  double rate = 0;  // samples per second over all producers; 0: unpaced
  std::string workload = "threshold";
  bool generated_rules_set = false;
  double firing_fraction = 0;
  bool arrival_spread = true;
  bool skip_quiet_rules = true;
  bool inline_handlers = false;
  bool fire_on_crossing = true;
  RemoteWriteBenchOptions remote;  // used when remote.url is set
};

double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::int64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  long long size = 0, resident = 0;
  statm >> size >> resident;
  return static_cast<std::int64_t>(resident) * sysconf(_SC_PAGESIZE);
}

// Bytes malloc has handed out and not taken back (live heap).
std::int64_t HeapBytes() {
  const struct mallinfo2 mi = mallinfo2();
  return static_cast<std::int64_t>(mi.uordblks + mi.hblkhd);
}

std::int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

template <typename T>
bool ParseNumber(const std::string& text, T* out) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *out);
  return ec == std::errc() && ptr == end;
}

// ---- The synthetic workload --------------------------------------------------------

std::unique_ptr<BenchWorkload> MakeWorkload(const BenchOptions& o) {
  if (o.workload == "node") {
    return MakeNodeWorkload({.series = o.series, .firing_fraction = o.firing_fraction,
                             .step_ms = o.step_ms});
  }
  return MakeThresholdWorkload(o.series, o.metrics, o.spikes_per_step);
}

std::vector<Label> LabelViews(const OwnedLabels& owned) {
  std::vector<Label> views;
  views.reserve(owned.size());
  for (const auto& l : owned) views.push_back({l.name, l.value});
  return views;
}

// Series [begin, end) of a producer go out in chunks of kChunk (one scrape
// target each). With spread arrival chunk c of n has its own timestamp,
// c/n of the way through the step; with burst arrival every chunk has the
// step's timestamp.
constexpr std::uint64_t kChunk = 1024;
std::int64_t ChunkTime(const BenchOptions& o, std::uint64_t step, std::uint64_t chunk,
                       std::uint64_t chunks) {
  const std::int64_t t = static_cast<std::int64_t>(step) * o.step_ms;
  if (!o.arrival_spread || chunks == 0) return t;
  return t + static_cast<std::int64_t>(chunk) * o.step_ms / static_cast<std::int64_t>(chunks);
}

std::string GeneratedRules(const BenchOptions& o) {
  std::string y = "groups:\n  - name: bench-thresholds\n    interval: " +
                  promql::FormatDuration(o.step_ms) + "\n    rules:\n";
  for (std::uint32_t k = 0; k < o.generated_rules; ++k) {
    y += "      - alert: BenchHigh" + std::to_string(k) + "\n        expr: bench_metric_" +
         std::to_string(k % o.metrics) + " > " + std::to_string(500 + k) +
         "\n        labels:\n          severity: bench\n        annotations:\n"
         "          summary: \"series {{ $labels.series }} at {{ $value }}\"\n";
  }
  return y;
}

Result<std::shared_ptr<const RuleSet>> LoadAllRules(const BenchOptions& o, std::string* dir) {
  // One RuleSet from the given files plus the generated file: write the
  // generated rules next to the others in a temporary directory.
  char tmpl[] = "/tmp/nimify-bench-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return Status::Internal("cannot create a temporary directory");
  *dir = tmpl;
  const std::string generated = *dir + "/generated.rules.yml";
  std::ofstream(generated) << GeneratedRules(o);
  std::vector<std::string> paths = o.rule_paths;
  if (o.generated_rules > 0 && (o.workload == "threshold" || o.generated_rules_set)) {
    paths.push_back(generated);
  }
  if (paths.empty()) return RuleSet::Empty();
  return RuleSet::LoadFiles(paths);
}

// When a spike of series i at `step` was appended (steady ns), for the handler.
class SpikeClock {
 public:
  explicit SpikeClock(std::uint64_t series)
      : steps_(new std::atomic<std::uint64_t>[series]), times_(new std::atomic<std::int64_t>[series]) {
    for (std::uint64_t i = 0; i < series; ++i) {
      steps_[i].store(~0ull, std::memory_order_relaxed);
      times_[i].store(0, std::memory_order_relaxed);
    }
  }
  void Record(std::uint64_t i, std::uint64_t step, std::int64_t ns) {
    times_[i].store(ns, std::memory_order_relaxed);
    // release: a reader that sees this step also sees the time stored above.
    steps_[i].store(step, std::memory_order_release);
  }
  std::optional<std::int64_t> Get(std::uint64_t i, std::uint64_t step) const {
    if (steps_[i].load(std::memory_order_acquire) != step) return std::nullopt;
    return times_[i].load(std::memory_order_relaxed);
  }

 private:
  std::unique_ptr<std::atomic<std::uint64_t>[]> steps_;
  std::unique_ptr<std::atomic<std::int64_t>[]> times_;
};

class LatencyHandler final : public AlertHandler {
 public:
  LatencyHandler(const SpikeClock* clock, std::int64_t step_ms, std::uint64_t series)
      : clock_(clock), step_ms_(step_ms), series_(series) {}
  // The spike of series i at step s has a timestamp in [s * step, (s + 1) * step).
  void OnAlert(const AlertEvent& e) override {
    const std::int64_t now = SteadyNs();
    if (e.state != AlertState::kFiring) return;
    ++fired_;
    std::uint64_t id = 0;
    for (const auto& l : e.labels) {
      if (l.name == "series") ParseNumber(l.value, &id);
    }
    if (id >= series_ || e.eval_time_ms < 0) return;
    if (auto t = clock_->Get(id, static_cast<std::uint64_t>(e.eval_time_ms / step_ms_))) {
      latencies_ns_.push_back(now - *t);
    }
  }
  std::uint64_t fired() const { return fired_; }
  std::vector<std::int64_t> latencies() const { return latencies_ns_; }

 private:
  const SpikeClock* clock_;
  const std::int64_t step_ms_;
  const std::uint64_t series_;
  // Called one at a time (on the dispatcher or an evaluating thread); read
  // after Stop().
  std::uint64_t fired_ = 0;
  std::vector<std::int64_t> latencies_ns_;
};

struct ProducerResult {
  std::uint64_t samples = 0;
  std::uint64_t steps = 0;  // steps sent completely (synthetic)
  double decode_cpu_s = 0;
  Status status;
};

// The synthetic producers stop after the same step. Each notes, at the first
// step it starts after the deadline, how many steps it has sent; once all have,
// each sends up to the largest count. Otherwise a producer that got less CPU
// would stop steps behind, and the final evaluation (at Stop, when the others'
// newest samples are due) would see only part of the series: a half-sent
// instant that no real run has.
class StepAlignedStop {
 public:
  explicit StepAlignedStop(std::uint32_t producers) : producers_(producers) {}
  // Called once per producer, when it sees the deadline before step `sent`
  // (or gives up early, with the steps it sent). Returns the steps to send
  // in all: `sent` or more.
  std::uint64_t Arrive(std::uint64_t sent) NIMIFY_EXCLUDES(mu_) {
    MutexLock lock(mu_);
    target_ = std::max(target_, sent);
    if (++arrived_ == producers_) cv_.NotifyAll();
    // Bounded: a producer stuck in backpressure must not hang the others.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (arrived_ < producers_ && cv_.WaitUntil(mu_, give_up)) {
    }
    return target_;
  }

 private:
  const std::uint32_t producers_;
  Mutex mu_;
  CondVar cv_;
  std::uint32_t arrived_ NIMIFY_GUARDED_BY(mu_) = 0;
  std::uint64_t target_ NIMIFY_GUARDED_BY(mu_) = 0;
};

// Sends series [begin, end) for every step until the deadline, then up to the
// step the other producers reached (see StepAlignedStop).
void RunSyntheticProducer(Producer& producer, const BenchOptions& o, const BenchWorkload& w,
                          std::uint64_t begin, std::uint64_t end,
                          std::chrono::steady_clock::time_point deadline, SpikeClock* spikes,
                          StepAlignedStop* stop, ProducerResult* result) {
  bool arrived = false;
  struct ArriveOnExit {
    StepAlignedStop* stop;
    const bool& arrived;
    const ProducerResult* result;
    ~ArriveOnExit() {
      if (!arrived) (void)stop->Arrive(result->steps);
    }
  } arrive_on_exit{stop, arrived, result};
  std::vector<SeriesRef> refs;
  refs.reserve(end - begin);
  for (std::uint64_t i = begin; i < end; ++i) {
    const OwnedLabels owned = w.Labels(i);
    const std::vector<Label> labels = LabelViews(owned);
    auto ref = producer.Resolve(labels);
    if (!ref.ok()) {
      result->status = ref.status();
      return;
    }
    refs.push_back(*ref);
  }
  const std::uint64_t chunks = (end - begin + kChunk - 1) / kChunk;
  std::vector<Sample> chunk;
  chunk.reserve(kChunk);
  std::vector<std::uint64_t> spiking;  // series of the chunk that spike
  const auto started = std::chrono::steady_clock::now();
  // With a rate, each step's samples take one step period of wall time:
  // chunk by chunk (spread), or all at its start (burst).
  const std::chrono::duration<double> step_period(
      o.rate > 0 ? static_cast<double>(o.series) / o.rate : 0.0);
  auto sleep_until = [&](double steps) {
    std::this_thread::sleep_until(started +
                                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                      step_period * steps));
  };
  std::uint64_t last_step = std::numeric_limits<std::uint64_t>::max();
  for (std::uint64_t step = 0; step < last_step; ++step) {
    if (!arrived && std::chrono::steady_clock::now() >= deadline) {
      arrived = true;
      last_step = stop->Arrive(step);
      if (step >= last_step) break;
    }
    if (o.rate > 0 && !o.arrival_spread) sleep_until(static_cast<double>(step));
    std::uint64_t c = 0;
    for (std::uint64_t i = begin; i < end; ++c) {
      if (o.rate > 0 && o.arrival_spread) {
        sleep_until(static_cast<double>(step) + static_cast<double>(c) / static_cast<double>(chunks));
      }
      const std::int64_t t = ChunkTime(o, step, c, chunks);
      chunk.clear();
      spiking.clear();
      const std::uint64_t chunk_end = std::min<std::uint64_t>(end, i + kChunk);
      for (; i < chunk_end; ++i) {
        if (w.Spikes(i, step)) spiking.push_back(i);
        chunk.push_back({refs[i - begin], t, w.Value(i, step)});
      }
      // Latency starts at the AppendBatch call (not at building the chunk).
      const std::int64_t append_ns = SteadyNs();
      for (std::uint64_t spiked : spiking) spikes->Record(spiked, step, append_ns);
      std::size_t accepted = 0;
      Status st = producer.AppendBatch(chunk, &accepted);
      result->samples += accepted;
      if (!st.ok() && result->status.ok()) result->status = st;
      // Spread: this chunk's timestamp is done, the engine may cut before it.
      // (One millisecond less when chunks are too many for distinct timestamps.)
      if (o.arrival_spread) {
        (void)producer.AdvanceWatermark(chunks <= static_cast<std::uint64_t>(o.step_ms) ? t : t - 1);
      }
    }
    // The step is complete: the engine may evaluate up to its end.
    (void)producer.AdvanceWatermark(o.arrival_spread
                                        ? static_cast<std::int64_t>(step + 1) * o.step_ms - 1
                                        : static_cast<std::int64_t>(step) * o.step_ms);
    result->steps = step + 1;
  }
}

// Frames of [u32 little-endian length][remote-write body].
Result<std::vector<std::string>> ReadFrames(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open file");
  std::vector<std::string> frames;
  while (true) {
    unsigned char len[4];
    if (!in.read(reinterpret_cast<char*>(len), 4)) break;
    const std::uint32_t n = len[0] | (len[1] << 8) | (len[2] << 16) | (std::uint32_t{len[3]} << 24);
    std::string body(n, '\0');
    if (!in.read(body.data(), n)) {
      return Status::InvalidArgument(path + ": frame " + std::to_string(frames.size()) +
                                     " is truncated");
    }
    frames.push_back(std::move(body));
  }
  if (frames.empty()) return Status::InvalidArgument(path + ": no frames");
  return frames;
}

// Replays frames p, p+P, ... (so each producer's frames stay in time order),
// looping with shifted timestamps until the deadline.
void RunRecordedProducer(Producer& producer, const std::vector<std::string>& frames,
                         std::size_t first, std::size_t stride, std::int64_t span_ms,
                         std::chrono::steady_clock::time_point deadline, ProducerResult* result) {
  ingest::Batch batch;
  std::vector<Sample> samples;
  std::vector<Label> labels;
  // Each series is resolved in the engine once; later frames hit the cache.
  ingest::SeriesRefCache cache;
  for (std::int64_t pass = 0;; ++pass) {
    const std::int64_t shift = pass * span_ms;
    for (std::size_t f = first; f < frames.size(); f += stride) {
      if (std::chrono::steady_clock::now() >= deadline) return;
      batch.Clear();
      const double cpu0 = ThreadCpuSeconds();
      // As nimifyd decodes: series the cache knows are looked up by their
      // encoded labels and not decoded further.
      Status st = ingest::DecodeRemoteWrite(frames[f], ingest::Limits(), &batch,
                                            ingest::RefLookup{&cache, 0});
      samples.clear();
      std::int64_t newest = std::numeric_limits<std::int64_t>::min();
      for (std::size_t s = 0; st.ok() && s < batch.series_count(); ++s) {
        const ingest::BatchSeries series = batch.series(s);
        const ingest::KeyHash key = ingest::SeriesRefCache::KeyOf(series);
        SeriesRef ref = cache.FindSeries(series, key, 0);
        if (ref == 0) {
          labels.clear();
          for (const auto& l : series.labels) labels.push_back({l.name, l.value});
          auto resolved = producer.Resolve(labels);
          if (!resolved.ok()) {
            st = resolved.status();
            break;
          }
          ref = *resolved;
          cache.Insert(key, ref, 0);
        }
        for (const auto& p : series.samples) {
          samples.push_back({ref, p.t + shift, p.v});
          newest = std::max(newest, p.t + shift);
        }
      }
      result->decode_cpu_s += ThreadCpuSeconds() - cpu0;
      if (!st.ok()) {
        result->status = st.WithPrefix("frame " + std::to_string(f));
        return;
      }
      std::size_t accepted = 0;
      (void)producer.AppendBatch(samples, &accepted);
      result->samples += accepted;
      // Another frame of this producer may carry the same timestamp.
      if (newest != std::numeric_limits<std::int64_t>::min()) {
        (void)producer.AdvanceWatermark(newest - 1);
      }
    }
  }
}

Status WriteRecording(const BenchOptions& o, const BenchWorkload& w, std::uint64_t steps) {
  std::ofstream out(o.record, std::ios::binary);
  if (!out) return Status::NotFound(o.record + ": cannot create file");
  constexpr std::uint64_t kSeriesPerFrame = 2000;
  std::vector<promql::Labels> labels;
  labels.reserve(o.series);
  for (std::uint64_t i = 0; i < o.series; ++i) {
    std::vector<promql::Label> l;
    for (const auto& x : w.Labels(i)) l.push_back({x.name, x.value});
    labels.push_back(promql::Labels::FromUnsorted(std::move(l)));
  }
  for (std::uint64_t step = 0; step < steps; ++step) {
    const std::int64_t t = static_cast<std::int64_t>(step) * o.step_ms;
    for (std::uint64_t begin = 0; begin < o.series; begin += kSeriesPerFrame) {
      ingest::Batch batch;
      for (std::uint64_t i = begin; i < std::min(o.series, begin + kSeriesPerFrame); ++i) {
        const promql::Point p{t, w.Value(i, step)};
        batch.AddSeries(labels[i], std::span<const promql::Point>(&p, 1));
      }
      const std::string body = ingest::EncodeRemoteWrite(batch);
      const auto n = static_cast<std::uint32_t>(body.size());
      const unsigned char len[4] = {static_cast<unsigned char>(n), static_cast<unsigned char>(n >> 8),
                                    static_cast<unsigned char>(n >> 16),
                                    static_cast<unsigned char>(n >> 24)};
      out.write(reinterpret_cast<const char*>(len), 4);
      out.write(body.data(), static_cast<std::streamsize>(body.size()));
    }
  }
  return out ? Status::Ok() : Status::Internal(o.record + ": write failed");
}

// ---- full_eval_ms ----------------------------------------------------------------------

struct FullEvalResult {
  double wall_ms = std::nan("");
  double cpu_ms = std::nan("");
  std::int64_t at_ms = 0;           // the evaluation instant
  std::uint64_t series = 0;         // series in the window
  std::uint64_t samples = 0;        // samples in the window
  std::uint64_t active_alerts = 0;  // pending or firing after the evaluation
  std::uint64_t alert_events = 0;
};

// The last minute boundary at or before `newest_ms` (0 if none).
std::int64_t MinuteAtOrBefore(std::int64_t newest_ms) {
  return newest_ms < 0 ? 0 : newest_ms / 60'000 * 60'000;
}

// Every rule evaluated once at one instant (a minute boundary, so on every
// group's grid for intervals that divide a minute), over the same data the run
// streamed, with the whole window the rules read: the synthetic workload's
// last complete steps (`steps` of them were sent), or the --input recording.
// Through the public API: the data goes into an engine of its own, then
// Engine::EvaluateRulesOnce runs the rules over it.
Result<FullEvalResult> FullEval(const BenchOptions& o, std::shared_ptr<const RuleSet> rules,
                                const BenchWorkload& w, std::uint64_t steps,
                                const std::vector<std::string>& frames) {
  FullEvalResult result;
  if (o.full_eval_runs <= 0) return result;
  EngineOptions eo;
  eo.shards = o.shards;
  eo.max_producers = 1;
  eo.eager_alerts = false;
  eo.default_eval_interval = std::chrono::milliseconds(60'000);
  // Created with the rules, so that the shards keep the history they read
  // (Engine::retention), then emptied, so that nothing evaluates while the
  // data loads.
  NIMIFY_ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::Create(eo, rules));
  NIMIFY_RETURN_IF_ERROR(engine->SetRules(RuleSet::Empty()));
  // What an instant reads: the longest range + offset, or the lookback.
  const std::int64_t window = engine->retention().count() - 1;
  ProducerOptions po;
  po.max_wait = std::chrono::seconds(120);
  NIMIFY_ASSIGN_OR_RETURN(std::unique_ptr<Producer> producer, engine->NewProducer(po));
  std::uint64_t appended = 0;
  // The watermark stays put until the end, so no sample is late here; the
  // shards drop a recording's duplicates and out-of-order samples (counted below).
  auto append = [&](SeriesRef ref, std::int64_t t, double v) -> Status {
    NIMIFY_RETURN_IF_ERROR(producer->Append(ref, t, v));
    ++appended;
    return Status::Ok();
  };
  std::vector<Label> labels;
  if (frames.empty()) {
    if (steps == 0) return Status::FailedPrecondition("the run sent no complete step");
    const std::int64_t end = MinuteAtOrBefore(static_cast<std::int64_t>(steps - 1) * o.step_ms);
    result.at_ms = end;
    std::vector<SeriesRef> refs;
    refs.reserve(o.series);
    for (std::uint64_t i = 0; i < o.series; ++i) {
      const OwnedLabels owned = w.Labels(i);
      labels.clear();
      for (const auto& l : owned) labels.push_back({l.name, l.value});
      NIMIFY_ASSIGN_OR_RETURN(SeriesRef ref, producer->Resolve(labels));
      refs.push_back(ref);
    }
    // The producers' split and chunk timestamps, as the run sent them.
    const std::uint64_t first_step =
        end - window > 0 ? static_cast<std::uint64_t>((end - window) / o.step_ms) : 0;
    for (std::uint64_t step = first_step; step < steps; ++step) {
      for (std::uint32_t p = 0; p < o.producers; ++p) {
        const std::uint64_t begin = o.series * p / o.producers;
        const std::uint64_t stop = o.series * (p + 1) / o.producers;
        const std::uint64_t chunks = (stop - begin + kChunk - 1) / kChunk;
        for (std::uint64_t i = begin; i < stop; ++i) {
          const std::int64_t t = ChunkTime(o, step, (i - begin) / kChunk, chunks);
          if (t > end || t <= end - window) continue;
          NIMIFY_RETURN_IF_ERROR(append(refs[i], t, w.Value(i, step)));
        }
      }
    }
    result.series = o.series;
  } else {
    // The recording once, as it is: evaluated at the first minute boundary
    // at or after its newest sample.
    ingest::Batch batch;
    std::int64_t newest = std::numeric_limits<std::int64_t>::min();
    for (std::size_t f = 0; f < frames.size(); ++f) {
      batch.Clear();
      NIMIFY_RETURN_IF_ERROR(ingest::DecodeRemoteWrite(frames[f], ingest::Limits(), &batch)
                                 .WithPrefix("frame " + std::to_string(f)));
      for (std::size_t s = 0; s < batch.series_count(); ++s) {
        const ingest::BatchSeries series = batch.series(s);
        labels.clear();
        for (const auto& l : series.labels) labels.push_back({l.name, l.value});
        NIMIFY_ASSIGN_OR_RETURN(SeriesRef ref, producer->Resolve(labels));
        for (const auto& p : series.samples) {
          NIMIFY_RETURN_IF_ERROR(append(ref, p.t, p.v));
          newest = std::max(newest, p.t);
        }
      }
    }
    result.at_ms = newest == std::numeric_limits<std::int64_t>::min()
                       ? 0
                       : (newest + 59'999) / 60'000 * 60'000;
  }
  // Up to the instant, then stopped: the final cut there makes every sample
  // visible, and nothing moves under the evaluations below.
  NIMIFY_RETURN_IF_ERROR(producer->AdvanceWatermark(result.at_ms));
  producer->Close();
  NIMIFY_RETURN_IF_ERROR(engine->Stop());
  const EngineStats stats = engine->stats();
  // What the shards kept: less the recording's duplicates and out-of-order samples.
  result.samples = appended - std::min(appended, stats.samples_rejected);
  if (!frames.empty()) result.series = stats.series_live;
  std::vector<std::pair<double, double>> runs;  // (wall, cpu) in ms
  for (int run = 0; run < o.full_eval_runs; ++run) {
    NIMIFY_ASSIGN_OR_RETURN(RulesEvaluation eval, engine->EvaluateRulesOnce(*rules, result.at_ms));
    runs.emplace_back(std::chrono::duration<double, std::milli>(eval.wall_time).count(),
                      std::chrono::duration<double, std::milli>(eval.cpu_time).count());
    if (eval.rule_evaluations != rules->rule_count()) {
      return Status::Internal("full evaluation ran " + std::to_string(eval.rule_evaluations) +
                              " of " + std::to_string(rules->rule_count()) + " rules");
    }
    if (eval.rule_failures != 0) return Status::Internal("a rule failed in the full evaluation");
    result.active_alerts = eval.alerts.size();
    result.alert_events = eval.alert_events;
  }
  std::sort(runs.begin(), runs.end());
  result.wall_ms = runs[runs.size() / 2].first;
  std::vector<double> cpus;
  for (const auto& r : runs) cpus.push_back(r.second);
  std::sort(cpus.begin(), cpus.end());
  result.cpu_ms = cpus[cpus.size() / 2];
  return result;
}

// ---- Output -----------------------------------------------------------------------------

std::string Num(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

double Percentile(std::vector<std::int64_t>& v, double p) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const auto idx = static_cast<std::size_t>(std::min<double>(
      static_cast<double>(v.size() - 1), std::ceil(p * static_cast<double>(v.size())) - 1));
  return static_cast<double>(v[idx]) / 1000.0;
}

int Run(const BenchOptions& o) {
  std::string tmpdir;
  auto rules = LoadAllRules(o, &tmpdir);
  if (!tmpdir.empty()) {
    std::remove((tmpdir + "/generated.rules.yml").c_str());
    rmdir(tmpdir.c_str());
  }
  if (!rules.ok()) {
    std::fprintf(stderr, "nimify bench: %s\n", rules.status().ToString().c_str());
    return 2;
  }
  const std::unique_ptr<BenchWorkload> workload = MakeWorkload(o);
  if (!o.record.empty()) {
    const std::uint64_t steps = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(o.seconds));
    Status st = WriteRecording(o, *workload, steps);
    if (!st.ok()) {
      std::fprintf(stderr, "nimify bench: %s\n", st.ToString().c_str());
      return 2;
    }
    std::fprintf(stderr, "nimify bench: wrote %" PRIu64 " steps of %" PRIu64 " series to %s\n",
                 steps, o.series, o.record.c_str());
    return 0;
  }
  std::vector<std::string> frames;
  std::int64_t span_ms = 0;
  if (!o.input.empty()) {
    auto read = ReadFrames(o.input);
    if (!read.ok()) {
      std::fprintf(stderr, "nimify bench: %s\n", read.status().ToString().c_str());
      return 2;
    }
    frames = std::move(read).value();
    // The recording's time span, so that loops continue after its end.
    std::int64_t lo = std::numeric_limits<std::int64_t>::max(), hi = std::numeric_limits<std::int64_t>::min();
    for (const std::string* f : {&frames.front(), &frames.back()}) {
      ingest::Batch b;
      if (ingest::DecodeRemoteWrite(*f, ingest::Limits(), &b).ok()) {
        for (std::size_t s = 0; s < b.series_count(); ++s) {
          for (const auto& p : b.series(s).samples) {
            lo = std::min(lo, p.t);
            hi = std::max(hi, p.t);
          }
        }
      }
    }
    span_ms = hi >= lo ? hi - lo + o.step_ms : o.step_ms;
  }

  EngineOptions eo;
  eo.shards = o.shards;
  eo.max_producers = o.producers;
  eo.eager_alerts = o.eager;
  eo.incremental_thresholds = o.incremental;
  eo.skip_quiet_rules = o.skip_quiet_rules;
  if (o.inline_handlers) eo.handler_thread = HandlerThread::kEvaluator;
  eo.fire_on_crossing = o.fire_on_crossing;
  eo.default_eval_interval = std::chrono::milliseconds(60'000);
  const std::int64_t rss_before = ResidentBytes();
  const std::int64_t heap_before = HeapBytes();
  auto engine = Engine::Create(eo, *rules);
  if (!engine.ok()) {
    std::fprintf(stderr, "nimify bench: %s\n", engine.status().ToString().c_str());
    return 2;
  }
  // A recording has no append times to measure latency from, nor has the
  // node workload spikes.
  const std::uint64_t clocked_series = o.input.empty() && o.workload == "threshold" ? o.series : 0;
  SpikeClock spikes(std::max<std::uint64_t>(clocked_series, 1));
  auto latency = std::make_shared<LatencyHandler>(&spikes, o.step_ms, clocked_series);
  (*engine)->AddHandler(latency);

  std::vector<std::unique_ptr<Producer>> producers;
  for (std::uint32_t p = 0; p < o.producers; ++p) {
    // A group evaluation of real rules can hold the shards for seconds on a
    // loaded machine: wait for room rather than refuse samples.
    ProducerOptions po;
    po.max_wait = std::chrono::seconds(120);
    auto producer = (*engine)->NewProducer(po);
    if (!producer.ok()) {
      std::fprintf(stderr, "nimify bench: %s\n", producer.status().ToString().c_str());
      return 2;
    }
    producers.push_back(std::move(producer).value());
  }
  std::vector<ProducerResult> results(o.producers);
  StepAlignedStop aligned_stop(o.producers);
  const double cpu0 = ProcessCpuSeconds();
  const auto start = std::chrono::steady_clock::now();
  const auto deadline =
      start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                  std::chrono::duration<double>(o.seconds));
  std::int64_t rss_after = 0;
  std::int64_t heap_after = 0;
  {
    std::vector<std::thread> threads;
    for (std::uint32_t p = 0; p < o.producers; ++p) {
      threads.emplace_back([&, p] {
        Producer& producer = *producers[p];
        if (frames.empty()) {
          const std::uint64_t begin = o.series * p / o.producers;
          const std::uint64_t end = o.series * (p + 1) / o.producers;
          RunSyntheticProducer(producer, o, *workload, begin, end, deadline, &spikes,
                               &aligned_stop, &results[p]);
        } else {
          RunRecordedProducer(producer, frames, p, o.producers, span_ms, deadline, &results[p]);
        }
      });
    }
    for (auto& t : threads) t.join();
    rss_after = ResidentBytes();
    heap_after = HeapBytes();
    producers.clear();  // closes them: the engine may evaluate up to the last step
  }
  const Status stopped = (*engine)->Stop();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu = ProcessCpuSeconds() - cpu0;
  if (!stopped.ok()) {
    std::fprintf(stderr, "nimify bench: %s\n", stopped.ToString().c_str());
    return 1;
  }
  std::uint64_t samples = 0;
  double decode_cpu = 0;
  std::uint64_t steps = std::numeric_limits<std::uint64_t>::max();
  for (const auto& r : results) steps = std::min(steps, r.steps);
  for (const auto& r : results) {
    if (!r.status.ok()) {
      std::fprintf(stderr, "nimify bench: producer: %s\n", r.status.ToString().c_str());
      return 1;
    }
    samples += r.samples;
    decode_cpu += r.decode_cpu_s;
  }
  const EngineStats stats = (*engine)->stats();
  const std::uint64_t series_live = stats.series_live;
  std::uint64_t active_alerts = 0, firing_alerts = 0;
  for (const AlertEvent& a : (*engine)->ActiveAlerts({.annotations = false})) {
    ++active_alerts;
    if (a.state == AlertState::kFiring) ++firing_alerts;
  }
  engine->reset();

  auto full_eval = FullEval(o, *rules, *workload, steps, frames);
  if (!full_eval.ok()) {
    std::fprintf(stderr, "nimify bench: full evaluation: %s\n",
                 full_eval.status().ToString().c_str());
    return 1;
  }
  std::vector<std::int64_t> lat = latency->latencies();
  const double p50 = Percentile(lat, 0.50);
  const double p99 = Percentile(lat, 0.99);
  const double max = lat.empty() ? std::nan("") : static_cast<double>(lat.back()) / 1000.0;
  const double sps = static_cast<double>(samples) / wall;
  const double ns_per_sample = samples > 0 ? cpu * 1e9 / static_cast<double>(samples) : 0;
  const double bytes_per_series =
      series_live > 0 ? static_cast<double>(rss_after - rss_before) / static_cast<double>(series_live)
                      : 0;
  const double heap_bytes_per_series =
      series_live > 0
          ? static_cast<double>(heap_after - heap_before) / static_cast<double>(series_live)
          : 0;
  const double eval_cpu_ms_per_instant =
      stats.group_evaluation_instants > 0
          ? static_cast<double>(stats.group_evaluation_cpu_ns) / 1e6 /
                static_cast<double>(stats.group_evaluation_instants)
          : std::nan("");
#ifdef NDEBUG
  const char* build = "optimized";
#else
  const char* build = "debug";
#endif
  if (o.json) {
    std::string j = "{";
    j += "\"samples_per_second\": " + Num(sps);
    j += ", \"cpu_ns_per_sample\": " + Num(ns_per_sample);
    j += ", \"series\": " + std::to_string(series_live);
    j += ", \"rules\": " + std::to_string((*rules)->rule_count());
    j += ", \"alerts_fired\": " + std::to_string(latency->fired());
    j += ", \"alert_latency_us\": {\"p50\": " + Num(p50) + ", \"p99\": " + Num(p99) +
         ", \"max\": " + Num(max) + ", \"samples\": " + std::to_string(lat.size()) + "}";
    j += ", \"bytes_per_series\": " + Num(bytes_per_series);
    j += ", \"heap_bytes_per_series\": " + Num(heap_bytes_per_series);
    j += ", \"full_eval_ms\": " + Num(full_eval->wall_ms);
    j += ", \"full_eval_cpu_ms\": " + Num(full_eval->cpu_ms);
    j += ", \"full_eval\": {\"at_ms\": " + std::to_string(full_eval->at_ms) +
         ", \"series\": " + std::to_string(full_eval->series) +
         ", \"samples\": " + std::to_string(full_eval->samples) +
         ", \"active_alerts\": " + std::to_string(full_eval->active_alerts) +
         ", \"alert_events\": " + std::to_string(full_eval->alert_events) + "}";
    j += ", \"eval_cpu_ms_per_instant\": " + Num(eval_cpu_ms_per_instant);
    j += ", \"group_evaluation_instants\": " + std::to_string(stats.group_evaluation_instants);
    j += ", \"evaluation_cpu_seconds\": " + Num(static_cast<double>(stats.evaluation_cpu_ns) / 1e9);
    j += ", \"active_alerts\": " + std::to_string(active_alerts);
    j += ", \"firing_alerts\": " + std::to_string(firing_alerts);
    j += ", \"workload\": " + JsonString(o.input.empty() ? o.workload : "input");
    if (o.workload == "node") j += ", \"firing_fraction\": " + Num(o.firing_fraction);
    j += ", \"arrival\": " + JsonString(o.arrival_spread ? "spread" : "burst");
    j += ", \"skip_quiet_rules\": " + std::string(o.skip_quiet_rules ? "true" : "false");
    j += ", \"inline_handlers\": " + std::string(o.inline_handlers ? "true" : "false");
    j += ", \"fire_on_crossing\": " + std::string(o.fire_on_crossing ? "true" : "false");
    j += ", \"alerts_fired_on_crossing\": " + std::to_string(stats.alerts_fired_on_crossing);
    j += ", \"samples\": " + std::to_string(samples);
    j += ", \"seconds\": " + Num(wall);
    j += ", \"cpu_seconds\": " + Num(cpu);
    j += ", \"producers\": " + std::to_string(o.producers);
    j += ", \"shards\": " + std::to_string(o.shards);
    j += ", \"step_ms\": " + std::to_string(o.step_ms);
    j += ", \"input\": " + JsonString(o.input.empty() ? "synthetic" : o.input);
    if (!o.input.empty()) {
      j += ", \"decode_ns_per_sample\": " +
           Num(samples > 0 ? decode_cpu * 1e9 / static_cast<double>(samples) : 0);
    }
    if (o.rate > 0) j += ", \"rate\": " + Num(o.rate);
    j += ", \"shard_bytes_per_series\": " +
         Num(series_live > 0 ? static_cast<double>(stats.memory_bytes) / static_cast<double>(series_live) : 0);
    j += ", \"incremental_evaluations\": " + std::to_string(stats.incremental_evaluations);
    j += ", \"evaluation_instants\": " + std::to_string(stats.evaluation_instants);
    j += ", \"rule_evaluations\": " + std::to_string(stats.rule_evaluations);
    j += ", \"rule_evaluations_skipped\": " + std::to_string(stats.rule_evaluations_skipped);
    j += ", \"rule_failures\": " + std::to_string(stats.rule_failures);
    j += ", \"samples_refused\": " + std::to_string(stats.samples_refused);
    j += ", \"samples_rejected\": " + std::to_string(stats.samples_rejected);
    j += ", \"build\": " + JsonString(build);
    j += "}";
    std::printf("%s\n", j.c_str());
  } else {
    std::printf("samples/s          %.0f\ncpu ns/sample      %.1f\nseries             %" PRIu64
                "\nrules              %zu\nalerts fired       %" PRIu64
                "\nalert latency us   p50 %.1f  p99 %.1f  max %.1f\nbytes/series       %.1f\n"
                "heap bytes/series  %.1f\nfull eval ms       %.1f (cpu %.1f)\n"
                "eval cpu ms/inst   %.2f\nactive alerts      %" PRIu64 " (firing %" PRIu64 ")\n",
                sps, ns_per_sample, series_live, (*rules)->rule_count(), latency->fired(), p50,
                p99, max, bytes_per_series, heap_bytes_per_series, full_eval->wall_ms,
                full_eval->cpu_ms, eval_cpu_ms_per_instant, active_alerts, firing_alerts);
  }
  return 0;
}

}  // namespace

int RunBench(const Args& args) {
  BenchOptions o;
  std::string write_marker_config;  // --write-marker-config DIR: write it and exit
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i];
    std::string value;
    const bool has_inline = name.rfind("--", 0) == 0 && name.find('=') != std::string::npos;
    if (has_inline) {
      value = name.substr(name.find('=') + 1);
      name = name.substr(0, name.find('='));
    }
    auto next = [&](std::string* out) {
      if (has_inline) {
        *out = value;
        return true;
      }
      if (i + 1 >= args.size()) return false;
      *out = args[++i];
      return true;
    };
    std::string v;
    if (name == "-h" || name == "--help") {
      std::printf("%s", kUsage);
      return 0;
    } else if (name == "--no-eager") {
      o.eager = false;
    } else if (name == "--no-incremental") {
      o.incremental = false;
    } else if (name == "--no-skip-quiet-rules") {
      o.skip_quiet_rules = false;
    } else if (name == "--inline-handlers") {
      o.inline_handlers = true;
    } else if (name == "--no-fire-on-crossing") {
      o.fire_on_crossing = false;
    } else if (name == "--fresh-markers") {
      o.remote.fresh_markers = true;
    } else if (!next(&v)) {
      return UsageError("missing value for " + name);
    } else if (name == "--rules") {
      o.rule_paths.push_back(v);
    } else if (name == "--series") {
      if (!ParseNumber(v, &o.series) || o.series == 0) return UsageError("bad --series " + v);
    } else if (name == "--producers") {
      if (!ParseNumber(v, &o.producers) || o.producers == 0) return UsageError("bad --producers " + v);
    } else if (name == "--shards") {
      if (!ParseNumber(v, &o.shards) || o.shards == 0) return UsageError("bad --shards " + v);
    } else if (name == "--seconds") {
      char* end = nullptr;
      o.seconds = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || *end != '\0' || !(o.seconds > 0)) return UsageError("bad --seconds " + v);
    } else if (name == "--input") {
      o.input = v;
    } else if (name == "--record") {
      o.record = v;
    } else if (name == "--format") {
      if (v != "json" && v != "text") return UsageError("--format must be json or text");
      o.json = v == "json";
    } else if (name == "--generated-rules") {
      if (!ParseNumber(v, &o.generated_rules)) return UsageError("bad --generated-rules " + v);
      o.generated_rules_set = true;
    } else if (name == "--workload") {
      if (v != "threshold" && v != "node") return UsageError("--workload must be threshold or node");
      o.workload = v;
    } else if (name == "--firing-fraction") {
      char* end = nullptr;
      o.firing_fraction = v == "most" ? 0.9 : std::strtod(v.c_str(), &end);
      if (v != "most" && (end == v.c_str() || *end != '\0' || !(o.firing_fraction >= 0) ||
                          o.firing_fraction > 1)) {
        return UsageError("bad --firing-fraction " + v + " (0 to 1, or most)");
      }
    } else if (name == "--arrival") {
      if (v != "spread" && v != "burst") return UsageError("--arrival must be spread or burst");
      o.arrival_spread = v == "spread";
    } else if (name == "--metrics") {
      if (!ParseNumber(v, &o.metrics) || o.metrics == 0) return UsageError("bad --metrics " + v);
    } else if (name == "--step") {
      auto d = promql::ParseDuration(v);
      if (!d.ok() || *d <= 0 || 60'000 % *d != 0) {
        return UsageError("bad --step " + v + " (a duration that divides 1m)");
      }
      o.step_ms = *d;
    } else if (name == "--spikes-per-step") {
      if (!ParseNumber(v, &o.spikes_per_step)) return UsageError("bad --spikes-per-step " + v);
    } else if (name == "--rate") {
      char* end = nullptr;
      o.rate = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || *end != '\0' || !(o.rate > 0)) return UsageError("bad --rate " + v);
    } else if (name == "--remote-write") {
      o.remote.url = v;
    } else if (name == "--connections") {
      if (!ParseNumber(v, &o.remote.connections) || o.remote.connections == 0 ||
          o.remote.connections > 256) {
        return UsageError("bad --connections " + v + " (1 to 256)");
      }
    } else if (name == "--samples-per-request") {
      if (!ParseNumber(v, &o.remote.samples_per_request) || o.remote.samples_per_request == 0) {
        return UsageError("bad --samples-per-request " + v);
      }
    } else if (name == "--pid") {
      if (!ParseNumber(v, &o.remote.pid) || o.remote.pid <= 0) return UsageError("bad --pid " + v);
    } else if (name == "--warmup") {
      char* end = nullptr;
      o.remote.warmup_seconds = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || *end != '\0' || !(o.remote.warmup_seconds >= 0)) {
        return UsageError("bad --warmup " + v);
      }
    } else if (name == "--markers") {
      char* end = nullptr;
      o.remote.markers_per_second = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || *end != '\0' || !(o.remote.markers_per_second > 0) ||
          o.remote.markers_per_second > 10'000) {
        return UsageError("bad --markers " + v + " (markers per second, at most 10000)");
      }
    } else if (name == "--webhook-listen") {
      o.remote.webhook_listen = v;
    } else if (name == "--marker-wait") {
      char* end = nullptr;
      o.remote.marker_wait_seconds = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || *end != '\0' || !(o.remote.marker_wait_seconds >= 0)) {
        return UsageError("bad --marker-wait " + v);
      }
    } else if (name == "--write-marker-config") {
      write_marker_config = v;
    } else if (name == "--full-eval-runs") {
      if (!ParseNumber(v, &o.full_eval_runs)) return UsageError("bad --full-eval-runs " + v);
    } else {
      return UsageError("unknown argument " + name);
    }
  }
  if (!write_marker_config.empty()) {
    if (o.remote.webhook_listen.ends_with(":0")) {
      return UsageError("--write-marker-config needs --webhook-listen HOST:PORT with a port");
    }
    if (Status st = WriteMarkerConfig(write_marker_config, o.remote.webhook_listen); !st.ok()) {
      std::fprintf(stderr, "nimify bench: %s\n", std::string(st.message()).c_str());
      return 1;
    }
    return 0;
  }
  if (o.spikes_per_step == 0) o.spikes_per_step = std::max<std::uint64_t>(o.series / 10'000, 1);
  if (o.producers > 1024) return UsageError("at most 1024 producers");
  if (!o.remote.url.empty()) {
    o.remote.series = o.series;
    o.remote.metrics = o.metrics;
    o.remote.input = o.input;
    o.remote.rate = o.rate;
    o.remote.seconds = o.seconds;
    return RunRemoteWriteBench(o.remote);
  }
  return Run(o);
}

}  // namespace nimify::cli
