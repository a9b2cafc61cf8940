// The write endpoints: remote write, text exposition and JSON lines imports.
#include <snappy.h>

#include <chrono>

#include "daemon/daemon_impl.h"
#include "daemon/prom_api.h"
#include "ingest/batch.h"
#include "ingest/json_lines.h"
#include "ingest/remote_write.h"
#include "ingest/series_ref_cache.h"
#include "ingest/text_format.h"

namespace nimify::daemon {
namespace {

HttpResponse BadData(std::string_view message) {
  return HttpResponse::Text(400, std::string(message) + "\n");
}

// A known remote-write series has no label views, only its encoded labels.
std::string MetricName(const ingest::BatchSeries& s) {
  return std::string(s.labels.empty() ? ingest::LabelKeyMetricName(s.label_key)
                                      : s.MetricName());
}

ingest::Limits DecodeLimits(const RequestLimits& l) {
  ingest::Limits limits;
  limits.max_body_bytes = l.max_body_bytes;
  limits.max_decompressed_bytes = l.max_decompressed_bytes;
  limits.max_samples = l.max_samples_per_request;
  return limits;
}

}  // namespace

HttpResponse Daemon::Impl::AppendBatch(std::size_t worker_index, const ingest::Batch& batch) {
  IngestWorker& w = *workers[worker_index % workers.size()];
  MutexLock lock(w.mu);
  if (w.producer == nullptr) {
    return HttpResponse::Text(503, "shutting down\n");
  }
  metrics.samples_received.fetch_add(batch.sample_count(), std::memory_order_relaxed);
  const std::int64_t now = WallClockMs();
  const std::int64_t oldest = now - max_sample_age_ms;
  const std::int64_t newest = now + max_future_ms;
  std::uint64_t appended = 0, late = 0, too_old = 0, too_new = 0, unresolved = 0;
  std::uint64_t late_refused = 0;
  std::string first_bad_series, first_late_refusal;
  HttpResponse result;
  result.status = 204;
  // The request's samples in order, appended in one call; per I/O thread, so
  // their memory is reused. sample_series maps each back to its series (for
  // the error messages).
  thread_local std::vector<Sample> samples;
  thread_local std::vector<std::uint32_t> sample_series;
  samples.clear();
  sample_series.clear();
  for (std::size_t i = 0; i < batch.series_count(); ++i) {
    const ingest::BatchSeries s = batch.series(i);
    // Remote write resolved known series while decoding (cached_ref); a
    // series it did not know is keyed by its encoded labels (label_key).
    const ingest::KeyHash key = ingest::SeriesRefCache::KeyOf(s);
    SeriesRef ref = w.cache.FindSeries(s, key, now);
    if (ref == 0) {
      w.labels.clear();
      for (const ingest::LabelPair& l : s.labels) w.labels.push_back(Label{l.name, l.value});
      Result<SeriesRef> r = w.producer->Resolve(w.labels);
      metrics.series_resolved.fetch_add(1, std::memory_order_relaxed);
      if (!r.ok()) {
        unresolved += s.samples.size();
        // A bad label set or the series limit: retrying the same body cannot help.
        if (result.status == 204) {
          result = BadData("series " + MetricName(s) + ": " +
                           std::string(r.status().message()));
        }
        continue;
      }
      ref = *r;
      w.cache.Insert(key, ref, now);
    }
    for (const promql::Point& p : s.samples) {
      if (p.t < oldest) {
        ++too_old;
        if (first_bad_series.empty()) first_bad_series = MetricName(s);
        continue;
      }
      if (p.t > newest) {
        ++too_new;
        if (first_bad_series.empty()) first_bad_series = MetricName(s);
        continue;
      }
      samples.push_back(Sample{ref, p.t, p.v});
      sample_series.push_back(static_cast<std::uint32_t>(i));
    }
  }
  // Samples at or below the watermark (a backlog, or batches not in time
  // order across series) are stored by the engine for the evaluations to
  // come, up to engine.max_late_age behind the watermark; older ones are
  // refused (kOutOfRange, a 400 below). Bad refs count as unresolved.
  AppendOutcome outcome;
  const Status st = w.producer->AppendBatch(samples, &outcome);
  appended = outcome.accepted;
  late = outcome.accepted_late;
  unresolved += outcome.invalid;
  late_refused = outcome.too_late;
  if (late_refused > 0) {
    first_late_refusal = outcome.too_late_message;
    if (first_bad_series.empty()) {
      first_bad_series = MetricName(batch.series(sample_series[outcome.first_too_late]));
    }
  }
  const bool pushed_back = !st.ok();
  if (pushed_back) {
    // Backpressure (full rings) or a stopping engine: Prometheus retries
    // the whole request on 429/503; what was appended is deduplicated
    // by the shards (same timestamp and value).
    metrics.ingest_requests_refused.fetch_add(1, std::memory_order_relaxed);
    metrics.samples_refused.fetch_add(
        batch.sample_count() - appended - late_refused - too_old - too_new - unresolved,
        std::memory_order_relaxed);
    const bool stopping = st.code() == StatusCode::kFailedPrecondition;
    result = HttpResponse::Text(stopping ? 503 : 429,
                                std::string(stopping ? "shutting down: " : "overloaded: ") +
                                    std::string(st.message()) + "\n");
    result.headers.emplace_back("Retry-After", "1");
  }
  (void)w.producer->Flush();
  metrics.samples_appended.fetch_add(appended, std::memory_order_relaxed);
  metrics.samples_refused.fetch_add(unresolved, std::memory_order_relaxed);
  metrics.samples_late.fetch_add(late, std::memory_order_relaxed);
  metrics.samples_late_refused.fetch_add(late_refused, std::memory_order_relaxed);
  metrics.samples_too_old.fetch_add(too_old + too_new, std::memory_order_relaxed);
  // As Prometheus 3's receiver: the other samples of the request are kept.
  // (Prometheus 2.42 rolls the whole request back on the first such sample.)
  if (!pushed_back && result.status == 204 && late_refused > 0 && too_old == 0 && too_new == 0) {
    result = BadData("out of bounds: " + std::to_string(late_refused) +
                     " samples too late to be stored (" + first_late_refusal + "), e.g. series " +
                     first_bad_series);
  } else if (!pushed_back && result.status == 204 && (too_old > 0 || too_new > 0)) {
    // Out of bounds, as Prometheus's receiver answers it: 400, not retried.
    std::string msg = "out of bounds: ";
    if (too_old > 0) {
      msg += std::to_string(too_old) + " samples older than the maximum sample age (" +
             std::to_string(max_sample_age_ms / 1000) + "s)";
    }
    if (too_new > 0) {
      if (too_old > 0) msg += ", ";
      msg += std::to_string(too_new) + " samples too far in the future";
    }
    msg += ", e.g. series " + first_bad_series;
    result = BadData(msg);
  }
  return result;
}

HttpResponse Daemon::Impl::RemoteWrite(const HttpRequest& req) {
  if (!req.content_encoding.empty() && req.content_encoding != "snappy") {
    return HttpResponse::Text(415, "unsupported Content-Encoding \"" + req.content_encoding +
                                       "\": remote write bodies are snappy-compressed\n");
  }
  // Remote write 2.0 (io.prometheus.write.v2.Request) is not supported; 415
  // makes Prometheus fall back or report it clearly.
  if (req.content_type.find("io.prometheus.write.v2") != std::string::npos) {
    return HttpResponse::Text(415, "remote write 2.0 is not supported; use protobuf_message: "
                                   "prometheus.WriteRequest\n");
  }
  // Check the claimed size before inflating anything: a few bytes can
  // announce gigabytes.
  std::size_t size = 0;
  if (!snappy::GetUncompressedLength(req.body.data(), req.body.size(), &size)) {
    return BadData("remote write: body is not snappy block-format data (bad length header)");
  }
  if (size > limits.max_decompressed_bytes) {
    return BadData("remote write: decompressed body would be " + std::to_string(size) +
                   " bytes, over the limit of " +
                   std::to_string(limits.max_decompressed_bytes));
  }
  // One batch per I/O thread, reused: its vectors and the decompression
  // buffer stay allocated between requests.
  thread_local ingest::Batch batch;
  batch.Clear();
  Status st;
  {
    // The worker's cache resolves known series during decoding. A ref found
    // here stays a ref of the engine whatever the cache does before AppendBatch.
    IngestWorker& w = *workers[req.worker % workers.size()];
    MutexLock lock(w.mu);
    st = ingest::DecodeRemoteWrite(req.body, DecodeLimits(limits), &batch,
                                   ingest::RefLookup{&w.cache, WallClockMs()});
  }
  if (!st.ok()) return BadData(st.message());
  return AppendBatch(req.worker, batch);
}

HttpResponse Daemon::Impl::ImportText(const HttpRequest& req) {
  Params params;
  if (Status st = params.AddEncoded(req.query); !st.ok()) return BadData(st.message());
  ingest::TextOptions opts;
  opts.format = ingest::TextFormatFromContentType(req.content_type);
  opts.default_timestamp_ms = WallClockMs();
  if (auto t = params.Get("timestamp")) {
    Result<std::int64_t> ts = ParseApiTime(*t);
    if (!ts.ok()) return BadData("invalid parameter \"timestamp\": " + std::string(ts.status().message()));
    opts.default_timestamp_ms = *ts;
  }
  ingest::Batch batch;
  const Status st = ingest::DecodeText(req.body, opts, DecodeLimits(limits), &batch);
  if (!st.ok()) return BadData(st.message());
  return AppendBatch(req.worker, batch);
}

HttpResponse Daemon::Impl::ImportJson(const HttpRequest& req) {
  ingest::Batch batch;
  const Status st = ingest::DecodeJsonLines(req.body, DecodeLimits(limits), &batch);
  if (!st.ok()) return BadData(st.message());
  return AppendBatch(req.worker, batch);
}

}  // namespace nimify::daemon
