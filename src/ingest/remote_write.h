// Prometheus remote write 1.0: the request body is the snappy *block* format
// (not framed) of a protobuf prometheus.WriteRequest:
//
//   WriteRequest { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3; }
//   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2;
//                  repeated Exemplar exemplars = 3; repeated Histogram histograms = 4; }
//   Label        { string name = 1; string value = 2; }
//   Sample       { double value = 1; int64 timestamp = 2; }  // timestamp in ms
//
//   ingest::Batch batch;
//   Status s = ingest::DecodeRemoteWrite(http_body, ingest::Limits(), &batch);
//   if (!s.ok()) reply 400 with s.message();
//
// The protobuf wire format is walked directly; label names and values point
// into the decompressed request, which the batch keeps (in the buffer that
// Batch::Clear() kept from an earlier request when it is large enough: a batch
// reused per thread decodes without allocating). What is checked:
//   - wire format: truncated or overlong (more than 64-bit) varints, lengths past
//     the end of their message, field number 0, wrong wire types for the fields
//     above (unknown fields are skipped by wire type, groups included);
//   - labels: names [a-zA-Z_][a-zA-Z0-9_]*, __name__ a valid metric name and
//     present (Limits::require_metric_name), values valid UTF-8, no duplicate
//     names, the limits in Limits. Unsorted labels are accepted and sorted (as
//     Prometheus does); labels with empty values are dropped.
// Samples keep their bits, so a staleness NaN stays one. Native histograms,
// exemplars and metadata are skipped and counted in BatchStats; a series left
// without samples is not added. In proto fields repeated for a singular field
// the last one wins, as in protobuf.
#ifndef NIMIFY_INGEST_REMOTE_WRITE_H_
#define NIMIFY_INGEST_REMOTE_WRITE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "ingest/batch.h"
#include "ingest/series_ref_cache.h"
#include "nimify/status.h"

namespace nimify::ingest {

// A series reference cache consulted while decoding (the overload below).
struct RefLookup {
  SeriesRefCache* cache = nullptr;
  std::int64_t now_ms = 0;
};

// Decompresses and decodes a remote-write body, appending its series to `out`.
// All-or-nothing: on error `out` is unchanged and the message says where
// ("remote write: offset 123: timeseries[4].labels[1]: ..."; offsets count bytes
// of the decompressed protobuf). Errors: kInvalidArgument (bad snappy, bad
// protobuf, bad labels), kResourceExhausted (a limit).
Status DecodeRemoteWrite(std::string_view body, const Limits& limits, Batch* out);

// The same, keying `lookup.cache` by each series' encoded labels (when its
// label fields form one run, as Prometheus writes them): every BatchSeries
// gets label_key, label_key_hash and cached_ref (the cache's Find). A series
// the cache knows skips the per-label checks: its exact bytes passed them
// when it was resolved (Insert a key only after a successful resolve, and
// use one cache with one set of Limits) and is not decoded into label views
// either: its BatchSeries::labels is empty (LabelKeyMetricName reads its
// name for messages). Lookups of a request are prefetched ahead. The cache
// is only read (and its use times refreshed).
Status DecodeRemoteWrite(std::string_view body, const Limits& limits, Batch* out,
                         const RefLookup& lookup);

// The __name__ of a label key (BatchSeries::label_key) that was decoded
// before; empty when absent.
std::string_view LabelKeyMetricName(std::string_view label_key) noexcept;

// The same for an uncompressed WriteRequest. Copies `proto` into the batch.
Status DecodeWriteRequest(std::string_view proto, const Limits& limits, Batch* out);

// Serialises `batch` as a WriteRequest, one TimeSeries per batch series, with
// the bytes libprotobuf would write (fields in order, proto3 defaults omitted).
std::string EncodeWriteRequest(const Batch& batch);

// EncodeWriteRequest, snappy-compressed: a remote-write request body.
std::string EncodeRemoteWrite(const Batch& batch);

}  // namespace nimify::ingest

#endif  // NIMIFY_INGEST_REMOTE_WRITE_H_
