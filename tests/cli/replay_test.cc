// `nimify replay` end to end: the runbook's rules and responses over a
// recorded incident, checked decision by decision from the JSON lines; and
// the replay inputs' parsers.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sys/wait.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "cli/replay_input.h"
#include "ingest/batch.h"
#include "ingest/remote_write.h"
#include "promql/value.h"

namespace nimify::cli {
namespace {

namespace fs = std::filesystem;

const std::string kSource = NIMIFY_SOURCE_DIR;
const std::string kTestdata = kSource + "/tests/cli/testdata";
constexpr std::int64_t kMinute = 60'000;

struct Decision {
  std::int64_t ts_ms = 0;
  std::string kind, state, alertname, receiver, response, step, handler, outcome, target, detail;
  std::vector<std::pair<std::string, std::string>> labels;
  bool dry_run = false;
};

struct Replay {
  int exit_code = -1;
  std::string out, err;
  std::vector<Decision> decisions;
  std::string kubectl_calls;  // what the kubectl stand-in recorded

  std::vector<Decision> Find(std::string_view kind, std::string_view alertname) const {
    std::vector<Decision> found;
    for (const auto& d : decisions) {
      if (d.kind == kind && d.alertname == alertname) found.push_back(d);
    }
    return found;
  }
  // Notifications are per group: they name the receiver, not an alert.
  std::vector<Decision> Notifications(std::string_view receiver) const {
    std::vector<Decision> found;
    for (const auto& d : decisions) {
      if (d.kind == "notify" && d.receiver == receiver) found.push_back(d);
    }
    return found;
  }
  std::optional<Decision> Step(std::string_view alertname, std::string_view step) const {
    for (const auto& d : decisions) {
      if (d.kind == "step" && d.alertname == alertname && d.step == step) return d;
    }
    return std::nullopt;
  }
};

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Quote(const std::string& s) { return "'" + s + "'"; }

std::string Field(const rapidjson::Value& v, const char* name) {
  auto it = v.FindMember(name);
  return it != v.MemberEnd() && it->value.IsString() ? it->value.GetString() : std::string();
}

// Runs `nimify replay <args>` with the kubectl stand-in first on PATH and
// parses every stdout line as a decision (a line that is not JSON fails).
// `path`: the PATH to run with; empty: the stand-in's directory, then $PATH.
Replay RunReplay(const std::vector<std::string>& args, const std::string& path = "") {
  static int run = 0;
  const fs::path dir =
      fs::temp_directory_path() /
      ("nimify_replay_test_" + std::to_string(::getpid()) + "_" + std::to_string(run++));
  fs::create_directories(dir);
  std::string cmd = "PATH=" + (path.empty() ? Quote(kTestdata + "/bin") + ":\"$PATH\"" : Quote(path)) +
                    " NIMIFY_FAKE_KUBECTL_LOG=" + Quote((dir / "kubectl.log").string()) +
                    " " + Quote(NIMIFY_BIN) + " replay";
  for (const auto& a : args) cmd += " " + Quote(a);
  cmd += " >" + Quote((dir / "out").string()) + " 2>" + Quote((dir / "err").string());
  Replay r;
  const int status = std::system(cmd.c_str());
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadAll(dir / "out");
  r.err = ReadAll(dir / "err");
  r.kubectl_calls = ReadAll(dir / "kubectl.log");
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    rapidjson::Document doc;
    doc.Parse(line.c_str());
    EXPECT_FALSE(doc.HasParseError()) << "not JSON: " << line;
    if (doc.HasParseError() || !doc.IsObject()) continue;
    Decision d;
    EXPECT_TRUE(doc.HasMember("ts_ms") && doc["ts_ms"].IsInt64()) << line;
    if (doc.HasMember("ts_ms") && doc["ts_ms"].IsInt64()) d.ts_ms = doc["ts_ms"].GetInt64();
    d.kind = Field(doc, "kind");
    d.state = Field(doc, "state");
    d.alertname = Field(doc, "alertname");
    d.receiver = Field(doc, "receiver");
    d.response = Field(doc, "response");
    d.step = Field(doc, "step");
    d.handler = Field(doc, "handler");
    d.outcome = Field(doc, "outcome");
    d.target = Field(doc, "target");
    d.detail = Field(doc, "detail");
    if (doc.HasMember("labels") && doc["labels"].IsObject()) {
      for (const auto& m : doc["labels"].GetObject()) {
        if (m.value.IsString()) d.labels.emplace_back(m.name.GetString(), m.value.GetString());
      }
    }
    d.dry_run = doc.HasMember("dry_run") && doc["dry_run"].IsBool() && doc["dry_run"].GetBool();
    r.decisions.push_back(std::move(d));
  }
  fs::remove_all(dir);
  return r;
}

std::vector<std::string> PlanArgs() {
  return {"--plan",
          "--rules",
          kSource + "/rules/runbook.rules.yml",
          "--config",
          kSource + "/rules/runbook.responses.yml",
          "--input",
          kTestdata + "/replay_incident.yml",
          "--tail",
          "30m"};
}

// ServiceDown: api-0 down from 2m, so pending at 2m and firing at 3m (for: 1m).
constexpr std::int64_t kServiceDownFiring = 3 * kMinute;
// DatabaseDown: postgres down from 1m, firing at 2m.
constexpr std::int64_t kDatabaseDownFiring = 2 * kMinute;

class ReplayPlanTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { plan_ = new Replay(RunReplay(PlanArgs())); }
  static void TearDownTestSuite() {
    delete plan_;
    plan_ = nullptr;
  }
  static Replay* plan_;
};
Replay* ReplayPlanTest::plan_ = nullptr;

