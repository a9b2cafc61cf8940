// Batch: what every ingest decoder produces and the pipeline consumes.
//
// A batch is a list of series, each a sorted label set plus its samples. Label
// names and values are string_views into memory the batch owns (an arena, or
// for remote write the decompressed request itself), so decoding copies no
// label text per series and a batch can be moved without invalidating views.
//
//   ingest::Batch batch;
//   NIMIFY_RETURN_IF_ERROR(ingest::DecodeRemoteWrite(body, {}, &batch));
//   for (std::size_t i = 0; i < batch.series_count(); ++i) {
//     ingest::BatchSeries s = batch.series(i);  // s.labels, s.samples
//   }
//
// Decoders append to a batch and are all-or-nothing: on error the batch is
// exactly as it was before the call. A batch may hold the same label set more
// than once (remote write allows it, and so does a text exposition with explicit
// timestamps); samples within a series keep their input order.
//
// Thread safety: none; a batch is used by one thread at a time.
#ifndef NIMIFY_INGEST_BATCH_H_
#define NIMIFY_INGEST_BATCH_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "promql/labels.h"
#include "promql/value.h"

namespace nimify::ingest {

// Limits on untrusted input, shared by every decoder. A decoder that hits one
// fails with kResourceExhausted and names the limit.
struct Limits {
  // Bytes of the body as received (for remote write: the snappy-compressed body).
  std::size_t max_body_bytes = 32u << 20;
  // Remote write only: bytes after snappy decompression.
  std::size_t max_decompressed_bytes = 32u << 20;
  // Labels per series as received (__name__ and labels with empty values
  // included), checked as they arrive so that memory stays bounded.
  std::size_t max_labels_per_series = 128;
  std::size_t max_label_name_bytes = 1024;
  std::size_t max_label_value_bytes = 16u << 10;
  // Samples decoded from one body.
  std::size_t max_samples = 2'000'000;
  // Reject series without a __name__ label (Prometheus's remote-write handler
  // and scrape both require one).
  bool require_metric_name = true;
};

// One label; both views point into memory owned by the batch.
struct LabelPair {
  std::string_view name;
  std::string_view value;
  friend bool operator==(const LabelPair&, const LabelPair&) = default;
};

// A 128-bit hash of a series key (SeriesRefCache::Hash, HashKey): `where`
// places the key in the cache's table, and with `check` identifies it.
struct KeyHash {
  std::uint64_t where = 0;
  std::uint64_t check = 0;
  friend bool operator==(const KeyHash&, const KeyHash&) = default;
};

// A read-only view of one series of a batch, valid until the batch is
// cleared, rolled back or destroyed (moving the batch keeps it valid).
struct BatchSeries {
  // Sorted by name, names unique, no empty values.
  std::span<const LabelPair> labels;
  // Timestamps are Unix milliseconds; input order.
  std::span<const promql::Point> samples;
  // Set by decoders that key a SeriesRefCache by encoded labels (remote
  // write with a RefLookup): the label set's bytes as received (empty when
  // the decoder could not take them as one run), HashKey of them, and the
  // ref the cache held for them (0: absent; labels then checked as usual).
  std::string_view label_key;
  KeyHash label_key_hash;
  std::uint64_t cached_ref = 0;

  // Empty when absent.
  std::string_view Get(std::string_view name) const noexcept;
  std::string_view MetricName() const noexcept { return Get(promql::kMetricNameLabel); }
  // Copies the label set into the PromQL representation.
  promql::Labels ToLabels() const;
};

// Things a decoder read and deliberately did not turn into samples.
struct BatchStats {
  // Remote write: native histograms (TimeSeries field 4), not supported yet.
  std::size_t histograms_skipped = 0;
  // Remote-write exemplars (TimeSeries field 3) and OpenMetrics exemplars.
  std::size_t exemplars_skipped = 0;
  // Remote-write metadata entries (WriteRequest field 3).
  std::size_t metadata_skipped = 0;
  // Text exposition: a repeated series without explicit timestamp; dropped, as
  // Prometheus's scrape drops it ("duplicate sample for timestamp").
  std::size_t duplicates_dropped = 0;
  friend bool operator==(const BatchStats&, const BatchStats&) = default;
};

class Batch {
 public:
  Batch();
  ~Batch();
  Batch(Batch&&) noexcept;
  Batch& operator=(Batch&&) noexcept;
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;

  std::size_t series_count() const noexcept { return series_.size(); }
  std::size_t sample_count() const noexcept { return samples_.size(); }
  bool empty() const noexcept { return series_.empty(); }
  // REQUIRES: i < series_count().
  BatchSeries series(std::size_t i) const noexcept;
  const BatchStats& stats() const noexcept { return stats_; }

  // Copies into the PromQL representation, one Series per batch series.
  std::vector<promql::Series> ToSeries() const;

