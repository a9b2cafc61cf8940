#include "storage/series_window.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "promql/value.h"

namespace nimify::storage {
namespace {

using promql::Point;

std::vector<Point> DecodeAll(const SeriesWindow& w) {
  std::vector<Point> out;
  w.Decode(&out);
  return out;
}

void ExpectSameBits(const std::vector<Point>& want, const std::vector<Point>& got) {
  ASSERT_EQ(want.size(), got.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(want[i].t, got[i].t) << "sample " << i;
    EXPECT_EQ(std::bit_cast<std::uint64_t>(want[i].v), std::bit_cast<std::uint64_t>(got[i].v))
        << "sample " << i << ": " << want[i].v << " vs " << got[i].v;
  }
}

TEST(SeriesWindowTest, EmptyWindow) {
  SeriesWindow w;
  EXPECT_TRUE(w.empty());
  EXPECT_EQ(w.first_t(), kNoTime);
  EXPECT_EQ(w.last_t(), kNoTime);
  EXPECT_TRUE(DecodeAll(w).empty());
}

TEST(SeriesWindowTest, RoundTripsSpecialValuesBitExact) {
  const double values[] = {0.0,
                           -0.0,
                           1.0,
                           std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity(),
                           std::numeric_limits<double>::quiet_NaN(),
                           promql::StaleNaN(),
                           std::numeric_limits<double>::denorm_min(),
                           std::numeric_limits<double>::max(),
                           -std::numeric_limits<double>::lowest(),
                           1e-300,
                           42.5,
                           42.5,
                           promql::StaleNaN()};
  SeriesWindow w;
  std::vector<Point> want;
  std::int64_t t = 1'700'000'000'000;
  for (double v : values) {
    ASSERT_EQ(w.Append(t, v, kNoTime), AppendStatus::kOk);
    want.push_back({t, v});
    t += 15'000;
  }
  ExpectSameBits(want, DecodeAll(w));
  EXPECT_TRUE(promql::IsStaleNaN(DecodeAll(w).back().v));
}

TEST(SeriesWindowTest, RoundTripsExtremeTimestampGaps) {
  const std::int64_t times[] = {std::numeric_limits<std::int64_t>::min() + 1,
                                -1'000'000'000'000'000,
                                -1,
                                0,
                                1,
                                2,
                                64,
                                8'000,
                                9'000,
                                600'000,
                                600'001,
                                1'700'000'000'000,
                                std::numeric_limits<std::int64_t>::max()};
  SeriesWindow w;
  std::vector<Point> want;
  double v = 1;
  for (std::int64_t t : times) {
    ASSERT_EQ(w.Append(t, v, kNoTime), AppendStatus::kOk) << t;
    want.push_back({t, v});
    v *= -1.5;
  }
  ExpectSameBits(want, DecodeAll(w));
}

TEST(SeriesWindowTest, RandomRoundTrip) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    SeriesWindow w;
    std::vector<Point> want;
    std::int64_t t = static_cast<std::int64_t>(rng() % 2'000'000'000'000ull) - 1'000'000'000'000;
    double v = 0;
    const int n = 1 + static_cast<int>(rng() % 300);
    for (int i = 0; i < n; ++i) {
      switch (rng() % 6) {
        case 0:
          t += 15'000;
          break;  // regular
        case 1:
          t += 15'000 + static_cast<std::int64_t>(rng() % 21) - 10;
          break;  // jitter
        case 2:
          t += 1 + static_cast<std::int64_t>(rng() % 100'000'000);
          break;
        default:
          t += 1 + static_cast<std::int64_t>(rng() % 5);
          break;
      }
      switch (rng() % 5) {
        case 0:
          v += static_cast<double>(rng() % 1000);
          break;  // counter
        case 1:
          v = std::bit_cast<double>(rng());
          break;  // any bits, NaNs included
        case 2:
          break;  // constant
        case 3:
          v = static_cast<double>(rng() % 7) * 0.25;
          break;
        default:
          v = -v * 1.0000001;
          break;
      }
      ASSERT_EQ(w.Append(t, v, kNoTime), AppendStatus::kOk);
      want.push_back({t, v});
    }
    ExpectSameBits(want, DecodeAll(w));
    EXPECT_EQ(w.size(), want.size());
    EXPECT_EQ(w.first_t(), want.front().t);
    EXPECT_EQ(w.last_t(), want.back().t);
  }
}

