// Printer tests on hand-built trees (as other stages may build them).
#include <gtest/gtest.h>

#include "promql/ast.h"
#include "promql/parser.h"

namespace nimify::promql {
namespace {

std::unique_ptr<VectorSelector> Selector(std::string name) {
  auto vs = std::make_unique<VectorSelector>();
  vs->name = name;
  auto m = LabelMatcher::Create(MatchType::kEqual, "__name__", name);
  EXPECT_TRUE(m.ok());
  vs->matchers.push_back(*m);
  return vs;
}

TEST(PrinterTest, HandBuiltTree) {
  auto rate = std::make_unique<Call>(ValueType::kVector);
  rate->func = LookupFunction("rate");
  auto matrix = std::make_unique<MatrixSelector>();
  matrix->selector = Selector("http_requests_total");
  matrix->selector->offset_ms = -60'000;
  matrix->range_ms = 300'000;
  rate->args.push_back(std::move(matrix));

  auto agg = std::make_unique<AggregateExpr>();
  agg->op = AggregateOp::kSum;
  agg->grouping = {"job", "le.x"};
  agg->expr = std::move(rate);

  auto threshold = std::make_unique<NumberLiteral>();
  threshold->value = 0.5;
  auto cmp = std::make_unique<BinaryExpr>(ValueType::kVector);
  cmp->op = BinaryOp::kGtr;
  cmp->return_bool = true;
  cmp->lhs = std::move(agg);
  cmp->rhs = std::move(threshold);
  EXPECT_EQ(cmp->ToString(),
            "sum by (job, \"le.x\") (rate(http_requests_total[5m] offset -1m)) > bool 0.5");
}

TEST(PrinterTest, MatchingClauses) {
  auto b = std::make_unique<BinaryExpr>(ValueType::kVector);
  b->op = BinaryOp::kDiv;
  b->lhs = Selector("a");
  b->rhs = Selector("b");
  VectorMatching m;
  m.card = Cardinality::kOneToMany;
  m.on = true;
  m.matching_labels = {"x"};
  m.include = {"y", "z"};
  b->matching = m;
  EXPECT_EQ(b->ToString(), "a / on (x) group_right (y, z) b");
  b->matching->card = Cardinality::kOneToOne;
  b->matching->on = false;
  b->matching->matching_labels.clear();
  EXPECT_EQ(b->ToString(), "a / b");
}

TEST(PrinterTest, SelectorsSortMatchersAndQuoteNames) {
  auto vs = std::make_unique<VectorSelector>();
  for (auto [type, name, value] : {std::tuple{MatchType::kRegexMatch, "zeta", "a.*"},
                                   std::tuple{MatchType::kEqual, "a.b", "x"},
                                   std::tuple{MatchType::kNotEqual, "alpha", "q\"uote"}}) {
    auto m = LabelMatcher::Create(type, name, value);
    ASSERT_TRUE(m.ok());
    vs->matchers.push_back(*m);
  }
  vs->at = AtKind::kTimestamp;
  vs->at_ms = -1500;
  EXPECT_EQ(vs->ToString(), "{\"a.b\"=\"x\",alpha!=\"q\\\"uote\",zeta=~\"a.*\"} @ -1.500");
}

TEST(PrinterTest, NumbersAndDurations) {
  const struct {
    double value;
    bool duration;
    const char* printed;
  } cases[] = {
      {1, false, "1"},
      {-0.25, false, "-0.25"},
      {1e21, false, "1000000000000000000000"},
      {1e-7, false, "0.0000001"},
      {0.1 + 0.2, false, "0.30000000000000004"},
      {300, true, "5m"},
      {-90, true, "-1m30s"},
      {0.001, true, "1ms"},
  };
  for (const auto& c : cases) {
    NumberLiteral n;
    n.value = c.value;
    n.is_duration = c.duration;
    EXPECT_EQ(n.ToString(), c.printed);
  }
  StringLiteral s;
  s.value = "tab\there\xff";
  EXPECT_EQ(s.ToString(), "\"tab\\there\\xff\"");
}

// Past about 104 days a duration's nanoseconds do not survive seconds * 1e9:
// the printer still gives the literal that parses back to the same value
// (fuzz finding F5; Prometheus prints one millisecond less here).
TEST(PrinterTest, LongDurationLiteralsPrintAsAFixedPoint) {
  for (const char* text :
       {"50731d4h5s50507ms", "50731d4h55s507ms", "200d1ms", "5y3w2d1h999ms", "-50731d4h55s507ms"}) {
    SCOPED_TRACE(text);
    auto first = ParseExpr(text);
    ASSERT_TRUE(first.ok()) << first.status().message();
    const std::string printed = (*first)->ToString();
    auto again = ParseExpr(printed);
    ASSERT_TRUE(again.ok()) << again.status().message();
    EXPECT_EQ((*again)->ToString(), printed);
    if ((*first)->kind() == ExprKind::kNumberLiteral) {
      ASSERT_EQ((*again)->kind(), ExprKind::kNumberLiteral);
      EXPECT_EQ(static_cast<const NumberLiteral&>(**first).value,
                static_cast<const NumberLiteral&>(**again).value);
    }
  }
  auto parsed = ParseExpr("50731d4h5s50507ms");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ((*parsed)->ToString(), "50731d4h55s507ms");
}

TEST(PrinterTest, OperatorNames) {
  EXPECT_STREQ(BinaryOpName(BinaryOp::kAtan2), "atan2");
  EXPECT_STREQ(BinaryOpName(BinaryOp::kLte), "<=");
  EXPECT_STREQ(BinaryOpName(BinaryOp::kUnless), "unless");
  EXPECT_TRUE(IsComparison(BinaryOp::kNeq));
  EXPECT_FALSE(IsComparison(BinaryOp::kAnd));
  EXPECT_TRUE(IsSetOperator(BinaryOp::kOr));
  EXPECT_FALSE(IsSetOperator(BinaryOp::kPow));
  EXPECT_STREQ(AggregateOpName(AggregateOp::kCountValues), "count_values");
  EXPECT_STREQ(AggregateOpName(AggregateOp::kLimitRatio), "limit_ratio");
}

}  // namespace
}  // namespace nimify::promql
