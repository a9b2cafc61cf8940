#include "ingest/series_ref_cache.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "storage/hash.h"

namespace nimify::ingest {

namespace {

constexpr std::size_t kInitialSlots = 64;
// Slot offsets are 32-bit.
constexpr std::size_t kMaxKeyBytesLimit = std::size_t{0xffffffffu};

std::size_t KeySize(std::span<const LabelPair> labels) noexcept {
  std::size_t n = 0;
  for (const LabelPair& l : labels) n += 8 + l.name.size() + l.value.size();
  return n;
}

void PutString(char*& p, std::string_view s) noexcept {
  const auto n = static_cast<std::uint32_t>(s.size());
  std::memcpy(p, &n, 4);
  std::memcpy(p + 4, s.data(), s.size());
  p += 4 + s.size();
}

// Compares one stored string at `p` with `s`, advancing `p`.
bool MatchString(const char*& p, const char* end, std::string_view s) noexcept {
  if (end - p < 4) return false;
  std::uint32_t n;
  std::memcpy(&n, p, 4);
  p += 4;
  if (n != s.size() || static_cast<std::size_t>(end - p) < n) return false;
  // Label strings are short: compare inline, 8 bytes at a time, rather than
  // through a memcmp call per string.
  const char* q = s.data();
  std::size_t left = n;
  for (; left >= 8; left -= 8, p += 8, q += 8) {
    std::uint64_t a, b;
    std::memcpy(&a, p, 8);
    std::memcpy(&b, q, 8);
    if (a != b) return false;
  }
  for (; left > 0; --left) {
    if (*p++ != *q++) return false;
  }
  return true;
}

}  // namespace

SeriesRefCache::SeriesRefCache() : SeriesRefCache(Options()) {}

SeriesRefCache::SeriesRefCache(Options options) : options_(options) {
  options_.max_entries = std::max<std::size_t>(options_.max_entries, 1);
  options_.max_key_bytes = std::clamp<std::size_t>(options_.max_key_bytes, 1, kMaxKeyBytesLimit);
}

std::uint64_t SeriesRefCache::Hash(std::span<const LabelPair> labels) noexcept {
  return storage::HashNameValues(labels);
}

bool SeriesRefCache::KeyEquals(const char* key, std::size_t key_size,
                               std::span<const LabelPair> labels) noexcept {
  const char* end = key + key_size;
  for (const LabelPair& l : labels) {
    if (!MatchString(key, end, l.name) || !MatchString(key, end, l.value)) return false;
  }
  return key == end;
}

SeriesRefCache::Slot* SeriesRefCache::Generation::Lookup(std::span<const LabelPair> labels,
                                                         std::uint64_t hash) noexcept {
  if (slots.empty()) return nullptr;
  const std::size_t mask = slots.size() - 1;
  for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
    Slot& s = slots[i];
    if (s.key_size == 0) return nullptr;
    if (s.hash == hash && KeyEquals(keys.data() + s.key_offset, s.key_size, labels)) return &s;
  }
}

void SeriesRefCache::Generation::Grow() {
  std::vector<Slot> old = std::move(slots);
  slots.assign(old.empty() ? kInitialSlots : old.size() * 2, Slot{0, 0, 0, 0, 0});
  const std::size_t mask = slots.size() - 1;
  for (const Slot& s : old) {
    if (s.key_size == 0) continue;
    std::size_t i = s.hash & mask;
    while (slots[i].key_size != 0) i = (i + 1) & mask;
    slots[i] = s;
  }
}

SeriesRefCache::Slot* SeriesRefCache::Generation::Add(std::span<const LabelPair> labels,
                                                      std::uint64_t hash) {
  if ((size + 1) * 2 > slots.size()) Grow();
  const std::size_t key_size = KeySize(labels);
  const std::size_t offset = keys.size();
  keys.resize(offset + key_size);
  char* p = keys.data() + offset;
  for (const LabelPair& l : labels) {
    PutString(p, l.name);
    PutString(p, l.value);
  }
  const std::size_t mask = slots.size() - 1;
  std::size_t i = hash & mask;
  while (slots[i].key_size != 0) i = (i + 1) & mask;
  Slot& s = slots[i];
  s.hash = hash;
  s.key_offset = static_cast<std::uint32_t>(offset);
  s.key_size = static_cast<std::uint32_t>(key_size);
  ++size;
  return &s;
}

void SeriesRefCache::Generation::Reset() {
  std::fill(slots.begin(), slots.end(), Slot{0, 0, 0, 0, 0});
  keys.clear();
  size = 0;
}

bool SeriesRefCache::Full(std::size_t key_bytes) const noexcept {
  return current_.size >= options_.max_entries ||
         current_.keys.size() + key_bytes > options_.max_key_bytes;
}

void SeriesRefCache::StartGeneration() {
  stats_.evicted += previous_.size;
  std::swap(current_, previous_);
  current_.Reset();
  ++stats_.generations;
}

std::uint64_t SeriesRefCache::Find(std::span<const LabelPair> labels, std::uint64_t hash,
                                   std::int64_t now_ms) {
  if (Slot* s = current_.Lookup(labels, hash); s != nullptr) {
    // An idle current entry misses; the caller's Insert then refreshes it.
    if (Idle(*s, now_ms)) {
      ++stats_.misses;
      return 0;
    }
    s->last_used_ms = now_ms;
    ++stats_.hits;
    return s->ref;
  }
  if (Slot* s = previous_.Lookup(labels, hash); s != nullptr && !Idle(*s, now_ms)) {
    const std::uint64_t ref = s->ref;
    ++stats_.hits;
    Insert(labels, hash, ref, now_ms);  // forward into the current generation
    return ref;
  }
  ++stats_.misses;
  return 0;
}

void SeriesRefCache::Insert(std::span<const LabelPair> labels, std::uint64_t hash,
                            std::uint64_t ref, std::int64_t now_ms) {
  if (labels.empty() || ref == 0) return;
  Slot* s = current_.Lookup(labels, hash);
  if (s == nullptr) {
    const std::size_t key_bytes = KeySize(labels);
    if (key_bytes > options_.max_key_bytes) return;  // would never fit
    if (Full(key_bytes)) StartGeneration();
    s = current_.Add(labels, hash);
  }
  s->ref = ref;
  s->last_used_ms = now_ms;
}

std::size_t SeriesRefCache::memory_bytes() const noexcept {
  return (current_.slots.capacity() + previous_.slots.capacity()) * sizeof(Slot) +
         current_.keys.capacity() + previous_.keys.capacity();
}

void SeriesRefCache::Clear() {
  current_ = Generation();
  previous_ = Generation();
}

}  // namespace nimify::ingest
