// nimifyd in wall-clock mode while its wall clock steps forward an hour and
// back an hour: Debian's libfaketime, preloaded into the nimifyd process
// only, reads the offset from a file the test rewrites (the steady clock is
// left alone). What must hold (docs/daemon.md, "Time"): evaluation goes on
// after each step (never waiting for the wall clock to pass the last
// instant), new samples fire alerts, an alert kept firing is not resolved, an
// escalation delay and a remediation budget count real time (a forward step
// neither fires the escalation early nor frees the budget; a backward one
// does not reset it), and every decision is in the audit log.
// Without libfaketime the test skips, or fails when CI=true.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "daemon/test_http.h"
#include "nimify/state_store.h"

namespace nimify::daemon {
namespace {

namespace fs = std::filesystem;
using testing::FreePort;
using testing::ReadAll;
using testing::WaitFor;
using testing::Get;
using testing::Post;

constexpr const char* kFaketime = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";

std::vector<std::string> Lines(const fs::path& p) {
  std::vector<std::string> out;
  std::istringstream in(ReadAll(p));
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The value of key=value or key="value" in a logfmt line.
std::string Field(const std::string& line, const std::string& key) {
  const std::string needle = " " + key + "=";
  const std::size_t at = line.find(needle);
  if (at == std::string::npos) return {};
  std::size_t i = at + needle.size();
  std::string out;
  if (i < line.size() && line[i] == '"') {
    for (++i; i < line.size() && line[i] != '"'; ++i) {
      if (line[i] == '\\' && i + 1 < line.size()) ++i;
      out += line[i];
    }
    return out;
  }
  while (i < line.size() && line[i] != ' ') out += line[i++];
  return out;
}

double RealNowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The first sample of `name` (with `labels`, e.g. {direction="forward"}) in an exposition; NaN if
// absent.
double Metric(const std::string& text, const std::string& name, const std::string& labels = "") {
  const std::string prefix = name + labels + " ";
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) return std::strtod(line.c_str() + prefix.size(), nullptr);
  }
  return std::nan("");
}

constexpr const char* kRules = R"(groups:
  - name: clock
    interval: 1s
    rules:
      - alert: Down
        expr: up{job="y"} == 0
        keep_firing_for: 3h
        labels: {severity: page}
)";

// Every handler is `log` to a file; nothing is dry-run, so the budget is spent.
std::string Config(const fs::path& dir) {
  return "global: {evaluation_interval: 1s}\nrule_files: [rules.yml]\n"
         "engine: {allowed_lateness: 1s, shards: 1}\n"
         "route: {receiver: team, group_by: [alertname, instance], group_wait: 0s,"
         " group_interval: 1s, repeat_interval: 1h}\n"
         "receivers: [{name: team, notify: [sent], responses: [fix], escalation: esc}]\n"
         "handlers:\n  sent: {type: log, config: {file: '" +
         (dir / "sent.log").string() +
         "'}}\n"
         "budgets: {restarts: {max: 1, per: 30m}}\n"
         "escalations:\n  esc:\n    levels:\n"
         "      - {after: 2s, target: lead, notify: [sent]}\n"
         "      - {after: 10m, target: manager, notify: [sent]}\n"
         "responses:\n  fix:\n    steps:\n"
         "      - {name: restart, handler: sent, with: {message: fix},"
         " remediation: {target: svc/flap, budget: restarts}}\n";
}

class ClockJumpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("nimify_clock_jump_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    stop_pushing_ = true;
    if (pusher_.joinable()) pusher_.join();
    Stop(SIGKILL);
    if (!HasFailure()) fs::remove_all(dir_);
  }

  void SetOffset(const std::string& offset) {
    // Written whole and renamed, so nimifyd never reads half a file.
    std::ofstream(dir_ / "faketime.tmp") << offset << "\n";
    fs::rename(dir_ / "faketime.tmp", dir_ / "faketime");
  }

  void Start() {
    port_ = FreePort();
    const std::vector<std::string> args = {
        NIMIFYD_PATH, "--config.file=" + (dir_ / "nimifyd.yml").string(),
        "--web.listen-address=127.0.0.1:" + std::to_string(port_),
        "--storage.state-dir=" + (dir_ / "state").string(), "--log.level=info"};
    const std::string log = (dir_ / "nimifyd.log").string();
    const std::string stamp = (dir_ / "faketime").string();
    // An ASan build of nimifyd would refuse a preloaded library ahead of its runtime.
    const char* asan = std::getenv("ASAN_OPTIONS");
    const std::string asan_options =
        (asan != nullptr && *asan != '\0' ? std::string(asan) + ":" : std::string()) +
        "verify_asan_link_order=0";
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::setenv("LD_PRELOAD", kFaketime, 1);
      ::setenv("FAKETIME_TIMESTAMP_FILE", stamp.c_str(), 1);
      ::setenv("FAKETIME_NO_CACHE", "1", 1);
      ::setenv("FAKETIME_DONT_FAKE_MONOTONIC", "1", 1);
      ::setenv("ASAN_OPTIONS", asan_options.c_str(), 1);
      std::vector<char*> argv;
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ASSERT_TRUE(
        WaitFor([&] { return Get(port_, "/-/healthy").status == 200; }, std::chrono::seconds(30)))
        << ReadAll(dir_ / "nimifyd.log");
  }

  void Stop(int signal) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal);
    int status = 0;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > until) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    pid_ = -1;
  }

  std::string Metrics() { return Get(port_, "/metrics").body; }

  // Decision lines of nimifyd's log (msg=decision).
  std::vector<std::string> Decisions() {
    std::vector<std::string> out;
    for (const std::string& line : Lines(dir_ / "nimifyd.log")) {
      if (line.find("msg=decision") != std::string::npos) out.push_back(line);
    }
    return out;
  }
  int CountDecisions(const std::string& kind, const std::string& key, const std::string& value,
                     const std::string& outcome = "") {
    int n = 0;
    for (const std::string& line : Decisions()) {
      if (Field(line, "kind") == kind && Field(line, key) == value &&
          (outcome.empty() || Field(line, "outcome") == outcome)) {
        ++n;
      }
    }
    return n;
  }

  // Keeps sending up{job="y",instance=i} 0 for each instance in `down_`, with
  // no timestamp: nimifyd stamps them with its clock.
  void StartPushing() {
    pusher_ = std::thread([this] {
      while (!stop_pushing_) {
        std::string body;
        for (int i = 0; i < down_.load(); ++i) {
          body +=
              "up{job=\"y\",instance=\"" + std::string(1, static_cast<char>('a' + i)) + "\"} 0\n";
        }
        const int status = Post(port_, "/api/v1/import/prometheus", body, "text/plain").status;
        if (status != 204) ++push_failures_;
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
      }
    });
  }

  bool Firing(const std::string& instance) {
    const std::string body = Get(port_, "/api/v1/alerts").body;
    rapidjson::Document d;
    if (d.Parse(body.c_str()).HasParseError() || !d.IsObject()) return false;
    for (const auto& a : d["data"]["alerts"].GetArray()) {
      if (std::string(a["labels"]["instance"].GetString()) == instance &&
          std::string(a["state"].GetString()) == "firing") {
        return true;
      }
    }
    return false;
  }

  fs::path dir_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::thread pusher_;
  std::atomic<bool> stop_pushing_{false};
  std::atomic<int> down_{1};
  std::atomic<int> push_failures_{0};
};

