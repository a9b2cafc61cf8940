// `nimify check rules`: validates rule files like `promtool check rules`, and
// with --lint reports rules that load but probably do not do what was meant.
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "alerting/lint.h"
#include "alerting/rule_file.h"
#include "cli/commands.h"
#include "promql/parser.h"

namespace nimify::cli {
namespace {

constexpr const char* kUsage =
    "usage: nimify check rules [--lint] [--lint-fatal] [--lint-disable=CHECK,...]\n"
    "                          [--evaluation-interval=DURATION] FILE|DIR|GLOB...\n"
    "\n"
    "Checks Prometheus rule files as `promtool check rules` does: strict YAML,\n"
    "expressions, templates, names and labels. A directory stands for every *.yml\n"
    "and *.yaml file below it. --lint adds warnings with a suggested fix for each\n"
    "rule that loads but misbehaves (see docs/rule-language.md); --lint-fatal makes\n"
    "warnings fail the check. --evaluation-interval is the interval of groups that\n"
    "set none (default 1m), used by the interval-related lints.\n"
    "Exit status: 0 all valid, 1 errors found (or warnings with --lint-fatal), 2 bad usage.\n";

int UsageError(const std::string& msg) {
  std::fprintf(stderr, "nimify check rules: %s\n\n%s", msg.c_str(), kUsage);
  return 2;
}

std::vector<std::string> SplitComma(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    const auto comma = s.find(',');
    out.emplace_back(s.substr(0, comma));
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace

int RunCheckRules(const Args& args) {
  bool lint = false;
  bool lint_fatal = false;
  alerting::LintOptions lint_options;
  std::vector<std::string> arguments;
  for (const auto& a : args) {
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--lint") {
      lint = true;
    } else if (a == "--lint-fatal") {
      lint = true;
      lint_fatal = true;
    } else if (a.rfind("--lint-disable=", 0) == 0) {
      lint_options.disabled_checks = SplitComma(a.substr(15));
    } else if (a.rfind("--evaluation-interval=", 0) == 0) {
      auto ms = promql::ParseDuration(a.substr(22));
      if (!ms.ok() || *ms <= 0)
        return UsageError("bad --evaluation-interval '" + a.substr(22) + "'");
      lint_options.default_interval_ms = *ms;
    } else if (a.size() > 1 && a[0] == '-') {
      return UsageError("unknown flag '" + a + "'");
    } else {
      arguments.push_back(a);
    }
  }
  if (arguments.empty()) return UsageError("no rule files given");

  bool failed = false;
  for (const auto& argument : arguments) {
    auto paths = alerting::ExpandRulePaths({argument});
    if (!paths.ok()) {
      std::printf("Checking %s\n", argument.c_str());
      std::fprintf(stderr, "  FAILED:\n%s\n", std::string(paths.status().message()).c_str());
      std::printf("\n");
      failed = true;
      continue;
    }
    for (const auto& path : *paths) {
      std::printf("Checking %s\n", path.c_str());
      std::fflush(stdout);
      auto file = alerting::LoadRuleFile(path);
      if (!file.ok()) {
        std::fprintf(stderr, "  FAILED:\n%s\n", std::string(file.status().message()).c_str());
        std::fflush(stderr);
        std::printf("\n");
        failed = true;
        continue;
      }
      std::printf("  SUCCESS: %zu rules found\n", file->RuleCount());
      if (lint) {
        const auto warnings = alerting::LintRuleFile(*file, lint_options);
        for (const auto& w : warnings) std::printf("%s\n", w.ToString().c_str());
        if (!warnings.empty()) {
          std::printf("  %zu lint warning(s)\n", warnings.size());
          if (lint_fatal) failed = true;
        }
      }
      std::printf("\n");
    }
  }
  return failed ? 1 : 0;
}

}  // namespace nimify::cli
