// The PromQL syntax tree produced by the parser and read by the evaluator.
//
// Nodes own their children. Positions are byte offsets into the query text.
// The parser type-checks the tree before returning it, so the evaluator may
// rely on every node's type() and on the argument types of every Call.
#ifndef NIMIFY_PROMQL_AST_H_
#define NIMIFY_PROMQL_AST_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "promql/functions.h"
#include "promql/storage.h"
#include "promql/value.h"

namespace nimify::promql {

struct PosRange {
  int start = 0;  // byte offset, inclusive
  int end = 0;    // byte offset, exclusive
};

enum class ExprKind : std::uint8_t {
  kNumberLiteral,
  kStringLiteral,
  kVectorSelector,
  kMatrixSelector,
  kSubquery,
  kUnary,
  kBinary,
  kParen,
  kCall,
  kAggregate,
};

class Expr {
 public:
  virtual ~Expr() = default;
  ExprKind kind() const noexcept { return kind_; }
  ValueType type() const noexcept { return type_; }
  PosRange pos;

  // Canonical PromQL text, as Prometheus's String() prints it.
  std::string ToString() const;

 protected:
  Expr(ExprKind kind, ValueType type) : kind_(kind), type_(type) {}
  ExprKind kind_;
  ValueType type_;
  friend class Parser;
};

using ExprPtr = std::unique_ptr<Expr>;

// `@` modifier on a selector or subquery.
enum class AtKind : std::uint8_t { kNone, kTimestamp, kStart, kEnd };

struct NumberLiteral final : Expr {
  NumberLiteral() : Expr(ExprKind::kNumberLiteral, ValueType::kScalar) {}
  double value = 0;
  bool is_duration = false;  // written as a duration (`5m`): printed as one
};

struct StringLiteral final : Expr {
  StringLiteral() : Expr(ExprKind::kStringLiteral, ValueType::kString) {}
  std::string value;
};

struct VectorSelector final : Expr {
  VectorSelector() : Expr(ExprKind::kVectorSelector, ValueType::kVector) {}
  std::string name;                    // metric name if given outside braces, else empty
  std::vector<LabelMatcher> matchers;  // includes __name__="name" when a name was given
  std::int64_t offset_ms = 0;          // positive = look back; negative offsets allowed
  AtKind at = AtKind::kNone;
  std::int64_t at_ms = 0;              // when at == kTimestamp
};

struct MatrixSelector final : Expr {
  MatrixSelector() : Expr(ExprKind::kMatrixSelector, ValueType::kMatrix) {}
  std::unique_ptr<VectorSelector> selector;  // carries offset and @
  std::int64_t range_ms = 0;
};

struct SubqueryExpr final : Expr {
  SubqueryExpr() : Expr(ExprKind::kSubquery, ValueType::kMatrix) {}
  ExprPtr expr;
  std::int64_t range_ms = 0;
  std::int64_t step_ms = 0;  // 0 = the engine's default subquery step
  std::int64_t offset_ms = 0;
  AtKind at = AtKind::kNone;
  std::int64_t at_ms = 0;
};

struct UnaryExpr final : Expr {
  explicit UnaryExpr(ValueType t) : Expr(ExprKind::kUnary, t) {}
  bool negate = true;  // '-' (true) or '+' (false)
  ExprPtr expr;
};

enum class BinaryOp : std::uint8_t {
  kAdd, kSub, kMul, kDiv, kMod, kPow, kAtan2,
  kEql, kNeq, kGtr, kLss, kGte, kLte,
  kAnd, kOr, kUnless,
};
const char* BinaryOpName(BinaryOp op) noexcept;  // "+", "==", "and", "atan2", ...
bool IsComparison(BinaryOp op) noexcept;
bool IsSetOperator(BinaryOp op) noexcept;  // and, or, unless

enum class Cardinality : std::uint8_t { kOneToOne, kManyToOne, kOneToMany, kManyToMany };

struct VectorMatching {
  Cardinality card = Cardinality::kOneToOne;
  std::vector<std::string> matching_labels;  // on(...) or ignoring(...) labels
  bool on = false;                           // true: on(), false: ignoring()
  std::vector<std::string> include;          // group_left/group_right extra labels
};

struct BinaryExpr final : Expr {
  explicit BinaryExpr(ValueType t) : Expr(ExprKind::kBinary, t) {}
  BinaryOp op = BinaryOp::kAdd;
  ExprPtr lhs;
  ExprPtr rhs;
  bool return_bool = false;
  // Set when both sides are vectors (set operators always get many-to-many).
  std::optional<VectorMatching> matching;
};

struct ParenExpr final : Expr {
  explicit ParenExpr(ValueType t) : Expr(ExprKind::kParen, t) {}
  ExprPtr expr;
};

struct Call final : Expr {
  explicit Call(ValueType t) : Expr(ExprKind::kCall, t) {}
  const Function* func = nullptr;  // never null after parsing
  std::vector<ExprPtr> args;
};

enum class AggregateOp : std::uint8_t {
  kSum, kAvg, kCount, kMin, kMax, kGroup, kStddev, kStdvar,
  kTopK, kBottomK, kCountValues, kQuantile, kLimitK, kLimitRatio,
};
const char* AggregateOpName(AggregateOp op) noexcept;  // "sum", "count_values", ...

struct AggregateExpr final : Expr {
  AggregateExpr() : Expr(ExprKind::kAggregate, ValueType::kVector) {}
  AggregateOp op = AggregateOp::kSum;
  ExprPtr expr;
  ExprPtr param;                  // topk/bottomk/quantile/count_values/limit*: else null
  std::vector<std::string> grouping;
  bool without = false;
};

// Calls f(child) for each direct child of `e`, in source order (an
// aggregation's parameter before its expression); leaves have none.
template <typename F>
void ForEachChild(const Expr& e, F&& f) {
  auto visit = [&f](const Expr* child) {
    if (child != nullptr) f(*child);
  };
  switch (e.kind()) {
    case ExprKind::kMatrixSelector:
      visit(static_cast<const MatrixSelector&>(e).selector.get());
      break;
    case ExprKind::kSubquery:
      visit(static_cast<const SubqueryExpr&>(e).expr.get());
      break;
    case ExprKind::kUnary:
      visit(static_cast<const UnaryExpr&>(e).expr.get());
      break;
    case ExprKind::kBinary:
      visit(static_cast<const BinaryExpr&>(e).lhs.get());
      visit(static_cast<const BinaryExpr&>(e).rhs.get());
      break;
    case ExprKind::kParen:
      visit(static_cast<const ParenExpr&>(e).expr.get());
      break;
    case ExprKind::kCall:
      for (const auto& arg : static_cast<const Call&>(e).args) visit(arg.get());
      break;
    case ExprKind::kAggregate:
      visit(static_cast<const AggregateExpr&>(e).param.get());
      visit(static_cast<const AggregateExpr&>(e).expr.get());
      break;
    case ExprKind::kNumberLiteral:
    case ExprKind::kStringLiteral:
    case ExprKind::kVectorSelector:
      break;
  }
}

}  // namespace nimify::promql

#endif  // NIMIFY_PROMQL_AST_H_
