// The streaming pipeline: producers -> per-producer, per-shard SPSC rings ->
// one worker thread per shard (each owning its storage::Shard) -> consistent
// cuts at which the evaluation stage runs.
//
//   NIMIFY_ASSIGN_OR_RETURN(auto pipeline, Pipeline::Create(options));
//   pipeline->SetSelectors({{rule_id, {matchers}}});
//   pipeline->OnCut([&](const Cut& cut) { /* evaluate cut.dirty over cut.storage at cut.t */ });
//   NIMIFY_RETURN_IF_ERROR(pipeline->Start());
//   NIMIFY_ASSIGN_OR_RETURN(auto producer, pipeline->NewProducer());
//   NIMIFY_ASSIGN_OR_RETURN(SeriesRef ref, pipeline->Resolve(labels));
//   producer->Append(ref, t_ms, value);  producer->Flush();
//
// Time is event time: each producer's watermark is the newest timestamp it
// sent minus the allowed lateness, and a cut at t happens once every
// producer's watermark has passed t and every shard has consumed the samples
// sent before it. docs/threading.md describes the protocol. A late sample (at
// or below its producer's watermark, up to max_late_age_ms behind it) is
// stored all the same: it shows in the cuts after it lands, never in one
// already made.
#ifndef NIMIFY_PIPELINE_PIPELINE_H_
#define NIMIFY_PIPELINE_PIPELINE_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "nimify/status.h"
#include "pipeline/event_count.h"
#include "pipeline/selector_index.h"
#include "pipeline/spsc_ring.h"
#include "promql/labels.h"
#include "promql/storage.h"
#include "storage/fanout_queryable.h"
#include "storage/series_ref.h"
#include "storage/shard.h"

namespace nimify::pipeline {

using storage::SeriesRef;

// What moves through the rings: a sample, or (ref == kPunctuationRef) a
// producer's promise that it has sent everything with timestamp <= t.
struct RingItem {
  SeriesRef ref = 0;
  std::int64_t t = 0;
  double v = 0;
};
inline constexpr SeriesRef kPunctuationRef = ~SeriesRef{0};
// A punctuation with this t closes the producer.
inline constexpr std::int64_t kClosedWatermark = std::numeric_limits<std::int64_t>::max();

struct PipelineOptions {
  std::uint32_t shards = 2;  // worker threads; at most storage::kMaxShards
  // Items per producer->shard ring; a power of two.
  std::uint32_t ring_capacity = 8192;
  std::uint32_t max_producers = 64;
  // A producer publishes a shard's staged samples once this many are staged.
  std::uint32_t batch_size = 64;
  // How far behind its newest sample a producer may still send older ones.
  std::int64_t allowed_lateness_ms = 0;
  // Late samples (t <= the producer's watermark) with t > watermark -
  // max_late_age_ms are stored, for the cuts after they land; older ones are
  // refused (kOutOfRange). 0 refuses every late sample. Keep it within
  // retention_ms: the shards drop what is older than that anyway.
  std::int64_t max_late_age_ms = 0;
  // Largest range + lookback + offset the rules read; older samples are dropped.
  std::int64_t retention_ms = 5 * 60 * 1000;
  // Active series across all shards; 0 is unlimited.
  std::uint64_t max_series = 0;
  // Scheduled cuts at every multiple of this (event time); 0 disables them.
  std::int64_t cut_interval_ms = 0;
  // Cut at the watermark as soon as a rule is dirty (lowest latency).
  bool eager_cuts = true;
  // Longest stretch of event time without a cut (cuts advance the retention
  // horizon); also the spacing of garbage collections.
  std::int64_t max_cut_gap_ms = 60 * 1000;
  // Series order of the cut's storage: kByLabels makes float aggregations
  // bit-identical whatever the thread timing, at about 9x the select cost.
  storage::SeriesOrder series_order = storage::SeriesOrder::kArrival;
  // When a producer moves its watermark while every worker is parked, it
  // drains the rings and runs the cuts now due on its own thread instead of
  // waking a worker (saves a thread wake-up per cut when the pipeline is idle).
  // Off by default: cuts then keep pace with the producers, so garbage
  // collection runs mid-stream and drops series paused for longer than the
  // retention while their producers still hold the refs (their later samples
  // are rejected as unknown series). Turn on once such series survive.
  bool inline_cuts = false;
};

// What a producer does when the ring to a shard is full.
enum class Backpressure : std::uint8_t {
  kRefuse,  // refuse the sample at once (kResourceExhausted)
  kWait,    // wait up to max_wait for room, then refuse (kDeadlineExceeded)
};

struct ProducerOptions {
  Backpressure backpressure = Backpressure::kWait;
  std::chrono::nanoseconds max_wait = std::chrono::seconds(1);
};

// Rules marked by new samples since the previous cut (sorted, unique ids).
class DirtySet {
 public:
  DirtySet() = default;
  explicit DirtySet(std::vector<std::uint32_t> sorted_rules) : rules_(std::move(sorted_rules)) {}
  bool Contains(std::uint32_t rule_id) const noexcept;
  std::span<const std::uint32_t> rules() const noexcept { return rules_; }
  std::size_t size() const noexcept { return rules_.size(); }
  bool empty() const noexcept { return rules_.empty(); }

