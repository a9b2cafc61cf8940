#include "pipeline/pipeline.h"

#include <algorithm>
#include <exception>
#include <map>
#include <string>
#include <system_error>
#include <utility>

#include "common/thread_mark.h"
#include "common/thread_name.h"

namespace nimify::pipeline {
namespace {

constexpr std::int64_t kNoTime = storage::kNoTime;
constexpr std::int64_t kNoDirty = std::numeric_limits<std::int64_t>::max();
constexpr std::size_t kDrainBatch = 256;
constexpr std::uint32_t kNoRules = 0;  // rule list 0 is the empty list
// Drain rounds per shard for a cut on a producer's thread: bounds the work it
// takes over when other producers keep pushing.
constexpr int kInlineDrainRounds = 8;

// Worker states for the cut rendezvous (see docs/threading.md).
constexpr std::uint32_t kRunning = 0;
constexpr std::uint32_t kParked = 1;
constexpr std::uint32_t kCaptured = 2;

std::int64_t FloorDiv(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t q = a / b;
  if (a % b != 0 && ((a < 0) != (b < 0))) --q;
  return q;
}

std::int64_t SaturatingSub(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) return a < 0 ? kNoTime : kNoDirty;
  return r;
}

// The pipeline whose shards this thread holds (a worker, a thread running cuts
// or a held read): RunHeld from it would wait for itself.
using HoldingMark = ThreadMark<struct HoldingTag>;

struct RuleList {
  std::vector<std::uint32_t> rules;
  std::int64_t dirty_min = kNoDirty;
  std::int64_t dirty_max = kNoTime;
  bool in_dirty = false;
};

}  // namespace

bool DirtySet::Contains(std::uint32_t rule_id) const noexcept {
  return std::binary_search(rules_.begin(), rules_.end(), rule_id);
}

struct Pipeline::ProducerSlot {
  std::vector<std::unique_ptr<SpscRing<RingItem>>> rings;  // by shard, allocated once
  bool in_use = false;                                     // guarded by coord_mu_
  // Written by the slot's producer thread only; relaxed reads for stats.
  alignas(kCacheLineSize) std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> refused{0};
  std::atomic<std::uint64_t> late_refused{0};
};

struct Pipeline::Worker {
  Worker(std::uint32_t index, const PipelineOptions& options, storage::SeriesLimit* limit)
      : shard(std::make_unique<storage::Shard>(
            index, storage::ShardOptions{.retention_ms = options.retention_ms}, limit)),
        rings(new std::atomic<SpscRing<RingItem>*>[options.max_producers]),
        consumed(new std::atomic<std::int64_t>[options.max_producers]) {
    for (std::uint32_t p = 0; p < options.max_producers; ++p) {
      rings[p].store(nullptr, std::memory_order_relaxed);
      consumed[p].store(kClosedWatermark, std::memory_order_relaxed);
    }
    rule_lists.emplace_back();  // kNoRules
  }

  std::unique_ptr<storage::Shard> shard;
  alignas(kCacheLineSize) EventCount wake;
  alignas(kCacheLineSize) std::atomic<std::uint32_t> state{kRunning};
  // Bumped whenever a captured worker is handed back (kCaptured -> kParked).
  std::atomic<std::uint32_t> uncaptured{0};
  // The last hold (cut) this worker took part in; the leader writes it for captured workers.
  std::atomic<std::uint64_t> handled_hold{0};
  // By producer slot: the ring from it, and the last watermark consumed from it.
  std::unique_ptr<std::atomic<SpscRing<RingItem>*>[]> rings;
  std::unique_ptr<std::atomic<std::int64_t>[]> consumed;
  alignas(kCacheLineSize) std::atomic<std::int64_t> dirty_min_pub{kNoDirty};
  std::atomic<std::int64_t> min_seen_pub{kNoDirty};
  std::atomic<std::int64_t> max_seen_pub{kNoTime};
  // Late samples the shard stored; written by whichever thread owns the shard
  // (relaxed: statistics; ownership changes hands through the state CAS).
  std::atomic<std::uint64_t> late_stored{0};
  std::thread thread;

  // Owner-private (the leader of a cut touches them while the owner is held).
  std::uint64_t selectors_version = 0;
  std::shared_ptr<const SelectorIndex> selectors;
  std::vector<std::uint32_t> slot_rules;  // rule list by series slot
  std::vector<RuleList> rule_lists;
  std::map<std::vector<std::uint32_t>, std::uint32_t> rule_list_ids;
  std::vector<std::uint32_t> dirty_lists;
  std::int64_t dirty_min = kNoDirty;
  std::int64_t min_seen = kNoDirty;
  std::int64_t max_seen = kNoTime;
};

// ---- Pipeline: setup ---------------------------------------------------------

