// Fuzz entry for the JSON-lines decoder.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/ingest_fuzz_checks.h"
#include "ingest/json_lines.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  nimify::ingest::Limits limits;
  limits.max_labels_per_series = 16;
  limits.max_samples = 4096;
  nimify::ingest::Batch batch;
  nimify::ingest::fuzz::Prefill(&batch);
  const nimify::Status status = nimify::ingest::DecodeJsonLines(input, limits, &batch);
  nimify::ingest::fuzz::CheckOutcome(status, batch, /*require_samples=*/true);
  return 0;
}

std::vector<std::string> IngestFuzzSeeds() {
  return {
      R"({"labels": {"__name__": "up", "job": "api"}, "samples": [[1700000000000, 1], [1700000015000, "NaN"]]})"
      "\n"
      R"({"samples": [[-5, "+Inf"], [7, 1.5e3]], "labels": {"__name__": "x", "a": "caf\u00e9"}})",
      R"({"labels": {"__name__": "m", "empty": ""}, "samples": []})"
      "\r\n\n"
      R"({"labels": {"__name__": "n"}, "samples": [[9223372036854775807, -0.0]]})",
  };
}