 private:
  std::vector<std::uint32_t> rules_;
};

// A consistent cut: `storage` shows exactly the samples with timestamp <= t
// that every producer sent before its watermark passed t, plus the late
// samples (PipelineOptions::max_late_age_ms) that landed before the cut.
struct Cut {
  std::int64_t t;
  bool scheduled;              // t is a multiple of cut_interval_ms
  std::int64_t watermark;      // >= t
  const DirtySet& dirty;       // rules with a new sample in (previous cut, t]
  promql::Queryable& storage;  // valid only during the callback
};
// Runs while every worker is held: on a shard worker thread, on a producer's
// thread inside Flush/AdvanceWatermark/Close when every worker was parked
// (PipelineOptions::inline_cuts), or on the thread calling Stop() for the
// final cuts. It must not wait for a producer of this pipeline (the workers
// that would make room are held, or it is that producer's own thread).
using CutCallback = std::function<void(const Cut&)>;

// Reads the shards as of the last cut: `storage` shows the samples with
// timestamp <= cut_t (minimum int64 before the first cut: nothing) and is
// valid only during the call. See Pipeline::RunHeld.
using HeldCallback = std::function<void(promql::Queryable& storage, std::int64_t cut_t)>;

// Sees each sample a shard stored for a series that feeds at least one rule,
// with that series' rule ids, right after the shard stored it. Called on the
// thread that owns the shard at the time (its worker, or one draining it for
// a cut or at Stop), so state kept per shard needs no locks, and a cut
// callback may read it (every shard is held then). Must be quick and must not block.
class SampleObserver {
 public:
  virtual ~SampleObserver() = default;
  virtual void OnSample(const storage::Shard& shard, SeriesRef ref,
                        std::span<const std::uint32_t> rules, std::int64_t t, double v) = 0;
};

struct PipelineStats {
  std::uint64_t samples_accepted = 0;  // staged by producers
  std::uint64_t samples_refused = 0;   // ring full (Backpressure), never silently dropped
  // Late: at or below the producer's watermark. Refused by the producer
  // (more than max_late_age_ms behind it), or stored by a shard (a shard may
  // also reject one as out of order for its series: shards.out_of_order).
  std::uint64_t samples_late_refused = 0;
  std::uint64_t samples_late_stored = 0;
  std::uint64_t cuts = 0;
  std::uint64_t callback_failures = 0;  // cut callbacks that threw
  std::int64_t last_cut_t = std::numeric_limits<std::int64_t>::min();
  storage::ShardStats shards;  // summed over shards
};

class Pipeline;

// Thread safety: one thread at a time uses a Producer. Producers are
// independent of each other.
class Producer {
 public:
  ~Producer();  // Close()
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Stages one sample for its shard (published in batches, see Flush). A
  // late sample (t <= this producer's watermark) within max_late_age_ms of
  // the watermark is staged too. kOutOfRange: later than that;
  // kInvalidArgument: a ref from no shard of this pipeline;
  // kResourceExhausted / kDeadlineExceeded: the ring is full (per
  // ProducerOptions); kFailedPrecondition: closed or stopped. Every rejected
  // sample is counted.
  Status Append(SeriesRef ref, std::int64_t t_ms, double value) {
    // Inline fast path: an open producer, a sample in time, a ring with room.
    const std::uint32_t shard = storage::ShardOf(ref);
    if (!closed_ && t_ms > promise_ && ref != 0 && ref != kPunctuationRef &&
        shard < rings_.size() && !stopping_->load(std::memory_order_relaxed) &&
        rings_[shard]->TryStage(RingItem{ref, t_ms, value}, /*count_refusal=*/false)) {
      Accepted(*rings_[shard], t_ms);
      return Status::Ok();
    }
    return AppendSlow(ref, t_ms, value);
  }

