// Resource bombs sent to nimifyd in-process on 127.0.0.1:0: each is refused
// with a 4xx (or a refused reload) whose message names the limit, and counted
// in nimify_refused_inputs_total{reason}. The daemon keeps serving after each.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <snappy.h>
#include <spdlog/sinks/ostream_sink.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/test_daemon.h"
#include "daemon/test_http.h"
#include "remote_write_test.pb.h"

namespace nimify::daemon {
namespace {

using testing::FormEncode;
using testing::Get;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::Post;
using testing::RawResponse;
using testing::SendRaw;
using testing::StartDryRun;
using testing::WaitFor;
using testing::WriteFile;

const std::string kRemoteWriteHeaders =
    "Content-Encoding: snappy\r\nX-Prometheus-Remote-Write-Version: 0.1.0\r\n";

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

using LabelList = std::vector<std::pair<std::string, std::string>>;

std::string RemoteWriteBody(const std::vector<LabelList>& series, std::int64_t t_ms) {
  nimify_test::rw::WriteRequest req;
  for (const LabelList& labels : series) {
    auto* ts = req.add_timeseries();
    for (const auto& [n, v] : labels) {
      auto* l = ts->add_labels();
      l->set_name(n);
      l->set_value(v);
    }
    auto* s = ts->add_samples();
    s->set_timestamp(t_ms);
    s->set_value(1);
  }
  std::string raw, out;
  req.SerializeToString(&raw);
  snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

// Rules: one alert whose annotation template recurses without end, and a
// recorded series to query.
constexpr const char* kRules = R"(groups:
  - name: bombs
    interval: 1s
    rules:
      - alert: LoopingTemplate
        expr: vector(1)
        annotations:
          summary: '{{ define "loop" }}{{ template "loop" }}{{ end }}{{ template "loop" }}'
      - record: one
        expr: vector(1)
)";

constexpr const char* kConfig = R"(global:
  evaluation_interval: 1s
rule_files: [rules.yml]
engine: {allowed_lateness: 2s, shards: 1, max_series: 50}
limits:
  max_body_bytes: 1MiB
  max_inflight_body_bytes: 1MiB
  max_decompressed_bytes: 4MiB
  max_samples_per_request: 1000
  max_query_samples: 1000
  read_timeout: 5s
route: {receiver: ops, group_by: [alertname], group_wait: 1h}
receivers:
  - name: ops
)";

class BombsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("nimifyd_bombs_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    Result<std::unique_ptr<Daemon>> d = StartDryRun(
        dir_, kRules, kConfig, std::make_shared<spdlog::sinks::ostream_sink_mt>(log_stream_));
    ASSERT_TRUE(d.ok()) << d.status().message();
    daemon_ = std::move(*d);
    port_ = daemon_->port();
  }
  void TearDown() override {
    if (daemon_) {
      EXPECT_TRUE(daemon_->Shutdown(std::chrono::seconds(5)).ok());
    }
    daemon_.reset();
    std::filesystem::remove_all(dir_);
  }

  // nimify_refused_inputs_total{reason="<reason>"}, or -1 when absent.
  double Refused(const std::string& reason) {
    const std::string metrics = Get(port_, "/metrics").body;
    const std::regex re("nimify_refused_inputs_total\\{reason=\"" + reason + "\"\\} ([0-9]+)");
    std::smatch m;
    if (!std::regex_search(metrics, m, re)) return -1;
    return std::stod(m[1]);
  }

  // An unlabelled sample of /metrics, or -1 when absent.
  double Metric(const std::string& name) {
    const std::string metrics = Get(port_, "/metrics").body;
    const std::regex re("(^|\n)" + name + " ([0-9.e+]+)\n");
    std::smatch m;
    if (!std::regex_search(metrics, m, re)) return -1;
    return std::stod(m[2]);
  }

  RawResponse Write(const std::string& body) {
    return Post(port_, "/api/v1/write", body, "application/x-protobuf", kRemoteWriteHeaders);
  }
  RawResponse Query(const std::string& expr) {
    return Post(port_, "/api/v1/query", "query=" + FormEncode(expr));
  }

  void ExpectStillServing() {
    EXPECT_EQ(Get(port_, "/-/healthy").status, 200);
    EXPECT_THAT(Query("1+1").body, HasSubstr("\"2\""));
  }

  std::filesystem::path dir_;
  std::ostringstream log_stream_;
  std::unique_ptr<Daemon> daemon_;
  std::uint16_t port_ = 0;
};