Result<std::unique_ptr<Pipeline>> Pipeline::Create(PipelineOptions options) {
  if (options.shards == 0 || options.shards > storage::kMaxShards) {
    return Status::InvalidArgument("shards must be between 1 and " +
                                   std::to_string(storage::kMaxShards) + ", got " +
                                   std::to_string(options.shards));
  }
  const std::uint32_t cap = options.ring_capacity;
  if (cap < 2 || (cap & (cap - 1)) != 0) {
    return Status::InvalidArgument("ring_capacity must be a power of two >= 2, got " +
                                   std::to_string(cap));
  }
  if (options.max_producers == 0) return Status::InvalidArgument("max_producers must be >= 1");
  if (options.batch_size == 0 || options.batch_size > cap) {
    return Status::InvalidArgument("batch_size must be between 1 and ring_capacity");
  }
  if (options.allowed_lateness_ms < 0 || options.retention_ms < 0 || options.cut_interval_ms < 0 ||
      options.max_late_age_ms < 0 || options.max_cut_gap_ms <= 0) {
    return Status::InvalidArgument(
        "allowed_lateness_ms, retention_ms, cut_interval_ms and max_late_age_ms must be >= 0 "
        "and max_cut_gap_ms > 0");
  }
  return std::unique_ptr<Pipeline>(new Pipeline(options));
}

Pipeline::Pipeline(PipelineOptions options) : options_(options), series_limit_(options.max_series) {
  workers_.reserve(options_.shards);
  for (std::uint32_t i = 0; i < options_.shards; ++i) {
    workers_.push_back(std::make_unique<Worker>(i, options_, &series_limit_));
  }
  producer_slots_.reserve(options_.max_producers);
  for (std::uint32_t p = 0; p < options_.max_producers; ++p) {
    producer_slots_.push_back(std::make_unique<ProducerSlot>());
  }
  selectors_ = std::make_shared<const SelectorIndex>();
}

Pipeline::~Pipeline() { Stop(); }

storage::Shard& Pipeline::shard_for_test(std::uint32_t i) { return *workers_[i]->shard; }

void Pipeline::OnCut(CutCallback callback) { on_cut_ = std::move(callback); }

void Pipeline::SetSelectors(std::vector<RuleSelectors> rules) {
  auto index = std::make_shared<const SelectorIndex>(std::move(rules));
  {
    MutexLock lock(selectors_mu_);
    selectors_ = std::move(index);
    // release: a worker that sees the new version (acquire) takes the lock and reads it.
    selectors_version_.fetch_add(1, std::memory_order_release);
  }
  for (auto& w : workers_) w->wake.NotifyAll();
}

Status Pipeline::Start() {
  if (started_.exchange(true)) return Status::FailedPrecondition("pipeline already started");
  try {
    std::size_t next_index = 0;
    for (auto& w : workers_) {
      Worker* raw = w.get();
      w->thread = std::thread([this, raw, i = next_index++] {
        SetCurrentThreadName("nimify-shard-" + std::to_string(i));
        WorkerLoop(*raw);
      });
    }
  } catch (const std::system_error& e) {
    Stop();
    return Status::Internal(std::string("cannot start a shard worker thread: ") + e.what());
  }
  return Status::Ok();
}

void Pipeline::Stop() {
  if (stopped_.exchange(true)) return;
  {
    MutexLock lock(coord_mu_);
    stopping_.store(true, std::memory_order_release);
  }
  hold_cv_.NotifyAll();
  for (auto& w : workers_) w->wake.NotifyAll();
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  // Every worker has exited: this thread owns all shards now.
  {
    const HoldingMark::Scope holding(this);
    CutPlan plan;
    while (DecideCut(&plan, /*final=*/true)) {
      ApplyCut(plan);
      EndCut();
    }
  }
  {
    MutexLock lock(coord_mu_);
    final_cuts_done_ = true;
  }
  hold_cv_.NotifyAll();
}

void Pipeline::EndCut() {
  {
    MutexLock lock(coord_mu_);
    cut_in_progress_ = false;
  }
  hold_cv_.NotifyAll();  // a RunHeld may wait for it
}

Status Pipeline::RunHeld(const HeldCallback& fn) {
  if (HoldingMark::Current() == this) {
    return Status::FailedPrecondition(
        "a held read cannot start on a thread that holds the shards (a cut callback or a "
        "sample observer)");
  }
  coord_mu_.Lock();
  // A cut in progress ends without waiting for anything but its own workers.
  while (cut_in_progress_ && !stopping_.load(std::memory_order_relaxed)) hold_cv_.Wait(coord_mu_);
  Status status;
  if (stopping_.load(std::memory_order_relaxed) || !started_.load(std::memory_order_acquire)) {
    // No worker runs (or soon none will): read directly once the final cuts are done.
    if (stopping_.load(std::memory_order_relaxed)) {
      while (!final_cuts_done_) hold_cv_.Wait(coord_mu_);
    }
    const std::int64_t t = last_cut_;
    coord_mu_.Unlock();
    MutexLock direct(direct_mu_);
    RunOverShards(fn, t, &status);
    return status;
  }
  // Workers do not exit while a hold is in progress (see WorkerLoop).
  cut_in_progress_ = true;
  query_hold_ = true;
  const std::int64_t t = last_cut_;
  coord_mu_.Unlock();

  // The cut rendezvous of RunCut, with this thread as a leader that owns no shard.
  // seq_cst: ordered before the capture CASes below (see Park).
  const std::uint64_t seq = hold_seq_.fetch_add(1, std::memory_order_seq_cst) + 1;
  std::vector<Worker*> captured;
  std::uint32_t need = 0;
  for (auto& w : workers_) {
    if (TryCapture(*w)) {
      w->handled_hold.store(seq, std::memory_order_relaxed);
      captured.push_back(w.get());
    } else {
      ++need;
      w->wake.NotifyAll();
    }
  }
  while (true) {
    const EventCount::Key key = arrivals_.PrepareWait();
    // acquire: pairs with ArriveAtHold's acq_rel increment.
    if (arrived_.load(std::memory_order_acquire) >= need) {
      arrivals_.CancelWait();
      break;
    }
    arrivals_.Wait(key);
  }
  RunOverShards(fn, t, &status);
  arrived_.store(0, std::memory_order_relaxed);
  for (Worker* w : captured) HandBack(*w);
  bool deferred = false;
  {
    MutexLock relock(coord_mu_);
    cut_in_progress_ = false;
    query_hold_ = false;
    deferred = cut_deferred_;
    cut_deferred_ = false;
  }
  hold_cv_.NotifyAll();
  // release: arrived workers see that nothing changed under them (and in order, as in RunCut).
  released_seq_.store(static_cast<std::uint32_t>(seq), std::memory_order_release);
  FutexWakeAll(&released_seq_);
  if (deferred) {
    // A worker refused a cut because of this hold; no new sample may come to
    // make it decide again, so ask one to.
    recheck_cut_.store(true, std::memory_order_seq_cst);
    for (auto& w : workers_) w->wake.NotifyAll();
  }
  return status;
}

