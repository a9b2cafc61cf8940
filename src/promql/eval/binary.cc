// Binary operators: arithmetic, comparisons (with and without bool), set
// operators and vector matching.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <unordered_set>

#include "promql/eval/eval_internal.h"

namespace nimify::promql::eval_internal {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Operators whose result no longer means what the metric name says.
bool ChangesMetricSchema(BinaryOp op, bool v2) {
  switch (op) {
    case BinaryOp::kAdd:
    case BinaryOp::kSub:
    case BinaryOp::kMul:
    case BinaryOp::kDiv:
    case BinaryOp::kPow:
    case BinaryOp::kMod:
      return true;
    case BinaryOp::kAtan2:
      return !v2;  // Prometheus 2 kept the name for atan2
    default:
      return false;
  }
}

// Returns the value and whether a comparison keeps the sample.
double VectorElemBinop(BinaryOp op, double lhs, double rhs, bool* keep) {
  *keep = true;
  switch (op) {
    case BinaryOp::kAdd:
      return lhs + rhs;
    case BinaryOp::kSub:
      return lhs - rhs;
    case BinaryOp::kMul:
      return lhs * rhs;
    case BinaryOp::kDiv:
      return lhs / rhs;
    case BinaryOp::kPow:
      return GoPow(lhs, rhs);
    case BinaryOp::kMod:
      return std::fmod(lhs, rhs);
    case BinaryOp::kAtan2:
      return std::atan2(lhs, rhs);
    case BinaryOp::kEql:
      *keep = lhs == rhs;
      return lhs;
    case BinaryOp::kNeq:
      *keep = lhs != rhs;
      return lhs;
    case BinaryOp::kGtr:
      *keep = lhs > rhs;
      return lhs;
    case BinaryOp::kLss:
      *keep = lhs < rhs;
      return lhs;
    case BinaryOp::kGte:
      *keep = lhs >= rhs;
      return lhs;
    case BinaryOp::kLte:
      *keep = lhs <= rhs;
      return lhs;
    default:
      *keep = false;
      return kNaN;
  }
}

// The label set of a vector/vector result (Prometheus's resultMetric).
LabelsRef ResultMetric(QueryCtx* q, LabelsRef lhs, LabelsRef rhs, BinaryOp op,
                       const VectorMatching& m, bool drop_name, NodeHelper* enh) {
  const bool drop = drop_name || ChangesMetricSchema(op, q->v2);
  const bool one_to_one = m.card == Cardinality::kOneToOne;
  // Common case: nothing but (maybe) the name changes; no copy needed.
  if (m.include.empty() && (!one_to_one || (!m.on && m.matching_labels.empty()))) {
    return drop ? q->DropName(lhs) : lhs;
  }
  const NodeHelper::PairKey key{lhs.base,
                                rhs.base,
                                lhs.filter,
                                rhs.filter,
                                static_cast<std::uint8_t>(lhs.hide),
                                static_cast<std::uint8_t>(rhs.hide)};
  auto it = enh->result_metric.find(key);
  if (it != enh->result_metric.end()) return it->second;
  Labels lb = Materialize(drop ? q->DropName(lhs) : lhs);
  if (one_to_one) {
    if (m.on) {
      lb = lb.KeepOnly(m.matching_labels);
    } else {
      for (const std::string& n : m.matching_labels) lb.Del(n);
    }
  }
  for (const std::string& n : m.include) {
    // Included labels come from the "one" side.
    lb.Set(n, GetLabel(rhs, n));
  }
  const LabelsRef out = q->Intern(std::move(lb));
  enh->result_metric.emplace(key, out);
  return out;
}

// Prometheus's Labels.MatchLabels: the labels that formed the match group.
std::string MatchedLabelsString(LabelsRef l, const VectorMatching& m) {
  std::vector<Label> out;
  ForEachLabel(l, [&](const Label& label) {
    const bool listed = std::find(m.matching_labels.begin(), m.matching_labels.end(), label.name) !=
                        m.matching_labels.end();
    if (m.on == listed && (m.on || label.name != kMetricNameLabel)) out.push_back(label);
  });
  const Labels labels = Labels::FromUnsorted(std::move(out));
  return LabelsString(LabelsRef{&labels, Hide::kNone});
}

}  // namespace

double ScalarBinop(BinaryOp op, double lhs, double rhs) noexcept {
  switch (op) {
    case BinaryOp::kEql:
      return lhs == rhs ? 1 : 0;
    case BinaryOp::kNeq:
      return lhs != rhs ? 1 : 0;
    case BinaryOp::kGtr:
      return lhs > rhs ? 1 : 0;
    case BinaryOp::kLss:
      return lhs < rhs ? 1 : 0;
    case BinaryOp::kGte:
      return lhs >= rhs ? 1 : 0;
    case BinaryOp::kLte:
      return lhs <= rhs ? 1 : 0;
    default: {
      bool keep;
      return VectorElemBinop(op, lhs, rhs, &keep);
    }
  }
}

