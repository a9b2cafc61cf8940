// Reads the whole output of `promtool test rules FILE...` (Prometheus 2.42,
// cmd/promtool/unittest.go) or of `nimify test rules`, stdout and stderr
// merged, and compares two such outputs.
//
//     Unit Testing:  case_0.test.yml
//       FAILED:
//         alertname: A, time: 4m,
//             exp:[],
//             got:[
//                 0:
//                   Labels:{alertname="A", job="a"}
//                   Annotations:{summary="v=5"}
//                 ]
//         expr: "ALERTS", time: 5m,
//             exp: nil
//             got: {__name__="ALERTS", alertname="A", alertstate="firing"} 1E+00
//         expr: "x + on() y", time: 3m, err: multiple matches ...
//         rule: A, time: 2m0s, err: ...
//
// The test files written by alert_diff expect nothing, so every failure
// carries the tool's actual answer in `got`.
#ifndef NIMIFY_TESTS_DIFFERENTIAL_ALERT_REPORT_H_
#define NIMIFY_TESTS_DIFFERENTIAL_ALERT_REPORT_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "differential/promtool_output.h"
#include "nimify/status.h"

namespace nimify::differential {

// One alert as printed: `{alertname="A", ...}` and `{a0="..."}` (Go's
// Labels.String(), values quoted with strconv.Quote).
struct PrintedAlert {
  std::string labels;
  std::string annotations;
};

enum class FindingKind { kAlerts, kSamples, kExprError, kRuleError };

// One failed check: its key is the header up to the time
// (`alertname: A, time: 4m`, `expr: "ALERTS", time: 5m`, `rule: A, time: 2m0s`).
struct Finding {
  FindingKind kind = FindingKind::kAlerts;
  std::vector<PrintedAlert> alerts;     // kAlerts, in printed order
  std::vector<ReportedSample> samples;  // kSamples
  std::string error;                    // kExprError, kRuleError
};

struct FileOutcome {
  bool failed = false;  // "  FAILED:" rather than "  SUCCESS"
  std::map<std::string, Finding> findings;
  // Lines that are none of the above (a file-level error such as a rule file
  // that does not load); they must match between the tools.
  std::vector<std::string> other_lines;
};

// By test file path, as printed after "Unit Testing:  ".
using TestRulesOutput = std::map<std::string, FileOutcome>;

Result<TestRulesOutput> ParseTestRulesOutput(std::string_view text);

// True if two printed texts are equal once every number in them may differ by
// a relative 1e-9 (summation order changes the last bits of sums and
// averages, and templates print them with all their digits).
bool CloseText(std::string_view a, std::string_view b);

struct Comparison {
  int agreed = 0;                          // findings equal on both sides
  int tolerance = 0;                       // of those, equal only within 1e-9
  int error_text = 0;                      // both failed the same check with different messages
  std::vector<std::string> disagreements;  // readable, one per check
};

// Compares nimify's outcome of one file with promtool's.
Comparison CompareOutcomes(const FileOutcome& promtool, const FileOutcome& nimify);

}  // namespace nimify::differential

#endif  // NIMIFY_TESTS_DIFFERENTIAL_ALERT_REPORT_H_
