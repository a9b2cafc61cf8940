#include "engine/sample_tracker.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace nimify::engine {
namespace {

const promql::Expr* StripParens(const promql::Expr* e) {
  while (e->kind() == promql::ExprKind::kParen) {
    e = static_cast<const promql::ParenExpr*>(e)->expr.get();
  }
  return e;
}

std::optional<double> NumberOf(const promql::Expr* e) {
  e = StripParens(e);
  if (e->kind() == promql::ExprKind::kNumberLiteral) {
    return static_cast<const promql::NumberLiteral*>(e)->value;
  }
  if (e->kind() == promql::ExprKind::kUnary) {
    const auto* u = static_cast<const promql::UnaryExpr*>(e);
    if (auto v = NumberOf(u->expr.get())) return u->negate ? -*v : *v;
  }
  return std::nullopt;
}

const promql::VectorSelector* PlainSelector(const promql::Expr* e) {
  e = StripParens(e);
  if (e->kind() != promql::ExprKind::kVectorSelector) return nullptr;
  const auto* v = static_cast<const promql::VectorSelector*>(e);
  if (v->offset_ms != 0 || v->at != promql::AtKind::kNone) return nullptr;
  return v;
}

// `x OP y` as `y OP' x`.
promql::BinaryOp Mirror(promql::BinaryOp op) {
  switch (op) {
    case promql::BinaryOp::kGtr: return promql::BinaryOp::kLss;
    case promql::BinaryOp::kLss: return promql::BinaryOp::kGtr;
    case promql::BinaryOp::kGte: return promql::BinaryOp::kLte;
    case promql::BinaryOp::kLte: return promql::BinaryOp::kGte;
    default: return op;
  }
}

}  // namespace

bool ThresholdPredicate::Holds(double v) const noexcept {
  const double l = number_on_left ? threshold : v;
  const double r = number_on_left ? v : threshold;
  // IEEE comparisons: anything involving NaN is false except !=, as in PromQL.
  switch (op) {
    case promql::BinaryOp::kEql: return l == r;
    case promql::BinaryOp::kNeq: return l != r;
    case promql::BinaryOp::kGtr: return l > r;
    case promql::BinaryOp::kLss: return l < r;
    case promql::BinaryOp::kGte: return l >= r;
    case promql::BinaryOp::kLte: return l <= r;
    default: return false;
  }
}

std::optional<ThresholdPredicate> MatchThreshold(const promql::Expr& expr,
                                                 const promql::VectorSelector** selector) {
  const promql::Expr* e = StripParens(&expr);
  if (e->kind() != promql::ExprKind::kBinary) return std::nullopt;
  const auto* b = static_cast<const promql::BinaryExpr*>(e);
  if (!promql::IsComparison(b->op) || b->return_bool) return std::nullopt;
  ThresholdPredicate p;
  p.op = b->op;
  if (const auto* sel = PlainSelector(b->lhs.get())) {
    const auto number = NumberOf(b->rhs.get());
    if (!number) return std::nullopt;
    p.threshold = *number;
    *selector = sel;
    return p;
  }
  if (const auto* sel = PlainSelector(b->rhs.get())) {
    const auto number = NumberOf(b->lhs.get());
    if (!number) return std::nullopt;
    p.threshold = *number;
    p.number_on_left = true;
    *selector = sel;
    return p;
  }
  return std::nullopt;
}