void Pipeline::RunOverShards(const HeldCallback& fn, std::int64_t cut_t, Status* status) {
  const HoldingMark::Scope holding(this);
  std::vector<storage::Shard*> shards;
  shards.reserve(workers_.size());
  for (auto& w : workers_) shards.push_back(w->shard.get());
  storage::FanoutQueryable view(shards, cut_t, options_.series_order);
  try {
    fn(view, cut_t);
  } catch (const std::exception& e) {
    *status = Status::Internal(std::string("held read threw: ") + e.what());
  } catch (...) {
    *status = Status::Internal("held read threw");
  }
}

Result<SeriesRef> Pipeline::Resolve(const promql::Labels& labels) {
  const std::vector<storage::LabelView> views = storage::ViewLabels(labels);
  return Resolve(views);
}

Result<SeriesRef> Pipeline::Resolve(std::span<const storage::LabelView> labels) {
  const std::uint64_t hash = storage::HashLabels(labels);
  // Range reduction on the high bits; the shard's table uses a fold of all bits.
  const auto shard = static_cast<std::uint32_t>(((hash >> 32) * workers_.size()) >> 32);
  return workers_[shard]->shard->Resolve(labels, hash);
}

Result<std::unique_ptr<Producer>> Pipeline::NewProducer(ProducerOptions options) {
  MutexLock lock(coord_mu_);
  if (stopping_.load(std::memory_order_relaxed)) {
    return Status::FailedPrecondition("pipeline is stopping");
  }
  // A slot is free when no producer holds it and every shard consumed its close marker.
  std::uint32_t slot = options_.max_producers;
  for (std::uint32_t p = 0; p < options_.max_producers && slot == options_.max_producers; ++p) {
    if (producer_slots_[p]->in_use) continue;
    bool drained = true;
    for (auto& w : workers_) {
      // acquire: the worker finished with the ring before it stored the close marker.
      drained = drained && w->consumed[p].load(std::memory_order_acquire) == kClosedWatermark;
    }
    if (drained) slot = p;
  }
  if (slot == options_.max_producers) {
    return Status::ResourceExhausted("all " + std::to_string(options_.max_producers) +
                                     " producer slots are in use (max_producers)");
  }
  ProducerSlot& s = *producer_slots_[slot];
  if (s.rings.empty()) {
    for (std::uint32_t i = 0; i < workers_.size(); ++i) {
      auto ring = SpscRing<RingItem>::Create(options_.ring_capacity, &workers_[i]->wake);
      if (!ring.ok()) return ring.status();
      s.rings.push_back(std::move(ring).value());
      // release: the worker that loads the pointer sees a constructed ring.
      workers_[i]->rings[slot].store(s.rings.back().get(), std::memory_order_release);
    }
  }
  // New producers start at the last cut, so a later sample can never land in a past cut.
  for (auto& w : workers_) w->consumed[slot].store(last_cut_, std::memory_order_release);
  s.in_use = true;
  if (slot >= producer_slot_count_.load(std::memory_order_relaxed)) {
    // release: publishes the ring pointers and consumed values stored above.
    producer_slot_count_.store(slot + 1, std::memory_order_release);
  }
  return std::unique_ptr<Producer>(new Producer(this, slot, options, last_cut_));
}

void Pipeline::ReleaseProducerSlot(std::uint32_t slot) {
  MutexLock lock(coord_mu_);
  producer_slots_[slot]->in_use = false;
}

std::int64_t Pipeline::watermark() const {
  MutexLock lock(coord_mu_);
  return ComputeWatermarkLocked();
}

std::int64_t Pipeline::last_cut() const {
  // relaxed: an informational snapshot.
  return last_cut_pub_.load(std::memory_order_relaxed);
}

