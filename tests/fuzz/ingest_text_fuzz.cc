// Fuzz entry for the text exposition decoders (0.0.4, OpenMetrics, auto).
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/ingest_fuzz_checks.h"
#include "ingest/text_format.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  using nimify::ingest::TextFormat;
  nimify::ingest::Limits limits;
  limits.max_labels_per_series = 16;
  for (TextFormat format : {TextFormat::kPrometheus, TextFormat::kOpenMetrics, TextFormat::kAuto}) {
    for (bool reject_duplicates : {false, true}) {
      nimify::ingest::TextOptions options;
      options.format = format;
      options.default_timestamp_ms = 77;
      options.reject_duplicate_series = reject_duplicates;
      nimify::ingest::Batch batch;
      nimify::ingest::fuzz::Prefill(&batch);
      const nimify::Status status = nimify::ingest::DecodeText(input, options, limits, &batch);
      nimify::ingest::fuzz::CheckOutcome(status, batch, /*require_samples=*/true);
      if (status.ok()) {
        for (std::size_t i = 1; i < batch.series_count(); ++i) {
          INGEST_FUZZ_CHECK(batch.series(i).samples.size() == 1);
        }
        if (reject_duplicates) INGEST_FUZZ_CHECK(batch.stats().duplicates_dropped == 0);
      }
    }
  }
  return 0;
}

std::vector<std::string> IngestFuzzSeeds() {
  return {
      "# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n"
      "http_requests_total{method=\"get\",code=\"200\"} 1027 1395066363000\n"
      "http_requests_total{ method = \"post\" , code=\"400\", } 3\n"
      "# a comment\n\nescaped{a=\"x\\\\y\\\"z\\n\"} NaN\n{\"quoted\",b=\"c\"} +Inf\n",
      "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n"
      "# TYPE s summary\ns{quantile=\"0.5\"} 1e-3\n",
      "# TYPE foo counter\n# UNIT foo_seconds seconds\n# HELP foo help\n"
      "foo_total 17.0 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67\n"
      "foo_total{a=\"b\"} 1 # {id=\"x\"} 5 1520879607.1\n# EOF\n",
      "a 1\na 2\na 3 100\n",
  };
}
