// nimifyd as a process with real peers on loopback: state across SIGKILL,
// Prometheus's remote_write, a real Alertmanager behind the `alertmanager`
// handler, and amtool against nimifyd's Alertmanager API. Each test starts
// its peers on free ports and kills them; every wait is bounded. A missing
// peer binary skips the test, or fails it when CI=true.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <rapidjson/document.h>
#include <snappy.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "daemon/test_http.h"
#include "nimify/state_store.h"
#include "remote_write_test.pb.h"

namespace nimify::daemon {
namespace {

using ::testing::HasSubstr;
using testing::FreePort;
using testing::ReadAll;
using testing::WaitFor;
using testing::Get;
using testing::Post;

namespace fs = std::filesystem;

// A child process, SIGKILLed and reaped when this goes away.
class Proc {
 public:
  Proc() = default;
  Proc(const Proc&) = delete;
  Proc& operator=(const Proc&) = delete;
  ~Proc() { Kill(); }

  void Start(const std::string& binary, const std::vector<std::string>& args, const fs::path& log) {
    log_ = log;
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<std::string> copy = args;
      std::vector<char*> argv;
      std::string path = binary;
      argv.push_back(path.data());
      for (std::string& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(path.c_str(), argv.data());
      ::_exit(127);
    }
  }
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  std::string log() const { return ReadAll(log_); }

 private:
  pid_t pid_ = -1;
  fs::path log_;
};

// Runs a command to completion (bounded); returns exit status and output.
int RunCommand(const std::vector<std::string>& argv, std::string* output,
               std::chrono::seconds limit = std::chrono::seconds(30)) {
  const fs::path out = fs::temp_directory_path() /
                       ("nimify-cmd-" + std::to_string(::getpid()) + "-" +
                        std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<std::string> copy = argv;
    std::vector<char*> args;
    for (std::string& a : copy) args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  const auto until = std::chrono::steady_clock::now() + limit;
  int rc = -1;
  while (std::chrono::steady_clock::now() < until) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (rc == -1) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  *output = ReadAll(out);
  fs::remove(out);
  return rc;
}

bool NeedBinary(const char* path) {
  if (::access(path, X_OK) == 0) return true;
  const char* ci = std::getenv("CI");
  if (ci != nullptr && std::string(ci) == "true") {
    ADD_FAILURE() << path << " is missing (required in CI)";
  }
  return false;
}

constexpr const char* kPrometheus = "/usr/bin/prometheus";
constexpr const char* kAlertmanager = "/usr/bin/prometheus-alertmanager";
constexpr const char* kAmtool = "/usr/bin/amtool";

class E2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("nimify_e2e_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    nimifyd_.Kill();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  void Write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }

  // Starts nimifyd on a fresh port with the config in dir_/nimifyd.yml; waits
  // until it serves (ready may wait for samples to restore saved alerts).
  void StartNimifyd(const std::vector<std::string>& extra = {}) {
    port_ = FreePort();
    std::vector<std::string> args = {"--config.file=" + (dir_ / "nimifyd.yml").string(),
                                     "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                     "--storage.state-dir=" + (dir_ / "state").string(),
                                     "--dry-run"};
    args.insert(args.end(), extra.begin(), extra.end());
    nimifyd_.Start(NIMIFYD_PATH, args, dir_ / "nimifyd.log");
    ASSERT_TRUE(WaitFor([&] { return Get(port_, "/-/healthy").status == 200; },
                        std::chrono::seconds(30)))
        << nimifyd_.log();
  }

  int Import(const std::string& text) {
    return Post(port_, "/api/v1/import/prometheus", text, "text/plain").status;
  }

  fs::path dir_;
  Proc nimifyd_;
  std::uint16_t port_ = 0;
};

constexpr const char* kForRules = R"(groups:
  - name: e2e
    interval: 1s
    rules:
      - alert: SlowBurn
        expr: up{job="x"} == 0
        for: 10m
        labels: {severity: page}
)";

constexpr const char* kResponses = R"(
route:
  receiver: team
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: team
    notify: [log]
handlers:
  log: {type: log}
)";

std::string ActiveAt(const std::string& alerts_json) {
  std::smatch m;
  static const std::regex re("\"activeAt\":\"([^\"]+)\"");
  return std::regex_search(alerts_json, m, re) ? m[1].str() : std::string();
}

TEST_F(E2eTest, StateSurvivesSigkill) {
  Write("rules.yml", kForRules);
  Write("nimifyd.yml", std::string("global: {evaluation_interval: 1s}\nrule_files: [rules.yml]\n"
                                   "engine: {allowed_lateness: 1s, shards: 1}\n") +
                           kResponses);
  StartNimifyd();
  std::string active_at;
  ASSERT_TRUE(WaitFor(
      [&] {
        Import("up{job=\"x\"} 0\n");
        active_at = ActiveAt(Get(port_, "/api/v1/alerts").body);
        return !active_at.empty();
      },
      std::chrono::seconds(30)))
      << nimifyd_.log();
  // Let the snapshot be written (the evaluation after the change).
  std::this_thread::sleep_for(std::chrono::seconds(2));

  const std::string now = "2099-01-01T00:00:00.000Z";
  const testing::RawResponse sil = Post(
      port_, "/api/v2/silences",
      R"({"matchers":[{"name":"alertname","value":"Other","isRegex":false}],"startsAt":"2020-01-01T00:00:00Z","endsAt":")" +
          now + R"(","createdBy":"a","comment":"c"})",
      "application/json");
  ASSERT_EQ(sil.status, 200) << sil.body;
  const testing::RawResponse ack = Post(
      port_, "/api/v2/acks", R"({"matchers":["alertname=SlowBurn"],"createdBy":"b","comment":"d"})",
      "application/json");
  ASSERT_EQ(ack.status, 200) << ack.body;

  nimifyd_.Kill();
  StartNimifyd();
  // Not ready until samples flow and the saved pending alert is restored.
  EXPECT_EQ(Get(port_, "/-/ready").status, 503);
  std::string after;
  ASSERT_TRUE(WaitFor(
      [&] {
        Import("up{job=\"x\"} 0\n");
        after = ActiveAt(Get(port_, "/api/v1/alerts").body);
        return !after.empty() && after == active_at;
      },
      std::chrono::seconds(30)))
      << "before: " << active_at << " after: " << after << "\n"
      << nimifyd_.log();
  EXPECT_THAT(Get(port_, "/api/v2/silences").body, HasSubstr("\"createdBy\":\"a\""));
  EXPECT_THAT(Get(port_, "/api/v2/acks").body, HasSubstr("\"createdBy\":\"b\""));
}