TEST_F(ReplayPlanTest, ExitsZeroAndPrintsDecisionsSortedByTime) {
  const Replay& r = *plan_;
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_FALSE(r.decisions.empty()) << r.err;
  for (std::size_t i = 1; i < r.decisions.size(); ++i) {
    EXPECT_LE(r.decisions[i - 1].ts_ms, r.decisions[i].ts_ms) << "decision " << i;
  }
}

TEST_F(ReplayPlanTest, PlanModeRunsNothing) {
  const Replay& r = *plan_;
  EXPECT_EQ(r.kubectl_calls, "") << "kubectl was called in plan mode";
  int steps = 0;
  for (const auto& d : r.decisions) {
    if (d.kind != "step") continue;
    ++steps;
    EXPECT_NE(d.outcome, "ran") << d.alertname << "/" << d.step;
    EXPECT_NE(d.outcome, "failed") << d.alertname << "/" << d.step;
  }
  EXPECT_GT(steps, 0);
}

TEST_F(ReplayPlanTest, NotifyDecisionsCarryTheGroupLabels) {
  int notifies = 0;
  for (const auto& d : plan_->decisions) {
    if (d.kind != "notify" || d.receiver == "default") continue;
    ++notifies;
    EXPECT_FALSE(d.labels.empty()) << d.receiver << " " << d.detail;
  }
  EXPECT_GT(notifies, 0);
}

TEST_F(ReplayPlanTest, ManualStepsAreRenderedFromLabels) {
  int manual = 0;
  for (const auto& d : plan_->decisions) {
    if (d.kind != "step" || d.outcome != "manual") continue;
    ++manual;
    EXPECT_EQ(d.detail.find("{{"), std::string::npos) << d.detail;
    if (d.step == "backup-restore") {
      EXPECT_NE(d.detail.find("restore PostgreSQL at pg-0:9187"), std::string::npos) << d.detail;
    }
  }
  EXPECT_GT(manual, 0);
}

// CI has no kubectl: a dry-run config loads and plans without one on PATH.
TEST(ReplayNoKubectlTest, PlanLoadsTheRunbookConfigWithoutKubectlOnPath) {
  const Replay r = RunReplay(PlanArgs(), "/nonexistent-nimify-path");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("not found on PATH"), std::string::npos) << r.err;  // the load warning
  int planned = 0;
  for (const auto& d : r.decisions) planned += d.kind == "step" && d.outcome == "planned" ? 1 : 0;
  EXPECT_GT(planned, 0);
}

