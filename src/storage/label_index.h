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
      fn(lists_[list].value, std::span<const std::uint32_t>(lists_[list].slots));
    }
  }

  std::size_t list_count() const noexcept { return list_table_.size(); }
  std::size_t MemoryBytes() const noexcept;

 private:
  struct PostingList {
    std::uint32_t name = 0;
    std::uint32_t value = 0;
    std::vector<std::uint32_t> slots;
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
