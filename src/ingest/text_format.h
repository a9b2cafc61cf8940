// The Prometheus text exposition format 0.0.4 and OpenMetrics 1.0 text, read
// as Prometheus's scrape reads them (model/textparse promparse/openmetricsparse).
//
//   ingest::TextOptions opts;
//   opts.format = ingest::TextFormatFromContentType(content_type);
//   opts.default_timestamp_ms = now_ms;
//   NIMIFY_RETURN_IF_ERROR(ingest::DecodeText(body, opts, ingest::Limits(), &batch));
//
// Both formats: `# HELP`/`# TYPE` lines (checked, then ignored), series lines
// `name{label="value",...} value [timestamp]`, label value escapes \\ \" \n
// (any other backslash pair is kept as written, as Prometheus does), values as
// Go's ParseFloat reads them without hex or '_' (NaN, +Inf, -Inf, 1e3, ...), a
// quoted metric name inside the braces (`{"name",a="b"}`). A sample without a
// timestamp gets TextOptions::default_timestamp_ms. NaN samples are stored as
// Prometheus's normal NaN (not the staleness marker).
// Metric and label names must be Prometheus's legacy names (Limits and the
// other label checks are those of remote_write.h).
//
// 0.0.4: timestamps are integer milliseconds; blanks and tabs may separate any
// tokens; any other `#` line is a comment; blank lines are skipped.
// OpenMetrics 1.0: single spaces only; timestamps are seconds with an optional
// fraction (ms = trunc(seconds * 1000), as Prometheus computes it); `# UNIT`;
// exemplars (`... # {trace_id="x"} 1.0 123`) are checked and skipped; no blank
// lines or plain comments; the last line must be `# EOF`.
//
// A series repeated without an explicit timestamp is dropped and counted in
// BatchStats::duplicates_dropped, the way Prometheus's scrape drops it;
// TextOptions::reject_duplicate_series turns that into an error. With
// normalize_bucket_labels (Prometheus 3's behaviour) `le` values after a
// histogram TYPE and `quantile` values after a summary TYPE are rewritten in
// OpenMetrics float form ("1" -> "1.0").
#ifndef NIMIFY_INGEST_TEXT_FORMAT_H_
#define NIMIFY_INGEST_TEXT_FORMAT_H_

#include <cstdint>
#include <string_view>

#include "ingest/batch.h"
#include "nimify/status.h"

namespace nimify::ingest {

enum class TextFormat : std::uint8_t {
  kAuto,         // OpenMetrics if the last line is "# EOF", else 0.0.4
  kPrometheus,   // text/plain; version=0.0.4
  kOpenMetrics,  // application/openmetrics-text; version=1.0.0
};

// "application/openmetrics-text..." -> kOpenMetrics, "text/plain..." ->
// kPrometheus (media types compared case-insensitively), anything else kAuto.
TextFormat TextFormatFromContentType(std::string_view content_type) noexcept;

// What kAuto resolves to for `body`.
TextFormat DetectTextFormat(std::string_view body) noexcept;

struct TextOptions {
  TextFormat format = TextFormat::kAuto;
  std::int64_t default_timestamp_ms = 0;
  bool reject_duplicate_series = false;
  bool normalize_bucket_labels = true;
};

// Parses an exposition and appends one series per sample line to `out`.
// All-or-nothing: on error `out` is unchanged; the message reads
// "openmetrics: line 3:14: expected label value, got ..." (line:column, 1-based,
// column in bytes). Errors: kParseError (syntax), kInvalidArgument (bad labels,
// a duplicate with reject_duplicate_series), kResourceExhausted (a limit).
Status DecodeText(std::string_view body, const TextOptions& options, const Limits& limits,
                  Batch* out);

}  // namespace nimify::ingest

#endif  // NIMIFY_INGEST_TEXT_FORMAT_H_
