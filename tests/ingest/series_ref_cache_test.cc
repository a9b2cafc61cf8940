#include "ingest/series_ref_cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <snappy.h>

#include <string>
#include <vector>

#include "ingest/remote_write.h"

namespace nimify::ingest {
namespace {

using ::testing::HasSubstr;

std::vector<LabelPair> Pairs(std::initializer_list<LabelPair> l) { return l; }

TEST(SeriesRefCacheTest, MissThenHit) {
  SeriesRefCache cache;
  const auto up = Pairs({{"__name__", "up"}, {"job", "api"}});
  const std::uint64_t h = SeriesRefCache::Hash(up);
  EXPECT_EQ(cache.Find(up, h, 0), 0u);
  cache.Insert(up, h, 42, 0);
  EXPECT_EQ(cache.Find(up, h, 0), 42u);
  EXPECT_EQ(cache.stats().hits, 1u);
  EXPECT_EQ(cache.stats().misses, 1u);
  EXPECT_EQ(cache.size(), 1u);
  // Views into other memory with the same text hit too.
  const std::string name = "__name__", metric = "up", job = "job", api = "api";
  const auto copy = Pairs({{name, metric}, {job, api}});
  EXPECT_EQ(cache.Find(copy, SeriesRefCache::Hash(copy), 0), 42u);
  // Insert replaces.
  cache.Insert(up, h, 43, 0);
  EXPECT_EQ(cache.Find(up, h, 0), 43u);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(SeriesRefCacheTest, DifferentLabelSetsDiffer) {
  SeriesRefCache cache;
  const auto a = Pairs({{"__name__", "up"}, {"job", "api"}});
  const auto b = Pairs({{"__name__", "up"}, {"job", "apj"}});
  const auto c = Pairs({{"__name__", "up"}});
  // Moving a byte across the name/value boundary must change the key.
  const auto d = Pairs({{"__name__", "up"}, {"jo", "bapi"}});
  cache.Insert(a, SeriesRefCache::Hash(a), 1, 0);
  EXPECT_EQ(cache.Find(b, SeriesRefCache::Hash(b), 0), 0u);
  EXPECT_EQ(cache.Find(c, SeriesRefCache::Hash(c), 0), 0u);
  EXPECT_EQ(cache.Find(d, SeriesRefCache::Hash(d), 0), 0u);
  EXPECT_NE(SeriesRefCache::Hash(a), SeriesRefCache::Hash(d));
}

TEST(SeriesRefCacheTest, CollidingHashesAreToldApartByTheirText) {
  SeriesRefCache cache;
  const auto a = Pairs({{"__name__", "a"}});
  const auto b = Pairs({{"__name__", "b"}});
  const auto c = Pairs({{"__name__", "c"}});
  constexpr std::uint64_t kSameHash = 7;  // forced collision
  cache.Insert(a, kSameHash, 1, 0);
  EXPECT_EQ(cache.Find(b, kSameHash, 0), 0u) << "a collision must not return a's ref";
  cache.Insert(b, kSameHash, 2, 0);
  EXPECT_EQ(cache.Find(a, kSameHash, 0), 1u);
  EXPECT_EQ(cache.Find(b, kSameHash, 0), 2u);
  EXPECT_EQ(cache.Find(c, kSameHash, 0), 0u);
  EXPECT_EQ(cache.size(), 2u);
}

TEST(SeriesRefCacheTest, GrowsPastManyEntries) {
  SeriesRefCache cache;
  std::vector<std::string> values;
  for (int i = 0; i < 5000; ++i) values.push_back(std::to_string(i));
  for (int i = 0; i < 5000; ++i) {
    const auto l = Pairs({{"__name__", "m"}, {"i", values[i]}});
    cache.Insert(l, SeriesRefCache::Hash(l), static_cast<std::uint64_t>(i + 1), 0);
  }
  for (int i = 0; i < 5000; ++i) {
    const auto l = Pairs({{"__name__", "m"}, {"i", values[i]}});
    ASSERT_EQ(cache.Find(l, SeriesRefCache::Hash(l), 0), static_cast<std::uint64_t>(i + 1)) << i;
  }
  EXPECT_EQ(cache.stats().generations, 0u);
}

TEST(SeriesRefCacheTest, EvictsChurnedSeriesAndKeepsTheWorkingSet) {
  SeriesRefCache::Options o;
  o.max_entries = 4;
  SeriesRefCache cache(o);
  std::vector<std::string> v;
  for (int i = 0; i < 100; ++i) v.push_back(std::to_string(i));
  const auto labels = [&](int i) { return Pairs({{"__name__", "m"}, {"i", v[i]}}); };
  const auto insert = [&](int i) {
    const auto l = labels(i);
    cache.Insert(l, SeriesRefCache::Hash(l), static_cast<std::uint64_t>(i + 1), 0);
  };
  const auto find = [&](int i) {
    const auto l = labels(i);
    return cache.Find(l, SeriesRefCache::Hash(l), 0);
  };
  // A working set of max_entries series keeps hitting.
  for (int i = 0; i < 4; ++i) insert(i);
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 4; ++i) EXPECT_EQ(find(i), static_cast<std::uint64_t>(i + 1));
  }
  // Churn: 40 new series, each seen once. The cache stays bounded and the
  // first series are gone after two generations.
  for (int i = 10; i < 50; ++i) insert(i);
  EXPECT_LE(cache.size(), 2 * o.max_entries);
  EXPECT_GT(cache.stats().generations, 0u);
  EXPECT_GT(cache.stats().evicted, 0u);
  EXPECT_EQ(find(0), 0u);
  EXPECT_EQ(find(49), 50u);  // the newest survive
  // A hit in the previous generation moves the entry forward.
  insert(60);
  insert(61);
  insert(62);
  insert(63);  // starts a generation: 49 is now in the previous one
  EXPECT_EQ(find(49), 50u);
  for (int i = 70; i < 74; ++i) insert(i);  // another generation
  EXPECT_EQ(find(49), 50u) << "moved forward on its last hit";
  EXPECT_EQ(find(60), 0u);
}

TEST(SeriesRefCacheTest, KeyBytesBoundStartsAGeneration) {
  SeriesRefCache::Options o;
  o.max_key_bytes = 150;  // one of the label sets below (106 bytes)
  SeriesRefCache cache(o);
  const std::string long_value(80, 'x');
  const auto a = Pairs({{"__name__", "a"}, {"v", long_value}});
  const auto b = Pairs({{"__name__", "b"}, {"v", long_value}});
  cache.Insert(a, SeriesRefCache::Hash(a), 1, 0);
  cache.Insert(b, SeriesRefCache::Hash(b), 2, 0);
  EXPECT_EQ(cache.stats().generations, 1u);
  EXPECT_EQ(cache.Find(a, SeriesRefCache::Hash(a), 0), 1u);  // previous generation
  EXPECT_EQ(cache.Find(b, SeriesRefCache::Hash(b), 0), 2u);
  // A label set larger than the bound is not cached at all.
  const std::string huge(200, 'y');
  const auto c = Pairs({{"__name__", "c"}, {"v", huge}});
  cache.Insert(c, SeriesRefCache::Hash(c), 3, 0);
  EXPECT_EQ(cache.Find(c, SeriesRefCache::Hash(c), 0), 0u);
}

TEST(SeriesRefCacheTest, IdleEntriesMiss) {
  SeriesRefCache::Options o;
  o.max_idle_ms = 1000;
  SeriesRefCache cache(o);
  const auto up = Pairs({{"__name__", "up"}});
  const std::uint64_t h = SeriesRefCache::Hash(up);
  cache.Insert(up, h, 5, 0);
  EXPECT_EQ(cache.Find(up, h, 900), 5u);   // used at 900
  EXPECT_EQ(cache.Find(up, h, 1900), 5u);  // 1000 after its last use: still fresh
  EXPECT_EQ(cache.Find(up, h, 2901), 0u);  // idle for 1001 ms
  cache.Insert(up, h, 6, 2901);            // resolved again
  EXPECT_EQ(cache.Find(up, h, 2902), 6u);
}

TEST(SeriesRefCacheTest, IgnoresEmptyLabelSetsAndRefZero) {
  SeriesRefCache cache;
  cache.Insert({}, SeriesRefCache::Hash({}), 1, 0);
  const auto up = Pairs({{"__name__", "up"}});
  cache.Insert(up, SeriesRefCache::Hash(up), 0, 0);
  EXPECT_EQ(cache.size(), 0u);
  cache.Insert(up, SeriesRefCache::Hash(up), 9, 0);
  cache.Clear();
  EXPECT_EQ(cache.Find(up, SeriesRefCache::Hash(up), 0), 0u);
}

// Protobuf length-delimited field `tag` holding `payload` (payload < 128 bytes).
std::string Field(char tag, const std::string& payload) {
  return std::string(1, tag) + static_cast<char>(payload.size()) + payload;
}

// The cache keys decoded series: the decoder sorts labels, so the order on
// the wire does not matter, and its errors still say where.
TEST(SeriesRefCacheTest, KeysDecodedSeriesWhateverTheWireOrder) {
  const auto label = [](const std::string& n, const std::string& v) {
    return Field('\x0a', Field('\x0a', n) + Field('\x12', v));
  };
  const std::string sample = Field('\x12', "\x09" + std::string(8, '\0'));
  const std::string sorted = Field('\x0a', label("__name__", "up") + label("job", "node") + sample);
  const std::string unsorted =
      Field('\x0a', label("job", "node") + label("__name__", "up") + sample);
  Batch batch;
  ASSERT_TRUE(DecodeWriteRequest(sorted + unsorted, Limits(), &batch).ok());
  ASSERT_EQ(batch.series_count(), 2u);
  SeriesRefCache cache;
  const BatchSeries first = batch.series(0);
  cache.Insert(first.labels, SeriesRefCache::Hash(first.labels), 11, 0);
  const BatchSeries second = batch.series(1);
  EXPECT_EQ(cache.Find(second.labels, SeriesRefCache::Hash(second.labels), 0), 11u);

  // Bad labels never reach the cache: the decoder reports them with where.
  Batch bad;
  const std::string bad_series = Field('\x0a', label("__name__", "up") + label("1x", "v") + sample);
  const Status s = DecodeWriteRequest(sorted + bad_series, Limits(), &bad);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("timeseries[1].labels[1]: invalid label name \"1x\""));
  EXPECT_EQ(bad.series_count(), 0u);
  const std::string dup_series =
      Field('\x0a', label("__name__", "up") + label("job", "a") + label("job", "b") + sample);
  const Status d = DecodeWriteRequest(dup_series, Limits(), &bad);
  EXPECT_THAT(d.message(), HasSubstr("timeseries[0]: duplicate label name"));
}

