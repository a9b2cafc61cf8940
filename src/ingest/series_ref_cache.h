// SeriesRefCache: label set -> series reference for one producer, so that a
// series that keeps arriving (remote write, a recording replay, an embedder's
// own decoder) is resolved in the engine once, not per sample.
//
//   ingest::SeriesRefCache cache;  // one per producer thread or connection
//   for (std::size_t i = 0; i < batch.series_count(); ++i) {
//     const ingest::BatchSeries s = batch.series(i);
//     const ingest::KeyHash hash = ingest::SeriesRefCache::Hash(s.labels);
//     std::uint64_t ref = cache.Find(hash, now_ms);
//     if (ref == 0) {
//       ref = ...resolve s.labels in the engine...;
//       cache.Insert(hash, ref, now_ms);
//     }
//   }
//
// Keys are held as 128-bit hashes, not as text: a slot is 24 bytes, so a
// cache of a million series takes tens of megabytes instead of the hundreds
// that a copy of every label set would, and a hit reads one slot. A lookup
// compares 96 of the 128 bits (the slot keeps the high half of `where`, and
// `check` whole); two different keys of a working set of n series agree on
// them with a chance of about n^2 / 2^97: 2^-57 at a million series. The
// two halves come from separately seeded lanes with their own multipliers.
// The hashes are not keyed against an adversary: whoever can send samples
// can write to any series anyway.
//
// Keys are the label views of a decoded series (Hash; sorted and validated by
// the decoder, so decode errors keep saying where) or, for a decoder that sees
// a label set's own bytes (the label fields of a remote-write TimeSeries),
// those bytes (HashKey), so that a hit needs no decoding of the labels. The
// two hash differently, so keys of the two kinds do not meet.
//
// Bounded: two generations of at most Options::max_entries keys each.
// Inserting into a full current generation drops the previous one and starts
// a new one; a hit in the previous generation moves the entry forward. A
// working set of up to max_entries series therefore always hits, and series
// that churn away are dropped after two generations. An entry unused for
// longer than Options::max_idle_ms misses (the caller resolves again: an
// engine frees series that stay idle for long, and their refs go stale).
//
// Thread safety: none; use one cache per producer (per connection or per
// thread). There is no shared state and no lock on the lookup path.
#ifndef NIMIFY_INGEST_SERIES_REF_CACHE_H_
#define NIMIFY_INGEST_SERIES_REF_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "common/huge_page_allocator.h"
#include "ingest/batch.h"

namespace nimify::ingest {

class SeriesRefCache {
 public:
  struct Options {
    // Keys per generation; the cache holds at most twice this many.
    std::size_t max_entries = 1u << 20;
    // An entry unused for longer than this misses; 0: entries never age.
    // At most kMaxIdleMs (use times are kept as 32-bit offsets).
    std::int64_t max_idle_ms = 0;
  };
  static constexpr std::int64_t kMaxIdleMs = std::int64_t{1} << 30;  // about 12 days

  struct Stats {
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;         // absent, or idle too long
    std::uint64_t generations = 0;    // generations started after the first
    std::uint64_t evicted = 0;        // entries dropped with an old generation
  };

  SeriesRefCache();
  explicit SeriesRefCache(Options options);

  // The key hash of a label set (sorted by name, as a decoded BatchSeries).
  static KeyHash Hash(std::span<const LabelPair> labels) noexcept;
  // The key hash of a label set's encoded bytes.
  static KeyHash HashKey(std::string_view key) noexcept;

  // The reference stored for the key, or 0 when absent or idle for longer
  // than max_idle_ms. Counts as a use: the entry's idle time restarts at
  // `now_ms`.
  std::uint64_t Find(const KeyHash& hash, std::int64_t now_ms);

  // Stores `ref` (not 0) for the key, replacing what was there.
  void Insert(const KeyHash& hash, std::uint64_t ref, std::int64_t now_ms);

  // ---- Decoded series ---------------------------------------------------------
  // The key a decoded series is cached under: the bytes of its label fields
  // when the decoder kept them (remote write with a RefLookup), else its labels.
  static KeyHash KeyOf(const BatchSeries& s) noexcept;
  // The ref for a decoded series whose key is `key` (KeyOf(s)): the one the
  // decoder found, else a Find by its labels; 0 when unknown (the caller
  // resolves it and Inserts `key`).
  std::uint64_t FindSeries(const BatchSeries& s, const KeyHash& key, std::int64_t now_ms);

  // A memory hint for a batch of lookups: brings in the slot a Find of that
  // hash reads first. Issued a few lookups ahead, it overlaps the cache
  // misses of a large working set. No effect on the contents.
  void Prefetch(const KeyHash& hash) const noexcept;

  // Keys held (both generations; one key may be in both).
  std::size_t size() const noexcept { return current_.size + previous_.size; }
  const Stats& stats() const noexcept { return stats_; }
  // Heap bytes held by the tables.
  std::size_t memory_bytes() const noexcept;
  void Clear();

 private:
  struct Slot {
    std::uint32_t tag;        // where >> 32: the probe starts at tag & mask
    std::uint32_t last_used;  // ms after base_ms_
    std::uint64_t check;
    std::uint64_t ref;  // 0: empty slot
  };
  static_assert(sizeof(Slot) == 24);
  // Read at random, one slot per sample: in huge pages when large.
  using SlotArray = std::vector<Slot, common::HugePageAllocator<Slot>>;

  // One open-addressing table (linear probing, at most half full).
  struct Generation {
    SlotArray slots;  // a power of two in size, or empty
    std::size_t size = 0;

    Slot* Lookup(const KeyHash& hash) noexcept;
    // REQUIRES: not present. Grows the table first when needed; the slot
    // is empty (ref 0) until the caller stores its ref.
    Slot* Add(const KeyHash& hash);
    void Grow();
    void Reset();
  };

  // `now_ms` as a use time, moving base_ms_ forward when it would not fit.
  std::uint32_t UseTime(std::int64_t now_ms);
  bool Idle(const Slot& s, std::int64_t now_ms) const noexcept {
    return options_.max_idle_ms > 0 &&
           now_ms - (base_ms_ + static_cast<std::int64_t>(s.last_used)) > options_.max_idle_ms;
  }
  void StartGeneration();

  Options options_;
  // Use times are offsets from here; set by the first use.
  std::int64_t base_ms_ = 0;
  bool have_base_ = false;
  Generation current_;
  Generation previous_;
  Stats stats_;
};

}  // namespace nimify::ingest

#endif  // NIMIFY_INGEST_SERIES_REF_CACHE_H_