TEST_F(BombsTest, EveryReasonIsExportedFromTheStart) {
  for (const char* reason :
       {"decompressed_size", "body_size", "header_size", "inflight_bytes", "sample_limit",
        "label_limit", "series_limit", "nesting_depth", "yaml_alias", "regex_size",
        "query_samples", "template_limit"}) {
    EXPECT_EQ(Refused(reason), 0) << reason;
  }
}

TEST_F(BombsTest, SnappyBodyInflatingPastTheLimit) {
  // A snappy length header announcing 1 GiB, then a few bytes: refused from
  // the header, nothing inflated.
  std::string bomb;
  for (std::uint64_t n = 1ull << 30; ; n >>= 7) {
    if (n < 0x80) {
      bomb.push_back(static_cast<char>(n));
      break;
    }
    bomb.push_back(static_cast<char>((n & 0x7f) | 0x80));
  }
  bomb += std::string(16, '\0');
  const RawResponse r = Write(bomb);
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("decompressed body would be 1073741824 bytes, over the limit of "
                                "4194304"));
  EXPECT_EQ(Refused("decompressed_size"), 1);
  ExpectStillServing();
}

TEST_F(BombsTest, HugeLabelSets) {
  LabelList many{{"__name__", "wide"}};
  for (int i = 0; i < 200; ++i) many.emplace_back("l" + std::to_string(1000 + i), "v");
  RawResponse r = Write(RemoteWriteBody({many}, NowMs()));
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("more than the limit of 128 labels in one series"));
  EXPECT_EQ(Refused("label_limit"), 1);

  r = Write(RemoteWriteBody({{{"__name__", "long"}, {"blob", std::string(20000, 'x')}}}, NowMs()));
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("value of label \"blob\" is 20000 bytes, over the limit of 16384"));
  EXPECT_EQ(Refused("label_limit"), 2);
  ExpectStillServing();
}

TEST_F(BombsTest, TooManySamplesInOneBodyAndTooManySeries) {
  std::vector<LabelList> series;
  for (int i = 0; i < 1001; ++i) series.push_back({{"__name__", "s"}, {"i", std::to_string(i)}});
  RawResponse r = Write(RemoteWriteBody(series, NowMs()));
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("more than the limit of 1000 samples"));
  EXPECT_EQ(Refused("sample_limit"), 1);

  // engine.max_series is 50 (the rules' own series count too).
  series.resize(80);
  r = Write(RemoteWriteBody(series, NowMs()));
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("series limit reached: 50 active series (max_series)"));
  EXPECT_EQ(Refused("series_limit"), 1);
  ExpectStillServing();
}

