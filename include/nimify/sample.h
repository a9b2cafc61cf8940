// Samples as producers hand them to nimify: a series reference (resolved once
// from a label set) plus a timestamp and a value.
//
//   const nimify::Label labels[] = {{"__name__", "up"}, {"job", "api"}};
//   NIMIFY_ASSIGN_OR_RETURN(nimify::SeriesRef up, producer->Resolve(labels));
//   NIMIFY_RETURN_IF_ERROR(producer->Append(up, /*timestamp_ms=*/1'700'000'000'000, 1.0));
#ifndef NIMIFY_SAMPLE_H_
#define NIMIFY_SAMPLE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nimify {

// A label by reference, for Resolve(). The views must stay valid only for the call.
struct Label {
  std::string_view name;
  std::string_view value;
};

// A label that owns its text (alert labels and annotations, rule labels).
struct OwnedLabel {
  std::string name;
  std::string value;
  friend bool operator==(const OwnedLabel&, const OwnedLabel&) = default;
};
// Sorted by name, names unique.
using OwnedLabels = std::vector<OwnedLabel>;

// An opaque handle to one series, valid for the Engine that resolved it. A
// series that gets no sample for longer than the engine's retention goes idle
// (queries no longer see it); its ref stays valid and its next sample revives
// it. After about an hour of event time idle the series is freed, and samples
// sent to the old ref are counted as unknown: resolve the labels again after
// pauses that long. Never 0.
using SeriesRef = std::uint64_t;

// One sample of a batch.
struct Sample {
  SeriesRef series = 0;
  std::int64_t timestamp_ms = 0;  // Unix milliseconds
  double value = 0;
};

}  // namespace nimify

#endif  // NIMIFY_SAMPLE_H_