  // Appends a series, copying the label text. Samples may be empty.
  void AddSeries(const promql::Labels& labels, std::span<const promql::Point> samples);

  // Removes everything; keeps some memory for reuse, among it the largest
  // input buffer (a decompressed remote-write request), so that a batch
  // reused across requests decodes without allocating.
  void Clear();

  // Same series (labels, and samples compared bit for bit so NaNs compare) and stats.
  friend bool operator==(const Batch& a, const Batch& b) noexcept;

 private:
  friend class BatchBuilder;

  struct SeriesEntry {
    std::size_t label_begin;
    std::size_t label_count;
    std::size_t sample_begin;
    std::size_t sample_count;
    std::string_view label_key;
    KeyHash label_key_hash;
    std::uint64_t cached_ref;
  };

  // Bump allocator for label text: fixed-size blocks that never move, so views
  // stay valid. Allocations too big for a block go to buffers_.
  struct Arena {
    std::vector<std::unique_ptr<char[]>> blocks;
    std::size_t used = 0;  // bytes used in blocks.back()
  };

  char* Allocate(std::size_t n);

  std::vector<SeriesEntry> series_;
  std::vector<LabelPair> labels_;
  std::vector<promql::Point> samples_;
  Arena arena_;
  std::vector<std::unique_ptr<char[]>> buffers_;  // adopted input and big allocations
  std::vector<std::size_t> buffer_sizes_;         // bytes of each of buffers_; 0: unknown
  std::unique_ptr<char[]> spare_;                 // kept by Clear() for the next input
  std::size_t spare_size_ = 0;
  BatchStats stats_;
};

// Appends to a batch on behalf of a decoder. Until Commit(), everything added
// is provisional: destroying the builder without Commit() restores the batch
// to its state at construction. Not for consumers of batches.
class BatchBuilder {
 public:
  explicit BatchBuilder(Batch* batch);
  ~BatchBuilder();
  BatchBuilder(const BatchBuilder&) = delete;
  BatchBuilder& operator=(const BatchBuilder&) = delete;

  // Makes everything added so far permanent.
  void Commit() noexcept { committed_ = true; }

  // Stable copy of `s` in the batch's arena.
  std::string_view CopyString(std::string_view s);
  // `n` stable bytes in the arena, for text the caller unescapes in place.
  char* AllocateBytes(std::size_t n) { return batch_->Allocate(n); }
  // Keeps `buffer` alive as long as the batch; views into it may be added.
  void AdoptBuffer(std::unique_ptr<char[]> buffer);
  // `n` bytes (n > 0) that live as long as the batch, for input the decoder
  // keeps views into: the buffer Clear() kept when it is large enough.
  char* InputBuffer(std::size_t n);

  // A series is built by adding its labels and samples, then FinishSeries().
  // DiscardSeries() drops the labels and samples added since the last Finish.
  void AddLabel(std::string_view name, std::string_view value) {
    batch_->labels_.push_back(LabelPair{name, value});
  }
  void AddSample(std::int64_t t, double v) { batch_->samples_.push_back(promql::Point{t, v}); }
  // The labels of the series in progress, for sorting and validation.
  std::span<LabelPair> pending_labels() noexcept {
    return std::span<LabelPair>(batch_->labels_).subspan(label_begin_);
  }
  std::size_t pending_sample_count() const noexcept {
    return batch_->samples_.size() - sample_begin_;
  }
  // Drops the last `n` pending labels (e.g. labels with empty values).
  void PopLabels(std::size_t n) { batch_->labels_.resize(batch_->labels_.size() - n); }
  // For the series in progress (see BatchSeries::label_key); reset by Finish/Discard.
  void SetLabelKey(std::string_view key, KeyHash hash, std::uint64_t cached_ref) noexcept {
    label_key_ = key;
    label_key_hash_ = hash;
    cached_ref_ = cached_ref;
  }
  void FinishSeries();
  void DiscardSeries();

  // Samples added through this builder (committed or not).
  std::size_t samples_added() const noexcept { return batch_->samples_.size() - start_samples_; }
  // The batch as it is now (series finished so far).
  const Batch& batch() const noexcept { return *batch_; }
  BatchStats& stats() noexcept { return batch_->stats_; }

 private:
  Batch* batch_;
  bool committed_ = false;
  // State at construction, restored on rollback.
  std::size_t start_series_;
  std::size_t start_labels_;
  std::size_t start_samples_;
  std::size_t start_blocks_;
  std::size_t start_arena_used_;
  std::size_t start_buffers_;
  BatchStats start_stats_;
  // Start of the series in progress.
  std::size_t label_begin_;
  std::size_t sample_begin_;
  std::string_view label_key_;
  KeyHash label_key_hash_;
  std::uint64_t cached_ref_ = 0;
};

}  // namespace nimify::ingest

#endif  // NIMIFY_INGEST_BATCH_H_
