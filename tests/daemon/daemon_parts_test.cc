// nimifyd's parts without a server: flags, config, API formatting, logs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <cmath>
#include <limits>
#include <sstream>

#include "daemon/config.h"
#include "daemon/flags.h"
#include "daemon/logging.h"
#include "daemon/metrics.h"
#include "daemon/prom_api.h"

namespace nimify::daemon {
namespace {

using ::testing::HasSubstr;

TEST(DaemonFlags, BothSpellingsAndRepeatedRules) {
  const std::vector<std::string> args = {"--config.file=a.yml", "--rules.file", "r1.yml",
                                         "--rules.file=r2.yml", "--web.listen-address",
                                         "127.0.0.1:0", "--promql.compat=2", "--log.level=debug",
                                         "--log.format", "json", "--dry-run"};
  Result<Flags> f = ParseFlags(args);
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->config_file, "a.yml");
  EXPECT_EQ(f->rules_files, (std::vector<std::string>{"r1.yml", "r2.yml"}));
  EXPECT_EQ(f->listen_address, "127.0.0.1:0");
  EXPECT_EQ(f->compat, PromqlCompat::kPrometheus2);
  EXPECT_EQ(f->log_level, LogLevel::kDebug);
  EXPECT_EQ(f->log_format, LogFormat::kJson);
  EXPECT_TRUE(f->dry_run);
}

TEST(DaemonFlags, Defaults) {
  Result<Flags> f = ParseFlags({});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->listen_address, "127.0.0.1:9095");
  EXPECT_EQ(f->compat, PromqlCompat::kPrometheus3);
  EXPECT_FALSE(f->dry_run);
}

TEST(DaemonFlags, Errors) {
  EXPECT_THAT(std::string(ParseFlags(std::vector<std::string>{"--nope"}).status().message()),
              HasSubstr("unknown flag --nope"));
  EXPECT_THAT(std::string(ParseFlags(std::vector<std::string>{"--config.file"}).status().message()),
              HasSubstr("needs a value"));
  EXPECT_THAT(
      std::string(ParseFlags(std::vector<std::string>{"--promql.compat=4"}).status().message()),
      HasSubstr("expected 2 or 3"));
  EXPECT_THAT(
      std::string(ParseFlags(std::vector<std::string>{"--log.format=xml"}).status().message()),
      HasSubstr("logfmt or json"));
  EXPECT_FALSE(ParseFlags(std::vector<std::string>{"positional"}).ok());
  EXPECT_THAT(FlagsUsage(), HasSubstr("--storage.state-dir"));
}

TEST(DaemonConfig, SplitsDaemonKeysFromResponses) {
  const char* text = R"(
global:
  evaluation_interval: 15s
  external_labels: {cluster: eu1, replica: ""}
  resolve_timeout: 5m
rule_files: [rules/a.yml, /abs/b.yml]
engine: {shards: 2, allowed_lateness: 30s, max_sample_age: 2h, max_late_age: 10m, fire_on_crossing: false}
limits: {max_body_bytes: 1MiB, read_timeout: 5s, max_connections: 10}
route: {receiver: default}
receivers: [{name: default}]
)";
  Result<DaemonConfig> c = ParseConfig(text, "/etc/nimify/nimifyd.yml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->evaluation_interval, std::chrono::seconds(15));
  ASSERT_EQ(c->external_labels.size(), 1u);  // empty values are dropped
  EXPECT_EQ(c->external_labels[0].name, "cluster");
  EXPECT_EQ(c->rule_files, (std::vector<std::string>{"/etc/nimify/rules/a.yml", "/abs/b.yml"}));
  EXPECT_EQ(c->engine.shards, 2u);
  EXPECT_EQ(c->engine.allowed_lateness, std::chrono::seconds(30));
  EXPECT_EQ(c->engine.max_sample_age, std::chrono::hours(2));
  EXPECT_EQ(c->engine.max_late_age, std::chrono::minutes(10));
  EXPECT_FALSE(c->engine.fire_on_crossing);
  EXPECT_EQ(c->limits.max_body_bytes, 1u << 20);
  EXPECT_EQ(c->limits.read_timeout, std::chrono::seconds(5));
  EXPECT_EQ(c->limits.max_connections, 10u);
  ASSERT_TRUE(c->responses.has_value());
  const ConfigNode& r = *c->responses;
  EXPECT_EQ(r.Find("rule_files"), nullptr);
  EXPECT_EQ(r.Find("engine"), nullptr);
  EXPECT_EQ(r.Find("limits"), nullptr);
  ASSERT_NE(r.Find("route"), nullptr);
  const ConfigNode* g = r.Find("global");
  ASSERT_NE(g, nullptr);
  EXPECT_NE(g->Find("resolve_timeout"), nullptr);
  EXPECT_EQ(g->Find("evaluation_interval"), nullptr);
}

