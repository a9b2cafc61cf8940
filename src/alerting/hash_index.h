// A flat open-addressing index from a 64-bit hash to a caller's id: the
// lookup structure for label sets that carry their hash (promql::Labels),
// where the caller owns the keys and compares them itself. No node per
// entry, no rehashing of keys on growth (the hashes are stored).
//
//   HashIndex index;
//   index.Insert(labels.Hash(), id);
//   std::uint32_t found = index.Find(labels.Hash(), [&](std::uint32_t id) {
//     return keys[id] == labels;
//   });
#ifndef NIMIFY_ALERTING_HASH_INDEX_H_
#define NIMIFY_ALERTING_HASH_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace nimify::alerting {

// Thread safety: none (as std::vector).
class HashIndex {
 public:
  static constexpr std::uint32_t kNone = ~std::uint32_t{0};

  // The id whose key equals the looked-up one (eq(id) says so), or kNone.
  template <typename Eq>
  std::uint32_t Find(std::uint64_t hash, Eq&& eq) const {
    if (slots_.empty()) return kNone;
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = static_cast<std::size_t>(hash) & mask;; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (s.id == kEmpty) return kNone;
      if (s.id != kTombstone && s.hash == hash && eq(s.id)) return s.id;
    }
  }

  // REQUIRES: no entry with an equal key; id < kTombstone.
  void Insert(std::uint64_t hash, std::uint32_t id) {
    if ((used_ + 1) * 4 > slots_.size() * 3) Rehash((size_ + 1) * 2);
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = static_cast<std::size_t>(hash) & mask;
    while (slots_[i].id != kEmpty && slots_[i].id != kTombstone) i = (i + 1) & mask;
    if (slots_[i].id == kEmpty) ++used_;
    slots_[i] = {hash, id};
    ++size_;
  }

  // Removes the entry eq selects; false when there is none.
  template <typename Eq>
  bool Erase(std::uint64_t hash, Eq&& eq) {
    if (slots_.empty()) return false;
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = static_cast<std::size_t>(hash) & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (s.id == kEmpty) return false;
      if (s.id != kTombstone && s.hash == hash && eq(s.id)) {
        s.id = kTombstone;
        --size_;
        return true;
      }
    }
  }

  // Empties the index but keeps its slots (scratch reused across evaluations).
  void Clear() {
    if (used_ == 0) return;
    for (Slot& s : slots_) s.id = kEmpty;
    size_ = 0;
    used_ = 0;
  }
  // Makes room for n entries without growing on the way.
  void Reserve(std::size_t n) {
    if (n * 4 > slots_.size() * 3) Rehash(n);
  }

  std::size_t size() const noexcept { return size_; }

 private:
  static constexpr std::uint32_t kEmpty = ~std::uint32_t{0};
  static constexpr std::uint32_t kTombstone = kEmpty - 1;
  struct Slot {
    std::uint64_t hash = 0;
    std::uint32_t id = kEmpty;
  };

  // Room for n entries at a load of at most 3/4; drops the tombstones.
  void Rehash(std::size_t n) {
    std::size_t capacity = 16;
    while (capacity * 3 < n * 4) capacity *= 2;
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(capacity, Slot{});
    size_ = 0;
    used_ = 0;
    for (const Slot& s : old) {
      if (s.id != kEmpty && s.id != kTombstone) Insert(s.hash, s.id);
    }
  }

  std::vector<Slot> slots_;  // size a power of two (or zero)
  std::size_t size_ = 0;     // live entries
  std::size_t used_ = 0;     // live entries and tombstones
};

}  // namespace nimify::alerting

#endif  // NIMIFY_ALERTING_HASH_INDEX_H_
