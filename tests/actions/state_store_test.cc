#include "nimify/state_store.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "actions/crc32c.h"
#include "actions/file_state_store.h"

namespace nimify::actions {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

// A fresh directory, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "nimify-state-XXXXXX").string();
    char* made = ::mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

std::vector<std::string> FilesWithPrefix(const std::string& dir, const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with(prefix)) out.push_back(name);
  }
  return out;
}

std::unique_ptr<StateStore> MustOpen(const std::string& dir, FileStateStoreOptions options = {},
                                     FileStateStoreHooks hooks = {}) {
  auto store = OpenFileStateStoreWithHooks(dir, options, std::move(hooks));
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store).value() : nullptr;
}

std::string ValueOf(StateStore& store, std::string_view key) {
  auto got = store.Get(key);
  EXPECT_TRUE(got.ok()) << got.status().ToString();
  if (!got.ok() || !got->has_value()) return "<absent>";
  return (*got)->value;
}

TEST(Crc32cTest, KnownVectors) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(""), 0u);
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);
  // Continuing from a prefix's CRC equals the CRC of the whole.
  EXPECT_EQ(Crc32c("56789", Crc32c("1234")), Crc32c("123456789"));
  std::string long_input(1000, 'x');
  for (std::size_t i = 0; i < long_input.size(); ++i) long_input[i] = static_cast<char>(i * 7);
  EXPECT_EQ(Crc32c(std::string_view(long_input).substr(333), Crc32c(long_input.substr(0, 333))),
            Crc32c(long_input));
}

TEST(LogFileNameTest, SanitizesAndRoundTrips) {
  EXPECT_EQ(LogFileName("audit"), "audit.log");
  EXPECT_EQ(LogFileName("../etc/passwd"), "%2E.%2Fetc%2Fpasswd.log");
  EXPECT_EQ(LogFileName(".hidden"), "%2Ehidden.log");
  EXPECT_EQ(LogFileName(""), std::nullopt);
  EXPECT_EQ(LogFileName(std::string(300, 'a')), std::nullopt);
  for (const std::string& name :
       std::vector<std::string>{"audit", "../x", "a b/c%d", std::string("\0\xff", 2), ".", ".."}) {
    std::optional<std::string> file = LogFileName(name);
    ASSERT_TRUE(file.has_value()) << name;
    EXPECT_EQ(file->find('/'), std::string::npos);
    EXPECT_NE(file->front(), '.');
    EXPECT_EQ(LogNameFromFileName(*file), name);
  }
  EXPECT_EQ(LogNameFromFileName("a%2.log"), std::nullopt);
  EXPECT_EQ(LogNameFromFileName("a%2e.log"), std::nullopt);  // not the canonical spelling
  EXPECT_EQ(LogNameFromFileName("a%61.log"), std::nullopt);  // 'a' is never escaped
  EXPECT_EQ(LogNameFromFileName("audit.txt"), std::nullopt);
}

// The contract both stores share.
class StateStoreContractTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam()) {
      store_ = MustOpen(dir_.path());
    } else {
      store_ = NewMemoryStateStore();
    }
    ASSERT_NE(store_, nullptr);
  }
  TempDir dir_;
  std::unique_ptr<StateStore> store_;
};

TEST_P(StateStoreContractTest, PutGetDelete) {
  StateStore& s = *store_;
  EXPECT_EQ(ValueOf(s, "a"), "<absent>");
  auto r1 = s.Put("a", "one");
  ASSERT_TRUE(r1.ok());
  EXPECT_GT(*r1, 0u);
  auto got = s.Get("a");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ(**got, (StoredValue{"a", "one", *r1, 0}));
  auto r2 = s.Put("a", std::string("t\0wo", 4));
  ASSERT_TRUE(r2.ok());
  EXPECT_GT(*r2, *r1);
  EXPECT_EQ(ValueOf(s, "a"), std::string("t\0wo", 4));
  EXPECT_TRUE(s.Delete("a").ok());
  EXPECT_EQ(ValueOf(s, "a"), "<absent>");
  EXPECT_TRUE(s.Delete("a").ok());  // absent is fine
  EXPECT_TRUE(s.Delete("never").ok());
  // Written again after a delete, a key never repeats a revision.
  auto r3 = s.Put("a", "three");
  ASSERT_TRUE(r3.ok());
  EXPECT_GT(*r3, *r2);
  EXPECT_EQ(s.Put("", "x").status().code(), StatusCode::kInvalidArgument);
}

