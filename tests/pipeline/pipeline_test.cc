#include "pipeline/pipeline.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "promql/labels.h"
#include "promql/storage.h"

namespace nimify::pipeline {
namespace {

using namespace std::chrono_literals;
using promql::LabelMatcher;
using promql::Labels;
using promql::MatchType;

LabelMatcher NameIs(const std::string& name) {
  return *LabelMatcher::Create(MatchType::kEqual, "__name__", name);
}

// Every selected series' points, by series.
std::map<std::string, std::vector<std::pair<std::int64_t, double>>> Snapshot(
    promql::Queryable& q, const std::vector<LabelMatcher>& matchers, std::int64_t mint = INT64_MIN,
    std::int64_t maxt = INT64_MAX) {
  std::map<std::string, std::vector<std::pair<std::int64_t, double>>> out;
  auto querier = q.NewQuerier(mint, maxt);
  EXPECT_TRUE(querier.ok());
  std::vector<promql::SeriesView> views;
  EXPECT_TRUE((*querier)->Select(matchers, mint, maxt, &views).ok());
  for (const auto& v : views) {
    auto& points = out[v.labels->ToString()];
    for (const auto& p : v.points) points.emplace_back(p.t, p.v);
  }
  return out;
}

struct RecordedCut {
  std::int64_t t;
  bool scheduled;
  std::vector<std::uint32_t> dirty;
  std::map<std::string, std::vector<std::pair<std::int64_t, double>>> temp;  // what `temp` showed
};

// Records every cut with what the `temp` series looked like at it.
class Recorder {
 public:
  void Attach(Pipeline& p) {
    p.OnCut([this](const Cut& cut) {
      RecordedCut r{cut.t,
                    cut.scheduled,
                    {cut.dirty.rules().begin(), cut.dirty.rules().end()},
                    Snapshot(cut.storage, {NameIs("temp")})};
      std::lock_guard lock(mu_);
      cuts_.push_back(std::move(r));
    });
  }
  std::vector<RecordedCut> cuts() {
    std::lock_guard lock(mu_);
    return cuts_;
  }

