// SeriesRefCache: label set -> series reference for one producer, so that a
// series that keeps arriving (remote write, a recording replay, an embedder's
// own decoder) is resolved in the engine once, not per sample.
//
//   ingest::SeriesRefCache cache;  // one per producer thread or connection
//   for (std::size_t i = 0; i < batch.series_count(); ++i) {
//     const ingest::BatchSeries s = batch.series(i);
//     const std::uint64_t hash = ingest::SeriesRefCache::Hash(s.labels);
//     std::uint64_t ref = cache.Find(s.labels, hash, now_ms);
//     if (ref == 0) {
//       ref = ...resolve s.labels in the engine...;
//       cache.Insert(s.labels, hash, ref, now_ms);
//     }
//   }
//
// Keys are the label views of a decoded series (sorted and validated by the
// decoder, so decode errors keep saying where). The hash is computed straight
// from the views and a lookup builds no label text and allocates nothing; a
// hit compares the stored text with the views, so a hash collision never
// returns another series' reference.
//
// Bounded: two generations of at most Options::max_entries label sets each.
// Inserting into a full current generation drops the previous one and starts
// a new one; a hit in the previous generation moves the entry forward. A
// working set of up to max_entries series therefore always hits, and series
// that churn away are dropped after two generations. An entry unused for
// longer than Options::max_idle_ms misses (the caller resolves again: an
// engine frees series that stay idle for long, and their refs go stale).
//
// Encoded keys: a decoder that sees the label set's own bytes (the label
// fields of a remote-write TimeSeries) can key by them instead (HashKey,
// FindEncoded, InsertEncoded), so a hit costs one hash and one compare over
// contiguous bytes, and the caller may skip decoding checks for a key that was
// resolved before. Keys of the two kinds never match each other.
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

#include "ingest/batch.h"

namespace nimify::ingest {

class SeriesRefCache {
 public:
  struct Options {
    // Label sets per generation; the cache holds at most twice this many.
    std::size_t max_entries = 1u << 20;
    // Key record bytes per generation (the key and 12 bytes); a generation
    // that reaches it is full.
    std::size_t max_key_bytes = 256u << 20;
    // An entry unused for longer than this misses; 0: entries never age.
    std::int64_t max_idle_ms = 0;
  };

  struct Stats {
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;         // absent, or idle too long
    std::uint64_t generations = 0;    // generations started after the first
    std::uint64_t evicted = 0;        // entries dropped with an old generation
  };

  SeriesRefCache();
  explicit SeriesRefCache(Options options);

  // The key hash of a label set (sorted by name, as a decoded BatchSeries).
  static std::uint64_t Hash(std::span<const LabelPair> labels) noexcept;

  // The reference stored for exactly these labels, or 0 when absent or idle
  // for longer than max_idle_ms. `hash` must be Hash(labels). Counts as a
  // use: the entry's idle time restarts at `now_ms`.
  std::uint64_t Find(std::span<const LabelPair> labels, std::uint64_t hash, std::int64_t now_ms);

  // Stores `ref` (not 0) for the labels (not empty), replacing what was there.
  void Insert(std::span<const LabelPair> labels, std::uint64_t hash, std::uint64_t ref,
              std::int64_t now_ms);

  // ---- Encoded keys (see above): the same, keyed by bytes --------------------
  static std::uint64_t HashKey(std::string_view key) noexcept;
  // `hash` must be HashKey(key).
  std::uint64_t FindEncoded(std::string_view key, std::uint64_t hash, std::int64_t now_ms);
  // Stores `ref` (not 0) for `key` (not empty).
  void InsertEncoded(std::string_view key, std::uint64_t hash, std::uint64_t ref,
                     std::int64_t now_ms);

  // Memory hints for a batch of lookups: Prefetch(hash) brings in the slot a
  // Find of that hash reads first; once it is in, PrefetchKey(hash) brings in
  // the key record that slot points at. Issued a few lookups ahead, they overlap
  // the cache misses of a large working set. No effect on the contents.
  void Prefetch(std::uint64_t hash) const noexcept;
  void PrefetchKey(std::uint64_t hash) const noexcept;

  // Label sets held (both generations; one set may be in both).
  std::size_t size() const noexcept { return current_.size + previous_.size; }
  const Stats& stats() const noexcept { return stats_; }
  // Heap bytes held by the tables and the key records.
  std::size_t memory_bytes() const noexcept;
  void Clear();

 private:
  // 16 bytes, so that a table of a large working set stays half the size:
  // the hash's high half (also where the entry's probe starts) and where its
  // key record is; the rest of the entry lives in that record, which a hit
  // reads anyway to compare the key.
  struct Slot {
    std::uint32_t tag;         // the hash >> 32
    std::uint32_t key_offset;  // into Generation::keys
    std::uint64_t ref;         // 0: empty slot
  };
  static_assert(sizeof(Slot) == 16);
  // A key record in Generation::keys: u32 size (kEncodedKey set: an encoded
  // key), i64 last use in ms, then the key: encoded bytes, or per label u32
  // name size, name, u32 value size, value.
  static constexpr std::size_t kRecordHeader = 12;
  static constexpr std::uint32_t kEncodedKey = 1u << 31;

  // One open-addressing table (linear probing, at most half full) with the
  // key records of its entries.
  struct Generation {
    std::vector<Slot> slots;  // a power of two in size, or empty
    std::vector<char> keys;
    std::size_t size = 0;

    Slot* Lookup(std::span<const LabelPair> labels, std::uint64_t hash) noexcept;
    Slot* Lookup(std::string_view key, std::uint64_t hash) noexcept;
    // REQUIRES: not present, and room (see Full).
    Slot* Add(std::span<const LabelPair> labels, std::uint64_t hash);
    Slot* Add(std::string_view key, std::uint64_t hash);
    // A free slot for `hash`, growing the table first when needed; the caller
    // fills it and appends its key record.
    Slot* Claim(std::uint64_t hash);
    void Grow();
    void Reset();
    std::uint32_t KindAndSize(const Slot& s) const noexcept;
    std::int64_t LastUsed(const Slot& s) const noexcept;
    void SetLastUsed(const Slot& s, std::int64_t now_ms) noexcept;
  };

  static bool KeyEquals(const char* key, std::size_t key_size,
                        std::span<const LabelPair> labels) noexcept;
  bool Idle(const Generation& g, const Slot& s, std::int64_t now_ms) const noexcept {
    return options_.max_idle_ms > 0 && now_ms - g.LastUsed(s) > options_.max_idle_ms;
  }
  bool Full(std::size_t key_bytes) const noexcept;
  void StartGeneration();
  template <typename Key>
  std::uint64_t FindKey(const Key& key, std::uint64_t hash, std::int64_t now_ms);
  template <typename Key>
  void InsertKey(const Key& key, std::uint64_t hash, std::uint64_t ref, std::int64_t now_ms);

  Options options_;
  Generation current_;
  Generation previous_;
  Stats stats_;
};

}  // namespace nimify::ingest

#endif  // NIMIFY_INGEST_SERIES_REF_CACHE_H_