TEST_P(StateStoreContractTest, CompareAndSet) {
  StateStore& s = *store_;
  auto created = s.CompareAndSet("k", 0, "v1");
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  // 0 means "only when absent": the key exists now.
  EXPECT_EQ(s.CompareAndSet("k", 0, "again").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.CompareAndSet("k", *created + 1, "v2").status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(ValueOf(s, "k"), "v1");
  auto updated = s.CompareAndSet("k", *created, "v2");
  ASSERT_TRUE(updated.ok());
  EXPECT_GT(*updated, *created);
  // The old revision is stale now.
  EXPECT_EQ(s.CompareAndSet("k", *created, "v3").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(ValueOf(s, "k"), "v2");
  auto after_put = s.Put("k", "v4");
  ASSERT_TRUE(after_put.ok());
  EXPECT_EQ(s.CompareAndSet("k", *updated, "v5").status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(s.Delete("k").ok());
  EXPECT_EQ(s.CompareAndSet("k", *after_put, "v6").status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_TRUE(s.CompareAndSet("k", 0, "v7").ok());
  EXPECT_EQ(ValueOf(s, "k"), "v7");
}

TEST_P(StateStoreContractTest, ListByPrefixSorted) {
  StateStore& s = *store_;
  for (const char* key : {"silence/b", "ack/x", "silence/a", "silence", "silencf", "silence/c"}) {
    ASSERT_TRUE(s.Put(key, std::string("v-") + key).ok());
  }
  ASSERT_TRUE(s.Delete("silence/c").ok());
  auto listed = s.List("silence/");
  ASSERT_TRUE(listed.ok());
  std::vector<std::string> keys;
  for (const StoredValue& v : *listed) {
    keys.push_back(v.key);
    EXPECT_EQ(v.value, "v-" + v.key);
  }
  EXPECT_THAT(keys, ElementsAre("silence/a", "silence/b"));
  auto all = s.List("");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 5u);
  EXPECT_THAT(*s.List("zzz"), IsEmpty());
}

TEST_P(StateStoreContractTest, LogsNumberRecordsFromOne) {
  StateStore& s = *store_;
  EXPECT_THAT(*s.ReadLog("audit", 1, 10), IsEmpty());
  EXPECT_EQ(*s.Append("audit", "first"), 1u);
  EXPECT_EQ(*s.Append("audit", "second"), 2u);
  EXPECT_EQ(*s.Append("other", "x"), 1u);
  EXPECT_EQ(*s.Append("audit", ""), 3u);
  EXPECT_THAT(*s.ReadLog("audit", 0, 10),
              ElementsAre(Pair(1u, "first"), Pair(2u, "second"), Pair(3u, "")));
  EXPECT_THAT(*s.ReadLog("audit", 2, 1), ElementsAre(Pair(2u, "second")));
  EXPECT_THAT(*s.ReadLog("audit", 4, 10), IsEmpty());
  EXPECT_THAT(*s.ReadLog("audit", 1, 0), IsEmpty());
  EXPECT_THAT(*s.ReadLog("other", 1, 10), ElementsAre(Pair(1u, "x")));
  EXPECT_EQ(s.Append("", "x").status().code(), StatusCode::kInvalidArgument);
}

TEST_P(StateStoreContractTest, ConcurrentCompareAndSetCountsEveryIncrement) {
  StateStore& s = *store_;
  constexpr int kThreads = 4;
  constexpr int kIncrementsPerThread = 50;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&s, &failures, t] {
      for (int done = 0; done < kIncrementsPerThread;) {
        auto cur = s.Get("counter");
        if (!cur.ok()) {
          ++failures;
          return;
        }
        const std::uint64_t rev = cur->has_value() ? (*cur)->revision : 0;
        const int n = cur->has_value() ? std::stoi((*cur)->value) : 0;
        auto set = s.CompareAndSet("counter", rev, std::to_string(n + 1));
        if (set.ok()) {
          ++done;
        } else if (set.status().code() != StatusCode::kFailedPrecondition) {
          ++failures;
          return;
        }
        if (done % 10 == 0) (void)s.Append("log-" + std::to_string(t), "x");
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(ValueOf(s, "counter"), std::to_string(kThreads * kIncrementsPerThread));
}

INSTANTIATE_TEST_SUITE_P(Stores, StateStoreContractTest, ::testing::Values(false, true),
                         [](const auto& param_info) {
                           return param_info.param ? "File" : "Memory";
                         });

TEST(MemoryStateStoreTest, ExpiryFollowsTheInjectedClock) {
  std::int64_t now = 1'000'000;
  auto s = NewMemoryStateStore([&now] { return now; });
  EXPECT_EQ(s->now_ms(), 1'000'000);
  ASSERT_TRUE(s->Put("ack/1", "bob", PutOptions{.expires_at_ms = now + 500}).ok());
  ASSERT_TRUE(s->Put("ack/2", "eve").ok());
  now += 499;
  EXPECT_EQ(ValueOf(*s, "ack/1"), "bob");
  EXPECT_EQ((*s->Get("ack/1"))->expires_at_ms, 1'000'500);
  now += 1;  // expires_at is the first instant the key is gone
  EXPECT_EQ(ValueOf(*s, "ack/1"), "<absent>");
  EXPECT_EQ(s->List("ack/")->size(), 1u);
  // Expired reads as absent for compare-and-set too.
  EXPECT_TRUE(s->CompareAndSet("ack/1", 0, "carol").ok());
  EXPECT_EQ(ValueOf(*s, "ack/1"), "carol");
}

TEST(FileStateStoreTest, ExpiredKeysReadAsAbsent) {
  TempDir dir;
  const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  {
    auto s = MustOpen(dir.path());
    ASSERT_TRUE(s->Put("past", "x", PutOptions{.expires_at_ms = now - 1000}).ok());
    ASSERT_TRUE(s->Put("future", "y", PutOptions{.expires_at_ms = now + 3'600'000}).ok());
    EXPECT_EQ(ValueOf(*s, "past"), "<absent>");
    EXPECT_EQ(ValueOf(*s, "future"), "y");
    EXPECT_EQ(s->List("")->size(), 1u);
    EXPECT_TRUE(s->Delete("past").ok());
  }
  auto s = MustOpen(dir.path());
  EXPECT_EQ(ValueOf(*s, "past"), "<absent>");
  EXPECT_EQ((*s->Get("future"))->expires_at_ms, now + 3'600'000);
  EXPECT_TRUE(s->CompareAndSet("past", 0, "z").ok());
}

TEST(FileStateStoreTest, InjectedClockDrivesExpiry) {
  TempDir dir;
  std::int64_t now = 5000;
  FileStateStoreHooks hooks;
  hooks.clock = [&now] { return now; };
  auto s = MustOpen(dir.path(), {}, hooks);
  ASSERT_TRUE(s->Put("k", "v", PutOptions{.expires_at_ms = 6000}).ok());
  EXPECT_EQ(ValueOf(*s, "k"), "v");
  now = 6000;
  EXPECT_EQ(ValueOf(*s, "k"), "<absent>");
}

TEST(FileStateStoreTest, ReopenReplaysKeysRevisionsAndLogs) {
  TempDir dir;
  std::map<std::string, StoredValue> expected;
  std::uint64_t last_revision = 0;
  {
    auto s = MustOpen(dir.path());
    for (int i = 0; i < 100; ++i) {
      const std::string key = "k/" + std::to_string(i % 37);
      auto rev = s->Put(key, "value-" + std::to_string(i));
      ASSERT_TRUE(rev.ok());
      expected[key] = StoredValue{key, "value-" + std::to_string(i), *rev, 0};
      last_revision = *rev;
    }
    ASSERT_TRUE(s->Delete("k/3").ok());
    expected.erase("k/3");
    for (int i = 0; i < 5; ++i) ASSERT_EQ(*s->Append("audit", "rec" + std::to_string(i)), i + 1u);
    ASSERT_EQ(*s->Append("odd/name ü", "x"), 1u);
  }
  auto s = MustOpen(dir.path());
  const FileStateStoreInfo info = GetFileStateStoreInfo(*s);
  EXPECT_EQ(info.records_replayed, 100u + 1 + 5 + 1);
  EXPECT_EQ(info.bytes_discarded, 0u);
  EXPECT_THAT(info.notes, IsEmpty());
  auto listed = s->List("");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), expected.size());
  for (const StoredValue& v : *listed) EXPECT_EQ(v, expected[v.key]);
  // Revisions continue above everything handed out, the delete included.
  auto next = s->Put("new", "n");
  ASSERT_TRUE(next.ok());
  EXPECT_GT(*next, last_revision + 1);
  EXPECT_EQ(*s->Append("audit", "rec5"), 6u);
  auto log = s->ReadLog("audit", 5, 100);
  ASSERT_TRUE(log.ok());
  EXPECT_THAT(*log, ElementsAre(Pair(5u, "rec4"), Pair(6u, "rec5")));
  EXPECT_THAT(*s->ReadLog("odd/name ü", 1, 10), ElementsAre(Pair(1u, "x")));
  // Other stores have no file info.
  EXPECT_EQ(GetFileStateStoreInfo(*NewMemoryStateStore()).records_replayed, 0u);
}

TEST(FileStateStoreTest, SecondOpenOfTheSameDirectoryIsRefused) {
  TempDir dir;
  auto first = MustOpen(dir.path());
  auto second = OpenFileStateStore(dir.path());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("LOCK"));
  first.reset();
  EXPECT_TRUE(OpenFileStateStore(dir.path()).ok());
}

TEST(FileStateStoreTest, UncreatableDirectoryIsUnavailable) {
  TempDir dir;
  WriteFile(dir.Sub("file"), "x");
  auto s = OpenFileStateStore(dir.Sub("file") + "/sub");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable);
}

