// A hand-written recursive-descent (Pratt) parser for PromQL with the
// grammar, precedence, error messages and type checks of Prometheus 3
// (promql/parser/generated_parser.y and parse.go).
//
// Error reporting mirrors the yacc parser: only the first error is reported;
// lexer errors win when they come first; syntax errors name the unexpected
// token and, where Prometheus's grammar has an error rule, the construct
// ("in label matching", "in aggregation", ...); type errors are only looked
// for once the whole input parsed.
#include "promql/parser.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/utf8.h"
#include "promql/lexer.h"

namespace nimify::promql {

namespace {

// Deeper trees are refused so that every recursive walk (printing, checking,
// evaluating, destroying) stays far from the stack limit.
constexpr int kMaxDepth = 1000;

// Binary operator precedence, lowest first (Prometheus's %left/%right list).
constexpr int kPrecOr = 1;
constexpr int kPrecAndUnless = 2;
constexpr int kPrecComparison = 3;
constexpr int kPrecAdd = 4;
constexpr int kPrecMul = 5;
constexpr int kPrecPow = 6;

int BinaryPrecedence(TokenType t) {
  switch (t) {
    case TokenType::kLor:
      return kPrecOr;
    case TokenType::kLand:
    case TokenType::kLunless:
      return kPrecAndUnless;
    case TokenType::kEqlc:
    case TokenType::kNeq:
    case TokenType::kGte:
    case TokenType::kGtr:
    case TokenType::kLss:
    case TokenType::kLte:
    case TokenType::kTrimUpper:
    case TokenType::kTrimLower:
      return kPrecComparison;
    case TokenType::kAdd:
    case TokenType::kSub:
      return kPrecAdd;
    case TokenType::kMul:
    case TokenType::kDiv:
    case TokenType::kMod:
    case TokenType::kAtan2:
      return kPrecMul;
    case TokenType::kPow:
      return kPrecPow;
    default:
      return 0;
  }
}

BinaryOp ToBinaryOp(TokenType t) {
  switch (t) {
    case TokenType::kAdd:
      return BinaryOp::kAdd;
    case TokenType::kSub:
      return BinaryOp::kSub;
    case TokenType::kMul:
      return BinaryOp::kMul;
    case TokenType::kDiv:
      return BinaryOp::kDiv;
    case TokenType::kMod:
      return BinaryOp::kMod;
    case TokenType::kPow:
      return BinaryOp::kPow;
    case TokenType::kAtan2:
      return BinaryOp::kAtan2;
    case TokenType::kEqlc:
      return BinaryOp::kEql;
    case TokenType::kNeq:
      return BinaryOp::kNeq;
    case TokenType::kGtr:
      return BinaryOp::kGtr;
    case TokenType::kLss:
      return BinaryOp::kLss;
    case TokenType::kGte:
      return BinaryOp::kGte;
    case TokenType::kLte:
      return BinaryOp::kLte;
    case TokenType::kLand:
      return BinaryOp::kAnd;
    case TokenType::kLor:
      return BinaryOp::kOr;
    default:
      return BinaryOp::kUnless;
  }
}

AggregateOp ToAggregateOp(TokenType t) {
  switch (t) {
    case TokenType::kSum:
      return AggregateOp::kSum;
    case TokenType::kAvg:
      return AggregateOp::kAvg;
    case TokenType::kCount:
      return AggregateOp::kCount;
    case TokenType::kMin:
      return AggregateOp::kMin;
    case TokenType::kMax:
      return AggregateOp::kMax;
    case TokenType::kGroup:
      return AggregateOp::kGroup;
    case TokenType::kStddev:
      return AggregateOp::kStddev;
    case TokenType::kStdvar:
      return AggregateOp::kStdvar;
    case TokenType::kTopk:
      return AggregateOp::kTopK;
    case TokenType::kBottomk:
      return AggregateOp::kBottomK;
    case TokenType::kCountValues:
      return AggregateOp::kCountValues;
    case TokenType::kQuantile:
      return AggregateOp::kQuantile;
    case TokenType::kLimitk:
      return AggregateOp::kLimitK;
    default:
      return AggregateOp::kLimitRatio;
  }
}

bool AggregateTakesParam(AggregateOp op) {
  switch (op) {
    case AggregateOp::kTopK:
    case AggregateOp::kBottomK:
    case AggregateOp::kCountValues:
    case AggregateOp::kQuantile:
    case AggregateOp::kLimitK:
    case AggregateOp::kLimitRatio:
      return true;
    default:
      return false;
  }
}

// Keywords that may also name a metric (the grammar's metric_identifier).
bool IsMetricIdentifierToken(TokenType t) {
  if (IsAggregatorToken(t)) return true;
  switch (t) {
    case TokenType::kIdentifier:
    case TokenType::kMetricIdentifier:
    case TokenType::kBy:
    case TokenType::kFill:
    case TokenType::kFillLeft:
    case TokenType::kFillRight:
    case TokenType::kLand:
    case TokenType::kLor:
    case TokenType::kLunless:
    case TokenType::kOffset:
    case TokenType::kWithout:
    case TokenType::kStart:
    case TokenType::kEnd:
    case TokenType::kStep:
    case TokenType::kRange:
    case TokenType::kAnchored:
    case TokenType::kSmoothed:
    case TokenType::kMaxOf:
    case TokenType::kMinOf:
      return true;
    default:
      return false;
  }
}

// Keywords that may name a label in by(...)/on(...) lists (the grammar's maybe_label).
bool IsMaybeLabelToken(TokenType t) {
  if (IsAggregatorToken(t)) return true;
  switch (t) {
    case TokenType::kIdentifier:
    case TokenType::kMetricIdentifier:
    case TokenType::kBool:
    case TokenType::kBy:
    case TokenType::kGroupLeft:
    case TokenType::kGroupRight:
    case TokenType::kFill:
    case TokenType::kFillLeft:
    case TokenType::kFillRight:
    case TokenType::kIgnoring:
    case TokenType::kLand:
    case TokenType::kLor:
    case TokenType::kLunless:
    case TokenType::kOffset:
    case TokenType::kOn:
    case TokenType::kStart:
    case TokenType::kEnd:
    case TokenType::kAtan2:
    case TokenType::kStep:
    case TokenType::kRange:
    case TokenType::kAnchored:
    case TokenType::kSmoothed:
    case TokenType::kMaxOf:
    case TokenType::kMinOf:
      return true;
    default:
      return false;
  }
}

bool CanStartExpr(TokenType t) {
  if (IsMetricIdentifierToken(t)) return true;
  switch (t) {
    case TokenType::kNumber:
    case TokenType::kDuration:
    case TokenType::kString:
    case TokenType::kLeftBrace:
    case TokenType::kLeftParen:
    case TokenType::kAdd:
    case TokenType::kSub:
      return true;
    default:
      return false;
  }
}

bool IsMatchOpToken(TokenType t) {
  return t == TokenType::kEql || t == TokenType::kNeq || t == TokenType::kEqlRegex ||
         t == TokenType::kNeqRegex;
}

bool IsDurationExprStart(TokenType t) {
  return t == TokenType::kLeftParen || t == TokenType::kStep || t == TokenType::kRange ||
         t == TokenType::kMinOf || t == TokenType::kMaxOf;
}

bool IsDurationOperator(TokenType t) {
  switch (t) {
    case TokenType::kAdd:
    case TokenType::kSub:
    case TokenType::kMul:
    case TokenType::kDiv:
    case TokenType::kMod:
    case TokenType::kPow:
      return true;
    default:
      return false;
  }
}

MatchType ToMatchType(TokenType t) {
  switch (t) {
    case TokenType::kNeq:
      return MatchType::kNotEqual;
    case TokenType::kEqlRegex:
      return MatchType::kRegexMatch;
    case TokenType::kNeqRegex:
      return MatchType::kRegexNoMatch;
    default:
      return MatchType::kEqual;
  }
}

// The raw ValueType names ("matrix"), used by a few Prometheus messages.
const char* RawTypeName(ValueType t) {
  switch (t) {
    case ValueType::kScalar:
      return "scalar";
    case ValueType::kVector:
      return "vector";
    case ValueType::kMatrix:
      return "matrix";
    case ValueType::kString:
      return "string";
    case ValueType::kNone:
      return "none";
  }
  return "none";
}

// Prometheus 3 label names: any non-empty valid UTF-8.
bool IsValidUtf8LabelName(std::string_view s) { return !s.empty() && internal::IsValidUtf8(s); }

// Go's fmt %f for the @ bounds message (+Inf, -Inf, NaN, or six decimals).
std::string GoFormatF(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[400];  // the largest double in %f is 316 characters
  const int n = std::snprintf(buf, sizeof(buf), "%f", v);
  return std::string(buf, static_cast<std::size_t>(std::max(n, 0)));
}

constexpr double kTwoPow63 = 9223372036854775808.0;

// A positive range or step below one millisecond is kept as 1ms: nimify's
// times are milliseconds, and 0 would mean "no range" (or "default step").
std::int64_t PositiveMillis(double seconds);

// Seconds -> milliseconds through Go's time.Duration (rounded nanoseconds, truncated to ms).
std::int64_t SecondsToMillis(double seconds) {
  const double nanos = std::round(seconds * 1e9);
  if (nanos >= kTwoPow63) return std::numeric_limits<std::int64_t>::max() / 1'000'000;
  if (nanos <= -kTwoPow63) return std::numeric_limits<std::int64_t>::min() / 1'000'000;
  return static_cast<std::int64_t>(nanos) / 1'000'000;
}

std::int64_t PositiveMillis(double seconds) {
  return std::max<std::int64_t>(1, SecondsToMillis(seconds));
}

// Prometheus's durationLiteralOutOfRange (NaN is refused here too).
bool DurationOutOfRange(double seconds) {
  return std::isnan(seconds) || seconds > kTwoPow63 / 1e9 || seconds < -kTwoPow63 / 1e9;
}

struct Parsed {
  ExprPtr expr;
  int depth = 0;
  explicit operator bool() const noexcept { return expr != nullptr; }
};

struct Modifiers {
  bool return_bool = false;
  VectorMatching matching;
};

}  // namespace

class Parser {
 public:
  Parser(std::string_view input, const ParseOptions& options)
      : input_(input), lexer_(input), options_(options) {}

