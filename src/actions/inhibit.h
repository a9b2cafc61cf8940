// Inhibition as Alertmanager 0.25 does it (inhibit package):
//
//   inhibit_rules:
//     - source_matchers: ['alertname="ServiceDown"']
//       target_matchers: ['alertname=~"HighLatency|HighErrorRate"']
//       equal: [job, instance]
//
// A firing alert matching a rule's source matchers inhibits every alert that
// matches the rule's target matchers and has the same values for the `equal`
// labels (a label missing on both sides counts as equal). An alert that
// matches both sides of a rule is not inhibited by itself or by another
// alert that also matches both sides (AM's "two-sided match" exclusion).
#ifndef NIMIFY_ACTIONS_INHIBIT_H_
#define NIMIFY_ACTIONS_INHIBIT_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "actions/matchers.h"
#include "nimify/config.h"
#include "nimify/sample.h"
#include "nimify/status.h"

namespace nimify::actions {

struct InhibitRule {
  // Legacy source_match / source_match_re come first, then source_matchers.
  Matchers source_matchers;
  Matchers target_matchers;
  std::vector<std::string> equal;  // label names, sorted and unique
  SourcePosition position;
};

// One entry of `inhibit_rules:`. Errors read "file:line:col: message".
Result<InhibitRule> ParseInhibitRule(const ConfigNode& node);
// The whole `inhibit_rules:` list (null means none).
Result<std::vector<InhibitRule>> ParseInhibitRules(const ConfigNode& node);

// Answers "is this alert inhibited?" against a snapshot of the firing alerts.
// Thread safety: SetFiring must not run concurrently with anything else;
// the const methods may run concurrently with each other.
class Inhibitor {
 public:
  explicit Inhibitor(std::vector<InhibitRule> rules);

  // Replaces the set of firing (unresolved) alerts; each label set sorted by name.
  void SetFiring(const std::vector<OwnedLabels>& firing);
  // The same without a copy of the label sets: only the sources of a rule are copied.
  void SetFiringFrom(std::span<const OwnedLabels* const> firing);

  // Fingerprints of the firing alerts that inhibit `labels`, sorted and
  // unique, over all rules; empty when the alert is not inhibited.
  // (Alertmanager records only the first one it finds.)
  std::vector<std::uint64_t> InhibitedBy(const OwnedLabels& labels) const;
  bool Mutes(const OwnedLabels& labels) const { return !InhibitedBy(labels).empty(); }

  const std::vector<InhibitRule>& rules() const noexcept { return rules_; }

 private:
  struct Source {
    OwnedLabels labels;
    std::uint64_t fingerprint;
    bool matches_target;  // for the two-sided exclusion
  };
  std::vector<InhibitRule> rules_;
  std::vector<std::vector<Source>> sources_;  // per rule: firing alerts matching its source
};

}  // namespace nimify::actions

#endif  // NIMIFY_ACTIONS_INHIBIT_H_