TEST(DaemonConfig, NoResponsesWithoutResponseSections) {
  Result<DaemonConfig> c = ParseConfig("global: {resolve_timeout: 5m}\nengine: {shards: 1}\n", "x");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_FALSE(c->responses.has_value());
  EXPECT_FALSE(c->engine.max_late_age.has_value());  // the engine derives it from the rules
  EXPECT_TRUE(c->engine.fire_on_crossing);           // the default
  Result<DaemonConfig> not_bool = ParseConfig("engine: {fire_on_crossing: sometimes}\n", "x.yml");
  EXPECT_FALSE(not_bool.ok());
  Result<DaemonConfig> negative = ParseConfig("engine: {max_late_age: -1m}\n", "x.yml");
  EXPECT_FALSE(negative.ok());
  Result<DaemonConfig> empty = ParseConfig("", "x");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->evaluation_interval, std::chrono::minutes(1));
}

TEST(DaemonConfig, ErrorsCarryFileLineColumn) {
  Result<DaemonConfig> c = ParseConfig("engine:\n  shards: 1\n  shardz: 2\n", "d.yml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("d.yml:3:"));
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("shardz"));
  c = ParseConfig("limits: {max_body_bytes: lots}\n", "d.yml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("d.yml:1:"));
  c = ParseConfig("global: {evaluation_interval: -}\n", "d.yml");
  EXPECT_FALSE(c.ok());
  c = ParseConfig("engine: [1\n", "d.yml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("d.yml:"));
}

TEST(PromApi, TimestampsAndValuesAsPrometheusWritesThem) {
  EXPECT_EQ(FormatApiTimestamp(1435781451781), "1435781451.781");
  EXPECT_EQ(FormatApiTimestamp(1435781451780), "1435781451.780");
  EXPECT_EQ(FormatApiTimestamp(1435781451000), "1435781451");
  EXPECT_EQ(FormatApiTimestamp(5), "0.005");
  EXPECT_EQ(FormatApiTimestamp(-1500), "-1.500");
  EXPECT_EQ(FormatApiValue(2), "2");
  EXPECT_EQ(FormatApiValue(0.1), "0.1");
  EXPECT_EQ(FormatApiValue(1e21), "1000000000000000000000");
  EXPECT_EQ(FormatApiValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatApiValue(std::nan("")), "NaN");
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(1435781451780), "2015-07-01T20:10:51.78Z");
}

TEST(PromApi, ParsesTimesAndDurations) {
  EXPECT_EQ(*ParseApiTime("1435781451.781"), 1435781451781);
  EXPECT_EQ(*ParseApiTime("1435781451"), 1435781451000);
  EXPECT_EQ(*ParseApiTime("2015-07-01T20:10:51.781Z"), 1435781451781);
  EXPECT_EQ(*ParseApiTime("2015-07-01T22:10:51+02:00"), 1435781451000);
  EXPECT_FALSE(ParseApiTime("yesterday").ok());
  EXPECT_FALSE(ParseApiTime("0x10").ok());
  EXPECT_THAT(std::string(ParseApiTime("x").status().message()),
              HasSubstr("cannot parse \"x\" to a valid timestamp"));
  EXPECT_EQ(*ParseApiDuration("15"), 15000);
  EXPECT_EQ(*ParseApiDuration("0.5"), 500);
  EXPECT_EQ(*ParseApiDuration("1m30s"), 90000);
  EXPECT_FALSE(ParseApiDuration("abc").ok());
}

TEST(PromApi, FormDecoding) {
  Params p;
  ASSERT_TRUE(p.AddEncoded("query=1%2B1&match%5B%5D=up&match[]=a+b&empty=&flag").ok());
  EXPECT_EQ(*p.Get("query"), "1+1");
  EXPECT_EQ(p.GetAll("match[]"), (std::vector<std::string>{"up", "a b"}));
  EXPECT_EQ(*p.Get("empty"), "");
  EXPECT_EQ(*p.Get("flag"), "");
  EXPECT_FALSE(p.Get("absent").has_value());
  Params bad;
  EXPECT_FALSE(bad.AddEncoded("q=%zz").ok());
  EXPECT_FALSE(bad.AddEncoded("q=%4").ok());
}

TEST(PromApi, QueryJsonShapes) {
  QueryResult scalar;
  scalar.type = QueryValueType::kScalar;
  scalar.scalar = {1700000000123, 2};
  EXPECT_EQ(ApiSuccessBody(QueryDataJson(scalar)),
            R"({"status":"success","data":{"resultType":"scalar","result":[1700000000.123,"2"]}})");
  QueryResult vec;
  vec.type = QueryValueType::kVector;
  vec.series.push_back({{{"__name__", "up"}, {"job", "a\"b"}}, {{1000, 1}}});
  EXPECT_EQ(QueryDataJson(vec),
            R"({"resultType":"vector","result":[{"metric":{"__name__":"up","job":"a\"b"},"value":[1,"1"]}]})");
  QueryResult matrix;
  matrix.type = QueryValueType::kMatrix;
  matrix.series.push_back({{{"a", "b"}}, {{1000, 1}, {2000, 0.5}}});
  EXPECT_EQ(QueryDataJson(matrix),
            R"({"resultType":"matrix","result":[{"metric":{"a":"b"},"values":[[1,"1"],[2,"0.5"]]}]})");
  EXPECT_EQ(ApiErrorBody("bad_data", "1:1: parse error"),
            R"({"status":"error","errorType":"bad_data","error":"1:1: parse error"})");
  EXPECT_EQ(ApiErrorForStatus(Status::ParseError("x")).http_status, 400);
  EXPECT_EQ(ApiErrorForStatus(Status::DeadlineExceeded("x")).type, "timeout");
}

