// Fuzz entry for the series notation of promqltest `load` blocks and promtool
// `input_series` (`metric{l="v"} 1+2x3 _ stale`), Go's number and string
// literals, and whole `load` blocks into a memory storage.
// Invariants: no crash; a line accepted alone is accepted, with the same
// values, when parsed with a position; errors carry a position.
#include <bit>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_check.h"
#include "promqltest/memory_storage.h"
#include "promqltest/script.h"
#include "promqltest/series_notation.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace nimify;
  const std::string_view input = fuzz::AsText(data, size);
  const std::string_view first_line = input.substr(0, input.find('\n'));

  auto line = promqltest::ParseSeriesLine(first_line);
  auto located = promqltest::ParseSeriesLineAt(first_line, "fuzz", 3);
  FUZZ_CHECK(line.ok() == located.ok(), input);
  if (line.ok()) {
    FUZZ_CHECK(line->metric == located->metric, input);
    const auto& values = line->values;
    const auto& located_values = located->values;
    FUZZ_CHECK(values.size() == located_values.size(), input);
    // A short line expands to millions of values (`0x9999999`); comparing
    // each under the sanitizers takes seconds, so long series are compared
    // at their ends only (both parses run the same expansion code).
    constexpr std::size_t kCompareAll = 1 << 16;
    const auto same_at = [&](std::size_t i) {
      const auto& a = values[i];
      const auto& b = located_values[i];
      FUZZ_CHECK(a.has_value() == b.has_value(), input);
      if (a) FUZZ_CHECK(std::bit_cast<std::uint64_t>(*a) == std::bit_cast<std::uint64_t>(*b), input);
    };
    if (values.size() <= kCompareAll) {
      for (std::size_t i = 0; i < values.size(); ++i) same_at(i);
    } else {
      for (std::size_t i = 0; i < kCompareAll / 2; ++i) same_at(i);
      for (std::size_t i = values.size() - kCompareAll / 2; i < values.size(); ++i) same_at(i);
    }
  } else {
    FUZZ_CHECK(std::string_view(located.status().message()).starts_with("fuzz:3:"), input);
  }
  (void)promqltest::ParseSeriesValues(first_line);
  std::size_t rest = 0;
  if (promqltest::ParseSeriesMetric(first_line, &rest).ok()) FUZZ_CHECK(rest <= first_line.size(), input);
  (void)promqltest::ParseGoNumber(first_line);
  (void)promqltest::UnquoteGoString(first_line);

  promqltest::MemoryStorage storage;
  const Status loaded = promqltest::LoadSeriesText(input, "fuzz.test", &storage);
  if (!loaded.ok()) FUZZ_CHECK(std::string_view(loaded.message()).starts_with("fuzz.test:"), input);
  return 0;
}