// Encoded keys: bytes, hashed with HashKey; a different byte misses, and a
// forced hash collision is told apart by the bytes.
TEST(SeriesRefCacheTest, EncodedKeys) {
  SeriesRefCache cache;
  const std::string a = "\x0a\x04\x0a\x02up", b = "\x0a\x04\x0a\x02uq";
  EXPECT_EQ(cache.FindEncoded(a, SeriesRefCache::HashKey(a), 0), 0u);
  cache.InsertEncoded(a, SeriesRefCache::HashKey(a), 5, 0);
  EXPECT_EQ(cache.FindEncoded(a, SeriesRefCache::HashKey(a), 0), 5u);
  EXPECT_EQ(cache.FindEncoded(b, SeriesRefCache::HashKey(b), 0), 0u);
  constexpr std::uint64_t kSameHash = 9;
  cache.InsertEncoded(a, kSameHash, 6, 0);
  EXPECT_EQ(cache.FindEncoded(b, kSameHash, 0), 0u);
  cache.InsertEncoded(b, kSameHash, 7, 0);
  EXPECT_EQ(cache.FindEncoded(a, kSameHash, 0), 6u);
  EXPECT_EQ(cache.FindEncoded(b, kSameHash, 0), 7u);
  // Prefetch hints change nothing.
  cache.Prefetch(kSameHash);
  cache.PrefetchKey(kSameHash);
  cache.PrefetchKey(12345);
  EXPECT_EQ(cache.FindEncoded(a, SeriesRefCache::HashKey(a), 0), 5u);
}

