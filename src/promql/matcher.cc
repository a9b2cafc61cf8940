#include <re2/re2.h>

#include "promql/storage.h"
#include "promql/value.h"

namespace nimify::promql {

Result<LabelMatcher> LabelMatcher::Create(MatchType type, std::string name, std::string value) {
  LabelMatcher m;
  m.type_ = type;
  m.name_ = std::move(name);
  m.value_ = std::move(value);
  if (type == MatchType::kRegexMatch || type == MatchType::kRegexNoMatch) {
    RE2::Options opts;
    opts.set_log_errors(false);
    // Go's regexp: '.' does not match '\n' unless (?s); Prometheus anchors as ^(?s:re)$
    // since 3.0 in the matcher itself ("(?s:" prefix), so '.' matches newlines.
    opts.set_dot_nl(true);
    auto re = std::make_shared<const RE2>("^(?:" + m.value_ + ")$", opts);
    if (!re->ok()) {
      return Status::InvalidArgument("invalid regular expression " + QuoteLabelValue(m.value_) +
                                     ": " + re->error());
    }
    m.re_ = std::move(re);
  }
  return m;
}

bool LabelMatcher::Matches(std::string_view v) const {
  switch (type_) {
    case MatchType::kEqual: return v == value_;
    case MatchType::kNotEqual: return v != value_;
    case MatchType::kRegexMatch: return RE2::FullMatch(v, *re_);
    case MatchType::kRegexNoMatch: return !RE2::FullMatch(v, *re_);
  }
  return false;
}

std::string LabelMatcher::ToString() const {
  const char* op = "=";
  switch (type_) {
    case MatchType::kEqual: op = "="; break;
    case MatchType::kNotEqual: op = "!="; break;
    case MatchType::kRegexMatch: op = "=~"; break;
    case MatchType::kRegexNoMatch: op = "!~"; break;
  }
  return name_ + op + QuoteLabelValue(value_);
}

const char* ValueTypeName(ValueType t) noexcept {
  switch (t) {
    case ValueType::kNone: return "none";
    case ValueType::kScalar: return "scalar";
    case ValueType::kVector: return "instant vector";
    case ValueType::kMatrix: return "range vector";
    case ValueType::kString: return "string";
  }
  return "unknown";
}

}  // namespace nimify::promql
