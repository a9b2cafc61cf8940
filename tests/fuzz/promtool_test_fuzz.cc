// Fuzz entry for the promtool test-file loader (`nimify test rules`): the
// input is a unit-test file, run against a fixed rule file in a private
// directory. Invariants: no crash; a file that is not accepted says why.
//
// Two restrictions keep every run bounded, and are not findings: rule_files
// must name files inside the sandbox (an absolute path or a glob would walk
// the machine), and inputs whose eval_time spans more than kMaxSteps
// evaluation or input intervals are skipped (promtool evaluates every step, so
// `eval_time: 10000h` at `evaluation_interval: 1ms` is just slow, in both).
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "ruletest/promtool_test_runner.h"
#include "fuzz/fuzz_check.h"
#include "promql/parser.h"

namespace {

using namespace nimify;

constexpr std::int64_t kMaxSteps = 20000;

constexpr std::string_view kRules = R"yaml(groups:
  - name: fuzz
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: InstanceDown
        expr: up == 0
        for: 5m
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.instance }} of {{ $labels.job }} is down ({{ $value | humanize }})"
      - alert: JobDown
        expr: job:up:sum == 0
        keep_firing_for: 1m
)yaml";

const std::string& Sandbox() {
  static const std::string* dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
                          "/nimify-promtool-fuzz-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    std::ofstream(pattern + "/rules.yml") << kRules;
    std::ofstream(pattern + "/other.yml") << "groups: []\n";
    return new std::string(pattern);
  }();
  return *dir;
}

std::int64_t DurationOr(const YAML::Node& node, std::int64_t fallback) {
  if (!node || !node.IsScalar()) return fallback;
  auto d = promql::ParseDuration(node.Scalar());
  return d.ok() ? *d : fallback;
}

// False when the run could be unbounded by design (see the top comment).
bool Bounded(std::string_view input) {
  try {
    const YAML::Node root = YAML::Load(std::string(input));
    if (!root.IsMap()) return true;
    if (const YAML::Node files = root["rule_files"]; files && files.IsSequence()) {
      for (const YAML::Node& f : files) {
        if (!f.IsScalar()) continue;
        const std::string& name = f.Scalar();
        if (name.find_first_of("/\\*?[") != std::string::npos || name.starts_with('.')) {
          return false;
        }
      }
    }
    const std::int64_t eval_interval = DurationOr(root["evaluation_interval"], 60'000);
    const YAML::Node tests = root["tests"];
    if (!tests || !tests.IsSequence()) return true;
    for (const YAML::Node& test : tests) {
      if (!test.IsMap()) continue;
      const std::int64_t step =
          std::max<std::int64_t>(1, std::min(eval_interval, DurationOr(test["interval"], 60'000)));
      for (const char* kind : {"alert_rule_test", "promql_expr_test"}) {
        const YAML::Node checks = test[kind];
        if (!checks || !checks.IsSequence()) continue;
        for (const YAML::Node& check : checks) {
          if (!check.IsMap()) continue;
          if (DurationOr(check["eval_time"], 0) / step > kMaxSteps) return false;
        }
      }
    }
  } catch (const std::exception&) {
    // Not YAML: the loader reports it; nothing to bound.
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = fuzz::AsText(data, size);
  if (!Bounded(input)) return 0;
  const std::string path = Sandbox() + "/fuzz.test.yml";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(input.data(), static_cast<std::streamsize>(input.size()));
  }
  for (const promql::Compat compat : {promql::Compat::kPrometheus2, promql::Compat::kPrometheus3}) {
    ruletest::UnitTestOptions options;
    options.compat = compat;
    const ruletest::UnitTestFileResult result = ruletest::RunRuleUnitTestFile(path, options);
    if (result.outcome != ruletest::UnitTestOutcome::kPassed) {
      FUZZ_CHECK(!result.errors.empty(), input);
    }
  }
  return 0;
}
