// `nimify test rules`: promtool's rule unit tests (see src/ruletest/promtool_test_runner.h).
#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "ruletest/promtool_test_runner.h"
#include "cli/commands.h"

namespace nimify::cli {
namespace {

constexpr const char* kUsage =
    "usage: nimify test rules [--promql-compat=2|3] [--run REGEX]... [--exact] FILE...\n"
    "\n"
    "Runs promtool-format rule unit tests. --promql-compat=2 reproduces Prometheus\n"
    "2.42 (Debian's promtool: closed windows, 2.x-only fields, a test group without\n"
    "`interval` loads every sample at t=0); 3 (the default) follows current Prometheus.\n"
    "--run keeps only test groups whose name matches REGEX (repeatable).\n"
    "--exact compares expected values exactly, as promtool does (the default accepts\n"
    "a relative difference of 1e-9).\n"
    "Exit status: 0 all passed, 1 a test failed, 2 bad arguments or input files.\n";

int UsageError(const std::string& msg) {
  std::fprintf(stderr, "nimify test rules: %s\n\n%s", msg.c_str(), kUsage);
  return 2;
}

}  // namespace

int RunTestRules(const Args& args) {
  ruletest::UnitTestOptions options;
  std::vector<std::string> files;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value_of = [&](std::string_view flag, std::string* out) -> bool {
      if (a == flag) {
        if (i + 1 >= args.size()) return false;
        *out = args[++i];
        return true;
      }
      *out = a.substr(flag.size() + 1);
      return true;
    };
    std::string value;
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--promql-compat" || a.rfind("--promql-compat=", 0) == 0) {
      if (!value_of("--promql-compat", &value)) return UsageError("--promql-compat needs a value");
      if (value == "2") {
        options.compat = promql::Compat::kPrometheus2;
      } else if (value == "3") {
        options.compat = promql::Compat::kPrometheus3;
      } else {
        return UsageError("--promql-compat must be 2 or 3, got '" + value + "'");
      }
    } else if (a == "--run" || a.rfind("--run=", 0) == 0) {
      if (!value_of("--run", &value)) return UsageError("--run needs a regular expression");
      options.run_patterns.push_back(value);
    } else if (a == "--exact") {
      options.value_tolerance = 0;
    } else if (a.size() > 1 && a[0] == '-') {
      return UsageError("unknown flag '" + a + "'");
    } else {
      files.push_back(a);
    }
  }
  if (files.empty()) return UsageError("no test files given");
  return ruletest::RunRuleUnitTests(files, options, std::cout, std::cerr);
}

}  // namespace nimify::cli
