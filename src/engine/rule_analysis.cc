#include "engine/rule_analysis.h"

#include <algorithm>

namespace nimify::engine {
namespace {

void Collect(const promql::Expr& expr, std::vector<std::vector<promql::LabelMatcher>>* out) {
  using promql::ExprKind;
  switch (expr.kind()) {
    case ExprKind::kNumberLiteral:
    case ExprKind::kStringLiteral:
      return;
    case ExprKind::kVectorSelector:
      out->push_back(static_cast<const promql::VectorSelector&>(expr).matchers);
      return;
    case ExprKind::kMatrixSelector: {
      const auto& m = static_cast<const promql::MatrixSelector&>(expr);
      if (m.selector) out->push_back(m.selector->matchers);
      return;
    }
    case ExprKind::kSubquery:
      Collect(*static_cast<const promql::SubqueryExpr&>(expr).expr, out);
      return;
    case ExprKind::kUnary:
      Collect(*static_cast<const promql::UnaryExpr&>(expr).expr, out);
      return;
    case ExprKind::kBinary: {
      const auto& b = static_cast<const promql::BinaryExpr&>(expr);
      Collect(*b.lhs, out);
      Collect(*b.rhs, out);
      return;
    }
    case ExprKind::kParen:
      Collect(*static_cast<const promql::ParenExpr&>(expr).expr, out);
      return;
    case ExprKind::kCall:
      for (const auto& arg : static_cast<const promql::Call&>(expr).args) Collect(*arg, out);
      return;
    case ExprKind::kAggregate: {
      const auto& a = static_cast<const promql::AggregateExpr&>(expr);
      if (a.param) Collect(*a.param, out);
      Collect(*a.expr, out);
      return;
    }
  }
}

}  // namespace

std::vector<std::vector<promql::LabelMatcher>> CollectSelectors(const promql::Expr& expr) {
  std::vector<std::vector<promql::LabelMatcher>> out;
  Collect(expr, &out);
  return out;
}

std::int64_t LookbehindMs(const promql::Expr& expr, std::int64_t lookback_ms) {
  using promql::ExprKind;
  switch (expr.kind()) {
    case ExprKind::kNumberLiteral:
    case ExprKind::kStringLiteral:
      return 0;
    case ExprKind::kVectorSelector: {
      const auto& v = static_cast<const promql::VectorSelector&>(expr);
      return std::max<std::int64_t>(v.offset_ms, 0) + lookback_ms;
    }
    case ExprKind::kMatrixSelector: {
      const auto& m = static_cast<const promql::MatrixSelector&>(expr);
      const std::int64_t offset = m.selector ? std::max<std::int64_t>(m.selector->offset_ms, 0) : 0;
      return m.range_ms + offset;
    }
    case ExprKind::kSubquery: {
      const auto& s = static_cast<const promql::SubqueryExpr&>(expr);
      // The inner expression runs at steps inside the range, each reading its own lookbehind.
      return s.range_ms + std::max<std::int64_t>(s.offset_ms, 0) + s.step_ms +
             LookbehindMs(*s.expr, lookback_ms);
    }
    case ExprKind::kUnary:
      return LookbehindMs(*static_cast<const promql::UnaryExpr&>(expr).expr, lookback_ms);
    case ExprKind::kBinary: {
      const auto& b = static_cast<const promql::BinaryExpr&>(expr);
      return std::max(LookbehindMs(*b.lhs, lookback_ms), LookbehindMs(*b.rhs, lookback_ms));
    }
    case ExprKind::kParen:
      return LookbehindMs(*static_cast<const promql::ParenExpr&>(expr).expr, lookback_ms);
    case ExprKind::kCall: {
      std::int64_t out = 0;
      for (const auto& arg : static_cast<const promql::Call&>(expr).args) {
        out = std::max(out, LookbehindMs(*arg, lookback_ms));
      }
      return out;
    }
    case ExprKind::kAggregate: {
      const auto& a = static_cast<const promql::AggregateExpr&>(expr);
      std::int64_t out = LookbehindMs(*a.expr, lookback_ms);
      if (a.param) out = std::max(out, LookbehindMs(*a.param, lookback_ms));
      return out;
    }
  }
  return lookback_ms;
}

bool HasTimeShift(const promql::Expr& expr) {
  using promql::ExprKind;
  switch (expr.kind()) {
    case ExprKind::kNumberLiteral:
    case ExprKind::kStringLiteral:
      return false;
    case ExprKind::kVectorSelector: {
      const auto& v = static_cast<const promql::VectorSelector&>(expr);
      return v.offset_ms != 0 || v.at != promql::AtKind::kNone;
    }
    case ExprKind::kMatrixSelector: {
      const auto& m = static_cast<const promql::MatrixSelector&>(expr);
      return m.selector && HasTimeShift(*m.selector);
    }
    case ExprKind::kSubquery: {
      const auto& s = static_cast<const promql::SubqueryExpr&>(expr);
      return s.offset_ms != 0 || s.at != promql::AtKind::kNone || HasTimeShift(*s.expr);
    }
    case ExprKind::kUnary:
      return HasTimeShift(*static_cast<const promql::UnaryExpr&>(expr).expr);
    case ExprKind::kBinary: {
      const auto& b = static_cast<const promql::BinaryExpr&>(expr);
      return HasTimeShift(*b.lhs) || HasTimeShift(*b.rhs);
    }
    case ExprKind::kParen:
      return HasTimeShift(*static_cast<const promql::ParenExpr&>(expr).expr);
    case ExprKind::kCall:
      for (const auto& arg : static_cast<const promql::Call&>(expr).args) {
        if (HasTimeShift(*arg)) return true;
      }
      return false;
    case ExprKind::kAggregate: {
      const auto& a = static_cast<const promql::AggregateExpr&>(expr);
      return HasTimeShift(*a.expr) || (a.param && HasTimeShift(*a.param));
    }
  }
  return true;
}

}  // namespace nimify::engine