TEST(DaemonLogging, LogfmtAndJson) {
  std::ostringstream text;
  LogFactory logfmt(LogFormat::kLogfmt, LogLevel::kInfo,
                    std::make_shared<spdlog::sinks::ostream_sink_mt>(text));
  auto log = logfmt.Make("http");
  LogKv(*log, spdlog::level::info, "request done", {{"path", "/a b"}, {"code", "200"}});
  log->debug("hidden at info level");
  logfmt.Callback("engine")(LogLevel::kWarn, "rule \"x\" failed");
  const std::string out = text.str();
  EXPECT_THAT(out, HasSubstr("level=info component=http msg=\"request done\" path=\"/a b\" code=200\n"));
  EXPECT_THAT(out, HasSubstr("level=warn component=engine msg=\"rule \\\"x\\\" failed\"\n"));
  EXPECT_THAT(out, ::testing::Not(HasSubstr("hidden")));
  EXPECT_THAT(out, ::testing::StartsWith("ts=20"));

  std::ostringstream json;
  LogFactory js(LogFormat::kJson, LogLevel::kDebug,
                std::make_shared<spdlog::sinks::ostream_sink_mt>(json));
  LogKv(*js.Make("nimifyd"), spdlog::level::err, "bad\nthing", {{"err", "x\ty"}});
  EXPECT_THAT(json.str(), HasSubstr(R"("level":"error","component":"nimifyd","msg":"bad\nthing","err":"x\ty"})"));
  EXPECT_THAT(json.str(), ::testing::StartsWith("{\"ts\":\"20"));
}

TEST(DaemonMetrics, Exposition) {
  DaemonMetrics m;
  m.ObserveRequest("/api/v1/query", 200, 0.002);
  m.ObserveRequest("/api/v1/query", 400, 0.5);
  std::string out;
  ExpositionWriter w(&out);
  m.Write(w);
  EXPECT_THAT(out, HasSubstr("nimify_http_requests_total{code=\"200\",handler=\"/api/v1/query\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("nimify_http_request_duration_seconds_bucket{handler=\"/api/v1/query\",le=\"0.0025\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("nimify_http_request_duration_seconds_bucket{handler=\"/api/v1/query\",le=\"+Inf\"} 2\n"));
  EXPECT_THAT(out, HasSubstr("nimify_http_request_duration_seconds_count{handler=\"/api/v1/query\"} 2\n"));
  EXPECT_THAT(out, HasSubstr("nimify_config_last_reload_successful 1\n"));
}

}  // namespace
}  // namespace nimify::daemon
