// nimify's extensions to Prometheus alerting, configured in nimify's own
// config (never in rule files, which stay promtool-compatible):
//
//   alert_extensions:
//     - match: {alertname: HighMemoryUsage}      # equality on alert labels
//       match_re: {severity: "SEV-[12]"}         # anchored regexes, optional
//       recovery_expr: 'mem_used / mem_limit < 0.8'
//       recovery_timeout: 1h                     # optional bound on the hold
//       flap_detection: {window: 20, low: 0.25, high: 0.5}
//
// Hysteresis: a firing alert whose expression stops returning it keeps firing
// until `recovery_expr` returns a sample for its label set (every label of the
// recovery sample except __name__ equals the alert's label of that name), or
// until `recovery_timeout` has passed since it went missing.
//
// Flap detection (Nagios's algorithm): each evaluation records whether the
// alert is firing; the weighted share of state changes over the last `window`
// evaluations (weights rise linearly from 0.75 for the oldest change to 1.25
// for the newest) starts flapping at >= high and stops it below low. While an
// alert flaps its notifications are held; Alert::flapping shows the verdict.
#ifndef NIMIFY_ALERTING_EXTENSIONS_H_
#define NIMIFY_ALERTING_EXTENSIONS_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "alerting/source_pos.h"
#include "nimify/status.h"
#include "promql/ast.h"
#include "promql/labels.h"
#include "promql/storage.h"

namespace nimify::alerting {

struct FlapDetectionConfig {
  int window = 20;    // evaluations of history, >= 3
  double low = 0.25;  // flapping stops when the share drops below this
  double high = 0.5;  // flapping starts when the share reaches this
};

struct AlertExtension {
  std::vector<promql::LabelMatcher> matchers;  // all must match the alert's labels
  std::string recovery_expr;                   // empty: no hysteresis
  std::shared_ptr<const promql::Expr> parsed_recovery_expr;
  std::int64_t recovery_timeout_ms = 0;  // 0: hold until recovered
  std::optional<FlapDetectionConfig> flap_detection;
  SourcePos pos;

  bool Matches(const promql::Labels& alert_labels) const;
  bool has_hysteresis() const noexcept { return parsed_recovery_expr != nullptr; }
};

// Immutable once loaded; safe to share between threads.
struct ExtensionConfig {
  std::vector<AlertExtension> alert_extensions;

  // The first extension whose matchers all match, or null.
  const AlertExtension* Find(const promql::Labels& alert_labels) const;
  bool empty() const noexcept { return alert_extensions.empty(); }
};

// Reads the `alert_extensions` key of a nimify config document; other top-level
// keys belong to other parts of the config and are ignored. Inside an extension
// every field is checked strictly. kParseError lists "origin:line:col: problem" lines.
Result<ExtensionConfig> ParseExtensionConfig(std::string_view content, std::string_view origin);
Result<ExtensionConfig> LoadExtensionConfig(const std::string& path);

// Whether the recovery condition holds for an alert: some sample of the
// recovery result has all its labels except __name__ equal in the alert.
bool RecoveryHolds(const promql::Vector& recovery_result, const promql::Labels& alert_labels);

// Nagios-style flap detection over one alert's recent states.
class FlapTracker {
 public:
  explicit FlapTracker(FlapDetectionConfig config) : config_(config) {}

  // Records the state of one evaluation and updates the verdict.
  void Record(bool firing);

  bool flapping() const noexcept { return flapping_; }
  // Weighted share of state changes in the window, 0..1.
  double share() const noexcept { return share_; }
  // Nothing left to remember: not flapping and not firing for a full window.
  bool Idle() const noexcept;

 private:
  FlapDetectionConfig config_;
  std::deque<bool> history_;  // oldest first, at most config_.window entries
  bool flapping_ = false;
  double share_ = 0;
};

}  // namespace nimify::alerting

#endif  // NIMIFY_ALERTING_EXTENSIONS_H_