// A label set stored by its views never answers for encoded bytes and the
// other way round, even when the bytes and the hash are the same.
TEST(SeriesRefCacheTest, KeyKindsNeverMatchEachOther) {
  SeriesRefCache cache;
  const auto labels = Pairs({{"__name__", "up"}});
  // The view key's stored text: u32 size, name, u32 size, value.
  std::string text;
  for (std::string_view part : {std::string_view("__name__"), std::string_view("up")}) {
    const auto n = static_cast<std::uint32_t>(part.size());
    text.append(reinterpret_cast<const char*>(&n), 4);
    text.append(part);
  }
  constexpr std::uint64_t kHash = 3;
  cache.Insert(labels, kHash, 1, 0);
  EXPECT_EQ(cache.FindEncoded(text, kHash, 0), 0u);
  cache.InsertEncoded(text, kHash, 2, 0);
  EXPECT_EQ(cache.Find(labels, kHash, 0), 1u);
  EXPECT_EQ(cache.FindEncoded(text, kHash, 0), 2u);
}

// Encoded keys through generations and idle aging, as label-view keys.
TEST(SeriesRefCacheTest, EncodedKeysAgeAndMoveAcrossGenerations) {
  SeriesRefCache::Options o;
  o.max_entries = 2;
  o.max_idle_ms = 100;
  SeriesRefCache cache(o);
  const std::string k[] = {"k1", "k2", "k3"};
  for (int i = 0; i < 3; ++i) cache.InsertEncoded(k[i], SeriesRefCache::HashKey(k[i]), 10 + i, 0);
  // k1 and k2 filled the first generation; k3 started a second.
  EXPECT_EQ(cache.stats().generations, 1u);
  // k1 from the previous generation, k3 from the current one.
  EXPECT_EQ(cache.FindEncoded(k[0], SeriesRefCache::HashKey(k[0]), 50), 10u);
  EXPECT_EQ(cache.FindEncoded(k[2], SeriesRefCache::HashKey(k[2]), 50), 12u);
  EXPECT_EQ(cache.FindEncoded(k[2], SeriesRefCache::HashKey(k[2]), 200), 0u);  // idle too long
}

