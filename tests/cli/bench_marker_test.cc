// The alert path of `nimify bench --remote-write --markers`: the ledger's
// bookkeeping, the webhook server on an Alertmanager payload, and the whole
// path against an in-process nimifyd running the config the CLI writes (a few
// seconds, bounded): every marker delivered exactly once. Nothing asserts on
// speed.
#include "cli/bench_marker.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <rapidjson/document.h>
#include <spdlog/sinks/null_sink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <thread>

#include "daemon/daemon.h"

namespace nimify::cli {
namespace {

using Clock = MarkerLedger::Clock;

std::string RunCli(const std::string& args, int* rc) {
  const std::string cmd = std::string(NIMIFY_BIN) + " bench " + args + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  if (p == nullptr) return out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
  const int status = pclose(p);
  *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// A port nothing listens on right now (bound and released).
std::uint16_t FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// POSTs `body` to 127.0.0.1:port and returns the status line.
std::string Post(std::uint16_t port, const std::string& body) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return "connect failed";
  }
  const std::string request = "POST /marker HTTP/1.1\r\nHost: x\r\nContent-Type: "
                              "application/json\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body;
  // Two writes: the server must wait for the body.
  (void)!::send(fd, request.data(), request.size() / 2, MSG_NOSIGNAL);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  (void)!::send(fd, request.data() + request.size() / 2, request.size() - request.size() / 2,
                MSG_NOSIGNAL);
  std::string answer;
  char buf[512];
  while (true) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    answer.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return answer.substr(0, answer.find("\r\n"));
}

TEST(MarkerLedgerTest, LabelValuesBelongToOneRun) {
  MarkerLedger ledger;
  EXPECT_EQ(ledger.ParseLabelValue(ledger.LabelValue(42)), 42u);
  EXPECT_EQ(ledger.ParseLabelValue("42"), 0u);
  EXPECT_EQ(ledger.ParseLabelValue(ledger.LabelValue(4) + "x"), 0u);
  const std::string value = ledger.LabelValue(7);
  EXPECT_EQ(MarkerLedger().ParseLabelValue("1" + value), 0u);  // another run's prefix
}

TEST(MarkerLedgerTest, CountsDeliveriesDuplicatesAndRefusals) {
  MarkerLedger ledger;
  const Clock::time_point t0 = Clock::now();
  const std::uint64_t a = ledger.Reserve(), b = ledger.Reserve(), c = ledger.Reserve();
  EXPECT_EQ(a, 1u);
  EXPECT_EQ(c, 3u);
  EXPECT_EQ(ledger.Outstanding(), 0u);  // reserved, not sent
  ledger.Sent(a, t0);
  ledger.Sent(b, t0);
  ledger.Sent(c, t0);
  EXPECT_EQ(ledger.Outstanding(), 3u);  // in flight
  ledger.Answered(a, true);
  ledger.Answered(b, false);  // refused by the receiver: not expected
  ledger.Answered(c, true);
  EXPECT_EQ(ledger.Outstanding(), 2u);
  ledger.Delivered(a, t0 + std::chrono::microseconds(300));
  ledger.Delivered(a, t0 + std::chrono::microseconds(900));  // a duplicate
  ledger.Delivered(7, t0);                                    // never sent
  EXPECT_EQ(ledger.Outstanding(), 1u);
  const MarkerLedger::Summary s = ledger.Summarize();
  EXPECT_EQ(s.sent, 3u);
  EXPECT_EQ(s.accepted, 2u);
  EXPECT_EQ(s.delivered, 1u);
  EXPECT_EQ(s.duplicates, 1u);
  EXPECT_EQ(s.unexpected, 1u);
  ASSERT_EQ(s.latencies_us.size(), 1u);
  EXPECT_DOUBLE_EQ(s.latencies_us[0], 300);  // the first delivery counts
}

TEST(MarkerWebhookServerTest, MatchesFiringAlertsOfAnAlertmanagerPayload) {
  MarkerLedger ledger;
  for (int i = 0; i < 3; ++i) ledger.Sent(ledger.Reserve(), Clock::now());
  MarkerWebhookServer server(&ledger);
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  ASSERT_NE(server.port(), 0);
  // Firing markers 1 and 3, a resolved marker 2 (not a delivery), an alert
  // without the label, one of another run (unexpected).
  const std::string payload =
      R"({"receiver":"bench","status":"firing","alerts":[
    {"status":"firing","labels":{"alertname":"NimifyBenchMarker","marker":")" +
      ledger.LabelValue(1) + R"("}},
    {"status":"resolved","labels":{"alertname":"NimifyBenchMarker","marker":")" +
      ledger.LabelValue(2) + R"("}},
    {"status":"firing","labels":{"alertname":"Other"}},
    {"status":"firing","labels":{"alertname":"NimifyBenchMarker","marker":"12-1"}},
    {"status":"firing","labels":{"alertname":"NimifyBenchMarker","marker":")" +
      ledger.LabelValue(3) + R"("}}],
    "version":"4"})";
  EXPECT_EQ(Post(server.port(), payload), "HTTP/1.1 200 OK");
  EXPECT_EQ(Post(server.port(), "not json"), "HTTP/1.1 200 OK");
  server.Stop();
  EXPECT_EQ(server.requests(), 2u);
  EXPECT_EQ(server.bad_requests(), 1u);
  const MarkerLedger::Summary s = ledger.Summarize();
  EXPECT_EQ(s.delivered, 0u);  // none was answered as accepted
  EXPECT_EQ(s.unexpected, 1u);
  EXPECT_EQ(ledger.Outstanding(), 1u);  // marker 2: sent, unanswered, undelivered
}

