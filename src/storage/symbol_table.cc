#include "storage/symbol_table.h"

#include <algorithm>
#include <cstring>

#include "storage/hash.h"

namespace nimify::storage {
namespace {

// What glibc's malloc takes for a text of `size` bytes (16-byte chunks with an
// 8-byte header, at least 32), or 0 for an inline text.
std::size_t HeapCost(std::size_t size, std::size_t inline_limit) noexcept {
  if (size <= inline_limit) return 0;
  return std::max<std::size_t>((size + 8 + 15) / 16 * 16, 32);
}

}  // namespace

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
  e.size = static_cast<std::uint32_t>(text.size());
  if (e.size <= kInlineText) {
    if (!text.empty()) std::memcpy(e.inline_text, text.data(), text.size());
  } else {
    e.heap_text = new char[text.size()];
    std::memcpy(e.heap_text, text.data(), text.size());
  }
  e.refs = 1;
  heap_text_bytes_ += HeapCost(e.size, kInlineText);
  table_.Insert(hash, id);
  return id;
}

void SymbolTable::Release(std::uint32_t id) {
  Entry& e = entries_[id];
  if (--e.refs != 0) return;
  table_.Erase(Fold32(HashBytes(Get(id))), id);
  heap_text_bytes_ -= HeapCost(e.size, kInlineText);
  FreeText(e);
  free_ids_.push_back(id);
}

SymbolTable::~SymbolTable() {
  for (Entry& e : entries_) FreeText(e);
}

void SymbolTable::FreeText(Entry& e) noexcept {
  if (e.size > kInlineText) delete[] e.heap_text;
  e.size = 0;
}

std::size_t SymbolTable::MemoryBytes() const noexcept {
  return entries_.capacity() * sizeof(Entry) + free_ids_.capacity() * sizeof(std::uint32_t) +
         table_.MemoryBytes() + heap_text_bytes_;
}

}  // namespace nimify::storage
