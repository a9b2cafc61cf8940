// alert_diff: differential test of nimify's alerting (rule groups, the alert
// lifecycle, templates, recording rules) against the real `promtool test
// rules` of Prometheus 2.42, through both tools' rule unit-test runners.
//
//   alert_diff --nimify=PATH [--seed=N] [--count=N] [--promtool=PATH]
//              [--workdir=DIR] [--timeout=SECONDS] [--only=N]
//
// From the seed it generates `count` cases (alert_generator.h): a rule file
// and a unit-test file whose checks expect nothing, so that both tools print
// every alert that fires (labels and expanded annotations) and every sample of
// the recorded series, ALERTS and ALERTS_FOR_STATE. Both run the same files
// (`promtool test rules`, `nimify test rules --promql-compat=2 --exact`); their
// reports are parsed (alert_report.h) and compared check by check. Numbers in
// values, labels and annotations may differ by a relative 1e-9 (summation
// order); everything else must be equal.
//
// Without --seed the seed comes from NIMIFY_ALERT_DIFF_SEED, else from the
// clock; it is printed first, so that any run can be replayed.
//
// Exit codes: 0 all agree, 1 disagreements, 2 usage or harness error, 77
// promtool missing or not 2.42 (with CI=true that is a failure, exit 2).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "differential/alert_generator.h"
#include "differential/alert_report.h"
#include "differential/expr_generator.h"
#include "differential/tool_run.h"

namespace {

namespace fs = std::filesystem;
using nimify::Status;
using nimify::differential::Comparison;
using nimify::differential::kExitHarness;
using nimify::differential::ParseFlag;
using nimify::differential::RunTool;
using nimify::differential::SkipOrFail;
using nimify::differential::FileOutcome;
using nimify::differential::Rng;
using nimify::differential::RuleCase;

constexpr int kExitDisagreement = 1;
// How many more times promtool runs a file nimify disagrees with (see the
// comparison loop: promtool 2.42 is not deterministic).
constexpr int kPromtoolReruns = 8;

struct Options {
  std::uint64_t seed = 0;
  bool have_seed = false;
  int count = 100;
  int only = -1;  // write and run only this case (replaying one)
  std::string promtool = "/usr/bin/promtool";
  std::string nimify;
  std::string workdir;
  double timeout_seconds = 150;
};

bool ParseOptions(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string v;
    char* end = nullptr;
    if (ParseFlag(arg, "--seed", &v)) {
      o->seed = std::strtoull(v.c_str(), &end, 10);
      o->have_seed = true;
      if (v.empty() || *end != '\0') return false;
    } else if (ParseFlag(arg, "--count", &v)) {
      o->count = std::atoi(v.c_str());
    } else if (ParseFlag(arg, "--only", &v)) {
      o->only = std::atoi(v.c_str());
    } else if (ParseFlag(arg, "--timeout", &v)) {
      o->timeout_seconds = std::atof(v.c_str());
    } else if (ParseFlag(arg, "--promtool", &v)) {
      o->promtool = v;
    } else if (ParseFlag(arg, "--nimify", &v)) {
      o->nimify = v;
    } else if (ParseFlag(arg, "--workdir", &v)) {
      o->workdir = v;
    } else {
      return false;
    }
  }
  return o->count > 0 && o->timeout_seconds > 0 && !o->nimify.empty() && o->only < o->count;
}

int HarnessError(const Status& status) {
  std::fprintf(stderr, "HARNESS ERROR: %s\n", std::string(status.message()).c_str());
  return kExitHarness;
}

bool WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  return static_cast<bool>(out);
}

