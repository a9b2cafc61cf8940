// Ev::RangeEval, a template shared by several files. Included from
// eval_internal.h only.
#ifndef NIMIFY_PROMQL_EVAL_RANGE_EVAL_IMPL_H_
#define NIMIFY_PROMQL_EVAL_RANGE_EVAL_IMPL_H_

#include <algorithm>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "promql/eval/scratch_alloc.h"

namespace nimify::promql::eval_internal {

inline constexpr std::string_view kDuplicateLabelsetError =
    "vector cannot contain metrics with the same labelset";

template <typename Fn>
Status Ev::RangeEval(std::span<const Expr* const> args, const VectorMatching* matching, Fn&& fn,
                     EMatrix* out) {
  out->clear();
  const std::size_t n = args.size();
  const std::int64_t original_samples = q_->current_samples;
  std::vector<EMatrix> mats(n);
  for (std::size_t i = 0; i < n; ++i) {
    // String arguments are read from the expression by the function itself.
    if (args[i] == nullptr || args[i]->type() == ValueType::kString) continue;
    NIMIFY_RETURN_IF_ERROR(Eval(*args[i], &mats[i]));
  }

  // On the heap: evaluation recurses once per AST level, so frames stay small.
  auto enh_owner = std::make_unique<NodeHelper>();
  NodeHelper& enh = *enh_owner;
  std::vector<SigVec> series_sigs;
  if (matching != nullptr) {
    std::vector<std::string> names = matching->matching_labels;
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    IndexMap sig_to_ordinal(mats[0].size() + (n > 1 ? mats[1].size() : 0));
    series_sigs.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      series_sigs[i].reserve(mats[i].size());
      const EMatrix& mat = mats[i];
      const auto labels_at = [&](std::size_t j) { return mat[j].metric.base; };
      for (std::size_t si = 0; si < mat.size(); ++si) {
        PrefetchLabelsAhead(si, mat.size(), labels_at);
        const ESeries& s = mat[si];
        const std::uint64_t h =
            matching->on ? HashForLabels(s.metric, names) : HashWithoutLabels(s.metric, names);
        auto [ordinal, inserted] =
            sig_to_ordinal.TryEmplace(h, static_cast<std::uint32_t>(enh.num_sigs));
        if (inserted) ++enh.num_sigs;
        series_sigs[i].push_back(static_cast<int>(ordinal));
      }
    }
  }

  std::vector<ScratchVec<std::uint32_t>> cursors(n);
  std::vector<EVector> vectors(n);
  std::vector<SigVec> sigs(n);
  std::size_t biggest = 1;
  for (std::size_t i = 0; i < n; ++i) {
    cursors[i].assign(mats[i].size(), 0);
    vectors[i].reserve(mats[i].size());
    biggest = std::max(biggest, mats[i].size());
  }
  EVector result;
  result.reserve(biggest);
  IndexMap out_index;
  ScratchVec<std::int64_t> out_last_ts;
  std::int64_t temp_samples = q_->current_samples;

  for (std::int64_t ts = start_; ts <= end_; ts += interval_) {
    q_->current_samples = temp_samples;
    for (std::size_t i = 0; i < n; ++i) {
      vectors[i].clear();
      sigs[i].clear();
      for (std::size_t si = 0; si < mats[i].size(); ++si) {
        const ESeries& s = mats[i][si];
        std::uint32_t& c = cursors[i][si];
        if (c < s.points.size() && s.points[c].t == ts) {
          vectors[i].push_back(ESample{s.metric, s.points[c].v, ts, s.drop_name});
          if (matching != nullptr) sigs[i].push_back(series_sigs[i][si]);
          ++c;
        }
      }
      q_->current_samples += static_cast<std::int64_t>(vectors[i].size());
      NIMIFY_RETURN_IF_ERROR(q_->CheckSamples());
    }

    enh.ts = ts;
    result.clear();
    NIMIFY_RETURN_IF_ERROR(fn(std::span<EVector>(vectors), std::span<SigVec>(sigs), &enh, &result));
    q_->current_samples += static_cast<std::int64_t>(result.size());
    temp_samples += static_cast<std::int64_t>(result.size());
    NIMIFY_RETURN_IF_ERROR(q_->CheckSamples());

    if (instant()) {
      if ((q_->v2 || !q_->delayed) && ContainsSameLabelset(result)) {
        return Status::InvalidArgument(std::string(kDuplicateLabelsetError));
      }
      out->clear();
      out->reserve(result.size());
      for (const ESample& s : result) {
        ESeries series;
        series.metric = s.metric;
        series.drop_name = s.drop_name;
        series.points.push_back(Point{ts, s.f});
        out->push_back(std::move(series));
      }
      q_->current_samples = original_samples + static_cast<std::int64_t>(out->size());
      return Status::Ok();
    }

    if (q_->v2 && ContainsSameLabelset(result)) {
      return Status::InvalidArgument(std::string(kDuplicateLabelsetError));
    }
    for (const ESample& s : result) {
      const std::uint64_t h = HashLabels(s.metric);
      auto [idx, inserted] = out_index.TryEmplace(h, static_cast<std::uint32_t>(out->size()));
      if (inserted) {
        ESeries series;
        series.metric = s.metric;
        series.drop_name = s.drop_name;
        series.points.reserve(PointsToReserve());
        out->push_back(std::move(series));
        out_last_ts.push_back(ts);
      } else {
        if (out_last_ts[idx] == ts) {
          return Status::InvalidArgument(std::string(kDuplicateLabelsetError));
        }
        out_last_ts[idx] = ts;
      }
      (*out)[idx].points.push_back(Point{ts, s.f});
    }
  }

  std::int64_t total = 0;
  for (const ESeries& s : *out) total += static_cast<std::int64_t>(s.points.size());
  q_->current_samples = original_samples + total;
  return Status::Ok();
}

}  // namespace nimify::promql::eval_internal

#endif  // NIMIFY_PROMQL_EVAL_RANGE_EVAL_IMPL_H_