TEST(MarkerWebhookServerTest, RefusesABadAddress) {
  MarkerLedger ledger;
  MarkerWebhookServer server(&ledger);
  EXPECT_FALSE(server.Start("localhost").ok());
  EXPECT_FALSE(server.Start("example.org:80").ok());
}

// The whole path: load + markers over remote write into nimifyd, which fires
// NimifyBenchMarker per marker and posts it to the bench's webhook.
class BenchMarkerEndToEnd : public ::testing::Test {
 protected:
  struct Run {
    rapidjson::Document json;
    std::string out;
    std::uint64_t fired_on_crossing = 0;  // nimifyd's engine, after the run
  };

  // Starts nimifyd on the marker config `config` and runs the bench against
  // it for 2 s at 10k samples/s with 10 markers/s (about 20 markers) and `extra`.
  void RunBench(std::string_view config, const std::string& extra, Run* run) {
    const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) /
                                      ("nimify_bench_marker_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string webhook = "127.0.0.1:" + std::to_string(FreePort());
    int rc = -1;
    RunCli("--write-marker-config " + dir.string() + " --webhook-listen " + webhook, &rc);
    ASSERT_EQ(rc, 0);
    ASSERT_TRUE(std::filesystem::exists(dir / kMarkerConfig));
    ASSERT_TRUE(std::filesystem::exists(dir / kFreshMarkerConfig));
    ASSERT_TRUE(std::filesystem::exists(dir / "nimify-bench-marker.rules.yml"));
    // Without a port the config could not name the webhook.
    RunCli("--write-marker-config " + dir.string() + " --webhook-listen 127.0.0.1:0", &rc);
    EXPECT_EQ(rc, 2);

    daemon::DaemonOptions opts;
    opts.flags.config_file = (dir / config).string();
    opts.flags.listen_address = "127.0.0.1:0";
    opts.log_sink = std::make_shared<spdlog::sinks::null_sink_mt>();
    auto d = daemon::Daemon::Start(std::move(opts));
    ASSERT_TRUE(d.ok()) << d.status().message();
    const std::string url = "http://127.0.0.1:" + std::to_string((*d)->port()) + "/api/v1/write";
    run->out = RunCli("--remote-write " + url +
                          " --series 2000 --seconds 2 --rate 10000 --markers 10"
                          " --webhook-listen " +
                          webhook + " --marker-wait 20 " + extra,
                      &rc);
    run->fired_on_crossing = (*d)->engine().stats().alerts_fired_on_crossing;
    EXPECT_TRUE((*d)->Shutdown(std::chrono::seconds(10)).ok());
    d->reset();
    std::filesystem::remove_all(dir);
    ASSERT_EQ(rc, 0) << run->out;
    ASSERT_FALSE(run->json.Parse(run->out.c_str()).HasParseError()) << run->out;
    ASSERT_TRUE(run->json.HasMember("markers") && run->json["markers"].IsObject()) << run->out;
  }