TEST_F(BombsTest, BodiesAndHeadersOverTheLimits) {
  RawResponse r = SendRaw(port_, "POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                                     std::to_string(2 << 20) + "\r\n\r\n");
  EXPECT_EQ(r.status, 413);
  EXPECT_THAT(r.body, HasSubstr("request body over the limit of 1048576 bytes"));
  EXPECT_EQ(Refused("body_size"), 1);
  r = SendRaw(port_, "GET /-/healthy HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(20000, 'a') +
                         "\r\n\r\n");
  EXPECT_EQ(r.status, 431);
  EXPECT_EQ(Refused("header_size"), 1);
  ExpectStillServing();
}

TEST_F(BombsTest, BodiesInFlightOverTheBoundGet429WithRetryAfter) {
  // A client announces 900 KB and sends none of it: the bytes stay reserved
  // (limits.max_inflight_body_bytes is 1 MiB) until it finishes or times out.
  const int held = testing::OpenIdleConnection(port_);
  ASSERT_GE(held, 0);
  const std::string head =
      "POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
      "Content-Encoding: snappy\r\nContent-Length: 900000\r\n\r\n";
  ASSERT_EQ(::write(held, head.data(), head.size()), static_cast<ssize_t>(head.size()));
  // Once the server has read that header, its bytes show as reserved.
  ASSERT_TRUE(WaitFor([&] { return Metric("nimify_http_request_body_bytes_in_flight") >= 900000; },
                      std::chrono::seconds(4)))
      << "the held request's header was not read (read_timeout is 5s)";
  const std::string second(200000, 'x');
  RawResponse r =
      Post(port_, "/api/v1/write", second, "application/x-protobuf", kRemoteWriteHeaders);
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_EQ(r.headers["retry-after"], "1");
  EXPECT_THAT(r.body, HasSubstr("too many request bytes in flight"));
  EXPECT_THAT(r.body, HasSubstr("limits.max_inflight_body_bytes"));
  EXPECT_GE(Refused("inflight_bytes"), 1);
  // Small bodies (query forms) still pass, and GETs.
  ExpectStillServing();
  // Once the held request is gone, its bytes are free again.
  testing::CloseSocket(held);
  const auto until_free = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  do {
    r = Post(port_, "/api/v1/write", second, "application/x-protobuf", kRemoteWriteHeaders);
  } while (r.status == 429 && std::chrono::steady_clock::now() < until_free);
  EXPECT_EQ(r.status, 400) << r.body;  // not snappy: decoded and refused, not throttled
}

TEST_F(BombsTest, DeeplyNestedJsonAndPromQL) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  RawResponse r = Post(port_, "/api/v2/silences", deep, "application/json");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("JSON body nested too deeply (more than 64 levels)"));
  r = Post(port_, "/api/v2/acks", "{\"matchers\":" + deep + "}", "application/json");
  EXPECT_EQ(r.status, 400);
  r = Post(port_, "/api/v1/alerts", deep, "application/json");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Refused("nesting_depth"), 3);
  // Brackets inside strings are not nesting.
  r = Post(port_, "/api/v2/acks", "{\"comment\":\"" + std::string(1000, '[') + "\"}",
           "application/json");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, Not(HasSubstr("nested")));

  r = Query(std::string(20000, '(') + "1" + std::string(20000, ')'));
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("nested too deeply"));
  EXPECT_EQ(Refused("nesting_depth"), 4);
  ExpectStillServing();
}

TEST_F(BombsTest, RegexBeyondRe2sMemoryBudget) {
  // Each \pL{1000} compiles to about a million instructions: far past re2's
  // default 8 MiB program budget.
  std::string re;
  for (int i = 0; i < 4; ++i) re += "\\\\pL{1000}";
  RawResponse r = Query("up{job=~\"" + re + "\"}");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_THAT(r.body, HasSubstr("expression too large"));
  EXPECT_EQ(Refused("regex_size"), 1);
  // The same in a silence's matcher (Alertmanager's API).
  r = Post(port_, "/api/v2/silences",
           R"({"matchers":[{"name":"job","value":")" + re +
               R"(","isRegex":true,"isEqual":true}],"startsAt":"2030-01-01T00:00:00Z",)"
               R"("endsAt":"2030-01-02T00:00:00Z","createdBy":"t","comment":"c"})",
           "application/json");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_THAT(r.body, HasSubstr("expression too large"));
  EXPECT_EQ(Refused("regex_size"), 2);
  ExpectStillServing();
}

TEST_F(BombsTest, QueriesSelectingTooManySamples) {
  // limits.max_query_samples is 1000: a range query of 5000 steps over one
  // series loads more.
  const std::int64_t now_s = NowMs() / 1000;
  const RawResponse r =
      Post(port_, "/api/v1/query_range",
           "query=" + FormEncode("vector(1)") + "&start=" + std::to_string(now_s - 5000) +
               "&end=" + std::to_string(now_s) + "&step=1");
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_THAT(r.body, HasSubstr("query processing would load too many samples"));
  EXPECT_EQ(Refused("query_samples"), 1);
  ExpectStillServing();
}

TEST_F(BombsTest, TemplateThatLoopsIsCutOffAndCounted) {
  // LoopingTemplate fires at its first evaluation (samples move the
  // evaluation clock on); its summary recurses.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (Refused("template_limit") < 1 && std::chrono::steady_clock::now() < until) {
    EXPECT_EQ(Write(RemoteWriteBody({{{"__name__", "tick"}}}, NowMs())).status, 204);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_GE(Refused("template_limit"), 1);
  const std::string alerts = Get(port_, "/api/v1/alerts").body;
  EXPECT_THAT(alerts, HasSubstr("LoopingTemplate"));
  EXPECT_THAT(alerts, HasSubstr("error expanding template"));
  EXPECT_THAT(alerts, HasSubstr("exceeded maximum template depth"));
  ExpectStillServing();
}