// Cutting the journal at every byte of its last record: reopening keeps every
// earlier record, drops the cut one, reports the bytes, and never crashes.
TEST(FileStateStoreTest, TornTailAtEveryOffsetKeepsEarlierRecords) {
  TempDir dir;
  const std::string store_dir = dir.Sub("store");
  std::uint64_t before_last = 0;
  {
    auto s = MustOpen(store_dir);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(s->Put("k" + std::to_string(i), "v").ok());
    before_last = fs::file_size(store_dir + "/journal");
    ASSERT_TRUE(s->Put("last", std::string(40, 'L')).ok());
  }
  const std::string whole = ReadFile(store_dir + "/journal");
  ASSERT_GT(whole.size(), before_last + 40);
  for (std::size_t cut = before_last; cut < whole.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    WriteFile(store_dir + "/journal", whole.substr(0, cut));
    auto s = MustOpen(store_dir);
    ASSERT_NE(s, nullptr);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(ValueOf(*s, "k" + std::to_string(i)), "v");
    EXPECT_EQ(ValueOf(*s, "last"), "<absent>");
    const FileStateStoreInfo info = GetFileStateStoreInfo(*s);
    EXPECT_EQ(info.bytes_discarded, cut - before_last);
    if (cut == before_last) {
      EXPECT_THAT(info.notes, IsEmpty());
    } else {
      ASSERT_EQ(info.notes.size(), 1u);
      EXPECT_THAT(info.notes[0], HasSubstr("torn"));
    }
    // The tail is cut off on disk, so the next write lands after good data.
    ASSERT_TRUE(s->Put("after", "a").ok());
    s.reset();
    auto again = MustOpen(store_dir);
    EXPECT_EQ(ValueOf(*again, "after"), "a");
    EXPECT_EQ(GetFileStateStoreInfo(*again).bytes_discarded, 0u);
  }
  EXPECT_THAT(FilesWithPrefix(store_dir, "journal.corrupt"), IsEmpty());
}

