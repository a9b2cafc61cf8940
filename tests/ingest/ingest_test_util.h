// Helpers shared by the ingest tests.
#ifndef NIMIFY_TESTS_INGEST_INGEST_TEST_UTIL_H_
#define NIMIFY_TESTS_INGEST_INGEST_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "ingest/batch.h"
#include "nimify/status.h"
#include "promql/labels.h"

namespace nimify::ingest::testing {

// A batch that already holds one series, so that a decoder's append and
// rollback are both visible.
inline void AddExistingSeries(Batch* batch) {
  const promql::Point points[] = {{1000, 1.5}, {2000, 2.5}};
  batch->AddSeries(promql::Labels{{"__name__", "existing"}, {"job", "pre"}}, points);
}

// Runs `decode(Batch*)` on a non-empty batch. On failure, checks that the
// batch is exactly as before. Returns the status and (on success) the series
// the call added, as "labels => t:v t:v" strings.
template <typename Decode>
std::pair<Status, std::vector<std::string>> DecodeChecked(Decode&& decode) {
  Batch batch;
  AddExistingSeries(&batch);
  Batch before;
  AddExistingSeries(&before);
  Status status = decode(&batch);
  std::vector<std::string> added;
  if (!status.ok()) {
    EXPECT_TRUE(batch == before) << "batch changed by a failed decode: " << status.ToString();
    return {status, added};
  }
  for (std::size_t i = 1; i < batch.series_count(); ++i) {
    const BatchSeries s = batch.series(i);
    std::string line = s.ToLabels().ToString() + " =>";
    for (const promql::Point& p : s.samples) {
      char value[64];
      std::snprintf(value, sizeof(value), "%.17g", p.v);
      line += " " + std::to_string(p.t) + ":" + value;
    }
    added.push_back(std::move(line));
  }
  return {status, added};
}

}  // namespace nimify::ingest::testing

#endif  // NIMIFY_TESTS_INGEST_INGEST_TEST_UTIL_H_
