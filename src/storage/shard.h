// One shard of the streaming storage: the series whose labels hash to it,
// each with a compressed window of recent samples, an inverted label index,
// and a PromQL Queryable over them.
//
//   Shard shard(0, ShardOptions{.retention_ms = 10 * 60'000}, /*limit=*/nullptr);
//   NIMIFY_ASSIGN_OR_RETURN(SeriesRef ref, shard.Resolve(labels));  // any thread
//   shard.Append(ref, t_ms, value);                                 // owner thread
//   promql::Evaluator eval(&shard, {});                             // owner thread
#ifndef NIMIFY_STORAGE_SHARD_H_
#define NIMIFY_STORAGE_SHARD_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/mutex.h"
#include "nimify/status.h"
#include "promql/labels.h"
#include "promql/storage.h"
#include "promql/value.h"
#include "storage/id_table.h"
#include "storage/label_index.h"
#include "storage/packed_labels.h"
#include "storage/series_ref.h"
#include "storage/series_window.h"
#include "storage/symbol_table.h"

namespace nimify::storage {

// A label by reference, for resolving without building promql::Labels.
struct LabelView {
  std::string_view name;
  std::string_view value;
};

// Hash of a label set as the shards use it (for choosing a shard and for the
// series table). REQUIRES: sorted by name.
std::uint64_t HashLabels(std::span<const LabelView> labels) noexcept;

// Converts and checks a label set: sorted by name, names unique and non-empty,
// no empty values. kInvalidArgument otherwise.
Status ValidateLabels(std::span<const LabelView> labels);
std::vector<LabelView> ViewLabels(const promql::Labels& labels);

// A cardinality limit shared by all shards.
// Thread safety: all methods are safe from any thread.
class SeriesLimit {
 public:
  // 0: unlimited.
  explicit SeriesLimit(std::uint64_t max_series) : max_(max_series) {}
  // Reserves room for one series; false when the limit is reached.
  bool TryAdd() noexcept;
  void Remove(std::uint64_t n) noexcept {
    // relaxed: a counter; no data is published through it.
    live_.fetch_sub(n, std::memory_order_relaxed);
  }
  std::uint64_t live() const noexcept { return live_.load(std::memory_order_relaxed); }
  std::uint64_t max() const noexcept { return max_; }

 private:
  std::atomic<std::uint64_t> live_{0};
  const std::uint64_t max_;
};

struct ShardOptions {
  // Samples older than (horizon) are not needed: the pipeline sets the
  // horizon to last evaluation time + 1 - retention_ms, where retention is the
  // largest range + lookback + offset of the rules.
  std::int64_t retention_ms = 5 * 60 * 1000;
  // A series whose newest sample falls behind the horizon goes idle: its
  // window and index entries are freed (queries no longer see it), but its
  // catalog entry stays, so producers that cached its ref (and Resolve) keep
  // working and its next sample revives it under the same ref. The entry is
  // freed, invalidating the ref, after it has stayed idle for this many
  // collections; with the pipeline's default of one collection per minute of
  // event time, 60 is about an hour. 0 frees it at once.
  std::uint32_t idle_series_rounds = 60;
};

enum class SampleResult : std::uint8_t {
  kOk,
  kDuplicate,      // same timestamp and value as the newest sample: accepted as a no-op
  kConflict,       // same timestamp, other value: rejected ("duplicate sample for timestamp")
  kOutOfOrder,     // older than the series' newest sample: rejected
  kTooOld,         // older than the shard's horizon: rejected
  kUnknownSeries,  // the ref's series was freed, or is idle and the series limit is full
};

// Counters; readable from any thread.
struct ShardStats {
  std::uint64_t samples_appended = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t conflicts = 0;
  std::uint64_t out_of_order = 0;
  std::uint64_t too_old = 0;
  std::uint64_t unknown_series = 0;
  std::uint64_t series_created = 0;
  std::uint64_t series_dropped = 0;  // went idle, or resolved but never appended to and freed
  // Series that count against the SeriesLimit: those with a window plus
  // those resolved but not yet appended to. Idle series are not counted.
  std::uint64_t series_live = 0;
  std::uint64_t series_idle = 0;     // idle catalog entries (labels only, no window)
  std::uint64_t series_refused = 0;  // cardinality limit
  std::uint64_t memory_bytes = 0;    // estimate of heap bytes, as of the last GC or stats call
};

// How much of each selected series' window a read needs.
enum class ReadExtent : std::uint8_t {
  kWindow,  // every sample in [mint, maxt]
  kNewest,  // only the newest sample at or before maxt
};

// Decoded samples of the series a read touched, kept so that many queries at
// one evaluation instant decode each series once. The samples live in large
// blocks filled in read order, so a later query walking the same series
// walks memory forwards. Valid only while the shard is not modified.
// Thread safety: none; one reader.
class ShardReadCache {
 public:
  struct Entry {
    const promql::Point* points = nullptr;  // the samples with t >= decoded_from
    std::uint32_t size = 0;
    // Only the newest sample, taken without decoding (ReadExtent::kNewest):
    // the first whole-window read still saves the decode cursor.
    bool newest_only = false;
    std::int64_t decoded_from = std::numeric_limits<std::int64_t>::max();  // max: not decoded
    bool decoded() const noexcept {
      return decoded_from != std::numeric_limits<std::int64_t>::max();
    }
  };
  ShardReadCache() = default;
  ShardReadCache(ShardReadCache&&) noexcept = default;
  ShardReadCache& operator=(ShardReadCache&&) noexcept = default;

