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
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "daemon/test_http.h"

namespace nimify::daemon {
namespace {

using ::testing::HasSubstr;
using testing::Get;
using testing::Post;

namespace fs = std::filesystem;

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::uint16_t FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return cond();
}

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

  // Starts nimifyd on a fresh port with the config in dir_/nimifyd.yml; waits until ready.
  void StartNimifyd(const std::vector<std::string>& extra = {}) {
    port_ = FreePort();
    std::vector<std::string> args = {"--config.file=" + (dir_ / "nimifyd.yml").string(),
                                     "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                     "--storage.state-dir=" + (dir_ / "state").string(),
                                     "--dry-run"};
    args.insert(args.end(), extra.begin(), extra.end());
    nimifyd_.Start(NIMIFYD_PATH, args, dir_ / "nimifyd.log");
    ASSERT_TRUE(WaitFor([&] { return Get(port_, "/-/ready").status == 200; },
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

  // Kill at random points while a sender writes; every silence acknowledged
  // (200) before a kill is there after the restart.
  std::mt19937 rng(42);
  std::vector<std::string> ids;
  for (int cycle = 0; cycle < 5; ++cycle) {
    std::atomic<bool> stop{false};
    const std::uint16_t port = port_;
    std::thread sender([&stop, port] {
      while (!stop.load()) {
        Post(port, "/api/v1/import/prometheus", "up{job=\"x\"} 0\nup{job=\"y\"} 1\n", "text/plain");
      }
    });
    const testing::RawResponse s = Post(
        port_, "/api/v2/silences",
        R"({"matchers":[{"name":"cycle","value":")" + std::to_string(cycle) +
            R"(","isRegex":false}],"startsAt":"2020-01-01T00:00:00Z","endsAt":")" + now +
            R"(","createdBy":"loop","comment":"c"})",
        "application/json");
    if (s.status == 200) ids.push_back(s.body);
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 700));
    nimifyd_.Kill();
    stop.store(true);
    sender.join();
    StartNimifyd();
    const std::string listed = Get(port_, "/api/v2/silences").body;
    for (const std::string& body : ids) {
      const std::string id = body.substr(body.find(':') + 2, 36);
      EXPECT_THAT(listed, HasSubstr(id)) << "cycle " << cycle;
    }
  }
  EXPECT_EQ(ids.size(), 5u);
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