TEST(FileStateStoreTest, TornLogTailKeepsEarlierRecords) {
  TempDir dir;
  std::uint64_t before_last = 0;
  const std::string log_path = dir.Sub("logs/audit.log");
  {
    auto s = MustOpen(dir.path());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(s->Append("audit", "r" + std::to_string(i)).ok());
    before_last = fs::file_size(log_path);
    ASSERT_TRUE(s->Append("audit", "the last one").ok());
  }
  const std::string whole = ReadFile(log_path);
  for (std::size_t cut = before_last; cut < whole.size(); ++cut) {
    WriteFile(log_path, whole.substr(0, cut));
    auto s = MustOpen(dir.path());
    ASSERT_NE(s, nullptr);
    EXPECT_THAT(*s->ReadLog("audit", 1, 10),
                ElementsAre(Pair(1u, "r0"), Pair(2u, "r1"), Pair(3u, "r2")));
    EXPECT_EQ(GetFileStateStoreInfo(*s).bytes_discarded, cut - before_last);
    EXPECT_EQ(*s->Append("audit", "next"), 4u);
    s.reset();
    WriteFile(log_path, whole.substr(0, cut));
  }
}

TEST(FileStateStoreTest, CorruptionInTheMiddleKeepsThePrefixAndACopy) {
  TempDir dir;
  std::vector<std::uint64_t> ends;  // journal size after each put
  {
    auto s = MustOpen(dir.path());
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(s->Put("k" + std::to_string(i), "value-" + std::to_string(i)).ok());
      ends.push_back(fs::file_size(dir.Sub("journal")));
    }
  }
  std::string bytes = ReadFile(dir.Sub("journal"));
  const std::string original = bytes;
  // Flip a value byte of record 10 (k10): the checksum no longer matches.
  const std::uint64_t bad_at = ends[9];
  bytes[ends[10] - 2] ^= 0x01;
  WriteFile(dir.Sub("journal"), bytes);
  auto s = MustOpen(dir.path());
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(ValueOf(*s, "k" + std::to_string(i)), "value-" + std::to_string(i));
  for (int i = 10; i < 20; ++i) EXPECT_EQ(ValueOf(*s, "k" + std::to_string(i)), "<absent>");
  const FileStateStoreInfo info = GetFileStateStoreInfo(*s);
  EXPECT_EQ(info.bytes_discarded, original.size() - bad_at);
  ASSERT_EQ(info.notes.size(), 1u);
  EXPECT_THAT(info.notes[0], HasSubstr("corrupt record at offset " + std::to_string(bad_at)));
  EXPECT_THAT(info.notes[0], HasSubstr("checksum"));
  const std::vector<std::string> copies = FilesWithPrefix(dir.path(), "journal.corrupt-");
  ASSERT_EQ(copies.size(), 1u);
  EXPECT_THAT(info.notes[0], HasSubstr(copies[0]));
  EXPECT_EQ(ReadFile(dir.Sub(copies[0])), bytes);  // the file as found
  EXPECT_EQ(fs::file_size(dir.Sub("journal")), bad_at);
}

