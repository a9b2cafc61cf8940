#include "ingest/batch.h"

#include <bit>
#include <cstring>
#include <utility>

namespace nimify::ingest {

namespace {

constexpr std::size_t kArenaBlockBytes = 64u << 10;
// Bigger allocations get their own buffer so that they do not waste a block.
constexpr std::size_t kArenaMaxInBlock = kArenaBlockBytes / 8;

}  // namespace

std::string_view BatchSeries::Get(std::string_view name) const noexcept {
  for (const LabelPair& l : labels) {
    if (l.name == name) return l.value;
  }
  return {};
}

promql::Labels BatchSeries::ToLabels() const {
  std::vector<promql::Label> out;
  out.reserve(labels.size());
  for (const LabelPair& l : labels) {
    out.push_back(promql::Label{std::string(l.name), std::string(l.value)});
  }
  return promql::Labels::FromUnsorted(std::move(out));
}

Batch::Batch() = default;
Batch::~Batch() = default;
Batch::Batch(Batch&&) noexcept = default;
Batch& Batch::operator=(Batch&&) noexcept = default;

BatchSeries Batch::series(std::size_t i) const noexcept {
  const SeriesEntry& e = series_[i];
  return BatchSeries{
      std::span<const LabelPair>(labels_.data() + e.label_begin, e.label_count),
      std::span<const promql::Point>(samples_.data() + e.sample_begin, e.sample_count),
      e.label_key, e.label_key_hash, e.cached_ref};
}

std::vector<promql::Series> Batch::ToSeries() const {
  std::vector<promql::Series> out;
  out.reserve(series_.size());
  for (std::size_t i = 0; i < series_.size(); ++i) {
    const BatchSeries s = series(i);
    promql::Series& dst = out.emplace_back();
    dst.metric = s.ToLabels();
    dst.points.assign(s.samples.begin(), s.samples.end());
  }
  return out;
}

void Batch::AddSeries(const promql::Labels& labels, std::span<const promql::Point> samples) {
  BatchBuilder builder(this);
  for (const promql::Label& l : labels) {
    builder.AddLabel(builder.CopyString(l.name), builder.CopyString(l.value));
  }
  for (const promql::Point& p : samples) builder.AddSample(p.t, p.v);
  builder.FinishSeries();
  builder.Commit();
}

void Batch::Clear() {
  series_.clear();
  labels_.clear();
  samples_.clear();
  for (std::size_t i = 0; i < buffers_.size(); ++i) {
    if (buffer_sizes_[i] > spare_size_) {
      spare_ = std::move(buffers_[i]);
      spare_size_ = buffer_sizes_[i];
    }
  }
  buffers_.clear();
  buffer_sizes_.clear();
  if (arena_.blocks.size() > 1) arena_.blocks.resize(1);
  arena_.used = 0;
  stats_ = BatchStats();
}

char* Batch::Allocate(std::size_t n) {
  if (n > kArenaMaxInBlock) {
    buffers_.push_back(std::make_unique_for_overwrite<char[]>(n));
    buffer_sizes_.push_back(n);
    return buffers_.back().get();
  }
  if (arena_.blocks.empty() || kArenaBlockBytes - arena_.used < n) {
    arena_.blocks.push_back(std::make_unique_for_overwrite<char[]>(kArenaBlockBytes));
    arena_.used = 0;
  }
  char* p = arena_.blocks.back().get() + arena_.used;
  arena_.used += n;
  return p;
}

bool operator==(const Batch& a, const Batch& b) noexcept {
  if (a.series_count() != b.series_count() || !(a.stats_ == b.stats_)) return false;
  for (std::size_t i = 0; i < a.series_count(); ++i) {
    const BatchSeries x = a.series(i);
    const BatchSeries y = b.series(i);
    if (x.labels.size() != y.labels.size() || x.samples.size() != y.samples.size()) return false;
    for (std::size_t j = 0; j < x.labels.size(); ++j) {
      if (!(x.labels[j] == y.labels[j])) return false;
    }
    for (std::size_t j = 0; j < x.samples.size(); ++j) {
      if (x.samples[j].t != y.samples[j].t || std::bit_cast<std::uint64_t>(x.samples[j].v) !=
                                                  std::bit_cast<std::uint64_t>(y.samples[j].v)) {
        return false;
      }
    }
  }
  return true;
}

BatchBuilder::BatchBuilder(Batch* batch)
    : batch_(batch),
      start_series_(batch->series_.size()),
      start_labels_(batch->labels_.size()),
      start_samples_(batch->samples_.size()),
      start_blocks_(batch->arena_.blocks.size()),
      start_arena_used_(batch->arena_.used),
      start_buffers_(batch->buffers_.size()),
      start_stats_(batch->stats_),
      label_begin_(start_labels_),
      sample_begin_(start_samples_) {}

BatchBuilder::~BatchBuilder() {
  if (committed_) return;
  Batch& b = *batch_;
  b.series_.resize(start_series_);
  b.labels_.resize(start_labels_);
  b.samples_.resize(start_samples_);
  b.arena_.blocks.resize(start_blocks_);
  b.arena_.used = start_arena_used_;
  b.buffers_.resize(start_buffers_);
  b.buffer_sizes_.resize(start_buffers_);
  b.stats_ = start_stats_;
}

std::string_view BatchBuilder::CopyString(std::string_view s) {
  if (s.empty()) return {};
  char* p = batch_->Allocate(s.size());
  std::memcpy(p, s.data(), s.size());
  return std::string_view(p, s.size());
}

void BatchBuilder::AdoptBuffer(std::unique_ptr<char[]> buffer) {
  batch_->buffers_.push_back(std::move(buffer));
  batch_->buffer_sizes_.push_back(0);
}

char* BatchBuilder::InputBuffer(std::size_t n) {
  Batch& b = *batch_;
  if (b.spare_ != nullptr && b.spare_size_ >= n) {
    b.buffers_.push_back(std::move(b.spare_));
    b.buffer_sizes_.push_back(b.spare_size_);
    b.spare_size_ = 0;
  } else {
    b.buffers_.push_back(std::make_unique_for_overwrite<char[]>(n));
    b.buffer_sizes_.push_back(n);
  }
  return b.buffers_.back().get();
}

void BatchBuilder::FinishSeries() {
  batch_->series_.push_back(Batch::SeriesEntry{label_begin_, batch_->labels_.size() - label_begin_,
                                               sample_begin_,
                                               batch_->samples_.size() - sample_begin_,
                                               label_key_, label_key_hash_, cached_ref_});
  label_begin_ = batch_->labels_.size();
  sample_begin_ = batch_->samples_.size();
  SetLabelKey({}, KeyHash{}, 0);
}

void BatchBuilder::DiscardSeries() {
  batch_->labels_.resize(label_begin_);
  batch_->samples_.resize(sample_begin_);
  SetLabelKey({}, KeyHash{}, 0);
}

}  // namespace nimify::ingest
