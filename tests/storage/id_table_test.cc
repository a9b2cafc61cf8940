#include "storage/id_table.h"

#include <gtest/gtest.h>

#include <random>
#include <unordered_map>
#include <vector>

#include "storage/symbol_table.h"

namespace nimify::storage {
namespace {

// Keys chosen so that many share a hash: the table must tell them apart by the predicate.
TEST(IdTableTest, MatchesAModelUnderRandomInsertAndErase) {
  std::mt19937 rng(3);
  IdTable table;
  std::vector<std::uint32_t> key_of_id(5000);
  std::unordered_map<std::uint32_t, std::uint32_t> model;     // key -> id
  auto hash_of = [](std::uint32_t key) { return key % 97; };  // heavy collisions
  for (std::uint32_t id = 0; id < key_of_id.size(); ++id) key_of_id[id] = id * 7 + 1;
  for (int step = 0; step < 100'000; ++step) {
    const std::uint32_t id = rng() % key_of_id.size();
    const std::uint32_t key = key_of_id[id];
    const std::uint32_t found =
        table.Find(hash_of(key), [&](std::uint32_t i) { return key_of_id[i] == key; });
    if (model.count(key) != 0) {
      ASSERT_EQ(found, id);
      if (rng() % 2 == 0) {
        ASSERT_TRUE(table.Erase(hash_of(key), id));
        model.erase(key);
      }
    } else {
      ASSERT_EQ(found, IdTable::kNotFound);
      table.Insert(hash_of(key), id);
      model[key] = id;
    }
    ASSERT_EQ(table.size(), model.size());
  }
  for (const auto& [key, id] : model) {
    EXPECT_EQ(table.Find(hash_of(key), [&](std::uint32_t i) { return key_of_id[i] == key; }), id);
  }
  EXPECT_FALSE(table.Erase(5, 123456));
}

TEST(SymbolTableTest, InternsOnceAndReusesFreedIds) {
  SymbolTable symbols;
  const std::uint32_t a = symbols.Acquire("job");
  const std::uint32_t b = symbols.Acquire("instance");
  EXPECT_NE(a, b);
  EXPECT_EQ(symbols.Acquire("job"), a);
  EXPECT_EQ(symbols.Get(a), "job");
  EXPECT_EQ(symbols.Find("instance"), b);
  EXPECT_EQ(symbols.Find("absent"), SymbolTable::kNone);
  EXPECT_EQ(symbols.live(), 2u);

  symbols.Release(a);  // "job" still has one reference
  EXPECT_EQ(symbols.Find("job"), a);
  symbols.Release(a);
  EXPECT_EQ(symbols.Find("job"), SymbolTable::kNone);
  EXPECT_EQ(symbols.live(), 1u);
  // The freed id is reused for a new string; the survivor is untouched.
  EXPECT_EQ(symbols.Acquire(""), a);
  EXPECT_EQ(symbols.Get(a), "");
  EXPECT_EQ(symbols.Get(b), "instance");
}

TEST(SymbolTableTest, StringViewsStayValidWhileTheTableGrows) {
  SymbolTable symbols;
  const std::uint32_t first = symbols.Acquire("a-rather-long-label-value-that-is-not-inlined");
  const std::string_view view = symbols.Get(first);
  for (int i = 0; i < 10'000; ++i) symbols.Acquire("value-" + std::to_string(i));
  EXPECT_EQ(view, "a-rather-long-label-value-that-is-not-inlined");
  EXPECT_EQ(view.data(), symbols.Get(first).data());
  EXPECT_EQ(symbols.live(), 10'001u);
}

}  // namespace
}  // namespace nimify::storage
