#include "storage/fanout_queryable.h"

#include <algorithm>

namespace nimify::storage {
namespace {

class FanoutQuerier final : public promql::Querier {
 public:
  explicit FanoutQuerier(FanoutQueryable* view) : view_(view) {}
  Status Select(std::span<const promql::LabelMatcher> matchers, std::int64_t mint,
                std::int64_t maxt, std::vector<promql::SeriesView>* out) override {
    return view_->Select(matchers, mint, maxt, out);
  }
  Status SelectNewest(std::span<const promql::LabelMatcher> matchers, std::int64_t mint,
                      std::int64_t maxt, std::vector<promql::SeriesView>* out) override {
    return view_->Select(matchers, mint, maxt, out, ReadExtent::kNewest);
  }

 private:
  FanoutQueryable* view_;
};

}  // namespace

FanoutQueryable::FanoutQueryable(std::span<Shard* const> shards, std::int64_t max_visible_t,
                                 SeriesOrder order)
    : shards_(shards.begin(), shards.end()),
      max_visible_t_(max_visible_t),
      order_(order),
      caches_(shards.size()) {}

Result<std::unique_ptr<promql::Querier>> FanoutQueryable::NewQuerier(std::int64_t /*mint*/,
                                                                     std::int64_t /*maxt*/) {
  return std::unique_ptr<promql::Querier>(new FanoutQuerier(this));
}

Status FanoutQueryable::Select(std::span<const promql::LabelMatcher> matchers, std::int64_t mint,
                               std::int64_t maxt, std::vector<promql::SeriesView>* out,
                               ReadExtent extent) {
  maxt = std::min(maxt, max_visible_t_);
  const std::size_t first = out->size();
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    NIMIFY_RETURN_IF_ERROR(shards_[i]->Select(matchers, mint, maxt, &caches_[i], out, extent));
  }
  if (order_ == SeriesOrder::kByLabels) {
    std::sort(out->begin() + static_cast<std::ptrdiff_t>(first), out->end(),
              [](const promql::SeriesView& a, const promql::SeriesView& b) {
                return *a.labels < *b.labels;
              });
  }
  return Status::Ok();
}

}  // namespace nimify::storage
