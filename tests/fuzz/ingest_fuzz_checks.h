// Invariants every ingest decoder must keep, checked by the fuzz entries.
// A violation prints what broke and aborts, which libFuzzer and ctest both
// report as a failure.
#ifndef NIMIFY_TESTS_FUZZ_INGEST_FUZZ_CHECKS_H_
#define NIMIFY_TESTS_FUZZ_INGEST_FUZZ_CHECKS_H_

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "ingest/batch.h"
#include "nimify/status.h"
#include "promql/labels.h"

#define INGEST_FUZZ_CHECK(cond)                                                              \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)

namespace nimify::ingest::fuzz {

// The batch every entry decodes into: one series already there.
inline void Prefill(Batch* batch) {
  const promql::Point p[] = {{1, 2}};
  batch->AddSeries(promql::Labels{{"__name__", "prefilled"}, {"a", "b"}}, p);
}

// Checks the outcome of one decode call into a prefilled batch.
inline void CheckOutcome(const Status& status, const Batch& batch, bool require_samples) {
  Batch prefilled;
  Prefill(&prefilled);
  if (!status.ok()) {
    INGEST_FUZZ_CHECK(batch == prefilled);  // all-or-nothing
    INGEST_FUZZ_CHECK(!status.message().empty());
    return;
  }
  INGEST_FUZZ_CHECK(batch.series_count() >= 1);
  INGEST_FUZZ_CHECK(batch.series(0).MetricName() == "prefilled");
  for (std::size_t i = 1; i < batch.series_count(); ++i) {
    const BatchSeries s = batch.series(i);
    if (require_samples) INGEST_FUZZ_CHECK(!s.samples.empty());
    INGEST_FUZZ_CHECK(promql::IsValidMetricName(s.MetricName()));
    for (std::size_t k = 0; k < s.labels.size(); ++k) {
      INGEST_FUZZ_CHECK(promql::IsValidLabelName(s.labels[k].name));
      INGEST_FUZZ_CHECK(!s.labels[k].value.empty());
      if (k > 0) INGEST_FUZZ_CHECK(s.labels[k - 1].name < s.labels[k].name);
    }
    // The PromQL form holds the same set.
    INGEST_FUZZ_CHECK(s.ToLabels().size() == s.labels.size());
  }
}

}  // namespace nimify::ingest::fuzz

#endif  // NIMIFY_TESTS_FUZZ_INGEST_FUZZ_CHECKS_H_
