#include "promqltest/script.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "promql/value.h"

namespace nimify::promqltest {
namespace {

using promql::Compat;

ScriptResult RunText(std::string_view text, Compat compat = Compat::kPrometheus3) {
  ScriptOptions options;
  options.compat = compat;
  return RunScript(text, "test.test", options);
}

std::string Describe(const ScriptResult& r) {
  std::string out;
  for (const auto& e : r.errors) out += "error: " + e + "\n";
  for (const auto& e : r.evals) {
    const char* s = e.status == EvalStatus::kPassed   ? "pass"
                    : e.status == EvalStatus::kFailed ? "FAIL"
                                                      : "skip";
    out +=
        std::string(s) + " line " + std::to_string(e.line) + " " + e.expr + ": " + e.message + "\n";
  }
  return out;
}

// Runs `text` in both modes and expects exactly one eval with `status`.
void ExpectOne(std::string_view text, EvalStatus status) {
  for (Compat compat : {Compat::kPrometheus2, Compat::kPrometheus3}) {
    ScriptResult r = RunText(text, compat);
    ASSERT_EQ(r.evals.size(), 1u) << Describe(r);
    EXPECT_TRUE(r.errors.empty()) << Describe(r);
    EXPECT_EQ(r.evals[0].status, status)
        << (compat == Compat::kPrometheus2 ? "[2] " : "[3] ") << Describe(r);
  }
}

constexpr std::string_view kData = R"(
load 1m
  http_requests{job="api", instance="0"} 0+10x10
  http_requests{job="api", instance="1"} 0+20x10
  other 1 2 3
)";

std::string WithData(std::string_view evals) {
  return std::string(kData) + "\n" + std::string(evals);
}

TEST(Script, RightExpectationsPass) {
  ExpectOne(WithData(R"(
eval instant at 5m http_requests
  http_requests{job="api", instance="0"} 50
  http_requests{job="api", instance="1"} 100
)"),
            EvalStatus::kPassed);
  ExpectOne(WithData(R"(
eval instant at 5m sum(http_requests)
  {} 150
)"),
            EvalStatus::kPassed);
  ExpectOne(WithData(R"(
eval instant at 5m scalar(sum(http_requests))
  150
)"),
            EvalStatus::kPassed);
  ExpectOne(WithData(R"(
eval instant at 5m http_requests{job="nope"}
)"),
            EvalStatus::kPassed);
}

TEST(Script, WrongValueFails) {
  ExpectOne(WithData(R"(
eval instant at 5m http_requests
  http_requests{job="api", instance="0"} 50
  http_requests{job="api", instance="1"} 101
)"),
            EvalStatus::kFailed);
}

TEST(Script, ToleranceIsRelativeOneInAMillion) {
  ExpectOne(WithData(R"(
eval instant at 5m sum(http_requests)
  {} 150.0000001
)"),
            EvalStatus::kPassed);
  ExpectOne(WithData(R"(
eval instant at 5m sum(http_requests)
  {} 150.001
)"),
            EvalStatus::kFailed);
}

TEST(Script, WrongLabelsMissingAndExtraSeriesFail) {
  // __name__ must match exactly.
  ExpectOne(WithData(R"(
eval instant at 5m sum(http_requests)
  sum{} 150
)"),
            EvalStatus::kFailed);
  ExpectOne(WithData(R"(
eval instant at 5m http_requests
  http_requests{job="api", instance="0"} 50
)"),
            EvalStatus::kFailed);
  ExpectOne(WithData(R"(
eval instant at 5m http_requests{instance="0"}
  http_requests{job="api", instance="0"} 50
  http_requests{job="api", instance="1"} 100
)"),
            EvalStatus::kFailed);
  // An empty expectation means an empty result.
  ExpectOne(WithData(R"(
eval instant at 5m http_requests
)"),
            EvalStatus::kFailed);
}

TEST(Script, ScalarAndVectorAreDifferent) {
  ExpectOne(WithData(R"(
eval instant at 5m sum(http_requests)
  150
)"),
            EvalStatus::kFailed);
  ExpectOne(WithData(R"(
eval instant at 5m scalar(sum(http_requests))
  {} 150
)"),
            EvalStatus::kFailed);
  ExpectOne(WithData(R"(
eval instant at 5m scalar(sum(http_requests))
  151
)"),
            EvalStatus::kFailed);
}

TEST(Script, ExpectedFailures) {
  // The query succeeds, so eval_fail must fail.
  ExpectOne(WithData(R"(
eval_fail instant at 5m http_requests
)"),
            EvalStatus::kFailed);
  // Many-to-many matching is an error: eval_fail passes.
  ExpectOne(WithData(R"(
eval_fail instant at 5m other + on() http_requests
)"),
            EvalStatus::kPassed);
}

TEST(Script, ExpectFailMessageMustMatch) {
  ScriptResult wrong = RunText(WithData(R"(
eval instant at 5m other + on() http_requests
  expect fail msg: some other error
)"));
  ASSERT_EQ(wrong.evals.size(), 1u);
  EXPECT_EQ(wrong.evals[0].status, EvalStatus::kFailed) << Describe(wrong);
  ScriptResult right = RunText(WithData(R"(
eval instant at 5m other + on() http_requests
  expect fail regex: many-to-many matching not allowed
)"));
  ASSERT_EQ(right.evals.size(), 1u);
  EXPECT_EQ(right.evals[0].status, EvalStatus::kPassed) << Describe(right);
}

TEST(Script, OrderedChecksPositions) {
  ExpectOne(WithData(R"(
eval_ordered instant at 5m sort_desc(http_requests)
  http_requests{job="api", instance="1"} 100
  http_requests{job="api", instance="0"} 50
)"),
            EvalStatus::kPassed);
  ExpectOne(WithData(R"(
eval_ordered instant at 5m sort_desc(http_requests)
  http_requests{job="api", instance="0"} 50
  http_requests{job="api", instance="1"} 100
)"),
            EvalStatus::kFailed);
}

TEST(Script, RangeEvals) {
  ScriptResult ok = RunText(WithData(R"(
eval range from 0 to 2m step 1m sum(http_requests)
  {} 0 30 60
)"));
  ASSERT_EQ(ok.evals.size(), 1u);
  EXPECT_EQ(ok.evals[0].status, EvalStatus::kPassed) << Describe(ok);
  ScriptResult wrong = RunText(WithData(R"(
eval range from 0 to 2m step 1m sum(http_requests)
  {} 0 30 61
)"));
  EXPECT_EQ(wrong.evals[0].status, EvalStatus::kFailed) << Describe(wrong);
  ScriptResult too_few = RunText(WithData(R"(
eval range from 0 to 2m step 1m sum(http_requests)
  {} 0 30
)"));
  EXPECT_EQ(too_few.evals[0].status, EvalStatus::kFailed) << Describe(too_few);
  // `_` is a step without a point.
  ScriptResult gap = RunText(R"(
load 1m
  g 1 _ 3

eval range from 0 to 2m step 1m g
  g 1 1 3
)");
  EXPECT_EQ(gap.evals[0].status, EvalStatus::kPassed) << Describe(gap);
}

TEST(Script, AnnotationExpectations) {
  // A plain selector raises no warning, so `expect warn` fails and `expect no_warn` passes.
  ScriptResult warn = RunText(WithData(R"(
eval instant at 5m other
  expect warn
  other 3
)"));
  EXPECT_EQ(warn.evals[0].status, EvalStatus::kFailed) << Describe(warn);
  ScriptResult no_warn = RunText(WithData(R"(
eval instant at 5m other
  expect no_warn
  other 3
)"));
  EXPECT_EQ(no_warn.evals[0].status, EvalStatus::kPassed) << Describe(no_warn);
}

TEST(Script, NativeHistogramInputIsSkippedWithReason) {
  ScriptResult r = RunText(R"(
load 1m
  hist {{schema:0 sum:1 count:1}}
  floats 1 2 3

eval instant at 1m hist
  hist {{schema:0 sum:1 count:1}}

eval instant at 1m sum({__name__=~".+"})
  {} 100

eval instant at 1m floats
  floats 2
)");
  ASSERT_EQ(r.evals.size(), 3u) << Describe(r);
  EXPECT_EQ(r.evals[0].status, EvalStatus::kSkipped);
  EXPECT_EQ(r.evals[0].message, "native histogram expected result");
  EXPECT_EQ(r.evals[1].status, EvalStatus::kSkipped);
  EXPECT_EQ(r.evals[1].message, "native histogram input");
  EXPECT_EQ(r.evals[2].status, EvalStatus::kPassed) << Describe(r);
  EXPECT_EQ(r.SkipReasons().size(), 2u);
  EXPECT_TRUE(r.ok());

  // `clear` forgets the histogram series.
  ScriptResult cleared = RunText(R"(
load 1m
  hist {{schema:0 sum:1 count:1}}

clear

load 1m
  hist 5

eval instant at 0 hist
  hist 5
)");
  ASSERT_EQ(cleared.evals.size(), 1u);
  EXPECT_EQ(cleared.evals[0].status, EvalStatus::kPassed) << Describe(cleared);
}

TEST(Script, OnlyKnownNewerSyntaxIsSkipped) {
  ScriptResult r = RunText(WithData(R"(
eval instant at 5m other + fill(0) http_requests
  {} 1

eval instant at 5m rate(other[5m] smoothed)
  {} 1

eval instant at 5m rate(other[4m+1m])
  {} 1

eval instant at 5m sum(other
  {} 1
)"));
  ASSERT_EQ(r.evals.size(), 4u) << Describe(r);
  EXPECT_EQ(r.evals[0].status, EvalStatus::kSkipped) << Describe(r);
  EXPECT_EQ(r.evals[1].status, EvalStatus::kSkipped) << Describe(r);
  EXPECT_EQ(r.evals[2].status, EvalStatus::kSkipped) << Describe(r);
  // A plain parse error is a failure, never a skip.
  EXPECT_EQ(r.evals[3].status, EvalStatus::kFailed) << Describe(r);

  // Prometheus 2 mode skips nothing.
  ScriptResult v2 = RunText(WithData(R"(
eval instant at 5m other + fill(0) http_requests
  {} 1
)"),
                            Compat::kPrometheus2);
  ASSERT_EQ(v2.evals.size(), 1u);
  EXPECT_EQ(v2.evals[0].status, EvalStatus::kFailed);
}

TEST(Script, ScriptErrorsFailTheScript) {
  ScriptResult r = RunText(R"(
load 1m
  ok 1
  bad{ 1

bogus command

eval instant at 0 ok
  ok 1
# a comment ends the block, so the next line is read as a command
  ok 1
)");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.errors.size(), 3u) << Describe(r);
  ASSERT_EQ(r.evals.size(), 1u);
  EXPECT_EQ(r.evals[0].status, EvalStatus::kPassed) << Describe(r);
  // Errors say where.
  EXPECT_NE(r.errors[0].find("test.test:4:"), std::string::npos) << r.errors[0];
}

TEST(Script, LaterLineForTheSameSeriesReplacesTheEarlierOne) {
  ExpectOne(R"(
load 1m
  m 1 2 3
  m 7

eval instant at 2m m
  m 7
)",
            EvalStatus::kPassed);
}

TEST(AlmostEqual, FollowsPrometheus) {
  for (Compat c : {Compat::kPrometheus2, Compat::kPrometheus3}) {
    EXPECT_TRUE(AlmostEqual(1, 1 + 1e-7, c));
    EXPECT_FALSE(AlmostEqual(1, 1.00001, c));
    EXPECT_TRUE(AlmostEqual(std::nan(""), std::nan(""), c));
    EXPECT_FALSE(AlmostEqual(0, 1e-300, c));
    EXPECT_TRUE(AlmostEqual(std::numeric_limits<double>::infinity(),
                            std::numeric_limits<double>::infinity(), c));
    EXPECT_FALSE(AlmostEqual(std::numeric_limits<double>::infinity(), 1, c));
  }
  EXPECT_FALSE(AlmostEqual(promql::StaleNaN(), std::nan(""), Compat::kPrometheus3));
  EXPECT_TRUE(AlmostEqual(promql::StaleNaN(), promql::StaleNaN(), Compat::kPrometheus3));
  EXPECT_TRUE(AlmostEqual(promql::StaleNaN(), std::nan(""), Compat::kPrometheus2));
}

TEST(LoadSeriesText, LoadsBlocksAndReportsPositions) {
  MemoryStorage storage;
  ASSERT_TRUE(LoadSeriesText(R"(# incident data
load 1m
  up{job="api"} 1 1 0

load 30s
  errors_total 0+5x4
)",
                             "in.series", &storage)
                  .ok());
  ASSERT_EQ(storage.AllSeries().size(), 2u);
  EXPECT_EQ(storage.AllSeries()[0]->points.size(), 5u);
  EXPECT_EQ(storage.AllSeries()[0]->points[4].t, 120000);
  EXPECT_EQ(storage.AllSeries()[1]->points[2].t, 120000);

  MemoryStorage bad;
  Status s = LoadSeriesText("load 1m\n  up{job=\"api\"} 1 x\n", "in.series", &bad);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message().substr(0, 15), "in.series:2:19:") << s.message();
  s = LoadSeriesText("eval instant at 0 up\n", "in.series", &bad);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message().substr(0, 14), "in.series:1:1:") << s.message();
  s = LoadSeriesText("load soon\n  up 1\n", "in.series", &bad);
  EXPECT_FALSE(s.ok());
}

}  // namespace
}  // namespace nimify::promqltest

namespace nimify::promqltest {
namespace {

// Scripts made of shuffled fragments must give results or errors, never crash.
TEST(Script, SurvivesGarbage) {
  const char* pieces[] = {"load 1m\n",
                          "load_with_nhcb 1m\n",
                          "clear\n",
                          "eval instant at 1m ",
                          "eval range from 0 to 2m step 1m ",
                          "eval_fail instant at 0 ",
                          "expect fail\n",
                          "expect warn msg: x\n",
                          "expect range vector from 0 to 1m step 1m\n",
                          "expect string \"a\"\n",
                          "  m{a=\"b\"} 1+1x3\n",
                          "  m 1 2\n",
                          "m\n",
                          "sum(m)\n",
                          "rate(m[1m])\n",
                          "{} 1\n",
                          "5\n",
                          "\n",
                          "# c\n",
                          "  h {{schema:0}}\n",
                          "m @ 1\n",
                          "bogus\n",
                          "  m@st 1s 2s\n",
                          "eval instant at 10000000000000y m\n"};
  std::uint64_t state = 7;
  auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<std::size_t>(state >> 33);
  };
  for (int i = 0; i < 2000; ++i) {
    std::string text;
    const std::size_t n = next() % 10;
    for (std::size_t k = 0; k < n; ++k) text += pieces[next() % std::size(pieces)];
    for (Compat compat : {Compat::kPrometheus2, Compat::kPrometheus3}) {
      ScriptResult r = RunText(text, compat);
      for (const auto& e : r.evals) {
        if (e.status != EvalStatus::kPassed) {
          EXPECT_FALSE(e.message.empty()) << text;
        }
      }
    }
  }
}

}  // namespace
}  // namespace nimify::promqltest
