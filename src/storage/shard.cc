#include "storage/shard.h"

#include <algorithm>
#include <string>
#include <unordered_map>

#include "storage/hash.h"

namespace nimify::storage {
namespace {

std::string FormatLabels(std::span<const LabelView> labels) {
  std::vector<promql::Label> copy;
  copy.reserve(labels.size());
  for (const LabelView& l : labels) copy.push_back({std::string(l.name), std::string(l.value)});
  return promql::Labels::FromUnsorted(std::move(copy)).ToString();
}

class ShardQuerier final : public promql::Querier {
 public:
  explicit ShardQuerier(const Shard* shard) : shard_(shard) {}
  Status Select(std::span<const promql::LabelMatcher> matchers, std::int64_t mint,
                std::int64_t maxt, std::vector<promql::SeriesView>* out) override {
    return shard_->Select(matchers, mint, maxt, &cache_, out);
  }
  Status SelectNewest(std::span<const promql::LabelMatcher> matchers, std::int64_t mint,
                      std::int64_t maxt, std::vector<promql::SeriesView>* out) override {
    return shard_->Select(matchers, mint, maxt, &cache_, out, ReadExtent::kNewest);
  }

 private:
  const Shard* shard_;
  ShardReadCache cache_;
};

// One matcher prepared against this shard's symbols.
struct PreparedMatcher {
  const promql::LabelMatcher* matcher;
  std::uint32_t name_id;   // kNone: no series has the label
  std::uint32_t value_id;  // for = and !=: kNone when no series has the value
  bool matches_empty;
  std::unordered_map<std::uint32_t, bool> memo;  // regex result by value id
};

}  // namespace

std::uint64_t HashLabels(std::span<const LabelView> labels) noexcept {
  return HashNameValues(labels);
}

Status ValidateLabels(std::span<const LabelView> labels) {
  if (labels.empty()) return Status::InvalidArgument("a series needs at least one label");
  if (labels.size() > UINT16_MAX) {
    return Status::InvalidArgument("a series has " + std::to_string(labels.size()) +
                                   " labels; at most 65535 are allowed");
  }
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i].name.empty()) {
      return Status::InvalidArgument("empty label name in " + FormatLabels(labels));
    }
    if (labels[i].value.empty()) {
      return Status::InvalidArgument("empty value for label " + std::string(labels[i].name) +
                                     " (an empty value means the label is absent)");
    }
    if (i > 0 && !(labels[i - 1].name < labels[i].name)) {
      return Status::InvalidArgument(labels[i - 1].name == labels[i].name
                                         ? "duplicate label name " + std::string(labels[i].name)
                                         : "labels are not sorted by name at " +
                                               std::string(labels[i].name));
    }
  }
  return Status::Ok();
}

std::vector<LabelView> ViewLabels(const promql::Labels& labels) {
  std::vector<LabelView> views;
  views.reserve(labels.size());
  for (const promql::Label& l : labels) views.push_back({l.name, l.value});
  return views;
}

