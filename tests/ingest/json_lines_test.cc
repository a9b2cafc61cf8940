#include "ingest/json_lines.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>
#include <string>

#include "ingest/ingest_test_util.h"

namespace nimify::ingest {
namespace {

using testing::DecodeChecked;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::pair<Status, std::vector<std::string>> Decode(std::string_view body,
                                                   const Limits& limits = Limits()) {
  return DecodeChecked([&](Batch* b) { return DecodeJsonLines(body, limits, b); });
}

TEST(JsonLinesTest, DecodesSeriesPerLine) {
  const std::string body =
      R"({"labels": {"__name__": "up", "job": "api"}, "samples": [[1700000000000, 1], [1700000015000, 0.5]]})"
      "\n"
      "\n"
      "   \t\r\n"
      R"({"samples": [[1, "NaN"], [2, "+Inf"], [3, "-Inf"], [4, "1.5e3"], [-5, -2]], "labels": {"__name__": "strs", "empty": ""}})"
      "\r\n"
      R"({"labels": {"__name__": "big", "unicode": "caf\u00e9 日本"}, "samples": [[9223372036854775807, 18446744073709551615]]})"
      "\n"
      R"({"labels": {"__name__": "none"}, "samples": []})"
      "\n"
      R"({"labels": {"job": "x", "__name__": "no_newline_at_end"}, "samples": [[7, 1e-3]]})";
  auto [status, added] = Decode(body);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_THAT(
      added, ElementsAre("up{job=\"api\"} => 1700000000000:1 1700000015000:0.5",
                         "strs => 1:nan 2:inf 3:-inf 4:1500 -5:-2",
                         "big{unicode=\"café 日本\"} => 9223372036854775807:1.8446744073709552e+19",
                         "no_newline_at_end{job=\"x\"} => 7:0.001"));
  Batch batch;
  ASSERT_TRUE(DecodeJsonLines(body, Limits(), &batch).ok());
  EXPECT_EQ(std::bit_cast<std::uint64_t>(batch.series(1).samples[0].v), 0x7ff8000000000001ull);
}

TEST(JsonLinesTest, DeepNestingIsAnErrorNotACrash) {
  const std::string deep = R"({"labels": {"__name__": "x"}, "samples": )" +
                           std::string(200000, '[') + std::string(200000, ']') + "}";
  auto [status, added] = Decode(deep);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("line 1: samples[0][0]: timestamp must be an integer number of "
                        "milliseconds, got an array"));
}

TEST(JsonLinesTest, RejectsBadLinesNamingTheLine) {
  const std::string ok = R"({"labels": {"__name__": "m"}, "samples": [[1, 2]]})";
  struct Case {
    std::string body;
    const char* message;
    StatusCode code;
  };
  const Case cases[] = {
      {"{", "json lines: line 1:2: Missing a name for object member.", StatusCode::kParseError},
      {ok + "\n" + ok + " x", "json lines: line 2:", StatusCode::kParseError},
      {ok + "\n\n{\"labels\": nul}", "json lines: line 3:", StatusCode::kParseError},
      {"{\"labels\": {\"__name__\": \"a\xff\"}, \"samples\": []}",
       "line 1:", StatusCode::kParseError},
      {"[1, 2]", "line 1: expected a JSON object, got an array", StatusCode::kInvalidArgument},
      {"\"str\"", "line 1: expected a JSON object, got \"str\"", StatusCode::kInvalidArgument},
      {R"({"labels": {"__name__": "m"}})", "line 1: missing key \"samples\"",
       StatusCode::kInvalidArgument},
      {R"({"samples": []})", "line 1: missing key \"labels\"", StatusCode::kInvalidArgument},
      {R"({"labels": {"__name__": "m"}, "samples": [], "extra": 1})",
       "line 1: unknown key \"extra\" (want \"labels\" and \"samples\")",
       StatusCode::kInvalidArgument},
      {R"({"labels": {"__name__": "m"}, "labels": {}, "samples": []})",
       "line 1: key \"labels\" appears twice", StatusCode::kInvalidArgument},
      {R"({"labels": ["__name__"], "samples": []})",
       "line 1: labels: expected an object, got an array", StatusCode::kInvalidArgument},
      {R"({"labels": {"__name__": 5}, "samples": []})",
       "line 1: labels: value of \"__name__\" must be a string, got 5",
       StatusCode::kInvalidArgument},
      {R"({"labels": {"__name__": "m", "a": null}, "samples": []})",
       "value of \"a\" must be a string, got null", StatusCode::kInvalidArgument},
      {R"({"labels": {"__name__": "m", "1a": "x"}, "samples": []})",
       "line 1: labels: invalid label name \"1a\"", StatusCode::kInvalidArgument},
      {R"({"labels": {"__name__": "m-x"}, "samples": []})",
       "line 1: labels: invalid metric name \"m-x\"", StatusCode::kInvalidArgument},
      {R"({"labels": {"__name__": "m", "a": "1", "a": "2"}, "samples": []})",
       "line 1: labels: duplicate label name \"a\"", StatusCode::kInvalidArgument},
      {R"({"labels": {"job": "x"}, "samples": [[1, 1]]})",
       "line 1: labels: series has no metric name", StatusCode::kInvalidArgument},
      {R"({"labels": {"__name__": "m", "v": "\udc00"}, "samples": []})",
       "value of label \"v\" is not valid UTF-8", StatusCode::kInvalidArgument},
      {R"({"labels": {"__name__": "m"}, "samples": {}})",
       "line 1: samples: expected an array of [timestamp, value], got an object",
       StatusCode::kInvalidArgument},
      {R"({"labels": {"__name__": "m"}, "samples": [[1, 2], 3]})",
       "line 1: samples[1]: expected [timestamp, value], got 3", StatusCode::kInvalidArgument},
      {R"({"labels": {"__name__": "m"}, "samples": [[1]]})",
       "line 1: samples[0]: expected [timestamp, value], got an array of 1",
       StatusCode::kInvalidArgument},
      {R"({"labels": {"__name__": "m"}, "samples": [[]]})",
       "line 1: samples[0]: expected [timestamp, value], got an array of 0",
       StatusCode::kInvalidArgument},
      {R"({"labels": {"__name__": "m"}, "samples": [[1, 2], [3, [4]]]})",
       "line 1: samples[1][1]: value must be a number or a string, got an array",
       StatusCode::kInvalidArgument},
      {R"({"labels": {"__name__": "m"}, "samples": [[1, 2, 3]]})",
       "line 1: samples[0]: expected [timestamp, value], got more than 2 elements",
       StatusCode::kInvalidArgument},
      {R"({"labels": {"__name__": "m"}, "samples": [[1.5, 2]]})",
       "line 1: samples[0][0]: timestamp must be an integer number of milliseconds, got 1.5",
       StatusCode::kInvalidArgument},
      {R"({"labels": {"__name__": "m"}, "samples": [[1e3, 2]]})",
       "samples[0][0]: timestamp must be an integer number of milliseconds, got 1e3",
       StatusCode::kInvalidArgument},
      {R"({"labels": {"__name__": "m"}, "samples": [["1", 2]]})",
       "timestamp must be an integer number of milliseconds, got \"1\"",
       StatusCode::kInvalidArgument},
      {R"({"labels": {"__name__": "m"}, "samples": [[9223372036854775808, 2]]})",
       "samples[0][0]: timestamp 9223372036854775808 is out of range",
       StatusCode::kInvalidArgument},
      {R"({"labels": {"__name__": "m"}, "samples": [[1, true]]})",
       "line 1: samples[0][1]: value must be a number or a string, got true",
       StatusCode::kInvalidArgument},
      {R"({"labels": {"__name__": "m"}, "samples": [[1, "abc"]]})",
       "line 1: samples[0][1]: invalid float syntax \"abc\"", StatusCode::kInvalidArgument},
      {R"({"labels": {"__name__": "m"}, "samples": [[1, "0x10"]]})",
       "samples[0][1]: invalid float syntax", StatusCode::kInvalidArgument},
      {R"({"labels": {"__name__": "m"}, "samples": [[1, 1e400]]})",
       "line 1:", StatusCode::kParseError},
      {R"({"labels": {"__name__": "m"}, "samples": [[1, NaN]]})",
       "line 1:", StatusCode::kParseError},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    auto [status, added] = Decode(c.body);
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.code(), c.code) << status.ToString();
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.message));
    EXPECT_THAT(std::string(status.message()), ::testing::StartsWith("json lines: line "));
  }
}

