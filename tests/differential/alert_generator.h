// Random rule files and promtool unit-test files for the alerting differential
// test against promtool 2.42 (alert_diff.cc).
//
//   Rng rng(seed);
//   RuleCase c = GenerateRuleCase(&rng, "case_3.rules.yml");
//   // write c.rules to case_3.rules.yml and c.tests next to it
//
// A case is one rule file (1-2 groups of recording and alerting rules: `for`,
// `keep_firing_for`, templated labels and annotations with the humanize
// functions, `$value`, `$labels`, `$externalLabels`, `query`; recording rules
// feeding alerts) and one test file with one test group: random input series
// (gauges, counters, `up`, with gaps and `stale` markers) and checks with
// empty expectations, so that every alert that fires and every sample that
// exists shows up in the failure report of either tool. The check times are
// every evaluation step, plus a few between steps.
//
// Everything is a pure function of the Rng state, so a run can be replayed.
#ifndef NIMIFY_TESTS_DIFFERENTIAL_ALERT_GENERATOR_H_
#define NIMIFY_TESTS_DIFFERENTIAL_ALERT_GENERATOR_H_

#include <string>

#include "differential/expr_generator.h"

namespace nimify::differential {

struct RuleCase {
  std::string rules;  // the rule file
  std::string tests;  // the unit-test file; refers to the rule file by name
  int groups = 0;
  int alerting_rules = 0;
  int recording_rules = 0;
  int alert_checks = 0;  // alert_rule_test entries
  int expr_checks = 0;   // promql_expr_test entries
};

RuleCase GenerateRuleCase(Rng* rng, const std::string& rules_file_name);

}  // namespace nimify::differential

#endif  // NIMIFY_TESTS_DIFFERENTIAL_ALERT_GENERATOR_H_
