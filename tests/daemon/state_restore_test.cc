// Alert state across restarts (src/daemon/state_restore.*): the snapshot's
// JSON keeps every time the engine needs (active-at, firing-since,
// keep-firing-since, last-sent), and an engine given the snapshot through
// RestoreAlerts resumes keep_firing_for where the old one was instead of
// starting it again.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <thread>

#include "daemon/daemon.h"
#include "daemon/state_restore.h"
#include "daemon/test_http.h"
#include "nimify/engine.h"
#include "nimify/rules.h"

namespace nimify::daemon {
namespace {

constexpr const char* kKeepFiringRules = R"(groups:
  - name: g
    interval: 15s
    rules:
      - alert: Hot
        expr: temp > 80
        for: 30s
        keep_firing_for: 5m
)";

// One engine in event time: samples at t move the clock to t.
struct EngineRun {
  EngineRun() {
    auto rules = RuleSet::Parse(kKeepFiringRules, "kf.rules.yml");
    EXPECT_TRUE(rules.ok()) << rules.status().ToString();
    EngineOptions o;
    o.shards = 1;
    o.default_eval_interval = std::chrono::seconds(15);
    auto e = Engine::Create(std::move(o), *rules);
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    engine = std::move(*e);
    auto p = engine->NewProducer();
    EXPECT_TRUE(p.ok());
    producer = std::move(*p);
    const Label labels[] = {{"__name__", "temp"}, {"room", "a"}};
    ref = *producer->Resolve(labels);
  }
  // Sends temp=v at t and waits until the evaluation at t ran.
  void At(std::int64_t t, double v) {
    ASSERT_TRUE(producer->Append(ref, t, v).ok());
    ASSERT_TRUE(producer->Flush().ok());
    for (int i = 0; i < 500 && engine->last_evaluation_ms() < t; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_GE(engine->last_evaluation_ms(), t);
  }
  const AlertEvent* Hot() {
    alerts = engine->ActiveAlerts();
    return alerts.empty() ? nullptr : &alerts.front();
  }

  std::unique_ptr<Engine> engine;
  std::unique_ptr<Producer> producer;
  SeriesRef ref = 0;
  std::vector<AlertEvent> alerts;
};

TEST(AlertStateJson, RoundTripsEveryTime) {
  AlertEvent a;
  a.rule = "Hot";
  a.group = "g";
  a.file = "kf.rules.yml";
  a.expr = "temp > 80";
  a.labels = {{"alertname", "Hot"}, {"room", "a"}};
  a.state = AlertState::kFiring;
  a.active_at_ms = 1000;
  a.fired_at_ms = 31000;
  a.keep_firing_since_ms = 120000;
  a.last_sent_at_ms = 135000;
  AlertEvent pending = a;
  pending.state = AlertState::kPending;
  pending.labels = {{"alertname", "Hot"}, {"room", "b"}};
  pending.fired_at_ms.reset();
  pending.keep_firing_since_ms.reset();
  pending.last_sent_at_ms.reset();
  Result<std::vector<AlertEvent>> back = AlertStateFromJson(AlertStateToJson({a, pending}));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->size(), 2u);
  const AlertEvent& f = (*back)[0];
  EXPECT_EQ(f.state, AlertState::kFiring);
  EXPECT_EQ(f.active_at_ms, 1000);
  EXPECT_EQ(f.fired_at_ms, std::optional<std::int64_t>(31000));
  EXPECT_EQ(f.keep_firing_since_ms, std::optional<std::int64_t>(120000));
  EXPECT_EQ(f.last_sent_at_ms, std::optional<std::int64_t>(135000));
  const AlertEvent& p = (*back)[1];
  EXPECT_EQ(p.state, AlertState::kPending);
  EXPECT_FALSE(p.fired_at_ms.has_value());
  EXPECT_FALSE(p.keep_firing_since_ms.has_value());
  // Older snapshots (version 1 without the new fields) still load.
  EXPECT_TRUE(AlertStateFromJson(R"({"version":1,"alerts":[]})").ok());
  EXPECT_FALSE(AlertStateFromJson("{\"alerts\":").ok());
}

TEST(AlertStateRestore, KeepFiringForResumesFromTheSavedStart) {
  std::string snapshot;
  {
    EngineRun before;
    for (std::int64_t t = 0; t <= 105'000; t += 15'000) before.At(t, 90);
    ASSERT_NE(before.Hot(), nullptr);
    EXPECT_EQ(before.Hot()->state, AlertState::kFiring);
    EXPECT_FALSE(before.Hot()->keep_firing_since_ms.has_value());
    before.At(120'000, 10);  // no longer returned: kept firing from here
    ASSERT_NE(before.Hot(), nullptr);
    EXPECT_EQ(before.Hot()->state, AlertState::kFiring);
    EXPECT_EQ(before.Hot()->keep_firing_since_ms, std::optional<std::int64_t>(120'000));
    before.At(135'000, 10);
    snapshot = AlertStateToJson(before.engine->ActiveAlerts());
    (void)before.engine->Stop();
  }
  // The "restart": a new engine, samples flow again, then the restore.
  EngineRun after;
  after.At(150'000, 10);
  EXPECT_EQ(after.Hot(), nullptr);
  Result<std::vector<AlertEvent>> saved = AlertStateFromJson(snapshot);
  ASSERT_TRUE(saved.ok());
  Result<std::size_t> n = after.engine->RestoreAlerts(*saved);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1u);
  after.At(165'000, 10);
  ASSERT_NE(after.Hot(), nullptr);
  EXPECT_EQ(after.Hot()->state, AlertState::kFiring);
  EXPECT_EQ(after.Hot()->active_at_ms, 0);
  EXPECT_EQ(after.Hot()->keep_firing_since_ms, std::optional<std::int64_t>(120'000));
  for (std::int64_t t = 180'000; t <= 405'000; t += 15'000) after.At(t, 10);
  ASSERT_NE(after.Hot(), nullptr) << "kept firing until 120 s + 5 m";
  // 120 s + 5 m = 420 s: resolved there, not 5 m after the restart.
  after.At(420'000, 10);
  EXPECT_EQ(after.Hot(), nullptr);
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

std::string ActiveAt(const std::string& alerts_json) {
  std::smatch m;
  static const std::regex re("\"activeAt\":\"([^\"]+)\"");
  return std::regex_search(alerts_json, m, re) ? m[1].str() : std::string();
}

// /-/ready: 503 while saved alert states wait for samples to be restored
// into the engine, 200 after; a fresh state dir is ready at once.
TEST(DaemonReadiness, NotReadyUntilSavedAlertStatesAreRestored) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(::testing::TempDir()) / ("nimifyd_ready_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "rules.yml") << R"(groups:
  - name: g
    interval: 1s
    rules:
      - alert: SlowBurn
        expr: up{job="x"} == 0
        for: 10m
)";
  std::ofstream(dir / "nimifyd.yml")
      << "global: {evaluation_interval: 1s}\nrule_files: [" << (dir / "rules.yml").string()
      << "]\nengine: {allowed_lateness: 1s, shards: 1}\n"
         "route: {receiver: team, group_wait: 0s, group_interval: 1s}\n"
         "receivers: [{name: team}]\n";
  DaemonOptions o;
  o.flags.config_file = (dir / "nimifyd.yml").string();
  o.flags.listen_address = "127.0.0.1:0";
  o.flags.state_dir = (dir / "state").string();
  o.flags.dry_run = true;
  o.log_sink = std::make_shared<spdlog::sinks::null_sink_mt>();
  std::string active_at;
  {
    Result<std::unique_ptr<Daemon>> d = Daemon::Start(o);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    const std::uint16_t port = (*d)->port();
    EXPECT_EQ(testing::Get(port, "/-/ready").status, 200);  // nothing saved yet
    ASSERT_TRUE(WaitFor([&] {
      testing::Post(port, "/api/v1/import/prometheus", "up{job=\"x\"} 0\n", "text/plain");
      active_at = ActiveAt(testing::Get(port, "/api/v1/alerts").body);
      return !active_at.empty();
    }));
    // The snapshot is written at the evaluation after the change.
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    ASSERT_TRUE((*d)->Shutdown(std::chrono::seconds(5)).ok());
  }
  Result<std::unique_ptr<Daemon>> d = Daemon::Start(o);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  const std::uint16_t port = (*d)->port();
  const testing::RawResponse waiting = testing::Get(port, "/-/ready");
  EXPECT_EQ(waiting.status, 503);
  EXPECT_THAT(waiting.body, ::testing::HasSubstr("saved alert states"));
  EXPECT_FALSE((*d)->ready());
  EXPECT_EQ(testing::Get(port, "/-/healthy").status, 200);
  EXPECT_THAT(testing::Get(port, "/metrics").body, ::testing::HasSubstr("nimify_ready 0"));
  // Samples flow again: the pending alert comes back with its old active-at.
  ASSERT_TRUE(WaitFor([&] {
    testing::Post(port, "/api/v1/import/prometheus", "up{job=\"x\"} 0\n", "text/plain");
    return testing::Get(port, "/-/ready").status == 200;
  }));
  EXPECT_TRUE((*d)->ready());
  // The evaluation that restored them may have shown a fresh active-at; the next one does not.
  std::string after;
  EXPECT_TRUE(WaitFor([&] {
    after = ActiveAt(testing::Get(port, "/api/v1/alerts").body);
    return after == active_at;
  }, std::chrono::seconds(10)))
      << active_at << " -> " << after;
  EXPECT_THAT(testing::Get(port, "/metrics").body, ::testing::HasSubstr("nimify_ready 1"));
  ASSERT_TRUE((*d)->Shutdown(std::chrono::seconds(5)).ok());
  d->reset();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace nimify::daemon
