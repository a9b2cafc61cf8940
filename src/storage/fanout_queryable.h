// A Queryable over several shards at one consistent instant: selects from
// every shard, hides samples newer than the instant, and decodes each series
// at most once however many queries run against it.
//
//   FanoutQueryable view(shards, /*max_visible_t=*/cut_t);
//   promql::Evaluator eval(&view, options);
//   eval.Instant(*expr, cut_t);
#ifndef NIMIFY_STORAGE_FANOUT_QUERYABLE_H_
#define NIMIFY_STORAGE_FANOUT_QUERYABLE_H_

#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <vector>

#include "nimify/status.h"
#include "promql/storage.h"
#include "storage/shard.h"

namespace nimify::storage {

// The order of the series a Select returns.
enum class SeriesOrder : std::uint8_t {
  // Shard by shard, each in the order it first saw the series. Cheapest; the
  // order (so the last bits of float aggregations, and which duplicate a
  // many-to-many error names) can depend on how producers interleaved.
  kArrival,
  // Sorted by labels, as MemoryStorage returns them: deterministic whatever
  // the thread timing, at the cost of a sort per Select.
  kByLabels,
};

// Thread safety: not thread-safe; one thread queries a view at a time, and no
// shard may change while the view exists (the pipeline creates one per cut
// while it holds every shard worker).
class FanoutQueryable final : public promql::Queryable {
 public:
  // The shards must outlive the view. Samples with t > max_visible_t are hidden.
  explicit FanoutQueryable(std::span<Shard* const> shards,
                           std::int64_t max_visible_t = std::numeric_limits<std::int64_t>::max(),
                           SeriesOrder order = SeriesOrder::kArrival);

  Result<std::unique_ptr<promql::Querier>> NewQuerier(std::int64_t mint,
                                                      std::int64_t maxt) override;

  // Series views stay valid until the view is destroyed (longer than the
  // Querier contract requires).
  Status Select(std::span<const promql::LabelMatcher> matchers, std::int64_t mint,
                std::int64_t maxt, std::vector<promql::SeriesView>* out,
                ReadExtent extent = ReadExtent::kWindow);

  std::int64_t max_visible_t() const noexcept { return max_visible_t_; }

 private:
  std::vector<Shard*> shards_;
  std::int64_t max_visible_t_;
  SeriesOrder order_;
  std::vector<ShardReadCache> caches_;
};

}  // namespace nimify::storage

#endif  // NIMIFY_STORAGE_FANOUT_QUERYABLE_H_
