// nimifyd in-process on 127.0.0.1:0: ingest, Prometheus's API, operations and
// bad requests. Every wait is bounded; nothing asserts on speed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <snappy.h>
#include <spdlog/sinks/ostream_sink.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

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
using testing::WriteFile;

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool WaitFor(const std::function<bool()>& cond,
             std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return cond();
}

constexpr const char* kRules = R"(groups:
  - name: test
    interval: 1s
    rules:
      - alert: TargetDown
        expr: up{job="rw"} == 0
        labels: {severity: page}
        annotations: {summary: "{{ $labels.job }} is down"}
      - record: job:up:sum
        expr: sum by (job) (up)
)";

constexpr const char* kConfig = R"(global:
  evaluation_interval: 1s
rule_files: [rules.yml]
engine: {allowed_lateness: 2s, shards: 1}
limits: {max_body_bytes: 1MiB, max_decompressed_bytes: 4MiB, read_timeout: 1s}
)";

// A thread-safe copy of what the daemon logged.
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_)) {}
  spdlog::sink_ptr sink() const { return sink_; }
  std::string text() {
    sink_->flush();
    std::lock_guard<std::mutex> lock(mu_);
    return stream_.str();
  }

 private:
  std::mutex mu_;
  std::ostringstream stream_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

std::string RemoteWriteBody(const std::vector<std::pair<std::vector<std::pair<std::string, std::string>>,
                                                        std::pair<std::int64_t, double>>>& series) {
  nimify_test::rw::WriteRequest req;
  for (const auto& [labels, sample] : series) {
    auto* ts = req.add_timeseries();
    for (const auto& [n, v] : labels) {
      auto* l = ts->add_labels();
      l->set_name(n);
      l->set_value(v);
    }
    auto* s = ts->add_samples();
    s->set_timestamp(sample.first);
    s->set_value(sample.second);
  }
  std::string raw, out;
  req.SerializeToString(&raw);
  snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

const std::string kRemoteWriteHeaders =
    "Content-Encoding: snappy\r\nX-Prometheus-Remote-Write-Version: 0.1.0\r\n";

class DaemonServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("nimifyd_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    Result<std::unique_ptr<Daemon>> d = StartDryRun(dir_, kRules, kConfig, logs_.sink());
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

  RawResponse WriteSeries(const std::string& name, const std::string& job, double v) {
    const std::string body = RemoteWriteBody({{{{"__name__", name}, {"job", job}}, {NowMs(), v}}});
    return Post(port_, "/api/v1/write", body, "application/x-protobuf", kRemoteWriteHeaders);
  }

  std::string Query(const std::string& expr) {
    return Post(port_, "/api/v1/query", "query=" + FormEncode(expr)).body;
  }

  std::filesystem::path dir_;
  LogCapture logs_;
  std::unique_ptr<Daemon> daemon_;
  std::uint16_t port_ = 0;
};

TEST_F(DaemonServerTest, RemoteWriteRoundTrip) {
  const RawResponse w = WriteSeries("rw_metric", "rw", 42);
  EXPECT_EQ(w.status, 204) << w.body;
  EXPECT_TRUE(WaitFor([&] { return Query("rw_metric").find("\"42\"") != std::string::npos; }))
      << Query("rw_metric");
  EXPECT_THAT(Query("rw_metric"),
              ::testing::MatchesRegex(R"(\{"status":"success","data":\{"resultType":"vector",)"
                                      R"("result":\[\{"metric":\{"__name__":"rw_metric",)"
                                      R"("job":"rw"\},"value":\[[0-9.]+,"42"\]\}\]\}\})"));
  // The series stays cached: a second write to it is accepted too.
  EXPECT_EQ(WriteSeries("rw_metric", "rw", 43).status, 204);
  EXPECT_TRUE(WaitFor([&] { return Query("rw_metric").find("\"43\"") != std::string::npos; }));
}

TEST_F(DaemonServerTest, AlertFiresAndShowsInRulesAndAlerts) {
  ASSERT_EQ(WriteSeries("up", "rw", 0).status, 204);
  EXPECT_TRUE(WaitFor([&] {
    return Get(port_, "/api/v1/alerts").body.find("\"state\":\"firing\"") != std::string::npos;
  }));
  const RawResponse alerts = Get(port_, "/api/v1/alerts");
  EXPECT_EQ(alerts.status, 200);
  EXPECT_THAT(alerts.body, HasSubstr(R"({"status":"success","data":{"alerts":[{"labels":{)"));
  EXPECT_THAT(alerts.body, HasSubstr(R"("alertname":"TargetDown")"));
  EXPECT_THAT(alerts.body, HasSubstr(R"("annotations":{"summary":"rw is down"})"));
  EXPECT_THAT(alerts.body, HasSubstr(R"("value":"0e+00")"));
  EXPECT_THAT(alerts.body, ::testing::ContainsRegex(R"("activeAt":"20[0-9-]+T[0-9:.]+Z")"));

  const RawResponse rules = Get(port_, "/api/v1/rules");
  EXPECT_EQ(rules.status, 200);
  EXPECT_THAT(rules.body, HasSubstr(R"({"status":"success","data":{"groups":[{"name":"test","file":)"));
  EXPECT_THAT(rules.body, HasSubstr(R"("state":"firing","name":"TargetDown","query":"up{job=\"rw\"} == 0","duration":0)"));
  EXPECT_THAT(rules.body, HasSubstr(R"("labels":{"severity":"page"})"));
  EXPECT_THAT(rules.body, HasSubstr(R"("health":"ok")"));
  EXPECT_THAT(rules.body, HasSubstr(R"("type":"alerting")"));
  EXPECT_THAT(rules.body, HasSubstr(R"x("name":"job:up:sum","query":"sum by (job) (up)")x"));
  EXPECT_THAT(rules.body, HasSubstr(R"("type":"recording")"));
  EXPECT_THAT(rules.body, HasSubstr(R"("interval":1,"limit":0,"evaluationTime":)"));
  const RawResponse only_records = Get(port_, "/api/v1/rules?type=record");
  EXPECT_THAT(only_records.body, Not(HasSubstr("TargetDown")));
  EXPECT_EQ(Get(port_, "/api/v1/rules?type=bogus").status, 400);
}

TEST_F(DaemonServerTest, GrafanaDataSourceChecks) {
  // Save & test: an instant query of 1+1, as a form POST.
  const RawResponse t = Post(port_, "/api/v1/query", "query=1%2B1&time=1700000000.5");
  EXPECT_EQ(t.status, 200);
  EXPECT_EQ(t.body,
            R"({"status":"success","data":{"resultType":"scalar","result":[1700000000.500,"2"]}})");
  EXPECT_THAT(Post(port_, "/api/v1/query", "query=1%2B1").body,
              ::testing::MatchesRegex(R"(\{"status":"success","data":\{"resultType":"scalar",)"
                                      R"("result":\[[0-9.]+,"2"\]\}\})"));

  ASSERT_EQ(WriteSeries("graf_metric", "g", 1).status, 204);
  EXPECT_TRUE(WaitFor([&] {
    return Get(port_, "/api/v1/label/__name__/values").body.find("graf_metric") != std::string::npos;
  }));
  const RawResponse labels = Post(port_, "/api/v1/labels", "");
  EXPECT_EQ(labels.status, 200);
  EXPECT_THAT(labels.body, HasSubstr(R"("__name__")"));
  EXPECT_THAT(labels.body, HasSubstr(R"("job")"));
  const RawResponse values = Get(port_, "/api/v1/label/job/values");
  EXPECT_THAT(values.body, HasSubstr(R"("g")"));
  const RawResponse series = Get(port_, "/api/v1/series?match%5B%5D=graf_metric");
  EXPECT_EQ(series.body, R"({"status":"success","data":[{"__name__":"graf_metric","job":"g"}]})");
  EXPECT_EQ(Get(port_, "/api/v1/series").status, 400);

  const std::int64_t now = NowMs() / 1000;
  const RawResponse range = Post(
      port_, "/api/v1/query_range",
      "query=graf_metric&start=" + std::to_string(now - 60) + "&end=" + std::to_string(now + 1) +
          "&step=1s");
  EXPECT_EQ(range.status, 200) << range.body;
  EXPECT_THAT(range.body, HasSubstr(R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"graf_metric","job":"g"},"values":[[)"));
  EXPECT_THAT(Get(port_, "/api/v1/status/buildinfo").body, HasSubstr(R"("version":")"));
  EXPECT_EQ(Get(port_, "/api/v1/metadata").body, R"({"status":"success","data":{}})");
}

TEST_F(DaemonServerTest, QueryErrorsInPrometheusFormat) {
  RawResponse r = Get(port_, "/api/v1/query?query=sum(");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, ::testing::StartsWith(R"({"status":"error","errorType":"bad_data","error":")"));
  r = Get(port_, "/api/v1/query?query=up&time=yesterday");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr(R"(invalid parameter \"time\": cannot parse \"yesterday\" to a valid timestamp)"));
  r = Get(port_, "/api/v1/query_range?query=up&start=10&end=5&step=1");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("end timestamp must not be before start time"));
  r = Get(port_, "/api/v1/query_range?query=up&start=0&end=100000&step=1");
  EXPECT_THAT(r.body, HasSubstr("exceeded maximum resolution of 11,000 points"));
  r = Get(port_, "/api/v1/query_range?query=up&start=0&end=10&step=0");
  EXPECT_THAT(r.body, HasSubstr("zero or negative query resolution step"));
}

TEST_F(DaemonServerTest, ImportsTextAndJsonLines) {
  const std::int64_t now = NowMs();
  RawResponse r = Post(port_, "/api/v1/import/prometheus?timestamp=" + std::to_string(now / 1000),
                       "# TYPE text_metric gauge\ntext_metric{a=\"1\"} 5\n", "text/plain; version=0.0.4");
  EXPECT_EQ(r.status, 204) << r.body;
  r = Post(port_, "/api/v1/import/json",
           "{\"labels\":{\"__name__\":\"json_metric\"},\"samples\":[[" + std::to_string(now) +
               ",7]]}\n",
           "application/x-ndjson");
  EXPECT_EQ(r.status, 204) << r.body;
  EXPECT_TRUE(WaitFor([&] { return Query("json_metric").find("\"7\"") != std::string::npos; }));
  EXPECT_THAT(Query("text_metric"), HasSubstr(R"("metric":{"__name__":"text_metric","a":"1"})"));

  r = Post(port_, "/api/v1/import/prometheus", "bad line {\n", "text/plain");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("line 1"));
  r = Post(port_, "/api/v1/import/json", "{\"labels\":{}}\n", "application/x-ndjson");
  EXPECT_EQ(r.status, 400);
  // Older than the maximum sample age (1h by default): 400, which Prometheus does not retry.
  r = Post(port_, "/api/v1/import/json",
           "{\"labels\":{\"__name__\":\"old\"},\"samples\":[[" + std::to_string(now - 3 * 3600000) +
               ",1]]}\n",
           "application/x-ndjson");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("older than the maximum sample age"));
}

// Prometheus's queue resends a backlog after an outage: samples older than
// the last evaluation are stored and fire alerts at the evaluations after
// them; only those more than max_late_age (here the 5m the rules need) behind
// the watermark get 400, and the rest of the request is kept.
TEST_F(DaemonServerTest, RemoteWriteBacklogOlderThanTheLastEvaluation) {
  ASSERT_EQ(WriteSeries("warmup", "w", 1).status, 204);
  std::int64_t last = 0;
  ASSERT_TRUE(WaitFor([&] {
    last = daemon_->engine().last_evaluation_ms();
    return last > NowMs() - 60'000;
  }));
  const std::string backlog =
      RemoteWriteBody({{{{"__name__", "up"}, {"job", "rw"}, {"instance", "late"}}, {last - 30'000, 0}},
                       {{{"__name__", "up"}, {"job", "rw"}, {"instance", "ancient"}},
                        {last - 10 * 60'000, 0}}});
  const RawResponse r =
      Post(port_, "/api/v1/write", backlog, "application/x-protobuf", kRemoteWriteHeaders);
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("1 samples too late to be stored"));
  EXPECT_THAT(r.body, HasSubstr("max_late_age"));
  EXPECT_TRUE(WaitFor([&] {
    return Get(port_, "/api/v1/alerts").body.find(R"("instance":"late")") != std::string::npos;
  })) << Get(port_, "/api/v1/alerts").body;
  const std::string alerts = Get(port_, "/api/v1/alerts").body;
  EXPECT_THAT(alerts, HasSubstr(R"("state":"firing")"));
  EXPECT_THAT(alerts, Not(HasSubstr("ancient")));
  const std::string metrics = Get(port_, "/metrics").body;
  EXPECT_THAT(metrics, HasSubstr("nimify_engine_samples_late_total{outcome=\"stored\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("nimify_engine_samples_late_total{outcome=\"refused\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("nimify_ingest_samples_late_total{outcome=\"accepted\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("nimify_ingest_samples_late_total{outcome=\"refused\"} 1\n"));
}

TEST_F(DaemonServerTest, MalformedRemoteWriteBodies) {
  std::string not_proto;
  const std::string garbage = "\xff\xff\xff\xff\x0f not a protobuf";
  snappy::Compress(garbage.data(), garbage.size(), &not_proto);
  RawResponse r = Post(port_, "/api/v1/write", not_proto, "application/x-protobuf", kRemoteWriteHeaders);
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("remote write"));
  r = Post(port_, "/api/v1/write", "plain text, not snappy", "application/x-protobuf",
           kRemoteWriteHeaders);
  EXPECT_EQ(r.status, 400);
  r = Post(port_, "/api/v1/write", not_proto, "application/x-protobuf",
           "Content-Encoding: gzip\r\n");
  EXPECT_EQ(r.status, 415);
  // A label set without __name__.
  const std::string nameless = RemoteWriteBody({{{{"job", "x"}}, {NowMs(), 1}}});
  r = Post(port_, "/api/v1/write", nameless, "application/x-protobuf", kRemoteWriteHeaders);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Get(port_, "/-/healthy").status, 200);
}

TEST_F(DaemonServerTest, SnappyBombRefusedBeforeInflating) {
  // A snappy header announcing 1 GiB, followed by a few bytes of nothing.
  std::string bomb;
  std::uint64_t n = 1ull << 30;
  while (n >= 0x80) {
    bomb.push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  bomb.push_back(static_cast<char>(n));
  bomb += std::string(16, '\0');
  const RawResponse r =
      Post(port_, "/api/v1/write", bomb, "application/x-protobuf", kRemoteWriteHeaders);
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("decompressed body would be 1073741824 bytes, over the limit of 4194304"));
  EXPECT_EQ(Get(port_, "/-/healthy").status, 200);
}

TEST_F(DaemonServerTest, RequestLimits) {
  // Header fields over 16 KiB: 431.
  RawResponse r = SendRaw(port_, "GET /-/healthy HTTP/1.1\r\nHost: x\r\nX-Pad: " +
                                     std::string(20000, 'a') + "\r\n\r\n");
  EXPECT_EQ(r.status, 431);
  // A body over max_body_bytes (1 MiB here) is refused from its Content-Length.
  r = SendRaw(port_, "POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\n\r\n");
  EXPECT_EQ(r.status, 413);
  // Garbage instead of HTTP.
  r = SendRaw(port_, "NOT HTTP AT ALL\r\n\r\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Get(port_, "/-/healthy").status, 200);
}

TEST_F(DaemonServerTest, SlowClientIsCutOff) {
  // Half a request, then silence: the 1 s read timeout closes the connection.
  const auto closed = testing::TimeUntilClosed(
      port_, "POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Le", std::chrono::seconds(15));
  EXPECT_GE(closed.count(), 0) << "connection still open after 15 s";
  EXPECT_EQ(Get(port_, "/-/healthy").status, 200);
}

TEST_F(DaemonServerTest, UnknownPathsAndMethods) {
  RawResponse r = Get(port_, "/api/v1/nothing");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_THAT(r.body, HasSubstr(R"("errorType":"not_found")"));
  r = SendRaw(port_, "DELETE /api/v1/query HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["allow"], "GET, POST");
  r = Get(port_, "/api/v1/write");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["allow"], "POST");
  EXPECT_EQ(Get(port_, "/api/v1/label/job/nope").status, 404);
  // HEAD: the GET answer's headers without its body.
  const std::string head = testing::SendAndReadAll(
      port_, "HEAD /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(head, ::testing::StartsWith("HTTP/1.1 200 OK"));
  EXPECT_THAT(head, HasSubstr("Content-Length: 20"));
  EXPECT_THAT(head, Not(HasSubstr("Healthy")));
}

TEST_F(DaemonServerTest, KeepAliveServesSeveralRequests) {
  const std::string one = "GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string last = "GET /-/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  // Pipelined on one connection; the reply to the last one closes it.
  const std::string all = testing::SendAndReadAll(port_, one + one + last);
  std::size_t responses = 0;
  for (std::size_t pos = all.find("HTTP/1.1 200 OK"); pos != std::string::npos;
       pos = all.find("HTTP/1.1 200 OK", pos + 1)) {
    ++responses;
  }
  EXPECT_EQ(responses, 3u) << all;
  EXPECT_THAT(all, HasSubstr("nimifyd is Ready."));
}

// Remote-write bodies larger and smaller than the server's read size, one
// after the other on a keep-alive connection: each is read whole and every
// sample of each is stored (the read buffer's capacity carries over between
// requests).
TEST_F(DaemonServerTest, KeepAliveReadsLargeAndSmallBodiesWhole) {
  const auto body_of = [](int n, const std::string& job) {
    std::vector<std::pair<std::vector<std::pair<std::string, std::string>>,
                          std::pair<std::int64_t, double>>>
        series;
    for (int i = 0; i < n; ++i) {
      // Values that snappy cannot fold away, so the body stays large.
      const std::string id = std::to_string(i) + "-" + std::to_string((i * 2654435761u) % 99991);
      series.push_back({{{"__name__", "bulk_metric"}, {"job", job}, {"id", id}}, {NowMs(), 1}});
    }
    return RemoteWriteBody(series);
  };
  const auto request = [](const std::string& body, bool close) {
    return "POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n" +
           kRemoteWriteHeaders + "Content-Length: " + std::to_string(body.size()) + "\r\n" +
           (close ? "Connection: close\r\n" : "") + "\r\n" + body;
  };
  const std::string large = body_of(6000, "large");  // over 64 KiB compressed
  const std::string medium = body_of(1200, "medium");
  const std::string small = body_of(3, "small");
  ASSERT_GT(large.size(), 64u << 10);
  ASSERT_GT(medium.size(), 8u << 10);
  ASSERT_LT(medium.size(), 64u << 10);
  const std::string all =
      testing::SendAndReadAll(port_, request(large, false) + request(medium, false) +
                                         request(small, false) + request(large, true));
  std::size_t accepted = 0;
  for (std::size_t pos = all.find("HTTP/1.1 204"); pos != std::string::npos;
       pos = all.find("HTTP/1.1 204", pos + 1)) {
    ++accepted;
  }
  EXPECT_EQ(accepted, 4u) << all.substr(0, 2000);
  for (const auto& [job, n] :
       {std::pair<std::string, int>{"large", 6000}, {"medium", 1200}, {"small", 3}}) {
    const std::string want = "\"" + std::to_string(n) + "\"";
    EXPECT_TRUE(WaitFor([&] {
      return Query("count(bulk_metric{job=\"" + job + "\"})").find(want) != std::string::npos;
    })) << job
        << ": " << Query("count(bulk_metric{job=\"" + job + "\"})");
  }
}

TEST(DaemonConnections, OverMaxConnectionsIsClosedAtOnce) {
  const auto dir = std::filesystem::path(::testing::TempDir()) /
                   ("nimifyd_conn_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  WriteFile(dir / "c.yml", "limits: {max_connections: 2, read_timeout: 30s}\n");
  DaemonOptions opts;
  opts.flags.config_file = (dir / "c.yml").string();
  opts.flags.listen_address = "127.0.0.1:0";
  opts.log_sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(std::cerr);
  opts.log_sink->set_level(spdlog::level::warn);
  Result<std::unique_ptr<Daemon>> d = Daemon::Start(std::move(opts));
  ASSERT_TRUE(d.ok()) << d.status().message();
  const std::uint16_t port = (*d)->port();
  const int a = testing::OpenIdleConnection(port);
  const int b = testing::OpenIdleConnection(port);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  // Both idle connections are accepted and counted before the third arrives.
  ASSERT_TRUE(WaitFor([&] {
    return (*d)->ready() && testing::TimeUntilClosed(port, "", std::chrono::seconds(5)).count() >= 0;
  }));
  testing::CloseSocket(a);
  testing::CloseSocket(b);
  // With room again, requests are served.
  EXPECT_TRUE(WaitFor([&] { return Get(port, "/-/healthy").status == 200; }));
  EXPECT_TRUE((*d)->Shutdown(std::chrono::seconds(5)).ok());
  std::filesystem::remove_all(dir);
}

TEST_F(DaemonServerTest, MetricsAndHealth) {
  ASSERT_EQ(WriteSeries("m", "x", 1).status, 204);
  EXPECT_EQ(Get(port_, "/-/healthy").status, 200);
  EXPECT_EQ(Get(port_, "/-/ready").status, 200);
  const RawResponse m = Get(port_, "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_THAT(m.headers.at("content-type"), HasSubstr("text/plain; version=0.0.4"));
  for (const char* name :
       {"nimify_build_info{version=", "nimify_http_requests_total{code=\"204\",handler=\"/api/v1/write\"} 1",
        "nimify_http_request_duration_seconds_bucket{handler=\"/api/v1/write\",le=\"+Inf\"} 1",
        "nimify_ingest_samples_received_total 1", "nimify_engine_series ",
        "nimify_engine_queue_depth ", "nimify_rule_evaluations_total ",
        "nimify_rule_evaluation_failures_total ", "nimify_alerts{state=\"firing\"} ",
        "nimify_config_last_reload_successful 1", "nimify_config_last_reload_success_timestamp_seconds "}) {
    EXPECT_THAT(m.body, HasSubstr(name));
  }
  if (std::filesystem::exists("/usr/bin/promtool")) {
    const auto file = dir_ / "metrics.txt";
    WriteFile(file, m.body);
    const std::string cmd = "/usr/bin/promtool check metrics < " + file.string() + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string out;
    char buf[512];
    while (std::fgets(buf, sizeof(buf), p) != nullptr) out += buf;
    EXPECT_EQ(::pclose(p), 0) << out;
  }
}

TEST_F(DaemonServerTest, ReloadRefusesBadRulesAndKeepsTheOldOnes) {
  WriteFile(dir_ / "rules.yml", "groups:\n  - name: test\n    rules:\n      - alert: Broken\n        expr: sum(\n");
  RawResponse r = Post(port_, "/-/reload", "");
  EXPECT_EQ(r.status, 500);
  EXPECT_THAT(r.body, HasSubstr("rules.yml:5:"));
  EXPECT_THAT(Get(port_, "/metrics").body, HasSubstr("nimify_config_last_reload_successful 0\n"));
  EXPECT_THAT(Get(port_, "/api/v1/rules").body, HasSubstr("TargetDown"));
  EXPECT_THAT(logs_.text(), HasSubstr("reload refused"));
  EXPECT_FALSE(daemon_->Reload().ok());

  // A bad config file is refused the same way.
  WriteFile(dir_ / "rules.yml", kRules);
  WriteFile(dir_ / "nimifyd.yml", std::string(kConfig) + "bogus_key: 1\n");
  EXPECT_EQ(Post(port_, "/-/reload", "").status, 500);

  WriteFile(dir_ / "nimifyd.yml", kConfig);
  WriteFile(dir_ / "rules.yml", std::string(kRules) + R"(      - alert: Added
        expr: vector(1)
)");
  r = Post(port_, "/-/reload", "");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(Get(port_, "/metrics").body, HasSubstr("nimify_config_last_reload_successful 1\n"));
  EXPECT_THAT(Get(port_, "/api/v1/rules").body, HasSubstr("\"name\":\"Added\""));
  EXPECT_EQ(Get(port_, "/-/reload").status, 405);
}

TEST_F(DaemonServerTest, ShutdownIsGracefulAndIdempotent) {
  ASSERT_EQ(WriteSeries("s", "x", 1).status, 204);
  EXPECT_TRUE(daemon_->Shutdown(std::chrono::seconds(5)).ok());
  EXPECT_FALSE(daemon_->ready());
  EXPECT_TRUE(daemon_->Shutdown(std::chrono::seconds(5)).ok());
  // Nothing listens any more.
  EXPECT_EQ(Get(port_, "/-/healthy").status, 0);
  EXPECT_THAT(logs_.text(), HasSubstr("msg=stopped status=ok"));
}

}  // namespace
}  // namespace nimify::daemon

namespace nimify::daemon {
namespace {

// Responses configured in the same file as the daemon's keys.
constexpr const char* kInvestigate = R"(
route: {receiver: ops, group_by: [alertname], group_wait: 0s}
receivers:
  - name: ops
    responses: [investigate]
handlers:
  note: {type: log}
responses:
  investigate:
    steps:
      - name: say
        handler: note
        with: {message: "{{ $labels.job }} is down"}
)";

// A dry-run daemon on kRules with `config` (the responses above included).
class ResponsesDaemon {
 public:
  explicit ResponsesDaemon(const std::string& config)
      : dir_(std::filesystem::path(::testing::TempDir()) /
             ("nimifyd_resp_" + std::to_string(::getpid()) + "_" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    Result<std::unique_ptr<Daemon>> d =
        StartDryRun(dir_, kRules, config + kInvestigate, logs_.sink());
    EXPECT_TRUE(d.ok()) << d.status().message();
    if (d.ok()) daemon_ = std::move(*d);
  }
  ~ResponsesDaemon() {
    if (daemon_) {
      EXPECT_TRUE(daemon_->Shutdown(std::chrono::seconds(5)).ok());
    }
    daemon_.reset();
    std::filesystem::remove_all(dir_);
  }
  bool started() const { return daemon_ != nullptr; }
  std::uint16_t port() const { return daemon_->port(); }
  std::string logs() { return logs_.text(); }
  RawResponse WriteUp(std::int64_t t_ms, double v) {
    const std::string body = RemoteWriteBody({{{{"__name__", "up"}, {"job", "rw"}}, {t_ms, v}}});
    return Post(port(), "/api/v1/write", body, "application/x-protobuf", kRemoteWriteHeaders);
  }
  // The response's step ran (planned, in dry run).
  bool StepPlanned() {
    const std::string text = logs();
    return text.find("kind=step") != std::string::npos &&
           text.find("outcome=planned") != std::string::npos;
  }

 private:
  std::filesystem::path dir_;
  LogCapture logs_;
  std::unique_ptr<Daemon> daemon_;
};

// An alert's response step is planned (dry-run) and the decision is logged.
TEST(DaemonResponses, AlertRunsItsResponseInDryRun) {
  ResponsesDaemon d(kConfig);
  ASSERT_TRUE(d.started());
  ASSERT_EQ(d.WriteUp(NowMs(), 0).status, 204);
  EXPECT_TRUE(WaitFor([&] { return d.StepPlanned(); })) << d.logs();
  EXPECT_THAT(d.logs(), HasSubstr("alertname=TargetDown"));
  EXPECT_THAT(d.logs(), HasSubstr("dry_run=true"));
  EXPECT_THAT(Get(d.port(), "/metrics").body,
              HasSubstr("nimify_responder_steps_total{outcome=\"planned\"} 1"));
}

// engine.fire_on_crossing (the default): with evaluation a minute behind the
// clock (allowed_lateness), the crossing sample still starts the response at once.
TEST(DaemonResponses, CrossingSampleStartsTheResponseBeforeTheEvaluation) {
  ResponsesDaemon d(R"(global:
  evaluation_interval: 1s
rule_files: [rules.yml]
engine: {allowed_lateness: 1m, shards: 1}
)");
  ASSERT_TRUE(d.started());
  // The series must be known first: a sample the evaluation has passed (a
  // series' first sample could meet an alert restored from disk).
  const std::int64_t known_at = NowMs() - 60'000 + 1'500;
  ASSERT_EQ(d.WriteUp(known_at, 1).status, 204);
  std::this_thread::sleep_for(std::chrono::milliseconds(2'500));
  const std::int64_t now = NowMs();
  ASSERT_EQ(d.WriteUp(now - 1'000, 1).status, 204);
  ASSERT_EQ(d.WriteUp(now, 0).status, 204);
  EXPECT_TRUE(WaitFor([&] { return d.StepPlanned(); }, std::chrono::seconds(20))) << d.logs();
  // Well before the evaluation (a minute behind) could have seen it.
  EXPECT_LT(NowMs() - now, 30'000);
  EXPECT_THAT(d.logs(), HasSubstr("alertname=TargetDown"));
  // The responder has it; the evaluation has not reached the sample, so the
  // engine's own view (Prometheus's API) has no alert yet.
  EXPECT_THAT(Get(d.port(), "/api/v2/alerts").body, HasSubstr("TargetDown"));
  EXPECT_THAT(Get(d.port(), "/api/v1/alerts").body, Not(HasSubstr("TargetDown")));
  const std::string metrics = Get(d.port(), "/metrics").body;
  EXPECT_THAT(metrics, HasSubstr("\nnimify_alerts_fired_on_crossing_total 1\n"));
  EXPECT_THAT(metrics, HasSubstr("\nnimify_crossing_alerts_unconfirmed_total 0\n"));
}

}  // namespace
}  // namespace nimify::daemon