// ---- kill -9 under load ----------------------------------------------------------

// The remote-write body of `series` (label pairs), all at `t_ms` with `value`.
std::string RemoteWriteBody(const std::vector<std::vector<std::pair<std::string, std::string>>>& series,
                            std::int64_t t_ms, const std::vector<double>& values) {
  nimify_test::rw::WriteRequest req;
  for (std::size_t i = 0; i < series.size(); ++i) {
    auto* ts = req.add_timeseries();
    for (const auto& [n, v] : series[i]) {
      auto* l = ts->add_labels();
      l->set_name(n);
      l->set_value(v);
    }
    auto* s = ts->add_samples();
    s->set_timestamp(t_ms);
    s->set_value(values[i]);
  }
  std::string raw, out;
  req.SerializeToString(&raw);
  snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// `key=value` of a logfmt line ("" when absent).
std::string Field(const std::string& line, const std::string& key) {
  const std::string needle = " " + key + "=";
  const std::size_t at = line.find(needle);
  if (at == std::string::npos) return {};
  const std::size_t from = at + needle.size();
  if (from < line.size() && line[from] == '"') {  // quoted, with \" and \\ escapes
    std::string out;
    for (std::size_t i = from + 1; i < line.size(); ++i) {
      if (line[i] == '"') return out;
      if (line[i] == '\\' && i + 1 < line.size()) ++i;
      out += line[i];
    }
    return {};
  }
  return line.substr(from, line.find(' ', from) - from);
}

// The complete lines of a file (a line cut by SIGKILL is left out).
std::vector<std::string> CompleteLines(const fs::path& p) {
  const std::string text = ReadAll(p);
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', start)) {
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

// The activeAt of the alert with label instance=`instance` in /api/v1/alerts.
std::string ActiveAtOf(const std::string& body, const std::string& instance) {
  rapidjson::Document d;
  if (d.Parse(body.c_str()).HasParseError() || !d.IsObject() || !d.HasMember("data")) return {};
  const auto& data = d["data"];
  if (!data.IsObject() || !data.HasMember("alerts") || !data["alerts"].IsArray()) return {};
  for (const auto& a : data["alerts"].GetArray()) {
    if (!a.IsObject() || !a.HasMember("labels") || !a.HasMember("activeAt")) continue;
    const auto& labels = a["labels"];
    auto it = labels.FindMember("instance");
    if (it != labels.MemberEnd() && it->value.IsString() && instance == it->value.GetString()) {
      return a["activeAt"].GetString();
    }
  }
  return {};
}

// Sets `stop` and joins the threads when it goes out of scope (also on ASSERT).
class StopAndJoin {
 public:
  StopAndJoin(std::atomic<bool>& stop, std::vector<std::thread>& threads)
      : stop_(stop), threads_(threads) {}
  ~StopAndJoin() { Now(); }
  void Now() {
    stop_.store(true);
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

 private:
  std::atomic<bool>& stop_;
  std::vector<std::thread>& threads_;
};

std::uint64_t EnvOr(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

constexpr const char* kKillRules = R"(groups:
  - name: kill
    interval: 1s
    rules:
      - alert: Burn
        expr: up{job="x"} == 0
        for: 10m
      - alert: Down
        expr: up{job="y"} == 0
        labels: {severity: page}
)";

// Everything runs (nothing is dry-run) so that budgets are spent, but every
// handler is `log` to a file: nothing leaves the test.
std::string KillConfig(const fs::path& dir) {
  return "global: {evaluation_interval: 1s}\nrule_files: [rules.yml]\n"
         "engine: {allowed_lateness: 2s, shards: 1}\n"
         "route: {receiver: team, group_by: [alertname, instance], group_wait: 0s,"
         " group_interval: 1s, repeat_interval: 1h}\n"
         "receivers: [{name: team, notify: [sent], responses: [fix], escalation: esc}]\n"
         "handlers:\n  sent: {type: log, config: {file: '" +
         (dir / "sent.log").string() +
         "'}}\n"
         "budgets: {restarts: {max: 100000, per: 24h}}\n"
         "escalations:\n  esc:\n    levels:\n"
         "      - {after: 1s, target: lead, notify: [sent]}\n"
         "      - {after: 2s, target: manager, notify: [sent]}\n"
         "responses:\n  fix:\n    steps:\n"
         "      - {name: restart, handler: sent, with: {message: fix},"
         " remediation: {target: svc/flap, budget: restarts}}\n";
}

// SIGKILL at random points while remote-write load runs and responses
// execute; after each restart everything acknowledged to a client before
// the kill is there: silences and acknowledgements (200 from the API), alert
// states with their active-at, the audit records of every decision logged,
// the budget spent by every remediation logged as run; and no escalation
// level and no first notification of an alert happens twice.
// NIMIFY_KILL_CYCLES (default 6) and NIMIFY_KILL_SEED replay a run.
TEST_F(E2eTest, KillNineUnderLoadKeepsEverythingAcknowledged) {
  const std::uint64_t cycles = EnvOr("NIMIFY_KILL_CYCLES", 6);
  const std::uint64_t seed = EnvOr("NIMIFY_KILL_SEED", std::random_device{}());
  std::printf("kill -9 test: seed=%llu cycles=%llu (replay: NIMIFY_KILL_SEED=%llu "
              "NIMIFY_KILL_CYCLES=%llu)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(cycles),
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(cycles));
  std::fflush(stdout);
  ::testing::Test::RecordProperty("kill_seed", std::to_string(seed));
  std::mt19937_64 rng(seed);
  Write("rules.yml", kKillRules);
  Write("nimifyd.yml", KillConfig(dir_));

  std::vector<std::string> silence_ids, ack_ids;
  std::string burn_active_at, steady_active_at;
  std::vector<fs::path> logs;
  for (std::uint64_t cycle = 0; cycle < cycles; ++cycle) {
    SCOPED_TRACE("cycle " + std::to_string(cycle) + " seed " + std::to_string(seed));
    logs.push_back(dir_ / ("nimifyd-" + std::to_string(cycle) + ".log"));
    port_ = FreePort();
    nimifyd_.Start(NIMIFYD_PATH,
                   {"--config.file=" + (dir_ / "nimifyd.yml").string(),
                    "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                    "--storage.state-dir=" + (dir_ / "state").string()},
                   logs.back());
    ASSERT_TRUE(WaitFor([&] { return Get(port_, "/-/healthy").status == 200; },
                        std::chrono::seconds(30)))
        << nimifyd_.log();

    // Load: 40 noise series, Burn's and the steady Down's series, and a Down
    // instance new in this cycle (a new incident: notification, remediation,
    // escalation), every 50 ms.
    std::vector<std::vector<std::pair<std::string, std::string>>> series;
    std::vector<double> values;
    for (int i = 0; i < 40; ++i) {
      series.push_back({{"__name__", "node_load1"}, {"instance", "n" + std::to_string(i)}});
      values.push_back(i);
    }
    series.push_back({{"__name__", "up"}, {"job", "x"}, {"instance", "burn"}});
    series.push_back({{"__name__", "up"}, {"job", "y"}, {"instance", "steady"}});
    series.push_back({{"__name__", "up"}, {"job", "y"}, {"instance", "flap-" + std::to_string(cycle)}});
    values.insert(values.end(), {0, 0, 0});
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    StopAndJoin guard(stop, threads);
    const std::uint16_t port = port_;
    threads.emplace_back([&stop, &series, &values, port] {
      while (!stop.load()) {
        Post(port, "/api/v1/write", RemoteWriteBody(series, NowMs(), values),
             "application/x-protobuf",
             "Content-Encoding: snappy\r\nX-Prometheus-Remote-Write-Version: 0.1.0\r\n");
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    });

    if (cycle > 0) {
      // Restored: ready once the saved alert states are back in the engine.
      EXPECT_TRUE(WaitFor([&] { return Get(port_, "/-/ready").status == 200; },
                          std::chrono::seconds(20)))
          << nimifyd_.log();
      const std::string listed = Get(port_, "/api/v2/silences").body;
      for (const std::string& id : silence_ids) EXPECT_THAT(listed, HasSubstr(id));
      const std::string acks = Get(port_, "/api/v2/acks").body;
      for (const std::string& id : ack_ids) EXPECT_THAT(acks, HasSubstr(id));
      // Alert states keep their active-at (the pending Burn and the firing Down).
      std::string burn, steady;
      EXPECT_TRUE(WaitFor(
          [&] {
            const std::string alerts = Get(port_, "/api/v1/alerts").body;
            burn = ActiveAtOf(alerts, "burn");
            steady = ActiveAtOf(alerts, "steady");
            return burn == burn_active_at && steady == steady_active_at;
          },
          std::chrono::seconds(10)))
          << "Burn " << burn_active_at << " -> " << burn << "; steady Down " << steady_active_at
          << " -> " << steady << "\n"
          << nimifyd_.log();
    }

    // Clients: silences and acknowledgements; the ids of the 200s are kept.
    threads.emplace_back([&, cycle] {
      for (int i = 0; !stop.load(); ++i) {
        const std::string tag = std::to_string(cycle) + "-" + std::to_string(i);
        const testing::RawResponse s = Post(
            port, "/api/v2/silences",
            R"({"matchers":[{"name":"cycle","value":")" + tag +
                R"(","isRegex":false}],"startsAt":"2020-01-01T00:00:00Z","endsAt":"2099-01-01T00:00:00Z","createdBy":"kill","comment":"c"})",
            "application/json");
        std::smatch m;
        static const std::regex kId(R"re("silenceID":"([^"]+)")re");
        if (s.status == 200 && std::regex_search(s.body, m, kId)) silence_ids.push_back(m[1].str());
        const testing::RawResponse a = Post(
            port, "/api/v2/acks",
            R"({"matchers":["alertname=Other)" + tag + R"("],"createdBy":"kill","comment":"d"})",
            "application/json");
        static const std::regex kAckId(R"re("(?:ackID|id)":"([^"]+)")re");
        if (a.status == 200 && std::regex_search(a.body, m, kAckId)) ack_ids.push_back(m[1].str());
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
      }
    });

    if (cycle == 0) {
      // The active-at of Burn and of the steady Down, then time for the
      // snapshot to be written (the evaluation after the change).
      ASSERT_TRUE(WaitFor(
          [&] {
            const std::string alerts = Get(port_, "/api/v1/alerts").body;
            burn_active_at = ActiveAtOf(alerts, "burn");
            steady_active_at = ActiveAtOf(alerts, "steady");
            return !burn_active_at.empty() && !steady_active_at.empty();
          },
          std::chrono::seconds(30)))
          << nimifyd_.log();
      std::this_thread::sleep_for(std::chrono::seconds(3));
    }
    // The kill point: anywhere in the next 0.2 .. 3.2 s of load and responses.
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 3000));
    nimifyd_.Kill();
    guard.Now();

    // What the logs showed before the kill must be in the state dir.
    std::map<std::string, int> logged;  // kind/outcome/fingerprint/step -> count
    std::map<std::string, int> escalations;
    int remediations_run = 0;
    for (const fs::path& log : logs) {
      for (const std::string& line : CompleteLines(log)) {
        if (line.find("msg=decision") == std::string::npos ||
            line.find(" dry_run=") == std::string::npos) {
          continue;
        }
        const std::string kind = Field(line, "kind");
        const std::string outcome = Field(line, "outcome");
        ++logged[kind + "/" + outcome + "/" + Field(line, "fingerprint") + "/" + Field(line, "step")];
        if (kind == "escalate") ++escalations[Field(line, "fingerprint") + " " + Field(line, "detail")];
        if (kind == "step" && Field(line, "step") == "restart" && outcome == "ran") ++remediations_run;
      }
    }
    for (const auto& [what, n] : escalations) EXPECT_EQ(n, 1) << "escalation twice: " << what;
    {
      Result<std::unique_ptr<StateStore>> store = OpenFileStateStore((dir_ / "state").string());
      ASSERT_TRUE(store.ok()) << store.status().ToString();
      Result<std::vector<std::pair<std::uint64_t, std::string>>> audit =
          (*store)->ReadLog("audit", 0, 10'000'000);
      ASSERT_TRUE(audit.ok());
      std::map<std::string, int> audited;
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
      for (const auto& [what, n] : logged) {
        EXPECT_GE(audited[what], n) << "decision logged but not in the audit log: " << what;
      }
      Result<std::optional<StoredValue>> budget = (*store)->Get("budget/restarts/svc/flap");
      ASSERT_TRUE(budget.ok());
      const std::string spent = budget->has_value() ? (*budget)->value : "";
      // "[t1,t2,...]": one time per remediation that ran.
      const int entries = spent.size() <= 2 ? 0
                          : static_cast<int>(std::count(spent.begin(), spent.end(), ',')) + 1;
      EXPECT_GE(entries, remediations_run) << "budget " << spent;
    }
    // The first notification of an alert goes out once: its group key is
    // notified with event=firing at most once over all cycles.
    std::map<std::string, int> first_sends;
    for (const std::string& line : CompleteLines(dir_ / "sent.log")) {
      if (Field(line, "trigger") == "notification" && Field(line, "event") == "firing") {
        ++first_sends[Field(line, "group_key")];
      }
    }
    for (const auto& [group, n] : first_sends) EXPECT_EQ(n, 1) << "sent again as new: " << group;
    if (HasFailure()) break;
  }
  EXPECT_FALSE(silence_ids.empty());
  EXPECT_FALSE(ack_ids.empty());
}

// `nimify ack` / `nimify unack` against the daemon.
TEST_F(E2eTest, AckAndUnackCommands) {
  Write("rules.yml", kForRules);
  Write("nimifyd.yml", std::string("rule_files: [rules.yml]\n") + kResponses);
  StartNimifyd();
  const std::string url = "--url=http://127.0.0.1:" + std::to_string(port_);
  std::string out;
  ASSERT_EQ(RunCommand({NIMIFY_CLI_PATH, "ack", url, "--author=carol", "--comment=looking",
                        "--duration=2h", "SlowBurn", "job=~x|y"},
                       &out),
            0)
      << out;
  std::smatch m;
  static const std::regex kId("[0-9a-zA-Z-]{8,}");
  ASSERT_TRUE(std::regex_search(out, m, kId)) << out;
  const std::string id = m.str();
  const std::string acks = Get(port_, "/api/v2/acks").body;
  EXPECT_THAT(acks, HasSubstr(R"("createdBy":"carol","comment":"looking")"));
  EXPECT_THAT(acks, HasSubstr(R"({"name":"alertname","value":"SlowBurn","isRegex":false,"isEqual":true})"));
  EXPECT_THAT(acks, HasSubstr(R"({"name":"job","value":"x|y","isRegex":true,"isEqual":true})"));
  EXPECT_THAT(acks, HasSubstr("\"endsAt\""));
  EXPECT_EQ(RunCommand({NIMIFY_CLI_PATH, "ack", url}, &out), 2) << out;  // nothing to match
  EXPECT_EQ(RunCommand({NIMIFY_CLI_PATH, "ack", url, "job=~("}, &out), 2) << out;
  ASSERT_EQ(RunCommand({NIMIFY_CLI_PATH, "unack", url, id}, &out), 0) << out;
  EXPECT_THAT(Get(port_, "/api/v2/acks").body, ::testing::Not(HasSubstr(id)));
  EXPECT_EQ(RunCommand({NIMIFY_CLI_PATH, "unack", url, id}, &out), 1) << out;  // gone
}

TEST_F(E2eTest, PrometheusRemoteWriteFiresServiceDown) {
  if (!NeedBinary(kPrometheus)) GTEST_SKIP() << kPrometheus << " is not installed";
  Write("rules.yml", R"(groups:
  - name: runbook
    interval: 1s
    rules:
      - alert: ServiceDown
        expr: up{job="nimify-api"} == 0
        for: 2s
        labels: {severity: SEV-1}
        annotations: {summary: "{{ $labels.instance }} is down"}
)");
  Write("nimifyd.yml", std::string("global: {evaluation_interval: 1s}\nrule_files: [rules.yml]\n"
                                   "engine: {allowed_lateness: 5s, shards: 1}\n") +
                           kResponses);
  StartNimifyd();
  const std::uint16_t prom_port = FreePort();
  const std::uint16_t dead_port = FreePort();  // nothing listens here
  Write("prometheus.yml", "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                          "remote_write:\n  - url: http://127.0.0.1:" +
                              std::to_string(port_) +
                              "/api/v1/write\n    queue_config: {batch_send_deadline: 1s}\n"
                              "scrape_configs:\n  - job_name: nimify-api\n    static_configs:\n"
                              "      - targets: ['127.0.0.1:" +
                              std::to_string(dead_port) + "']\n");
  Proc prom;
  prom.Start(kPrometheus,
             {"--config.file=" + (dir_ / "prometheus.yml").string(),
              "--storage.tsdb.path=" + (dir_ / "prom-data").string(),
              "--web.listen-address=127.0.0.1:" + std::to_string(prom_port)},
             dir_ / "prometheus.log");
  EXPECT_TRUE(WaitFor(
      [&] {
        return Get(port_, "/api/v2/alerts").body.find("ServiceDown") != std::string::npos &&
               Get(port_, "/api/v1/alerts").body.find("\"state\":\"firing\"") != std::string::npos;
      },
      std::chrono::seconds(45)))
      << "nimifyd:\n"
      << nimifyd_.log() << "\nprometheus:\n"
      << prom.log();
  EXPECT_THAT(Get(port_, "/api/v2/alerts").body,
              HasSubstr("\"instance\":\"127.0.0.1:" + std::to_string(dead_port) + "\""));
  EXPECT_THAT(nimifyd_.log(), HasSubstr("alertname=ServiceDown"));
}

TEST_F(E2eTest, AlertmanagerReceivesAndAmtoolManagesSilences) {
  if (!NeedBinary(kAlertmanager) || !NeedBinary(kAmtool)) {
    GTEST_SKIP() << "prometheus-alertmanager or amtool is not installed";
  }
  const std::uint16_t am_port = FreePort();
  Write("alertmanager.yml",
        "route: {receiver: blackhole, group_wait: 1s, group_interval: 1s}\n"
        "receivers: [{name: blackhole}]\n");
  fs::create_directories(dir_ / "am-data");
  Proc am;
  am.Start(kAlertmanager,
           {"--config.file=" + (dir_ / "alertmanager.yml").string(),
            "--storage.path=" + (dir_ / "am-data").string(),
            "--web.listen-address=127.0.0.1:" + std::to_string(am_port),
            "--cluster.listen-address="},
           dir_ / "am.log");
  ASSERT_TRUE(WaitFor([&] { return Get(am_port, "/-/ready").status == 200; },
                      std::chrono::seconds(30)))
      << am.log();

  Write("rules.yml", R"(groups:
  - name: e2e
    interval: 1s
    rules:
      - alert: Broken
        expr: up{job="x"} == 0
)");
  Write("nimifyd.yml", "global: {evaluation_interval: 1s}\nrule_files: [rules.yml]\n"
                       "engine: {allowed_lateness: 1s, shards: 1}\n"
                       "dry_run: false\n"
                       "route: {receiver: team, group_by: [alertname], group_wait: 0s,"
                       " group_interval: 1s, repeat_interval: 1h}\n"
                       "receivers: [{name: team, notify: [am], responses: [note]}]\n"
                       "handlers:\n  am: {type: alertmanager, config: {url: 'http://127.0.0.1:" +
                           std::to_string(am_port) +
                           "', firing_valid_for: 1h}}\n  log: {type: log}\n"
                           "responses:\n  note:\n    steps:\n"
                           "      - {name: say, handler: log, with: {message: step-ran}}\n");
  // Without --dry-run: the alertmanager handler must really send.
  port_ = FreePort();
  nimifyd_.Start(NIMIFYD_PATH,
                 {"--config.file=" + (dir_ / "nimifyd.yml").string(),
                  "--web.listen-address=127.0.0.1:" + std::to_string(port_)},
                 dir_ / "nimifyd.log");
  ASSERT_TRUE(WaitFor([&] { return Get(port_, "/-/ready").status == 200; },
                      std::chrono::seconds(30)))
      << nimifyd_.log();

  // (b) The real Alertmanager shows nimifyd's alert.
  EXPECT_TRUE(WaitFor(
      [&] {
        Import("up{job=\"x\"} 0\n");
        return Get(am_port, "/api/v2/alerts").body.find("\"alertname\":\"Broken\"") !=
               std::string::npos;
      },
      std::chrono::seconds(30)))
      << nimifyd_.log() << "\n" << am.log();

  // (c) amtool against nimifyd.
  const std::string url = "--alertmanager.url=http://127.0.0.1:" + std::to_string(port_);
  std::string out;
  ASSERT_EQ(RunCommand({kAmtool, url, "alert", "query"}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("Broken"));
  ASSERT_EQ(RunCommand({kAmtool, url, "silence", "add", "alertname=Broken", "--comment=c",
                        "--author=a", "-d", "1h"},
                       &out),
            0)
      << out;
  // amtool prints the id (and, on stderr, a warning that the versions differ).
  std::smatch m;
  static const std::regex kUuid("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
  ASSERT_TRUE(std::regex_search(out, m, kUuid)) << out;
  const std::string id = m.str();
  ASSERT_EQ(RunCommand({kAmtool, url, "silence", "query"}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr(id));
  EXPECT_THAT(out, HasSubstr("alertname=\"Broken\""));
  ASSERT_EQ(RunCommand({kAmtool, url, "silence", "query", "-q"}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr(id));
  ASSERT_EQ(RunCommand({kAmtool, url, "config", "show"}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("receiver: team"));

  // The silenced alert: suppressed, its responses stop (the responder records silenced).
  EXPECT_TRUE(WaitFor(
      [&] {
        Import("up{job=\"x\"} 0\n");
        return Get(port_, "/api/v2/alerts").body.find("\"state\":\"suppressed\"") !=
               std::string::npos;
      },
      std::chrono::seconds(20)))
      << Get(port_, "/api/v2/alerts").body;
  EXPECT_THAT(nimifyd_.log(), HasSubstr("kind=silenced"));
  ASSERT_EQ(RunCommand({kAmtool, url, "alert", "query", "--silenced"}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("Broken"));

  ASSERT_EQ(RunCommand({kAmtool, url, "silence", "expire", id}, &out), 0) << out;
  ASSERT_EQ(RunCommand({kAmtool, url, "silence", "query", "--expired"}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr(id));
  ASSERT_EQ(RunCommand({kAmtool, url, "silence", "query"}, &out), 0) << out;
  EXPECT_THAT(out, ::testing::Not(HasSubstr(id)));
}

}  // namespace
}  // namespace nimify::daemon
