// Fast non-cryptographic hashing of label strings for in-process tables.
// Not stable across versions: never persist these values.
#ifndef NIMIFY_STORAGE_HASH_H_
#define NIMIFY_STORAGE_HASH_H_

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace nimify::storage {

// 64x64->128 multiply folded to 64 bits: one instruction pair on x86-64.
inline std::uint64_t MixMultiply(std::uint64_t a, std::uint64_t b) noexcept {
  __extension__ using U128 = unsigned __int128;
  const U128 product = static_cast<U128>(a) * b;
  return static_cast<std::uint64_t>(product) ^ static_cast<std::uint64_t>(product >> 64);
}

inline constexpr std::uint64_t kHashSeed = 0x9e3779b97f4a7c15ull;

// Hashes bytes eight at a time, continuing from `seed`.
inline std::uint64_t HashBytes(std::string_view bytes, std::uint64_t seed = kHashSeed) noexcept {
  std::uint64_t h = seed ^ MixMultiply(bytes.size() + 0x2d358dccaa6c78a5ull, 0x8bb84b93962eacc9ull);
  const char* p = bytes.data();
  std::size_t n = bytes.size();
  while (n >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    h = MixMultiply(h ^ word, 0x4b33a62ed433d4a3ull);
    p += 8;
    n -= 8;
  }
  if (n != 0) {
    std::uint64_t word = 0;
    std::memcpy(&word, p, n);
    h = MixMultiply(h ^ word, 0x4d5a2da51de1aa47ull);
  }
  return h;
}

// Hashes a label set given as pairs with string_view `name` and `value`,
// whatever their type: the shards and the ingest caches hash alike.
template <typename NameValue>
std::uint64_t HashNameValues(std::span<const NameValue> labels) noexcept {
  std::uint64_t h = kHashSeed;
  for (const NameValue& l : labels) {
    h = HashBytes(l.name, h);
    h = HashBytes(l.value, h ^ 0xff51afd7ed558ccdull);
  }
  return h;
}

// Folds to 32 bits for tables that keep a 32-bit hash per slot.
inline std::uint32_t Fold32(std::uint64_t h) noexcept {
  return static_cast<std::uint32_t>(h ^ (h >> 32));
}

}  // namespace nimify::storage

#endif  // NIMIFY_STORAGE_HASH_H_
