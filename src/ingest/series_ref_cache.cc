#include "ingest/series_ref_cache.h"

#include <sys/mman.h>

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
std::size_t KeySize(std::string_view key) noexcept { return key.size(); }
bool KeyEmpty(std::span<const LabelPair> labels) noexcept { return labels.empty(); }
bool KeyEmpty(std::string_view key) noexcept { return key.empty(); }

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

// Large tables are read at random: transparent huge pages (where the
// system grants them on request) save a page walk per lookup.
void AdviseHugePages(const void* data, std::size_t bytes) noexcept {
  constexpr std::uintptr_t kHugePage = 2u << 20;
  if (bytes < 2 * kHugePage) return;
  const auto begin = (reinterpret_cast<std::uintptr_t>(data) + kHugePage - 1) & ~(kHugePage - 1);
  const auto end = (reinterpret_cast<std::uintptr_t>(data) + bytes) & ~(kHugePage - 1);
  if (end > begin) (void)madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
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

std::uint64_t SeriesRefCache::HashKey(std::string_view key) noexcept {
  return storage::HashBytes(key);
}

bool SeriesRefCache::KeyEquals(const char* key, std::size_t key_size,
                               std::span<const LabelPair> labels) noexcept {
  const char* end = key + key_size;
  for (const LabelPair& l : labels) {
    if (!MatchString(key, end, l.name) || !MatchString(key, end, l.value)) return false;
  }
  return key == end;
}

namespace {
std::uint32_t TagOf(std::uint64_t hash) noexcept { return static_cast<std::uint32_t>(hash >> 32); }
}  // namespace

std::uint32_t SeriesRefCache::Generation::KindAndSize(const Slot& s) const noexcept {
  std::uint32_t v;
  std::memcpy(&v, keys.data() + s.key_offset, 4);
  return v;
}

std::int64_t SeriesRefCache::Generation::LastUsed(const Slot& s) const noexcept {
  std::int64_t v;
  std::memcpy(&v, keys.data() + s.key_offset + 4, 8);
  return v;
}

void SeriesRefCache::Generation::SetLastUsed(const Slot& s, std::int64_t now_ms) noexcept {
  std::memcpy(keys.data() + s.key_offset + 4, &now_ms, 8);
}

SeriesRefCache::Slot* SeriesRefCache::Generation::Lookup(std::span<const LabelPair> labels,
                                                         std::uint64_t hash) noexcept {
  if (slots.empty()) return nullptr;
  const std::uint32_t tag = TagOf(hash);
  const std::size_t mask = slots.size() - 1;
  for (std::size_t i = tag & mask;; i = (i + 1) & mask) {
    Slot& s = slots[i];
    if (s.ref == 0) return nullptr;
    if (s.tag != tag) continue;
    const std::uint32_t kind_and_size = KindAndSize(s);
    if ((kind_and_size & kEncodedKey) == 0 &&
        KeyEquals(keys.data() + s.key_offset + kRecordHeader, kind_and_size, labels)) {
      return &s;
    }
  }
}

SeriesRefCache::Slot* SeriesRefCache::Generation::Lookup(std::string_view key,
                                                         std::uint64_t hash) noexcept {
  if (slots.empty()) return nullptr;
  const std::uint32_t tag = TagOf(hash);
  const std::size_t mask = slots.size() - 1;
  const std::uint32_t want = static_cast<std::uint32_t>(key.size()) | kEncodedKey;
  for (std::size_t i = tag & mask;; i = (i + 1) & mask) {
    Slot& s = slots[i];
    if (s.ref == 0) return nullptr;
    if (s.tag == tag && KindAndSize(s) == want &&
        std::memcmp(keys.data() + s.key_offset + kRecordHeader, key.data(), key.size()) == 0) {
      return &s;
    }
  }
}

void SeriesRefCache::Generation::Grow() {
  std::vector<Slot> old = std::move(slots);
  const std::size_t n = old.empty() ? kInitialSlots : old.size() * 2;
  slots.reserve(n);  // advised before the first touch, so its pages start huge
  AdviseHugePages(slots.data(), n * sizeof(Slot));
  slots.assign(n, Slot{0, 0, 0});
  const std::size_t mask = slots.size() - 1;
  for (const Slot& s : old) {
    if (s.ref == 0) continue;
    std::size_t i = s.tag & mask;
    while (slots[i].ref != 0) i = (i + 1) & mask;
    slots[i] = s;
  }
}

SeriesRefCache::Slot* SeriesRefCache::Generation::Claim(std::uint64_t hash) {
  if ((size + 1) * 2 > slots.size()) Grow();
  const std::uint32_t tag = TagOf(hash);
  const std::size_t mask = slots.size() - 1;
  std::size_t i = tag & mask;
  while (slots[i].ref != 0) i = (i + 1) & mask;
  Slot& s = slots[i];
  s.tag = tag;
  s.key_offset = static_cast<std::uint32_t>(keys.size());
  ++size;
  return &s;  // empty (ref 0) until the caller stores its ref
}

SeriesRefCache::Slot* SeriesRefCache::Generation::Add(std::span<const LabelPair> labels,
                                                      std::uint64_t hash) {
  Slot* s = Claim(hash);
  const auto key_size = static_cast<std::uint32_t>(KeySize(labels));
  keys.resize(s->key_offset + kRecordHeader + key_size);
  char* p = keys.data() + s->key_offset;
  std::memcpy(p, &key_size, 4);
  std::memset(p + 4, 0, 8);
  p += kRecordHeader;
  for (const LabelPair& l : labels) {
    PutString(p, l.name);
    PutString(p, l.value);
  }
  return s;
}

SeriesRefCache::Slot* SeriesRefCache::Generation::Add(std::string_view key, std::uint64_t hash) {
  Slot* s = Claim(hash);
  const std::size_t record = kRecordHeader + key.size();
  if (keys.size() + record > keys.capacity()) {
    // Grown by hand to advise the new buffer before the copy touches it.
    std::vector<char> bigger;
    bigger.reserve(std::max(keys.capacity() * 2, keys.size() + record));
    AdviseHugePages(bigger.data(), bigger.capacity());
    bigger.assign(keys.begin(), keys.end());
    keys.swap(bigger);
  }
  const std::uint32_t kind_and_size = static_cast<std::uint32_t>(key.size()) | kEncodedKey;
  char header[kRecordHeader] = {};
  std::memcpy(header, &kind_and_size, 4);
  keys.insert(keys.end(), header, header + kRecordHeader);
  keys.insert(keys.end(), key.begin(), key.end());
  return s;
}

void SeriesRefCache::Generation::Reset() {
  std::fill(slots.begin(), slots.end(), Slot{0, 0, 0});
  keys.clear();
  size = 0;
}

void SeriesRefCache::Prefetch(std::uint64_t hash) const noexcept {
  if (current_.slots.empty()) return;
  __builtin_prefetch(&current_.slots[TagOf(hash) & (current_.slots.size() - 1)]);
}

void SeriesRefCache::PrefetchKey(std::uint64_t hash) const noexcept {
  if (current_.slots.empty()) return;
  const Slot& s = current_.slots[TagOf(hash) & (current_.slots.size() - 1)];
  if (s.tag == TagOf(hash) && s.ref != 0) __builtin_prefetch(current_.keys.data() + s.key_offset);
}

bool SeriesRefCache::Full(std::size_t key_bytes) const noexcept {
  return current_.size >= options_.max_entries ||
         current_.keys.size() + kRecordHeader + key_bytes > options_.max_key_bytes;
}

void SeriesRefCache::StartGeneration() {
  stats_.evicted += previous_.size;
  std::swap(current_, previous_);
  current_.Reset();
  ++stats_.generations;
}

template <typename Key>
std::uint64_t SeriesRefCache::FindKey(const Key& key, std::uint64_t hash, std::int64_t now_ms) {
  if (Slot* s = current_.Lookup(key, hash); s != nullptr) {
    // An idle current entry misses; the caller's Insert then refreshes it.
    if (Idle(current_, *s, now_ms)) {
      ++stats_.misses;
      return 0;
    }
    current_.SetLastUsed(*s, now_ms);
    ++stats_.hits;
    return s->ref;
  }
  if (Slot* s = previous_.Lookup(key, hash); s != nullptr && !Idle(previous_, *s, now_ms)) {
    const std::uint64_t ref = s->ref;
    ++stats_.hits;
    InsertKey(key, hash, ref, now_ms);  // forward into the current generation
    return ref;
  }
  ++stats_.misses;
  return 0;
}

template <typename Key>
void SeriesRefCache::InsertKey(const Key& key, std::uint64_t hash, std::uint64_t ref,
                               std::int64_t now_ms) {
  if (KeyEmpty(key) || ref == 0) return;
  Slot* s = current_.Lookup(key, hash);
  if (s == nullptr) {
    const std::size_t key_bytes = KeySize(key);
    // Would never fit (the size keeps its top bit for the key kind).
    if (kRecordHeader + key_bytes > options_.max_key_bytes || key_bytes >= kEncodedKey) return;
    if (Full(key_bytes)) StartGeneration();
    s = current_.Add(key, hash);
  }
  s->ref = ref;
  current_.SetLastUsed(*s, now_ms);
}

std::uint64_t SeriesRefCache::Find(std::span<const LabelPair> labels, std::uint64_t hash,
                                   std::int64_t now_ms) {
  return FindKey(labels, hash, now_ms);
}

void SeriesRefCache::Insert(std::span<const LabelPair> labels, std::uint64_t hash,
                            std::uint64_t ref, std::int64_t now_ms) {
  InsertKey(labels, hash, ref, now_ms);
}

std::uint64_t SeriesRefCache::FindEncoded(std::string_view key, std::uint64_t hash,
                                          std::int64_t now_ms) {
  return FindKey(key, hash, now_ms);
}

void SeriesRefCache::InsertEncoded(std::string_view key, std::uint64_t hash, std::uint64_t ref,
                                   std::int64_t now_ms) {
  InsertKey(key, hash, ref, now_ms);
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
