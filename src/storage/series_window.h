// The recent samples of one series, compressed: timestamps as delta-of-delta
// and values as XOR against the previous value (the Gorilla scheme), in one
// growable bit string per series.
//
//   SeriesWindow w;
//   w.Append(t, v, /*horizon=*/t - retention);   // drops old samples when it needs room
//   std::vector<promql::Point> points;
//   w.Decode(&points);
#ifndef NIMIFY_STORAGE_SERIES_WINDOW_H_
#define NIMIFY_STORAGE_SERIES_WINDOW_H_

#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "promql/value.h"

namespace nimify::storage {

inline constexpr std::int64_t kNoTime = std::numeric_limits<std::int64_t>::min();

// Where a later DecodeFrom may start instead of at the oldest sample: the
// decoder's state just before one sample. A compaction changes the oldest
// sample's time, which invalidates the cursor (checked by DecodeFrom).
struct DecodeCursor {
  std::int64_t first_t = kNoTime;  // the window's oldest sample when saved
  std::int64_t t = 0;              // the sample before `position`
  std::int64_t delta = 0;
  std::uint64_t v = 0;
  std::uint32_t position = 0;  // bit position of the next sample; 0: no cursor
  std::uint8_t lead = 0;
  std::uint8_t trail = 0;
};

enum class AppendStatus : std::uint8_t {
  kOk,
  kDuplicate,   // same timestamp and identical value bits as the newest sample: a no-op
  kConflict,    // same timestamp as the newest sample, different value (rejected)
  kOutOfOrder,  // older than the newest sample (rejected)
};

// Thread safety: none; one owner.
// Invariant: samples are strictly increasing in time; stale markers and all
// NaN payloads are kept bit-exact.
class SeriesWindow {
 public:
  SeriesWindow() = default;
  SeriesWindow(SeriesWindow&&) noexcept = default;
  SeriesWindow& operator=(SeriesWindow&&) noexcept = default;

  // Appends a sample newer than every stored one. When the buffer is full,
  // samples older than `horizon` are dropped before it grows.
  AppendStatus Append(std::int64_t t, double v, std::int64_t horizon);

  // Drops samples with timestamps < horizon now; returns how many.
  std::size_t DropBefore(std::int64_t horizon);

  // Appends every stored sample to `out`, oldest first.
  void Decode(std::vector<promql::Point>* out) const;
  // The same, but only the samples with t >= mint (the older ones are decoded
  // and skipped: the encoding is sequential).
  void DecodeFrom(std::int64_t mint, std::vector<promql::Point>* out) const;
  // The same, starting at `resume` when it is still valid and older than
  // mint (so a read that advances by a step decodes only the new samples),
  // and saving in `save` (optional; may equal `resume`) where a read from
  // this mint could resume.
  void DecodeFrom(std::int64_t mint, std::vector<promql::Point>* out, const DecodeCursor& resume,
                  DecodeCursor* save) const;

  // Stored samples (walks the bit string beyond 65534 samples).
  std::size_t size() const noexcept;
  bool empty() const noexcept { return bit_size_ == 0; }
  // Oldest stored sample time (read from the bit string); kNoTime when empty.
  std::int64_t first_t() const noexcept;
  // Hints for a DecodeFrom soon: the start of the bit string (the oldest
  // sample's time), or the line `cursor` resumes at.
  void PrefetchForDecode() const noexcept { __builtin_prefetch(bytes_.get()); }
  void PrefetchForDecode(const DecodeCursor& cursor) const noexcept {
    if (cursor.position != 0 && cursor.position < bit_size_) {
      __builtin_prefetch(bytes_.get() + cursor.position / 8);
    }
  }
  // Newest sample ever appended (kept after older ones are dropped); kNoTime if none.
  std::int64_t last_t() const noexcept { return last_t_; }
  // The newest sample, kept raw for the next append's encoding: reading it
  // decodes nothing. REQUIRES: !empty().
  promql::Point newest() const noexcept {
    return promql::Point{last_t_, std::bit_cast<double>(last_v_)};
  }
  // Heap bytes held (the compressed buffer).
  std::size_t HeapBytes() const noexcept { return capacity_; }
  std::size_t bit_size() const noexcept { return bit_size_; }

  // Hints the cache that this window will soon be appended to: the append's
  // cost at scale is the miss on the tail of the bit string. Call it a few
  // samples ahead of the Append.
  [[gnu::always_inline]] void PrefetchTail() const noexcept {
    if (bytes_ != nullptr) __builtin_prefetch(bytes_.get() + (bit_size_ >> 3), /*rw=*/1);
  }

 private:
  // Encoder state, as of the newest stored sample.
  struct EncodeState {
    std::int64_t last_t = kNoTime;
    std::int64_t last_delta = 0;
    std::uint64_t last_v = 0;
    std::uint8_t lead = kNoWindow;
    std::uint8_t trail = 0;
  };
  static constexpr std::uint8_t kNoWindow = 0xff;

  EncodeState state() const noexcept { return {last_t_, last_delta_, last_v_, lead_, trail_}; }
  void set_state(const EncodeState& s) noexcept;
  // Makes room for `bits` more bits, dropping samples older than `horizon`
  // first when the buffer is full. Returns true if it re-encoded the head.
  bool EnsureRoom(std::uint64_t bits, std::int64_t horizon);
  // Drops the samples older than `horizon`: re-encodes the first few kept
  // samples and copies the rest of the bit string unchanged. Returns how many
  // it dropped.
  std::uint32_t Compact(std::int64_t horizon, std::uint64_t extra_bits);
  // Whether enough samples are older than `horizon` to compact rather than grow.
  bool WorthCompacting(std::int64_t horizon) const noexcept;
  static constexpr std::uint16_t kMinSamplesToDefer = 8;
  static constexpr double kExpiredShareToCompact = 8;  // compact once 1/8 has expired
  void Reallocate(std::uint64_t used_bits, std::uint64_t extra_bits);

  // count_ saturates here; then size() walks the bit string.
  static constexpr std::uint16_t kManySamples = UINT16_MAX;

  // Kept small: a shard holds one per series. The bit string starts with the
  // first sample's time, so the header needs no copy of it.
  std::unique_ptr<std::uint8_t[]> bytes_;
  std::int64_t last_t_ = kNoTime;
  std::int64_t last_delta_ = 0;
  std::uint64_t last_v_ = 0;
  std::uint32_t bit_size_ = 0;
  std::uint32_t capacity_ = 0;  // bytes
  std::uint16_t count_ = 0;     // samples, up to kManySamples
  std::uint8_t lead_ = kNoWindow;
  std::uint8_t trail_ = 0;
  // 4 bytes of tail padding: a class deriving from this one may put a field there.
};

}  // namespace nimify::storage

#endif  // NIMIFY_STORAGE_SERIES_WINDOW_H_