  // Every marker sent was accepted and delivered once, and timed.
  static void ExpectEveryMarkerDeliveredOnce(const Run& run) {
    const auto& m = run.json["markers"];
    const std::uint64_t sent = m["sent"].GetUint64();
    EXPECT_GE(sent, 5u) << run.out;
    EXPECT_EQ(m["accepted"].GetUint64(), sent) << run.out;
    EXPECT_EQ(m["delivered"].GetUint64(), sent) << run.out;
    EXPECT_EQ(m["duplicates"].GetUint64(), 0u) << run.out;
    EXPECT_EQ(m["unexpected"].GetUint64(), 0u) << run.out;
    EXPECT_EQ(m["webhook_bad_requests"].GetUint64(), 0u) << run.out;
    const auto& l = run.json["sample_to_handler_us"];
    EXPECT_EQ(l["count"].GetUint64(), sent) << run.out;
    ASSERT_TRUE(l["p50"].IsNumber() && l["p99"].IsNumber() && l["max"].IsNumber()) << run.out;
    EXPECT_GT(l["p50"].GetDouble(), 0);
    EXPECT_LE(l["p50"].GetDouble(), l["p99"].GetDouble());
    EXPECT_LE(l["p99"].GetDouble(), l["max"].GetDouble());
  }
};

// Without a warm-up nothing is armed: each marker is the first sample of its
// series, which never fires before the evaluation of its instant.
TEST_F(BenchMarkerEndToEnd, FreshMarkersAreDeliveredOnceByTheEvaluation) {
  Run run;
  ASSERT_NO_FATAL_FAILURE(RunBench(kFreshMarkerConfig, "", &run));
  ExpectEveryMarkerDeliveredOnce(run);
  EXPECT_EQ(run.json["markers"]["armed"].GetUint64(), 0u) << run.out;
  EXPECT_EQ(run.fired_on_crossing, 0u) << run.out;
}

// Armed in the warm-up, the markers cross from a known 0, and nimifyd fires
// them from the crossing sample. Not all of them need to: one whose 0 sample
// was not settled yet (allowed_lateness 2s; a slow sanitizer run) waits for
// the evaluation instead, and is still delivered once.
TEST_F(BenchMarkerEndToEnd, ArmedMarkersFireFromTheCrossingSample) {
  Run run;
  ASSERT_NO_FATAL_FAILURE(RunBench(kMarkerConfig, "--warmup 3", &run));
  ExpectEveryMarkerDeliveredOnce(run);
  const std::uint64_t sent = run.json["markers"]["sent"].GetUint64();
  EXPECT_EQ(run.json["markers"]["armed"].GetUint64(), sent) << run.out;
  EXPECT_GE(run.fired_on_crossing, sent / 2) << run.out;
  EXPECT_LE(run.fired_on_crossing, sent) << run.out;
  // --fresh-markers turns arming off even with a warm-up.
  Run fresh;
  ASSERT_NO_FATAL_FAILURE(RunBench(kFreshMarkerConfig, "--warmup 1 --fresh-markers", &fresh));
  ExpectEveryMarkerDeliveredOnce(fresh);
  EXPECT_EQ(fresh.json["markers"]["armed"].GetUint64(), 0u) << fresh.out;
  EXPECT_EQ(fresh.fired_on_crossing, 0u) << fresh.out;
}

}  // namespace
}  // namespace nimify::cli