PipelineStats Pipeline::stats() const {
  PipelineStats s;
  for (const auto& slot : producer_slots_) {
    // relaxed: statistics.
    s.samples_accepted += slot->accepted.load(std::memory_order_relaxed);
    s.samples_refused += slot->refused.load(std::memory_order_relaxed);
    s.samples_late_refused += slot->late_refused.load(std::memory_order_relaxed);
  }
  s.cuts = cuts_.load(std::memory_order_relaxed);
  s.callback_failures = callback_failures_.load(std::memory_order_relaxed);
  s.last_cut_t = last_cut_pub_.load(std::memory_order_relaxed);
  for (const auto& w : workers_) {
    s.samples_late_stored += w->late_stored.load(std::memory_order_relaxed);
    const storage::ShardStats x = w->shard->stats();
    s.shards.samples_appended += x.samples_appended;
    s.shards.duplicates += x.duplicates;
    s.shards.conflicts += x.conflicts;
    s.shards.out_of_order += x.out_of_order;
    s.shards.too_old += x.too_old;
    s.shards.unknown_series += x.unknown_series;
    s.shards.series_created += x.series_created;
    s.shards.series_dropped += x.series_dropped;
    s.shards.series_live += x.series_live;
    s.shards.series_idle += x.series_idle;
    s.shards.series_refused += x.series_refused;
    s.shards.memory_bytes += x.memory_bytes;
  }
  return s;
}

// ---- Worker ------------------------------------------------------------------

void Pipeline::WorkerLoop(Worker& w) {
  const HoldingMark::Scope holding(this);
  while (true) {
    if (hold_pending(w)) {
      ArriveAtHold(w);
      continue;
    }
    // relaxed first: the flag is almost always clear; the exchange claims it.
    if (recheck_cut_.load(std::memory_order_relaxed) &&
        recheck_cut_.exchange(false, std::memory_order_acq_rel)) {
      MaybeCut(&w);
    }
    // acquire: pairs with SetSelectors' release.
    if (selectors_version_.load(std::memory_order_acquire) != w.selectors_version) RematchAll(w);
    bool progressed = false;
    if (DrainOnce(w, &progressed)) {
      PublishDirty(w);
      MaybeCut(&w);
    }
    if (progressed) continue;
    if (stopping_.load(std::memory_order_acquire)) {
      MutexLock lock(coord_mu_);
      // A cut in progress may still need this worker at its rendezvous.
      if (!cut_in_progress_ && !AnyRingReadable(w)) break;
      continue;
    }
    Park(w);
  }
}

bool Pipeline::DrainOnce(Worker& w, bool* progressed) {
  bool changed = false;
  // acquire: pairs with NewProducer's release of the count.
  const std::uint32_t n = producer_slot_count_.load(std::memory_order_acquire);
  for (std::uint32_t p = 0; p < n; ++p) {
    // acquire: the ring is fully constructed.
    SpscRing<RingItem>* ring = w.rings[p].load(std::memory_order_acquire);
    if (ring == nullptr) continue;
    const std::span<const RingItem> items = ring->Peek(kDrainBatch);
    if (items.empty()) continue;
    // Seeing these items implies seeing any SetSelectors that happened before
    // they were pushed: apply it first, so they mark rules by the new selectors.
    // acquire: pairs with SetSelectors' release.
    if (selectors_version_.load(std::memory_order_acquire) != w.selectors_version) {
      RematchAll(w);
    }
    const std::int64_t dirty_before = w.dirty_min;
    // The producer's watermark as this shard knows it: samples at or below it are late.
    // relaxed: only this shard's owner writes it once the producer exists.
    std::int64_t consumed = w.consumed[p].load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (i + 8 < items.size()) w.shard->PrefetchForAppend(items[i + 8].ref);
      const RingItem& item = items[i];
      if (item.ref == kPunctuationRef) {
        consumed = item.t;
        // release: the samples before the marker are applied before a decider reads it.
        w.consumed[p].store(item.t, std::memory_order_release);
        changed = true;
      } else {
        ProcessSample(w, item, item.t <= consumed);
      }
    }
    changed = changed || w.dirty_min != dirty_before;
    ring->Release(items.size());
    *progressed = true;
  }
  return changed;
}

void Pipeline::ProcessSample(Worker& w, const RingItem& item, bool late) {
  bool new_series = false;
  const storage::SampleResult result = w.shard->Append(item.ref, item.t, item.v, &new_series);
  if (result == storage::SampleResult::kUnknownSeries) return;
  const std::uint32_t slot = storage::SlotOf(item.ref);
  if (new_series) AssignRules(w, slot);
  if (result != storage::SampleResult::kOk) return;
  // A late sample marks its rules dirty below like any other: its time may be
  // at or before the last cut, which only makes the next cut (always after the
  // last one) include them; the rules see it from then on.
  if (late) {
    w.late_stored.store(w.late_stored.load(std::memory_order_relaxed) + 1,
                        std::memory_order_relaxed);
  }
  if (item.t < w.min_seen) {
    w.min_seen = item.t;
    // relaxed: read by deciders after an acquire of a later punctuation store.
    w.min_seen_pub.store(item.t, std::memory_order_relaxed);
  }
  if (item.t > w.max_seen) {
    w.max_seen = item.t;
    w.max_seen_pub.store(item.t, std::memory_order_relaxed);
  }
  const std::uint32_t list_id = w.slot_rules[slot];
  if (list_id == kNoRules) return;
  RuleList& list = w.rule_lists[list_id];
  list.dirty_min = std::min(list.dirty_min, item.t);
  list.dirty_max = std::max(list.dirty_max, item.t);
  if (!list.in_dirty) {
    list.in_dirty = true;
    w.dirty_lists.push_back(list_id);
  }
  w.dirty_min = std::min(w.dirty_min, item.t);
  if (observer_ != nullptr) observer_->OnSample(*w.shard, item.ref, list.rules, item.t, item.v);
}

