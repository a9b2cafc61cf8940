// Fuzz entry for the PromQL parser. Built as a libFuzzer target with
// -fsanitize=fuzzer (define NIMIFY_LIBFUZZER), or, by default, with a small
// driver that replays seed files and a bounded number of deterministic
// mutations of them, so that it runs as an ordinary ctest.
//
// Properties checked on every input: nothing crashes; an accepted expression
// prints to text that parses again and prints identically (the printer's
// fixed point); errors are ParseError statuses with a "line:col: parse error:"
// prefix; the metric, selector and duration parsers never crash.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "promql/parser.h"

namespace {

void Check(bool condition, const char* what, std::string_view input) {
  if (condition) return;
  std::fprintf(stderr, "promql_parser_fuzz: %s\ninput (%zu bytes): %.*s\n", what, input.size(),
               static_cast<int>(input.size()), input.data());
  std::abort();
}

bool HasPosition(std::string_view message) {
  const auto colon = message.find(": parse error: ");
  return colon != std::string_view::npos && colon > 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace nimify;
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  auto expr = promql::ParseExpr(input);
  if (expr.ok()) {
    Check(*expr != nullptr, "ParseExpr returned OK without a tree", input);
    const std::string printed = (*expr)->ToString();
    auto again = promql::ParseExpr(printed);
    Check(again.ok(), "printed expression does not parse", printed);
    Check((*again)->ToString() == printed, "printing is not a fixed point", input);
    Check((*again)->type() == (*expr)->type(), "type changed after printing", input);
  } else {
    Check(expr.status().code() == StatusCode::kParseError, "error is not a ParseError", input);
    Check(HasPosition(expr.status().message()), "error has no position", input);
  }

  auto metric = promql::ParseMetric(input);
  if (metric.ok()) {
    auto again = promql::ParseMetric(metric->ToString());
    Check(again.ok() && *again == *metric, "metric does not round-trip", input);
  }
  auto selector = promql::ParseMetricSelector(input);
  (void)selector;
  auto duration = promql::ParseDuration(input);
  if (duration.ok()) {
    auto again = promql::ParseDuration(promql::FormatDuration(*duration));
    Check(again.ok() && *again == *duration, "duration does not round-trip", input);
  }
  return 0;
}

#ifndef NIMIFY_LIBFUZZER

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

namespace {

// Fragments that steer mutations towards interesting PromQL.
constexpr std::string_view kDictionary[] = {
    "(",
    ")",
    "[5m]",
    "[5m:1m]",
    "[",
    "]",
    ":",
    "{",
    "}",
    "\"",
    "'",
    "`",
    "\\",
    ",",
    "=",
    "!=",
    "=~",
    "!~",
    "==",
    ">",
    "<=",
    "+",
    "-",
    "*",
    "/",
    "%",
    "^",
    " and ",
    " or ",
    " unless ",
    " atan2 ",
    " bool ",
    " on(",
    " ignoring(",
    " group_left",
    " group_right(",
    " by (",
    " without (",
    " offset ",
    " offset -",
    " @ ",
    "start()",
    "end()",
    "sum(",
    "topk(",
    "rate(",
    "count_values(",
    "label_replace(",
    "round(",
    "time()",
    "1e",
    "0x",
    "Inf",
    "NaN",
    "1h30m",
    "5m",
    "0.5",
    "__name__",
    "\\x",
    "\\u",
    "#",
    "\n",
    "99999999999999999999",
    "-",
    "((",
    "))",
    "foo",
    "a:b",
    "\xff",
    "\xc3\xa9",
    "\xef\xbf\xbd",
};

void AddSeedsFromText(const std::string& text, std::vector<std::string>* seeds) {
  seeds->push_back(text);
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    const auto first = line.find_first_not_of(" \t-");
    if (first == std::string::npos) continue;
    line = line.substr(first);
    // Rule files: the text after "expr:"; promqltest: the text after the eval time.
    if (line.rfind("expr:", 0) == 0) line = line.substr(5);
    if (line.rfind("eval", 0) == 0) {
      const auto at = line.find(" at ");
      if (at != std::string::npos) {
        const auto expr = line.find(' ', at + 4);
        if (expr != std::string::npos) line = line.substr(expr + 1);
      }
    }
    if (!line.empty() && line.size() < 4096) seeds->push_back(line);
  }
}

std::string Mutate(const std::vector<std::string>& seeds, std::mt19937_64& rng) {
  auto pick = [&](std::size_t n) {
    return static_cast<std::size_t>(rng() % std::max<std::size_t>(n, 1));
  };
  std::string s = seeds[pick(seeds.size())];
  const int rounds = 1 + static_cast<int>(pick(4));
  for (int i = 0; i < rounds; ++i) {
    const std::size_t pos = pick(s.size() + 1);
    switch (pick(6)) {
      case 0:  // flip a byte
        if (!s.empty()) s[pick(s.size())] = static_cast<char>(rng());
        break;
      case 1:  // insert a dictionary fragment
        s.insert(pos, kDictionary[pick(std::size(kDictionary))]);
        break;
      case 2:  // delete a range
        if (!s.empty()) s.erase(pos, 1 + pick(8));
        break;
      case 3: {  // duplicate a range
        if (s.empty()) break;
        const std::size_t from = pick(s.size());
        const std::string piece = s.substr(from, 1 + pick(16));
        s.insert(pos, piece);
        break;
      }
      case 4: {  // splice with another seed
        const std::string& other = seeds[pick(seeds.size())];
        const std::size_t from = pick(other.size() + 1);
        s = s.substr(0, pos) + other.substr(from);
        break;
      }
      default:  // insert a printable byte
        s.insert(pos, 1, static_cast<char>(' ' + pick(95)));
        break;
    }
    if (s.size() > 8192) s.resize(8192);
  }
  return s;
}

}  // namespace

// Usage: promql_parser_fuzz [--mutations=N] [--seed=S] <seed file or directory>...
int main(int argc, char** argv) {
  long mutations = 20000;
  std::uint64_t seed = 1;
  std::vector<std::string> seeds = {"",
                                    "sum by (job) (rate(http_requests_total{code=~\"5..\"}[5m]))",
                                    "a + on(b) group_left(c) d offset -5m @ start()",
                                    "foo[5m:1m] @ 100", "{\"metric.name\", \"l.x\"=\"v\"}"};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--mutations=", 0) == 0) {
      mutations = std::strtol(arg.c_str() + 12, nullptr, 10);
      continue;
    }
    if (arg.rfind("--seed=", 0) == 0) {
      seed = std::strtoull(arg.c_str() + 7, nullptr, 10);
      continue;
    }
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    if (std::filesystem::is_directory(arg, ec)) {
      for (const auto& entry : std::filesystem::recursive_directory_iterator(arg, ec)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
    } else {
      files.emplace_back(arg);
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      std::ifstream in(file, std::ios::binary);
      if (!in) {
        std::fprintf(stderr, "cannot read %s\n", file.c_str());
        return 2;
      }
      AddSeedsFromText(std::string(std::istreambuf_iterator<char>(in), {}), &seeds);
    }
  }
  for (const auto& s : seeds) {
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  }
  std::mt19937_64 rng(seed);
  for (long i = 0; i < mutations; ++i) {
    const std::string s = Mutate(seeds, rng);
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  }
  std::printf("promql_parser_fuzz: %zu seeds and %ld mutations, no failures\n", seeds.size(),
              mutations);
  return 0;
}

#endif  // NIMIFY_LIBFUZZER
