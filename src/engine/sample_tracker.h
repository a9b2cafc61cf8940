// Incremental state for event-driven evaluation, kept per shard while the
// samples flow:
//  - the timestamps of the samples each rule input (a set of selectors) got
//    since the last evaluation instant, so `for: 0` rules run at exactly
//    their samples' times however the pipeline grouped them into cuts;
//  - for threshold rules (`selector OP number`), the few series that may
//    satisfy the comparison, with their recent samples, so that the rule's
//    result at instant T comes from those series instead of a scan of every
//    selected series. The result is what the PromQL evaluator returns.
//
//   SampleTracker tracker(shards, eval_options, predicates_by_input);
//   pipeline->SetSampleObserver(&tracker);            // before Start
//   ... at a cut (every shard held):
//   std::vector<std::int64_t> times = tracker.Times(input, after, t);
//   promql::Vector v = tracker.Result(input, predicate, t);
//   tracker.Prune(t);
#ifndef NIMIFY_ENGINE_SAMPLE_TRACKER_H_
#define NIMIFY_ENGINE_SAMPLE_TRACKER_H_

#include <atomic>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "pipeline/pipeline.h"
#include "promql/ast.h"
#include "promql/evaluator.h"
#include "promql/labels.h"
#include "promql/value.h"
#include "storage/shard.h"

namespace nimify::engine {

// `selector OP number` or `number OP selector` (OP a comparison, no `bool`).
struct ThresholdPredicate {
  promql::BinaryOp op = promql::BinaryOp::kGtr;
  double threshold = 0;
  bool number_on_left = false;

  // Whether PromQL's comparison filter keeps a sample with value v.
  bool Holds(double v) const noexcept;
  friend bool operator==(const ThresholdPredicate&, const ThresholdPredicate&) = default;
};

// The predicate and the selector when `expr` (parentheses allowed) is a
// threshold comparison whose selector has no offset or @; nullopt otherwise.
std::optional<ThresholdPredicate> MatchThreshold(const promql::Expr& expr,
                                                 const promql::VectorSelector** selector);

// Told on the thread that stored a sample (see SampleObserver) when the sample
// makes threshold predicate `predicate` of `input` hold for a series and the
// evaluations will report exactly a new alert at `t` for it, with nothing of
// that alert still to report: the sample is not late (the rules run at its
// time); the series' previous sample did not satisfy the predicate and was not
// late; and what the rules hold for the series is known since the tracker's
// epoch last changed, settled by a sample already evaluated (at or before the
// last cut, see CutDone). docs/architecture.md, "Event-driven evaluation".
class CrossingListener {
 public:
  virtual ~CrossingListener() = default;
  // `epoch`: the tracker's epoch that the previous sample was seen in.
  virtual void OnCrossing(std::uint32_t input, std::size_t predicate, const promql::Labels& series,
                          std::int64_t t, double v, std::uint32_t epoch) = 0;
};

// The tracker's word per series slot for crossings: the time of the sample
// that settles the rules' state in the high 48 bits (signed: about 4,400
// years of milliseconds either side of 1970), a tag of the rule-swap epoch in
// the next 15 (0: never seen), and the "state not known" bit lowest.
struct SeenWord {
  static constexpr int kTimeShift = 16;
  static constexpr std::uint64_t kUnknown = 1;
  // 1..32767: an epoch's tag is never 0. Tags repeat every 32767 rule swaps.
  static std::uint64_t Tag(std::uint32_t epoch) noexcept { return epoch % 32767u + 1u; }
  static bool Fits(std::int64_t t) noexcept {
    return t >= -(std::int64_t{1} << 47) && t < (std::int64_t{1} << 47);
  }
  static std::uint64_t Pack(std::int64_t t, std::uint64_t tag) noexcept {
    return (static_cast<std::uint64_t>(t) << kTimeShift) | (tag << 1);
  }
  static std::int64_t Time(std::uint64_t word) noexcept {
    return static_cast<std::int64_t>(word) >> kTimeShift;  // arithmetic: keeps the sign
  }
  static std::uint64_t TagOf(std::uint64_t word) noexcept { return (word >> 1) & 0x7fff; }
};

// Thread safety
//   OnSample runs on whichever thread owns the sample's shard and touches only
//   that shard's state. Times, Result and Prune run at a cut, when every shard
//   is held (the pipeline's hold protocol orders the workers' writes before
//   them), or after the workers stopped. The predicates are fixed at
//   construction; inputs registered later get timestamps only.
class SampleTracker final : public pipeline::SampleObserver {
 public:
  // predicates[input]: the threshold predicates evaluated incrementally on
  // that input (whose id is its index).
  SampleTracker(std::uint32_t shards, const promql::EvalOptions& eval,
                std::vector<std::vector<ThresholdPredicate>> predicates);

  void OnSample(const storage::Shard& shard, storage::SeriesRef ref,
                std::span<const std::uint32_t> inputs, std::int64_t t, double v) override;

  // Distinct sample times of `input` in (after, upto], sorted.
  std::vector<std::int64_t> Times(std::uint32_t input, std::int64_t after,
                                  std::int64_t upto) const;

  // The result of predicate `index` of `input` at instant ts: each series
  // whose latest sample at or before ts lies in the lookback window, is not a
  // staleness marker and satisfies the predicate, with that sample's value.
  promql::Vector Result(std::uint32_t input, std::size_t index, std::int64_t ts) const;