int Run(Options options) {
  if (!options.have_seed) {
    const char* env = std::getenv("NIMIFY_ALERT_DIFF_SEED");
    if (env != nullptr && *env != '\0') {
      options.seed = std::strtoull(env, nullptr, 10);
    } else {
      options.seed =
          static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()) %
          1'000'000'000'000ULL;
    }
  }
  std::printf(
      "alert_diff: seed %llu, %d cases (replay: NIMIFY_ALERT_DIFF_SEED=%llu, or "
      "--seed=%llu --count=%d)\n",
      static_cast<unsigned long long>(options.seed), options.count,
      static_cast<unsigned long long>(options.seed), static_cast<unsigned long long>(options.seed),
      options.count);
  std::fflush(stdout);
  if (!fs::exists(options.promtool)) {
    return SkipOrFail(options.promtool + " not found (install Debian's `prometheus` package)");
  }
  if (!fs::exists(options.nimify)) {
    std::fprintf(stderr, "HARNESS ERROR: %s not found\n", options.nimify.c_str());
    return kExitHarness;
  }
  // The tools run inside the work directory.
  options.nimify = fs::absolute(options.nimify).string();
  options.promtool = fs::absolute(options.promtool).string();
  std::error_code ec;
  fs::path workdir = options.workdir.empty() ? fs::temp_directory_path() /
                                                   ("nimify_alert_diff_" + std::to_string(getpid()))
                                             : fs::path(options.workdir);
  fs::create_directories(workdir, ec);
  if (ec) {
    std::fprintf(stderr, "cannot create %s: %s\n", workdir.c_str(), ec.message().c_str());
    return kExitHarness;
  }
  workdir = fs::absolute(workdir);
  auto version = RunTool({.binary = options.promtool, .args = {"--version"}, .dir = workdir,
                          .stdout_name = "promtool.version", .run_in_dir = true, .utc = true,
                          .timeout_seconds = 30});
  if (!version.ok()) return HarnessError(version.status());
  if (version->stdout_text.find("version 2.42.") == std::string::npos) {
    return SkipOrFail(options.promtool + " is not Prometheus 2.42: " + version->stdout_text);
  }

  // Generate every case (so --only replays the seed's own case), write the chosen ones.
  Rng rng(options.seed);
  std::vector<std::string> test_files;
  RuleCase totals;
  int cases = 0;
  for (int i = 0; i < options.count; ++i) {
    const std::string stem = "case_" + std::to_string(i);
    RuleCase c = nimify::differential::GenerateRuleCase(&rng, stem + ".rules.yml");
    if (options.only >= 0 && i != options.only) continue;
    if (!WriteFile(workdir / (stem + ".rules.yml"), c.rules) ||
        !WriteFile(workdir / (stem + ".test.yml"), c.tests)) {
      std::fprintf(stderr, "HARNESS ERROR: cannot write %s/%s.*\n", workdir.c_str(), stem.c_str());
      return kExitHarness;
    }
    test_files.push_back(stem + ".test.yml");
    ++cases;
    totals.groups += c.groups;
    totals.alerting_rules += c.alerting_rules;
    totals.recording_rules += c.recording_rules;
    totals.alert_checks += c.alert_checks;
    totals.expr_checks += c.expr_checks;
  }

  // Both tools print their whole report (stdout and stderr interleaved) for the same files.
  auto test_rules = [&](const std::string& binary, std::vector<std::string> args,
                        const std::string& log_name) {
    args.insert(args.end(), test_files.begin(), test_files.end());
    return RunTool({.binary = binary, .args = std::move(args), .dir = workdir,
                    .stdout_name = log_name, .run_in_dir = true, .utc = true,
                    .timeout_seconds = options.timeout_seconds});
  };
  auto promtool = test_rules(options.promtool, {"test", "rules"}, "promtool.out");
  if (!promtool.ok()) return HarnessError(promtool.status());
  auto nimify =
      test_rules(options.nimify, {"test", "rules", "--promql-compat=2", "--exact"}, "nimify.out");
  if (!nimify.ok()) return HarnessError(nimify.status());

  auto promtool_report = nimify::differential::ParseTestRulesOutput(promtool->stdout_text);
  auto nimify_report = nimify::differential::ParseTestRulesOutput(nimify->stdout_text);
  if (!promtool_report.ok() || !nimify_report.ok()) {
    std::fprintf(stderr, "HARNESS ERROR: promtool output: %s; nimify output: %s (both in %s)\n",
                 std::string(promtool_report.status().message()).c_str(),
                 std::string(nimify_report.status().message()).c_str(), workdir.c_str());
    return kExitHarness;
  }
  bool harness_ok = true;
  if (promtool->exit_code != 0 && promtool->exit_code != 1) {
    std::printf("HARNESS ERROR: promtool exited with %d\n", promtool->exit_code);
    harness_ok = false;
  }

  int disagreements = 0, agreed = 0, tolerance = 0, error_text = 0, firing = 0, samples = 0;
  int cases_with_disagreement = 0;
  int agreed_on_rerun = 0;  // files nimify matched only in a later promtool run
  for (const auto& file : test_files) {
    auto p = promtool_report->find(file);
    auto n = nimify_report->find(file);
    if (p == promtool_report->end() || n == nimify_report->end()) {
      std::printf("HARNESS ERROR: %s missing from the %s output\n", file.c_str(),
                  p == promtool_report->end() ? "promtool" : "nimify");
      harness_ok = false;
      continue;
    }
    if (!p->second.other_lines.empty()) {
      // The generator must write only files promtool accepts.
      std::printf("HARNESS ERROR: promtool rejected %s: %s\n", file.c_str(),
                  p->second.other_lines.front().c_str());
      harness_ok = false;
    }
    for (const auto& [key, f] : p->second.findings) {
      firing += static_cast<int>(f.alerts.size());
      samples += static_cast<int>(f.samples.size());
    }
    Comparison c = nimify::differential::CompareOutcomes(p->second, n->second);
    // promtool 2.42 is not deterministic: run twice on the same file it can
    // add a group's series in another order and print other last digits
    // (113.7m in one run, 113.8m in the next). A file that disagrees is run
    // through promtool again, alone, a few times; nimify agrees when it
    // matches one of those runs exactly, and the report counts such files.
    for (int rerun = 1; rerun <= kPromtoolReruns && !c.disagreements.empty(); ++rerun) {
      auto again = RunTool({.binary = options.promtool, .args = {"test", "rules", file},
                            .dir = workdir, .stdout_name = "promtool.rerun.out",
                            .run_in_dir = true, .utc = true,
                            .timeout_seconds = options.timeout_seconds});
      if (!again.ok()) break;
      auto report = nimify::differential::ParseTestRulesOutput(again->stdout_text);
      if (!report.ok()) break;
      auto pf = report->find(file);
      if (pf == report->end()) break;
      Comparison other = nimify::differential::CompareOutcomes(pf->second, n->second);
      if (other.disagreements.empty()) {
        c = std::move(other);
        ++agreed_on_rerun;
      }
    }
    agreed += c.agreed;
    tolerance += c.tolerance;
    error_text += c.error_text;
    disagreements += static_cast<int>(c.disagreements.size());
    if (!c.disagreements.empty()) {
      ++cases_with_disagreement;
      std::string stem = file.substr(0, file.size() - std::string_view(".test.yml").size());
      std::printf("DISAGREE in %s (%s/%s.rules.yml; replay: --seed=%llu --count=%d --only=%s):\n",
                  file.c_str(), workdir.c_str(), stem.c_str(),
                  static_cast<unsigned long long>(options.seed), options.count,
                  stem.substr(5).c_str());
      for (const auto& d : c.disagreements) std::printf("  %s", d.c_str());
    }
  }
  const bool keep = !options.workdir.empty() || disagreements > 0 || !harness_ok;
  std::printf(
      "alert_diff: seed %llu: %d cases, %d rule groups (%d alerting, %d recording rules), "
      "%d alert checks, %d expression checks\n"
      "  promtool reported %d firing alerts and %d samples; checks with output: %d agree "
      "(%d within 1e-9, %d errors with other text), %d DISAGREE in %d cases; "
      "%d cases agreed only with a rerun of promtool\n"
      "  promtool %.2fs, nimify %.2fs; files %s%s\n",
      static_cast<unsigned long long>(options.seed), cases, totals.groups, totals.alerting_rules,
      totals.recording_rules, totals.alert_checks, totals.expr_checks, firing, samples, agreed,
      tolerance, error_text, disagreements, cases_with_disagreement, agreed_on_rerun,
      promtool->seconds,
      nimify->seconds, workdir.c_str(), keep ? "" : " (removed)");
  if (!keep) fs::remove_all(workdir, ec);
  if (!harness_ok) return kExitHarness;
  return disagreements > 0 ? kExitDisagreement : 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!ParseOptions(argc, argv, &options)) {
    std::fprintf(stderr,
                 "usage: alert_diff --nimify=PATH [--seed=N] [--count=N] [--promtool=PATH]\n"
                 "                  [--workdir=DIR] [--timeout=SECONDS] [--only=N]\n");
    return kExitHarness;
  }
  return Run(options);
}