TEST(FileStateStoreTest, RandomByteFlipsNeverCrashOrInventValues) {
  TempDir dir;
  const std::string store_dir = dir.Sub("store");
  constexpr int kKeys = 40;
  {
    auto s = MustOpen(store_dir);
    for (int i = 0; i < kKeys; ++i) {
      ASSERT_TRUE(s->Put("k" + std::to_string(i), "value-" + std::to_string(i)).ok());
    }
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(s->Append("audit", "r" + std::to_string(i)).ok());
  }
  const std::string journal = ReadFile(store_dir + "/journal");
  const std::string log = ReadFile(store_dir + "/logs/audit.log");
  std::mt19937 rng(12345);
  for (int round = 0; round < 60; ++round) {
    std::string j = journal;
    std::string l = log;
    const std::size_t j_at = rng() % j.size();
    const std::size_t l_at = rng() % l.size();
    j[j_at] = static_cast<char>(j[j_at] ^ static_cast<char>(1u << (rng() % 8)));
    l[l_at] = static_cast<char>(l[l_at] ^ static_cast<char>(1u << (rng() % 8)));
    WriteFile(store_dir + "/journal", j);
    WriteFile(store_dir + "/logs/audit.log", l);
    SCOPED_TRACE("round " + std::to_string(round) + " journal byte " + std::to_string(j_at));
    auto s = MustOpen(store_dir);
    ASSERT_NE(s, nullptr);
    // What survives is a prefix of what was written, each value intact.
    bool gone = false;
    for (int i = 0; i < kKeys; ++i) {
      const std::string v = ValueOf(*s, "k" + std::to_string(i));
      if (v == "<absent>") {
        gone = true;
      } else {
        EXPECT_FALSE(gone) << "k" << i << " survived a record before it";
        EXPECT_EQ(v, "value-" + std::to_string(i));
      }
    }
    EXPECT_TRUE(gone) << "a flipped bit went unnoticed";
    auto records = s->ReadLog("audit", 1, 100);
    ASSERT_TRUE(records.ok());
    EXPECT_LT(records->size(), 10u);
    for (std::size_t i = 0; i < records->size(); ++i) {
      EXPECT_EQ((*records)[i], std::make_pair(i + 1, "r" + std::to_string(i)));
    }
    EXPECT_FALSE(GetFileStateStoreInfo(*s).notes.empty());
    // The store keeps working.
    ASSERT_TRUE(s->Put("after", "ok").ok());
    ASSERT_TRUE(s->Append("audit", "more").ok());
    s.reset();
    EXPECT_EQ(ValueOf(*MustOpen(store_dir), "after"), "ok");
    for (const auto& e : fs::directory_iterator(store_dir)) {
      if (e.path().filename().string().starts_with("journal.corrupt")) fs::remove(e.path());
    }
  }
}

TEST(FileStateStoreTest, CompactionKeepsDataAndRevisionsAndPurgesExpiredKeys) {
  TempDir dir;
  FileStateStoreOptions options;
  options.compact_after_bytes = 2048;
  options.sync =
      false;  // compaction syncs its snapshot anyway; per-write syncs only cost time here
  std::map<std::string, StoredValue> expected;
  std::uint64_t last = 0;
  std::uint64_t written = 0;
  {
    auto s = MustOpen(dir.path(), options);
    ASSERT_TRUE(s->Put("expired-key-marker", "gone", PutOptions{.expires_at_ms = 1}).ok());
    for (int i = 0; i < 2000; ++i) {
      const std::string key = "k" + std::to_string(i % 10);
      const std::string value = std::string(20, static_cast<char>('a' + i % 26));
      auto rev = s->Put(key, value);
      ASSERT_TRUE(rev.ok());
      written += key.size() + value.size() + 29;
      expected[key] = StoredValue{key, value, *rev, 0};
      last = *rev;
    }
    ASSERT_TRUE(s->Put("doomed", "x").ok());
    ASSERT_TRUE(s->Delete("doomed").ok());
    last += 2;
    auto stats = GetFileStateStoreStats(*s);
    ASSERT_TRUE(stats.has_value());
    EXPECT_GT(stats->compactions, 0u);
    EXPECT_EQ(stats->last_compaction_error, "");
    EXPECT_LE(stats->journal_bytes, stats->live_bytes + options.compact_after_bytes + 100);
    EXPECT_LT(fs::file_size(dir.Sub("journal")), written / 4);
    EXPECT_EQ(ReadFile(dir.Sub("journal")).find("expired-key-marker"), std::string::npos);
    for (const auto& [key, v] : expected) EXPECT_EQ(*s->Get(key), v);
  }
  EXPECT_FALSE(fs::exists(dir.Sub("journal.tmp")));
  auto s = MustOpen(dir.path(), options);
  EXPECT_THAT(GetFileStateStoreInfo(*s).notes, IsEmpty());
  for (const auto& [key, v] : expected) EXPECT_EQ(*s->Get(key), v);
  EXPECT_EQ(s->List("")->size(), expected.size());
  auto next = s->Put("fresh", "f");
  ASSERT_TRUE(next.ok());
  EXPECT_GT(*next, last);
}

TEST(FileStateStoreTest, CompactionRightAfterADeleteKeepsTheCounter) {
  TempDir dir;
  FileStateStoreOptions options;
  options.compact_after_bytes = 0;  // compact whenever anything is dead
  std::uint64_t deleted_at = 0;
  {
    auto s = MustOpen(dir.path(), options);
    ASSERT_TRUE(s->Put("a", "1").ok());
    auto rev = s->Put("b", "2");
    ASSERT_TRUE(rev.ok());
    ASSERT_TRUE(s->Delete("b").ok());
    deleted_at = *rev + 1;
    EXPECT_GT(GetFileStateStoreStats(*s)->compactions, 0u);
  }
  auto s = MustOpen(dir.path(), options);
  EXPECT_EQ(ValueOf(*s, "b"), "<absent>");
  EXPECT_GT(*s->Put("b", "again"), deleted_at);
}