  // Forgets what no instant after t can need.
  void Prune(std::int64_t t);
  // The cut at t is evaluated and its events are with the dispatcher: samples
  // at or before t are late from now on, and a crossing may follow a sample at
  // or before t (whose transitions are out) without overtaking them.
  void CutDone(std::int64_t t) { last_cut_.store(t, std::memory_order_relaxed); }

  // Crossings go to `listener` (may be null; must outlive the tracker's use).
  // Before the workers start, or with every shard held.
  void SetCrossingListener(CrossingListener* listener) { listener_ = listener; }
  // A rule swap: what a series' earlier samples said holds no more (the rules that
  // evaluated them may have been others). Any thread.
  std::uint32_t NextEpoch() { return epoch_.fetch_add(1, std::memory_order_acq_rel) + 1; }
  std::uint32_t epoch() const noexcept { return epoch_.load(std::memory_order_acquire); }

  bool Tracks(std::uint32_t input, std::size_t index) const noexcept {
    return input < predicates_.size() && index < predicates_[input].size();
  }
  // The index of `predicate` on `input`, if tracked.
  std::optional<std::size_t> Find(std::uint32_t input, const ThresholdPredicate& predicate) const;
  // Series currently tracked as possibly satisfying some predicate.
  std::size_t candidate_count() const;

 private:
  // A series that satisfied some predicate of its input, with its samples
  // since then. Shared by all predicates of the input: Result re-checks its
  // predicate on the sample, so a series held for another predicate is only
  // skipped there.
  struct Candidate {
    storage::SeriesRef ref = 0;
    promql::Labels labels;
    std::vector<promql::Point> history;  // this series' samples, oldest first
    // The newest sample was late (at or before the last cut): no evaluation ran
    // at its time, so whether the rules saw the predicates hold is not known.
    bool uncertain = false;
  };
  struct InputState {
    std::vector<std::int64_t> times;    // sorted, distinct, after the last Prune
    std::vector<Candidate> candidates;  // dense: Result and Prune walk it in order
    std::unordered_map<storage::SeriesRef, std::uint32_t> candidate_index;  // ref -> position
  };
  // Whether any predicate of an input can hold, without looping over them:
  // `v > x` for several x holds iff v > min(x), and so on. NaN means none.
  struct AnyHolds {
    double above = kNone;       // v > above
    double at_least = kNone;    // v >= at_least
    double below = kNone;       // v < below
    double at_most = kNone;     // v <= at_most
    bool has_equality = false;  // == or != present: loop over the predicates
    static constexpr double kNone = std::numeric_limits<double>::quiet_NaN();
  };
  struct ShardState {
    std::vector<InputState> inputs;  // by input id, grown by OnSample
    // Per slot: in how many inputs' candidates it is, and a bit for count != 0
    // (the bits fit in L1; most samples only read their bit).
    std::vector<std::uint16_t> candidates_per_slot;
    std::vector<std::uint64_t> candidate_bits;
    // With a crossing listener only. Per slot, one word (one memory access
    // per sample): the time of the sample (not late) whose evaluation settles
    // what the rules hold for the series (see OnSample); the tag of the epoch
    // of its last sample that was not late, 0 for none; and a bit for "what
    // the rules hold for it is not known" (a candidate pruned while it held).
    std::vector<std::uint64_t> seen;
  };
  // Whether the rules' state for the slot is known and reported: a sample that
  // was not late was seen in `epoch`, the one that settled the state was
  // evaluated (at or before the last cut), and nothing made it unknown since.
  static bool KnownBefore(const ShardState& s, std::uint32_t slot, std::uint32_t epoch,
                          std::int64_t last_cut) noexcept;
  void ReportCrossings(std::uint32_t input, const Candidate* candidate,
                       const promql::Labels* labels, const storage::Shard& shard,
                       std::uint32_t slot, std::int64_t t, double v, std::uint32_t epoch,
                       std::int64_t last_cut);

  bool AnyPredicateHolds(std::uint32_t input, double v) const noexcept;
  static bool IsCandidateSlot(const ShardState& s, std::uint32_t slot) noexcept {
    const std::size_t word = slot / 64;
    return word < s.candidate_bits.size() && ((s.candidate_bits[word] >> (slot % 64)) & 1) != 0;
  }
  static void AddCandidateSlot(ShardState& s, std::uint32_t slot);
  static void RemoveCandidateSlot(ShardState& s, std::uint32_t slot) noexcept;

  // The newest point at or before ts, or null.
  static const promql::Point* LatestAtOrBefore(const std::vector<promql::Point>& history,
                                               std::int64_t ts);
  bool InWindow(std::int64_t sample_t, std::int64_t ts) const noexcept;

  const std::int64_t lookback_ms_;
  const bool closed_windows_;  // Prometheus 2: [ts - lookback, ts]
  const std::vector<std::vector<ThresholdPredicate>> predicates_;
  std::vector<AnyHolds> any_holds_;  // by input id, from predicates_
  std::vector<ShardState> shards_;
  CrossingListener* listener_ = nullptr;
  std::atomic<std::uint32_t> epoch_{0};
  // The last cut done (CutDone; written at a cut, read by the shards' threads).
  std::atomic<std::int64_t> last_cut_{std::numeric_limits<std::int64_t>::min()};
};

}  // namespace nimify::engine

#endif  // NIMIFY_ENGINE_SAMPLE_TRACKER_H_