void EvalVectorScalarBinop(QueryCtx* q, BinaryOp op, const EVector& lhs, double rhs, bool swap,
                           bool return_bool, EVector* out) {
  const bool changes_schema = ChangesMetricSchema(op, q->v2);
  const bool comparison = IsComparison(op);
  for (const ESample& s : lhs) {
    double lf = s.f;
    double rf = rhs;
    if (swap) std::swap(lf, rf);
    bool keep;
    double value = VectorElemBinop(op, lf, rf, &keep);
    // With the scalar on the left, a comparison still yields the vector's value.
    if (comparison && swap) value = rf;
    if (return_bool) {
      value = keep ? 1 : 0;
      keep = true;
    }
    if (!keep) continue;
    ESample o = s;
    o.f = value;
    if (changes_schema || return_bool) {
      if (q->v2 || !q->delayed) o.metric = q->DropName(o.metric);
      if (!q->v2) o.drop_name = true;
    }
    out->push_back(o);
  }
}

void EvalSetOp(BinaryOp op, const EVector& lhs, const EVector& rhs, const SigVec& lsig,
               const SigVec& rsig, NodeHelper* enh, EVector* out) {
  auto& present = enh->sigs_present;
  auto reset = [&] { present.assign(static_cast<std::size_t>(enh->num_sigs), 0); };
  switch (op) {
    case BinaryOp::kAnd:
      if (lhs.empty() || rhs.empty()) return;
      reset();
      for (int s : rsig) present[static_cast<std::size_t>(s)] = 1;
      for (std::size_t i = 0; i < lhs.size(); ++i) {
        if (present[static_cast<std::size_t>(lsig[i])]) out->push_back(lhs[i]);
      }
      return;
    case BinaryOp::kOr:
      if (lhs.empty()) {
        out->insert(out->end(), rhs.begin(), rhs.end());
        return;
      }
      if (rhs.empty()) {
        out->insert(out->end(), lhs.begin(), lhs.end());
        return;
      }
      reset();
      for (std::size_t i = 0; i < lhs.size(); ++i) {
        present[static_cast<std::size_t>(lsig[i])] = 1;
        out->push_back(lhs[i]);
      }
      for (std::size_t j = 0; j < rhs.size(); ++j) {
        if (!present[static_cast<std::size_t>(rsig[j])]) out->push_back(rhs[j]);
      }
      return;
    case BinaryOp::kUnless:
      if (lhs.empty() || rhs.empty()) {
        out->insert(out->end(), lhs.begin(), lhs.end());
        return;
      }
      reset();
      for (int s : rsig) present[static_cast<std::size_t>(s)] = 1;
      for (std::size_t i = 0; i < lhs.size(); ++i) {
        if (!present[static_cast<std::size_t>(lsig[i])]) out->push_back(lhs[i]);
      }
      return;
    default:
      return;
  }
}