SampleTracker::SampleTracker(std::uint32_t shards, const promql::EvalOptions& eval,
                             std::vector<std::vector<ThresholdPredicate>> predicates)
    : lookback_ms_(eval.lookback_delta_ms),
      closed_windows_(eval.compat == promql::Compat::kPrometheus2),
      predicates_(std::move(predicates)),
      any_holds_(predicates_.size()),
      shards_(shards) {
  // NaN-aware min/max: a NaN bound means "no predicate of this kind".
  auto lower = [](double& bound, double x) {
    if (std::isnan(bound) || x < bound) bound = x;
  };
  auto upper = [](double& bound, double x) {
    if (std::isnan(bound) || x > bound) bound = x;
  };
  for (std::size_t id = 0; id < predicates_.size(); ++id) {
    AnyHolds& any = any_holds_[id];
    for (const ThresholdPredicate& p : predicates_[id]) {
      // As `v OP threshold`: a number on the left mirrors the operator.
      promql::BinaryOp op = p.op;
      if (p.number_on_left) op = Mirror(op);
      // A NaN threshold never satisfies an ordering comparison: no bound.
      const bool nan = std::isnan(p.threshold);
      switch (op) {
        case promql::BinaryOp::kGtr:
          if (!nan) lower(any.above, p.threshold);
          break;
        case promql::BinaryOp::kGte:
          if (!nan) lower(any.at_least, p.threshold);
          break;
        case promql::BinaryOp::kLss:
          if (!nan) upper(any.below, p.threshold);
          break;
        case promql::BinaryOp::kLte:
          if (!nan) upper(any.at_most, p.threshold);
          break;
        default:
          any.has_equality = true;
          break;
      }
    }
  }
}

bool SampleTracker::AnyPredicateHolds(std::uint32_t input, double v) const noexcept {
  const AnyHolds& any = any_holds_[input];
  // Comparisons with a NaN bound (or a NaN v) are false, as they should be.
  if (v > any.above || v >= any.at_least || v < any.below || v <= any.at_most) return true;
  if (!any.has_equality) return false;
  for (const ThresholdPredicate& p : predicates_[input]) {
    if (p.Holds(v)) return true;
  }
  return false;
}

void SampleTracker::AddCandidateSlot(ShardState& s, std::uint32_t slot) {
  if (slot >= s.candidates_per_slot.size()) {
    s.candidates_per_slot.resize(std::size_t{slot} + 1, 0);
    s.candidate_bits.resize(s.candidates_per_slot.size() / 64 + 1, 0);
  }
  if (s.candidates_per_slot[slot]++ == 0) {
    s.candidate_bits[slot / 64] |= std::uint64_t{1} << (slot % 64);
  }
}

void SampleTracker::RemoveCandidateSlot(ShardState& s, std::uint32_t slot) noexcept {
  if (--s.candidates_per_slot[slot] == 0) {
    s.candidate_bits[slot / 64] &= ~(std::uint64_t{1} << (slot % 64));
  }
}

bool SampleTracker::KnownBefore(const ShardState& s, std::uint32_t slot, std::uint32_t epoch,
                                std::int64_t last_cut) noexcept {
  if (slot >= s.seen.size()) return false;
  const std::uint64_t word = s.seen[slot];
  // Not evaluated yet: what it changes (a resolution) is still to be reported.
  return SeenWord::TagOf(word) == SeenWord::Tag(epoch) && (word & SeenWord::kUnknown) == 0 &&
         SeenWord::Time(word) <= last_cut;
}

void SampleTracker::ReportCrossings(std::uint32_t input, const Candidate* candidate,
                                    const promql::Labels* labels, const storage::Shard& shard,
                                    std::uint32_t slot, std::int64_t t, double v,
                                    std::uint32_t epoch, std::int64_t last_cut) {
  // The previous sample: a candidate's newest; a series that is no candidate
  // satisfied none of the input's predicates with it.
  const promql::Point* prev =
      candidate != nullptr && !candidate->history.empty() ? &candidate->history.back() : nullptr;
  // Not evaluated yet (KnownBefore checked the last sample that was not late;
  // a late one makes the candidate uncertain): its transitions are still to
  // come, and this event must not overtake them.
  if (prev != nullptr && prev->t > last_cut) return;
  const bool prev_counts = prev != nullptr && !promql::IsStaleNaN(prev->v);
  std::optional<promql::Labels> fetched;
  const auto& list = predicates_[input];
  for (std::size_t k = 0; k < list.size(); ++k) {
    if (!list[k].Holds(v) || (prev_counts && list[k].Holds(prev->v))) continue;
    if (labels == nullptr) {
      if (!fetched) fetched = shard.LabelsOf(slot);
      labels = &*fetched;
    }
    listener_->OnCrossing(input, k, *labels, t, v, epoch);
  }
}

