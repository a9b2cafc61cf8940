// Names of operators and the canonical printer (Prometheus's printer.go).
#include "promql/ast.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "promql/lexer.h"
#include "promql/parser.h"

namespace nimify::promql {

const char* BinaryOpName(BinaryOp op) noexcept {
  switch (op) {
    case BinaryOp::kAdd:
      return "+";
    case BinaryOp::kSub:
      return "-";
    case BinaryOp::kMul:
      return "*";
    case BinaryOp::kDiv:
      return "/";
    case BinaryOp::kMod:
      return "%";
    case BinaryOp::kPow:
      return "^";
    case BinaryOp::kAtan2:
      return "atan2";
    case BinaryOp::kEql:
      return "==";
    case BinaryOp::kNeq:
      return "!=";
    case BinaryOp::kGtr:
      return ">";
    case BinaryOp::kLss:
      return "<";
    case BinaryOp::kGte:
      return ">=";
    case BinaryOp::kLte:
      return "<=";
    case BinaryOp::kAnd:
      return "and";
    case BinaryOp::kOr:
      return "or";
    case BinaryOp::kUnless:
      return "unless";
  }
  return "?";
}

bool IsComparison(BinaryOp op) noexcept {
  switch (op) {
    case BinaryOp::kEql:
    case BinaryOp::kNeq:
    case BinaryOp::kGtr:
    case BinaryOp::kLss:
    case BinaryOp::kGte:
    case BinaryOp::kLte:
      return true;
    default:
      return false;
  }
}

bool IsSetOperator(BinaryOp op) noexcept {
  return op == BinaryOp::kAnd || op == BinaryOp::kOr || op == BinaryOp::kUnless;
}

const char* AggregateOpName(AggregateOp op) noexcept {
  switch (op) {
    case AggregateOp::kSum:
      return "sum";
    case AggregateOp::kAvg:
      return "avg";
    case AggregateOp::kCount:
      return "count";
    case AggregateOp::kMin:
      return "min";
    case AggregateOp::kMax:
      return "max";
    case AggregateOp::kGroup:
      return "group";
    case AggregateOp::kStddev:
      return "stddev";
    case AggregateOp::kStdvar:
      return "stdvar";
    case AggregateOp::kTopK:
      return "topk";
    case AggregateOp::kBottomK:
      return "bottomk";
    case AggregateOp::kCountValues:
      return "count_values";
    case AggregateOp::kQuantile:
      return "quantile";
    case AggregateOp::kLimitK:
      return "limitk";
    case AggregateOp::kLimitRatio:
      return "limit_ratio";
  }
  return "?";
}

namespace {

// Label names print bare when they lex back as a label name: legacy names,
// except the few words that are not labels in by(...) lists.
bool PrintsBare(std::string_view name) {
  if (!IsValidLabelName(name)) return false;
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  return lower != "without" && lower != "inf" && lower != "nan";
}

// strconv.FormatFloat(v, 'f', -1, 64).
void AppendNumber(double v, std::string* out) {
  if (std::isnan(v)) {
    *out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    *out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  // The shortest round-trip digits, written out without an exponent.
  char buf[64];
  const auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  if (ec != std::errc()) {
    std::snprintf(buf, sizeof(buf), "%.17g", v);
    *out += buf;
    return;
  }
  const std::string_view sci(buf, static_cast<std::size_t>(ptr - buf));
  const std::size_t e = sci.find('e');
  std::string_view mantissa = sci.substr(0, e);
  if (!mantissa.empty() && mantissa[0] == '-') {
    out->push_back('-');
    mantissa.remove_prefix(1);
  }
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits.push_back(c);
  }
  int exponent = 0;
  std::from_chars(sci.data() + e + 1 + (sci[e + 1] == '+' ? 1 : 0), sci.data() + sci.size(),
                  exponent);
  const int point = exponent + 1;  // digits before the decimal point
  const int n = static_cast<int>(digits.size());
  if (point <= 0) {
    *out += "0.";
    out->append(static_cast<std::size_t>(-point), '0');
    *out += digits;
  } else if (point >= n) {
    *out += digits;
    out->append(static_cast<std::size_t>(point - n), '0');
  } else {
    out->append(digits, 0, static_cast<std::size_t>(point));
    out->push_back('.');
    out->append(digits, static_cast<std::size_t>(point), std::string::npos);
  }
}

// model.Duration(seconds).String() for a duration-literal number.
void AppendDurationSeconds(double seconds, std::string* out) {
  const bool negative = seconds < 0;
  const double magnitude = std::abs(seconds);
  // Nanoseconds as Go's time.Duration holds them (rounded, inside int64).
  const double nanos = std::min(std::round(magnitude * 1e9), 9.2e18);
  auto ms = static_cast<std::int64_t>(nanos) / 1'000'000;
  // Past about 104 days the product loses the nanoseconds and can land just
  // under a whole millisecond (`50731d4h5s50507ms` printed as `...55s506ms`,
  // and that again as `...55s505ms`). Print the literal that parses back to
  // this very value, so that printing is a fixed point; Prometheus truncates
  // here and prints one millisecond less.
  if (DurationLiteralSeconds((ms + 1) * 1'000'000) == magnitude) ++ms;
  if (negative) out->push_back('-');
  *out += FormatDuration(ms);
}

void AppendLabelList(const std::vector<std::string>& names, std::string* out) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) *out += ", ";
    if (PrintsBare(names[i])) {
      *out += names[i];
    } else {
      *out += GoQuote(names[i]);
    }
  }
}