TEST_F(BombsTest, YamlAliasBombsInConfigAndRuleFilesAreRefusedOnReload) {
  // Nine levels of nine aliases each: 9^9 (387 million) nodes once expanded.
  std::string bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 10; ++i) {
    std::string refs;
    for (int j = 0; j < 9; ++j) refs += std::string(j ? ", " : "") + "*a" + std::to_string(i - 1);
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + refs + "]\n";
  }
  // In the response part of the config (what the daemon does not read itself).
  WriteFile(dir_ / "nimifyd.yml", std::string(kConfig) + "templates_bomb:\n" +
                                      [&] {
                                        std::string indented;
                                        std::istringstream in(bomb);
                                        for (std::string line; std::getline(in, line);) {
                                          indented += "  " + line + "\n";
                                        }
                                        return indented;
                                      }());
  // Expanding up to the node limit takes seconds in a Debug+ASan build.
  RawResponse r = SendRaw(port_, "POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
                          std::chrono::seconds(120));
  EXPECT_EQ(r.status, 500);
  EXPECT_THAT(r.body, HasSubstr("alias bomb"));
  EXPECT_THAT(r.body, HasSubstr("nimifyd.yml:"));
  EXPECT_EQ(Refused("yaml_alias"), 1);
  WriteFile(dir_ / "nimifyd.yml", kConfig);

  // In a rule file: the rule loader reads typed fields only and never walks
  // an alias's expansion (yaml-cpp shares aliased nodes), so the bomb is an
  // unknown field or a wrong type, refused at once with where it is.
  WriteFile(dir_ / "rules.yml", bomb + std::string(kRules));
  r = Post(port_, "/-/reload", "");
  EXPECT_EQ(r.status, 500);
  EXPECT_THAT(r.body, HasSubstr("rules.yml:1:1: field a0 not found in rule file"));
  std::string in_a_rule = bomb + "groups:\n  - name: g\n    rules:\n      - alert: A\n"
                          "        expr: vector(1)\n        labels: *a9\n";
  WriteFile(dir_ / "rules.yml", in_a_rule);
  r = Post(port_, "/-/reload", "");
  EXPECT_EQ(r.status, 500);
  EXPECT_THAT(r.body, HasSubstr("field labels: expected a mapping of strings, got a sequence"));
  WriteFile(dir_ / "rules.yml", kRules);
  EXPECT_EQ(Post(port_, "/-/reload", "").status, 200);
  ExpectStillServing();
}

TEST(LimitsConfig, InflightBoundIsCheckedAgainstTheBodyLimitWithItsPosition) {
  Result<DaemonConfig> c = ParseConfig(
      "limits:\n  max_body_bytes: 8MiB\n  max_inflight_body_bytes: 4MiB\n", "n.yml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr("n.yml:3:28: limits.max_inflight_body_bytes (4194304) must be at least "
                        "limits.max_body_bytes (8388608)"));
  // Raising the body limit alone past the default in-flight bound is caught too.
  c = ParseConfig("limits:\n  max_body_bytes: 1GiB\n", "n.yml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("n.yml:2:19:"));
  c = ParseConfig("limits:\n  max_inflight_body_bytes: 0\n", "n.yml");
  EXPECT_FALSE(c.ok());
}

TEST(LimitsConfig, MemoryBoundFollowsTheDocumentedFormula) {
  Result<DaemonConfig> c = ParseConfig(
      "engine: {ring_capacity: 1024, max_series: 1000}\n"
      "limits: {max_connections: 10, max_header_bytes: 1KiB, max_body_bytes: 1MiB,\n"
      "         max_inflight_body_bytes: 2MiB, max_decompressed_bytes: 4MiB,\n"
      "         max_samples_per_request: 100}\n",
      "n.yml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  const MemoryBound b = ComputeMemoryBound(*c, /*io_threads=*/2, /*shards=*/3, 2048);
  // Per connection: the read buffer (64 KiB, over the 1 KiB header) and a small body.
  EXPECT_EQ(b.request_buffers, 10u * (65536 + 65536) + (2u << 20));
  EXPECT_EQ(b.decoding, 2u * (2 * (4u << 20) + 16 * 100));
  EXPECT_EQ(b.rings, 3u * 3 * 1024 * 24);
  EXPECT_EQ(b.series, 1000u * 2048);
  EXPECT_EQ(b.total(), b.request_buffers + b.decoding + b.rings + b.series);
}

}  // namespace
}  // namespace nimify::daemon
