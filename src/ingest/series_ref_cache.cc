#include "ingest/series_ref_cache.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "storage/hash.h"

namespace nimify::ingest {

namespace {

constexpr std::size_t kInitialSlots = 64;

// Two lanes over the same bytes, each with its own seed and multipliers, so
// that `check` does not collide where `where` does. One pass: the lanes'
// multiplies are independent and overlap.
struct Lanes {
  std::uint64_t where;
  std::uint64_t check;

  void Absorb(std::string_view bytes) noexcept {
    using storage::MixMultiply;
    const std::uint64_t n = bytes.size();
    where ^= MixMultiply(n + 0x2d358dccaa6c78a5ull, 0x8bb84b93962eacc9ull);
    check ^= MixMultiply(n + 0x94d049bb133111ebull, 0xbf58476d1ce4e5b9ull);
    const char* p = bytes.data();
    std::size_t left = bytes.size();
    for (; left >= 8; left -= 8, p += 8) {
      std::uint64_t word;
      std::memcpy(&word, p, 8);
      where = MixMultiply(where ^ word, 0x4b33a62ed433d4a3ull);
      check = MixMultiply(check ^ word, 0x9fb21c651e98df25ull);
    }
    if (left != 0) {
      std::uint64_t word = 0;
      std::memcpy(&word, p, left);
      where = MixMultiply(where ^ word, 0x4d5a2da51de1aa47ull);
      check = MixMultiply(check ^ word, 0xc2b2ae3d27d4eb4full);
    }
  }
};

// Seeds per key kind, so a label set's views and some bytes never share a hash
// by construction.
constexpr Lanes kLabelSeeds{0x9e3779b97f4a7c15ull, 0x243f6a8885a308d3ull};
constexpr Lanes kEncodedSeeds{0x13198a2e03707344ull, 0xa4093822299f31d0ull};

std::uint32_t TagOf(const KeyHash& h) noexcept { return static_cast<std::uint32_t>(h.where >> 32); }

}  // namespace

SeriesRefCache::SeriesRefCache() : SeriesRefCache(Options()) {}

SeriesRefCache::SeriesRefCache(Options options) : options_(options) {
  options_.max_entries = std::max<std::size_t>(options_.max_entries, 1);
  options_.max_idle_ms = std::clamp<std::int64_t>(options_.max_idle_ms, 0, kMaxIdleMs);
}

KeyHash SeriesRefCache::Hash(std::span<const LabelPair> labels) noexcept {
  Lanes h = kLabelSeeds;
  for (const LabelPair& l : labels) {
    h.Absorb(l.name);
    h.where ^= 0xff51afd7ed558ccdull;  // a name and a value never read as one string
    h.Absorb(l.value);
  }
  return KeyHash{h.where, h.check};
}

KeyHash SeriesRefCache::HashKey(std::string_view key) noexcept {
  Lanes h = kEncodedSeeds;
  h.Absorb(key);
  return KeyHash{h.where, h.check};
}

KeyHash SeriesRefCache::KeyOf(const BatchSeries& s) noexcept {
  return s.label_key.empty() ? Hash(s.labels) : s.label_key_hash;
}

std::uint64_t SeriesRefCache::FindSeries(const BatchSeries& s, const KeyHash& key,
                                         std::int64_t now_ms) {
  // The decoder already looked up a series it keyed by its label bytes.
  if (!s.label_key.empty()) return s.cached_ref;
  return Find(key, now_ms);
}

SeriesRefCache::Slot* SeriesRefCache::Generation::Lookup(const KeyHash& hash) noexcept {
  if (slots.empty()) return nullptr;
  const std::uint32_t tag = TagOf(hash);
  const std::size_t mask = slots.size() - 1;
  for (std::size_t i = tag & mask;; i = (i + 1) & mask) {
    Slot& s = slots[i];
    if (s.ref == 0) return nullptr;
    if (s.tag == tag && s.check == hash.check) return &s;
  }
}

void SeriesRefCache::Generation::Grow() {
  SlotArray old = std::move(slots);
  const std::size_t n = old.empty() ? kInitialSlots : old.size() * 2;
  slots.assign(n, Slot{0, 0, 0, 0});
  const std::size_t mask = slots.size() - 1;
  for (const Slot& s : old) {
    if (s.ref == 0) continue;
    std::size_t i = s.tag & mask;
    while (slots[i].ref != 0) i = (i + 1) & mask;
    slots[i] = s;
  }
}

SeriesRefCache::Slot* SeriesRefCache::Generation::Add(const KeyHash& hash) {
  if ((size + 1) * 2 > slots.size()) Grow();
  const std::uint32_t tag = TagOf(hash);
  const std::size_t mask = slots.size() - 1;
  std::size_t i = tag & mask;
  while (slots[i].ref != 0) i = (i + 1) & mask;
  Slot& s = slots[i];
  s.tag = tag;
  s.check = hash.check;
  ++size;
  return &s;
}

void SeriesRefCache::Generation::Reset() {
  std::fill(slots.begin(), slots.end(), Slot{0, 0, 0, 0});
  size = 0;
}

std::uint32_t SeriesRefCache::UseTime(std::int64_t now_ms) {
  if (!have_base_) {
    base_ms_ = now_ms;
    have_base_ = true;
  }
  std::int64_t offset = now_ms - base_ms_;
  if (offset < 0) return 0;  // the clock stepped back: count it as the base
  if (offset > std::numeric_limits<std::uint32_t>::max()) {
    // About every 25 days: move the base to 2^31 ms ago. Entries last used
    // before it are pinned there, idle for longer than any max_idle_ms.
    const std::int64_t base = now_ms - (std::int64_t{1} << 31);
    const auto shift = static_cast<std::uint64_t>(base - base_ms_);
    for (Generation* g : {&current_, &previous_}) {
      for (Slot& s : g->slots) {
        s.last_used = s.last_used > shift ? static_cast<std::uint32_t>(s.last_used - shift) : 0;
      }
    }
    base_ms_ = base;
    offset = now_ms - base_ms_;
  }
  return static_cast<std::uint32_t>(offset);
}

void SeriesRefCache::Prefetch(const KeyHash& hash) const noexcept {
  if (current_.slots.empty()) return;
  __builtin_prefetch(&current_.slots[TagOf(hash) & (current_.slots.size() - 1)]);
}

void SeriesRefCache::StartGeneration() {
  stats_.evicted += previous_.size;
  std::swap(current_, previous_);
  current_.Reset();
  ++stats_.generations;
}

std::uint64_t SeriesRefCache::Find(const KeyHash& hash, std::int64_t now_ms) {
  if (Slot* s = current_.Lookup(hash); s != nullptr) {
    // An idle current entry misses; the caller's Insert then refreshes it.
    if (Idle(*s, now_ms)) {
      ++stats_.misses;
      return 0;
    }
    s->last_used = UseTime(now_ms);
    ++stats_.hits;
    return s->ref;
  }
  if (Slot* s = previous_.Lookup(hash); s != nullptr && !Idle(*s, now_ms)) {
    const std::uint64_t ref = s->ref;
    ++stats_.hits;
    Insert(hash, ref, now_ms);  // forward into the current generation
    return ref;
  }
  ++stats_.misses;
  return 0;
}

void SeriesRefCache::Insert(const KeyHash& hash, std::uint64_t ref, std::int64_t now_ms) {
  if (ref == 0) return;
  Slot* s = current_.Lookup(hash);
  if (s == nullptr) {
    if (current_.size >= options_.max_entries) StartGeneration();
    s = current_.Add(hash);
  }
  const std::uint32_t used = UseTime(now_ms);  // may rebase, but moves no slot
  s->ref = ref;
  s->last_used = used;
}

std::size_t SeriesRefCache::memory_bytes() const noexcept {
  return (current_.slots.capacity() + previous_.slots.capacity()) * sizeof(Slot);
}

void SeriesRefCache::Clear() {
  current_ = Generation();
  previous_ = Generation();
}

}  // namespace nimify::ingest
