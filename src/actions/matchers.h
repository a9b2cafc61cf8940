// Label matchers with Alertmanager 0.25's syntax and semantics (pkg/labels):
// `name=value`, `name!="value"`, `name=~"re"`, `name!~re`, lists like
// `{a="b", c=~"d|e"}`, and the legacy `match:` / `match_re:` maps of routes
// and inhibit rules.
//
//   NIMIFY_ASSIGN_OR_RETURN(Matchers ms, ParseMatchers(R"({service=~"api|web", env!=dev})"));
//   if (MatchesAll(ms, alert_labels)) ...
//
// A label that is missing from a label set matches as the empty string, as in
// Alertmanager. Regexes are RE2 (Go's syntax), anchored as ^(?:re)$.
#ifndef NIMIFY_ACTIONS_MATCHERS_H_
#define NIMIFY_ACTIONS_MATCHERS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nimify/config.h"
#include "nimify/sample.h"
#include "nimify/status.h"

namespace re2 {
class RE2;
}

namespace nimify::actions {

// Order matters: Alertmanager sorts equal name/value matchers by it.
enum class MatchType : std::uint8_t { kEqual, kNotEqual, kRegexp, kNotRegexp };

// "=", "!=", "=~" or "!~".
std::string_view MatchTypeString(MatchType type) noexcept;

// One matcher. Thread safety: immutable; copies share the compiled regex and
// may be used from any thread.
class Matcher {
 public:
  // Compiles the regex of =~ / !~; fails with Go's regexp error text.
  static Result<Matcher> Create(MatchType type, std::string name, std::string value);

  MatchType type() const noexcept { return type_; }
  const std::string& name() const noexcept { return name_; }
  const std::string& value() const noexcept { return value_; }

  bool Matches(std::string_view label_value) const;
  // The matcher against the label set (a missing label is "").
  bool Matches(const OwnedLabels& labels) const;

  // As Alertmanager prints it: name, operator, then the value double-quoted
  // with OpenMetrics escapes (\\, \n, \"): `job=~"api|web"`.
  std::string ToString() const;

  friend bool operator==(const Matcher& a, const Matcher& b) noexcept {
    return a.type_ == b.type_ && a.name_ == b.name_ && a.value_ == b.value_;
  }

 private:
  MatchType type_ = MatchType::kEqual;
  std::string name_;
  std::string value_;
  std::shared_ptr<const re2::RE2> re_;
};

using Matchers = std::vector<Matcher>;

// Alertmanager's labels.Matchers ordering (name, then value, then type).
void SortMatchers(Matchers* matchers);
// True when every matcher matches (an empty list matches everything).
bool MatchesAll(const Matchers& matchers, const OwnedLabels& labels);
// `{a="b",c=~"d"}` in the given order, as labels.Matchers.String().
std::string MatchersToString(const Matchers& matchers);

// labels.ParseMatcher: one matcher; the value may be double-quoted or bare and
// is trimmed of surrounding whitespace. Errors carry Alertmanager's text, e.g.
// "bad matcher format: foo" or "matcher value contains unescaped double quote: a"b".
Result<Matcher> ParseMatcher(std::string_view text);
// labels.ParseMatchers: a comma-separated list with optional surrounding
// braces and a tolerated trailing comma; commas inside quotes do not split.
Result<Matchers> ParseMatchers(std::string_view text);

// The value of `name` in a sorted label set, or "" when absent.
std::string_view LabelValue(const OwnedLabels& labels, std::string_view name) noexcept;
// Prometheus label names: [a-zA-Z_][a-zA-Z0-9_]*.
bool IsValidLabelName(std::string_view name) noexcept;

// Config helpers. Errors read "file:line:col: message" at the offending node.
//
// A `matchers:` list (each item a ParseMatchers string). Null means none.
Result<Matchers> ParseMatchersList(const ConfigNode& node);
// A legacy `match:` map (label: value) as equality matchers.
Result<Matchers> ParseLegacyMatch(const ConfigNode& node);
// A legacy `match_re:` map as regex matchers. Like Alertmanager 0.25, the value
// is kept as the already anchored "^(?:re)$", which is how amtool prints it.
Result<Matchers> ParseLegacyMatchRe(const ConfigNode& node);

}  // namespace nimify::actions

#endif  // NIMIFY_ACTIONS_MATCHERS_H_
