// Fuzz entry for the remote-write decoder: the input as an uncompressed
// WriteRequest, as a snappy body, and snappy-compressed. Accepted requests
// must re-encode and decode to the same series, and decode the same again
// through a series reference cache that knows their label runs.
#include <snappy.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "fuzz/ingest_fuzz_checks.h"
#include "ingest/remote_write.h"
#include "ingest/series_ref_cache.h"

namespace {

using nimify::ingest::Batch;
using nimify::ingest::Limits;

bool SameSamples(const nimify::ingest::BatchSeries& a, const nimify::ingest::BatchSeries& b) {
  if (a.samples.size() != b.samples.size()) return false;
  for (std::size_t k = 0; k < a.samples.size(); ++k) {
    if (a.samples[k].t != b.samples[k].t || std::bit_cast<std::uint64_t>(a.samples[k].v) !=
                                                std::bit_cast<std::uint64_t>(b.samples[k].v)) {
      return false;
    }
  }
  return true;
}

// What nimifyd does with a request: decode with the cache, resolve the
// series it did not know (here: number them) and remember their label runs;
// then the same request again, which must find each of them and give the
// same samples, without decoding their labels. `plain` is the request decoded
// without a cache, into a prefilled batch.
void CheckCachedDecode(std::string_view body, const Limits& limits, const Batch& plain,
                       bool plain_ok) {
  nimify::ingest::SeriesRefCache cache;
  std::map<std::string, std::uint64_t> refs;  // the ref stored last for each run
  for (int pass = 0; pass < 2; ++pass) {
    Batch batch;
    nimify::ingest::fuzz::Prefill(&batch);  // as `plain` was
    const nimify::Status st = nimify::ingest::DecodeRemoteWrite(
        body, limits, &batch, nimify::ingest::RefLookup{&cache, 0});
    // (The second pass's known series have no label views to check.)
    if (pass == 0) nimify::ingest::fuzz::CheckOutcome(st, batch, /*require_samples=*/true);
    INGEST_FUZZ_CHECK(st.ok() == plain_ok);
    if (!st.ok()) return;
    INGEST_FUZZ_CHECK(batch.series_count() == plain.series_count());
    for (std::size_t i = 0; i < batch.series_count(); ++i) {
      const auto s = batch.series(i);
      const auto p = plain.series(i);
      INGEST_FUZZ_CHECK(SameSamples(s, p));
      if (s.label_key.empty()) {
        INGEST_FUZZ_CHECK(s.cached_ref == 0);
      } else {
        INGEST_FUZZ_CHECK(s.label_key_hash == nimify::ingest::SeriesRefCache::HashKey(s.label_key));
      }
      if (pass == 0 || s.label_key.empty()) {
        INGEST_FUZZ_CHECK(
            std::equal(s.labels.begin(), s.labels.end(), p.labels.begin(), p.labels.end()));
      }
      if (pass == 0 && !s.label_key.empty()) {
        INGEST_FUZZ_CHECK(s.cached_ref == 0);  // nothing is stored while decoding
        cache.Insert(s.label_key_hash, i + 1, 0);
        refs[std::string(s.label_key)] = i + 1;
      }
      if (pass == 1 && !s.label_key.empty()) {
        // Known: found, and its labels were not decoded again.
        INGEST_FUZZ_CHECK(s.cached_ref == refs[std::string(s.label_key)]);
        INGEST_FUZZ_CHECK(s.labels.empty());
        INGEST_FUZZ_CHECK(nimify::ingest::LabelKeyMetricName(s.label_key) == p.MetricName());
      }
    }
  }
}

void CheckRoundTrip(const Batch& batch) {
  const std::string encoded = nimify::ingest::EncodeRemoteWrite(batch);
  Batch again;
  INGEST_FUZZ_CHECK(nimify::ingest::DecodeRemoteWrite(encoded, Limits(), &again).ok());
  INGEST_FUZZ_CHECK(again.series_count() == batch.series_count());
  for (std::size_t i = 0; i < batch.series_count(); ++i) {
    const auto a = batch.series(i);
    const auto b = again.series(i);
    INGEST_FUZZ_CHECK(
        std::equal(a.labels.begin(), a.labels.end(), b.labels.begin(), b.labels.end()));
    INGEST_FUZZ_CHECK(a.samples.size() == b.samples.size());
    for (std::size_t k = 0; k < a.samples.size(); ++k) {
      INGEST_FUZZ_CHECK(a.samples[k].t == b.samples[k].t);
      INGEST_FUZZ_CHECK(std::bit_cast<std::uint64_t>(a.samples[k].v) ==
                        std::bit_cast<std::uint64_t>(b.samples[k].v));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  Limits limits;
  limits.max_labels_per_series = 16;
  limits.max_samples = 4096;

  Batch raw;
  nimify::ingest::fuzz::Prefill(&raw);
  const nimify::Status raw_status = nimify::ingest::DecodeWriteRequest(input, limits, &raw);
  nimify::ingest::fuzz::CheckOutcome(raw_status, raw, /*require_samples=*/true);
  if (raw_status.ok()) CheckRoundTrip(raw);

  Batch body;
  nimify::ingest::fuzz::Prefill(&body);
  nimify::ingest::fuzz::CheckOutcome(nimify::ingest::DecodeRemoteWrite(input, limits, &body), body,
                                     /*require_samples=*/true);

  std::string compressed;
  snappy::Compress(input.data(), input.size(), &compressed);
  Batch wrapped;
  nimify::ingest::fuzz::Prefill(&wrapped);
  const nimify::Status wrapped_status =
      nimify::ingest::DecodeRemoteWrite(compressed, limits, &wrapped);
  nimify::ingest::fuzz::CheckOutcome(wrapped_status, wrapped, /*require_samples=*/true);
  INGEST_FUZZ_CHECK(wrapped_status.ok() == raw_status.ok());
  CheckCachedDecode(compressed, limits, wrapped, wrapped_status.ok());
  return 0;
}

std::vector<std::string> IngestFuzzSeeds() {
  std::vector<std::string> seeds;
  Batch batch;
  const nimify::promql::Point points[] = {{1700000000000, 1}, {1700000015000, -0.5}};
  batch.AddSeries(
      nimify::promql::Labels{{"__name__", "up"}, {"job", "api"}, {"instance", "h:9090"}}, points);
  batch.AddSeries(nimify::promql::Labels{{"__name__", "node_cpu_seconds_total"}, {"mode", "idle"}},
                  std::span<const nimify::promql::Point>(points, 1));
  seeds.push_back(nimify::ingest::EncodeWriteRequest(batch));
  seeds.push_back(nimify::ingest::EncodeRemoteWrite(batch));
  // A request with an exemplar, a histogram, metadata and an unknown field.
  const auto field = [](char tag, const std::string& payload) {
    return std::string(1, tag) + static_cast<char>(payload.size()) + payload;
  };
  const std::string label = field('\x0a', "__name__") + field('\x12', "m");
  const std::string sample = "\x09" + std::string(8, '\x01') + "\x10\x05";
  const std::string series = field('\x0a', label) + field('\x12', sample) + field('\x1a', "") +
                             field('\x22', "\x08\x01") + "\x48\x07";
  seeds.push_back(field('\x0a', series) + field('\x1a', "\x12\x02mm"));
  return seeds;
}
