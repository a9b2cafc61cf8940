#include "ingest/series_ref_cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <snappy.h>

#include <cstring>
#include <string>
#include <unordered_set>
#include <vector>

#include "ingest/remote_write.h"

namespace nimify::ingest {
namespace {

using ::testing::HasSubstr;

std::vector<LabelPair> Pairs(std::initializer_list<LabelPair> l) { return l; }

TEST(SeriesRefCacheTest, MissThenHit) {
  SeriesRefCache cache;
  const auto up = Pairs({{"__name__", "up"}, {"job", "api"}});
  const KeyHash h = SeriesRefCache::Hash(up);
  EXPECT_EQ(cache.Find(h, 0), 0u);
  cache.Insert(h, 42, 0);
  EXPECT_EQ(cache.Find(h, 0), 42u);
  EXPECT_EQ(cache.stats().hits, 1u);
  EXPECT_EQ(cache.stats().misses, 1u);
  EXPECT_EQ(cache.size(), 1u);
  // Views into other memory with the same text hash alike.
  const std::string name = "__name__", metric = "up", job = "job", api = "api";
  const auto copy = Pairs({{name, metric}, {job, api}});
  EXPECT_EQ(SeriesRefCache::Hash(copy), h);
  EXPECT_EQ(cache.Find(SeriesRefCache::Hash(copy), 0), 42u);
  // Insert replaces.
  cache.Insert(h, 43, 0);
  EXPECT_EQ(cache.Find(h, 0), 43u);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(SeriesRefCacheTest, DifferentLabelSetsDiffer) {
  SeriesRefCache cache;
  const auto a = Pairs({{"__name__", "up"}, {"job", "api"}});
  const auto b = Pairs({{"__name__", "up"}, {"job", "apj"}});
  const auto c = Pairs({{"__name__", "up"}});
  // Moving a byte across the name/value boundary must change the key.
  const auto d = Pairs({{"__name__", "up"}, {"jo", "bapi"}});
  // So must moving one across labels.
  const auto e = Pairs({{"__name__", "upj"}, {"ob", "api"}});
  cache.Insert(SeriesRefCache::Hash(a), 1, 0);
  for (const auto& other : {b, c, d, e}) {
    const KeyHash h = SeriesRefCache::Hash(other);
    EXPECT_EQ(cache.Find(h, 0), 0u);
    EXPECT_NE(h.where, SeriesRefCache::Hash(a).where);
    EXPECT_NE(h.check, SeriesRefCache::Hash(a).check);
  }
}

// The table compares the high half of `where` and all of `check`: keys that
// agree on either alone are kept apart.
TEST(SeriesRefCacheTest, KeysSharingASlotAreToldApartByTheirCheck) {
  SeriesRefCache cache;
  const KeyHash a{7, 100}, b{7, 200}, c{(std::uint64_t{1} << 32) | 7, 100};
  cache.Insert(a, 1, 0);
  EXPECT_EQ(cache.Find(b, 0), 0u) << "same slot, another check";
  EXPECT_EQ(cache.Find(c, 0), 0u) << "same check, another where";
  cache.Insert(b, 2, 0);
  cache.Insert(c, 3, 0);
  EXPECT_EQ(cache.Find(a, 0), 1u);
  EXPECT_EQ(cache.Find(b, 0), 2u);
  EXPECT_EQ(cache.Find(c, 0), 3u);
  EXPECT_EQ(cache.size(), 3u);
}

// The 96 bits a lookup compares, over label sets shaped like a large
// node-exporter fleet and their encoded forms: no two agree, and neither lane
// repeats on its own (a lane that ignored some bytes would).
TEST(SeriesRefCacheTest, HashesOfManyRealisticKeysAreDistinct) {
  constexpr int kHosts = 20000;
  const std::string cpu_modes[] = {"idle", "user", "system", "iowait", "steal"};
  std::unordered_set<std::uint64_t> wheres, checks;
  std::unordered_set<std::string> compared;
  int keys = 0;
  const auto add = [&](const KeyHash& h) {
    ++keys;
    wheres.insert(h.where);
    checks.insert(h.check);
    std::string bits(12, '\0');
    const auto tag = static_cast<std::uint32_t>(h.where >> 32);
    std::memcpy(bits.data(), &tag, 4);
    std::memcpy(bits.data() + 4, &h.check, 8);
    compared.insert(std::move(bits));
  };
  for (int host = 0; host < kHosts; ++host) {
    const std::string instance =
        "10.1." + std::to_string(host / 250) + "." + std::to_string(host % 250) + ":9100";
    for (const std::string& mode : cpu_modes) {
      const auto labels = Pairs({{"__name__", "node_cpu_seconds_total"},
                                 {"cpu", "0"},
                                 {"instance", instance},
                                 {"job", "node"},
                                 {"mode", mode}});
      add(SeriesRefCache::Hash(labels));
      std::string encoded;
      for (const LabelPair& l : labels)
        encoded += std::string(l.name) + '=' + std::string(l.value) + ';';
      add(SeriesRefCache::HashKey(encoded));
    }
  }
  EXPECT_EQ(keys, kHosts * 10);
  EXPECT_EQ(wheres.size(), static_cast<std::size_t>(keys));
  EXPECT_EQ(checks.size(), static_cast<std::size_t>(keys));
  EXPECT_EQ(compared.size(), static_cast<std::size_t>(keys));
}

TEST(SeriesRefCacheTest, GrowsPastManyEntries) {
  SeriesRefCache cache;
  std::vector<std::string> values;
  for (int i = 0; i < 5000; ++i) values.push_back(std::to_string(i));
  for (int i = 0; i < 5000; ++i) {
    const auto l = Pairs({{"__name__", "m"}, {"i", values[i]}});
    cache.Insert(SeriesRefCache::Hash(l), static_cast<std::uint64_t>(i + 1), 0);
  }
  for (int i = 0; i < 5000; ++i) {
    const auto l = Pairs({{"__name__", "m"}, {"i", values[i]}});
    ASSERT_EQ(cache.Find(SeriesRefCache::Hash(l), 0), static_cast<std::uint64_t>(i + 1)) << i;
  }
  EXPECT_EQ(cache.stats().generations, 0u);
  // 24-byte slots, at most half full.
  EXPECT_LE(cache.memory_bytes(), 5000u * 24 * 2 * 2);
}

TEST(SeriesRefCacheTest, EvictsChurnedSeriesAndKeepsTheWorkingSet) {
  SeriesRefCache::Options o;
  o.max_entries = 4;
  SeriesRefCache cache(o);
  std::vector<std::string> v;
  for (int i = 0; i < 100; ++i) v.push_back(std::to_string(i));
  const auto hash = [&](int i) {
    return SeriesRefCache::Hash(Pairs({{"__name__", "m"}, {"i", v[i]}}));
  };
  const auto insert = [&](int i) { cache.Insert(hash(i), static_cast<std::uint64_t>(i + 1), 0); };
  const auto find = [&](int i) { return cache.Find(hash(i), 0); };
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

TEST(SeriesRefCacheTest, IdleEntriesMiss) {
  SeriesRefCache::Options o;
  o.max_idle_ms = 1000;
  SeriesRefCache cache(o);
  const KeyHash h = SeriesRefCache::Hash(Pairs({{"__name__", "up"}}));
  cache.Insert(h, 5, 0);
  EXPECT_EQ(cache.Find(h, 900), 5u);   // used at 900
  EXPECT_EQ(cache.Find(h, 1900), 5u);  // 1000 after its last use: still fresh
  EXPECT_EQ(cache.Find(h, 2901), 0u);  // idle for 1001 ms
  cache.Insert(h, 6, 2901);            // resolved again
  EXPECT_EQ(cache.Find(h, 2902), 6u);
  // Wall-clock times, and a clock that steps back: a use before the last
  // one is no idle time, and idle time counts from the latest use.
  constexpr std::int64_t kNow = 1'800'000'000'000;
  cache.Insert(h, 7, kNow);
  EXPECT_EQ(cache.Find(h, kNow - 5000), 7u);
  EXPECT_EQ(cache.Find(h, kNow - 4000), 7u);
  EXPECT_EQ(cache.Find(h, kNow - 2999), 0u);
}

// Use times are 32-bit offsets from a base that moves forward about every
// 25 days; an entry's idle time stays exact across the move, and entries
// older than the new base stay idle.
TEST(SeriesRefCacheTest, IdleTimesSurviveTheBaseMoving) {
  SeriesRefCache::Options o;
  o.max_idle_ms = 60'000;
  SeriesRefCache cache(o);
  const KeyHash old_key = SeriesRefCache::Hash(Pairs({{"__name__", "old"}}));
  const KeyHash recent = SeriesRefCache::Hash(Pairs({{"__name__", "recent"}}));
  constexpr std::int64_t kStart = 1'000'000;
  constexpr std::int64_t kWrap = std::int64_t{1} << 32;
  cache.Insert(old_key, 1, kStart);
  cache.Insert(recent, 2, kStart + kWrap - 30'000);
  // Past 2^32 ms after the first use: the base moves.
  EXPECT_EQ(cache.Find(recent, kStart + kWrap + 20'000), 2u) << "used 50 s ago";
  EXPECT_EQ(cache.Find(old_key, kStart + kWrap + 20'000), 0u) << "idle for 50 days";
  EXPECT_EQ(cache.Find(recent, kStart + kWrap + 80'000), 2u) << "used 60 s ago";
  EXPECT_EQ(cache.Find(recent, kStart + kWrap + 140'001), 0u) << "idle for 60.001 s";

  // Without aging, nothing expires however long the run.
  SeriesRefCache forever;
  forever.Insert(old_key, 3, 0);
  EXPECT_EQ(forever.Find(old_key, 3 * kWrap), 3u);
  EXPECT_EQ(forever.Find(old_key, 7 * kWrap), 3u);
}

TEST(SeriesRefCacheTest, IgnoresRefZero) {
  SeriesRefCache cache;
  const KeyHash h = SeriesRefCache::Hash(Pairs({{"__name__", "up"}}));
  cache.Insert(h, 0, 0);
  EXPECT_EQ(cache.size(), 0u);
  cache.Insert(h, 9, 0);
  EXPECT_EQ(cache.size(), 1u);
  cache.Clear();
  EXPECT_EQ(cache.Find(h, 0), 0u);
  EXPECT_EQ(cache.memory_bytes(), 0u);
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
  cache.Insert(SeriesRefCache::Hash(first.labels), 11, 0);
  const BatchSeries second = batch.series(1);
  EXPECT_EQ(cache.Find(SeriesRefCache::Hash(second.labels), 0), 11u);

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

// Encoded keys: bytes, hashed with HashKey; a different byte misses.
TEST(SeriesRefCacheTest, EncodedKeys) {
  SeriesRefCache cache;
  const std::string a = "\x0a\x04\x0a\x02up", b = "\x0a\x04\x0a\x02uq";
  EXPECT_EQ(cache.Find(SeriesRefCache::HashKey(a), 0), 0u);
  cache.Insert(SeriesRefCache::HashKey(a), 5, 0);
  EXPECT_EQ(cache.Find(SeriesRefCache::HashKey(a), 0), 5u);
  EXPECT_EQ(cache.Find(SeriesRefCache::HashKey(b), 0), 0u);
  // Prefetch hints change nothing.
  cache.Prefetch(SeriesRefCache::HashKey(a));
  cache.Prefetch(KeyHash{12345, 6789});
  EXPECT_EQ(cache.Find(SeriesRefCache::HashKey(a), 0), 5u);
  EXPECT_EQ(cache.size(), 1u);
}

// A label set's views and bytes hash with different seeds: the bytes that
// Hash absorbs for a label set, given to HashKey, make another key.
TEST(SeriesRefCacheTest, KeyKindsHashApart) {
  const auto labels = Pairs({{"__name__", "up"}});
  std::string text;
  for (std::string_view part : {std::string_view("__name__"), std::string_view("up")})
    text.append(part);
  const KeyHash view = SeriesRefCache::Hash(labels);
  const KeyHash bytes = SeriesRefCache::HashKey(text);
  EXPECT_NE(view.where, bytes.where);
  EXPECT_NE(view.check, bytes.check);
  SeriesRefCache cache;
  cache.Insert(view, 1, 0);
  EXPECT_EQ(cache.Find(bytes, 0), 0u);
  cache.Insert(bytes, 2, 0);
  EXPECT_EQ(cache.Find(view, 0), 1u);
  EXPECT_EQ(cache.Find(bytes, 0), 2u);
}

// Encoded keys through generations and idle aging, as label-view keys.
TEST(SeriesRefCacheTest, EncodedKeysAgeAndMoveAcrossGenerations) {
  SeriesRefCache::Options o;
  o.max_entries = 2;
  o.max_idle_ms = 100;
  SeriesRefCache cache(o);
  const std::string k[] = {"k1", "k2", "k3"};
  for (int i = 0; i < 3; ++i) cache.Insert(SeriesRefCache::HashKey(k[i]), 10 + i, 0);
  // k1 and k2 filled the first generation; k3 started a second.
  EXPECT_EQ(cache.stats().generations, 1u);
  // k1 from the previous generation, k3 from the current one.
  EXPECT_EQ(cache.Find(SeriesRefCache::HashKey(k[0]), 50), 10u);
  EXPECT_EQ(cache.Find(SeriesRefCache::HashKey(k[2]), 50), 12u);
  EXPECT_EQ(cache.Find(SeriesRefCache::HashKey(k[2]), 200), 0u);  // idle too long
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
  cache.Insert(s.label_key_hash, 77, 0);

  batch.Clear();
  ASSERT_TRUE(DecodeRemoteWrite(body, Limits(), &batch, RefLookup{&cache, 0}).ok());
  s = batch.series(0);
  EXPECT_EQ(s.cached_ref, 77u);
  // A known series is not decoded into label views; its key still names it.
  EXPECT_TRUE(s.labels.empty());
  EXPECT_EQ(LabelKeyMetricName(s.label_key), "up");
  EXPECT_EQ(LabelKeyMetricName(label("job", "node")), "");
  // A Label's unknown fields are skipped, as the decoder skips them (found
  // by the fuzzer: the name after such a label read as absent).
  const std::string odd_label = Field('\x0a', Field('\x0a', "instance") + Field('\x32', "up"));
  EXPECT_EQ(LabelKeyMetricName(odd_label + label("__name__", "h:9090")), "h:9090");
  EXPECT_EQ(LabelKeyMetricName(Field('\x0a', "\x08\x01") + label("__name__", "up")), "up");
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

  // KeyOf and FindSeries, as nimifyd resolves a request: a keyed series by
  // what the decoder found, the other by its labels.
  const BatchSeries keyed = split_batch.series(0);
  const BatchSeries unkeyed = split_batch.series(1);
  EXPECT_EQ(SeriesRefCache::KeyOf(keyed), keyed.label_key_hash);
  EXPECT_EQ(SeriesRefCache::KeyOf(unkeyed), SeriesRefCache::Hash(unkeyed.labels));
  EXPECT_EQ(cache.FindSeries(keyed, SeriesRefCache::KeyOf(keyed), 0), 77u);
  EXPECT_EQ(cache.FindSeries(unkeyed, SeriesRefCache::KeyOf(unkeyed), 0), 0u);
  cache.Insert(SeriesRefCache::KeyOf(unkeyed), 78, 0);
  EXPECT_EQ(cache.FindSeries(unkeyed, SeriesRefCache::KeyOf(unkeyed), 0), 78u);

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
