// The engine's view of a public RuleSet: the validated rule files it wraps.
#ifndef NIMIFY_ENGINE_RULE_SET_INTERNAL_H_
#define NIMIFY_ENGINE_RULE_SET_INTERNAL_H_

#include <vector>

#include "alerting/rule_file.h"
#include "nimify/rules.h"

namespace nimify {

struct RuleSet::Impl {
  std::vector<alerting::RuleFileSpec> files;
};

namespace internal {

struct RuleSetAccess {
  static const std::vector<alerting::RuleFileSpec>& Files(const RuleSet& rules) {
    return rules.impl_->files;
  }
  static std::shared_ptr<const RuleSet> Make(std::vector<alerting::RuleFileSpec> files);
};

}  // namespace internal
}  // namespace nimify

#endif  // NIMIFY_ENGINE_RULE_SET_INTERNAL_H_