Status EvalVectorBinop(Ev* ev, const BinaryExpr& b, const VectorMatching& m, std::span<EVector> v,
                       std::span<SigVec> sigs, NodeHelper* enh, EVector* out) {
  QueryCtx* q = ev->q();
  if (m.card == Cardinality::kManyToMany) {
    return Status::Internal("many-to-many only allowed for set operators");
  }
  const EVector* lhs = &v[0];
  const EVector* rhs = &v[1];
  const SigVec* lsig = &sigs[0];
  const SigVec* rsig = &sigs[1];
  if (lhs->empty() || rhs->empty()) return Status::Ok();
  // One-to-many is many-to-one with the sides swapped.
  const bool swapped = m.card == Cardinality::kOneToMany;
  if (swapped) {
    std::swap(lhs, rhs);
    std::swap(lsig, rsig);
  }
  const std::size_t n = static_cast<std::size_t>(enh->num_sigs);
  enh->right_sigs.resize(n);
  enh->sigs_present.assign(n, 0);
  for (std::size_t i = 0; i < rhs->size(); ++i) {
    const auto ord = static_cast<std::size_t>((*rsig)[i]);
    const ESample& rs = (*rhs)[i];
    if (enh->sigs_present[ord]) {
      // The "one" side holds two series of one match group.
      const std::string side = swapped ? "left" : "right";
      std::string d1 = LabelsString(rs.metric);
      std::string d2 = LabelsString(enh->right_sigs[ord].metric);
      if (!q->v2 && d1 > d2) std::swap(d1, d2);
      return Status::InvalidArgument(
          "found duplicate series for the match group " + MatchedLabelsString(rs.metric, m) +
          " on the " + side + " hand-side of the operation: [" + d1 + ", " + d2 +
          "];many-to-many matching not allowed: matching labels must be unique on one side");
    }
    enh->right_sigs[ord] = rs;
    enh->sigs_present[ord] = 1;
  }
  const bool one_to_one = m.card == Cardinality::kOneToOne;
  if (one_to_one) enh->matched_sigs_present.assign(n, 0);
  IndexMap inserted(one_to_one ? 0 : lhs->size());

  for (std::size_t i = 0; i < lhs->size(); ++i) {
    const int ord = (*lsig)[i];
    if (!enh->sigs_present[static_cast<std::size_t>(ord)]) continue;
    const ESample& ls = (*lhs)[i];
    const ESample& rs = enh->right_sigs[static_cast<std::size_t>(ord)];
    double fl = ls.f;
    double fr = rs.f;
    if (swapped) std::swap(fl, fr);
    bool keep;
    double value = VectorElemBinop(b.op, fl, fr, &keep);
    if (b.return_bool) value = keep ? 1 : 0;

    if (q->v2 && !keep && !b.return_bool) continue;  // 2.x filters before the checks
    const bool drop_name = !q->v2 && !q->delayed && b.return_bool;
    LabelsRef metric = ResultMetric(q, ls.metric, rs.metric, b.op, m, drop_name, enh);
    if (q->v2 && b.return_bool) metric = q->DropName(metric);

    if (one_to_one) {
      if (enh->matched_sigs_present[static_cast<std::size_t>(ord)]) {
        return Status::InvalidArgument(
            "multiple matches for labels: many-to-one matching must be explicit "
            "(group_left/group_right)");
      }
      enh->matched_sigs_present[static_cast<std::size_t>(ord)] = 1;
    } else if (!inserted.Insert(HashLabels(metric) ^
                                (static_cast<std::uint64_t>(ord) * 0x9e3779b97f4a7c15ull))) {
      return Status::InvalidArgument(
          "multiple matches for labels: grouping labels must ensure unique matches");
    }
    if (!keep && !b.return_bool) continue;
    ESample o;
    o.metric = metric;
    o.f = value;
    o.t = enh->ts;
    o.drop_name = !q->v2 && b.return_bool;
    out->push_back(o);
  }
  return Status::Ok();
}

Status Ev::EvalBinary(const BinaryExpr& b, EMatrix* out) {
  const ValueType lt = b.lhs->type();
  const ValueType rt = b.rhs->type();
  const Expr* args[2] = {b.lhs.get(), b.rhs.get()};
  auto scalar_at = [](const EVector& v) { return v.empty() ? kNaN : v[0].f; };

  if (lt == ValueType::kScalar && rt == ValueType::kScalar) {
    return RangeEval(
        args, nullptr,
        [&](std::span<EVector> v, std::span<SigVec>, NodeHelper* enh, EVector* res) {
          res->push_back(ESample{q_->Empty(), ScalarBinop(b.op, scalar_at(v[0]), scalar_at(v[1])),
                                 enh->ts, false});
          return Status::Ok();
        },
        out);
  }
  if (lt == ValueType::kVector && rt == ValueType::kVector) {
    static const VectorMatching kDefaultOneToOne{};
    VectorMatching set_matching;
    set_matching.card = Cardinality::kManyToMany;
    const VectorMatching* m = b.matching ? &*b.matching : nullptr;
    if (m == nullptr) m = IsSetOperator(b.op) ? &set_matching : &kDefaultOneToOne;
    if (IsSetOperator(b.op)) {
      return RangeEval(
          args, m,
          [&](std::span<EVector> v, std::span<SigVec> sigs, NodeHelper* enh, EVector* res) {
            EvalSetOp(b.op, v[0], v[1], sigs[0], sigs[1], enh, res);
            return Status::Ok();
          },
          out);
    }
    return RangeEval(
        args, m,
        [&](std::span<EVector> v, std::span<SigVec> sigs, NodeHelper* enh, EVector* res) {
          return EvalVectorBinop(this, b, *m, v, sigs, enh, res);
        },
        out);
  }
  const bool swap = lt == ValueType::kScalar;
  return RangeEval(
      args, nullptr,
      [&](std::span<EVector> v, std::span<SigVec>, NodeHelper*, EVector* res) {
        const EVector& vec = swap ? v[1] : v[0];
        const double scalar = scalar_at(swap ? v[0] : v[1]);
        EvalVectorScalarBinop(q_, b.op, vec, scalar, swap, b.return_bool, res);
        return Status::Ok();
      },
      out);
}

}  // namespace nimify::promql::eval_internal