void Pipeline::PublishDirty(Worker& w) {
  // release: a decider that sees this value also sees the lists (it reads them only at a hold).
  w.dirty_min_pub.store(w.dirty_min, std::memory_order_release);
}

void Pipeline::AssignRules(Worker& w, std::uint32_t slot) {
  if (slot >= w.slot_rules.size()) w.slot_rules.resize(std::size_t{slot} + 1, kNoRules);
  w.slot_rules[slot] = kNoRules;
  if (!w.selectors || w.selectors->empty()) return;
  std::vector<std::uint32_t> rules = w.selectors->Match(w.shard->LabelsOf(slot));
  if (rules.empty()) return;
  auto [it, inserted] =
      w.rule_list_ids.emplace(rules, static_cast<std::uint32_t>(w.rule_lists.size()));
  if (inserted) w.rule_lists.push_back(RuleList{std::move(rules)});
  w.slot_rules[slot] = it->second;
}

void Pipeline::RematchAll(Worker& w) {
  {
    MutexLock lock(selectors_mu_);
    w.selectors = selectors_;
    w.selectors_version = selectors_version_.load(std::memory_order_relaxed);
  }
  // Keep pending dirtiness: a series whose old rules were dirty makes its new rules dirty.
  std::vector<RuleList> old_lists = std::move(w.rule_lists);
  std::vector<std::uint32_t> old_slot_rules = std::move(w.slot_rules);
  w.rule_lists.clear();
  w.rule_lists.emplace_back();
  w.rule_list_ids.clear();
  w.dirty_lists.clear();
  w.slot_rules.assign(w.shard->slot_count(), kNoRules);
  for (std::uint32_t slot = 0; slot < w.shard->slot_count(); ++slot) {
    if (!w.shard->IsLiveSlot(slot)) continue;
    AssignRules(w, slot);
    const std::uint32_t old_id = slot < old_slot_rules.size() ? old_slot_rules[slot] : kNoRules;
    const std::uint32_t new_id = w.slot_rules[slot];
    if (old_id == kNoRules || new_id == kNoRules || !old_lists[old_id].in_dirty) continue;
    RuleList& list = w.rule_lists[new_id];
    list.dirty_min = std::min(list.dirty_min, old_lists[old_id].dirty_min);
    list.dirty_max = std::max(list.dirty_max, old_lists[old_id].dirty_max);
    if (!list.in_dirty) {
      list.in_dirty = true;
      w.dirty_lists.push_back(new_id);
    }
  }
  w.dirty_min = kNoDirty;
  for (std::uint32_t id : w.dirty_lists)
    w.dirty_min = std::min(w.dirty_min, w.rule_lists[id].dirty_min);
  PublishDirty(w);
}

bool Pipeline::AnyRingReadable(Worker& w) {
  const std::uint32_t n = producer_slot_count_.load(std::memory_order_acquire);
  for (std::uint32_t p = 0; p < n; ++p) {
    SpscRing<RingItem>* ring = w.rings[p].load(std::memory_order_acquire);
    if (ring != nullptr && !ring->EmptyForConsumer()) return true;
  }
  return false;
}

void Pipeline::Park(Worker& w) {
  const EventCount::Key key = w.wake.PrepareWait();
  // The rings' consumer side is checked while this thread still owns it: once
  // kParked is published, another worker may capture the shard and drain them.
  if (AnyRingReadable(w)) {
    w.wake.CancelWait();
    return;
  }
  const std::uint64_t selectors_version = w.selectors_version;  // owner field: read it while owned
  // seq_cst (with the hold load below): either a capture CAS sees kParked, or
  // this re-check sees RunCut's hold_seq_ increment. From here until Resume
  // this thread touches only atomics: a captor may be using the shard.
  w.state.store(kParked, std::memory_order_seq_cst);
  const bool pending =
      hold_seq_.load(std::memory_order_seq_cst) != w.handled_hold.load(std::memory_order_relaxed) ||
      selectors_version_.load(std::memory_order_acquire) != selectors_version ||
      stopping_.load(std::memory_order_acquire) || recheck_cut_.load(std::memory_order_seq_cst);
  if (pending) {
    w.wake.CancelWait();
  } else {
    w.wake.Wait(key);
  }
  Resume(w);
}

void Pipeline::Resume(Worker& w) {
  while (true) {
    // Read before the CAS, so a hand-back between the two is not missed.
    const std::uint32_t epoch = w.uncaptured.load(std::memory_order_acquire);
    std::uint32_t expected = kParked;
    // seq_cst: competes with the capture CAS; acquire side sees the captor's writes.
    if (w.state.compare_exchange_strong(expected, kRunning, std::memory_order_seq_cst)) return;
    // Captured (by a cut or a helper): another thread owns this shard for now.
    FutexWaitUntil(&w.uncaptured, epoch, kNoDeadline);
  }
}

bool Pipeline::TryCapture(Worker& w) {
  std::uint32_t expected = kParked;
  // seq_cst: a parked worker is quiescent; acquire side makes its writes visible.
  return w.state.compare_exchange_strong(expected, kCaptured, std::memory_order_seq_cst);
}

