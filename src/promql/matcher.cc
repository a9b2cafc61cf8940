#include <re2/re2.h>

#include "promql/go_regexp.h"
#include "promql/storage.h"
#include "promql/value.h"

namespace nimify::promql {

std::string GoRegexpError(const std::string& pattern, const RE2::Options& opts) {
  const RE2 raw(pattern, opts);
  const char* code = "invalid regular expression";
  switch (raw.error_code()) {
    case RE2::ErrorBadEscape: code = "invalid escape sequence"; break;
    case RE2::ErrorBadCharClass: code = "invalid character class"; break;
    case RE2::ErrorBadCharRange: code = "invalid character class range"; break;
    case RE2::ErrorMissingBracket: code = "missing closing ]"; break;
    case RE2::ErrorMissingParen: code = "missing closing )"; break;
    case RE2::ErrorUnexpectedParen: code = "unexpected )"; break;
    case RE2::ErrorTrailingBackslash: code = "trailing backslash at end of expression"; break;
    case RE2::ErrorRepeatArgument: code = "missing argument to repetition operator"; break;
    case RE2::ErrorRepeatSize: code = "invalid repeat count"; break;
    case RE2::ErrorRepeatOp: code = "invalid nested repetition operator"; break;
    case RE2::ErrorBadPerlOp: code = "invalid or unsupported Perl syntax"; break;
    case RE2::ErrorBadUTF8: code = "invalid UTF-8"; break;
    case RE2::ErrorBadNamedCapture: code = "invalid named capture"; break;
    case RE2::ErrorPatternTooLarge: code = "expression too large"; break;
    default: break;
  }
  const std::string arg = raw.ok() ? pattern : raw.error_arg();
  return std::string("error parsing regexp: ") + code + ": `" + arg + "`";
}

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
                                     ": " + GoRegexpError(m.value_, opts));
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
  // Names that are not legacy label names are quoted, as Prometheus 3 prints them.
  bool quote_name = name_.empty();
  for (std::size_t i = 0; i < name_.size(); ++i) {
    const char c = name_[i];
    const bool ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) quote_name = true;
  }
  return (quote_name ? QuoteLabelValue(name_) : name_) + op + QuoteLabelValue(value_);
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
