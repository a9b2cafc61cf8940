// Fuzz entry for the rule-file loader: strict YAML decoding, validation, the
// PromQL and template compilation `nimify check rules` performs.
// Invariants: no crash; an error names the file and says where; an accepted
// file holds a parsed expression for every rule and one compiled template per
// alerting-rule label and annotation.
#include <cstdint>
#include <string>

#include "alerting/rule_file.h"
#include "fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace nimify;
  const std::string_view input = fuzz::AsText(data, size);
  for (const bool prometheus2 : {false, true}) {
    alerting::RuleLoadOptions options;
    options.prometheus2_fields_only = prometheus2;
    Result<alerting::RuleFileSpec> spec = alerting::ParseRuleFile(input, "fuzz.yml", options);
    if (!spec.ok()) {
      FUZZ_CHECK(std::string_view(spec.status().message()).starts_with("fuzz.yml"), input);
      continue;
    }
    for (const alerting::RuleGroupSpec& group : spec->groups) {
      for (const alerting::RuleSpec& rule : group.rules) {
        FUZZ_CHECK(rule.parsed_expr != nullptr, input);
        if (rule.kind == alerting::RuleKind::kAlerting) {
          FUZZ_CHECK(rule.label_templates.size() == rule.labels.size(), input);
          FUZZ_CHECK(rule.annotation_templates.size() == rule.annotations.size(), input);
        }
      }
    }
  }
  return 0;
}