  // The slot's entry (not decoded when new). Invalidated by the next At.
  Entry& At(std::uint32_t slot) {
    if (slot >= entries_.size()) entries_.resize(std::size_t{slot} + 1);
    return entries_[slot];
  }
  // The slot's entry if it has one, without adding it; for prefetching.
  const Entry* Peek(std::uint32_t slot) const noexcept {
    return slot < entries_.size() ? &entries_[slot] : nullptr;
  }
  // Copies `points` into the cache's blocks; the copy lives as long as the cache.
  const promql::Point* Keep(std::span<const promql::Point> points);
  // Reused decoding buffer.
  std::vector<promql::Point>& scratch() noexcept { return scratch_; }

 private:
  static constexpr std::size_t kBlockPoints = 32 * 1024;  // 512 KB
  std::vector<Entry> entries_;
  std::vector<std::unique_ptr<promql::Point[]>> blocks_;
  std::size_t block_used_ = 0;
  std::size_t block_size_ = 0;
  std::vector<promql::Point> scratch_;
};

// Thread safety
//   Two parts with different rules.
//   - The catalog (symbols, each series' labels, the labels->series table)
//     is guarded by `catalog_mu_`. Resolve() may be called from any thread:
//     a hit takes the lock shared, a new series takes it exclusively.
//   - Everything else (windows, index, horizon) belongs to the owner thread:
//     Append, SetHorizon and CollectGarbage run only there. Reads (Select,
//     NewQuerier, LabelsOf) run on the owner thread, or on one other thread
//     while the owner is known to be idle (the pipeline's cut holds it).
//   The owner learns of a new series from its first sample; the producer got
//   the ref from Resolve (which released the lock) before sending it, so the
//   catalog entry is visible when the owner takes the lock shared to read it.
//   Reads keep state across reads (each series' label set, where its window's
//   decoding may resume, the series each selector matched), guarded by
//   `read_mu_`, so that a series' labels are built once, not at every cut.
//   Only the owner frees catalog entries (in CollectGarbage, exclusively
//   locked), so the owner may keep using a live entry's label ids unlocked;
//   their texts (SymbolTable::Get) move when Resolve adds symbols, so those
//   are read under the lock. Entries go idle and are revived only by the
//   owner, under the exclusive lock.
class Shard final : public promql::Queryable {
 public:
  // `limit` may be null (unlimited) and must outlive the shard.
  Shard(std::uint32_t index, ShardOptions options, SeriesLimit* limit);
  ~Shard() override;
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  std::uint32_t index() const noexcept { return index_; }
  const ShardOptions& options() const noexcept { return options_; }

  // ---- Any thread ---------------------------------------------------------

  // The series' ref, creating the series if needed. `labels` must pass
  // ValidateLabels and `hash` be HashLabels(labels) (the caller usually has it
  // from choosing the shard). kResourceExhausted when the series limit is
  // reached, kInvalidArgument for a bad label set.
  Result<SeriesRef> Resolve(std::span<const LabelView> labels, std::uint64_t hash);
  Result<SeriesRef> Resolve(const promql::Labels& labels);

