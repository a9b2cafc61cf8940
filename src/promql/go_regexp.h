// Go's regexp/syntax error text for a pattern RE2 refused, as Prometheus and
// Alertmanager show it: "error parsing regexp: missing closing ): `a(`".
#ifndef NIMIFY_PROMQL_GO_REGEXP_H_
#define NIMIFY_PROMQL_GO_REGEXP_H_

#include <re2/re2.h>

#include <string>

namespace nimify::promql {

// Recompiles `pattern` unwrapped (callers anchor it) so the fragment RE2
// reports is the user's text.
std::string GoRegexpError(const std::string& pattern, const RE2::Options& opts);

}  // namespace nimify::promql

#endif  // NIMIFY_PROMQL_GO_REGEXP_H_
