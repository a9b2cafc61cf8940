// Big-endian bit writer and reader over a caller-owned byte buffer.
//
// Both touch whole 64-bit words: a buffer must have 8 readable (and, for the
// writer, zero-filled writable) bytes from the byte holding the current
// position. SeriesWindow keeps that slack.
#ifndef NIMIFY_STORAGE_BIT_STREAM_H_
#define NIMIFY_STORAGE_BIT_STREAM_H_

#include <bit>
#include <cstdint>
#include <cstring>

namespace nimify::storage {

static_assert(std::endian::native == std::endian::little,
              "bit streams assume a little-endian host");

inline std::uint64_t LoadBigEndian64(const std::uint8_t* p) noexcept {
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  return __builtin_bswap64(w);
}
inline void StoreBigEndian64(std::uint8_t* p, std::uint64_t w) noexcept {
  w = __builtin_bswap64(w);
  std::memcpy(p, &w, 8);
}

class BitWriter {
 public:
  // Writes start at bit `position`; bits from there on must be zero.
  BitWriter(std::uint8_t* data, std::uint64_t position) noexcept : data_(data), pos_(position) {}

  // Appends the low `n` bits of `value`, most significant first. n in [0, 64].
  void Write(std::uint64_t value, int n) noexcept {
    if (n > 57) {  // one word holds at most 57 bits after a 7-bit offset
      Write(value >> 32, n - 32);
      Write(value & 0xffffffffu, 32);
      return;
    }
    if (n == 0) return;
    value &= (std::uint64_t{1} << n) - 1;
    std::uint8_t* p = data_ + (pos_ >> 3);
    const int shift = static_cast<int>(pos_ & 7);
    StoreBigEndian64(p, LoadBigEndian64(p) | (value << (64 - shift - n)));
    pos_ += static_cast<std::uint64_t>(n);
  }

  std::uint64_t position() const noexcept { return pos_; }

 private:
  std::uint8_t* data_;
  std::uint64_t pos_;
};

class BitReader {
 public:
  BitReader(const std::uint8_t* data, std::uint64_t position) noexcept
      : data_(data), pos_(position) {}

  // Reads `n` bits (n in [0, 64]) as an unsigned value.
  std::uint64_t Read(int n) noexcept {
    if (n > 57) {
      const std::uint64_t hi = Read(n - 32);
      return (hi << 32) | Read(32);
    }
    if (n == 0) return 0;
    const std::uint64_t w = LoadBigEndian64(data_ + (pos_ >> 3));
    const std::uint64_t v = (w << (pos_ & 7)) >> (64 - n);
    pos_ += static_cast<std::uint64_t>(n);
    return v;
  }
  bool ReadBit() noexcept { return Read(1) != 0; }

  std::uint64_t position() const noexcept { return pos_; }

 private:
  const std::uint8_t* data_;
  std::uint64_t pos_;
};

// Copies bits [from, to) of `src` to `dst` starting at dst's writer position.
inline void CopyBits(const std::uint8_t* src, std::uint64_t from, std::uint64_t to,
                     BitWriter* dst) noexcept {
  BitReader r(src, from);
  while (to - r.position() >= 56) dst->Write(r.Read(56), 56);
  const int rest = static_cast<int>(to - r.position());
  dst->Write(r.Read(rest), rest);
}

}  // namespace nimify::storage

#endif  // NIMIFY_STORAGE_BIT_STREAM_H_