bool SeriesLimit::TryAdd() noexcept {
  // relaxed: only the count matters; a racing Resolve may briefly overshoot by
  // the number of concurrent creators before fetch_sub undoes it.
  const std::uint64_t before = live_.fetch_add(1, std::memory_order_relaxed);
  if (max_ != 0 && before >= max_) {
    live_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

const promql::Point* ShardReadCache::Keep(std::span<const promql::Point> points) {
  if (points.empty()) return nullptr;
  if (block_size_ - block_used_ < points.size()) {
    // A window longer than a block gets a block of its own.
    block_size_ = std::max(kBlockPoints, points.size());
    blocks_.push_back(std::make_unique_for_overwrite<promql::Point[]>(block_size_));
    block_used_ = 0;
  }
  promql::Point* dst = blocks_.back().get() + block_used_;
  std::copy(points.begin(), points.end(), dst);
  block_used_ += points.size();
  return dst;
}

Shard::Shard(std::uint32_t index, ShardOptions options, SeriesLimit* limit)
    : index_(index), options_(options), limit_(limit) {}

Shard::~Shard() {
  // Idle entries gave their place under the limit back when they went idle.
  if (limit_ != nullptr) limit_->Remove(series_table_.size() - idle_series_);
}

std::uint32_t Shard::FindSeriesLocked(std::span<const LabelView> labels, std::uint32_t hash) const {
  return series_table_.Find(hash, [&](std::uint32_t slot) {
    catalog_mu_.AssertReaderHeld();  // lambdas are analysed on their own
    const CatalogEntry& e = catalog_[slot];
    if (e.labels.size() != labels.size()) return false;
    std::size_t i = 0;
    bool equal = true;
    e.labels.ForEach([&](LabelPair l) {
      catalog_mu_.AssertReaderHeld();
      equal = symbols_.Get(l.name) == labels[i].name && symbols_.Get(l.value) == labels[i].value;
      ++i;
      return equal;
    });
    return equal;
  });
}

Result<SeriesRef> Shard::Resolve(const promql::Labels& labels) {
  const std::vector<LabelView> views = ViewLabels(labels);
  return Resolve(views, HashLabels(views));
}

Result<SeriesRef> Shard::Resolve(std::span<const LabelView> labels, std::uint64_t hash) {
  const std::uint32_t hash32 = Fold32(hash);
  {
    ReaderLock lock(catalog_mu_);
    const std::uint32_t slot = FindSeriesLocked(labels, hash32);
    if (slot != IdTable::kNotFound) return MakeSeriesRef(index_, catalog_[slot].generation, slot);
  }
  NIMIFY_RETURN_IF_ERROR(ValidateLabels(labels));
  WriterLock lock(catalog_mu_);
  std::uint32_t slot = FindSeriesLocked(labels, hash32);  // another thread may have won
  if (slot != IdTable::kNotFound) return MakeSeriesRef(index_, catalog_[slot].generation, slot);
  if (limit_ != nullptr && !limit_->TryAdd()) {
    Count(series_refused_);
    return Status::ResourceExhausted(
        "series limit reached: " + std::to_string(limit_->max()) +
        " active series (max_series); not creating " + FormatLabels(labels) +
        ". Raise the limit or reduce label cardinality; series free up after they stop "
        "receiving samples for the retention period");
  }
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    if (catalog_.size() >= kMaxSlots) {
      if (limit_ != nullptr) limit_->Remove(1);
      return Status::ResourceExhausted("shard " + std::to_string(index_) +
                                       " has no free series slot");
    }
    slot = static_cast<std::uint32_t>(catalog_.size());
    catalog_.emplace_back();
  }
  CatalogEntry& e = catalog_[slot];
  std::vector<LabelPair> ids;
  ids.reserve(labels.size());
  for (const LabelView& l : labels) {
    ids.push_back({symbols_.Acquire(l.name), symbols_.Acquire(l.value)});
  }
  e.labels.Assign(ids);
  e.generation = (e.generation + 1) & kGenerationMask;
  if (e.generation == 0) e.generation = 1;  // keeps refs non-zero
  e.round = gc_round_ & kRoundMask;
  e.idle = 0;
  series_table_.Insert(hash32, slot);
  Count(series_created_);
  return MakeSeriesRef(index_, e.generation, slot);
}

bool Shard::PickUp(std::uint32_t slot, std::uint32_t generation) {
  std::vector<LabelPair> labels;
  bool idle = false;
  {
    ReaderLock lock(catalog_mu_);
    if (slot >= catalog_.size()) return false;
    const CatalogEntry& e = catalog_[slot];
    if (!e.live() || e.generation != generation) return false;
    labels = e.labels.Unpack();
    idle = e.idle != 0;
  }
  if (idle && !Revive(slot)) return false;
  if (slot >= slots_.size()) slots_.resize(std::size_t{slot} + 1);
  SlotData& d = slots_[slot];
  d = SlotData();
  d.generation = generation;
  label_index_.Add(slot, labels);
  ++series_epoch_;
  return true;
}

bool Shard::Revive(std::uint32_t slot) {
  // The entry gave its place under the limit back when it went idle.
  if (limit_ != nullptr && !limit_->TryAdd()) {
    Count(series_refused_);
    return false;
  }
  // Exclusive: stats() reads idle_series_ from other threads. Only the owner
  // (this thread) frees entries, so the entry is still the one checked.
  WriterLock lock(catalog_mu_);
  catalog_[slot].idle = 0;
  --idle_series_;
  return true;
}

SampleResult Shard::Append(SeriesRef ref, std::int64_t t, double v, bool* new_series) {
  const ExclusiveUseChecker::Scope owner(owner_);
  const std::uint32_t slot = SlotOf(ref);
  const std::uint32_t generation = GenerationOf(ref);
  bool picked_up = false;
  if (ShardOf(ref) != index_) {
    Count(unknown_series_);
    return SampleResult::kUnknownSeries;
  }
  // A live slot's generation is never 0, so this also rejects free slots.
  if (slot >= slots_.size() || slots_[slot].generation != generation) {
    if (!PickUp(slot, generation)) {
      Count(unknown_series_);
      return SampleResult::kUnknownSeries;
    }
    picked_up = true;
  }
  if (new_series != nullptr) *new_series = picked_up;
  if (t < horizon_) {
    Count(too_old_);
    return SampleResult::kTooOld;
  }
  SeriesWindow& w = slots_[slot];
  switch (w.Append(t, v, horizon_)) {
    case AppendStatus::kOk:
      Count(samples_appended_);
      return SampleResult::kOk;
    case AppendStatus::kDuplicate:
      Count(duplicates_);
      return SampleResult::kDuplicate;
    case AppendStatus::kConflict:
      Count(conflicts_);
      return SampleResult::kConflict;
    case AppendStatus::kOutOfOrder:
      Count(out_of_order_);
      return SampleResult::kOutOfOrder;
  }
  return SampleResult::kOk;
}

std::uint32_t Shard::CatalogHashLocked(std::uint32_t slot) const {
  // Recomputed rather than stored: only removals need it.
  std::vector<LabelView> views;
  views.reserve(catalog_[slot].labels.size());
  catalog_[slot].labels.ForEach([&](LabelPair l) {
    catalog_mu_.AssertReaderHeld();
    views.push_back({symbols_.Get(l.name), symbols_.Get(l.value)});
  });
  return Fold32(HashLabels(views));
}

void Shard::FreeCatalogEntryLocked(std::uint32_t slot) {
  CatalogEntry& e = catalog_[slot];
  series_table_.Erase(CatalogHashLocked(slot), slot);
  e.labels.ForEach([&](LabelPair l) {
    catalog_mu_.AssertHeld();
    symbols_.Release(l.name);
    symbols_.Release(l.value);
  });
  e.labels.Clear();
  free_slots_.push_back(slot);
}

std::size_t Shard::CollectGarbage() {
  const ExclusiveUseChecker::Scope owner(owner_);
  std::vector<std::uint32_t> stale;
  std::uint64_t window_bytes = 0;
  for (std::uint32_t slot = 0; slot < slots_.size(); ++slot) {
    SlotData& d = slots_[slot];
    if (!d.live()) continue;
    if (d.last_t() < horizon_) {
      stale.push_back(slot);
    } else {
      window_bytes += d.HeapBytes();
    }
  }
  {
    // Shared: Resolve may be growing catalog_ meanwhile.
    ReaderLock lock(catalog_mu_);
    std::vector<LabelPair> scratch;
    label_index_.Remove(stale, [&](std::uint32_t slot) {
      catalog_mu_.AssertReaderHeld();
      scratch = catalog_[slot].labels.Unpack();
      return std::span<const LabelPair>(scratch);
    });
  }
  for (std::uint32_t slot : stale) slots_[slot] = SlotData();
  if (!stale.empty()) {
    ++series_epoch_;
    MutexLock read_lock(read_mu_);
    for (std::uint32_t slot : stale) {
      const std::size_t page = slot / kReadPageSlots;
      if (page < read_pages_.size() && read_pages_[page] != nullptr) {
        read_pages_[page][slot % kReadPageSlots] = SlotReadState();
      }
    }
  }

  // Stale series go idle: producers may still hold their refs, so the
  // catalog entries stay for idle_series_rounds more collections.
  std::size_t dropped = stale.size();
  {
    WriterLock lock(catalog_mu_);
    for (std::uint32_t slot : stale) {
      CatalogEntry& e = catalog_[slot];
      e.idle = 1;
      e.round = gc_round_ & kRoundMask;
    }
    idle_series_ += stale.size();
    for (std::uint32_t slot = 0; slot < catalog_.size(); ++slot) {
      const CatalogEntry& e = catalog_[slot];
      if (!e.live()) continue;
      const bool seen = slot < slots_.size() && slots_[slot].generation == e.generation;
      if (seen) continue;
      if (e.idle != 0) {
        if (RoundsSince(e.round) < options_.idle_series_rounds) continue;
        FreeCatalogEntryLocked(slot);
        --idle_series_;
      } else {
        // Resolved but never sent a sample for two rounds: the ref is not in flight.
        if (RoundsSince(e.round) < 2) continue;
        FreeCatalogEntryLocked(slot);
        ++dropped;
      }
    }
    ++gc_round_;
  }
  if (limit_ != nullptr) limit_->Remove(dropped);
  Count(series_dropped_, dropped);
  window_bytes_.store(
      window_bytes + slots_.capacity() * sizeof(SlotData) + label_index_.MemoryBytes(),
      std::memory_order_relaxed);
  return dropped;
}

ShardStats Shard::stats() const {
  ShardStats s;
  // relaxed: statistics.
  s.samples_appended = samples_appended_.load(std::memory_order_relaxed);
  s.duplicates = duplicates_.load(std::memory_order_relaxed);
  s.conflicts = conflicts_.load(std::memory_order_relaxed);
  s.out_of_order = out_of_order_.load(std::memory_order_relaxed);
  s.too_old = too_old_.load(std::memory_order_relaxed);
  s.unknown_series = unknown_series_.load(std::memory_order_relaxed);
  s.series_created = series_created_.load(std::memory_order_relaxed);
  s.series_dropped = series_dropped_.load(std::memory_order_relaxed);
  s.series_refused = series_refused_.load(std::memory_order_relaxed);
  ReaderLock lock(catalog_mu_);
  s.series_live = series_table_.size() - idle_series_;
  s.series_idle = idle_series_;
  s.memory_bytes = MemoryBytesLocked() + window_bytes_.load(std::memory_order_relaxed);
  return s;
}

std::size_t Shard::MemoryBytesLocked() const {
  std::size_t bytes = symbols_.MemoryBytes() + catalog_.capacity() * sizeof(CatalogEntry) +
                      free_slots_.capacity() * sizeof(std::uint32_t) + series_table_.MemoryBytes();
  for (const CatalogEntry& e : catalog_) bytes += e.labels.HeapBytes();
  return bytes;
}

promql::Labels Shard::LabelsOf(std::uint32_t slot) const {
  std::vector<promql::Label> labels;
  ForEachLabel(slot, [&](std::string_view name, std::string_view value) {
    labels.push_back({std::string(name), std::string(value)});
  });
  return promql::Labels::FromUnsorted(std::move(labels));
}

Result<std::unique_ptr<promql::Querier>> Shard::NewQuerier(std::int64_t /*mint*/,
                                                           std::int64_t /*maxt*/) {
  return std::unique_ptr<promql::Querier>(new ShardQuerier(this));
}

Shard::SlotReadState& Shard::ReadStateLocked(std::uint32_t slot) const {
  const std::size_t page = slot / kReadPageSlots;
  if (page >= read_pages_.size()) read_pages_.resize(page + 1);
  if (read_pages_[page] == nullptr) {
    read_pages_[page] = std::make_unique<SlotReadState[]>(kReadPageSlots);
  }
  return read_pages_[page][slot % kReadPageSlots];
}

void Shard::MatchLocked(std::span<const promql::LabelMatcher> matchers,
                        std::vector<std::uint32_t>* slots) const {
  std::vector<PreparedMatcher> prepared;
  prepared.reserve(matchers.size());
  for (const promql::LabelMatcher& m : matchers) {
    PreparedMatcher p{&m, symbols_.Find(m.name()), SymbolTable::kNone, m.MatchesEmpty(), {}};
    const bool by_value =
        m.type() == promql::MatchType::kEqual || m.type() == promql::MatchType::kNotEqual;
    if (by_value && !m.value().empty()) p.value_id = symbols_.Find(m.value());
    // A matcher that rejects "" needs the label: if no series has it, nothing matches.
    if (!p.matches_empty && p.name_id == SymbolTable::kNone) return;
    if (m.type() == promql::MatchType::kEqual && !m.value().empty() &&
        p.value_id == SymbolTable::kNone) {
      return;
    }
    prepared.push_back(std::move(p));
  }

  // Candidates: the shortest `name="value"` postings list; else the union over
  // the values accepted by a matcher that needs its label; else every series.
  std::span<const std::uint32_t> candidates;
  std::vector<std::uint32_t> union_candidates;
  bool have_candidates = false;
  std::size_t source = prepared.size();  // the matcher every candidate already satisfies
  for (std::size_t i = 0; i < prepared.size(); ++i) {
    const PreparedMatcher& p = prepared[i];
    if (p.matcher->type() != promql::MatchType::kEqual || p.matches_empty) continue;
    const std::span<const std::uint32_t> list = label_index_.Postings(p.name_id, p.value_id);
    if (!have_candidates || list.size() < candidates.size()) {
      candidates = list;
      source = i;
    }
    have_candidates = true;
  }
  if (!have_candidates) {
    for (std::size_t i = 0; i < prepared.size(); ++i) {
      PreparedMatcher& p = prepared[i];
      if (p.matches_empty) continue;
      source = i;
      label_index_.ForEachValue(
          p.name_id, [&](std::uint32_t value, std::span<const std::uint32_t> list) {
            catalog_mu_.AssertReaderHeld();
            const bool ok = p.matcher->Matches(symbols_.Get(value));
            p.memo.emplace(value, ok);
            if (ok) union_candidates.insert(union_candidates.end(), list.begin(), list.end());
          });
      candidates = union_candidates;
      have_candidates = true;
      break;
    }
  }
  std::vector<std::uint32_t> all_slots;
  if (!have_candidates) {
    for (std::uint32_t slot = 0; slot < slots_.size(); ++slot) {
      if (slots_[slot].live()) all_slots.push_back(slot);
    }
    candidates = all_slots;
  }

  // Distinct from kNone (a matcher value no series has), so that "absent" never
  // equals an unknown value.
  constexpr std::uint32_t kAbsent = SymbolTable::kNone - 1;
  // Matchers still to check on each candidate.
  std::vector<PreparedMatcher*> filters;
  for (std::size_t i = 0; i < prepared.size(); ++i) {
    if (i != source) filters.push_back(&prepared[i]);
  }
  std::vector<LabelPair> series_labels;
  auto matches_all = [&](const CatalogEntry& e) {
    catalog_mu_.AssertReaderHeld();
    if (filters.empty()) return true;
    series_labels.clear();
    e.labels.ForEach([&](LabelPair l) { series_labels.push_back(l); });
    for (PreparedMatcher* pm : filters) {
      PreparedMatcher& p = *pm;
      std::uint32_t value = kAbsent;
      for (const LabelPair& l : series_labels) {
        if (l.name == p.name_id) {
          value = l.value;
          break;
        }
      }
      bool ok;
      switch (p.matcher->type()) {
        case promql::MatchType::kEqual:
        case promql::MatchType::kNotEqual: {
          const bool equal = p.matcher->value().empty() ? value == kAbsent : value == p.value_id;
          ok = equal == (p.matcher->type() == promql::MatchType::kEqual);
          break;
        }
        default: {
          if (value == kAbsent) {
            ok = p.matches_empty;
            break;
          }
          auto [it, inserted] = p.memo.emplace(value, false);
          if (inserted) it->second = p.matcher->Matches(symbols_.Get(value));
          ok = it->second;
        }
      }
      if (!ok) return false;
    }
    return true;
  };
  for (std::uint32_t slot : candidates) {
    if (matches_all(catalog_[slot])) slots->push_back(slot);
  }
}

Status Shard::Select(std::span<const promql::LabelMatcher> matchers, std::int64_t mint,
                     std::int64_t maxt, ShardReadCache* cache, std::vector<promql::SeriesView>* out,
                     ReadExtent extent) const {
  const ExclusiveUseChecker::Scope owner(owner_);
  if (mint > maxt) return Status::Ok();
  ReaderLock lock(catalog_mu_);
  MutexLock read_lock(read_mu_);

  // The matching series, remembered per selector until the indexed series
  // change: rules read the same selectors at every cut.
  std::string key;
  for (const promql::LabelMatcher& m : matchers) {
    key.push_back(static_cast<char>('0' + static_cast<int>(m.type())));
    key += m.name();
    key.push_back('\0');
    key += m.value();
    key.push_back('\0');
  }
  if (select_memos_.size() >= kMaxSelectMemos && !select_memos_.contains(key)) {
    select_memos_.clear();
  }
  SelectMemo& memo = select_memos_[key];
  if (memo.epoch != series_epoch_) {
    memo.slots.clear();
    MatchLocked(matchers, &memo.slots);
    memo.epoch = series_epoch_;
  }

  const std::vector<std::uint32_t>& slots = memo.slots;
  // Callers may gather several shards into one vector: keep the growth geometric.
  if (const std::size_t need = out->size() + slots.size(); need > out->capacity()) {
    out->reserve(std::max(need, 2 * out->capacity()));
  }
  const bool newest = extent == ReadExtent::kNewest;
  // Whether a read must fill the entry. A filled entry holds every sample
  // from decoded_from on, so a kNewest read finds its sample there when the
  // entry starts at or before maxt (or covers mint: then there is none).
  const auto needs_fill = [mint, maxt, newest](const ShardReadCache::Entry* e) {
    if (e == nullptr || !e->decoded()) return true;
    if (mint >= e->decoded_from) return false;
    return !newest || e->size == 0 || e->points[0].t > maxt;
  };
  // The slots' read state and windows are scattered: fetch them in stages a
  // few series ahead, each stage from lines the one before brought in.
  const auto read_state_if_any = [this](std::uint32_t slot) -> const SlotReadState* {
    read_mu_.AssertHeld();
    const std::size_t page = slot / kReadPageSlots;
    if (page >= read_pages_.size() || read_pages_[page] == nullptr) return nullptr;
    return &read_pages_[page][slot % kReadPageSlots];
  };
  for (std::size_t i = 0; i < slots.size(); ++i) {
    // Entries and samples of series decoded earlier this cut are cold by now.
    if (i + 16 < slots.size()) __builtin_prefetch(cache->Peek(slots[i + 16]));
    if (i + 8 < slots.size()) {
      const std::uint32_t ahead_slot = slots[i + 8];
      const ShardReadCache::Entry* ahead = cache->Peek(ahead_slot);
      if (needs_fill(ahead)) {
        __builtin_prefetch(&slots_[ahead_slot]);
        if (const SlotReadState* st = read_state_if_any(ahead_slot); st != nullptr) {
          __builtin_prefetch(st);
          __builtin_prefetch(reinterpret_cast<const char*>(st + 1) - 1);
        }
      } else if (ahead->points != nullptr) {
        __builtin_prefetch(ahead->points);
      }
    }
    if (i + 4 < slots.size()) {
      const std::uint32_t ahead_slot = slots[i + 4];
      if (needs_fill(cache->Peek(ahead_slot))) {
        const SlotData& data = slots_[ahead_slot];
        data.PrefetchForDecode();
        const SlotReadState* st = read_state_if_any(ahead_slot);
        if (st != nullptr && st->generation == data.generation) {
          data.PrefetchForDecode(st->cursor);
        }
      }
    }
    const std::uint32_t slot = slots[i];
    ShardReadCache::Entry& entry = cache->At(slot);
    if (needs_fill(&entry)) {
      SlotReadState& state = ReadStateLocked(slot);
      const std::uint32_t generation = slots_[slot].generation;
      // The labels are built with the generation, so that a read need not
      // touch the label set (another cache miss) to see whether they are there.
      if (state.generation != generation) {
        state = SlotReadState();
        state.generation = generation;
        const CatalogEntry& e = catalog_[slot];
        std::vector<promql::Label> labels;
        labels.reserve(e.labels.size());
        e.labels.ForEach([&](LabelPair l) {
          catalog_mu_.AssertReaderHeld();
          labels.push_back({std::string(symbols_.Get(l.name)), std::string(symbols_.Get(l.value))});
        });
        // Stored sets passed ValidateLabels: sorted, unique, no empty value.
        state.labels = promql::Labels::FromSorted(std::move(labels));
      }
      // Most reads at an instant want the last few minutes of a window that
      // holds the longest range + offset of all rules: decode only those,
      // resuming where the previous cut's first read started. A later read
      // of older samples decodes again into new room (earlier views stay valid).
      const SlotData& window = slots_[slot];
      if (newest && !window.empty() && window.last_t() <= maxt) {
        // The newest sample is all the read needs, and the window keeps it raw.
        const promql::Point p = window.newest();
        entry.points = cache->Keep(std::span<const promql::Point>(&p, 1));
        entry.size = 1;
        entry.decoded_from = p.t;
        entry.newest_only = true;
      } else {
        std::vector<promql::Point>& points = cache->scratch();
        points.clear();
        // The cut's first whole-window read saves where the next cut's may resume.
        const bool first_window_read = !entry.decoded() || entry.newest_only;
        window.DecodeFrom(mint, &points, state.cursor, first_window_read ? &state.cursor : nullptr);
        entry.points = cache->Keep(points);
        entry.size = static_cast<std::uint32_t>(points.size());
        entry.decoded_from = mint;
        entry.newest_only = false;
      }
    }
    const promql::Point* begin = entry.points;
    const promql::Point* end = begin + entry.size;
    // Decoded from mint: every sample is in range (the common case).
    const promql::Point* first =
        entry.decoded_from == mint
            ? begin
            : std::lower_bound(begin, end, mint,
                               [](const promql::Point& p, std::int64_t t) { return p.t < t; });
    const promql::Point* last =
        first == end || end[-1].t <= maxt
            ? end
            : std::upper_bound(first, end, maxt,
                               [](std::int64_t t, const promql::Point& p) { return t < p.t; });
    if (first == last) continue;
    // The labels were built when the slot was first decoded this cut.
    const promql::Labels* labels =
        &read_pages_[slot / kReadPageSlots][slot % kReadPageSlots].labels;
    out->push_back(promql::SeriesView{
        labels, std::span<const promql::Point>(first, static_cast<std::size_t>(last - first))});
  }
  return Status::Ok();
}

}  // namespace nimify::storage