// ENOSPC through the test seam: a failed write changes nothing, is cut off,
// and the store works again once the disk has room.
TEST(FileStateStoreTest, FailedWritesChangeNothingAndLaterWritesSucceed) {
  TempDir dir;
  int fail_with = 0;
  FileOp fail_op = FileOp::kWrite;
  std::size_t partial = 0;
  int truncate_fails = 0;
  FileStateStoreHooks hooks;
  hooks.inject_fault = [&](FileOp op, const std::string& path, std::size_t* partial_bytes) {
    if (op == FileOp::kTruncate && truncate_fails > 0) {
      --truncate_fails;
      return EIO;
    }
    if (fail_with == 0 || op != fail_op || path.find("journal") == std::string::npos) return 0;
    *partial_bytes = partial;
    return fail_with;
  };
  std::uint64_t good_revision = 0;
  {
    auto s = MustOpen(dir.path(), {}, hooks);
    auto rev = s->Put("k", "good");
    ASSERT_TRUE(rev.ok());
    good_revision = *rev;
    const std::uint64_t size = fs::file_size(dir.Sub("journal"));

    // A write that stops halfway, as on a full disk.
    fail_with = ENOSPC;
    partial = 7;
    auto failed = s->Put("k", "bad value");
    EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);
    EXPECT_THAT(std::string(failed.status().message()), HasSubstr("No space left on device"));
    EXPECT_EQ(ValueOf(*s, "k"), "good");
    EXPECT_EQ((*s->Get("k"))->revision, good_revision);
    EXPECT_EQ(fs::file_size(dir.Sub("journal")), size);  // the partial bytes are cut off
    EXPECT_EQ(s->CompareAndSet("k", good_revision, "bad").status().code(),
              StatusCode::kUnavailable);
    EXPECT_EQ(s->Delete("k").code(), StatusCode::kUnavailable);
    EXPECT_EQ(ValueOf(*s, "k"), "good");

    // A sync that fails after the whole record was written: cut off too.
    fail_op = FileOp::kSync;
    fail_with = EROFS;
    failed = s->Put("k", "unsynced");
    EXPECT_THAT(std::string(failed.status().message()), HasSubstr("Read-only file system"));
    EXPECT_EQ(fs::file_size(dir.Sub("journal")), size);
    EXPECT_EQ(ValueOf(*s, "k"), "good");
    // The cut's own sync failed as well, so the next write cuts first.
    fail_with = 0;
    rev = s->Put("k", "good");
    ASSERT_TRUE(rev.ok()) << rev.status().ToString();
    good_revision = *rev;
    const std::uint64_t size2 = fs::file_size(dir.Sub("journal"));
    EXPECT_GT(size2, size);

    // The cut itself fails: the next write must cut first, and fails while it cannot.
    fail_op = FileOp::kWrite;
    fail_with = ENOSPC;
    partial = 1000;
    truncate_fails = 2;
    EXPECT_FALSE(s->Put("k", "bad again").ok());
    EXPECT_GT(fs::file_size(dir.Sub("journal")), size2);  // left behind for now
    fail_with = 0;
    EXPECT_EQ(s->Put("k", "blocked").status().code(), StatusCode::kUnavailable);
    EXPECT_EQ(ValueOf(*s, "k"), "good");

    // Room again: writes go through, and nothing failed is left on disk.
    auto ok = s->Put("k", "better");
    ASSERT_TRUE(ok.ok()) << ok.status().ToString();
    EXPECT_GT(*ok, good_revision);
    good_revision = *ok;
  }
  auto s = MustOpen(dir.path());
  EXPECT_EQ(ValueOf(*s, "k"), "better");
  EXPECT_EQ((*s->Get("k"))->revision, good_revision);
  EXPECT_THAT(GetFileStateStoreInfo(*s).notes, IsEmpty());
}

TEST(FileStateStoreTest, FailedLogAppendChangesNothing) {
  TempDir dir;
  bool fail = false;
  FileStateStoreHooks hooks;
  hooks.inject_fault = [&](FileOp op, const std::string& path, std::size_t* partial_bytes) {
    if (!fail || op != FileOp::kWrite || path.find("audit") == std::string::npos) return 0;
    *partial_bytes = 5;
    return ENOSPC;
  };
  {
    auto s = MustOpen(dir.path(), {}, hooks);
    EXPECT_EQ(*s->Append("audit", "one"), 1u);
    fail = true;
    EXPECT_EQ(s->Append("audit", "two").status().code(), StatusCode::kUnavailable);
    EXPECT_EQ(s->Append("new-log-is-audit-too", "x").status().code(), StatusCode::kUnavailable);
    fail = false;
    EXPECT_EQ(*s->Append("audit", "three"), 2u);
    EXPECT_THAT(*s->ReadLog("audit", 1, 10), ElementsAre(Pair(1u, "one"), Pair(2u, "three")));
  }
  auto s = MustOpen(dir.path());
  EXPECT_THAT(*s->ReadLog("audit", 1, 10), ElementsAre(Pair(1u, "one"), Pair(2u, "three")));
  EXPECT_THAT(GetFileStateStoreInfo(*s).notes, IsEmpty());
}

