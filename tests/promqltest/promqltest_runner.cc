// promqltest_runner: runs Prometheus promqltest `.test` files against nimify.
//
//   promqltest_runner --compat=3 [--verbose] [--summary-markdown] [--max-skips=N] FILE...
//
// Prints, per file, the evals that passed, failed and were skipped (with the
// skip reasons) and every failure. Exit code 0 when no eval failed and no
// script error occurred, 1 otherwise, 2 for usage or I/O errors.
// --max-skips=N fails a file that skips more than N evals: the ctests pass the
// count recorded in tests/promqltest/expected_skips.txt, so a parser regression
// on a line that also holds newer syntax cannot turn into a silent skip.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "promqltest/script.h"

namespace {

using nimify::promqltest::EvalStatus;
using nimify::promqltest::ScriptResult;

void PrintUsage() {
  std::fprintf(stderr,
               "usage: promqltest_runner [--compat=2|3] [--verbose] [--summary-markdown] FILE...\n"
               "  --compat=2          Prometheus 2.42 semantics and checks\n"
               "  --compat=3          Prometheus 3.x semantics and checks (default)\n"
               "  --verbose           also list every skipped eval\n"
               "  --summary-markdown  print one markdown table row per file at the end\n"
               "  --max-skips=N       fail a file that skips more than N evals\n");
}

std::string SkipSummary(const ScriptResult& r) {
  std::string out;
  for (const auto& [reason, n] : r.SkipReasons()) {
    if (!out.empty()) out += "; ";
    out += reason + ": " + std::to_string(n);
  }
  return out.empty() ? "-" : out;
}

void PrintResult(const ScriptResult& r, const std::string& name, bool verbose) {
  std::printf("%s: %zu evals: %d passed, %d failed, %d skipped\n", name.c_str(), r.evals.size(),
              r.Count(EvalStatus::kPassed), r.Count(EvalStatus::kFailed),
              r.Count(EvalStatus::kSkipped));
  for (const auto& [reason, n] : r.SkipReasons()) {
    std::printf("  skipped %4d: %s\n", n, reason.c_str());
  }
  for (const auto& e : r.errors) std::printf("  SCRIPT ERROR %s\n", e.c_str());
  for (const auto& e : r.evals) {
    if (e.status == EvalStatus::kFailed) {
      std::printf("  FAIL %s:%d: %s\n       %s\n", name.c_str(), e.line, e.expr.c_str(),
                  e.message.c_str());
    } else if (verbose && e.status == EvalStatus::kSkipped) {
      std::printf("  skip %s:%d: %s [%s]\n", name.c_str(), e.line, e.expr.c_str(),
                  e.message.c_str());
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  nimify::promqltest::ScriptOptions options;
  bool verbose = false;
  bool markdown = false;
  int max_skips = -1;  // no limit
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--compat=2") {
      options.compat = nimify::promql::Compat::kPrometheus2;
    } else if (arg == "--compat=3") {
      options.compat = nimify::promql::Compat::kPrometheus3;
    } else if (arg == "--verbose") {
      verbose = true;
    } else if (arg == "--summary-markdown") {
      markdown = true;
    } else if (arg.rfind("--max-skips=", 0) == 0) {
      char* end = nullptr;
      const char* digits = arg.c_str() + std::string_view("--max-skips=").size();
      const long n = std::strtol(digits, &end, 10);
      if (*digits == '\0' || *end != '\0' || n < 0) {
        std::fprintf(stderr, "promqltest_runner: bad %s\n", arg.c_str());
        return 2;
      }
      max_skips = static_cast<int>(n);
    } else if (arg == "-h" || arg == "--help") {
      PrintUsage();
      return 0;
    } else if (!arg.empty() && arg[0] == '-') {
      std::fprintf(stderr, "promqltest_runner: unknown flag %s\n", arg.c_str());
      PrintUsage();
      return 2;
    } else {
      files.push_back(arg);
    }
  }
  if (files.empty()) {
    PrintUsage();
    return 2;
  }
  bool all_ok = true;
  std::vector<std::string> rows;
  int total_evals = 0, total_passed = 0, total_failed = 0, total_skipped = 0;
  for (const auto& file : files) {
    auto result = nimify::promqltest::RunScriptFile(file, options);
    if (!result.ok()) {
      std::fprintf(stderr, "promqltest_runner: %s\n",
                   std::string(result.status().message()).c_str());
      return 2;
    }
    const std::string name = std::filesystem::path(file).filename().string();
    PrintResult(*result, name, verbose);
    all_ok = all_ok && result->ok();
    const int passed = result->Count(EvalStatus::kPassed);
    const int failed = result->Count(EvalStatus::kFailed);
    const int skipped = result->Count(EvalStatus::kSkipped);
    if (max_skips >= 0 && skipped > max_skips) {
      std::printf(
          "  FAIL %s: %d evals skipped, %d recorded in tests/promqltest/expected_skips.txt"
          " (run with --verbose to list them)\n",
          name.c_str(), skipped, max_skips);
      all_ok = false;
    } else if (max_skips >= 0 && skipped < max_skips) {
      std::printf(
          "  note: %s skips %d evals, fewer than the %d recorded; lower the record in "
          "tests/promqltest/expected_skips.txt\n",
          name.c_str(), skipped, max_skips);
    }
    total_evals += static_cast<int>(result->evals.size());
    total_passed += passed;
    total_failed += failed;
    total_skipped += skipped;
    rows.push_back("| " + name + " | " + std::to_string(result->evals.size()) + " | " +
                   std::to_string(passed) + " | " + std::to_string(failed) +
                   (result->errors.empty()
                        ? ""
                        : " (+" + std::to_string(result->errors.size()) + " script errors)") +
                   " | " + std::to_string(skipped) + " | " + SkipSummary(*result) + " |");
  }
  if (markdown) {
    std::printf("\n| file | evals | passed | failed | skipped | skipped by reason |\n");
    std::printf("|---|---|---|---|---|---|\n");
    for (const auto& row : rows) std::printf("%s\n", row.c_str());
    std::printf("| **total** | **%d** | **%d** | **%d** | **%d** | |\n", total_evals, total_passed,
                total_failed, total_skipped);
  }
  return all_ok ? 0 : 1;
}
