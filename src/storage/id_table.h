// An open-addressing hash index from 32-bit hashes to 32-bit ids. The caller
// owns the keyed objects and supplies equality, so one compact table (8 bytes
// a slot) serves symbols, series and postings.
#ifndef NIMIFY_STORAGE_ID_TABLE_H_
#define NIMIFY_STORAGE_ID_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace nimify::storage {

// Linear probing with backward-shift deletion (no tombstones), grown at 3/4 load.
// Thread safety: none; the owner serialises access.
class IdTable {
 public:
  static constexpr std::uint32_t kNotFound = UINT32_MAX;

  // The id whose object `matches(id)`, among those inserted with `hash`; kNotFound if none.
  template <typename Matches>
  std::uint32_t Find(std::uint32_t hash, Matches&& matches) const {
    if (slots_.empty()) return kNotFound;
    for (std::size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.id_plus_one == 0) return kNotFound;
      if (s.hash == hash && matches(s.id_plus_one - 1)) return s.id_plus_one - 1;
    }
  }

  // REQUIRES: id < UINT32_MAX and not already present.
  void Insert(std::uint32_t hash, std::uint32_t id) {
    if ((size_ + 1) * 4 > slots_.size() * 3) Grow();
    Place(hash, id + 1);
    ++size_;
  }

  // Removes `id` (inserted with `hash`); false if absent.
  bool Erase(std::uint32_t hash, std::uint32_t id) {
    if (slots_.empty()) return false;
    std::size_t i = hash & mask_;
    while (true) {
      if (slots_[i].id_plus_one == 0) return false;
      if (slots_[i].id_plus_one == id + 1) break;
      i = (i + 1) & mask_;
    }
    // Backward shift: pull later entries of the probe run into the hole.
    std::size_t hole = i;
    for (std::size_t j = (hole + 1) & mask_; slots_[j].id_plus_one != 0; j = (j + 1) & mask_) {
      const std::size_t home = slots_[j].hash & mask_;
      // Move j into the hole unless its home lies cyclically in (hole, j].
      const bool home_after_hole =
          hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
      if (!home_after_hole) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole] = Slot{};
    --size_;
    return true;
  }

  std::size_t size() const noexcept { return size_; }
  std::size_t MemoryBytes() const noexcept { return slots_.capacity() * sizeof(Slot); }

 private:
  struct Slot {
    std::uint32_t hash = 0;
    std::uint32_t id_plus_one = 0;  // 0: empty
  };

  void Place(std::uint32_t hash, std::uint32_t id_plus_one) {
    std::size_t i = hash & mask_;
    while (slots_[i].id_plus_one != 0) i = (i + 1) & mask_;
    slots_[i] = Slot{hash, id_plus_one};
  }

  void Grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 16 : old.size() * 2, Slot{});
    mask_ = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.id_plus_one != 0) Place(s.hash, s.id_plus_one);
    }
  }

  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace nimify::storage

#endif  // NIMIFY_STORAGE_ID_TABLE_H_
