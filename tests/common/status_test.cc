#include "nimify/status.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace nimify {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return Status::InvalidArgument("odd: " + std::to_string(x));
  return x / 2;
}

Result<int> Quarter(int x) {
  NIMIFY_ASSIGN_OR_RETURN(int h, Half(x));
  NIMIFY_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckPositive(int x) {
  if (x <= 0) return Status::InvalidArgument("not positive");
  return Status::Ok();
}

Status Both(int a, int b) {
  NIMIFY_RETURN_IF_ERROR(CheckPositive(a));
  NIMIFY_RETURN_IF_ERROR(CheckPositive(b));
  return Status::Ok();
}

TEST(StatusTest, OkHasNoMessage) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.message(), "");
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(StatusTest, ErrorKeepsCodeAndMessage) {
  Status s = Status::ParseError("1:3: parse error: unexpected end of input");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kParseError);
  EXPECT_EQ(s.message(), "1:3: parse error: unexpected end of input");
  EXPECT_EQ(s.ToString(), "ParseError: 1:3: parse error: unexpected end of input");
  Status copy = s;
  EXPECT_EQ(copy, s);
}

TEST(StatusTest, WithPrefixAddsOrigin) {
  EXPECT_EQ(Status::NotFound("x").WithPrefix("rules.yml").message(), "rules.yml: x");
  EXPECT_TRUE(Status().WithPrefix("a").ok());
}

TEST(StatusTest, OkCodeBuildsOk) { EXPECT_TRUE(Status(StatusCode::kOk, "ignored").ok()); }

TEST(ResultTest, ValueAndErrorPropagate) {
  auto r = Quarter(8);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 2);
  auto e = Quarter(6);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(e.status().message(), "odd: 3");
}

TEST(ResultTest, ResultFromOkStatusIsInternalError) {
  Result<int> r{Status()};
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

// The header promises that no exception crosses the API: reading the value of
// an error aborts with the status instead of throwing std::bad_variant_access.
TEST(ResultDeathTest, ValueOfAnErrorAbortsWithTheStatus) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const Result<int> odd = Half(3);
  EXPECT_DEATH((void)odd.value(), "Result::value\\(\\) on error: InvalidArgument: odd: 3");
  Result<std::string> missing = Status::NotFound("no such rule");
  EXPECT_DEATH((void)std::move(missing).value(), "NotFound: no such rule");
  EXPECT_DEATH((void)*Half(5), "odd: 5");
}

TEST(ResultTest, MoveOnlyValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 7);
}

TEST(StatusMacrosTest, ReturnIfError) {
  EXPECT_TRUE(Both(1, 2).ok());
  EXPECT_EQ(Both(1, -2).message(), "not positive");
}

}  // namespace
}  // namespace nimify
