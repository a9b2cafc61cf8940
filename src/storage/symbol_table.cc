#include "storage/symbol_table.h"

#include <cstring>

#include "storage/hash.h"

namespace nimify::storage {

std::uint32_t SymbolTable::Find(std::string_view text) const {
  return table_.Find(Fold32(HashBytes(text)), [&](std::uint32_t id) { return Get(id) == text; });
}

std::uint32_t SymbolTable::Acquire(std::string_view text) {
  const std::uint32_t hash = Fold32(HashBytes(text));
  std::uint32_t id = table_.Find(hash, [&](std::uint32_t i) { return Get(i) == text; });
  if (id != kNone) {
    ++entries_[id].refs;
    return id;
  }
  if (!free_ids_.empty()) {
    id = free_ids_.back();
    free_ids_.pop_back();
  } else {
    id = static_cast<std::uint32_t>(entries_.size());
    entries_.emplace_back();
  }
  Entry& e = entries_[id];
  e.text.reset(text.empty() ? nullptr : new char[text.size()]);
  if (!text.empty()) std::memcpy(e.text.get(), text.data(), text.size());
  e.size = static_cast<std::uint32_t>(text.size());
  e.refs = 1;
  text_bytes_ += text.size();
  table_.Insert(hash, id);
  return id;
}

void SymbolTable::Release(std::uint32_t id) {
  Entry& e = entries_[id];
  if (--e.refs != 0) return;
  table_.Erase(Fold32(HashBytes(Get(id))), id);
  text_bytes_ -= e.size;
  e.text.reset();
  e.size = 0;
  free_ids_.push_back(id);
}

std::size_t SymbolTable::MemoryBytes() const noexcept {
  // Small allocations cost at least 32 bytes in glibc's malloc; count that, not the text size.
  return entries_.capacity() * sizeof(Entry) + free_ids_.capacity() * sizeof(std::uint32_t) +
         table_.MemoryBytes() + text_bytes_ + live() * 16;
}

}  // namespace nimify::storage