void Pipeline::HandBack(Worker& w) {
  // seq_cst: the worker's Resume CAS reads this and then sees our writes.
  w.state.store(kParked, std::memory_order_seq_cst);
  w.uncaptured.fetch_add(1, std::memory_order_release);
  FutexWakeAll(&w.uncaptured);
}

bool Pipeline::HelpParkedShards(Worker* self) {
  bool consumed = false;
  for (auto& w : workers_) {
    if (w.get() == self || !TryCapture(*w)) continue;
    // This thread owns the parked shard (and its rings' consumer side) until HandBack.
    bool progressed = false;
    while (!hold_pending(*self)) {
      bool drained = false;
      DrainOnce(*w, &drained);
      if (!drained) break;
      progressed = true;
    }
    if (progressed) PublishDirty(*w);
    consumed = consumed || progressed;
    HandBack(*w);
  }
  return consumed;
}

bool Pipeline::CutOnCallingThread() {
  if (!options_.inline_cuts || stopping_.load(std::memory_order_acquire)) return false;
  // relaxed: a hint; the capture CASes below decide.
  for (auto& w : workers_) {
    if (w->state.load(std::memory_order_relaxed) != kParked) return false;
  }
  std::size_t captured = 0;
  while (captured < workers_.size() && TryCapture(*workers_[captured])) ++captured;
  if (captured < workers_.size()) {
    for (std::size_t i = 0; i < captured; ++i) HandBack(*workers_[i]);
    return false;
  }
  // This thread holds every shard. No worker runs, so no other thread can
  // lead a cut (a leader is a running worker, and Stop() cuts only after the
  // workers have exited, which needs them running). A RunHeld in progress
  // keeps cut_in_progress_ set: the decisions below then defer to it.
  const HoldingMark::Scope holding(this);
  for (auto& w : workers_) {
    bool progressed = false;
    for (int round = 0; round < kInlineDrainRounds; ++round) {
      bool drained = false;
      DrainOnce(*w, &drained);
      if (!drained) break;
      progressed = true;
    }
    if (progressed) PublishDirty(*w);
  }
  CutPlan plan;
  while (DecideCut(&plan, /*final=*/false)) {
    ApplyCut(plan);
    EndCut();
  }
  for (auto& w : workers_) {
    // Read while this thread still owns the consumer side.
    const bool left_over = AnyRingReadable(*w);
    HandBack(*w);
    if (left_over) w->wake.NotifyAll();
  }
  return true;
}

bool Pipeline::hold_pending(const Worker& w) const {
  // seq_cst: pairs with RunCut's increment (see Park).
  return hold_seq_.load(std::memory_order_seq_cst) !=
         w.handled_hold.load(std::memory_order_relaxed);
}

void Pipeline::ArriveAtHold(Worker& w) {
  const std::uint64_t seq = hold_seq_.load(std::memory_order_seq_cst);
  w.handled_hold.store(seq, std::memory_order_relaxed);
  // acq_rel: our shard writes happen before the leader reads the shard.
  arrived_.fetch_add(1, std::memory_order_acq_rel);
  arrivals_.Notify();
  // Wait for this cut's release, not just any: the previous cut's leader may
  // still be publishing its own release while this cut is already under way.
  const auto target = static_cast<std::uint32_t>(seq);
  while (true) {
    // acquire: the leader's writes to our shard are visible after the release.
    const std::uint32_t released = released_seq_.load(std::memory_order_acquire);
    if (static_cast<std::int32_t>(released - target) >= 0) break;
    FutexWaitUntil(&released_seq_, released, kNoDeadline);
  }
}

// ---- Cuts --------------------------------------------------------------------

std::int64_t Pipeline::ComputeWatermarkLocked() const {
  std::int64_t wm = kClosedWatermark;
  const std::uint32_t n = producer_slot_count_.load(std::memory_order_acquire);
  for (std::uint32_t p = 0; p < n; ++p) {
    for (const auto& w : workers_) {
      // acquire: pairs with DrainOnce's release; the shard applied what preceded the marker.
      wm = std::min(wm, w->consumed[p].load(std::memory_order_acquire));
    }
  }
  if (wm != kClosedWatermark) return wm;
  // No open producer: everything sent has been consumed, up to the newest sample.
  std::int64_t newest = kNoTime;
  for (const auto& w : workers_) {
    newest = std::max(newest, w->max_seen_pub.load(std::memory_order_relaxed));
  }
  return newest;
}

