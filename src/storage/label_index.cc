#include "storage/label_index.h"

#include <algorithm>

#include "storage/hash.h"

namespace nimify::storage {
namespace {

std::uint32_t PairHash(std::uint32_t name, std::uint32_t value) noexcept {
  return Fold32(MixMultiply((std::uint64_t{name} << 32) | value, 0x9fb21c651e98df25ull));
}
std::uint32_t NameHash(std::uint32_t name) noexcept {
  return Fold32(MixMultiply(name, 0xc2b2ae3d27d4eb4full));
}

}  // namespace

void SlotList::push_back(std::uint32_t slot) {
  if (size_ == capacity_) {
    const std::uint32_t grown = capacity_ * 2;
    auto* fresh = new std::uint32_t[grown];
    std::copy_n(data(), size_, fresh);
    if (capacity_ > kInline) delete[] heap_;
    heap_ = fresh;
    capacity_ = grown;
  }
  data()[size_++] = slot;
}

void SlotList::Release() noexcept {
  if (capacity_ > kInline) delete[] heap_;
  size_ = 0;
  capacity_ = kInline;
}

void SlotList::TakeFrom(SlotList& other) noexcept {
  size_ = other.size_;
  capacity_ = other.capacity_;
  if (capacity_ > kInline) {
    heap_ = other.heap_;
  } else {
    std::copy_n(other.inline_, kInline, inline_);
  }
  other.size_ = 0;
  other.capacity_ = kInline;
}

std::uint32_t LabelIndex::FindList(std::uint32_t name, std::uint32_t value) const {
  return list_table_.Find(PairHash(name, value), [&](std::uint32_t id) {
    return lists_[id].name == name && lists_[id].value == value;
  });
}

std::uint32_t LabelIndex::FindName(std::uint32_t name) const {
  return name_table_.Find(NameHash(name),
                          [&](std::uint32_t id) { return names_[id].name == name; });
}

std::span<const std::uint32_t> LabelIndex::Postings(std::uint32_t name, std::uint32_t value) const {
  const std::uint32_t list = FindList(name, value);
  if (list == IdTable::kNotFound) return {};
  return lists_[list].slots.span();
}

void LabelIndex::Add(std::uint32_t slot, std::span<const LabelPair> labels) {
  for (const LabelPair& l : labels) {
    std::uint32_t list = FindList(l.name, l.value);
    if (list == IdTable::kNotFound) {
      if (!free_lists_.empty()) {
        list = free_lists_.back();
        free_lists_.pop_back();
      } else {
        list = static_cast<std::uint32_t>(lists_.size());
        lists_.emplace_back();
      }
      lists_[list].name = l.name;
      lists_[list].value = l.value;
      list_table_.Insert(PairHash(l.name, l.value), list);
      std::uint32_t n = FindName(l.name);
      if (n == IdTable::kNotFound) {
        if (!free_names_.empty()) {
          n = free_names_.back();
          free_names_.pop_back();
        } else {
          n = static_cast<std::uint32_t>(names_.size());
          names_.emplace_back();
        }
        names_[n].name = l.name;
        name_table_.Insert(NameHash(l.name), n);
      }
      names_[n].lists.push_back(list);
    }
    lists_[list].slots.push_back(slot);
  }
}

void LabelIndex::Remove(std::span<const std::uint32_t> slots,
                        const std::function<std::span<const LabelPair>(std::uint32_t)>& labels_of) {
  if (slots.empty()) return;
  const std::uint32_t max_slot = *std::max_element(slots.begin(), slots.end());
  std::vector<bool> dropped(std::size_t{max_slot} + 1, false);
  std::vector<std::uint32_t> affected;
  for (std::uint32_t slot : slots) {
    dropped[slot] = true;
    for (const LabelPair& l : labels_of(slot)) {
      const std::uint32_t list = FindList(l.name, l.value);
      if (list != IdTable::kNotFound) affected.push_back(list);
    }
  }
  std::sort(affected.begin(), affected.end());
  affected.erase(std::unique(affected.begin(), affected.end()), affected.end());

  std::vector<std::uint32_t> emptied_names;
  std::vector<bool> list_emptied(lists_.size(), false);
  for (std::uint32_t list : affected) {
    SlotList& s = lists_[list].slots;
    s.RemoveIf([&](std::uint32_t x) { return x <= max_slot && dropped[x]; });
    if (!s.empty()) continue;
    list_emptied[list] = true;
    list_table_.Erase(PairHash(lists_[list].name, lists_[list].value), list);
    emptied_names.push_back(lists_[list].name);
    s.Release();
    free_lists_.push_back(list);
  }
  std::sort(emptied_names.begin(), emptied_names.end());
  emptied_names.erase(std::unique(emptied_names.begin(), emptied_names.end()), emptied_names.end());
  for (std::uint32_t name : emptied_names) {
    const std::uint32_t n = FindName(name);
    auto& lists = names_[n].lists;
    lists.erase(std::remove_if(lists.begin(), lists.end(),
                               [&](std::uint32_t l) { return list_emptied[l]; }),
                lists.end());
    if (!lists.empty()) continue;
    name_table_.Erase(NameHash(name), n);
    std::vector<std::uint32_t>().swap(lists);
    free_names_.push_back(n);
  }
}

std::size_t LabelIndex::MemoryBytes() const noexcept {
  std::size_t bytes = lists_.capacity() * sizeof(PostingList) + list_table_.MemoryBytes() +
                      names_.capacity() * sizeof(NameEntry) + name_table_.MemoryBytes() +
                      (free_lists_.capacity() + free_names_.capacity()) * sizeof(std::uint32_t);
  for (const PostingList& l : lists_) bytes += l.slots.HeapBytes();
  for (const NameEntry& n : names_) bytes += n.lists.capacity() * sizeof(std::uint32_t);
  return bytes;
}

}  // namespace nimify::storage