void SampleTracker::OnSample(const storage::Shard& shard, storage::SeriesRef ref,
                             std::span<const std::uint32_t> inputs, std::int64_t t, double v) {
  ShardState& s = shards_[shard.index()];
  const std::uint32_t slot = storage::SlotOf(ref);
  // With a crossing listener: a sample at or before the last cut is late (no
  // evaluation runs at its time), and a crossing needs the state before it known.
  const bool crossings = listener_ != nullptr;
  std::uint32_t epoch = 0;
  bool late = false;
  bool known_before = false;
  std::int64_t last_cut = 0;
  if (crossings) {
    epoch = epoch_.load(std::memory_order_acquire);
    last_cut = last_cut_.load(std::memory_order_relaxed);
    late = t <= last_cut;
    known_before = !late && KnownBefore(s, slot, epoch, last_cut);
  }
  const bool was_candidate = crossings && IsCandidateSlot(s, slot);
  for (const std::uint32_t id : inputs) {
    if (id >= s.inputs.size()) s.inputs.resize(std::size_t{id} + 1);
    InputState& in = s.inputs[id];
    // Mostly in order: the common case is one comparison with the last time.
    if (in.times.empty() || in.times.back() < t) {
      in.times.push_back(t);
    } else if (in.times.back() != t) {
      auto it = std::lower_bound(in.times.begin(), in.times.end(), t);
      if (it == in.times.end() || *it != t) in.times.insert(it, t);
    }
    if (id >= predicates_.size() || predicates_[id].empty()) continue;
    const bool holds = !promql::IsStaleNaN(v) && AnyPredicateHolds(id, v);
    if (!holds && !IsCandidateSlot(s, slot)) continue;
    auto it = in.candidate_index.find(ref);
    Candidate* candidate = it != in.candidate_index.end() ? &in.candidates[it->second] : nullptr;
    if (holds && known_before && (candidate == nullptr || !candidate->uncertain)) {
      ReportCrossings(id, candidate, candidate != nullptr ? &candidate->labels : nullptr, shard,
                      slot, t, v, epoch, last_cut);
    }
    if (candidate != nullptr) {
      candidate->history.push_back({t, v});
      candidate->uncertain = late;
    } else if (holds) {
      in.candidate_index.emplace(ref, static_cast<std::uint32_t>(in.candidates.size()));
      in.candidates.push_back(Candidate{ref, shard.LabelsOf(slot), {{t, v}}, late});
      AddCandidateSlot(s, slot);
    }
  }
  if (crossings && !late) {
    if (slot >= s.seen.size()) {
      s.seen.resize(std::max<std::size_t>(std::size_t{slot} + 1, s.seen.size() * 2), 0);
    }
    // The settling time is that of the sample whose evaluation settles the
    // rules' state: the first one known, or one of a candidate. Later samples
    // of a series that satisfies nothing change nothing the rules report, so
    // they leave it.
    const std::uint64_t word = s.seen[slot];
    const bool known =
        SeenWord::TagOf(word) == SeenWord::Tag(epoch) && (word & SeenWord::kUnknown) == 0;
    const std::int64_t settled =
        !known || was_candidate || IsCandidateSlot(s, slot) ? t : SeenWord::Time(word);
    // A time the word cannot hold leaves the slot unseen: it never fires early.
    s.seen[slot] = SeenWord::Fits(settled) ? SeenWord::Pack(settled, SeenWord::Tag(epoch)) : 0;
  }
}