TEST_F(ReplayPlanTest, ServiceDownGoesPendingThenFiresOnTime) {
  const Replay& r = *plan_;
  const auto alerts = r.Find("alert", "ServiceDown");
  ASSERT_GE(alerts.size(), 1u) << r.out;
  std::optional<std::int64_t> pending, firing;
  for (const auto& d : alerts) {
    if (d.state == "pending" && !pending) pending = d.ts_ms;
    if (d.state == "firing" && !firing) firing = d.ts_ms;
  }
  ASSERT_TRUE(firing.has_value()) << r.out;
  EXPECT_EQ(*firing, kServiceDownFiring);
  ASSERT_TRUE(pending.has_value()) << "no pending decision for ServiceDown";
  EXPECT_EQ(*pending, 2 * kMinute);
}

TEST_F(ReplayPlanTest, ServiceDownNotifiesAfterGroupWait) {
  const Replay& r = *plan_;
  const auto notes = r.Notifications("service-down");
  ASSERT_FALSE(notes.empty()) << r.out;
  // The SEV-1 route's group_wait is 30s.
  EXPECT_EQ(notes.front().ts_ms, kServiceDownFiring + 30'000);
  EXPECT_EQ(notes.front().outcome, "planned");
  // The steps run when the alert is first notified.
  const auto first = r.Step("ServiceDown", "get-pods");
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->ts_ms, kServiceDownFiring + 30'000);
}

TEST_F(ReplayPlanTest, ServiceDownStepsArePlannedWithTheRenderedArgv) {
  const Replay& r = *plan_;
  const struct {
    const char* step;
    const char* argv;
  } kExpected[] = {
      {"get-pods", "kubectl get pods -n nimify-system"},
      {"get-nodes", "kubectl get nodes"},
      {"get-events", "kubectl get events -n nimify-system --sort-by=.lastTimestamp"},
      {"get_api_pods", "kubectl get pods -n nimify-system -l app=nimify-api"},
      {"rollout-history", "kubectl rollout history deployment/nimify-api -n nimify-system"},
  };
  for (const auto& e : kExpected) {
    const auto d = r.Step("ServiceDown", e.step);
    ASSERT_TRUE(d.has_value()) << "no decision for step " << e.step << "\n" << r.out;
    EXPECT_EQ(d->outcome, "planned") << e.step;
    EXPECT_EQ(d->handler, "kubectl") << e.step;
    EXPECT_EQ(d->detail, e.argv) << e.step;
    EXPECT_TRUE(d->dry_run) << e.step;
    EXPECT_GE(d->ts_ms, kServiceDownFiring) << e.step;
  }
  // No kube_deployment_* series in the input: the conditional fixes are skipped.
  for (const char* step : {"rollback", "scale-up"}) {
    const auto d = r.Step("ServiceDown", step);
    ASSERT_TRUE(d.has_value()) << step;
    EXPECT_EQ(d->outcome, "skipped_condition") << step;
  }
}

TEST_F(ReplayPlanTest, ServiceDownEscalatesToTheEngineeringManagerAtExactlyFifteenMinutes) {
  const Replay& r = *plan_;
  const auto esc = r.Find("escalate", "ServiceDown");
  ASSERT_EQ(esc.size(), 1u) << r.out;
  EXPECT_EQ(esc[0].ts_ms, kServiceDownFiring + 15 * kMinute);
  EXPECT_EQ(esc[0].target, "engineering-manager");
}

TEST_F(ReplayPlanTest, DatabaseDownEscalatesToTheAdministratorImmediately) {
  const Replay& r = *plan_;
  const auto firing = r.Find("alert", "DatabaseDown");
  ASSERT_FALSE(firing.empty());
  const auto esc = r.Find("escalate", "DatabaseDown");
  ASSERT_EQ(esc.size(), 1u) << r.out;
  EXPECT_EQ(esc[0].ts_ms, kDatabaseDownFiring);
  EXPECT_EQ(esc[0].target, "database-administrator");
}

TEST_F(ReplayPlanTest, HighLatencyIsInhibitedWhileServiceDownFires) {
  const Replay& r = *plan_;
  bool fired = false;
  for (const auto& d : r.Find("alert", "HighLatency")) fired = fired || d.state == "firing";
  ASSERT_TRUE(fired) << "the input must make HighLatency fire\n" << r.out;
  const auto inhibited = r.Find("inhibited", "HighLatency");
  ASSERT_FALSE(inhibited.empty()) << r.out;
  EXPECT_GE(inhibited.front().ts_ms, kServiceDownFiring);
  EXPECT_TRUE(r.Notifications("high-latency").empty());
  for (const auto& d : r.decisions) {
    EXPECT_FALSE(d.kind == "step" && d.alertname == "HighLatency") << "step " << d.step;
  }
}

TEST(ReplayAcksTest, AnAcknowledgementBeforeFifteenMinutesStopsTheEscalation) {
  std::vector<std::string> args = PlanArgs();
  args.push_back("--acks");
  args.push_back(kTestdata + "/replay_acks.yml");
  const Replay r = RunReplay(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto acks = r.Find("acknowledged", "ServiceDown");
  ASSERT_FALSE(acks.empty()) << r.out;
  EXPECT_EQ(acks.front().ts_ms, 10 * kMinute);
  EXPECT_TRUE(r.Find("escalate", "ServiceDown").empty()) << r.out;
  // The ack names ServiceDown only.
  EXPECT_EQ(r.Find("escalate", "DatabaseDown").size(), 1u);
}

TEST(ReplayErrorsTest, AnInvalidConfigFailsWithItsPosition) {
  std::vector<std::string> args = PlanArgs();
  args[4] = kTestdata + "/replay_bad_config.yml";
  ASSERT_EQ(PlanArgs()[3], "--config");
  const Replay r = RunReplay(args);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(r.decisions.empty());
  // handler: no-such-handler, line 14 column 18.
  EXPECT_NE(r.err.find("replay_bad_config.yml:14:18: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no-such-handler"), std::string::npos) << r.err;
}

TEST(ReplayErrorsTest, ABadInputFailsWithItsPosition) {
  const fs::path bad =
      fs::temp_directory_path() / ("nimify_replay_bad_" + std::to_string(::getpid()) + ".yml");
  std::ofstream(bad)
      << "tests:\n  - interval: 1m\n    input_series:\n      - series: 'up{job=\"a\"}'\n"
         "        values: '1 2 x3'\n";
  std::vector<std::string> args = PlanArgs();
  args[6] = bad.string();
  ASSERT_EQ(PlanArgs()[5], "--input");
  const Replay r = RunReplay(args);
  fs::remove(bad);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(bad.filename().string() + ":5:"), std::string::npos) << r.err;
}

TEST(ReplayErrorsTest, MissingFlagsAreUsageErrors) {
  const Replay r = RunReplay({"--rules", kSource + "/rules/runbook.rules.yml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("missing --config"), std::string::npos) << r.err;
}

// ---- The input parsers ---------------------------------------------------------

TEST(ReplayInputTest, ReadsAPromtoolTestGroupOnItsInterval) {
  const std::string text =
      "evaluation_interval: 30s\n"
      "tests:\n"
      "  - interval: 2m\n"
      "    input_series:\n"
      "      - {series: 'up{job=\"a\"}', values: '1 _ 0 stale'}\n"
      "  - input_series:\n"
      "      - {series: 'up{job=\"b\"}', values: '5x2'}\n";
  auto in = ParseReplayInput(text, "t.yml", {});
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  EXPECT_EQ(in->format, ReplayFormat::kPromtoolTest);
  EXPECT_EQ(in->evaluation_interval_ms, 30'000);
  ASSERT_EQ(in->series.size(), 1u);
  const auto& s = in->series[0];
  ASSERT_EQ(s.labels.size(), 2u);
  EXPECT_EQ(s.labels[0].name, "__name__");
  EXPECT_EQ(s.labels[1].value, "a");
  ASSERT_EQ(s.points.size(), 3u);  // `_` is no sample
  EXPECT_EQ(s.points[0].t_ms, 0);
  EXPECT_EQ(s.points[1].t_ms, 4 * kMinute);
  EXPECT_EQ(s.points[1].value, 0);
  EXPECT_TRUE(promql::IsStaleNaN(s.points[2].value));
  EXPECT_EQ(in->last_ms, 6 * kMinute);

  ReplayInputOptions second;
  second.test_group = 1;
  auto b = ParseReplayInput(text, "t.yml", second);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_EQ(b->series.size(), 1u);
  EXPECT_EQ(b->series[0].points.size(), 3u);
  EXPECT_EQ(b->series[0].points[2].t_ms, 60'000);  // no interval: evaluation_interval

  second.test_group = 2;
  auto missing = ParseReplayInput(text, "t.yml", second);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("t.yml:3:"), std::string::npos)
      << missing.status().message();
}

TEST(ReplayInputTest, PlacesSeriesNotationErrorsInTheYaml) {
  auto in = ParseReplayInput(
      "tests:\n  - input_series:\n      - series: 'up'\n        values: 1 2 zz\n", "t.yml", {});
  ASSERT_FALSE(in.ok());
  EXPECT_EQ(in.status().message().rfind("t.yml:4:", 0), 0u) << in.status().message();
}

TEST(ReplayInputTest, ReadsALoadScript) {
  auto in = ParseReplayInput("# comment\n\nload 1m\n  up{job=\"a\"} 1 0 1\n", "x.series", {});
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  EXPECT_EQ(in->format, ReplayFormat::kLoadScript);
  ASSERT_EQ(in->series.size(), 1u);
  ASSERT_EQ(in->series[0].points.size(), 3u);
  EXPECT_EQ(in->series[0].points[2].t_ms, 2 * kMinute);
  EXPECT_EQ(in->series[0].points[1].value, 0);

  auto bad = ParseReplayInput("load 1m\n  up{job=\"a\" 1\n", "x.series", {});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind("x.series:2:", 0), 0u) << bad.status().message();
}

TEST(ReplayInputTest, ReadsARemoteWriteRecording) {
  std::string recording;
  for (int frame = 0; frame < 2; ++frame) {
    ingest::Batch batch;
    const promql::Labels labels{{"__name__", "up"}, {"job", "api"}};
    const promql::Point p{1'700'000'000'000 + frame * 15'000, static_cast<double>(frame)};
    batch.AddSeries(labels, std::span<const promql::Point>(&p, 1));
    const std::string body = ingest::EncodeRemoteWrite(batch);
    const auto n = static_cast<std::uint32_t>(body.size());
    const char len[4] = {static_cast<char>(n & 0xff), static_cast<char>((n >> 8) & 0xff),
                         static_cast<char>((n >> 16) & 0xff), static_cast<char>(n >> 24)};
    recording.append(len, 4);
    recording += body;
  }
  auto in = ParseReplayInput(recording, "r.bin", {});
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  EXPECT_EQ(in->format, ReplayFormat::kRemoteWrite);
  ASSERT_EQ(in->series.size(), 1u);
  ASSERT_EQ(in->series[0].points.size(), 2u);
  EXPECT_EQ(in->first_ms, 1'700'000'000'000);
  EXPECT_EQ(in->last_ms, 1'700'000'015'000);

  auto truncated = ParseReplayInput(recording.substr(0, recording.size() - 1), "r.bin", {});
  ASSERT_FALSE(truncated.ok());
  EXPECT_NE(truncated.status().message().find("truncated"), std::string::npos);
}

TEST(ReplayInputTest, RefusesWhatItCannotRead) {
  auto in = ParseReplayInput("groups: []\n", "rules.yml", {});
  ASSERT_FALSE(in.ok());
  EXPECT_NE(in.status().message().find("not a replay input"), std::string::npos);
}

}  // namespace
}  // namespace nimify::cli
