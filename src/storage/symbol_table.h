// Interned label strings: each distinct name or value is stored once per
// shard and referred to by a 32-bit id.
#ifndef NIMIFY_STORAGE_SYMBOL_TABLE_H_
#define NIMIFY_STORAGE_SYMBOL_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "storage/id_table.h"

namespace nimify::storage {

// Reference-counted: a symbol lives while some series uses it, and its id is
// reused after the last user releases it. Short texts live inline in the
// table's entries, so a string_view from Get() is valid only until the next
// Acquire or Release.
// Thread safety: none; the shard guards it with its catalog lock.
class SymbolTable {
 public:
  static constexpr std::uint32_t kNone = IdTable::kNotFound;

  SymbolTable() = default;
  ~SymbolTable();
  SymbolTable(const SymbolTable&) = delete;
  SymbolTable& operator=(const SymbolTable&) = delete;

  // The id of `text`, adding it if needed; takes one reference.
  std::uint32_t Acquire(std::string_view text);
  // Drops one reference; the symbol is freed at zero.
  void Release(std::uint32_t id);
  // The id of `text`, or kNone; takes no reference.
  std::uint32_t Find(std::string_view text) const;
  // REQUIRES: `id` is live.
  std::string_view Get(std::uint32_t id) const noexcept {
    const Entry& e = entries_[id];
    return {e.size <= kInlineText ? e.inline_text : e.heap_text, e.size};
  }

  std::size_t live() const noexcept { return table_.size(); }
  // Heap bytes: entries, text and the hash index.
  std::size_t MemoryBytes() const noexcept;

 private:
  // Texts up to this size are stored in the entry: label values are mostly
  // short, and a heap block would cost 32 bytes however short the text.
  static constexpr std::uint32_t kInlineText = 16;
  struct Entry {
    union {
      char inline_text[kInlineText] = {};
      char* heap_text;  // owned, when size > kInlineText
    };
    std::uint32_t size = 0;
    std::uint32_t refs = 0;  // 0: free
  };
  static void FreeText(Entry& e) noexcept;

  // Entries are trivially movable: the table frees heap texts itself.
  std::vector<Entry> entries_;
  std::vector<std::uint32_t> free_ids_;
  IdTable table_;
  std::size_t heap_text_bytes_ = 0;  // as malloc counts them
};

}  // namespace nimify::storage

#endif  // NIMIFY_STORAGE_SYMBOL_TABLE_H_