void AppendAt(AtKind at, std::int64_t at_ms, std::string* out) {
  switch (at) {
    case AtKind::kNone:
      return;
    case AtKind::kStart:
      *out += " @ start()";
      return;
    case AtKind::kEnd:
      *out += " @ end()";
      return;
    case AtKind::kTimestamp: {
      char buf[64];
      std::snprintf(buf, sizeof(buf), " @ %.3f", static_cast<double>(at_ms) / 1000.0);
      *out += buf;
      return;
    }
  }
}

void AppendOffset(std::int64_t offset_ms, std::string* out) {
  if (offset_ms > 0) {
    *out += " offset ";
    *out += FormatDuration(offset_ms);
  } else if (offset_ms < 0) {
    *out += " offset -";
    // -INT64_MIN is not representable; FormatDuration handles the sign itself.
    const std::string d = FormatDuration(offset_ms);
    out->append(d, 1, std::string::npos);
  }
}

// The selector's name and matchers, without @ and offset.
void AppendSelectorBody(const VectorSelector& vs, std::string* out) {
  std::vector<std::string> parts;
  parts.reserve(vs.matchers.size());
  for (const auto& m : vs.matchers) {
    if (m.name() == kMetricNameLabel && m.type() == MatchType::kEqual && m.value() == vs.name &&
        !m.value().empty()) {
      continue;
    }
    parts.push_back(m.ToString());
  }
  *out += vs.name;
  if (parts.empty()) return;
  std::sort(parts.begin(), parts.end());
  out->push_back('{');
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out->push_back(',');
    *out += parts[i];
  }
  out->push_back('}');
}

void AppendExpr(const Expr& e, std::string* out);

bool IsPositiveInfinity(const Expr& e) {
  if (e.kind() != ExprKind::kNumberLiteral) return false;
  const auto& n = static_cast<const NumberLiteral&>(e);
  return std::isinf(n.value) && n.value > 0;
}

void AppendMatching(const BinaryExpr& b, std::string* out) {
  if (!b.matching) return;
  const VectorMatching& m = *b.matching;
  const bool grouped = m.card == Cardinality::kManyToOne || m.card == Cardinality::kOneToMany;
  if (!m.matching_labels.empty() || m.on || grouped) {
    *out += m.on ? " on (" : " ignoring (";
    AppendLabelList(m.matching_labels, out);
    out->push_back(')');
  }
  if (grouped) {
    *out += m.card == Cardinality::kManyToOne ? " group_left (" : " group_right (";
    AppendLabelList(m.include, out);
    out->push_back(')');
  }
}