// Syncs per store file, counted through the fault seam.
struct SyncCounter {
  std::map<std::string, int> by_file;  // by file name without its suffix
  FileStateStoreHooks Hooks(int* fail_syncs = nullptr) {
    FileStateStoreHooks hooks;
    hooks.inject_fault = [this, fail_syncs](FileOp op, const std::string& path, std::size_t*) {
      if (op != FileOp::kSync) return 0;
      ++by_file[fs::path(path).stem().string()];  // "journal", "audit" (audit.log)
      if (fail_syncs != nullptr && *fail_syncs > 0) {
        --*fail_syncs;
        return EIO;
      }
      return 0;
    };
    return hooks;
  }
  int Of(const std::string& file) const {
    auto it = by_file.find(file);
    return it == by_file.end() ? 0 : it->second;
  }
};

TEST(FileStateStoreTest, GroupSyncScopeSyncsEachFileOncePerCommit) {
  TempDir dir;
  SyncCounter syncs;
  {
    auto s = MustOpen(dir.path(), {}, syncs.Hooks());
    ASSERT_TRUE(s->Append("audit", "opened").ok());  // creates the log file
    syncs.by_file.clear();

    // Without a scope every write is synced before it returns.
    ASSERT_TRUE(s->Put("a", "1").ok());
    ASSERT_TRUE(s->Append("audit", "a=1").ok());
    EXPECT_EQ(syncs.Of("journal"), 1);
    EXPECT_EQ(syncs.Of("audit"), 1);
    syncs.by_file.clear();

    {
      GroupSyncScope scope;
      ASSERT_TRUE(s->Put("a", "2").ok());
      ASSERT_TRUE(s->Put("b", "1").ok());
      ASSERT_TRUE(s->Delete("b").ok());
      ASSERT_TRUE(s->Append("audit", "a=2").ok());
      ASSERT_TRUE(s->Append("audit", "b gone").ok());
      // Written and readable at once, not synced yet.
      EXPECT_EQ(ValueOf(*s, "a"), "2");
      EXPECT_EQ(ValueOf(*s, "b"), "<absent>");
      EXPECT_EQ(s->ReadLog("audit", 1, 10)->size(), 4u);
      EXPECT_EQ(syncs.Of("journal"), 0);
      EXPECT_EQ(syncs.Of("audit"), 0);
      // A write a client is told about is synced at once, scope or not.
      {
        DurableWritesScope durable({"silence/"});
        ASSERT_TRUE(s->Put("silence/x", "on").ok());
      }
      EXPECT_EQ(syncs.Of("journal"), 1);
      ASSERT_TRUE(scope.Commit().ok());
      EXPECT_EQ(syncs.Of("journal"), 2);
      EXPECT_EQ(syncs.Of("audit"), 1);
      // Nothing pending: a second commit syncs nothing.
      ASSERT_TRUE(scope.Commit().ok());
      EXPECT_EQ(syncs.Of("journal"), 2);

      // A write after the commit waits for the scope's end.
      ASSERT_TRUE(s->Put("c", "1").ok());
      EXPECT_EQ(syncs.Of("journal"), 2);
    }
    EXPECT_EQ(syncs.Of("journal"), 3) << "the scope's end commits";

    // Nested scopes: the inner one collects its own writes.
    syncs.by_file.clear();
    {
      GroupSyncScope outer;
      ASSERT_TRUE(s->Put("d", "1").ok());
      {
        GroupSyncScope inner;
        ASSERT_TRUE(s->Append("audit", "d=1").ok());
        ASSERT_TRUE(inner.Commit().ok());
        EXPECT_EQ(syncs.Of("audit"), 1);
      }
      ASSERT_TRUE(outer.Commit().ok());
    }
    EXPECT_GE(syncs.Of("journal"), 1);
  }
  auto s = MustOpen(dir.path());
  EXPECT_EQ(ValueOf(*s, "a"), "2");
  EXPECT_EQ(ValueOf(*s, "b"), "<absent>");
  EXPECT_EQ(ValueOf(*s, "c"), "1");
  EXPECT_EQ(ValueOf(*s, "d"), "1");
  EXPECT_EQ(ValueOf(*s, "silence/x"), "on");
  EXPECT_THAT(*s->ReadLog("audit", 1, 10),
              ElementsAre(Pair(1u, "opened"), Pair(2u, "a=1"), Pair(3u, "a=2"), Pair(4u, "b gone"),
                          Pair(5u, "d=1")));
  EXPECT_THAT(GetFileStateStoreInfo(*s).notes, IsEmpty());
}

