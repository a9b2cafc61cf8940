// Static analysis of a PromQL expression, for the engine to know before it
// runs a rule: the vector selectors (so the pipeline can tell which series
// feed the rule), how far back in time it reads (so the shards keep enough
// history), and what its result can do while its inputs are quiet.
#ifndef NIMIFY_PROMQL_ANALYSIS_H_
#define NIMIFY_PROMQL_ANALYSIS_H_

#include <cstdint>
#include <vector>

#include "promql/ast.h"
#include "promql/storage.h"

namespace nimify::promql {

// The matchers of every vector selector in `expr` (matrix selectors and
// subqueries included), in tree order.
std::vector<std::vector<LabelMatcher>> CollectSelectors(const Expr& expr);

// How far before the evaluation instant `expr` may read samples: the largest
// range + offset of its selectors (+ lookback for instant selectors, +
// the ranges of enclosing subqueries). `@` modifiers are ignored: samples
// they pin are kept only while inside this window.
std::int64_t LookbehindMs(const Expr& expr, std::int64_t lookback_ms);

// True when some selector or subquery of `expr` has an offset or an `@`
// modifier, so that a sample at time T can change results at other instants.
bool HasTimeShift(const Expr& expr);

// What the result of an expression can do between two instants t1 < t2 when
// no series it selects got a sample with a timestamp in (t1, t2]: time still
// passes, so samples leave lookback and range windows, rates extrapolate to
// other bounds, absent() may start to return its series. Ordered from the
// weakest guarantee to the strongest.
enum class QuietChange : std::uint8_t {
  kAny,             // the result may change arbitrarily (time(), absent, `x > 0` on a rate, ...)
  kEmptyStaysEmpty, // an empty result stays empty
  kShrinks,         // the set of output label sets can only shrink; values may change
  kShrinksSameValues,  // only shrinks, and every remaining element keeps its value
  kConstant,        // a scalar or string that never changes (literals and arithmetic on them)
};

// The guarantee for `expr` (selectors with offset or @ count as kAny: a sample
// at T changes results at other instants). An evaluation at t2 of a rule whose
// result was empty at t1 can be skipped when this is at least
// kEmptyStaysEmpty and none of its selectors got a sample in (t1, t2].
QuietChange ClassifyQuietChange(const Expr& expr);

// True when `expr` returns nothing if its selectors select no samples: every
// element of its result comes from some selected sample. False for absent(),
// vector(), time(), the date functions without arguments, `or` with such a
// side, and scalar results. Such a rule cannot have a result while all its
// input samples are older than its LookbehindMs.
bool ResultNeedsSamples(const Expr& expr);

}  // namespace nimify::promql

#endif  // NIMIFY_PROMQL_ANALYSIS_H_
