#include "promql/analysis.h"

#include <algorithm>
#include <string_view>

#include "promql/functions.h"

namespace nimify::promql {
namespace {

void Collect(const Expr& expr, std::vector<std::vector<LabelMatcher>>* out) {
  // A matrix selector's child is its vector selector.
  if (expr.kind() == ExprKind::kVectorSelector) {
    out->push_back(static_cast<const VectorSelector&>(expr).matchers);
    return;
  }
  ForEachChild(expr, [out](const Expr& child) { Collect(child, out); });
}

}  // namespace

std::vector<std::vector<LabelMatcher>> CollectSelectors(const Expr& expr) {
  std::vector<std::vector<LabelMatcher>> out;
  Collect(expr, &out);
  return out;
}

std::int64_t LookbehindMs(const Expr& expr, std::int64_t lookback_ms) {
  switch (expr.kind()) {
    case ExprKind::kNumberLiteral:
    case ExprKind::kStringLiteral:
      return 0;
    case ExprKind::kVectorSelector: {
      const auto& v = static_cast<const VectorSelector&>(expr);
      return std::max<std::int64_t>(v.offset_ms, 0) + lookback_ms;
    }
    case ExprKind::kMatrixSelector: {
      const auto& m = static_cast<const MatrixSelector&>(expr);
      const std::int64_t offset = m.selector ? std::max<std::int64_t>(m.selector->offset_ms, 0) : 0;
      return m.range_ms + offset;
    }
    case ExprKind::kSubquery: {
      const auto& s = static_cast<const SubqueryExpr&>(expr);
      // The inner expression runs at steps inside the range, each reading its own lookbehind.
      return s.range_ms + std::max<std::int64_t>(s.offset_ms, 0) + s.step_ms +
             LookbehindMs(*s.expr, lookback_ms);
    }
    case ExprKind::kUnary:
      return LookbehindMs(*static_cast<const UnaryExpr&>(expr).expr, lookback_ms);
    case ExprKind::kBinary: {
      const auto& b = static_cast<const BinaryExpr&>(expr);
      return std::max(LookbehindMs(*b.lhs, lookback_ms), LookbehindMs(*b.rhs, lookback_ms));
    }
    case ExprKind::kParen:
      return LookbehindMs(*static_cast<const ParenExpr&>(expr).expr, lookback_ms);
    case ExprKind::kCall: {
      std::int64_t out = 0;
      for (const auto& arg : static_cast<const Call&>(expr).args) {
        out = std::max(out, LookbehindMs(*arg, lookback_ms));
      }
      return out;
    }
    case ExprKind::kAggregate: {
      const auto& a = static_cast<const AggregateExpr&>(expr);
      std::int64_t out = LookbehindMs(*a.expr, lookback_ms);
      if (a.param) out = std::max(out, LookbehindMs(*a.param, lookback_ms));
      return out;
    }
  }
  return lookback_ms;
}

bool HasTimeShift(const Expr& expr) {
  if (expr.kind() == ExprKind::kVectorSelector) {
    const auto& v = static_cast<const VectorSelector&>(expr);
    if (v.offset_ms != 0 || v.at != AtKind::kNone) return true;
  } else if (expr.kind() == ExprKind::kSubquery) {
    const auto& s = static_cast<const SubqueryExpr&>(expr);
    if (s.offset_ms != 0 || s.at != AtKind::kNone) return true;
  }
  bool shifted = false;
  ForEachChild(expr, [&shifted](const Expr& child) {
    shifted = shifted || HasTimeShift(child);
  });
  return shifted;
}

namespace {

bool IsConstant(QuietChange c) { return c == QuietChange::kConstant; }

QuietChange ClassifyCall(const Call& call) {
  const QuietClass quiet = call.func->quiet;
  if (quiet == QuietClass::kConstant) return QuietChange::kConstant;
  if (quiet == QuietClass::kVectorOf) {
    return !call.args.empty() && IsConstant(ClassifyQuietChange(*call.args[0]))
               ? QuietChange::kShrinksSameValues
               : QuietChange::kAny;
  }
  if (quiet == QuietClass::kWindow || quiet == QuietClass::kWindowLastValue) {
    bool has_window = false;
    for (const auto& arg : call.args) {
      if (arg->kind() == ExprKind::kMatrixSelector) {
        // Subqueries are not accepted: their steps are instants of their own.
        if (HasTimeShift(*arg)) return QuietChange::kAny;
        has_window = true;
      } else if (!IsConstant(ClassifyQuietChange(*arg))) {
        return QuietChange::kAny;
      }
    }
    if (!has_window) return QuietChange::kAny;
    return quiet == QuietClass::kWindowLastValue ? QuietChange::kShrinksSameValues
                                                 : QuietChange::kShrinks;
  }
  const bool elementwise = quiet == QuietClass::kElementwise;
  if (!elementwise && quiet != QuietClass::kHistogramQuantile) return QuietChange::kAny;
  // The vector argument is the first one, except for histogram_quantile(φ, v).
  const std::size_t vector_arg = elementwise ? 0 : 1;
  if (call.args.size() <= vector_arg) return QuietChange::kAny;
  QuietChange inner = QuietChange::kAny;
  for (std::size_t i = 0; i < call.args.size(); ++i) {
    const QuietChange c = ClassifyQuietChange(*call.args[i]);
    if (i == vector_arg) {
      inner = c;
    } else if (!IsConstant(c)) {
      return QuietChange::kAny;
    }
  }
  if (IsConstant(inner)) return QuietChange::kAny;
  // histogram_quantile combines the buckets of a group: values change as buckets go.
  return elementwise ? inner : std::min(inner, QuietChange::kShrinks);
}

QuietChange ClassifyAggregate(const AggregateExpr& agg) {
  if (agg.param && !IsConstant(ClassifyQuietChange(*agg.param))) return QuietChange::kAny;
  const QuietChange inner = ClassifyQuietChange(*agg.expr);
  if (inner == QuietChange::kAny || IsConstant(inner)) return QuietChange::kAny;
  switch (agg.op) {
    case AggregateOp::kSum:
    case AggregateOp::kAvg:
    case AggregateOp::kCount:
    case AggregateOp::kMin:
    case AggregateOp::kMax:
    case AggregateOp::kGroup:
    case AggregateOp::kStddev:
    case AggregateOp::kStdvar:
    case AggregateOp::kQuantile:
      // One output per group; a group ends when its last member does.
      return std::min(inner, QuietChange::kShrinks);
    case AggregateOp::kTopK:
    case AggregateOp::kBottomK:
    case AggregateOp::kCountValues:
    case AggregateOp::kLimitK:
    case AggregateOp::kLimitRatio:
      // Which elements (or value labels) come out depends on the values.
      return QuietChange::kEmptyStaysEmpty;
  }
  return QuietChange::kAny;
}

QuietChange ClassifyBinary(const BinaryExpr& b) {
  const QuietChange l = ClassifyQuietChange(*b.lhs);
  const QuietChange r = ClassifyQuietChange(*b.rhs);
  if (l == QuietChange::kAny || r == QuietChange::kAny) return QuietChange::kAny;
  const bool filter = IsComparison(b.op) && !b.return_bool;
  if (IsConstant(l) && IsConstant(r)) return QuietChange::kConstant;
  if (IsConstant(l) || IsConstant(r)) {
    const QuietChange v = IsConstant(l) ? r : l;
    // A filter keeps elements by value: only safe while values stay.
    if (filter) return v == QuietChange::kShrinksSameValues ? v : QuietChange::kAny;
    return v;
  }
  const QuietChange both = std::min(l, r);
  switch (b.op) {
    case BinaryOp::kOr:
      // Both sides empty before, both stay empty. (An element of the right
      // side hidden by the left one can appear when the left one goes.)
      return QuietChange::kEmptyStaysEmpty;
    case BinaryOp::kUnless:
      return QuietChange::kAny;  // the right side going away lets elements through
    default:
      break;
  }
  if (filter) return both == QuietChange::kShrinksSameValues ? both : QuietChange::kAny;
  // and, arithmetic, bool comparisons: one output per matched pair, and
  // matches only disappear when both sides only shrink.
  return both >= QuietChange::kShrinks ? both : QuietChange::kAny;
}

}  // namespace

QuietChange ClassifyQuietChange(const Expr& expr) {
  switch (expr.kind()) {
    case ExprKind::kNumberLiteral:
    case ExprKind::kStringLiteral:
      return QuietChange::kConstant;
    case ExprKind::kVectorSelector: {
      const auto& v = static_cast<const VectorSelector&>(expr);
      // Each series shows its latest sample while it is inside the lookback window.
      if (v.offset_ms != 0 || v.at != AtKind::kNone) return QuietChange::kAny;
      return QuietChange::kShrinksSameValues;
    }
    case ExprKind::kMatrixSelector:
    case ExprKind::kSubquery:
      return QuietChange::kAny;  // only as arguments of window functions (ClassifyCall)
    case ExprKind::kUnary:
      return ClassifyQuietChange(*static_cast<const UnaryExpr&>(expr).expr);
    case ExprKind::kParen:
      return ClassifyQuietChange(*static_cast<const ParenExpr&>(expr).expr);
    case ExprKind::kBinary:
      return ClassifyBinary(static_cast<const BinaryExpr&>(expr));
    case ExprKind::kCall:
      return ClassifyCall(static_cast<const Call&>(expr));
    case ExprKind::kAggregate:
      return ClassifyAggregate(static_cast<const AggregateExpr&>(expr));
  }
  return QuietChange::kAny;
}

bool ResultNeedsSamples(const Expr& expr) {
  switch (expr.kind()) {
    case ExprKind::kNumberLiteral:
    case ExprKind::kStringLiteral:
      return false;
    case ExprKind::kVectorSelector:
    case ExprKind::kMatrixSelector:
      return true;
    case ExprKind::kSubquery:
      return ResultNeedsSamples(*static_cast<const SubqueryExpr&>(expr).expr);
    case ExprKind::kUnary:
      return ResultNeedsSamples(*static_cast<const UnaryExpr&>(expr).expr);
    case ExprKind::kParen:
      return ResultNeedsSamples(*static_cast<const ParenExpr&>(expr).expr);
    case ExprKind::kAggregate:
      // Aggregating nothing gives nothing, whatever the parameter.
      return ResultNeedsSamples(*static_cast<const AggregateExpr&>(expr).expr);
    case ExprKind::kCall: {
      const auto& call = static_cast<const Call&>(expr);
      if (call.func->return_type != ValueType::kVector || call.func->makes_elements) {
        return false;
      }
      // Each output element comes from an element of the first vector or
      // range argument; without one (minute(), hour(), ...) the functions
      // read vector(time()).
      for (const auto& arg : call.args) {
        if (arg->type() == ValueType::kVector || arg->type() == ValueType::kMatrix) {
          return ResultNeedsSamples(*arg);
        }
      }
      return false;
    }
    case ExprKind::kBinary: {
      const auto& b = static_cast<const BinaryExpr&>(expr);
      const bool lhs_vector = b.lhs->type() == ValueType::kVector;
      const bool rhs_vector = b.rhs->type() == ValueType::kVector;
      if (!lhs_vector && !rhs_vector) return false;  // a scalar
      const bool lhs = lhs_vector && ResultNeedsSamples(*b.lhs);
      const bool rhs = rhs_vector && ResultNeedsSamples(*b.rhs);
      if (!lhs_vector) return rhs;
      if (!rhs_vector) return lhs;
      switch (b.op) {
        case BinaryOp::kOr:
          return lhs && rhs;
        case BinaryOp::kUnless:
          return lhs;
        default:
          return lhs || rhs;  // `and`, arithmetic and comparisons need a match
      }
    }
  }
  return false;
}

}  // namespace nimify::promql
