// `nimify bench --remote-write`: the CLI (as a process) sends its workload to
// an in-process nimifyd on 127.0.0.1:0 for 2 seconds; the JSON it prints must
// hold every promised field, agree with what the daemon received, and count
// errors by status. Nothing asserts on speed.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <spdlog/sinks/null_sink.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "daemon/daemon.h"

namespace nimify::cli {
namespace {

constexpr const char* kRules = R"(groups:
  - name: bench
    interval: 1s
    rules:
      - alert: BenchHigh
        expr: bench_metric_0 > 500
)";

// Runs the nimify binary and returns its stdout; `rc` its exit status.
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

class BenchRemoteWriteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("nimify_bench_rw_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "rules.yml") << kRules;
    daemon::DaemonOptions opts;
    opts.flags.rules_files = {(dir_ / "rules.yml").string()};
    opts.flags.listen_address = "127.0.0.1:0";
    opts.log_sink = std::make_shared<spdlog::sinks::null_sink_mt>();
    auto d = daemon::Daemon::Start(std::move(opts));
    ASSERT_TRUE(d.ok()) << d.status().message();
    daemon_ = std::move(*d);
  }
  void TearDown() override {
    if (daemon_) {
      EXPECT_TRUE(daemon_->Shutdown(std::chrono::seconds(10)).ok());
    }
    daemon_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::string Url(const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(daemon_->port()) + path;
  }

  std::filesystem::path dir_;
  std::unique_ptr<daemon::Daemon> daemon_;
};

TEST_F(BenchRemoteWriteTest, ClosedLoopReportsEveryField) {
  int rc = -1;
  const std::string out =
      RunCli("--remote-write " + Url("/api/v1/write") +
                 " --series 3000 --seconds 2 --connections 2 --samples-per-request 500 --pid " +
                 std::to_string(::getpid()),
             &rc);
  ASSERT_EQ(rc, 0) << out;
  rapidjson::Document j;
  ASSERT_FALSE(j.Parse(out.c_str()).HasParseError()) << out;
  for (const char* key : {"samples_sent", "samples_accepted", "samples_per_second_sent",
                          "samples_per_second_accepted", "requests", "receiver_cpu_seconds",
                          "receiver_cpu_ns_per_sample", "receiver_rss_bytes",
                          "client_cpu_ns_per_sample"}) {
    ASSERT_TRUE(j.HasMember(key) && j[key].IsNumber()) << key << " in " << out;
  }
  EXPECT_STREQ(j["mode"].GetString(), "closed");
  EXPECT_EQ(j["series"].GetInt(), 3000);
  EXPECT_EQ(j["connections"].GetInt(), 2);
  EXPECT_EQ(j["samples_per_request"].GetInt(), 500);
  const auto sent = j["samples_sent"].GetUint64();
  const auto accepted = j["samples_accepted"].GetUint64();
  EXPECT_GT(accepted, 0u);
  EXPECT_EQ(accepted, sent) << out;  // a healthy receiver takes everything
  EXPECT_EQ(sent, j["requests"].GetUint64() * 500);
  ASSERT_TRUE(j["errors"].IsObject());
  EXPECT_EQ(j["errors"].MemberCount(), 0u) << out;
  const auto& lat = j["request_latency_ms"];
  ASSERT_TRUE(lat["p50"].IsNumber() && lat["p99"].IsNumber() && lat["max"].IsNumber()) << out;
  EXPECT_GT(lat["p50"].GetDouble(), 0);
  EXPECT_LE(lat["p50"].GetDouble(), lat["p99"].GetDouble());
  EXPECT_LE(lat["p99"].GetDouble(), lat["max"].GetDouble());
  // The receiver is this process: it did the decoding, so it used CPU.
  EXPECT_GT(j["receiver_cpu_seconds"].GetDouble(), 0);
  EXPECT_GT(j["receiver_rss_bytes"].GetDouble(), 0);
  // Every series reached the engine (the daemon appends before it answers 204).
  EXPECT_EQ(daemon_->engine().stats().series_live, 3000u);
  EXPECT_GE(daemon_->engine().stats().samples_accepted + 500 * 2, accepted);
}

TEST_F(BenchRemoteWriteTest, OpenLoopKeepsTheRateAndCountsErrorsByStatus) {
  int rc = -1;
  std::string out = RunCli("--remote-write " + Url("/api/v1/write") +
                               " --series 1000 --seconds 2 --rate 5000 --warmup 0.5",
                           &rc);
  ASSERT_EQ(rc, 0) << out;
  rapidjson::Document j;
  ASSERT_FALSE(j.Parse(out.c_str()).HasParseError()) << out;
  EXPECT_STREQ(j["mode"].GetString(), "open");
  // Paced: 2 s at 5,000/s is 10 requests of 1,000, give or take one per connection.
  EXPECT_LE(j["samples_sent"].GetUint64(), 12'000u) << out;
  EXPECT_GE(j["samples_sent"].GetUint64(), 8'000u) << out;
  EXPECT_TRUE(j["receiver_cpu_ns_per_sample"].IsNull());  // no --pid

  // A path the receiver does not serve: every request is an error, by status.
  out = RunCli("--remote-write " + Url("/api/v1/nowhere") + " --series 1000 --seconds 1", &rc);
  ASSERT_EQ(rc, 0) << out;
  ASSERT_FALSE(j.Parse(out.c_str()).HasParseError()) << out;
  EXPECT_EQ(j["samples_accepted"].GetUint64(), 0u);
  ASSERT_TRUE(j["errors"].HasMember("404")) << out;
  EXPECT_EQ(j["errors"]["404"].GetUint64(), j["requests"].GetUint64());
  EXPECT_GT(j["requests"].GetUint64(), 0u);
}

TEST_F(BenchRemoteWriteTest, ReplaysARecordingInOrder) {
  // 3 steps of 600 series; replayed in a loop, restamped with the wall clock:
  // the daemon refuses nothing (no sample out of order or in the future).
  // Paced: each sample of a series needs a later millisecond than the last,
  // so a closed loop faster than 1,000 samples/s per series (600 k/s here)
  // stamps ahead of the clock, and past the daemon's 5 s of allowed future on
  // a fast machine.
  const std::string recording = (dir_ / "load.rw").string();
  int rc = -1;
  RunCli("--record " + recording + " --series 600 --seconds 3 --generated-rules 0", &rc);
  ASSERT_EQ(rc, 0);
  const std::string out = RunCli("--remote-write " + Url("/api/v1/write") + " --input " +
                                     recording +
                                     " --seconds 1.5 --samples-per-request 250 --rate 200000",
                                 &rc);
  ASSERT_EQ(rc, 0) << out;
  rapidjson::Document j;
  ASSERT_FALSE(j.Parse(out.c_str()).HasParseError()) << out;
  EXPECT_STREQ(j["input"].GetString(), recording.c_str());
  EXPECT_EQ(j["series"].GetInt(), 600);
  EXPECT_GT(j["samples_accepted"].GetUint64(), 0u);
  EXPECT_EQ(j["samples_accepted"].GetUint64(), j["samples_sent"].GetUint64()) << out;
  EXPECT_EQ(j["errors"].MemberCount(), 0u) << out;
  EXPECT_EQ(daemon_->engine().stats().series_live, 600u);
  EXPECT_EQ(daemon_->engine().stats().samples_rejected, 0u);
}

TEST(BenchRemoteWriteNoReceiver, ConnectionRefusedIsATransportError) {
  // Port 1 on loopback: nothing listens there.
  int rc = -1;
  const std::string out =
      RunCli("--remote-write http://127.0.0.1:1/api/v1/write --series 100 --seconds 0.5", &rc);
  EXPECT_EQ(rc, 1) << out;
  rapidjson::Document j;
  ASSERT_FALSE(j.Parse(out.c_str()).HasParseError()) << out;
  ASSERT_TRUE(j["errors"].HasMember("transport")) << out;
  EXPECT_EQ(j["samples_accepted"].GetUint64(), 0u);
}

TEST(BenchRemoteWriteNoReceiver, BadUrlIsAUsageError) {
  int rc = -1;
  RunCli("--remote-write ftp://127.0.0.1:1/x --seconds 0.5", &rc);
  EXPECT_EQ(rc, 2);
}

}  // namespace
}  // namespace nimify::cli