bool Pipeline::DecideCut(CutPlan* plan, bool final) {
  MutexLock lock(coord_mu_);
  if (cut_in_progress_) {
    // The holder of a RunHeld leads no cut afterwards: have a worker decide again.
    if (query_hold_) cut_deferred_ = true;
    return false;
  }
  if (!final && stopping_.load(std::memory_order_relaxed)) return false;
  const std::int64_t wm = ComputeWatermarkLocked();
  if (wm == kNoTime || wm <= last_cut_) return false;
  std::int64_t min_seen = kNoDirty;
  std::int64_t min_dirty = kNoDirty;
  for (const auto& w : workers_) {
    min_seen = std::min(min_seen, w->min_seen_pub.load(std::memory_order_relaxed));
    // acquire: pairs with PublishDirty.
    min_dirty = std::min(min_dirty, w->dirty_min_pub.load(std::memory_order_acquire));
  }
  const std::int64_t interval = options_.cut_interval_ms;
  std::int64_t t = kNoDirty;
  if (interval > 0 && min_seen != kNoDirty) {
    const std::int64_t base = last_cut_ == kNoTime ? min_seen - 1 : last_cut_;
    const std::int64_t next = (FloorDiv(base, interval) + 1) * interval;
    if (next <= wm) t = next;
  }
  if (t == kNoDirty) {
    const std::int64_t since = last_cut_ == kNoTime ? min_seen : last_cut_;
    const bool gap_due = since != kNoDirty && wm - since >= options_.max_cut_gap_ms;
    const bool dirty_due = options_.eager_cuts && min_dirty <= wm;
    if (gap_due || dirty_due || (final && min_dirty <= wm)) t = wm;
  }
  if (t == kNoDirty) return false;
  plan->t = t;
  plan->scheduled = interval > 0 && FloorDiv(t, interval) * interval == t;
  plan->watermark = wm;
  last_cut_ = t;
  cut_in_progress_ = true;
  return true;
}

void Pipeline::MaybeCut(Worker* leader) {
  CutPlan plan;
  while (true) {
    if (DecideCut(&plan, /*final=*/false)) {
      RunCut(leader, plan);
      continue;
    }
    // A parked shard may hold the watermark back only because it has not been
    // scheduled yet: consume its rings here rather than wait for its wake-up.
    if (hold_pending(*leader) || !HelpParkedShards(leader)) break;
  }
}

void Pipeline::RunCut(Worker* leader, const CutPlan& plan) {
  // seq_cst: ordered before the capture CASes below (see Park).
  const std::uint64_t seq = hold_seq_.fetch_add(1, std::memory_order_seq_cst) + 1;
  leader->handled_hold.store(seq, std::memory_order_relaxed);
  std::vector<Worker*> captured;
  std::uint32_t need = 0;
  for (auto& w : workers_) {
    if (w.get() == leader) continue;
    // A parked worker is quiescent; taking it saves a wake-up.
    if (TryCapture(*w)) {
      w->handled_hold.store(seq, std::memory_order_relaxed);
      captured.push_back(w.get());
    } else {
      ++need;
      w->wake.NotifyAll();
    }
  }
  while (true) {
    const EventCount::Key key = arrivals_.PrepareWait();
    // acquire: pairs with ArriveAtHold's acq_rel increment.
    if (arrived_.load(std::memory_order_acquire) >= need) {
      arrivals_.CancelWait();
      break;
    }
    arrivals_.Wait(key);
  }
  ApplyCut(plan);
  arrived_.store(0, std::memory_order_relaxed);
  for (Worker* w : captured) HandBack(*w);
  EndCut();
  // release: arrived workers see our writes to their shards. Cuts release in
  // order: the next one needs this thread's arrival, which comes after this.
  released_seq_.store(static_cast<std::uint32_t>(seq), std::memory_order_release);
  FutexWakeAll(&released_seq_);
}