TEST_F(ClockJumpTest, EvaluationEscalationsAndBudgetsSurviveWallClockSteps) {
  if (!fs::exists(kFaketime)) {
    const char* ci = std::getenv("CI");
    if (ci != nullptr && std::string(ci) == "true") {
      FAIL() << kFaketime << " is missing (package faketime; required in CI)";
    }
    GTEST_SKIP() << kFaketime << " is missing (package faketime)";
  }
  std::ofstream(dir_ / "rules.yml") << kRules;
  std::ofstream(dir_ / "nimifyd.yml") << Config(dir_);
  SetOffset("+0");
  Start();
  ASSERT_FALSE(HasFatalFailure());
  StartPushing();
  const auto kWait = std::chrono::seconds(60);

  // Before any step: instance a fires, its remediation runs (spending the
  // budget, 1 per 30m), its first escalation level (2s) is reached.
  ASSERT_TRUE(WaitFor([&] { return Firing("a"); }, kWait)) << ReadAll(dir_ / "nimifyd.log");
  ASSERT_TRUE(WaitFor([&] { return CountDecisions("step", "step", "restart", "ran") >= 1; }, kWait))
      << ReadAll(dir_ / "nimifyd.log");
  ASSERT_TRUE(WaitFor([&] { return CountDecisions("escalate", "target", "lead") >= 1; }, kWait))
      << ReadAll(dir_ / "nimifyd.log");

  // Forward an hour.
  SetOffset("+1h");
  // libfaketime reaches std::chrono::system_clock in nimifyd: time() is an hour ahead.
  ASSERT_TRUE(WaitFor(
      [&] {
        const std::string body = Get(port_, "/api/v1/query?query=time()").body;
        const std::size_t at = body.find("\"result\":[");
        return at != std::string::npos &&
               std::strtod(body.c_str() + at + 10, nullptr) > RealNowSeconds() + 3500;
      },
      std::chrono::seconds(10)));
  // Evaluation follows the step (Prometheus evaluates at the new wall-clock time too).
  ASSERT_TRUE(WaitFor(
      [&] {
        return Metric(Metrics(), "nimify_rule_last_evaluation_timestamp_seconds") >
               RealNowSeconds() + 3590;
      },
      kWait))
      << Metrics();
  EXPECT_EQ(Metric(Metrics(), "nimify_wall_clock_steps_total", "{direction=\"forward\"}"), 1);
  // A new alert from samples stamped with the new time fires; its remediation
  // finds the budget spent (the spend an hour ago on the wall clock was seconds ago).
  down_ = 2;
  ASSERT_TRUE(WaitFor([&] { return Firing("b"); }, kWait)) << ReadAll(dir_ / "nimifyd.log");
  EXPECT_TRUE(
      WaitFor([&] { return CountDecisions("step", "step", "restart", "skipped_budget") >= 1; },
              std::chrono::seconds(20)))
      << "the budget was freed";
  EXPECT_TRUE(Firing("a")) << "kept firing across the step";

  // Back an hour (to the real time): nimifyd's clock does not go back.
  const double instants_before = Metric(Metrics(), "nimify_rule_evaluation_instants_total");
  const double last_before = Metric(Metrics(), "nimify_rule_last_evaluation_timestamp_seconds");
  SetOffset("+0");
  EXPECT_TRUE(WaitFor(
      [&] {
        return Metric(Metrics(), "nimify_wall_clock_steps_total", "{direction=\"backward\"}") == 1;
      },
      std::chrono::seconds(10)))
      << Metrics();
  // Not wedged: instants go on, after the last one, at the steady rate.
  ASSERT_TRUE(WaitFor(
      [&] {
        const std::string m = Metrics();
        return Metric(m, "nimify_rule_evaluation_instants_total") >= instants_before + 5 &&
               Metric(m, "nimify_rule_last_evaluation_timestamp_seconds") >= last_before + 5;
      },
      std::chrono::seconds(30)))
      << Metrics();
  EXPECT_NEAR(Metric(Metrics(), "nimify_wall_clock_ahead_seconds"), 3600, 60);
  down_ = 3;
  ASSERT_TRUE(WaitFor([&] { return Firing("c"); }, kWait)) << ReadAll(dir_ / "nimifyd.log");
  EXPECT_TRUE(
      WaitFor([&] { return CountDecisions("step", "step", "restart", "skipped_budget") >= 2; },
              std::chrono::seconds(20)))
      << "the budget was freed";
  // The level-1 escalations of b and c (2s) came; the 10m one of a did not,
  // although a has been firing "an hour" on the wall clock.
  ASSERT_TRUE(WaitFor([&] { return CountDecisions("escalate", "target", "lead") >= 3; }, kWait));
  EXPECT_TRUE(Firing("a"));
  EXPECT_TRUE(Firing("b"));
  EXPECT_EQ(CountDecisions("escalate", "target", "manager"), 0);
  EXPECT_EQ(CountDecisions("step", "step", "restart", "ran"), 1) << "the budget was reset";
  EXPECT_EQ(push_failures_.load(), 0);
  EXPECT_EQ(Metric(Metrics(), "nimify_rule_evaluation_failures_total"), 0);

  stop_pushing_ = true;
  pusher_.join();
  const std::vector<std::string> decisions = Decisions();
  Stop(SIGTERM);

  // Every decision logged is in the audit log; the budget holds the one spend;
  // the one remediation that ran is the one the handler saw.
  Result<std::unique_ptr<StateStore>> store = OpenFileStateStore((dir_ / "state").string());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Result<std::vector<std::pair<std::uint64_t, std::string>>> audit =
      (*store)->ReadLog("audit", 0, 10'000'000);
  ASSERT_TRUE(audit.ok());
  std::map<std::string, int> audited, logged;
  for (const auto& [seq, record] : *audit) {
    rapidjson::Document d;
    if (d.Parse(record.c_str()).HasParseError() || !d.IsObject()) continue;
    const auto str = [&d](const char* k) {
      auto it = d.FindMember(k);
      return it != d.MemberEnd() && it->value.IsString() ? std::string(it->value.GetString())
                                                         : std::string();
    };
    ++audited[str("kind") + "/" + str("outcome") + "/" + str("fingerprint") + "/" + str("step")];
  }
  for (const std::string& line : decisions) {
    ++logged[Field(line, "kind") + "/" + Field(line, "outcome") + "/" + Field(line, "fingerprint") +
             "/" + Field(line, "step")];
  }
  EXPECT_FALSE(logged.empty());
  for (const auto& [what, n] : logged) {
    EXPECT_GE(audited[what], n) << "decision logged but not in the audit log: " << what;
  }
  Result<std::optional<StoredValue>> budget = (*store)->Get("budget/restarts/svc/flap");
  ASSERT_TRUE(budget.ok());
  ASSERT_TRUE(budget->has_value());
  EXPECT_EQ(std::count((*budget)->value.begin(), (*budget)->value.end(), ','), 0)
      << "one spend: " << (*budget)->value;
  int fixes = 0;
  for (const std::string& line : Lines(dir_ / "sent.log")) {
    if (Field(line, "message") == "fix") ++fixes;
  }
  EXPECT_EQ(fixes, 1) << ReadAll(dir_ / "sent.log");
}

}  // namespace
}  // namespace nimify::daemon
