// Checks every decoder applies to the series it builds (internal to ingest).
#ifndef NIMIFY_INGEST_SERIES_CHECKS_H_
#define NIMIFY_INGEST_SERIES_CHECKS_H_

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "common/utf8.h"
#include "ingest/batch.h"
#include "nimify/status.h"

namespace nimify::ingest::internal {

// Bit 1: may start a label name; bit 2: may continue one; bits 4/8: the same
// for metric names (which also allow ':').
inline constexpr std::array<std::uint8_t, 256> kNameChars = [] {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    std::uint8_t bits = 0;
    if (alpha) bits |= 1 | 2 | 4 | 8;
    if (digit) bits |= 2 | 8;
    if (c == ':') bits |= 4 | 8;
    t[static_cast<std::size_t>(c)] = bits;
  }
  return t;
}();

inline bool MatchesNameChars(std::string_view s, std::uint8_t first, std::uint8_t rest) noexcept {
  if (s.empty() || !(kNameChars[static_cast<unsigned char>(s[0])] & first)) return false;
  for (std::size_t i = 1; i < s.size(); ++i) {
    if (!(kNameChars[static_cast<unsigned char>(s[i])] & rest)) return false;
  }
  return true;
}

// [a-zA-Z_][a-zA-Z0-9_]*
inline bool IsLabelName(std::string_view s) noexcept { return MatchesNameChars(s, 1, 2); }
// [a-zA-Z_:][a-zA-Z0-9_:]*
inline bool IsMetricName(std::string_view s) noexcept { return MatchesNameChars(s, 4, 8); }

// Go's utf8.ValidString, with an ASCII fast path (common/utf8.h).
using ::nimify::internal::IsValidUtf8;

// The checks of CheckLabel as one fast yes/no; call CheckLabel for the reason.
inline bool LabelIsValid(std::string_view name, std::string_view value,
                         const Limits& limits) noexcept {
  return name.size() <= limits.max_label_name_bytes && IsLabelName(name) &&
         value.size() <= limits.max_label_value_bytes && IsValidUtf8(value) &&
         (name != promql::kMetricNameLabel || value.empty() || IsMetricName(value));
}

// One label: name syntax and length, value length and UTF-8, and a valid
// metric name when the label is __name__. The message names the label.
Status CheckLabel(std::string_view name, std::string_view value, const Limits& limits);

// True when the series in progress already has Limits::max_labels_per_series
// labels, so one more is over the limit; LabelCountError() says so.
inline bool LabelsFull(BatchBuilder& builder, const Limits& limits) noexcept {
  return builder.pending_labels().size() >= limits.max_labels_per_series;
}
Status LabelCountError(const Limits& limits);

// The label set of the series in progress: sorts it by name, rejects duplicate
// names, drops labels with empty values (an empty value means "absent", as in
// PromQL), then checks the metric name requirement.
Status FinishLabels(BatchBuilder& builder, const Limits& limits);

// `"text"` with Go %q-style escapes, cut to about 64 bytes, for error messages.
std::string Quote(std::string_view text);

}  // namespace nimify::ingest::internal

#endif  // NIMIFY_INGEST_SERIES_CHECKS_H_
