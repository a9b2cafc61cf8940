// The label ids of one series, varint-packed: a typical series' labels fit in
// the object itself (no allocation), and long label sets spill to the heap.
#ifndef NIMIFY_STORAGE_PACKED_LABELS_H_
#define NIMIFY_STORAGE_PACKED_LABELS_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <vector>

#include "storage/label_index.h"

namespace nimify::storage {

// Thread safety: none (a value type).
class PackedLabels {
 public:
  PackedLabels() = default;
  ~PackedLabels() { Clear(); }
  PackedLabels(PackedLabels&& other) noexcept { TakeFrom(other); }
  PackedLabels& operator=(PackedLabels&& other) noexcept {
    if (this != &other) {
      Clear();
      TakeFrom(other);
    }
    return *this;
  }
  PackedLabels(const PackedLabels&) = delete;
  PackedLabels& operator=(const PackedLabels&) = delete;

  // REQUIRES: labels.size() <= 65535.
  void Assign(std::span<const LabelPair> labels) {
    Clear();
    std::uint8_t buf[10 * 2 * 8];
    std::vector<std::uint8_t> big;
    std::uint8_t* out = buf;
    if (labels.size() > 8) {
      big.resize(labels.size() * 10);
      out = big.data();
    }
    std::size_t n = 0;
    for (const LabelPair& l : labels) {
      n += PutVarint(out + n, l.name);
      n += PutVarint(out + n, l.value);
    }
    bytes_ = static_cast<std::uint16_t>(n);
    count_ = static_cast<std::uint16_t>(labels.size());
    if (n <= kInlineBytes) {
      std::memcpy(inline_, out, n);
    } else {
      auto* heap = new std::uint8_t[n];
      std::memcpy(heap, out, n);
      std::memcpy(inline_, &heap, sizeof(heap));
    }
  }

  void Clear() noexcept {
    if (bytes_ > kInlineBytes) delete[] heap();
    bytes_ = 0;
    count_ = 0;
  }

  std::size_t size() const noexcept { return count_; }
  bool empty() const noexcept { return count_ == 0; }

  // Calls fn(LabelPair) for each label, in order; stops early if fn returns false.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    const std::uint8_t* p = data();
    for (std::uint16_t i = 0; i < count_; ++i) {
      LabelPair l;
      p = GetVarint(p, &l.name);
      p = GetVarint(p, &l.value);
      if constexpr (std::is_same_v<decltype(fn(l)), bool>) {
        if (!fn(l)) return;
      } else {
        fn(l);
      }
    }
  }

  std::vector<LabelPair> Unpack() const {
    std::vector<LabelPair> out;
    out.reserve(count_);
    ForEach([&](LabelPair l) { out.push_back(l); });
    return out;
  }

  // Heap bytes beyond the object (rounded as glibc's malloc does).
  std::size_t HeapBytes() const noexcept {
    return bytes_ > kInlineBytes ? ((bytes_ + 8 + 15) / 16) * 16 : 0;
  }

 private:
  static constexpr std::size_t kInlineBytes = 28;

  static std::size_t PutVarint(std::uint8_t* out, std::uint32_t v) noexcept {
    std::size_t n = 0;
    while (v >= 0x80) {
      out[n++] = static_cast<std::uint8_t>(v | 0x80);
      v >>= 7;
    }
    out[n++] = static_cast<std::uint8_t>(v);
    return n;
  }
  static const std::uint8_t* GetVarint(const std::uint8_t* p, std::uint32_t* v) noexcept {
    std::uint32_t result = 0;
    for (int shift = 0;; shift += 7) {
      const std::uint8_t b = *p++;
      result |= static_cast<std::uint32_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) break;
    }
    *v = result;
    return p;
  }

  std::uint8_t* heap() const noexcept {
    std::uint8_t* h;
    std::memcpy(&h, inline_, sizeof(h));
    return h;
  }
  const std::uint8_t* data() const noexcept { return bytes_ > kInlineBytes ? heap() : inline_; }
  void TakeFrom(PackedLabels& other) noexcept {
    std::memcpy(inline_, other.inline_, kInlineBytes);
    bytes_ = other.bytes_;
    count_ = other.count_;
    other.bytes_ = 0;
    other.count_ = 0;
  }

  // Inline label bytes, or (when bytes_ > kInlineBytes) a heap pointer.
  std::uint8_t inline_[kInlineBytes] = {};
  std::uint16_t bytes_ = 0;
  std::uint16_t count_ = 0;
};

}  // namespace nimify::storage

#endif  // NIMIFY_STORAGE_PACKED_LABELS_H_