TEST(FileStateStoreTest, FailedGroupSyncReportsAndLaterWritesRecover) {
  TempDir dir;
  SyncCounter syncs;
  int fail_syncs = 0;
  bool writable = true;
  FileStateStoreHooks hooks = syncs.Hooks(&fail_syncs);
  hooks.on_writable_change = [&](bool w, const std::string&) { writable = w; };
  {
    auto s = MustOpen(dir.path(), {}, hooks);
    GroupSyncScope scope;
    ASSERT_TRUE(s->Put("k", "v").ok());
    fail_syncs = 1;
    const Status st = scope.Commit();
    EXPECT_EQ(st.code(), StatusCode::kUnavailable);
    EXPECT_THAT(std::string(st.message()), HasSubstr("sync"));
    EXPECT_FALSE(writable);
    EXPECT_FALSE(GetFileStateStoreStats(*s)->writable);
    EXPECT_EQ(GetFileStateStoreStats(*s)->journal_write_failures, 1u);
    // The disk works again: the next write (synced at once here) says so.
    ASSERT_TRUE(scope.Commit().ok());
    {
      DurableWritesScope durable({"k"});
      ASSERT_TRUE(s->Put("k", "w").ok());
    }
    EXPECT_TRUE(writable);
  }
  auto s = MustOpen(dir.path());
  EXPECT_EQ(ValueOf(*s, "k"), "w");
}

TEST(FileStateStoreTest, FailedCompactionKeepsTheJournal) {
  TempDir dir;
  bool fail_rename = true;
  FileStateStoreHooks hooks;
  hooks.inject_fault = [&](FileOp op, const std::string&, std::size_t*) {
    return op == FileOp::kRename && fail_rename ? ENOSPC : 0;
  };
  FileStateStoreOptions options;
  options.compact_after_bytes = 512;
  {
    auto s = MustOpen(dir.path(), options, hooks);
    for (int i = 0; i < 200; ++i) {
      ASSERT_TRUE(s->Put("k" + std::to_string(i % 3), std::to_string(i)).ok());
    }
    auto stats = GetFileStateStoreStats(*s);
    EXPECT_EQ(stats->compactions, 0u);
    EXPECT_THAT(stats->last_compaction_error, HasSubstr("rename"));
    EXPECT_FALSE(fs::exists(dir.Sub("journal.tmp")));
    fail_rename = false;
    for (int i = 200; i < 400; ++i) {
      ASSERT_TRUE(s->Put("k" + std::to_string(i % 3), std::to_string(i)).ok());
    }
    EXPECT_GT(GetFileStateStoreStats(*s)->compactions, 0u);
  }
  auto s = MustOpen(dir.path());
  EXPECT_EQ(ValueOf(*s, "k0"), "399");
  EXPECT_EQ(ValueOf(*s, "k1"), "397");
  EXPECT_EQ(ValueOf(*s, "k2"), "398");
}

// A child writes keys and reports each acknowledged one over a pipe; it is
// killed at a random moment. Every acknowledged key must be there after.
TEST(FileStateStoreTest, KillNineLosesNoAcknowledgedWrite) {
  TempDir dir;
  const std::string store_dir = dir.Sub("store");
  std::mt19937 rng(std::random_device{}());
  std::map<std::string, std::string> acknowledged;
  std::uint64_t next_index = 0;
  for (int iteration = 0; iteration < 20; ++iteration) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const std::uint64_t first = next_index;
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(fds[0]);
      FileStateStoreOptions options;
      options.compact_after_bytes = 4096;  // compactions happen while being killed, too
      auto s = OpenFileStateStore(store_dir, options);
      if (!s.ok()) ::_exit(2);
      for (std::uint64_t i = first;; ++i) {
        const std::string key = "key/" + std::to_string(i % 500);
        if (!(*s)->Put(key, "value-" + std::to_string(i)).ok()) ::_exit(3);
        if (i % 7 == 0 && !(*s)->Append("audit", std::to_string(i)).ok()) ::_exit(4);
        if (::write(fds[1], &i, sizeof i) != static_cast<ssize_t>(sizeof i)) ::_exit(5);
      }
    }
    ::close(fds[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 40));
    ::kill(child, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
    std::uint64_t i = 0;
    std::uint64_t unacknowledged = first;  // the one write that may have landed unreported
    while (::read(fds[0], &i, sizeof i) == static_cast<ssize_t>(sizeof i)) {
      acknowledged["key/" + std::to_string(i % 500)] = "value-" + std::to_string(i);
      unacknowledged = i + 1;
    }
    ::close(fds[0]);
    next_index = unacknowledged + 1;

    auto s = MustOpen(store_dir);
    ASSERT_NE(s, nullptr);
    const std::string maybe_key = "key/" + std::to_string(unacknowledged % 500);
    for (const auto& [key, value] : acknowledged) {
      const std::string got = ValueOf(*s, key);
      if (key == maybe_key && got == "value-" + std::to_string(unacknowledged)) continue;
      EXPECT_EQ(got, value) << key << " after iteration " << iteration;
    }
    acknowledged[maybe_key] = ValueOf(*s, maybe_key);
    if (acknowledged[maybe_key] == "<absent>") acknowledged.erase(maybe_key);
    auto log = s->ReadLog("audit", 1, 1u << 20);
    ASSERT_TRUE(log.ok());
    for (std::size_t k = 0; k < log->size(); ++k) EXPECT_EQ((*log)[k].first, k + 1);
  }
  EXPECT_GT(acknowledged.size(), 0u);
}

}  // namespace
}  // namespace nimify::actions