TEST(JsonLinesTest, EnforcesLimits) {
  const std::string body =
      R"({"labels": {"__name__": "m", "a": "xy"}, "samples": [[1, 1], [2, 2]]})"
      "\n"
      R"({"labels": {"__name__": "n"}, "samples": [[3, 3]]})";
  const auto expect_limit = [&](const Limits& limits, const char* message) {
    auto [status, added] = Decode(body, limits);
    ASSERT_FALSE(status.ok()) << message;
    EXPECT_EQ(status.code(), StatusCode::kResourceExhausted);
    EXPECT_THAT(std::string(status.message()), HasSubstr(message));
  };
  Limits l;
  l.max_body_bytes = 10;
  expect_limit(l, "json lines: body is");
  l = Limits();
  l.max_labels_per_series = 1;
  expect_limit(l, "line 1: labels: more than the limit of 1 labels in one series");
  l = Limits();
  l.max_label_value_bytes = 1;
  expect_limit(l, "line 1: labels: value of label \"a\" is 2 bytes");
  l = Limits();
  l.max_label_name_bytes = 3;
  expect_limit(l, "label name \"__name__\" is 8 bytes");
  l = Limits();
  l.max_samples = 2;
  expect_limit(l, "line 2: samples[0]: more than the limit of 2 samples");
  l.max_samples = 3;
  auto [status, added] = Decode(body, l);
  EXPECT_TRUE(status.ok());
}

}  // namespace
}  // namespace nimify::ingest
