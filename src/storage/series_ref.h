// SeriesRef: an opaque handle to one live series, from Shard::Resolve.
#ifndef NIMIFY_STORAGE_SERIES_REF_H_
#define NIMIFY_STORAGE_SERIES_REF_H_

#include <cstdint>

namespace nimify::storage {

// Layout: shard (12 bits) | generation (20 bits) | slot (32 bits). The
// generation changes each time a slot is reused, so a ref kept past its
// series' removal no longer matches. Never 0, and never all ones (the pipeline
// uses that value as a marker).
using SeriesRef = std::uint64_t;

inline constexpr std::uint32_t kMaxShards = (1u << 12) - 1;
inline constexpr std::uint32_t kGenerationMask = (1u << 20) - 1;
inline constexpr std::uint32_t kMaxSlots = UINT32_MAX - 1;

constexpr SeriesRef MakeSeriesRef(std::uint32_t shard, std::uint32_t generation,
                                  std::uint32_t slot) noexcept {
  return (SeriesRef{shard} << 52) | (SeriesRef{generation & kGenerationMask} << 32) | slot;
}
constexpr std::uint32_t ShardOf(SeriesRef ref) noexcept {
  return static_cast<std::uint32_t>(ref >> 52);
}
constexpr std::uint32_t GenerationOf(SeriesRef ref) noexcept {
  return static_cast<std::uint32_t>(ref >> 32) & kGenerationMask;
}
constexpr std::uint32_t SlotOf(SeriesRef ref) noexcept { return static_cast<std::uint32_t>(ref); }

}  // namespace nimify::storage

#endif  // NIMIFY_STORAGE_SERIES_REF_H_
