// Inputs of `nimify replay`: a recorded stream of samples, read whole from one
// of three formats and handed back as series with timestamped points.
//
//   ReplayInputOptions options;
//   NIMIFY_ASSIGN_OR_RETURN(ReplayInput in, LoadReplayInput("incident.series", options));
//
// Formats, told apart by content (the extension only breaks ties):
// - a promtool rule unit-test file (YAML with `tests:`): the `input_series`
//   of one test group on its `interval` grid, starting at time 0;
// - a promqltest `load <step>` script (examples/incident.series), starting at 0;
// - a remote-write recording as `nimify bench --record` writes it: frames of
//   [u32 little-endian length][snappy-compressed WriteRequest].
#ifndef NIMIFY_CLI_REPLAY_INPUT_H_
#define NIMIFY_CLI_REPLAY_INPUT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "nimify/sample.h"
#include "nimify/status.h"

namespace nimify::cli {

struct ReplayPoint {
  std::int64_t t_ms = 0;
  double value = 0;  // may be Prometheus's stale marker
};

struct ReplaySeries {
  OwnedLabels labels;               // sorted by name, __name__ included
  std::vector<ReplayPoint> points;  // increasing time
};

enum class ReplayFormat : std::uint8_t { kPromtoolTest, kLoadScript, kRemoteWrite };
std::string_view ReplayFormatName(ReplayFormat format) noexcept;

struct ReplayInput {
  ReplayFormat format = ReplayFormat::kLoadScript;
  std::vector<ReplaySeries> series;
  std::int64_t first_ms = 0;  // oldest sample (0 when there is none)
  std::int64_t last_ms = 0;   // newest sample
  // A promtool file's `evaluation_interval`; 0 when the input has none.
  std::int64_t evaluation_interval_ms = 0;
  std::string test_group_name;  // promtool: the chosen group's `name`
};

struct ReplayInputOptions {
  std::size_t test_group = 0;  // promtool: index of the test group to replay
};

// Errors read "file:line:col: message" where a position is known, else
// "file: message" (kInvalidArgument / kParseError / kNotFound).
Result<ReplayInput> LoadReplayInput(const std::string& path, const ReplayInputOptions& options);

// The same from text already read (`origin` names it in messages).
Result<ReplayInput> ParseReplayInput(std::string_view content, std::string_view origin,
                                     const ReplayInputOptions& options);

}  // namespace nimify::cli

#endif  // NIMIFY_CLI_REPLAY_INPUT_H_
