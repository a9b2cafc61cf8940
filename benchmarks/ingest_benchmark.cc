// Ingest codec benchmarks: remote-write decode (with and without snappy),
// decode plus series resolution through SeriesRefCache, encode, text exposition (0.0.4, OpenMetrics) and JSON lines parsing.
// Every benchmark reports items/s = samples/s and cpu_per_sample (CPU time).
#include <benchmark/benchmark.h>
#include <snappy.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "ingest/batch.h"
#include "ingest/json_lines.h"
#include "ingest/remote_write.h"
#include "ingest/series_ref_cache.h"
#include "ingest/text_format.h"

namespace nimify::ingest {
namespace {

// node_exporter-like series: 6 labels, ~180 bytes per sample in protobuf,
// values random enough that snappy does real work (~20 bytes per sample).
Batch MakeBatch(int series, int samples_per_series) {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> value(0, 1e6);
  static const char* const kModes[] = {"idle",    "iowait", "irq",  "nice",
                                       "softirq", "system", "user", "steal"};
  Batch batch;
  std::vector<promql::Point> points;
  for (int s = 0; s < series; ++s) {
    points.clear();
    for (int k = 0; k < samples_per_series; ++k) {
      points.push_back(
          {1'700'000'000'000 + 15'000 * k + static_cast<std::int64_t>(rng() % 1000), value(rng)});
    }
    char instance[32];
    std::snprintf(instance, sizeof(instance), "host-%04d:9100", s / 64);
    batch.AddSeries(promql::Labels{{"__name__", "node_cpu_seconds_total"},
                                   {"cpu", std::to_string(s % 8)},
                                   {"instance", instance},
                                   {"job", "node"},
                                   {"mode", kModes[(s / 8) % 8]},
                                   {"region", "eu-west-1"}},
                    points);
  }
  return batch;
}

void SetCounters(benchmark::State& state, std::size_t samples, std::size_t bytes) {
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * samples));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
  // Seconds of CPU per sample, printed with an SI prefix ("109.1ns").
  state.counters["cpu_per_sample"] = benchmark::Counter(
      static_cast<double>(samples),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// Args: series, samples per series.
void BM_RemoteWriteDecode(benchmark::State& state) {
  const Batch source =
      MakeBatch(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  const std::string body = EncodeRemoteWrite(source);
  Batch batch;
  for (auto _ : state) {
    batch.Clear();
    const Status status = DecodeRemoteWrite(body, Limits(), &batch);
    if (!status.ok()) state.SkipWithError(status.ToString().c_str());
    benchmark::DoNotOptimize(batch.sample_count());
  }
  SetCounters(state, source.sample_count(), body.size());
  state.counters["body_bytes_per_sample"] =
      static_cast<double>(body.size()) / static_cast<double>(source.sample_count());
}
BENCHMARK(BM_RemoteWriteDecode)->Args({1000, 1})->Args({100, 10})->Args({10000, 1});

// The protobuf walk alone (plus one memcpy of the request).
void BM_RemoteWriteDecodeUncompressed(benchmark::State& state) {
  const Batch source =
      MakeBatch(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  const std::string proto = EncodeWriteRequest(source);
  Batch batch;
  for (auto _ : state) {
    batch.Clear();
    const Status status = DecodeWriteRequest(proto, Limits(), &batch);
    if (!status.ok()) state.SkipWithError(status.ToString().c_str());
    benchmark::DoNotOptimize(batch.sample_count());
  }
  SetCounters(state, source.sample_count(), proto.size());
}
BENCHMARK(BM_RemoteWriteDecodeUncompressed)->Args({1000, 1})->Args({100, 10});

// A remote-write stream of `total` node_exporter-like series in requests of
// 1,000 series x 1 sample, as a receiver or `nimify bench --input` sees it.
std::vector<std::string> MakeBodies(int total) {
  const Batch all = MakeBatch(total, 1);
  std::vector<std::string> bodies;
  for (std::size_t begin = 0; begin < all.series_count(); begin += 1000) {
    Batch part;
    for (std::size_t i = begin; i < std::min<std::size_t>(all.series_count(), begin + 1000); ++i) {
      const BatchSeries s = all.series(i);
      part.AddSeries(s.ToLabels(), s.samples);
    }
    bodies.push_back(EncodeRemoteWrite(part));
  }
  return bodies;
}

// Reads 64 MiB of other memory, untimed, so that the next iteration starts
// with cold core caches and TLB, as a receiver at a few requests a second
// does (a large shared last-level cache may still hold some of its data).
void EvictCaches(benchmark::State& state) {
  static std::vector<std::uint64_t> junk(std::size_t{64} << 20 >> 3, 1);
  state.PauseTiming();
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < junk.size(); i += 8) sum += junk[i]++;
  benchmark::DoNotOptimize(sum);
  state.ResumeTiming();
}

// The loop the decode-and-resolve benchmarks share: each iteration decodes the
// next body with `decode(body, &batch)`, and `resolve(series)` turns each series
// into its ref, so that every sample becomes a (ref, t, v). Sets the per-sample
// counters. `cold`: each iteration starts after EvictCaches.
template <typename Decode, typename Resolve>
void RunDecodeResolve(benchmark::State& state, const std::vector<std::string>& bodies,
                      Decode decode, Resolve resolve, bool cold = false) {
  Batch batch;
  struct Out {
    std::uint64_t ref;
    std::int64_t t;
    double v;
  };
  std::vector<Out> out;
  std::size_t samples = 0, b = 0;
  for (auto _ : state) {
    if (cold) EvictCaches(state);
    batch.Clear();
    out.clear();
    const Status status = decode(bodies[b], &batch);
    if (!status.ok()) state.SkipWithError(status.ToString().c_str());
    for (std::size_t i = 0; i < batch.series_count(); ++i) {
      const BatchSeries s = batch.series(i);
      const std::uint64_t ref = resolve(s);
      for (const promql::Point& p : s.samples) out.push_back({ref, p.t, p.v});
    }
    samples += out.size();
    benchmark::DoNotOptimize(out.data());
    b = b + 1 == bodies.size() ? 0 : b + 1;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(samples));
  state.counters["cpu_per_sample"] = benchmark::Counter(
      static_cast<double>(samples) / static_cast<double>(state.iterations()),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// Decode plus series resolution through SeriesRefCache (what nimifyd and
// `nimify bench --input` do per request once the series exist): every series
// becomes a (ref, t, v) sample. Arg: series in the stream (the working set).
void BM_RemoteWriteDecodeResolve(benchmark::State& state) {
  const std::vector<std::string> bodies = MakeBodies(static_cast<int>(state.range(0)));
  SeriesRefCache cache;
  std::uint64_t next_ref = 1;
  RunDecodeResolve(
      state, bodies,
      [](const std::string& body, Batch* batch) {
        return DecodeRemoteWrite(body, Limits(), batch);
      },
      [&](const BatchSeries& s) {
        const KeyHash hash = SeriesRefCache::Hash(s.labels);
        std::uint64_t ref = cache.Find(hash, 0);
        if (ref == 0) {
          ref = next_ref++;  // the engine's Resolve, once per series
          cache.Insert(hash, ref, 0);
        }
        return ref;
      });
  state.counters["series_resolved"] = static_cast<double>(next_ref - 1);
}
BENCHMARK(BM_RemoteWriteDecodeResolve)->Arg(1000)->Arg(100000);

// The same, as nimifyd does it now: the decoder looks series up by their
// encoded labels (RefLookup), prefetching ahead, and skips the label checks
// and views of the series it finds. Args: series in the stream; cold: 1 to
// start each request with cold caches (nimifyd at 100 requests/s), 0 for
// back-to-back requests (the saturated rate).
void BM_RemoteWriteDecodeResolveEncodedKey(benchmark::State& state) {
  const std::vector<std::string> bodies = MakeBodies(static_cast<int>(state.range(0)));
  SeriesRefCache cache;
  std::uint64_t next_ref = 1;
  RunDecodeResolve(
      state, bodies,
      [&](const std::string& body, Batch* batch) {
        return DecodeRemoteWrite(body, Limits(), batch, RefLookup{&cache, 0});
      },
      [&](const BatchSeries& s) {
        std::uint64_t ref = s.cached_ref;
        if (ref == 0) {
          ref = next_ref++;  // the engine's Resolve, once per series
          cache.Insert(s.label_key_hash, ref, 0);
        }
        return ref;
      },
      state.range(1) != 0);
  state.counters["series_resolved"] = static_cast<double>(next_ref - 1);
  // Heap of the slot tables (capacity), per series cached.
  state.counters["cache_bytes_per_series"] =
      static_cast<double>(cache.memory_bytes()) / static_cast<double>(next_ref - 1);
}
BENCHMARK(BM_RemoteWriteDecodeResolveEncodedKey)
    ->ArgNames({"series", "cold"})
    ->Args({1000, 0})
    ->Args({100000, 0})
    ->Args({50000, 1});

// The same with the cache nimifyd had before SeriesRefCache, for the ratio in
// one run: a std::unordered_map keyed by length-prefixed label text, the key
// built per series.
void BM_RemoteWriteDecodeResolveTextKey(benchmark::State& state) {
  const std::vector<std::string> bodies = MakeBodies(static_cast<int>(state.range(0)));
  std::unordered_map<std::string, std::uint64_t> cache;
  std::uint64_t next_ref = 1;
  std::string key;
  RunDecodeResolve(
      state, bodies,
      [](const std::string& body, Batch* batch) { return DecodeRemoteWrite(body, Limits(), batch); },
      [&](const BatchSeries& s) {
        key.clear();
        for (const LabelPair& l : s.labels) {
          for (std::string_view v : {l.name, l.value}) {
            const auto n = static_cast<std::uint32_t>(v.size());
            key.append(reinterpret_cast<const char*>(&n), sizeof(n));
            key.append(v);
          }
        }
        auto [it, inserted] = cache.try_emplace(key, 0);
        if (inserted) it->second = next_ref++;
        return it->second;
      });
}
BENCHMARK(BM_RemoteWriteDecodeResolveTextKey)->Arg(1000)->Arg(100000);

// What the flat batch saves: converting a decoded batch to promql::Labels /
// promql::Series (one allocation per label string) on top of the decode.
void BM_BatchToPromqlSeries(benchmark::State& state) {
  const Batch source = MakeBatch(1000, 1);
  Batch batch;
  if (!DecodeRemoteWrite(EncodeRemoteWrite(source), Limits(), &batch).ok()) {
    state.SkipWithError("decode failed");
  }
  for (auto _ : state) {
    std::vector<promql::Series> series = batch.ToSeries();
    benchmark::DoNotOptimize(series.data());
  }
  SetCounters(state, batch.sample_count(), 0);
}
BENCHMARK(BM_BatchToPromqlSeries);

// snappy alone, for comparison with the decode numbers.
void BM_SnappyUncompress(benchmark::State& state) {
  const Batch source = MakeBatch(1000, 1);
  const std::string body = EncodeRemoteWrite(source);
  std::string out;
  for (auto _ : state) {
    snappy::Uncompress(body.data(), body.size(), &out);
    benchmark::DoNotOptimize(out.data());
  }
  SetCounters(state, source.sample_count(), body.size());
}
BENCHMARK(BM_SnappyUncompress);

void BM_RemoteWriteEncode(benchmark::State& state) {
  const Batch source = MakeBatch(1000, 1);
  for (auto _ : state) {
    std::string body = EncodeRemoteWrite(source);
    benchmark::DoNotOptimize(body.data());
  }
  SetCounters(state, source.sample_count(), 0);
}
BENCHMARK(BM_RemoteWriteEncode);

std::string Exposition(const Batch& batch, bool openmetrics) {
  std::string out;
  std::string last_name;
  for (std::size_t i = 0; i < batch.series_count(); ++i) {
    const BatchSeries s = batch.series(i);
    if (s.MetricName() != last_name) {
      last_name = std::string(s.MetricName());
      out += "# HELP " + last_name + " Seconds the CPUs spent in each mode.\n";
      out += "# TYPE " + last_name + " counter\n";
    }
    out += last_name;
    out += '{';
    bool first = true;
    for (const LabelPair& l : s.labels) {
      if (l.name == "__name__") continue;
      if (!first) out += ',';
      first = false;
      out.append(l.name);
      out += "=\"";
      out.append(l.value);
      out += '"';
    }
    char value[64];
    std::snprintf(value, sizeof(value), "} %.17g\n", s.samples[0].v);
    out += value;
  }
  if (openmetrics) out += "# EOF\n";
  return out;
}

void BM_TextParse(benchmark::State& state) {
  const bool openmetrics = state.range(0) != 0;
  const Batch source = MakeBatch(1000, 1);
  const std::string body = Exposition(source, openmetrics);
  TextOptions options;
  options.format = openmetrics ? TextFormat::kOpenMetrics : TextFormat::kPrometheus;
  options.default_timestamp_ms = 1'700'000'000'000;
  Batch batch;
  for (auto _ : state) {
    batch.Clear();
    const Status status = DecodeText(body, options, Limits(), &batch);
    if (!status.ok()) state.SkipWithError(status.ToString().c_str());
    benchmark::DoNotOptimize(batch.sample_count());
  }
  SetCounters(state, source.sample_count(), body.size());
}
BENCHMARK(BM_TextParse)->ArgName("openmetrics")->Arg(0)->Arg(1);

void BM_JsonLinesParse(benchmark::State& state) {
  const int samples_per_series = static_cast<int>(state.range(0));
  const Batch source = MakeBatch(1000, samples_per_series);
  std::string body;
  for (std::size_t i = 0; i < source.series_count(); ++i) {
    const BatchSeries s = source.series(i);
    body += "{\"labels\": {";
    for (std::size_t k = 0; k < s.labels.size(); ++k) {
      if (k > 0) body += ", ";
      body +=
          "\"" + std::string(s.labels[k].name) + "\": \"" + std::string(s.labels[k].value) + "\"";
    }
    body += "}, \"samples\": [";
    for (std::size_t k = 0; k < s.samples.size(); ++k) {
      char sample[64];
      std::snprintf(sample, sizeof(sample), "%s[%lld, %.17g]", k > 0 ? ", " : "",
                    static_cast<long long>(s.samples[k].t), s.samples[k].v);
      body += sample;
    }
    body += "]}\n";
  }
  Batch batch;
  for (auto _ : state) {
    batch.Clear();
    const Status status = DecodeJsonLines(body, Limits(), &batch);
    if (!status.ok()) state.SkipWithError(status.ToString().c_str());
    benchmark::DoNotOptimize(batch.sample_count());
  }
  SetCounters(state, source.sample_count(), body.size());
}
BENCHMARK(BM_JsonLinesParse)->ArgName("samples_per_line")->Arg(1)->Arg(10);

}  // namespace
}  // namespace nimify::ingest

BENCHMARK_MAIN();