  Result<ExprPtr> ParseExpression();
  Result<Labels> ParseMetricOnly();
  Result<std::vector<LabelMatcher>> ParseSelectorOnly();

 private:
  // ---- Tokens and errors.
  const Token& Peek();
  Token Take();
  void Fail(int pos, std::string message);
  void Unexpected(std::string_view context, std::string_view expected);
  Status ErrorStatus() const;

  // After one item of a comma-separated list ended by `close`: takes a "," (a
  // trailing one right before `close` is allowed) or `close` itself, whose end
  // goes to *close_end when that is not null.
  enum class ListStep { kNextItem, kClosed, kError };
  ListStep AfterListItem(TokenType close, std::string_view context, std::string_view expected,
                         int* close_end);

  // ---- Expressions.
  Parsed ParseBinary(int min_prec, int level);
  Parsed ParseUnary(int level);
  Parsed ParsePrimary(int level);
  Parsed ParsePostfix(Parsed e);
  bool ParseModifiers(Modifiers* mods);
  bool ParseGroupingLabels(std::vector<std::string>* labels, int* close_end);
  bool ParseCallBody(std::vector<Parsed>* args, int* close_end, int level);
  Parsed ParseCall(const Token& name, int level);
  Parsed ParseAggregate(const Token& op, int level);
  Parsed ParseVectorSelector(const Token* name);
  bool ParseLabelMatchers(std::vector<LabelMatcher>* matchers, int* close_end);
  bool MakeMatcher(const Token& name_token, std::string name, MatchType type,
                   const Token& value_token, std::vector<LabelMatcher>* out);
  Parsed ParseNumberLiteral();
  Parsed ParseStringLiteral();
  Parsed ParseRangeOrSubquery(Parsed e);
  bool ParseBracketDuration(double* seconds, std::string_view context, std::string_view expected);
  // Reports Prometheus's error for a duration expression (not enabled in nimify).
  void FailDurationExpression();
  Parsed ParseOffset(Parsed e);
  Parsed ParseAt(Parsed e);
  bool NumberTokenValue(const Token& t, double* value);
  bool Unquote(const Token& t, std::string* out);
  bool CheckDepth(int depth, int pos);

  // ---- Metrics (series descriptions).
  bool ParseLabelSet(std::vector<Label>* labels);

  // ---- Type checking (Prometheus's checkAST), after a successful parse.
  ValueType Check(Expr* e);
  void ExpectType(Expr* e, ValueType want, std::string_view context);
  PosRange OperatorRange(const BinaryExpr& b) const;

