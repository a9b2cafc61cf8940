#include "ingest/text_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>
#include <fstream>
#include <sstream>
#include <string>

#include "ingest/ingest_test_util.h"

namespace nimify::ingest {
namespace {

using testing::DecodeChecked;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr std::int64_t kDefaultTs = 5000;

std::pair<Status, std::vector<std::string>> Decode(std::string_view body, TextFormat format,
                                                   const Limits& limits = Limits(),
                                                   bool reject_duplicates = false) {
  TextOptions options;
  options.format = format;
  options.default_timestamp_ms = kDefaultTs;
  options.reject_duplicate_series = reject_duplicates;
  return DecodeChecked([&](Batch* b) { return DecodeText(body, options, limits, b); });
}

std::string ReadTestdata(const std::string& name) {
  std::ifstream in(std::string(NIMIFY_INGEST_TESTDATA) + "/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(TextFormatTest, PrometheusFormatAcceptsWhatPrometheusAccepts) {
  static constexpr char kBody[] =
      "# HELP http_requests_total Requests served.\n"
      "# \tTYPE http_requests_total counter\n"
      "http_requests_total{method=\"get\",code=\"200\"} 1027 1395066363000\n"
      "http_requests_total{method=\"post\",code=\"400\",} 3 1395066363000\n"
      "   \n"
      "\n"
      "# a plain comment\n"
      "#no-space comment\n"
      "# HELP\n"
      "http_requests_total { method = \"put\" , code = \"500\" } 7\n"
      "metric_without_labels 12.47\n"
      "escapes{path=\"C:\\\\DIR\\\\FILE.TXT\",note=\"say \\\"hi\\\"\\nbye\",raw=\"tab\\t\"} "
      "1.458255915e9\n"
      "nan_value NaN\n"
      "pos_inf +Inf\n"
      "neg_inf -Inf\n"
      "no_comma{a=\"1\" b=\"2\"} 5\n"
      "{\"quoted_name\",job=\"x\"} 8\n"
      "tabs\t{a=\"b\"}\t9\t123\t\n"
      "colon:metric:rate5m{x=\"y\"}42\n"
      "empty_value{a=\"\"} 3\n"
      "multi_line{a=\"x\ny\"} 4\n"
      "nul_in_value{a=\"x\0y\"} 6\n"
      "# HELP nul_help text with a \0 byte\n"
      "last_without_newline 1e-3";
  const std::string body(kBody, sizeof(kBody) - 1);  // it contains NUL bytes
  auto [status, added] = Decode(body, TextFormat::kPrometheus);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_THAT(
      added,
      ElementsAre("http_requests_total{code=\"200\", method=\"get\"} => 1395066363000:1027",
                  "http_requests_total{code=\"400\", method=\"post\"} => 1395066363000:3",
                  "http_requests_total{code=\"500\", method=\"put\"} => 5000:7",
                  "metric_without_labels => 5000:12.470000000000001",
                  "escapes{note=\"say \\\"hi\\\"\\nbye\", path=\"C:\\\\DIR\\\\FILE.TXT\", "
                  "raw=\"tab\\\\t\"} => 5000:1458255915",
                  "nan_value => 5000:nan", "pos_inf => 5000:inf", "neg_inf => 5000:-inf",
                  "no_comma{a=\"1\", b=\"2\"} => 5000:5", "quoted_name{job=\"x\"} => 5000:8",
                  "tabs{a=\"b\"} => 123:9", "colon:metric:rate5m{x=\"y\"} => 5000:42",
                  "empty_value => 5000:3", "multi_line{a=\"x\\ny\"} => 5000:4",
                  "nul_in_value{a=\"x\\x00y\"} => 5000:6", "last_without_newline => 5000:0.001"));
  Batch batch;
  TextOptions options;
  ASSERT_TRUE(DecodeText(body, options, Limits(), &batch).ok());
  EXPECT_EQ(batch.series(4).Get("raw"), "tab\\t");  // unknown escapes stay as written
  EXPECT_EQ(std::bit_cast<std::uint64_t>(batch.series(5).samples[0].v), 0x7ff8000000000001ull);
}

TEST(TextFormatTest, NormalizesBucketAndQuantileLabelsAfterTheirType) {
  const std::string body =
      "# TYPE rpc summary\n"
      "rpc{quantile=\"0.5\"} 1\n"
      "rpc{quantile=\"1\"} 2\n"
      "rpc_le{le=\"1\"} 2\n"
      "# TYPE lat histogram\n"
      "lat_bucket{le=\"1\"} 1\n"
      "lat_bucket{le=\"2.50\"} 1\n"
      "lat_bucket{le=\"+Inf\"} 2\n"
      "lat_bucket{le=\"1e6\",quantile=\"1\"} 2\n"
      "lat_bucket{le=\"abc\"} 2\n";
  auto [status, added] = Decode(body, TextFormat::kPrometheus);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_THAT(added,
              ElementsAre("rpc{quantile=\"0.5\"} => 5000:1", "rpc{quantile=\"1.0\"} => 5000:2",
                          "rpc_le{le=\"1\"} => 5000:2", "lat_bucket{le=\"1.0\"} => 5000:1",
                          "lat_bucket{le=\"2.5\"} => 5000:1", "lat_bucket{le=\"+Inf\"} => 5000:2",
                          "lat_bucket{le=\"1e+06\", quantile=\"1\"} => 5000:2",
                          "lat_bucket{le=\"abc\"} => 5000:2"));
  TextOptions options;
  options.normalize_bucket_labels = false;
  Batch batch;
  ASSERT_TRUE(DecodeText(body, options, Limits(), &batch).ok());
  EXPECT_EQ(batch.series(1).Get("quantile"), "1");
}

TEST(TextFormatTest, OpenMetricsAcceptsWhatPrometheusAccepts) {
  const std::string body =
      "# TYPE acme_http_router_request_seconds summary\n"
      "# UNIT acme_http_router_request_seconds seconds\n"
      "# HELP acme_http_router_request_seconds Latency of ACME's router.\n"
      "acme_http_router_request_seconds_sum{path=\"/api/v1\",method=\"GET\"} 9036.32\n"
      "acme_http_router_request_seconds_count{path=\"/api/v1\",method=\"GET\"} 807283.0\n"
      "# TYPE go_goroutines gauge\n"
      "# HELP go_goroutines \n"
      "go_goroutines 69 1520879607.789\n"
      "# TYPE foo counter\n"
      "foo_total 17.0 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67\n"
      "foo_total{a=\"b\"} 17.0 # {id=\"counter-test\"} 5\n"
      "# TYPE bar histogram\n"
      "bar_bucket{le=\"0.5\"} 1 # {} 0.4 1520879607.1\n"
      "bar_bucket{le=\"1\"} 2\n"
      "bar_bucket{le=\"+Inf\",} 3\n"
      "{\"quoted\",x=\"y\"} 1\n"
      "nan_metric NaN -1.5\n"
      "trunc 1 1.001\n"
      "# EOF";
  auto [status, added] = Decode(body, TextFormat::kOpenMetrics);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_THAT(
      added,
      ElementsAre(
          "acme_http_router_request_seconds_sum{method=\"GET\", path=\"/api/v1\"} => "
          "5000:9036.3199999999997",
          "acme_http_router_request_seconds_count{method=\"GET\", path=\"/api/v1\"} => 5000:807283",
          "go_goroutines => 1520879607789:69", "foo_total => 1520879607789:17",
          "foo_total{a=\"b\"} => 5000:17", "bar_bucket{le=\"0.5\"} => 5000:1",
          "bar_bucket{le=\"1.0\"} => 5000:2", "bar_bucket{le=\"+Inf\"} => 5000:3",
          "quoted{x=\"y\"} => 5000:1", "nan_metric => -1500:nan",
          // int64(1.001 * 1000) is 1000 in Go too.
          "trunc => 1000:1"));
  Batch batch;
  TextOptions options;
  ASSERT_TRUE(DecodeText(body + "\n", options, Limits(), &batch).ok());  // auto-detected
  EXPECT_EQ(batch.stats().exemplars_skipped, 3u);
  EXPECT_EQ(batch.series_count(), 11u);
}

TEST(TextFormatTest, FormatSelection) {
  EXPECT_EQ(TextFormatFromContentType("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            TextFormat::kOpenMetrics);
  EXPECT_EQ(TextFormatFromContentType("text/plain; version=0.0.4; charset=utf-8"),
            TextFormat::kPrometheus);
  EXPECT_EQ(TextFormatFromContentType(" Text/Plain "), TextFormat::kPrometheus);
  EXPECT_EQ(TextFormatFromContentType("application/json"), TextFormat::kAuto);
  EXPECT_EQ(TextFormatFromContentType(""), TextFormat::kAuto);
  EXPECT_EQ(DetectTextFormat("a 1\n# EOF\n"), TextFormat::kOpenMetrics);
  EXPECT_EQ(DetectTextFormat("a 1\n# EOF"), TextFormat::kOpenMetrics);
  EXPECT_EQ(DetectTextFormat("# EOF"), TextFormat::kOpenMetrics);
  EXPECT_EQ(DetectTextFormat("a 1\n"), TextFormat::kPrometheus);
  EXPECT_EQ(DetectTextFormat("a 1\n# EOF\n\n"), TextFormat::kPrometheus);
  EXPECT_EQ(DetectTextFormat(""), TextFormat::kPrometheus);

  // The timestamp unit follows the format.
  auto [om_status, om] = Decode("a 1 1.5\n# EOF\n", TextFormat::kAuto);
  ASSERT_TRUE(om_status.ok()) << om_status.ToString();
  EXPECT_THAT(om, ElementsAre("a => 1500:1"));
  auto [prom_status, prom] = Decode("a 1 1500\n", TextFormat::kAuto);
  ASSERT_TRUE(prom_status.ok());
  EXPECT_THAT(prom, ElementsAre("a => 1500:1"));
  auto [forced_status, forced] = Decode("a 1 1.5\n# EOF\n", TextFormat::kPrometheus);
  EXPECT_FALSE(forced_status.ok());
  // "# EOF" is an ordinary comment in 0.0.4.
  auto [eof_status, eof] = Decode("a 1\n# EOF\n", TextFormat::kPrometheus);
  EXPECT_TRUE(eof_status.ok());
}

TEST(TextFormatTest, DuplicateSeriesAreDroppedLikePrometheusScrape) {
  TextOptions options;
  options.default_timestamp_ms = 10;
  Batch batch;
  ASSERT_TRUE(DecodeText("a 1\n"
                         "a 2\n"
                         "b{x=\"1\",y=\"2\"} 1\n"
                         "b{y=\"2\",x=\"1\"} 2\n"
                         "b{x=\"1\",y=\"3\"} 3\n"
                         "c 1 100\n"
                         "c 2 200\n"
                         "c 3\n",
                         options, Limits(), &batch)
                  .ok());
  EXPECT_EQ(batch.stats().duplicates_dropped, 3u);
  std::vector<std::string> got;
  for (const promql::Series& s : batch.ToSeries()) {
    got.push_back(s.metric.ToString() + " " + std::to_string(s.points[0].t) + ":" +
                  std::to_string(static_cast<int>(s.points[0].v)));
  }
  EXPECT_THAT(got, ElementsAre("a 10:1", "b{x=\"1\", y=\"2\"} 10:1", "b{x=\"1\", y=\"3\"} 10:3",
                               "c 100:1", "c 200:2"));

  auto [status, added] = Decode("a 1\nb 2\n\na{} 3\n", TextFormat::kPrometheus, Limits(),
                                /*reject_duplicates=*/true);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("text format: line 4:1: duplicate series a (first at line 1)"));
}

struct BadText {
  TextFormat format;
  std::string body;
  const char* message;  // includes "line L:C: "
  StatusCode code = StatusCode::kParseError;
};

TEST(TextFormatTest, RejectsBadInputWithLineAndColumn) {
  using enum TextFormat;
  const BadText cases[] = {
      {kPrometheus, "a\n", "line 1:2: expected value after metric, got end of line"},
      {kPrometheus, "a{b='c'} 1\n",
       "line 1:5: expected label value (a quoted string), got \"'c'} 1\""},
      {kPrometheus, "a{b=\n", "line 1:5: expected label value (a quoted string), got end of line"},
      {kPrometheus, "a{\xff=\"foo\"} 1\n", "line 1:3: expected label name or '}', got \"\\xff"},
      {kPrometheus, "a{b=\"\xff\"} 1\n", "line 1:5: label value is not valid UTF-8"},
      {kPrometheus, "a true\n", "line 1:3: invalid float syntax \"true\""},
      {kPrometheus, "something_weird{problem=\"", "line 1:25: unterminated or invalid label value"},
      {kPrometheus, "empty_label_name{=\"\"} 0",
       "line 1:18: expected label name or '}', got \"=\\\""},
      {kPrometheus, "{A}0", "line 1:3: expected '=' after label name, got \"}0\""},
      {kPrometheus, "foo 1_2\n", "line 1:5: unsupported character in float"},
      {kPrometheus, "foo 0x1p-3\n", "line 1:5: unsupported character in float"},
      {kPrometheus, "foo 0 1_2\n", "line 1:8: expected end of line after timestamp, got \"_2\""},
      {kPrometheus, "{a=\"ok\"} 1", "line 1:1: metric name not set"},
      {kPrometheus, "# TYPE #\n", "line 1:8: expected metric name after TYPE, got \"#\""},
      {kPrometheus, "# HELP 9\n", "line 1:8: expected metric name after HELP, got \"9\""},
      {kPrometheus, "# TYPE foo bar\n", "line 1:12: invalid metric type \"bar\""},
      {kPrometheus, "# TYPE foo gaugehistogram\n", "invalid metric type \"gaugehistogram\""},
      {kPrometheus, "# HELP m \xff\n", "line 1:9: help text is not valid UTF-8"},
      {kPrometheus, "ok 1\nbad{x=\"1\",x=\"2\"} 1\n", "line 2:1: duplicate label name \"x\"",
       StatusCode::kInvalidArgument},
      {kPrometheus, "bad{1x=\"v\"}", "line 1:5: expected label name or '}', got \"1x="},
      {kPrometheus, "a-b 1", "line 1:2: invalid float syntax \"-b\""},
      {kPrometheus, "{\"a.b\"} 1", "line 1:2: invalid metric name \"a.b\"",
       StatusCode::kInvalidArgument},
      {kPrometheus, "m{\"a.b\"=\"v\"} 1", "line 1:3: invalid label name \"a.b\"",
       StatusCode::kInvalidArgument},
      {kPrometheus, "m{\"n\"} 1", "line 1:3: metric name already set"},
      {kPrometheus, "m 1 99999999999999999999\n",
       "line 1:5: timestamp \"99999999999999999999\" is out of range"},
      {kPrometheus, "m 1 9223372036854775808\n",
       "line 1:5: timestamp \"9223372036854775808\" is out of range"},
      {kPrometheus, "m 1 -5\n", "line 1:5: expected timestamp or end of line, got \"-5\""},
      {kPrometheus, std::string("\0 1", 3),
       "line 1:1: expected a metric name, '{' or '#' at the start of a line, got \"\\x00 1\""},
      {kPrometheus, std::string("a{b=\0\"ssss\"} 1", 14),
       "line 1:5: expected label value (a quoted string)"},
      {kPrometheus, "a{b=\"\\\n\"} 1", "line 1:5: unterminated or invalid label value"},
      {kPrometheus, "m{a=\"1\"} 1 2 3",
       "line 1:14: expected end of line after timestamp, got \"3\""},
      {kPrometheus, "ok 1\n\n  bad{", "line 3:7: expected label name or '}', got end of input"},
      {kPrometheus, "m{a=\"1\"}{b=\"2\"} 1",
       "line 1:9: expected value after metric, got \"{b=\\\"2\\\"} 1\""},
      {kPrometheus, "m{a=\"x\ny\",b} 1", "line 2:5: expected '=' after label name, got \"} 1\""},
      {kPrometheus, "m{a=\"1\"", "line 1:8: expected label name or '}', got end of input"},

      {kOpenMetrics, "", "line 1:1: data does not end with # EOF"},
      {kOpenMetrics, "\n# EOF\n",
       "line 1:1: expected a metric name, '{' or '#' at the start of a line, got end of line"},
      {kOpenMetrics, "metric 1\n", "line 2:1: data does not end with # EOF"},
      {kOpenMetrics, "metric 1", "line 1:9: data does not end with # EOF"},
      {kOpenMetrics, "m_total 1 # {aa=\"bb\"} 4", "line 1:24: data does not end with # EOF"},
      {kOpenMetrics, " a 1\n# EOF\n",
       "line 1:1: expected a metric name, '{' or '#' at the start of a line, got \" a 1\""},
      {kOpenMetrics, "# TYPE u untyped\n# EOF\n", "line 1:10: invalid metric type \"untyped\""},
      {kOpenMetrics, "# TYPE c counter \n# EOF\n", "line 1:10: invalid metric type \"counter \""},
      {kOpenMetrics, "#  TYPE c counter\n# EOF\n",
       "line 1:1: expected '# HELP', '# TYPE', '# UNIT' or '# EOF'"},
      {kOpenMetrics, "#\tTYPE c counter\n# EOF\n",
       "line 1:1: expected '# HELP', '# TYPE', '# UNIT' or '# EOF'"},
      {kOpenMetrics, "# a comment\n# EOF\n",
       "line 1:1: expected '# HELP', '# TYPE', '# UNIT' or '# EOF'"},
      {kOpenMetrics, "#EOF\n", "line 1:1: expected '# HELP', '# TYPE', '# UNIT' or '# EOF'"},
      {kOpenMetrics, "# TYPE \n# EOF\n",
       "line 1:8: expected metric name after TYPE, got end of line"},
      {kOpenMetrics, "# TYPE m\n# EOF\n",
       "line 1:9: expected a space and text after the metric name in TYPE"},
      {kOpenMetrics, "# HELP m\n# EOF\n",
       "line 1:9: expected a space and text after the metric name in HELP"},
      {kOpenMetrics, "# UNIT metric suffix\n# EOF\n",
       "line 1:1: unit \"suffix\" is not a suffix of metric \"metric\""},
      {kOpenMetrics, "# UNIT metricsuffix suffix\n# EOF\n",
       "unit \"suffix\" is not a suffix of metric \"metricsuffix\""},
      {kOpenMetrics, "# UNIT m suffix\n# EOF\n", "is not a suffix of metric \"m\""},
      {kOpenMetrics, "a\t1\n# EOF\n",
       "line 1:2: expected a space and the value after the metric, got \"\\t1\""},
      {kOpenMetrics, "a 1\t2\n# EOF\n", "line 1:3: invalid float syntax \"1\\t2\""},
      {kOpenMetrics, "a 1 2 \n# EOF\n",
       "line 1:6: expected end of line or exemplar after timestamp, got \" \""},
      {kOpenMetrics, "a 1 1 1\n# EOF\n",
       "line 1:6: expected end of line or exemplar after timestamp, got \" 1\""},
      {kOpenMetrics, "a 1 1z\n# EOF\n", "line 1:5: invalid float syntax \"1z\""},
      {kOpenMetrics, "a 1  2\n# EOF\n", "line 1:5: expected timestamp, got \" 2\""},
      {kOpenMetrics, "# EOF\na 1", "line 2:1: unexpected data after # EOF"},
      {kOpenMetrics, "# EOF\n\n", "line 2:1: unexpected data after # EOF"},
      {kOpenMetrics, "# EOFa 1", "line 1:6: unexpected data after # EOF"},
      {kOpenMetrics, "a{,b=\"c\"} 1\n# EOF\n", "line 1:3: expected label name or '}', got \",b="},
      {kOpenMetrics, "a{b=\"c\"d=\"e\"} 1\n# EOF\n",
       "line 1:8: expected ',' or '}' after label value, got \"d="},
      {kOpenMetrics, "a{b=\"c\",,d=\"e\"} 1\n# EOF\n",
       "line 1:9: expected label name or '}', got \",d="},
      {kOpenMetrics, "a{b=\"c\", d=\"e\"} 1\n# EOF\n",
       "line 1:9: expected label name or '}', got \" d="},
      {kOpenMetrics, "a {b=\"c\"} 1\n# EOF\n", "line 1:3: invalid float syntax \"{b=\\\"c\\\"}\""},
      {kOpenMetrics, "a{b=\"x\ny\"} 1\n# EOF\n", "line 1:5: unterminated or invalid label value"},
      {kOpenMetrics, "m_total 1 # {aa=bb}\n# EOF\n",
       "line 1:17: expected label value (a quoted string), got \"bb}\""},
      {kOpenMetrics, "m_total 1 # {aa=\"bb\"}\n# EOF\n",
       "line 1:22: expected value after exemplar labels, got end of line"},
      {kOpenMetrics, "m_total 1 # {bb}\n# EOF\n",
       "line 1:16: expected '=' after label name, got \"}\""},
      {kOpenMetrics, "m_total 1 # {\"q\"} 1\n# EOF\n",
       "line 1:14: expected label name, got a bare quoted string"},
      {kOpenMetrics, "m_total 1 # {a=\"b\"} 1_2\n# EOF\n",
       "line 1:21: unsupported character in float"},
      {kOpenMetrics, "m_total 1 # {a=\"b\"} true\n# EOF\n",
       "line 1:21: invalid float syntax \"true\""},
      {kOpenMetrics, std::string("m 1 # {a=\"\0\"} 1\n# EOF\n", 21),
       "line 1:10: unterminated or invalid label value"},
      {kOpenMetrics, "m 1 # {a=\"b\"} 1 2 3\n# EOF\n",
       "line 1:18: expected end of line after exemplar, got \" 3\""},
      {kOpenMetrics, "{b=\"c\",} 1\n# EOF\n", "line 1:1: metric name not set"},
      {kOpenMetrics, "a 1 NaN\n# EOF\n", "line 1:5: invalid timestamp NaN"},
      {kOpenMetrics, "a 1 -Inf\n# EOF\n", "line 1:5: invalid timestamp -Inf"},
      {kOpenMetrics, "a 1 1e17\n# EOF\n", "line 1:5: timestamp 1e17 is out of range"},
      {kOpenMetrics, "h_bucket{le=\"+Inf\"} 1 # {aa=\"bb\"} 4 NaN\n# EOF\n",
       "line 1:37: invalid exemplar timestamp NaN"},
      {kOpenMetrics, "a 1\n\n# EOF\n",
       "line 2:1: expected a metric name, '{' or '#' at the start of a line, got end of line"},
  };
  for (const BadText& c : cases) {
    SCOPED_TRACE(c.body);
    auto [status, added] = Decode(c.body, c.format);
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.code(), c.code) << status.ToString();
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.message));
    EXPECT_THAT(
        std::string(status.message()),
        ::testing::StartsWith(c.format == kOpenMetrics ? "openmetrics: " : "text format: "));
  }
}

TEST(TextFormatTest, EnforcesLimits) {
  const std::string body = "m{a=\"1\",b=\"22\"} 1\nn 2\n";
  const auto expect_limit = [&](const Limits& limits, const char* message) {
    auto [status, added] = Decode(body, TextFormat::kPrometheus, limits);
    ASSERT_FALSE(status.ok()) << message;
    EXPECT_EQ(status.code(), StatusCode::kResourceExhausted);
    EXPECT_THAT(std::string(status.message()), HasSubstr(message));
  };
  Limits l;
  l.max_body_bytes = 5;
  expect_limit(l, "text format: body is 22 bytes, over the limit of 5");
  l = Limits();
  l.max_labels_per_series = 2;
  expect_limit(l, "line 1:9: more than the limit of 2 labels in one series");
  l = Limits();
  l.max_label_name_bytes = 4;
  expect_limit(l, "line 1:1: label name \"__name__\" is 8 bytes");
  l = Limits();
  l.max_label_value_bytes = 1;
  expect_limit(l, "line 1:9: value of label \"b\" is 2 bytes");
  l = Limits();
  l.max_samples = 1;
  expect_limit(l, "line 2:1: more than the limit of 1 samples");
  l.max_samples = 2;
  auto [status, added] = Decode(body, TextFormat::kPrometheus, l);
  EXPECT_TRUE(status.ok());
}

TEST(TextFormatTest, ParsesTestdataExpositions) {
  const std::string prom = ReadTestdata("node_exporter.prom");
  ASSERT_FALSE(prom.empty());
  Batch batch;
  TextOptions options;
  options.default_timestamp_ms = 42;
  ASSERT_TRUE(DecodeText(prom, options, Limits(), &batch).ok());
  std::size_t newlines = 0;
  std::size_t comments = 0;
  for (std::size_t i = 0; i < prom.size(); ++i) {
    if (prom[i] == '\n') ++newlines;
    if (prom[i] == '#' && (i == 0 || prom[i - 1] == '\n')) ++comments;
  }
  EXPECT_EQ(batch.series_count(), newlines - comments);  // one sample per other line
  for (std::size_t i = 0; i < batch.series_count(); ++i) {
    EXPECT_EQ(batch.series(i).samples[0].t, 42);
    EXPECT_FALSE(batch.series(i).MetricName().empty());
  }

  const std::string om = ReadTestdata("openmetrics.txt");
  ASSERT_FALSE(om.empty());
  Batch om_batch;
  const Status status = DecodeText(om, TextOptions(), Limits(), &om_batch);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_GT(om_batch.series_count(), 10u);
  EXPECT_GT(om_batch.stats().exemplars_skipped, 0u);
}

}  // namespace
}  // namespace nimify::ingest
