// `nimify check rules --lint`: warnings about rules that load fine but do not
// do what their authors meant. Each warning names the rule, says why, and
// suggests a fix. See docs/rule-language.md for every check with examples.
#ifndef NIMIFY_ALERTING_LINT_H_
#define NIMIFY_ALERTING_LINT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "alerting/rule_file.h"
#include "alerting/source_pos.h"

namespace nimify::alerting {

// Check identifiers, as printed in brackets and accepted by --lint-disable.
inline constexpr std::string_view kLintRatioLabelMismatch = "ratio-label-mismatch";
inline constexpr std::string_view kLintForShorterThanInterval = "for-shorter-than-interval";
inline constexpr std::string_view kLintRateOfGauge = "rate-of-gauge";
inline constexpr std::string_view kLintRangeTooShort = "range-too-short";
inline constexpr std::string_view kLintNaNComparison = "nan-comparison";
inline constexpr std::string_view kLintMissingSeverity = "missing-severity";
inline constexpr std::string_view kLintAbsentWithoutEquality = "absent-without-equality";
inline constexpr std::string_view kLintValueInLabel = "value-in-label";
inline constexpr std::string_view kLintDuplicateAlertName = "duplicate-alert-name";
inline constexpr std::string_view kLintDuplicateRecordingRule = "duplicate-recording-rule";
inline constexpr std::string_view kLintHistogramQuantileWithoutLe = "histogram-quantile-without-le";

struct LintWarning {
  std::string file;
  SourcePos pos;
  std::string group;
  std::string rule;
  std::string check;
  std::string message;
  std::string suggestion;

  // "file:line:col: warning [check] group "g", rule "r": message\n    fix: suggestion"
  std::string ToString() const;
};

struct LintOptions {
  // Interval of groups that set none (Prometheus's global evaluation_interval).
  std::int64_t default_interval_ms = 60 * 1000;
  std::vector<std::string> disabled_checks;
};

// Lints every rule of a loaded file. Rules whose expression failed to parse
// are skipped (loading reports them).
std::vector<LintWarning> LintRuleFile(const RuleFileSpec& file, const LintOptions& options = {});

}  // namespace nimify::alerting

#endif  // NIMIFY_ALERTING_LINT_H_