  std::string_view input_;
  Lexer lexer_;
  ParseOptions options_;
  std::optional<Token> lookahead_;
  int last_end_ = 0;  // end of the last token taken
  // Innermost construct with an error rule in Prometheus's grammar that
  // encloses the current position: "" (top level) or "aggregation".
  std::string_view context_;
  bool has_error_ = false;
  int error_pos_ = 0;
  std::string error_message_;
};

// ---------------------------------------------------------------- tokens

const Token& Parser::Peek() {
  if (!lookahead_) {
    Token t = lexer_.Next();
    while (t.type == TokenType::kComment) t = lexer_.Next();
    if (t.type == TokenType::kError) Fail(t.pos, t.error);
    lookahead_ = std::move(t);
  }
  return *lookahead_;
}

Token Parser::Take() {
  Peek();
  Token t = std::move(*lookahead_);
  lookahead_.reset();
  last_end_ = t.end();
  return t;
}

void Parser::Fail(int pos, std::string message) {
  if (has_error_) return;
  has_error_ = true;
  error_pos_ = pos;
  error_message_ = std::move(message);
}

Parser::ListStep Parser::AfterListItem(TokenType close, std::string_view context,
                                       std::string_view expected, int* close_end) {
  const TokenType next = Peek().type;
  if (next == TokenType::kComma) {
    Take();
    if (Peek().type != close) return ListStep::kNextItem;
  } else if (next != close) {
    Unexpected(context, expected);
    return ListStep::kError;
  }
  const int end = Take().end();
  if (close_end != nullptr) *close_end = end;
  return ListStep::kClosed;
}

void Parser::Unexpected(std::string_view context, std::string_view expected) {
  const Token& t = Peek();
  if (has_error_) return;  // the lexer already reported this token
  std::string message = "unexpected " + t.Describe();
  if (!context.empty()) {
    message += " in ";
    message += context;
  }
  if (!expected.empty()) {
    message += ", expected ";
    message += expected;
  }
  Fail(t.pos, std::move(message));
}

Status Parser::ErrorStatus() const {
  std::string where;
  if (input_.empty()) {
    where = "unknown position";
  } else if (error_pos_ < 0 || static_cast<std::size_t>(error_pos_) > input_.size()) {
    where = "invalid position";
  } else {
    int line = 1;
    int last_line_break = -1;
    for (int i = 0; i < error_pos_; ++i) {
      if (input_[static_cast<std::size_t>(i)] == '\n') {
        last_line_break = i;
        ++line;
      }
    }
    where = std::to_string(line) + ":" + std::to_string(error_pos_ - last_line_break);
  }
  return Status::ParseError(where + ": parse error: " + error_message_);
}

bool Parser::CheckDepth(int depth, int pos) {
  if (depth <= kMaxDepth) return true;
  Fail(pos, "expression nested too deeply (more than " + std::to_string(kMaxDepth) + " levels)");
  return false;
}

bool Parser::NumberTokenValue(const Token& t, double* value) {
  if (t.type == TokenType::kDuration) {
    std::int64_t nanos = 0;
    std::string error;
    if (!ParseDurationNanos(t.text, &nanos, &error)) {
      Fail(t.pos, std::move(error));
      return false;
    }
    *value = DurationLiteralSeconds(nanos);
    return true;
  }
  std::string error;
  if (!ParseGoNumber(t.text, value, &error)) {
    Fail(t.pos, "error parsing number: " + error);
    return false;
  }
  return true;
}

bool Parser::Unquote(const Token& t, std::string* out) {
  if (UnquoteString(t.text, out)) return true;
  Fail(t.pos, "error unquoting string " + GoQuote(t.text) + ": invalid syntax");
  return false;
}

// ---------------------------------------------------------------- expressions

Parsed Parser::ParseBinary(int min_prec, int level) {
  if (!CheckDepth(level, Peek().pos)) return {};
  Parsed lhs = ParseUnary(level);
  if (!lhs) return {};
  for (;;) {
    const Token& next = Peek();
    if (has_error_) return {};
    const int prec = BinaryPrecedence(next.type);
    if (prec == 0 || prec < min_prec) return lhs;
    const Token op = Take();
    if (op.type == TokenType::kTrimUpper || op.type == TokenType::kTrimLower) {
      Fail(op.pos, "native histogram trim operator " + GoQuote(op.text) + " is not supported");
      return {};
    }
    Modifiers mods;
    if (!ParseModifiers(&mods)) return {};
    if (Peek().type == TokenType::kFill || Peek().type == TokenType::kFillLeft ||
        Peek().type == TokenType::kFillRight) {
      Fail(lhs.expr->pos.start, "binop fill modifiers are experimental and not enabled");
      return {};
    }
    // '^' is right-associative; every other operator is left-associative.
    Parsed rhs = ParseBinary(op.type == TokenType::kPow ? prec : prec + 1, level + 1);
    if (!rhs) return {};
    const bool scalar =
        lhs.expr->type() == ValueType::kScalar && rhs.expr->type() == ValueType::kScalar;
    auto bin = std::make_unique<BinaryExpr>(scalar ? ValueType::kScalar : ValueType::kVector);
    bin->op = ToBinaryOp(op.type);
    bin->return_bool = mods.return_bool;
    bin->matching = std::move(mods.matching);
    bin->pos = {lhs.expr->pos.start, rhs.expr->pos.end};
    const int depth = std::max(lhs.depth, rhs.depth) + 1;
    bin->lhs = std::move(lhs.expr);
    bin->rhs = std::move(rhs.expr);
    if (!CheckDepth(depth, bin->pos.start)) return {};
    lhs = Parsed{std::move(bin), depth};
  }
}

bool Parser::ParseModifiers(Modifiers* mods) {
  if (Peek().type == TokenType::kBool) {
    Take();
    mods->return_bool = true;
  }
  const TokenType t = Peek().type;
  if (t != TokenType::kOn && t != TokenType::kIgnoring) return !has_error_;
  Take();
  mods->matching.on = t == TokenType::kOn;
  int close_end = 0;
  if (!ParseGroupingLabels(&mods->matching.matching_labels, &close_end)) return false;
  const TokenType g = Peek().type;
  if (g != TokenType::kGroupLeft && g != TokenType::kGroupRight) return !has_error_;
  Take();
  mods->matching.card =
      g == TokenType::kGroupLeft ? Cardinality::kManyToOne : Cardinality::kOneToMany;
  // A '(' right after group_x always starts its label list, never the operand.
  if (Peek().type == TokenType::kLeftParen) {
    return ParseGroupingLabels(&mods->matching.include, &close_end);
  }
  return !has_error_;
}

bool Parser::ParseGroupingLabels(std::vector<std::string>* labels, int* close_end) {
  if (Peek().type != TokenType::kLeftParen) {
    Unexpected("grouping opts", "\"(\"");
    return false;
  }
  Take();
  if (Peek().type == TokenType::kRightParen) {
    *close_end = Take().end();
    return true;
  }
  for (;;) {
    const Token& t = Peek();
    if (has_error_) return false;
    if (IsMaybeLabelToken(t.type)) {
      labels->emplace_back(Take().text);
    } else if (t.type == TokenType::kString) {
      const Token s = Take();
      std::string name;
      if (!Unquote(s, &name)) return false;
      if (!IsValidUtf8LabelName(name)) {
        Fail(s.pos, "invalid label name for grouping: " + GoQuote(name));
        return false;
      }
      labels->push_back(std::move(name));
    } else {
      Unexpected("grouping opts", "label");
      return false;
    }
    const ListStep step =
        AfterListItem(TokenType::kRightParen, "grouping opts", "\",\" or \")\"", close_end);
    if (step == ListStep::kNextItem) continue;
    return step == ListStep::kClosed;
  }
}

Parsed Parser::ParseUnary(int level) {
  const TokenType t = Peek().type;
  if (t != TokenType::kAdd && t != TokenType::kSub) {
    Parsed primary = ParsePrimary(level);
    if (!primary) return {};
    return ParsePostfix(std::move(primary));
  }
  const Token op = Take();
  if (!CheckDepth(level + 1, op.pos)) return {};
  // Unary +/- binds like '*': only '^' (and postfix modifiers) bind tighter.
  Parsed operand = ParseBinary(kPrecPow, level + 1);
  if (!operand) return {};
  if (operand.expr->kind() == ExprKind::kNumberLiteral) {
    auto* number = static_cast<NumberLiteral*>(operand.expr.get());
    if (op.type == TokenType::kSub) number->value = -number->value;
    number->pos.start = op.pos;
    return operand;
  }
  auto unary = std::make_unique<UnaryExpr>(operand.expr->type());
  unary->negate = op.type == TokenType::kSub;
  unary->pos = {op.pos, operand.expr->pos.end};
  unary->expr = std::move(operand.expr);
  const int depth = operand.depth + 1;
  if (!CheckDepth(depth, op.pos)) return {};
  return Parsed{std::move(unary), depth};
}

Parsed Parser::ParsePrimary(int level) {
  const Token& t = Peek();
  if (has_error_) return {};
  switch (t.type) {
    case TokenType::kNumber:
    case TokenType::kDuration:
      return ParseNumberLiteral();
    case TokenType::kString:
      return ParseStringLiteral();
    case TokenType::kLeftParen: {
      const Token open = Take();
      Parsed inner = ParseBinary(kPrecOr, level + 1);
      if (!inner) return {};
      if (Peek().type != TokenType::kRightParen) {
        Unexpected(context_, "");
        return {};
      }
      const Token close = Take();
      auto paren = std::make_unique<ParenExpr>(inner.expr->type());
      paren->pos = {open.pos, close.end()};
      paren->expr = std::move(inner.expr);
      const int depth = inner.depth + 1;
      if (!CheckDepth(depth, open.pos)) return {};
      return Parsed{std::move(paren), depth};
    }
    case TokenType::kLeftBrace:
      return ParseVectorSelector(nullptr);
    default:
      break;
  }
  if (IsAggregatorToken(t.type)) {
    const Token op = Take();
    const TokenType next = Peek().type;
    if (next == TokenType::kLeftParen || next == TokenType::kBy || next == TokenType::kWithout) {
      return ParseAggregate(op, level);
    }
    if (has_error_) return {};
    return ParseVectorSelector(&op);
  }
  if (t.type == TokenType::kIdentifier || t.type == TokenType::kStart ||
      t.type == TokenType::kEnd || t.type == TokenType::kStep || t.type == TokenType::kRange ||
      t.type == TokenType::kMaxOf || t.type == TokenType::kMinOf) {
    const Token name = Take();
    if (Peek().type == TokenType::kLeftParen) return ParseCall(name, level);
    if (has_error_) return {};
    return ParseVectorSelector(&name);
  }
  if (IsMetricIdentifierToken(t.type)) {
    const Token name = Take();
    return ParseVectorSelector(&name);
  }
  Unexpected(context_, "");
  return {};
}

Parsed Parser::ParseNumberLiteral() {
  const Token t = Take();
  auto number = std::make_unique<NumberLiteral>();
  if (!NumberTokenValue(t, &number->value)) return {};
  number->is_duration = t.type == TokenType::kDuration;
  number->pos = {t.pos, t.end()};
  return Parsed{std::move(number), 1};
}

Parsed Parser::ParseStringLiteral() {
  const Token t = Take();
  auto str = std::make_unique<StringLiteral>();
  if (!Unquote(t, &str->value)) return {};
  str->pos = {t.pos, t.end()};
  return Parsed{std::move(str), 1};
}

bool Parser::ParseCallBody(std::vector<Parsed>* args, int* close_end, int level) {
  Take();  // '('
  if (Peek().type == TokenType::kRightParen) {
    *close_end = Take().end();
    return true;
  }
  for (;;) {
    Parsed arg = ParseBinary(kPrecOr, level + 1);
    if (!arg) return false;
    args->push_back(std::move(arg));
    const TokenType next = Peek().type;
    if (next == TokenType::kComma) {
      const Token comma = Take();
      const Token& after = Peek();
      if (has_error_) return false;
      if (!CanStartExpr(after.type)) {
        Fail(comma.pos, "trailing commas not allowed in function call args");
        return false;
      }
      continue;
    }
    if (next == TokenType::kRightParen) {
      *close_end = Take().end();
      return true;
    }
    Unexpected(context_, "");
    return false;
  }
}

Parsed Parser::ParseCall(const Token& name, int level) {
  std::vector<Parsed> args;
  int close_end = 0;
  if (!ParseCallBody(&args, &close_end, level)) return {};
  const Function* func = LookupFunction(name.text);
  if (func == nullptr) {
    Fail(name.pos, "unknown function with name " + GoQuote(name.text));
    return {};
  }
  if (func->experimental && !options_.enable_experimental_functions) {
    Fail(name.pos, "function " + GoQuote(name.text) + " is not enabled");
    return {};
  }
  auto call = std::make_unique<Call>(func->return_type);
  call->func = func;
  call->pos = {name.pos, close_end};
  int depth = 1;
  for (auto& arg : args) {
    depth = std::max(depth, arg.depth + 1);
    call->args.push_back(std::move(arg.expr));
  }
  if (!CheckDepth(depth, name.pos)) return {};
  return Parsed{std::move(call), depth};
}

Parsed Parser::ParseAggregate(const Token& op, int level) {
  struct ContextGuard {
    std::string_view* slot;
    std::string_view saved;
    ~ContextGuard() { *slot = saved; }
  } guard{&context_, context_};
  context_ = "aggregation";
  auto agg = std::make_unique<AggregateExpr>();
  agg->op = ToAggregateOp(op.type);
  bool modifier_first = false;
  int end = 0;
  if (Peek().type == TokenType::kBy || Peek().type == TokenType::kWithout) {
    agg->without = Take().type == TokenType::kWithout;
    modifier_first = true;
    if (!ParseGroupingLabels(&agg->grouping, &end)) return {};
  }
  if (Peek().type != TokenType::kLeftParen) {
    Unexpected("aggregation", "");
    return {};
  }
  std::vector<Parsed> args;
  if (!ParseCallBody(&args, &end, level)) return {};
  if (!modifier_first && (Peek().type == TokenType::kBy || Peek().type == TokenType::kWithout)) {
    agg->without = Take().type == TokenType::kWithout;
    if (!ParseGroupingLabels(&agg->grouping, &end)) return {};
  }
  if (has_error_) return {};
  agg->pos = {op.pos, end};
  if (args.empty()) {
    Fail(op.pos, "no arguments for aggregate expression provided");
    return {};
  }
  std::size_t wanted = 1;
  if (AggregateTakesParam(agg->op)) {
    if (!options_.enable_experimental_functions &&
        (agg->op == AggregateOp::kLimitK || agg->op == AggregateOp::kLimitRatio)) {
      Fail(op.pos, std::string(AggregateOpName(agg->op)) +
                       "() is experimental and must be enabled with "
                       "--enable-feature=promql-experimental-functions");
      return {};
    }
    wanted = 2;
  }
  if (args.size() != wanted) {
    Fail(op.pos, "wrong number of arguments for aggregate expression provided, expected " +
                     std::to_string(wanted) + ", got " + std::to_string(args.size()));
    return {};
  }
  int depth = 0;
  for (const auto& arg : args) depth = std::max(depth, arg.depth + 1);
  if (wanted == 2) agg->param = std::move(args[0].expr);
  agg->expr = std::move(args[wanted - 1].expr);
  if (!CheckDepth(depth, op.pos)) return {};
  return Parsed{std::move(agg), depth};
}

Parsed Parser::ParseVectorSelector(const Token* name) {
  auto vs = std::make_unique<VectorSelector>();
  if (name != nullptr) {
    vs->name = std::string(name->text);
    vs->pos = {name->pos, name->end()};
  }
  if (Peek().type == TokenType::kLeftBrace) {
    const int brace_pos = Peek().pos;
    int close_end = 0;
    if (!ParseLabelMatchers(&vs->matchers, &close_end)) return {};
    if (name == nullptr) vs->pos.start = brace_pos;
    vs->pos.end = close_end;
  }
  if (has_error_) return {};
  if (name != nullptr) {
    auto m = LabelMatcher::Create(MatchType::kEqual, std::string(kMetricNameLabel), vs->name);
    if (!m.ok()) {
      Fail(name->pos, std::string(m.status().message()));
      return {};
    }
    vs->matchers.push_back(std::move(m).value());
  }
  return Parsed{std::move(vs), 1};
}

bool Parser::MakeMatcher(const Token& name_token, std::string name, MatchType type,
                         const Token& value_token, std::vector<LabelMatcher>* out) {
  std::string value;
  if (!Unquote(value_token, &value)) return false;
  auto m = LabelMatcher::Create(type, std::move(name), std::move(value));
  if (!m.ok()) {
    // Prometheus shows Go's regexp error alone.
    std::string_view message = m.status().message();
    if (const auto go = message.find("error parsing regexp:"); go != std::string_view::npos) {
      message.remove_prefix(go);
    }
    Fail(name_token.pos, std::string(message));
    return false;
  }
  out->push_back(std::move(m).value());
  return true;
}

bool Parser::ParseLabelMatchers(std::vector<LabelMatcher>* matchers, int* close_end) {
  Take();  // '{'
  if (Peek().type == TokenType::kRightBrace) {
    *close_end = Take().end();
    return true;
  }
  for (;;) {
    const Token& t = Peek();
    if (has_error_) return false;
    if (t.type == TokenType::kIdentifier) {
      const Token name = Take();
      if (!IsMatchOpToken(Peek().type)) {
        Unexpected("label matching", "label matching operator");
        return false;
      }
      const Token op = Take();
      if (Peek().type != TokenType::kString) {
        Unexpected("label matching", "string");
        return false;
      }
      const Token value = Take();
      if (!MakeMatcher(name, std::string(name.text), ToMatchType(op.type), value, matchers)) {
        return false;
      }
    } else if (t.type == TokenType::kString) {
      const Token name_token = Take();
      std::string name;
      if (!Unquote(name_token, &name)) return false;
      if (IsMatchOpToken(Peek().type)) {
        const Token op = Take();
        if (Peek().type != TokenType::kString) {
          Unexpected("label matching", "string");
          return false;
        }
        const Token value = Take();
        if (!MakeMatcher(name_token, std::move(name), ToMatchType(op.type), value, matchers)) {
          return false;
        }
      } else {
        // A lone quoted string names the metric: {"metric.name"}.
        auto m = LabelMatcher::Create(MatchType::kEqual, std::string(kMetricNameLabel), name);
        if (!m.ok()) {
          Fail(name_token.pos, std::string(m.status().message()));
          return false;
        }
        matchers->push_back(std::move(m).value());
      }
    } else {
      Unexpected("label matching", "identifier or \"}\"");
      return false;
    }
    const ListStep step =
        AfterListItem(TokenType::kRightBrace, "label matching", "\",\" or \"}\"", close_end);
    if (step == ListStep::kNextItem) continue;
    return step == ListStep::kClosed;
  }
}

Parsed Parser::ParsePostfix(Parsed e) {
  for (;;) {
    const Token& t = Peek();
    if (has_error_) return {};
    switch (t.type) {
      case TokenType::kLeftBracket:
        e = ParseRangeOrSubquery(std::move(e));
        break;
      case TokenType::kOffset:
        e = ParseOffset(std::move(e));
        break;
      case TokenType::kAt:
        e = ParseAt(std::move(e));
        break;
      case TokenType::kSmoothed:
      case TokenType::kAnchored: {
        const Token modifier = Take();
        Fail(e.expr->pos.start,
             std::string(modifier.type == TokenType::kSmoothed ? "smoothed" : "anchored") +
                 " modifier is experimental and not enabled");
        return {};
      }
      default:
        return e;
    }
    if (!e) return {};
  }
}

void Parser::FailDurationExpression() {
  const Token& t = Peek();
  if (has_error_) return;
  if (t.type == TokenType::kStep || t.type == TokenType::kRange) {
    const Token keyword = Take();
    if (Peek().type != TokenType::kLeftParen) return;
    Take();
    if (Peek().type != TokenType::kRightParen) return;
    Take();
    Fail(keyword.pos, "experimental duration expression is not enabled");
    return;
  }
  if (t.type == TokenType::kMinOf || t.type == TokenType::kMaxOf) {
    const Token keyword = Take();
    if (Peek().type != TokenType::kLeftParen) return;
    Fail(keyword.pos, "experimental duration expression is not enabled");
    return;
  }
  Take();  // '('
  const Token& inner = Peek();
  if (!has_error_) Fail(inner.pos, "experimental duration expression is not enabled");
  return;
}

// A duration inside [...]: [+-]* (number | duration). Duration arithmetic,
// step(), range(), min_of() and max_of() are Prometheus's experimental
// duration expressions, which nimify does not enable.
bool Parser::ParseBracketDuration(double* seconds, std::string_view context,
                                  std::string_view expected) {
  int start = Peek().pos;
  bool negate = false;
  bool unary = false;
  while (Peek().type == TokenType::kAdd || Peek().type == TokenType::kSub) {
    if (Take().type == TokenType::kSub) negate = !negate;
    unary = true;
  }
  const Token& t = Peek();
  if (has_error_) return false;
  if (t.type != TokenType::kNumber && t.type != TokenType::kDuration) {
    if (IsDurationExprStart(t.type)) FailDurationExpression();
    if (!has_error_) Unexpected(context, expected);
    return false;
  }
  const Token literal = Take();
  if (!unary) start = literal.pos;
  double value = 0;
  if (!NumberTokenValue(literal, &value)) return false;
  if (!unary && DurationOutOfRange(value)) {
    Fail(literal.pos, "duration out of range");
    return false;
  }
  const Token& next = Peek();
  if (has_error_) return false;
  if (negate) value = -value;
  if (unary && DurationOutOfRange(value)) {
    Fail(start, "duration out of range");
    return false;
  }
  if (IsDurationOperator(next.type)) {
    Fail(start, "experimental duration expression is not enabled");
    return false;
  }
  if (value <= 0) {
    Fail(start, "duration must be greater than 0");
    return false;
  }
  *seconds = value;
  return true;
}

Parsed Parser::ParseRangeOrSubquery(Parsed e) {
  const Token open = Take();  // '['
  double range = 0;
  if (!ParseBracketDuration(&range, "subquery or range selector",
                            "number, duration, step(), or range()")) {
    return {};
  }
  const TokenType next = Peek().type;
  if (next == TokenType::kRightBracket) {
    const Token close = Take();
    const char* error = nullptr;
    if (e.expr->kind() != ExprKind::kVectorSelector) {
      error = "ranges only allowed for vector selectors";
    } else {
      const auto& vs = static_cast<const VectorSelector&>(*e.expr);
      if (vs.offset_ms != 0) {
        error = "no offset modifiers allowed before range";
      } else if (vs.at != AtKind::kNone) {
        error = "no @ modifiers allowed before range";
      }
    }
    if (error != nullptr) {
      Fail(open.pos, error);
      return {};
    }
    auto matrix = std::make_unique<MatrixSelector>();
    matrix->pos = {e.expr->pos.start, close.end()};
    matrix->range_ms = PositiveMillis(range);
    matrix->selector.reset(static_cast<VectorSelector*>(e.expr.release()));
    return Parsed{std::move(matrix), e.depth + 1};
  }
  if (next != TokenType::kColon) {
    Unexpected("subquery or range", "\":\" or \"]\"");
    return {};
  }
  Take();  // ':'
  double step = 0;
  if (Peek().type != TokenType::kRightBracket) {
    if (!ParseBracketDuration(&step, "subquery selector",
                              "number, duration, step(), range(), or \"]\"")) {
      return {};
    }
    if (Peek().type != TokenType::kRightBracket) {
      Unexpected("subquery selector", "\"]\"");
      return {};
    }
  }
  const Token close = Take();
  auto sub = std::make_unique<SubqueryExpr>();
  sub->pos = {e.expr->pos.start, close.end()};
  sub->range_ms = PositiveMillis(range);
  sub->step_ms = step > 0 ? PositiveMillis(step) : 0;
  sub->expr = std::move(e.expr);
  const int depth = e.depth + 1;
  if (!CheckDepth(depth, sub->pos.start)) return {};
  return Parsed{std::move(sub), depth};
}

Parsed Parser::ParseOffset(Parsed e) {
  Take();  // offset
  int start = Peek().pos;
  bool negate = false;
  bool unary = false;
  if (Peek().type == TokenType::kAdd || Peek().type == TokenType::kSub) {
    negate = Take().type == TokenType::kSub;
    unary = true;
  }
  const Token& t = Peek();
  if (has_error_) return {};
  if (t.type != TokenType::kNumber && t.type != TokenType::kDuration) {
    if (IsDurationExprStart(t.type)) FailDurationExpression();
    if (!has_error_) Unexpected("offset", "number, duration, step(), or range()");
    return {};
  }
  const Token literal = Take();
  if (!unary) start = literal.pos;
  double value = 0;
  if (!NumberTokenValue(literal, &value)) return {};
  Peek();
  if (has_error_) return {};
  if (negate) value = -value;
  if (DurationOutOfRange(value)) {
    Fail(start, "duration out of range");
    return {};
  }
  const std::int64_t offset_ms = SecondsToMillis(value);
  std::int64_t* target = nullptr;
  switch (e.expr->kind()) {
    case ExprKind::kVectorSelector:
      target = &static_cast<VectorSelector*>(e.expr.get())->offset_ms;
      break;
    case ExprKind::kMatrixSelector:
      target = &static_cast<MatrixSelector*>(e.expr.get())->selector->offset_ms;
      break;
    case ExprKind::kSubquery:
      target = &static_cast<SubqueryExpr*>(e.expr.get())->offset_ms;
      break;
    default:
      Fail(e.expr->pos.start,
           "offset modifier must be preceded by an instant vector selector or range vector "
           "selector or a subquery");
      return {};
  }
  if (*target != 0) {
    Fail(e.expr->pos.start, "offset may not be set multiple times");
    return {};
  }
  *target = offset_ms;
  e.expr->pos.end = last_end_;
  return e;
}

Parsed Parser::ParseAt(Parsed e) {
  Take();  // '@'
  bool negate = false;
  bool sign = false;
  if (Peek().type == TokenType::kAdd || Peek().type == TokenType::kSub) {
    negate = Take().type == TokenType::kSub;
    sign = true;
  }
  const Token& t = Peek();
  if (has_error_) return {};
  AtKind kind = AtKind::kTimestamp;
  double ts = 0;
  if (t.type == TokenType::kNumber || t.type == TokenType::kDuration) {
    const Token literal = Take();
    if (!NumberTokenValue(literal, &ts)) return {};
    if (negate) ts = -ts;
  } else if (!sign && (t.type == TokenType::kStart || t.type == TokenType::kEnd)) {
    kind = Take().type == TokenType::kStart ? AtKind::kStart : AtKind::kEnd;
    if (Peek().type != TokenType::kLeftParen) {
      Unexpected("@", "timestamp");
      return {};
    }
    Take();
    if (Peek().type != TokenType::kRightParen) {
      Unexpected("@", "timestamp");
      return {};
    }
    Take();
  } else {
    Unexpected("@", "timestamp");
    return {};
  }
  // Prometheus bounds the seconds by int64; the milliseconds must fit too, or
  // Go's conversion would silently wrap.
  if (kind == AtKind::kTimestamp &&
      (std::isnan(ts) || std::isinf(ts) || std::abs(ts) * 1000.0 >= kTwoPow63)) {
    Fail(e.expr->pos.start, "timestamp out of bounds for @ modifier: " + GoFormatF(ts));
    return {};
  }
  AtKind* target_kind = nullptr;
  std::int64_t* target_ms = nullptr;
  switch (e.expr->kind()) {
    case ExprKind::kVectorSelector: {
      auto* vs = static_cast<VectorSelector*>(e.expr.get());
      target_kind = &vs->at;
      target_ms = &vs->at_ms;
      break;
    }
    case ExprKind::kMatrixSelector: {
      auto* vs = static_cast<MatrixSelector*>(e.expr.get())->selector.get();
      target_kind = &vs->at;
      target_ms = &vs->at_ms;
      break;
    }
    case ExprKind::kSubquery: {
      auto* sq = static_cast<SubqueryExpr*>(e.expr.get());
      target_kind = &sq->at;
      target_ms = &sq->at_ms;
      break;
    }
    default:
      Fail(e.expr->pos.start,
           "@ modifier must be preceded by an instant vector selector or range vector selector "
           "or a subquery");
      return {};
  }
  if (*target_kind != AtKind::kNone) {
    Fail(e.expr->pos.start, "@ <timestamp> may not be set multiple times");
    return {};
  }
  *target_kind = kind;
  if (kind == AtKind::kTimestamp) {
    // timestamp.FromFloatSeconds.
    *target_ms = static_cast<std::int64_t>(std::round(ts * 1000.0));
  }
  e.expr->pos.end = last_end_;
  return e;
}

// ---------------------------------------------------------------- type checks

PosRange Parser::OperatorRange(const BinaryExpr& b) const {
  const auto is_space = [&](int i) {
    if (i < 0 || static_cast<std::size_t>(i) >= input_.size()) return false;
    const char c = input_[static_cast<std::size_t>(i)];
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
  };
  PosRange r;
  for (r.start = b.lhs->pos.end; is_space(r.start); ++r.start) {
  }
  for (r.end = b.rhs->pos.start - 1; is_space(r.end); --r.end) {
  }
  return r;
}

void Parser::ExpectType(Expr* e, ValueType want, std::string_view context) {
  const ValueType got = Check(e);
  if (has_error_) return;
  if (got != want) {
    Fail(e->pos.start, std::string("expected type ") + ValueTypeName(want) + " in " +
                           std::string(context) + ", got " + ValueTypeName(got));
  }
}

ValueType Parser::Check(Expr* e) {
  if (has_error_ || e == nullptr) return ValueType::kNone;
  const ValueType type = e->type();
  switch (e->kind()) {
    case ExprKind::kAggregate: {
      auto* a = static_cast<AggregateExpr*>(e);
      ExpectType(a->expr.get(), ValueType::kVector, "aggregation expression");
      if (has_error_) break;
      switch (a->op) {
        case AggregateOp::kTopK:
        case AggregateOp::kBottomK:
        case AggregateOp::kQuantile:
        case AggregateOp::kLimitK:
        case AggregateOp::kLimitRatio:
          ExpectType(a->param.get(), ValueType::kScalar, "aggregation parameter");
          break;
        case AggregateOp::kCountValues:
          ExpectType(a->param.get(), ValueType::kString, "aggregation parameter");
          break;
        default:
          break;
      }
      break;
    }
    case ExprKind::kBinary: {
      auto* b = static_cast<BinaryExpr*>(e);
      const ValueType lt = Check(b->lhs.get());
      const ValueType rt = Check(b->rhs.get());
      if (has_error_) break;
      if (b->return_bool && !IsComparison(b->op)) {
        Fail(OperatorRange(*b).start, "bool modifier can only be used on comparison operators");
        break;
      }
      if (IsComparison(b->op) && !b->return_bool && lt == ValueType::kScalar &&
          rt == ValueType::kScalar) {
        Fail(OperatorRange(*b).start, "comparisons between scalars must use BOOL modifier");
        break;
      }
      VectorMatching& m = *b->matching;
      if (IsSetOperator(b->op) && m.card == Cardinality::kOneToOne) {
        m.card = Cardinality::kManyToMany;
      }
      if (m.on) {
        for (const auto& l1 : m.matching_labels) {
          for (const auto& l2 : m.include) {
            if (l1 == l2) {
              Fail(OperatorRange(*b).start,
                   "label " + GoQuote(l1) + " must not occur in ON and GROUP clause at once");
              return type;
            }
          }
        }
      }
      if (lt != ValueType::kScalar && lt != ValueType::kVector) {
        Fail(b->lhs->pos.start,
             "binary expression must contain only scalar and instant vector types");
        break;
      }
      if (rt != ValueType::kScalar && rt != ValueType::kVector) {
        Fail(b->rhs->pos.start,
             "binary expression must contain only scalar and instant vector types");
        break;
      }
      if (lt != ValueType::kVector || rt != ValueType::kVector) {
        if (!m.matching_labels.empty()) {
          Fail(b->pos.start, "vector matching only allowed between instant vectors");
          break;
        }
        b->matching.reset();
      } else if (IsSetOperator(b->op)) {
        if (m.card == Cardinality::kOneToMany || m.card == Cardinality::kManyToOne) {
          Fail(b->pos.start, std::string("no grouping allowed for ") +
                                 GoQuote(BinaryOpName(b->op)) + " operation");
          break;
        }
        if (m.card != Cardinality::kManyToMany) {
          Fail(b->pos.start, "set operations must always be many-to-many");
          break;
        }
      }
      if ((lt == ValueType::kScalar || rt == ValueType::kScalar) && IsSetOperator(b->op)) {
        Fail(b->pos.start, std::string("set operator ") + GoQuote(BinaryOpName(b->op)) +
                               " not allowed in binary scalar expression");
      }
      break;
    }
    case ExprKind::kCall: {
      auto* c = static_cast<Call*>(e);
      const Function& f = *c->func;
      const auto nargs = static_cast<int>(f.arg_types.size());
      const auto given = static_cast<int>(c->args.size());
      const std::string name = GoQuote(f.name);
      if (f.variadic == 0) {
        if (nargs != given) {
          Fail(c->pos.start, "expected " + std::to_string(nargs) + " argument(s) in call to " +
                                 name + ", got " + std::to_string(given));
          break;
        }
      } else {
        const int min_args = nargs - 1;
        if (min_args > given) {
          Fail(c->pos.start, "expected at least " + std::to_string(min_args) +
                                 " argument(s) in call to " + name + ", got " +
                                 std::to_string(given));
          break;
        }
        if (f.variadic > 0 && min_args + f.variadic < given) {
          Fail(c->pos.start, "expected at most " + std::to_string(min_args + f.variadic) +
                                 " argument(s) in call to " + name + ", got " +
                                 std::to_string(given));
          break;
        }
      }
      for (int i = 0; i < given; ++i) {
        int type_index = i;
        if (i >= nargs) {
          if (f.variadic == 0) break;
          type_index = nargs - 1;
        }
        Expr* arg = c->args[static_cast<std::size_t>(i)].get();
        const ValueType got = Check(arg);
        if (has_error_) break;
        const ValueType want = f.arg_types[static_cast<std::size_t>(type_index)];
        if (got != want) {
          Fail(arg->pos.start, std::string("expected type ") + ValueTypeName(want) +
                                   " in call to function " + name + ", got " + ValueTypeName(got));
          break;
        }
      }
      break;
    }
    case ExprKind::kParen:
      Check(static_cast<ParenExpr*>(e)->expr.get());
      break;
    case ExprKind::kUnary: {
      auto* u = static_cast<UnaryExpr*>(e);
      const ValueType t = Check(u->expr.get());
      if (has_error_) break;
      if (t != ValueType::kScalar && t != ValueType::kVector) {
        Fail(u->pos.start,
             std::string("unary expression only allowed on expressions of type scalar or instant "
                         "vector, got ") +
                 GoQuote(ValueTypeName(t)));
      }
      break;
    }
    case ExprKind::kSubquery: {
      auto* s = static_cast<SubqueryExpr*>(e);
      const ValueType t = Check(s->expr.get());
      if (has_error_) break;
      if (t != ValueType::kVector) {
        Fail(s->pos.start, std::string("subquery is only allowed on instant vector, got ") +
                               RawTypeName(t) + " instead");
      }
      break;
    }
    case ExprKind::kMatrixSelector:
      Check(static_cast<MatrixSelector*>(e)->selector.get());
      break;
    case ExprKind::kVectorSelector: {
      auto* vs = static_cast<VectorSelector*>(e);
      if (!vs->name.empty()) {
        // The last matcher is the one for the name written outside the braces.
        for (std::size_t i = 0; i + 1 < vs->matchers.size(); ++i) {
          if (vs->matchers[i].name() == kMetricNameLabel) {
            Fail(vs->pos.start, "metric name must not be set twice: " + GoQuote(vs->name) + " or " +
                                    GoQuote(vs->matchers[i].value()));
            return type;
          }
        }
        break;
      }
      bool non_empty = false;
      for (const auto& m : vs->matchers) {
        if (!m.MatchesEmpty()) {
          non_empty = true;
          break;
        }
      }
      if (!non_empty) {
        Fail(vs->pos.start, "vector selector must contain at least one non-empty matcher");
      }
      break;
    }
    case ExprKind::kNumberLiteral:
    case ExprKind::kStringLiteral:
      break;
  }
  return type;
}

// ---------------------------------------------------------------- entry points

Result<ExprPtr> Parser::ParseExpression() {
  if (Peek().type == TokenType::kEof) {
    Fail(0, "no expression found in input");
    return ErrorStatus();
  }
  Parsed e = ParseBinary(kPrecOr, 1);
  if (!has_error_ && Peek().type != TokenType::kEof) Unexpected("", "");
  if (!has_error_) Check(e.expr.get());
  if (has_error_) return ErrorStatus();
  return std::move(e.expr);
}

bool Parser::ParseLabelSet(std::vector<Label>* labels) {
  if (Peek().type != TokenType::kLeftBrace) return !has_error_;
  Take();
  if (Peek().type == TokenType::kRightBrace) {
    Take();
    return true;
  }
  for (;;) {
    const Token& t = Peek();
    if (has_error_) return false;
    if (t.type == TokenType::kIdentifier) {
      const Token name = Take();
      if (Peek().type != TokenType::kEql) {
        Unexpected("label set", "\"=\"");
        return false;
      }
      Take();
      if (Peek().type != TokenType::kString) {
        Unexpected("label set", "string");
        return false;
      }
      const Token value_token = Take();
      std::string value;
      if (!Unquote(value_token, &value)) return false;
      labels->push_back(Label{std::string(name.text), std::move(value)});
    } else if (t.type == TokenType::kString) {
      const Token name_token = Take();
      std::string name;
      if (!Unquote(name_token, &name)) return false;
      if (Peek().type == TokenType::kEql) {
        Take();
        if (Peek().type != TokenType::kString) {
          Unexpected("label set", "string");
          return false;
        }
        const Token value_token = Take();
        std::string value;
        if (!Unquote(value_token, &value)) return false;
        labels->push_back(Label{std::move(name), std::move(value)});
      } else {
        labels->push_back(Label{std::string(kMetricNameLabel), std::move(name)});
      }
    } else {
      Unexpected("label set", "identifier or \"}\"");
      return false;
    }
    const ListStep step =
        AfterListItem(TokenType::kRightBrace, "label set", "\",\" or \"}\"", nullptr);
    if (step == ListStep::kNextItem) continue;
    return step == ListStep::kClosed;
  }
}

Result<Labels> Parser::ParseMetricOnly() {
  std::vector<Label> labels;
  std::optional<std::string> name;
  if (IsMetricIdentifierToken(Peek().type)) name = std::string(Take().text);
  if (!has_error_ && ParseLabelSet(&labels) && Peek().type != TokenType::kEof) Unexpected("", "");
  if (has_error_) return ErrorStatus();
  if (name) labels.push_back(Label{std::string(kMetricNameLabel), std::move(*name)});
  return Labels::FromUnsorted(std::move(labels));
}

Result<std::vector<LabelMatcher>> Parser::ParseSelectorOnly() {
  const Token& t = Peek();
  Parsed vs;
  if (!has_error_) {
    if (IsMetricIdentifierToken(t.type)) {
      const Token name = Take();
      vs = ParseVectorSelector(&name);
    } else if (t.type == TokenType::kLeftBrace) {
      vs = ParseVectorSelector(nullptr);
    } else {
      Unexpected("", "");
    }
  }
  if (!has_error_ && Peek().type != TokenType::kEof) Unexpected("", "");
  if (has_error_) return ErrorStatus();
  return std::move(static_cast<VectorSelector*>(vs.expr.get())->matchers);
}

Result<ExprPtr> ParseExpr(std::string_view input, const ParseOptions& options) {
  Parser parser(input, options);
  return parser.ParseExpression();
}

Result<Labels> ParseMetric(std::string_view input) {
  Parser parser(input, ParseOptions{});
  return parser.ParseMetricOnly();
}

Result<std::vector<LabelMatcher>> ParseMetricSelector(std::string_view input) {
  Parser parser(input, ParseOptions{});
  return parser.ParseSelectorOnly();
}

}  // namespace nimify::promql
