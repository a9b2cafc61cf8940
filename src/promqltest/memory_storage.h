// An in-memory Queryable for tests, `nimify query` and `nimify test rules`.
#ifndef NIMIFY_PROMQLTEST_MEMORY_STORAGE_H_
#define NIMIFY_PROMQLTEST_MEMORY_STORAGE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "nimify/status.h"
#include "promql/labels.h"
#include "promql/storage.h"
#include "promql/value.h"

namespace nimify::promqltest {

// Thread safety: not thread-safe. Append and Clear must not run while a
// Querier from NewQuerier is alive (its spans point into the storage).
class MemoryStorage final : public promql::Queryable {
 public:
  MemoryStorage() = default;

  // Adds one sample. Samples of a series must arrive in increasing time order;
  // an equal timestamp replaces the value (as a later `load` does in
  // promqltest); an older one is kInvalidArgument ("out of order sample").
  Status Append(const promql::Labels& labels, std::int64_t t_ms, double value);

  // Drops every series.
  void Clear();

  std::size_t series_count() const noexcept { return series_.size(); }

  Result<std::unique_ptr<promql::Querier>> NewQuerier(std::int64_t mint,
                                                      std::int64_t maxt) override;

  // Every series, in label order (for dumps and tests). Queries see them in
  // creation order instead, as Prometheus's TSDB head returns them to the
  // engine: aggregations then add floats in the same order as promtool.
  std::vector<const promql::Series*> AllSeries() const;

 private:
  // Index into series_ of the series with exactly `labels`, or -1.
  std::ptrdiff_t Find(const promql::Labels& labels, std::uint64_t hash) const;

  std::vector<promql::Series> series_;  // in creation order
  std::unordered_map<std::uint64_t, std::vector<std::size_t>> by_hash_;
  // Indexes into series_ by metric name, in creation order.
  std::unordered_map<std::string, std::vector<std::size_t>> by_name_;
};

}  // namespace nimify::promqltest

#endif  // NIMIFY_PROMQLTEST_MEMORY_STORAGE_H_
