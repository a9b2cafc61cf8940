// The inverted index of one shard: for each (label name, label value) pair,
// the series slots that carry it.
#ifndef NIMIFY_STORAGE_LABEL_INDEX_H_
#define NIMIFY_STORAGE_LABEL_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "storage/id_table.h"

namespace nimify::storage {

// A label as symbol ids (see SymbolTable).
struct LabelPair {
  std::uint32_t name = 0;
  std::uint32_t value = 0;
  friend bool operator==(const LabelPair&, const LabelPair&) = default;
};

// A growable list of slots that keeps up to two inline: most label values in
// a high-cardinality label (an id, a pod name) belong to one series, and a
// heap block for each would cost more than the value itself.
// Thread safety: none (a value type).
class SlotList {
 public:
  SlotList() = default;
  ~SlotList() { Release(); }
  SlotList(SlotList&& other) noexcept { TakeFrom(other); }
  SlotList& operator=(SlotList&& other) noexcept {
    if (this != &other) {
      Release();
      TakeFrom(other);
    }
    return *this;
  }
  SlotList(const SlotList&) = delete;
  SlotList& operator=(const SlotList&) = delete;

  void push_back(std::uint32_t slot);
  // Removes the slots for which drop(slot) is true; keeps the order of the rest.
  template <typename Pred>
  void RemoveIf(Pred&& drop) {
    std::uint32_t* d = data();
    std::uint32_t kept = 0;
    for (std::uint32_t i = 0; i < size_; ++i) {
      if (!drop(d[i])) d[kept++] = d[i];
    }
    size_ = kept;
  }
  // Empties the list and frees its heap block.
  void Release() noexcept;

  const std::uint32_t* data() const noexcept { return capacity_ > kInline ? heap_ : inline_; }
  std::uint32_t* data() noexcept { return capacity_ > kInline ? heap_ : inline_; }
  std::uint32_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::span<const std::uint32_t> span() const noexcept { return {data(), size_}; }
  std::size_t HeapBytes() const noexcept {
    return capacity_ > kInline ? capacity_ * sizeof(std::uint32_t) : 0;
  }

 private:
  static constexpr std::uint32_t kInline = 2;
  void TakeFrom(SlotList& other) noexcept;

  std::uint32_t size_ = 0;
  std::uint32_t capacity_ = kInline;
  union {
    std::uint32_t inline_[kInline] = {};
    std::uint32_t* heap_;  // when capacity_ > kInline
  };
};

// Postings lists are unsorted (slots are reused); a slot appears at most once
// per list. Removal is batched so that dropping many series costs one pass
// over each affected list.
// Thread safety: none; owned by the shard's worker.
class LabelIndex {
 public:
  void Add(std::uint32_t slot, std::span<const LabelPair> labels);

  // Removes every slot in `slots`; `labels_of(slot)` gives the labels it was added with.
  void Remove(std::span<const std::uint32_t> slots,
              const std::function<std::span<const LabelPair>(std::uint32_t)>& labels_of);

  // The slots carrying name=value (empty if none).
  std::span<const std::uint32_t> Postings(std::uint32_t name, std::uint32_t value) const;

  // Calls fn(value_id, postings) for every value `name` has in this index.
  template <typename Fn>
  void ForEachValue(std::uint32_t name, Fn&& fn) const {
    const std::uint32_t n = FindName(name);
    if (n == IdTable::kNotFound) return;
    for (std::uint32_t list : names_[n].lists) {
      fn(lists_[list].value, lists_[list].slots.span());
    }
  }

  std::size_t list_count() const noexcept { return list_table_.size(); }
  std::size_t MemoryBytes() const noexcept;

 private:
  struct PostingList {
    std::uint32_t name = 0;
    std::uint32_t value = 0;
    SlotList slots;
  };
  struct NameEntry {
    std::uint32_t name = 0;
    std::vector<std::uint32_t> lists;  // ids into lists_
  };

  std::uint32_t FindList(std::uint32_t name, std::uint32_t value) const;
  std::uint32_t FindName(std::uint32_t name) const;

  std::vector<PostingList> lists_;
  std::vector<std::uint32_t> free_lists_;
  IdTable list_table_;
  std::vector<NameEntry> names_;
  std::vector<std::uint32_t> free_names_;
  IdTable name_table_;
};

}  // namespace nimify::storage

#endif  // NIMIFY_STORAGE_LABEL_INDEX_H_