void Pipeline::ApplyCut(const CutPlan& plan) {
  std::vector<std::uint32_t> rules;
  for (auto& w : workers_) {
    std::vector<std::uint32_t> still_dirty;
    w->dirty_min = kNoDirty;
    for (std::uint32_t id : w->dirty_lists) {
      RuleList& list = w->rule_lists[id];
      if (list.dirty_min <= plan.t) {
        rules.insert(rules.end(), list.rules.begin(), list.rules.end());
        if (list.dirty_max > plan.t) {
          list.dirty_min = plan.t + 1;  // samples after t wait for a later cut
        } else {
          list.dirty_min = kNoDirty;
          list.dirty_max = kNoTime;
          list.in_dirty = false;
          continue;
        }
      }
      still_dirty.push_back(id);
      w->dirty_min = std::min(w->dirty_min, list.dirty_min);
    }
    w->dirty_lists = std::move(still_dirty);
    PublishDirty(*w);
  }
  std::sort(rules.begin(), rules.end());
  rules.erase(std::unique(rules.begin(), rules.end()), rules.end());
  const DirtySet dirty(std::move(rules));

  std::vector<storage::Shard*> shards;
  shards.reserve(workers_.size());
  for (auto& w : workers_) shards.push_back(w->shard.get());
  if (on_cut_) {
    storage::FanoutQueryable view(shards, plan.t, options_.series_order);
    try {
      on_cut_(Cut{plan.t, plan.scheduled, plan.watermark, dirty, view});
    } catch (...) {
      // The callback must not throw; a throw must not kill the worker either.
      callback_failures_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  const std::int64_t horizon = SaturatingSub(plan.t, options_.retention_ms - 1);
  for (auto& w : workers_) w->shard->SetHorizon(horizon);
  // Collect here, while every shard is held: a parked shard may not wake for a long time.
  if (last_gc_cut_ == kNoTime || plan.t - last_gc_cut_ >= options_.max_cut_gap_ms) {
    last_gc_cut_ = plan.t;
    for (auto& w : workers_) w->shard->CollectGarbage();
  }
  cuts_.fetch_add(1, std::memory_order_relaxed);
  last_cut_pub_.store(plan.t, std::memory_order_relaxed);
}

// ---- Producer ----------------------------------------------------------------

Producer::Producer(Pipeline* pipeline, std::uint32_t slot, ProducerOptions options,
                   std::int64_t floor)
    : pipeline_(pipeline),
      slot_(slot),
      options_(options),
      stopping_(&pipeline->stopping_),
      accepted_(&pipeline->producer_slots_[slot]->accepted),
      batch_size_(pipeline->options_.batch_size),
      sent_promise_(pipeline->workers_.size(), floor),
      published_(pipeline->workers_.size(), false),
      newest_t_(kNoTime),
      promise_(floor) {
  for (auto& ring : pipeline->producer_slots_[slot]->rings) rings_.push_back(ring.get());
}

Producer::~Producer() { Close(); }

Status Producer::AppendSlow(SeriesRef ref, std::int64_t t_ms, double value) {
  Pipeline::ProducerSlot& stats = *pipeline_->producer_slots_[slot_];
  auto count = [](std::atomic<std::uint64_t>& c) {
    // relaxed: statistics with a single writer.
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  };
  if (closed_ || pipeline_->stopping_.load(std::memory_order_relaxed)) {
    count(stats.refused);
    return Status::FailedPrecondition("producer is closed or the pipeline is stopping");
  }
  // Late but recent enough: staged like any other (the shard still refuses
  // it if it is not newer than its series' newest sample).
  if (t_ms <= promise_ && t_ms <= SaturatingSub(promise_, pipeline_->options_.max_late_age_ms)) {
    count(stats.late_refused);
    return Status::OutOfRange("late sample at t=" + std::to_string(t_ms) +
                              " ms: this producer's watermark is already " +
                              std::to_string(promise_) + " ms and samples more than " +
                              std::to_string(pipeline_->options_.max_late_age_ms) +
                              " ms behind it are refused (max_late_age)");
  }
  const std::uint32_t shard = storage::ShardOf(ref);
  if (ref == 0 || ref == kPunctuationRef || shard >= rings_.size()) {
    count(stats.refused);
    return Status::InvalidArgument("not a series ref of this pipeline");
  }
  SpscRing<RingItem>& ring = *rings_[shard];
  const RingItem item{ref, t_ms, value};
  if (options_.backpressure == Backpressure::kRefuse) {
    if (!ring.TryStage(item)) {
      count(stats.refused);
      return Status::ResourceExhausted("the ring to shard " + std::to_string(shard) +
                                       " is full; sample refused");
    }
  } else if (!ring.StageWaitFor(item, options_.max_wait)) {
    count(stats.refused);
    return Status::DeadlineExceeded("the ring to shard " + std::to_string(shard) +
                                    " stayed full for the producer's max_wait; sample refused");
  }
  Accepted(ring, t_ms);
  return Status::Ok();
}

Status Producer::Flush() {
  if (closed_) return Status::FailedPrecondition("producer is closed");
  std::int64_t promise = promise_;
  if (newest_t_ != kNoTime) {
    promise = std::max(promise, SaturatingSub(newest_t_, pipeline_->options_.allowed_lateness_ms));
  }
  SendPunctuation(promise, /*must_deliver=*/false);
  return Status::Ok();
}

Status Producer::AdvanceWatermark(std::int64_t t_ms) {
  if (closed_) return Status::FailedPrecondition("producer is closed");
  SendPunctuation(std::max(promise_, t_ms), /*must_deliver=*/false);
  return Status::Ok();
}

void Producer::SendPunctuation(std::int64_t t, bool must_deliver) {
  promise_ = std::max(promise_, t);
  const RingItem marker{kPunctuationRef, promise_, 0};
  // The marker is staged behind the samples and goes out in the same publish,
  // so a worker wakes once and finds both. Every ring is published before any
  // worker is woken: the first one up can then drain the others (helping).
  bool all_sent = true;
  bool marker_staged = false;
  for (std::size_t i = 0; i < rings_.size(); ++i) {
    if (sent_promise_[i] < promise_ && rings_[i]->TryStage(marker, /*count_refusal=*/false)) {
      sent_promise_[i] = promise_;
      marker_staged = true;
    }
    all_sent = all_sent && sent_promise_[i] >= promise_;
    published_[i] = rings_[i]->PublishQuietly();
  }
  // A cut may now be due: when every worker sleeps, take it here rather than
  // pay for waking one (the rings were published above, so this thread can
  // drain them).
  if (!marker_staged || !pipeline_->CutOnCallingThread()) {
    for (std::size_t i = 0; i < rings_.size(); ++i) {
      if (published_[i]) rings_[i]->NotifyConsumer();
    }
  }
  if (all_sent || !must_deliver) return;  // a marker that did not fit goes with the next Flush
  for (std::size_t i = 0; i < rings_.size(); ++i) {
    bool sent = sent_promise_[i] >= promise_;
    while (!sent && !pipeline_->stopped_.load(std::memory_order_acquire)) {
      sent = rings_[i]->PushWait({&marker, 1}, Clock::now() + std::chrono::milliseconds(50)) == 1;
    }
    if (sent) sent_promise_[i] = promise_;
  }
}

void Producer::Close() {
  if (closed_) return;
  SendPunctuation(kClosedWatermark, /*must_deliver=*/true);
  closed_ = true;
  pipeline_->ReleaseProducerSlot(slot_);
}

}  // namespace nimify::pipeline