  ShardStats stats() const;

  // ---- Owner thread -------------------------------------------------------

  // Appends one sample. `new_series` (optional) is set when this is the first
  // sample the owner sees for the ref's series, or the first since it went
  // idle (the series is revived with a new, empty window).
  SampleResult Append(SeriesRef ref, std::int64_t t, double v, bool* new_series = nullptr);

  // A cache hint for an Append to `ref` a few samples from now: at scale an
  // append's cost is the miss on its window's tail. Harmless for any ref.
  // Always inlined: GCC drops a non-inlined call whose only effect is a prefetch.
  [[gnu::always_inline]] void PrefetchForAppend(SeriesRef ref) const noexcept {
    const std::uint32_t slot = SlotOf(ref);
    if (ShardOf(ref) != index_ || slot >= slots_.size()) return;
    slots_[slot].PrefetchTail();
  }

  // Samples older than `horizon` may be dropped and new ones are rejected.
  void SetHorizon(std::int64_t horizon) noexcept {
    const ExclusiveUseChecker::Scope owner(owner_);
    horizon_ = horizon;
  }
  std::int64_t horizon() const noexcept { return horizon_; }

  // Makes series whose newest sample is older than the horizon idle (see
  // ShardOptions::idle_series_rounds), frees series resolved but never
  // appended to during two collections and series idle for
  // idle_series_rounds collections. Returns how many series stopped counting
  // as live (went idle, or were freed without ever being appended to).
  std::size_t CollectGarbage();

  // The slot's labels. REQUIRES: the slot holds a live series.
  promql::Labels LabelsOf(std::uint32_t slot) const;
  // Calls fn(name, value) for each label of a live slot, in name order.
  template <typename Fn>
  void ForEachLabel(std::uint32_t slot, Fn&& fn) const {
    ReaderLock lock(catalog_mu_);
    catalog_[slot].labels.ForEach([&](LabelPair l) {
      catalog_mu_.AssertReaderHeld();
      fn(symbols_.Get(l.name), symbols_.Get(l.value));
    });
  }
  // Slots currently holding series the owner has seen samples for.
  std::size_t slot_count() const noexcept { return slots_.size(); }
  bool IsLiveSlot(std::uint32_t slot) const noexcept {
    return slot < slots_.size() && slots_[slot].live();
  }

  // ---- Reads (see Thread safety) -------------------------------------------

  // Appends the series matching all `matchers` with a sample in [mint, maxt],
  // in no particular order (Prometheus's engine also selects unsorted).
  // The views point into `cache`.
  // With ReadExtent::kNewest a series whose newest sample is at or before
  // maxt may come with that sample only (promql::Querier::SelectNewest).
  Status Select(std::span<const promql::LabelMatcher> matchers, std::int64_t mint,
                std::int64_t maxt, ShardReadCache* cache, std::vector<promql::SeriesView>* out,
                ReadExtent extent = ReadExtent::kWindow) const;

  // A Querier with its own cache.
  Result<std::unique_ptr<promql::Querier>> NewQuerier(std::int64_t mint,
                                                      std::int64_t maxt) override;

 private:
  // Per-series structures are kept small: at a million series each byte is a megabyte.
  struct CatalogEntry {
    PackedLabels labels;  // sorted by name; empty when the entry is free
    std::uint32_t generation = 0;
    // The GC round the entry was created, or went idle if `idle`. Written
    // only under the exclusive lock (Resolve reads `generation` meanwhile).
    std::uint32_t round : 31 = 0;
    std::uint32_t idle : 1 = 0;
    bool live() const noexcept { return !labels.empty(); }
  };
  static constexpr std::uint32_t kRoundMask = (1u << 31) - 1;
  // The window, with the generation in its tail padding.
  struct SlotData : SeriesWindow {
    std::uint32_t generation = 0;  // 0: no live series (live refs never have generation 0)
    bool live() const noexcept { return generation != 0; }
  };
  static_assert(sizeof(SlotData) == 48, "the generation should fill the window's tail padding");
  static_assert(sizeof(CatalogEntry) == 40);