std::vector<std::int64_t> SampleTracker::Times(std::uint32_t input, std::int64_t after,
                                               std::int64_t upto) const {
  std::vector<std::int64_t> out;
  for (const ShardState& s : shards_) {
    if (input >= s.inputs.size()) continue;
    for (const std::int64_t t : s.inputs[input].times) {
      if (t > after && t <= upto) out.push_back(t);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

const promql::Point* SampleTracker::LatestAtOrBefore(const std::vector<promql::Point>& history,
                                                     std::int64_t ts) {
  auto it = std::upper_bound(history.begin(), history.end(), ts,
                             [](std::int64_t t, const promql::Point& p) { return t < p.t; });
  return it == history.begin() ? nullptr : &*(it - 1);
}

bool SampleTracker::InWindow(std::int64_t sample_t, std::int64_t ts) const noexcept {
  return closed_windows_ ? sample_t >= ts - lookback_ms_ : sample_t > ts - lookback_ms_;
}

promql::Vector SampleTracker::Result(std::uint32_t input, std::size_t index,
                                     std::int64_t ts) const {
  promql::Vector out;
  if (!Tracks(input, index)) return out;
  const ThresholdPredicate& pred = predicates_[input][index];
  for (const ShardState& s : shards_) {
    if (input >= s.inputs.size()) continue;
    for (const Candidate& c : s.inputs[input].candidates) {
      // Usually every sample is at or before ts: no search.
      const promql::Point* p =
          c.history.back().t <= ts ? &c.history.back() : LatestAtOrBefore(c.history, ts);
      if (p == nullptr || !InWindow(p->t, ts) || promql::IsStaleNaN(p->v) || !pred.Holds(p->v)) {
        continue;
      }
      out.push_back(promql::Sample{c.labels, ts, p->v, false});
    }
  }
  return out;
}

void SampleTracker::Prune(std::int64_t t) {
  for (ShardState& s : shards_) {
    for (std::uint32_t id = 0; id < s.inputs.size(); ++id) {
      InputState& in = s.inputs[id];
      in.times.erase(in.times.begin(), std::upper_bound(in.times.begin(), in.times.end(), t));
      for (std::size_t i = 0; i < in.candidates.size();) {
        Candidate& c = in.candidates[i];
        auto& h = c.history;
        auto latest = std::upper_bound(
            h.begin(), h.end(), t, [](std::int64_t x, const promql::Point& p) { return x < p.t; });
        // Keep the newest point at or before t (later instants may still see it).
        if (latest != h.begin()) h.erase(h.begin(), latest - 1);
        const bool has_newer = h.back().t > t;
        const promql::Point& first = h.front();
        const bool still_true = first.t <= t && InWindow(first.t, t) &&
                                !promql::IsStaleNaN(first.v) && AnyPredicateHolds(id, first.v);
        if (has_newer || still_true) {
          ++i;
          continue;
        }
        // Never true again without a new sample, which re-adds it. If its
        // newest sample held (or is uncertain), the rules may not have run since
        // it left the lookback: what they hold for the series is not known.
        const std::uint32_t slot = storage::SlotOf(c.ref);
        const bool last_held = !promql::IsStaleNaN(h.back().v) && AnyPredicateHolds(id, h.back().v);
        if (listener_ != nullptr && (c.uncertain || last_held) && slot < s.seen.size()) {
          s.seen[slot] |= SeenWord::kUnknown;
        }
        RemoveCandidateSlot(s, slot);
        in.candidate_index.erase(c.ref);
        if (i + 1 != in.candidates.size()) {
          c = std::move(in.candidates.back());
          in.candidate_index[c.ref] = static_cast<std::uint32_t>(i);
        }
        in.candidates.pop_back();
      }
    }
  }
}

std::optional<std::size_t> SampleTracker::Find(std::uint32_t input,
                                                const ThresholdPredicate& predicate) const {
  if (input >= predicates_.size()) return std::nullopt;
  const auto& list = predicates_[input];
  for (std::size_t k = 0; k < list.size(); ++k) {
    // Bitwise: a NaN threshold must find itself.
    if (list[k].op == predicate.op && list[k].number_on_left == predicate.number_on_left &&
        std::bit_cast<std::uint64_t>(list[k].threshold) ==
            std::bit_cast<std::uint64_t>(predicate.threshold)) {
      return k;
    }
  }
  return std::nullopt;
}

std::size_t SampleTracker::candidate_count() const {
  std::size_t n = 0;
  for (const ShardState& s : shards_) {
    for (const InputState& in : s.inputs) n += in.candidates.size();
  }
  return n;
}

}  // namespace nimify::engine