 private:
  std::mutex mu_;
  std::vector<RecordedCut> cuts_;
};

std::unique_ptr<Pipeline> MakePipeline(PipelineOptions options) {
  auto p = Pipeline::Create(options);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return std::move(p).value();
}

TEST(PipelineTest, CreateValidatesOptions) {
  EXPECT_EQ(Pipeline::Create({.shards = 0}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Pipeline::Create({.ring_capacity = 1000}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Pipeline::Create({.max_producers = 0}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Pipeline::Create({.ring_capacity = 64, .batch_size = 65}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Pipeline::Create({.allowed_lateness_ms = -1}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(Pipeline::Create({}).ok());
}

// A threshold crossing is evaluated at the crossing sample's own time, with the
// right rule marked dirty, as soon as the producer flushes it.
TEST(PipelineTest, EagerCutFiresAtTheCrossingSample) {
  Recorder rec;
  auto p = MakePipeline({.shards = 2});
  rec.Attach(*p);
  p->SetSelectors({{1, {{NameIs("temp")}}}, {2, {{NameIs("other")}}}});
  ASSERT_TRUE(p->Start().ok());
  auto producer = p->NewProducer();
  ASSERT_TRUE(producer.ok());
  auto temp = p->Resolve(Labels{{"__name__", "temp"}, {"room", "a"}});
  auto other = p->Resolve(Labels{{"__name__", "other"}});
  ASSERT_TRUE(temp.ok() && other.ok());

  ASSERT_TRUE((*producer)->Append(*temp, 1000, 20).ok());
  ASSERT_TRUE((*producer)->Flush().ok());
  for (int i = 0; i < 500 && rec.cuts().empty(); ++i) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE((*producer)->Append(*temp, 2000, 95).ok());  // crosses a threshold
  ASSERT_TRUE((*producer)->Flush().ok());
  for (int i = 0; i < 500 && rec.cuts().size() < 2; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE((*producer)->Append(*other, 3000, 1).ok());
  ASSERT_TRUE((*producer)->Flush().ok());
  for (int i = 0; i < 500 && rec.cuts().size() < 3; ++i) std::this_thread::sleep_for(1ms);

  const auto cuts = rec.cuts();
  ASSERT_EQ(cuts.size(), 3u);
  EXPECT_EQ(cuts[0].t, 1000);
  EXPECT_EQ(cuts[0].dirty, std::vector<std::uint32_t>{1});
  EXPECT_EQ(cuts[1].t, 2000);
  EXPECT_EQ(cuts[1].dirty, std::vector<std::uint32_t>{1});
  const auto& at_crossing = cuts[1].temp.at("temp{room=\"a\"}");
  ASSERT_EQ(at_crossing.size(), 2u);
  EXPECT_EQ(at_crossing.back(), (std::pair<std::int64_t, double>{2000, 95}));
  EXPECT_EQ(cuts[2].t, 3000);
  EXPECT_EQ(cuts[2].dirty, std::vector<std::uint32_t>{2});
  (*producer)->Close();
  p->Stop();
  EXPECT_EQ(p->stats().cuts, 3u);
}

// Counts the cuts that ran on the thread that created the recorder.
class ThreadRecorder {
 public:
  void Attach(Pipeline& p) {
    p.OnCut([this](const Cut&) {
      cuts_.fetch_add(1);
      if (std::this_thread::get_id() == owner_) on_owner_.fetch_add(1);
    });
  }
  int cuts() const { return cuts_.load(); }
  int on_owner() const { return on_owner_.load(); }

 private:
  const std::thread::id owner_ = std::this_thread::get_id();
  std::atomic<int> cuts_{0};
  std::atomic<int> on_owner_{0};
};

// With every worker asleep, the producer moving its watermark takes the cut
// itself (no wake-up); with inline_cuts off only workers take cuts.
TEST(PipelineTest, IdleWorkersLetTheProducerTakeTheCut) {
  for (const bool inline_cuts : {true, false}) {
    SCOPED_TRACE(inline_cuts ? "inline cuts" : "worker cuts");
    ThreadRecorder rec;
    auto p = MakePipeline({.shards = 2, .inline_cuts = inline_cuts});
    rec.Attach(*p);
    p->SetSelectors({{1, {{NameIs("temp")}}}});
    ASSERT_TRUE(p->Start().ok());
    auto producer = p->NewProducer();
    ASSERT_TRUE(producer.ok());
    std::vector<SeriesRef> refs;
    for (int i = 0; i < 8; ++i) {
      auto ref = p->Resolve(Labels{{"__name__", "temp"}, {"room", std::to_string(i)}});
      ASSERT_TRUE(ref.ok());
      refs.push_back(*ref);
    }
    // Each round: let the workers go to sleep, then send one timestamp.
    constexpr int kRounds = 20;
    for (int round = 1; round <= kRounds; ++round) {
      std::this_thread::sleep_for(2ms);
      for (SeriesRef ref : refs) ASSERT_TRUE((*producer)->Append(ref, round * 1000, round).ok());
      ASSERT_TRUE((*producer)->Flush().ok());
      for (int i = 0; i < 500 && rec.cuts() < round; ++i) std::this_thread::sleep_for(1ms);
      ASSERT_EQ(rec.cuts(), round);
    }
    if (inline_cuts) {
      // Sleeping workers are the normal state here; a busy machine may keep
      // one awake now and then, so not every round needs to be inline.
      EXPECT_GT(rec.on_owner(), 0);
    } else {
      EXPECT_EQ(rec.on_owner(), 0);
    }
    (*producer)->Close();
    p->Stop();
    const PipelineStats stats = p->stats();
    EXPECT_EQ(stats.cuts, static_cast<std::uint64_t>(kRounds));
    EXPECT_EQ(stats.shards.samples_appended, refs.size() * kRounds);
  }
}

// Scheduled cuts land on every multiple of the interval the watermark passes,
// each with the rules dirtied in (previous cut, t]; replaying the same data in
// other batch sizes gives the same cuts.
TEST(PipelineTest, ScheduledCutsDoNotDependOnBatching) {
  // Flushes after every `timestamps_per_flush` timestamps (never inside one:
  // with no allowed lateness, a timestamp already flushed is late).
  auto run = [](int timestamps_per_flush) {
    Recorder rec;
    auto p = MakePipeline({.shards = 3, .cut_interval_ms = 1000, .eager_cuts = false});
    rec.Attach(*p);
    p->SetSelectors({{7, {{NameIs("temp")}}}, {8, {{NameIs("other")}}}});
    EXPECT_TRUE(p->Start().ok());
    auto producer = std::move(p->NewProducer()).value();
    auto temp = *p->Resolve(Labels{{"__name__", "temp"}});
    auto other = *p->Resolve(Labels{{"__name__", "other"}});
    int pending = 0;
    for (std::int64_t t = 0; t <= 5000; t += 250) {
      EXPECT_TRUE(producer->Append(temp, t, static_cast<double>(t)).ok());
      if (t >= 2000 && t < 3000) {
        EXPECT_TRUE(producer->Append(other, t, 1).ok());
      }
      if (++pending == timestamps_per_flush) {
        EXPECT_TRUE(producer->Flush().ok());
        pending = 0;
      }
    }
    producer->Close();
    p->Stop();
    return rec.cuts();
  };
  const auto a = run(1);
  const auto b = run(3);
  ASSERT_EQ(a.size(), 6u);
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].t, static_cast<std::int64_t>(i) * 1000);
    EXPECT_TRUE(a[i].scheduled);
    const std::size_t samples = i * 4 + 1;
    ASSERT_EQ(a[i].temp.at("temp").size(), samples) << "cut at " << a[i].t;
    EXPECT_EQ(a[i].temp.at("temp").back().first, a[i].t);
  }
  EXPECT_EQ(a[2].dirty, (std::vector<std::uint32_t>{7, 8}));
  EXPECT_EQ(a[3].dirty, (std::vector<std::uint32_t>{7, 8}));
  EXPECT_EQ(a[4].dirty, (std::vector<std::uint32_t>{7}));
  ASSERT_EQ(b.size(), a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(b[i].t, a[i].t);
    EXPECT_EQ(b[i].dirty, a[i].dirty);
    EXPECT_EQ(b[i].temp, a[i].temp);
  }
}

TEST(PipelineTest, NewSelectorsApplyToExistingSeries) {
  Recorder rec;
  auto p = MakePipeline({.shards = 2});
  rec.Attach(*p);
  ASSERT_TRUE(p->Start().ok());
  auto producer = std::move(p->NewProducer()).value();
  auto temp = *p->Resolve(Labels{{"__name__", "temp"}, {"room", "b"}});
  ASSERT_TRUE(producer->Append(temp, 1000, 1).ok());
  ASSERT_TRUE(producer->Flush().ok());
  std::this_thread::sleep_for(20ms);
  EXPECT_TRUE(rec.cuts().empty());  // no rule selects anything yet
  p->SetSelectors({{4, {{*LabelMatcher::Create(MatchType::kRegexMatch, "room", "b|c")}}}});
  ASSERT_TRUE(producer->Append(temp, 2000, 2).ok());
  ASSERT_TRUE(producer->Flush().ok());
  for (int i = 0; i < 500 && rec.cuts().empty(); ++i) std::this_thread::sleep_for(1ms);
  const auto cuts = rec.cuts();
  ASSERT_EQ(cuts.size(), 1u);
  EXPECT_EQ(cuts[0].t, 2000);
  EXPECT_EQ(cuts[0].dirty, std::vector<std::uint32_t>{4});
  producer->Close();
}

TEST(PipelineTest, LateSamplesAreRefusedAndCounted) {
  auto p = MakePipeline({.shards = 1, .allowed_lateness_ms = 100});
  ASSERT_TRUE(p->Start().ok());
  auto producer = std::move(p->NewProducer()).value();
  auto ref = *p->Resolve(Labels{{"__name__", "x"}, {"i", "1"}});
  auto ref2 = *p->Resolve(Labels{{"__name__", "x"}, {"i", "2"}});
  ASSERT_TRUE(producer->Append(ref, 1000, 1).ok());
  ASSERT_TRUE(producer->Flush().ok());
  EXPECT_EQ(producer->watermark(), 900);
  EXPECT_TRUE(producer->Append(ref2, 950, 1).ok());  // within the allowed lateness
  const Status late = producer->Append(ref2, 900, 1);
  EXPECT_EQ(late.code(), StatusCode::kOutOfRange);  // max_late_age_ms 0: no late sample
  EXPECT_NE(late.message().find("late sample at t=900"), std::string_view::npos);
  ASSERT_TRUE(producer->AdvanceWatermark(5000).ok());
  EXPECT_EQ(producer->Append(ref, 4999, 1).code(), StatusCode::kOutOfRange);
  // Not a ref of this one-shard pipeline.
  EXPECT_EQ(producer->Append(storage::MakeSeriesRef(7, 1, 0), 6000, 1).code(),
            StatusCode::kInvalidArgument);
  producer->Close();
  EXPECT_EQ(producer->Append(ref, 7000, 1).code(), StatusCode::kFailedPrecondition);
  p->Stop();
  const PipelineStats s = p->stats();
  EXPECT_EQ(s.samples_accepted, 2u);
  EXPECT_EQ(s.samples_late_refused, 2u);
  EXPECT_EQ(s.samples_late_stored, 0u);
  EXPECT_EQ(s.samples_refused, 2u);
  EXPECT_EQ(s.shards.samples_appended, 2u);
}

// The points of `temp{room=...}` as a held read sees them now.
std::vector<std::pair<std::int64_t, double>> HeldPoints(Pipeline& p, const std::string& room) {
  std::vector<std::pair<std::int64_t, double>> out;
  const Status st = p.RunHeld([&](promql::Queryable& q, std::int64_t) {
    const auto all = Snapshot(q, {NameIs("temp")});
    const auto it = all.find("temp{room=\"" + room + "\"}");
    if (it != all.end()) out = it->second;
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

// A late sample within max_late_age_ms that is newer than its series' newest
// is stored: the next cut and later reads see it, the cut already made does
// not, and no cut happens for it at a past time. Older ones are refused, and
// one older than its series' newest is rejected by the shard.
TEST(PipelineTest, LateSamplesWithinTheMaxAgeCountFromTheNextCut) {
  for (const bool eager : {true, false}) {
    SCOPED_TRACE(eager ? "eager cuts" : "scheduled cuts");
    Recorder rec;
    auto p = MakePipeline({.shards = 2,
                           .max_late_age_ms = 10'000,
                           .retention_ms = 60'000,
                           .cut_interval_ms = eager ? 0 : 1000,
                           .eager_cuts = eager});
    rec.Attach(*p);
    p->SetSelectors({{1, {{NameIs("temp")}}}});
    ASSERT_TRUE(p->Start().ok());
    auto producer = std::move(p->NewProducer()).value();
    auto a = *p->Resolve(Labels{{"__name__", "temp"}, {"room", "a"}});
    auto b = *p->Resolve(Labels{{"__name__", "temp"}, {"room", "b"}});
    ASSERT_TRUE(producer->Append(a, 1000, 1).ok());
    ASSERT_TRUE(producer->Append(b, 1000, 1).ok());
    ASSERT_TRUE(producer->Flush().ok());
    for (int i = 0; i < 2000 && rec.cuts().empty(); ++i) std::this_thread::sleep_for(1ms);
    ASSERT_TRUE(producer->Append(a, 2000, 2).ok());
    ASSERT_TRUE(producer->Flush().ok());
    for (int i = 0; i < 2000 && rec.cuts().size() < 2; ++i) std::this_thread::sleep_for(1ms);
    ASSERT_EQ(rec.cuts().size(), 2u);
    EXPECT_EQ(producer->watermark(), 2000);

    EXPECT_TRUE(producer->Append(b, 1500, 15).ok());  // late, in order for b: stored
    EXPECT_TRUE(producer->Append(a, 1500, 15).ok());  // late, older than a's newest: rejected
    const Status too_old = producer->Append(b, 2000 - 10'000, 1);
    EXPECT_EQ(too_old.code(), StatusCode::kOutOfRange);
    EXPECT_NE(too_old.message().find("max_late_age"), std::string_view::npos);
    ASSERT_TRUE(producer->Flush().ok());  // publishes; the watermark stays at 2000
    for (int i = 0; i < 2000 && p->stats().samples_late_stored < 1; ++i) {
      std::this_thread::sleep_for(1ms);
    }
    // Landed: a held read (an ad-hoc query) sees it, as of the last cut.
    EXPECT_EQ(HeldPoints(*p, "b"),
              (std::vector<std::pair<std::int64_t, double>>{{1000, 1}, {1500, 15}}));
    std::this_thread::sleep_for(10ms);
    ASSERT_EQ(rec.cuts().size(), 2u) << "a late sample must not cut by itself";

    ASSERT_TRUE(producer->Append(a, 3000, 3).ok());
    ASSERT_TRUE(producer->Flush().ok());
    for (int i = 0; i < 2000 && rec.cuts().size() < 3; ++i) std::this_thread::sleep_for(1ms);
    producer->Close();
    p->Stop();
    const auto cuts = rec.cuts();
    ASSERT_EQ(cuts.size(), 3u);
    EXPECT_EQ(cuts[0].t, 1000);
    EXPECT_EQ(cuts[1].t, 2000);
    EXPECT_EQ(cuts[2].t, 3000);
    EXPECT_EQ(cuts[1].temp.at("temp{room=\"b\"}").size(), 1u);  // not retroactive
    EXPECT_EQ(cuts[2].temp.at("temp{room=\"b\"}"),
              (std::vector<std::pair<std::int64_t, double>>{{1000, 1}, {1500, 15}}));
    EXPECT_EQ(cuts[2].temp.at("temp{room=\"a\"}").size(), 3u);
    EXPECT_EQ(cuts[2].dirty, std::vector<std::uint32_t>{1});
    const PipelineStats s = p->stats();
    EXPECT_EQ(s.samples_late_stored, 1u);
    EXPECT_EQ(s.samples_late_refused, 1u);
    EXPECT_EQ(s.shards.out_of_order, 1u);
    EXPECT_EQ(s.shards.samples_appended, 5u);
  }
}

TEST(PipelineTest, MaxLateAgeMustNotBeNegative) {
  EXPECT_EQ(Pipeline::Create({.max_late_age_ms = -1}).status().code(),
            StatusCode::kInvalidArgument);
}

// Several producers each send half of their series a step late (after the
// flush that passed it), as remote-write batches arrive, while cuts and held
// reads run: every sample is stored, the late half counted as such, and cuts
// only move forward. Run under TSan in CI.
TEST(PipelineTest, ConcurrentLateSamplesAreStoredAndCutsMoveForward) {
  constexpr int kProducers = 3;
  constexpr int kSeries = 8;  // per producer; odd ones are late
  constexpr int kSteps = 150;
  auto p = MakePipeline({.shards = 2,
                         .max_late_age_ms = 5000,
                         .retention_ms = 1'000'000,
                         .cut_interval_ms = 1000,
                         .inline_cuts = true});
  std::mutex mu;
  std::vector<std::int64_t> cut_times;
  p->OnCut([&](const Cut& cut) {
    std::lock_guard lock(mu);
    cut_times.push_back(cut.t);
  });
  p->SetSelectors({{1, {{NameIs("temp")}}}});
  ASSERT_TRUE(p->Start().ok());
  std::atomic<bool> done{false};
  std::thread reader([&] {
    while (!done.load()) {
      EXPECT_TRUE(p->RunHeld([](promql::Queryable& q, std::int64_t) {
                     (void)Snapshot(q, {NameIs("temp")});
                   }).ok());
      std::this_thread::sleep_for(1ms);
    }
  });
  // All open before any sends: a producer opened later starts at the last cut.
  std::vector<std::unique_ptr<Producer>> producers;
  for (int k = 0; k < kProducers; ++k) producers.push_back(std::move(p->NewProducer()).value());
  std::vector<std::thread> threads;
  for (int k = 0; k < kProducers; ++k) {
    threads.emplace_back([&, k] {
      Producer* producer = producers[k].get();
      std::vector<SeriesRef> refs;
      for (int j = 0; j < kSeries; ++j) {
        refs.push_back(*p->Resolve(Labels{{"__name__", "temp"},
                                          {"room", std::to_string(k * kSeries + j)}}));
      }
      for (std::int64_t step = 1; step <= kSteps; ++step) {
        const std::int64_t t = step * 1000;
        for (int j = 0; j < kSeries; j += 2) EXPECT_TRUE(producer->Append(refs[j], t, 1).ok());
        EXPECT_TRUE(producer->Flush().ok());
        for (int j = 1; j < kSeries; j += 2) EXPECT_TRUE(producer->Append(refs[j], t, 1).ok());
      }
      producer->Close();
    });
  }
  for (auto& t : threads) t.join();
  done.store(true);
  reader.join();
  p->Stop();
  const PipelineStats s = p->stats();
  const std::uint64_t total = std::uint64_t{kProducers} * kSeries * kSteps;
  EXPECT_EQ(s.samples_accepted, total);
  EXPECT_EQ(s.shards.samples_appended, total);
  EXPECT_EQ(s.samples_late_stored, total / 2);
  EXPECT_EQ(s.samples_late_refused, 0u);
  std::lock_guard lock(mu);
  ASSERT_FALSE(cut_times.empty());
  for (std::size_t i = 1; i < cut_times.size(); ++i) EXPECT_LT(cut_times[i - 1], cut_times[i]);
  EXPECT_EQ(cut_times.back(), kSteps * 1000);
}

// Nothing consumes the rings of a pipeline that is not started, so they fill.
TEST(PipelineTest, FullRingsRefuseOrTimeOutAndCountEverySample) {
  auto p = MakePipeline({.shards = 1, .ring_capacity = 8, .batch_size = 4});
  auto refusing = std::move(p->NewProducer({.backpressure = Backpressure::kRefuse})).value();
  auto ref = *p->Resolve(Labels{{"__name__", "x"}});
  int ok = 0;
  int refused = 0;
  for (int i = 1; i <= 20; ++i) {
    const Status s = refusing->Append(ref, i, i);
    if (s.ok()) {
      ++ok;
    } else {
      EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
      ++refused;
    }
  }
  EXPECT_EQ(ok, 8);
  EXPECT_EQ(refused, 12);
  auto waiting =
      std::move(p->NewProducer({.backpressure = Backpressure::kWait, .max_wait = 5ms})).value();
  for (int i = 1; i <= 8; ++i) ASSERT_TRUE(waiting->Append(ref, i, i).ok());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(waiting->Append(ref, 9, 9).code(), StatusCode::kDeadlineExceeded);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 5ms);
  const PipelineStats s = p->stats();
  EXPECT_EQ(s.samples_accepted, 16u);
  EXPECT_EQ(s.samples_refused, 13u);
  // Starting drains the rings: every accepted sample is stored (the second
  // producer's are duplicates of the first's timestamps, so out of order).
  ASSERT_TRUE(p->Start().ok());
  refusing->Close();
  waiting->Close();
  p->Stop();
  const PipelineStats after = p->stats();
  EXPECT_EQ(after.shards.samples_appended + after.shards.duplicates + after.shards.out_of_order +
                after.shards.conflicts,
            16u);
  EXPECT_EQ(after.shards.samples_appended, 8u);
}

TEST(PipelineTest, ProducerSlotsAreLimitedAndReused) {
  auto p = MakePipeline({.shards = 2, .max_producers = 2});
  ASSERT_TRUE(p->Start().ok());
  auto a = p->NewProducer();
  auto b = p->NewProducer();
  ASSERT_TRUE(a.ok() && b.ok());
  auto c = p->NewProducer();
  EXPECT_EQ(c.status().code(), StatusCode::kResourceExhausted);
  (*a)->Close();
  // The slot frees once both shards have consumed the close marker.
  Result<std::unique_ptr<Producer>> d = Status::Internal("not yet");
  for (int i = 0; i < 1000 && !d.ok(); ++i) {
    d = p->NewProducer();
    if (!d.ok()) std::this_thread::sleep_for(1ms);
  }
  EXPECT_TRUE(d.ok());
}

TEST(PipelineTest, StopRunsTheCutsStillDue) {
  Recorder rec;
  auto p = MakePipeline({.shards = 2, .eager_cuts = false, .max_cut_gap_ms = 1'000'000});
  rec.Attach(*p);
  p->SetSelectors({{1, {{NameIs("temp")}}}});
  ASSERT_TRUE(p->Start().ok());
  auto producer = std::move(p->NewProducer()).value();
  auto temp = *p->Resolve(Labels{{"__name__", "temp"}});
  for (std::int64_t t = 0; t < 10; ++t) ASSERT_TRUE(producer->Append(temp, t * 1000, 1).ok());
  producer->Close();
  p->Stop();
  const auto cuts = rec.cuts();
  ASSERT_EQ(cuts.size(), 1u);
  EXPECT_EQ(cuts[0].t, 9000);
  EXPECT_EQ(cuts[0].dirty, std::vector<std::uint32_t>{1});
  EXPECT_EQ(cuts[0].temp.at("temp").size(), 10u);
}

// Series that stop receiving samples are dropped once the cuts move the
// horizon past their newest sample plus the retention.
TEST(PipelineTest, StaleSeriesAreCollected) {
  auto p = MakePipeline({.shards = 2,
                         .retention_ms = 10'000,
                         .max_series = 3,
                         .cut_interval_ms = 1000,
                         .max_cut_gap_ms = 5000});
  ASSERT_TRUE(p->Start().ok());
  auto producer = std::move(p->NewProducer()).value();
  auto a = *p->Resolve(Labels{{"__name__", "a"}});
  auto b = *p->Resolve(Labels{{"__name__", "b"}});
  auto c = *p->Resolve(Labels{{"__name__", "c"}});
  EXPECT_EQ(p->Resolve(Labels{{"__name__", "d"}}).status().code(), StatusCode::kResourceExhausted);
  ASSERT_TRUE(producer->Append(a, 0, 1).ok());
  ASSERT_TRUE(producer->Append(b, 0, 1).ok());
  ASSERT_TRUE(producer->Append(c, 0, 1).ok());
  for (std::int64_t t = 1000; t <= 60'000; t += 1000) {
    ASSERT_TRUE(producer->Append(a, t, 1).ok());
    ASSERT_TRUE(producer->Flush().ok());
  }
  for (int i = 0; i < 2000 && p->stats().shards.series_live != 1; ++i) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(p->stats().shards.series_live, 1u);
  EXPECT_EQ(p->stats().shards.series_dropped, 2u);
  // Room again under the cardinality limit.
  EXPECT_TRUE(p->Resolve(Labels{{"__name__", "d"}}).ok());
  producer->Close();
}

}  // namespace
}  // namespace nimify::pipeline