// Remote write with a RefLookup: each series carries its encoded label run
// and what the cache knew; label order on the wire makes different keys
// (the same series then just resolves twice), and labels split by other
// fields give no key.
TEST(SeriesRefCacheTest, RemoteWriteLooksSeriesUpWhileDecoding) {
  auto label = [](const std::string& n, const std::string& v) {
    return Field('\x0a', Field('\x0a', n) + Field('\x12', v));
  };
  const std::string sample = Field('\x12', "\x09" + std::string(8, '\0'));
  const std::string labels = label("__name__", "up") + label("job", "node");
  const std::string series = Field('\x0a', labels + sample);
  const std::string split =
      Field('\x0a', label("__name__", "up") + sample + label("job", "node"));
  auto compress = [](const std::string& proto) {
    std::string out;
    snappy::Compress(proto.data(), proto.size(), &out);
    return out;
  };
  const std::string body = compress(series);

  SeriesRefCache cache;
  Batch batch;
  ASSERT_TRUE(DecodeRemoteWrite(body, Limits(), &batch, RefLookup{&cache, 0}).ok());
  ASSERT_EQ(batch.series_count(), 1u);
  BatchSeries s = batch.series(0);
  EXPECT_EQ(s.label_key, labels);
  EXPECT_EQ(s.label_key_hash, SeriesRefCache::HashKey(labels));
  EXPECT_EQ(s.cached_ref, 0u);
  cache.InsertEncoded(s.label_key, s.label_key_hash, 77, 0);

  batch.Clear();
  ASSERT_TRUE(DecodeRemoteWrite(body, Limits(), &batch, RefLookup{&cache, 0}).ok());
  s = batch.series(0);
  EXPECT_EQ(s.cached_ref, 77u);
  // A known series is not decoded into label views; its key still names it.
  EXPECT_TRUE(s.labels.empty());
  EXPECT_EQ(LabelKeyMetricName(s.label_key), "up");
  EXPECT_EQ(LabelKeyMetricName(label("job", "node")), "");
  ASSERT_EQ(s.samples.size(), 1u);

  // Without a lookup nothing is keyed.
  batch.Clear();
  ASSERT_TRUE(DecodeRemoteWrite(body, Limits(), &batch).ok());
  EXPECT_TRUE(batch.series(0).label_key.empty());
  EXPECT_EQ(batch.series(0).cached_ref, 0u);

  // Labels split by a sample: no key, decoded and checked as usual.
  Batch split_batch;
  const std::string split_body = compress(series + split);
  ASSERT_TRUE(DecodeRemoteWrite(split_body, Limits(), &split_batch, RefLookup{&cache, 0}).ok());
  ASSERT_EQ(split_batch.series_count(), 2u);
  EXPECT_EQ(split_batch.series(0).cached_ref, 77u);
  EXPECT_TRUE(split_batch.series(1).label_key.empty());
  EXPECT_EQ(split_batch.series(1).cached_ref, 0u);
  EXPECT_EQ(split_batch.series(1).Get("job"), "node");

  // A bad series later in the request: all or nothing, errors say where.
  const std::string bad = Field('\x0a', label("__name__", "up") + label("1x", "v") + sample);
  const std::string bad_body = compress(series + bad);
  Batch none;
  const Status st = DecodeRemoteWrite(bad_body, Limits(), &none, RefLookup{&cache, 0});
  EXPECT_THAT(st.message(), HasSubstr("timeseries[1].labels[1]: invalid label name \"1x\""));
  EXPECT_EQ(none.series_count(), 0u);
}

}  // namespace
}  // namespace nimify::ingest