  // Append without the periodic publish: samples wait in the rings until the
  // next Flush (or a ring that fills up), so a caller that flushes after each
  // request wakes each shard once per request rather than every batch_size
  // samples. Same outcomes as Append.
  Status Stage(SeriesRef ref, std::int64_t t_ms, double value) {
    const std::uint32_t shard = storage::ShardOf(ref);
    if (!closed_ && t_ms > promise_ && ref != 0 && ref != kPunctuationRef &&
        shard < rings_.size() && !stopping_->load(std::memory_order_relaxed)) {
      SpscRing<RingItem>& ring = *rings_[shard];
      const RingItem item{ref, t_ms, value};
      // A ring full of this producer's own unpublished samples is published
      // first: the policy (refuse or wait) is for a consumer that lags.
      if (ring.TryStage(item, /*count_refusal=*/false) ||
          (ring.staged() != 0 && (ring.Publish(), ring.TryStage(item, false)))) {
        Accepted(ring, t_ms, /*publish=*/false);
        return Status::Ok();
      }
    }
    return AppendSlow(ref, t_ms, value);
  }

  // Publishes every staged sample and advances this producer's watermark to
  // newest timestamp - allowed lateness: after a flush, samples at or below
  // that are late (see Append). (With lateness 0, a sample at the newest
  // timestamp already flushed is late; use lateness >= 1 when one timestamp
  // spans flushes.)
  Status Flush();

  // Promises that every sample with timestamp <= t has been sent, then
  // flushes. Later samples at or below t are late (see Append).
  Status AdvanceWatermark(std::int64_t t_ms);

  // Flushes and removes this producer from the watermark. Idempotent.
  void Close();

  std::int64_t watermark() const noexcept { return promise_; }

 private:
  friend class Pipeline;
  Producer(Pipeline* pipeline, std::uint32_t slot, ProducerOptions options, std::int64_t floor);
  void SendPunctuation(std::int64_t t, bool must_deliver);
  Status AppendSlow(SeriesRef ref, std::int64_t t_ms, double value);
  void Accepted(SpscRing<RingItem>& ring, std::int64_t t_ms, bool publish = true) noexcept {
    // relaxed: statistics with a single writer.
    accepted_->store(accepted_->load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    newest_t_ = std::max(newest_t_, t_ms);
    if (publish && ring.staged() >= batch_size_) ring.Publish();
  }

  Pipeline* const pipeline_;
  const std::uint32_t slot_;
  const ProducerOptions options_;
  const std::atomic<bool>* const stopping_;     // the pipeline's
  std::atomic<std::uint64_t>* const accepted_;  // this slot's counter
  const std::size_t batch_size_;
  std::vector<SpscRing<RingItem>*> rings_;  // by shard
  std::vector<std::int64_t> sent_promise_;  // by shard: last punctuation delivered
  std::vector<bool> published_;             // by shard: scratch for SendPunctuation
  std::int64_t newest_t_;
  std::int64_t promise_;
  bool closed_ = false;
};

// Thread safety: every public method may be called from any thread, except
// OnCut (before Start).
class Pipeline {
 public:
  static Result<std::unique_ptr<Pipeline>> Create(PipelineOptions options);
  ~Pipeline();  // Stop()
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  const PipelineOptions& options() const noexcept { return options_; }

  // REQUIRES: before Start().
  void OnCut(CutCallback callback);
  // REQUIRES: before Start(). `observer` must outlive the workers (Stop()).
  void SetSampleObserver(SampleObserver* observer) { observer_ = observer; }

  // Replaces every rule's selectors. Each shard re-matches its series once at
  // its next batch; later samples mark rules by the new selectors.
  void SetSelectors(std::vector<RuleSelectors> rules);

  // Starts the shard workers. kFailedPrecondition if already started.
  Status Start();

  // Drains the rings, stops the workers, then runs the cuts still due (on the
  // calling thread). Close producers first: samples appended later are lost
  // to the rings' owners and refused. Idempotent.
  void Stop();

  // Runs `fn` over every shard as of the last cut, while no worker runs (so
  // the view is consistent and no cut starts): an ad-hoc query. It neither
  // advances time nor cuts; a cut that became due meanwhile runs right after,
  // on a worker. It waits only for a cut or hold in progress, never for a
  // producer, so any thread may call it (a producer's, an alert handler's)
  // except one that already holds the shards: from a cut callback or a sample
  // observer it returns kFailedPrecondition. After Stop() (once the final cuts
  // ran) and before Start() it reads the shards directly, one caller at a
  // time. While `fn` runs, ingestion waits: keep it short. kInternal if `fn`
  // throws.
  Status RunHeld(const HeldCallback& fn);

  // Finds or creates a series (see storage::Shard::Resolve).
  Result<SeriesRef> Resolve(const promql::Labels& labels);
  // REQUIRES: labels sorted by name.
  Result<SeriesRef> Resolve(std::span<const storage::LabelView> labels);