// Compaction re-encodes only the head of the bit string and copies the rest:
// whatever the data, the window must always decode to a suffix of everything
// appended that contains every sample at or after the horizon.
TEST(SeriesWindowTest, RandomCompactionKeepsExactlyASuffix) {
  std::mt19937_64 rng(19);
  for (int trial = 0; trial < 300; ++trial) {
    SeriesWindow w;
    std::vector<Point> all;
    std::int64_t t = static_cast<std::int64_t>(rng() % 1'000'000) - 500'000;
    std::int64_t horizon = kNoTime;
    std::int64_t highest_cut = kNoTime;  // samples below it may be gone
    double v = 1;
    const int n = 50 + static_cast<int>(rng() % 400);
    for (int i = 0; i < n; ++i) {
      t += rng() % 4 == 0 ? 1 + static_cast<std::int64_t>(rng() % 100'000)
                          : 15'000 + static_cast<std::int64_t>(rng() % 3);
      switch (rng() % 4) {
        case 0:
          v += static_cast<double>(rng() % 100);
          break;
        case 1:
          v = std::bit_cast<double>(rng());
          break;
        case 2:
          break;
        default:
          v = static_cast<double>(rng() % 3);
          break;
      }
      if (rng() % 3 == 0) horizon = t - static_cast<std::int64_t>(rng() % 400'000);
      highest_cut = std::max(highest_cut, horizon);
      ASSERT_EQ(w.Append(t, v, horizon), AppendStatus::kOk);
      all.push_back({t, v});
      if (rng() % 50 == 0) {
        const std::int64_t cut = t - static_cast<std::int64_t>(rng() % 200'000);
        w.DropBefore(cut);
        highest_cut = std::max(highest_cut, cut);
        std::vector<Point> got = DecodeAll(w);
        for (const Point& p : got) ASSERT_GE(p.t, cut);
      }
      const std::vector<Point> got = DecodeAll(w);
      ASSERT_EQ(got.size(), w.size());
      ASSERT_LE(got.size(), all.size());
      ExpectSameBits(
          std::vector<Point>(all.end() - static_cast<std::ptrdiff_t>(got.size()), all.end()), got);
      // Nothing at or after the horizon was dropped.
      const std::size_t dropped = all.size() - got.size();
      if (dropped != 0) {
        ASSERT_LT(all[dropped - 1].t, highest_cut);
      }
      if (HasFailure()) return;
    }
  }
}

// Integral values are stored as integer steps; everything at the edges of that
// path (2^53, -0.0, steps of every width, switches to and from XOR) must come
// back bit-exact.
TEST(SeriesWindowTest, RoundTripsIntegerStepsBitExact) {
  constexpr double kTwo53 = 9007199254740992.0;
  const double values[] = {0.0,    1.0,     -0.0,    0.0,        -1.0,    7.0,     -8.0,
                           8.0,    -9.0,    500.0,   -512.0,     511.0,   524287.0,
                           -524288.0,       1e15,    -1e15,      kTwo53,  -kTwo53, kTwo53,
                           kTwo53 - 1,      kTwo53 + 2,          3.0,     3.5,     4.0,
                           -0.0,   -0.0,    2.0,     promql::StaleNaN(), 2.0,  1e300, 5.0};
  SeriesWindow w;
  std::vector<Point> want;
  std::int64_t t = 1'000;
  for (double v : values) {
    ASSERT_EQ(w.Append(t, v, kNoTime), AppendStatus::kOk);
    want.push_back({t, v});
    t += 15'000;
  }
  ExpectSameBits(want, DecodeAll(w));
}

// Mostly integral values, so that compaction must find where the copied tail
// may start without the help of samples that open a new XOR window.
TEST(SeriesWindowTest, RandomIntegerCompactionKeepsExactlyASuffix) {
  std::mt19937_64 rng(23);
  for (int trial = 0; trial < 300; ++trial) {
    SeriesWindow w;
    std::vector<Point> all;
    std::int64_t t = 0;
    std::int64_t horizon = kNoTime;
    double v = static_cast<double>(rng() % 1000);
    const int n = 20 + static_cast<int>(rng() % 300);
    for (int i = 0; i < n; ++i) {
      t += 15'000 + static_cast<std::int64_t>(rng() % 3);
      switch (rng() % 8) {
        case 0:
          v = std::bit_cast<double>(rng());
          break;
        case 1:
          v += 0.5;
          break;
        case 2:
          v = static_cast<double>(static_cast<std::int64_t>(rng() % 2'000'000) - 1'000'000);
          break;
        case 3:
          break;
        default:
          v = std::isfinite(v) && std::abs(v) < 1e15
                  ? std::floor(v) + static_cast<double>(rng() % 9) - 4
                  : 1.0;
          break;
      }
      if (rng() % 2 == 0) horizon = t - 300'000;
      ASSERT_EQ(w.Append(t, v, horizon), AppendStatus::kOk);
      all.push_back({t, v});
      const std::vector<Point> got = DecodeAll(w);
      ASSERT_EQ(got.size(), w.size());
      ExpectSameBits(
          std::vector<Point>(all.end() - static_cast<std::ptrdiff_t>(got.size()), all.end()), got);
      const std::size_t dropped = all.size() - got.size();
      if (dropped != 0) {
        ASSERT_LT(all[dropped - 1].t, horizon);
      }
      if (HasFailure()) return;
    }
  }
}

TEST(SeriesWindowTest, CompressesSmallIntegerStepsToAFewBitsPerSample) {
  // A gauge that moves by one each scrape, at a regular interval: 1 bit of
  // timestamp and 8 bits of value per sample after the first (128 bits for its
  // time and value) and the second (whose delta takes 24 bits).
  SeriesWindow w;
  for (int i = 0; i < 81; ++i) {
    ASSERT_EQ(w.Append(i * 15'000, static_cast<double>(i % 100), kNoTime), AppendStatus::kOk);
  }
  EXPECT_LE(w.bit_size(), 128u + 24u + 80u * 9u);
}

TEST(SeriesWindowTest, RejectsOutOfOrderAndConflictsButAcceptsExactDuplicates) {
  SeriesWindow w;
  ASSERT_EQ(w.Append(1000, 1.0, kNoTime), AppendStatus::kOk);
  ASSERT_EQ(w.Append(2000, 2.0, kNoTime), AppendStatus::kOk);
  EXPECT_EQ(w.Append(1500, 9.0, kNoTime), AppendStatus::kOutOfOrder);
  EXPECT_EQ(w.Append(2000, 2.0, kNoTime), AppendStatus::kDuplicate);
  EXPECT_EQ(w.Append(2000, 3.0, kNoTime), AppendStatus::kConflict);
  // NaN is compared by bits: the same NaN is a duplicate, a stale marker is not.
  ASSERT_EQ(w.Append(3000, std::nan(""), kNoTime), AppendStatus::kOk);
  EXPECT_EQ(w.Append(3000, std::nan(""), kNoTime), AppendStatus::kDuplicate);
  EXPECT_EQ(w.Append(3000, promql::StaleNaN(), kNoTime), AppendStatus::kConflict);
  ExpectSameBits({{1000, 1.0}, {2000, 2.0}, {3000, std::nan("")}}, DecodeAll(w));
}

TEST(SeriesWindowTest, EvictsOnlySamplesOlderThanTheHorizon) {
  constexpr std::int64_t kStep = 15'000;
  constexpr std::int64_t kRetention = 5 * 60'000;
  SeriesWindow w;
  std::vector<Point> all;
  for (int i = 0; i < 2000; ++i) {
    const std::int64_t t = i * kStep;
    const double v = i * 3.5;
    ASSERT_EQ(w.Append(t, v, t - kRetention), AppendStatus::kOk);
    all.push_back({t, v});
    const std::vector<Point> got = DecodeAll(w);
    // Everything inside the retention is present, oldest evicted first.
    ASSERT_FALSE(got.empty());
    ASSERT_LE(got.front().t, t - kRetention < 0 ? 0 : t - kRetention);
    const std::size_t offset = all.size() - got.size();
    ExpectSameBits(std::vector<Point>(all.begin() + static_cast<std::ptrdiff_t>(offset), all.end()),
                   got);
  }
  // Bounded: the window never keeps much more than the retention needs (21 samples).
  EXPECT_LE(w.size(), 40u);
}

// A full window drops expired samples in batches, not one per append (each drop
// re-encodes the head), while keeping every sample at or after the horizon and
// staying within a bounded size.
TEST(SeriesWindowTest, SteadyStateCompactsInBatches) {
  constexpr std::int64_t kStep = 15'000;
  constexpr std::int64_t kRetention = 300'000;
  SeriesWindow w;
  std::mt19937 rng(5);
  double v = 1000;
  std::int64_t t = 1'700'000'000'000;
  std::size_t drops = 0;
  std::size_t max_heap = 0;
  constexpr int kAppends = 400;
  for (int i = 0; i < kAppends; ++i) {
    const std::size_t before = w.size();
    ASSERT_EQ(w.Append(t, v, t - kRetention), AppendStatus::kOk);
    if (w.size() <= before) ++drops;
    if (i >= 100) max_heap = std::max(max_heap, w.HeapBytes());
    // The sample at the horizon (and so everything after it) is still there.
    if (i >= 20) {
      ASSERT_LE(w.first_t(), t - kRetention);
    }
    v += static_cast<double>(rng() % 50);
    t += kStep;
  }
  // The window grows until an eighth of it (here 3 of 21 samples) has
  // expired, so a compaction drops at least 3 samples: at most one per three
  // appends. Dropping as soon as the buffer is full would compact on nearly
  // every append once the window's size settles.
  EXPECT_GT(drops, 0u);
  EXPECT_LE(drops, static_cast<std::size_t>(kAppends / 3));
  EXPECT_LE(max_heap, 200u);
}

TEST(SeriesWindowTest, DropBeforeAndRefillAfterFullEviction) {
  SeriesWindow w;
  for (int i = 0; i < 10; ++i) ASSERT_EQ(w.Append(i * 10, i, kNoTime), AppendStatus::kOk);
  EXPECT_EQ(w.DropBefore(45), 5u);
  ExpectSameBits({{50, 5}, {60, 6}, {70, 7}, {80, 8}, {90, 9}}, DecodeAll(w));
  EXPECT_EQ(w.DropBefore(1000), 5u);
  EXPECT_TRUE(w.empty());
  EXPECT_EQ(w.HeapBytes(), 0u);
  // Ordering survives eviction: the newest time is remembered.
  EXPECT_EQ(w.last_t(), 90);
  EXPECT_EQ(w.Append(80, 1, kNoTime), AppendStatus::kOutOfOrder);
  EXPECT_EQ(w.Append(90, 9, kNoTime), AppendStatus::kDuplicate);
  ASSERT_EQ(w.Append(100, 10, kNoTime), AppendStatus::kOk);
  ExpectSameBits({{100, 10}}, DecodeAll(w));
}

TEST(SeriesWindowTest, CompressesARegularCounterWindow) {
  // 5 minutes at 15 s: 21 samples of a counter that grows by small integers.
  SeriesWindow w;
  double v = 1'234'567;
  std::mt19937 rng(1);
  for (int i = 0; i < 21; ++i) {
    ASSERT_EQ(w.Append(1'700'000'000'000 + i * 15'000, v, kNoTime), AppendStatus::kOk);
    v += rng() % 50;
  }
  // Raw storage would be 21 * 16 = 336 bytes.
  EXPECT_LE(w.HeapBytes(), 120u) << "bits used: " << w.bit_size();
}

TEST(SeriesWindowTest, DecodeFromSkipsOlderSamples) {
  SeriesWindow w;
  std::vector<Point> want;
  std::mt19937_64 rng(7);
  for (std::int64_t t = 1000; t <= 60'000; t += 1000 + static_cast<std::int64_t>(rng() % 7)) {
    const double v = static_cast<double>(rng() % 1000) / 7;
    ASSERT_EQ(w.Append(t, v, kNoTime), AppendStatus::kOk);
    want.push_back({t, v});
  }
  for (const std::int64_t mint : {std::int64_t{0}, std::int64_t{1000}, std::int64_t{30'500},
                                  want.back().t, want.back().t + 1}) {
    std::vector<Point> expected;
    for (const Point& p : want) {
      if (p.t >= mint) expected.push_back(p);
    }
    std::vector<Point> got;
    w.DecodeFrom(mint, &got);
    ExpectSameBits(expected, got);
  }
  std::vector<Point> none;
  SeriesWindow().DecodeFrom(0, &none);
  EXPECT_TRUE(none.empty());
}

// A cursor saved by one read lets the next read (a later start, as at the
// next evaluation) skip the older samples; appends, compactions that drop the
// head, and reads with an earlier start must all still see exactly the
// samples at or after their start.
TEST(SeriesWindowTest, DecodeFromWithACursorMatchesAFullDecode) {
  std::mt19937_64 rng(11);
  for (int round = 0; round < 20; ++round) {
    SeriesWindow w;
    std::vector<Point> kept;  // the reference: what the window holds
    DecodeCursor cursor;
    std::int64_t t = 0;
    const std::int64_t retention = 20'000 + static_cast<std::int64_t>(rng() % 40'000);
    for (int step = 0; step < 400; ++step) {
      t += 500 + static_cast<std::int64_t>(rng() % 1500);
      const double v = rng() % 3 == 0 ? static_cast<double>(rng() % 50)
                                      : static_cast<double>(rng() % 100000) / 3;
      const std::int64_t horizon = t - retention;
      ASSERT_EQ(w.Append(t, v, horizon), AppendStatus::kOk);
      kept.push_back({t, v});
      if (rng() % 5 == 0) w.DropBefore(horizon);
      // The window drops only samples older than the horizon, in batches.
      const std::int64_t first = w.first_t();
      kept.erase(kept.begin(), std::find_if(kept.begin(), kept.end(),
                                            [&](const Point& p) { return p.t >= first; }));
      // A read of the last few seconds, saving; sometimes one further back, not saving.
      const bool far = rng() % 4 == 0;
      const std::int64_t mint =
          t - (far ? retention : 5'000 + static_cast<std::int64_t>(rng() % 3) * 1000);
      std::vector<Point> expected;
      for (const Point& p : kept) {
        if (p.t >= mint) expected.push_back(p);
      }
      std::vector<Point> got;
      w.DecodeFrom(mint, &got, cursor, far ? nullptr : &cursor);
      ASSERT_NO_FATAL_FAILURE(ExpectSameBits(expected, got))
          << "round " << round << " step " << step;
    }
  }
}

TEST(SeriesWindowTest, ACursorOfAnotherWindowIsIgnored) {
  SeriesWindow a;
  SeriesWindow b;
  for (std::int64_t t = 1000; t <= 20'000; t += 1000) {
    ASSERT_EQ(a.Append(t, static_cast<double>(t), kNoTime), AppendStatus::kOk);
    ASSERT_EQ(b.Append(t + 7, static_cast<double>(t) * 3, kNoTime), AppendStatus::kOk);
  }
  DecodeCursor cursor;
  std::vector<Point> got;
  a.DecodeFrom(15'000, &got, cursor, &cursor);
  ASSERT_EQ(got.size(), 6u);
  ASSERT_NE(cursor.position, 0u);
  got.clear();
  b.DecodeFrom(16'000, &got, cursor, nullptr);  // b's first sample differs: decodes from its start
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0].t, 16'007);
  EXPECT_EQ(got[0].v, 48'000);
  // With nothing newer than the cursor, a read at the end finds nothing.
  got.clear();
  a.DecodeFrom(20'001, &got, cursor, &cursor);
  EXPECT_TRUE(got.empty());
  ASSERT_EQ(a.Append(21'000, 5, kNoTime), AppendStatus::kOk);
  a.DecodeFrom(20'001, &got, cursor, &cursor);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].t, 21'000);
}

}  // namespace
}  // namespace nimify::storage