  std::uint32_t FindSeriesLocked(std::span<const LabelView> labels, std::uint32_t hash) const
      NIMIFY_REQUIRES_SHARED(catalog_mu_);
  bool PickUp(std::uint32_t slot, std::uint32_t generation);
  bool Revive(std::uint32_t slot);
  std::uint32_t RoundsSince(std::uint32_t round) const noexcept
      NIMIFY_REQUIRES_SHARED(catalog_mu_) {
    return (gc_round_ - round) & kRoundMask;
  }
  void FreeCatalogEntryLocked(std::uint32_t slot) NIMIFY_REQUIRES(catalog_mu_);
  std::size_t MemoryBytesLocked() const NIMIFY_REQUIRES_SHARED(catalog_mu_);
  std::uint32_t CatalogHashLocked(std::uint32_t slot) const NIMIFY_REQUIRES_SHARED(catalog_mu_);

  // What reads keep about a slot between cuts (see Thread safety).
  struct SlotReadState {
    promql::Labels labels;        // built on the first read of the series
    std::uint32_t generation = 0;  // the series `labels` and `cursor` belong to; 0: none
    DecodeCursor cursor;          // where the first read of the next cut may resume
  };
  // Pages of slots: addresses stay put, so SeriesViews can point at the labels.
  static constexpr std::uint32_t kReadPageSlots = 4096;
  SlotReadState& ReadStateLocked(std::uint32_t slot) const NIMIFY_REQUIRES(read_mu_);
  // The slots that a selector's matchers accept, as of `epoch`.
  struct SelectMemo {
    std::uint64_t epoch = 0;
    std::vector<std::uint32_t> slots;
  };
  static constexpr std::size_t kMaxSelectMemos = 1024;
  // The slots matching all `matchers` (catalog_mu_ held at least shared).
  void MatchLocked(std::span<const promql::LabelMatcher> matchers,
                   std::vector<std::uint32_t>* slots) const NIMIFY_REQUIRES_SHARED(catalog_mu_);
  void Count(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1) noexcept {
    // relaxed: statistics with a single writer.
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

  const std::uint32_t index_;
  const ShardOptions options_;
  SeriesLimit* const limit_;

  // Catalog, guarded by catalog_mu_.
  mutable SharedMutex catalog_mu_;
  SymbolTable symbols_ NIMIFY_GUARDED_BY(catalog_mu_);
  std::vector<CatalogEntry> catalog_ NIMIFY_GUARDED_BY(catalog_mu_);
  std::vector<std::uint32_t> free_slots_ NIMIFY_GUARDED_BY(catalog_mu_);
  IdTable series_table_ NIMIFY_GUARDED_BY(catalog_mu_);
  std::uint32_t gc_round_ NIMIFY_GUARDED_BY(catalog_mu_) = 0;
  std::size_t idle_series_ NIMIFY_GUARDED_BY(catalog_mu_) = 0;  // entries with `idle` set

  // Owner state. owner_ checks (in debug builds) that one thread at a time
  // uses it: the owner, or a reader while the owner is idle.
  ExclusiveUseChecker owner_;
  std::vector<SlotData> slots_;
  LabelIndex label_index_;
  std::int64_t horizon_ = kNoTime;
  // Bumped whenever the set of indexed series changes: selector memos of an
  // older epoch are stale.
  std::uint64_t series_epoch_ = 1;

  // Read state, guarded by read_mu_.
  mutable Mutex read_mu_;
  mutable std::vector<std::unique_ptr<SlotReadState[]>> read_pages_ NIMIFY_GUARDED_BY(read_mu_);
  mutable std::unordered_map<std::string, SelectMemo> select_memos_ NIMIFY_GUARDED_BY(read_mu_);

  // Statistics (relaxed atomics, see Count).
  std::atomic<std::uint64_t> samples_appended_{0};
  std::atomic<std::uint64_t> duplicates_{0};
  std::atomic<std::uint64_t> conflicts_{0};
  std::atomic<std::uint64_t> out_of_order_{0};
  std::atomic<std::uint64_t> too_old_{0};
  std::atomic<std::uint64_t> unknown_series_{0};
  std::atomic<std::uint64_t> series_created_{0};
  std::atomic<std::uint64_t> series_dropped_{0};
  std::atomic<std::uint64_t> series_refused_{0};
  std::atomic<std::uint64_t> window_bytes_{0};  // owner's estimate, refreshed by GC
};

}  // namespace nimify::storage

#endif  // NIMIFY_STORAGE_SHARD_H_