  // A new producer whose watermark starts at the last cut.
  // kResourceExhausted when max_producers are open.
  Result<std::unique_ptr<Producer>> NewProducer(ProducerOptions options = {});

  // The global watermark (min over open producers) and the last cut's time.
  std::int64_t watermark() const;
  std::int64_t last_cut() const;
  PipelineStats stats() const;

  // Access to a shard for tests and single-threaded tools.
  // REQUIRES: not started, or stopped.
  storage::Shard& shard_for_test(std::uint32_t i);

 private:
  friend class Producer;
  struct Worker;
  struct ProducerSlot;
  struct CutPlan {
    std::int64_t t;
    bool scheduled;
    std::int64_t watermark;
  };

  explicit Pipeline(PipelineOptions options);
  void WorkerLoop(Worker& w);
  bool DrainOnce(Worker& w, bool* progressed);
  // `late`: at or below the watermark the shard had from the sample's producer.
  void ProcessSample(Worker& w, const RingItem& item, bool late);
  void AssignRules(Worker& w, std::uint32_t slot);
  void RematchAll(Worker& w);
  void PublishDirty(Worker& w);
  bool AnyRingReadable(Worker& w);
  void Park(Worker& w);
  void Resume(Worker& w);
  bool TryCapture(Worker& w);
  void HandBack(Worker& w);
  bool HelpParkedShards(Worker* self);
  bool CutOnCallingThread();
  void RunOverShards(const HeldCallback& fn, std::int64_t cut_t, Status* status);
  void EndCut();
  bool hold_pending(const Worker& w) const;
  void ArriveAtHold(Worker& w);
  void MaybeCut(Worker* leader);
  bool DecideCut(CutPlan* plan, bool final);
  std::int64_t ComputeWatermarkLocked() const NIMIFY_REQUIRES(coord_mu_);
  void RunCut(Worker* leader, const CutPlan& plan);
  void ApplyCut(const CutPlan& plan);
  void ReleaseProducerSlot(std::uint32_t slot);

  const PipelineOptions options_;
  storage::SeriesLimit series_limit_;
  std::vector<std::unique_ptr<Worker>> workers_;
  CutCallback on_cut_;
  SampleObserver* observer_ = nullptr;  // set before Start()

  // Producer slots; rings are allocated on first use and kept until destruction.
  std::vector<std::unique_ptr<ProducerSlot>> producer_slots_;
  std::atomic<std::uint32_t> producer_slot_count_{0};  // high-water mark

  // Selectors: replaced under selectors_mu_, noticed through the version.
  Mutex selectors_mu_;
  std::shared_ptr<const SelectorIndex> selectors_ NIMIFY_GUARDED_BY(selectors_mu_);
  std::atomic<std::uint64_t> selectors_version_{0};

  // Cut coordination. coord_mu_ guards producer registration and cut decisions.
  mutable Mutex coord_mu_;
  std::int64_t last_cut_ NIMIFY_GUARDED_BY(coord_mu_) = std::numeric_limits<std::int64_t>::min();
  bool cut_in_progress_ NIMIFY_GUARDED_BY(coord_mu_) = false;
  std::atomic<std::int64_t> last_cut_pub_{std::numeric_limits<std::int64_t>::min()};
  std::atomic<std::uint64_t> hold_seq_{0};
  std::atomic<std::uint32_t> released_seq_{0};  // low bits of the last released hold_seq_
  std::atomic<std::uint32_t> arrived_{0};
  EventCount arrivals_;
  std::atomic<std::uint64_t> cuts_{0};
  std::atomic<std::uint64_t> callback_failures_{0};
  std::int64_t last_gc_cut_ = std::numeric_limits<std::int64_t>::min();  // the cut leader's
  // Held reads (RunHeld). A hold takes cut_in_progress_ as a cut does;
  // hold_cv_ (with coord_mu_) signals that it was cleared, that stopping_ was
  // set, or that the final cuts are done.
  CondVar hold_cv_;
  bool query_hold_ NIMIFY_GUARDED_BY(coord_mu_) = false;    // the hold in progress is RunHeld's
  bool cut_deferred_ NIMIFY_GUARDED_BY(coord_mu_) = false;  // a cut decision was refused during it
  bool final_cuts_done_ NIMIFY_GUARDED_BY(coord_mu_) = false;  // Stop() ran the final cuts
  std::atomic<bool> recheck_cut_{false};  // a worker must decide the deferred cut
  Mutex direct_mu_;  // one direct (unheld) read at a time, before Start or after Stop

  std::atomic<bool> started_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stopped_{false};
};

}  // namespace nimify::pipeline

#endif  // NIMIFY_PIPELINE_PIPELINE_H_