void AppendExpr(const Expr& e, std::string* out) {
  switch (e.kind()) {
    case ExprKind::kNumberLiteral: {
      const auto& n = static_cast<const NumberLiteral&>(e);
      if (n.is_duration && std::isfinite(n.value)) {
        AppendDurationSeconds(n.value, out);
      } else {
        AppendNumber(n.value, out);
      }
      return;
    }
    case ExprKind::kStringLiteral:
      *out += GoQuote(static_cast<const StringLiteral&>(e).value);
      return;
    case ExprKind::kVectorSelector: {
      const auto& vs = static_cast<const VectorSelector&>(e);
      AppendSelectorBody(vs, out);
      AppendAt(vs.at, vs.at_ms, out);
      AppendOffset(vs.offset_ms, out);
      return;
    }
    case ExprKind::kMatrixSelector: {
      const auto& ms = static_cast<const MatrixSelector&>(e);
      if (ms.selector == nullptr) return;
      AppendSelectorBody(*ms.selector, out);
      out->push_back('[');
      *out += FormatDuration(ms.range_ms);
      out->push_back(']');
      AppendAt(ms.selector->at, ms.selector->at_ms, out);
      AppendOffset(ms.selector->offset_ms, out);
      return;
    }
    case ExprKind::kSubquery: {
      const auto& sq = static_cast<const SubqueryExpr&>(e);
      if (sq.expr != nullptr) AppendExpr(*sq.expr, out);
      out->push_back('[');
      *out += FormatDuration(sq.range_ms);
      out->push_back(':');
      if (sq.step_ms != 0) *out += FormatDuration(sq.step_ms);
      out->push_back(']');
      AppendAt(sq.at, sq.at_ms, out);
      AppendOffset(sq.offset_ms, out);
      return;
    }
    case ExprKind::kUnary: {
      const auto& u = static_cast<const UnaryExpr&>(e);
      out->push_back(u.negate ? '-' : '+');
      if (u.expr != nullptr) AppendExpr(*u.expr, out);
      return;
    }
    case ExprKind::kBinary: {
      const auto& b = static_cast<const BinaryExpr&>(e);
      if (b.lhs != nullptr && b.op == BinaryOp::kPow && IsPositiveInfinity(*b.lhs)) {
        // "+Inf ^ x" would read back as +(Inf ^ x): unary signs bind looser than '^'.
        *out += "Inf";
      } else if (b.lhs != nullptr) {
        AppendExpr(*b.lhs, out);
      }
      out->push_back(' ');
      *out += BinaryOpName(b.op);
      if (b.return_bool) *out += " bool";
      AppendMatching(b, out);
      out->push_back(' ');
      if (b.rhs != nullptr) AppendExpr(*b.rhs, out);
      return;
    }
    case ExprKind::kParen: {
      const auto& p = static_cast<const ParenExpr&>(e);
      out->push_back('(');
      if (p.expr != nullptr) AppendExpr(*p.expr, out);
      out->push_back(')');
      return;
    }
    case ExprKind::kCall: {
      const auto& c = static_cast<const Call&>(e);
      if (c.func != nullptr) *out += c.func->name;
      out->push_back('(');
      for (std::size_t i = 0; i < c.args.size(); ++i) {
        if (i > 0) *out += ", ";
        if (c.args[i] != nullptr) AppendExpr(*c.args[i], out);
      }
      out->push_back(')');
      return;
    }
    case ExprKind::kAggregate: {
      const auto& a = static_cast<const AggregateExpr&>(e);
      *out += AggregateOpName(a.op);
      if (a.without) {
        *out += " without (";
        AppendLabelList(a.grouping, out);
        *out += ") ";
      } else if (!a.grouping.empty()) {
        *out += " by (";
        AppendLabelList(a.grouping, out);
        *out += ") ";
      }
      out->push_back('(');
      if (a.param != nullptr) {
        AppendExpr(*a.param, out);
        *out += ", ";
      }
      if (a.expr != nullptr) AppendExpr(*a.expr, out);
      out->push_back(')');
      return;
    }
  }
}

}  // namespace

std::string Expr::ToString() const {
  std::string out;
  AppendExpr(*this, &out);
  return out;
}

}  // namespace nimify::promql
