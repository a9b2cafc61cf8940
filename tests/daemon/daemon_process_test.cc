// nimifyd as a process: start-up errors, the bundled runbook in dry-run,
// SIGHUP reload and graceful SIGTERM.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "daemon/test_http.h"

namespace nimify::daemon {
namespace {

using ::testing::HasSubstr;

struct Child {
  pid_t pid = -1;
  std::filesystem::path log;
};

Child Spawn(const std::vector<std::string>& args, const std::filesystem::path& log) {
  Child c;
  c.log = log;
  c.pid = ::fork();
  if (c.pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> argv;
    std::string path = NIMIFYD_PATH;
    argv.push_back(path.data());
    std::vector<std::string> copy = args;
    for (std::string& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(path.c_str(), argv.data());
    ::_exit(127);
  }
  return c;
}

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The exit status, or -1 if it did not exit within `limit` (then it is killed).
int WaitExit(pid_t pid, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (std::chrono::steady_clock::now() < until) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

class DaemonProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("nimifyd_proc_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(DaemonProcessTest, BadConfigStopsStartUpWithFileLineColumn) {
  const auto cfg = dir_ / "bad.yml";
  std::ofstream(cfg) << "engine:\n  shards: 1\n  ring_capacity: 1000\n";
  Child c = Spawn({"--config.file=" + cfg.string(), "--web.listen-address=127.0.0.1:0"},
                  dir_ / "out.log");
  EXPECT_EQ(WaitExit(c.pid, std::chrono::seconds(20)), 1);
  EXPECT_THAT(ReadAll(c.log), HasSubstr(cfg.string() + ":3:"));
}

TEST_F(DaemonProcessTest, BadRuleFileStopsStartUp) {
  const auto rules = dir_ / "r.yml";
  std::ofstream(rules) << "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: rate(x[5m]\n";
  Child c = Spawn({"--rules.file=" + rules.string(), "--web.listen-address=127.0.0.1:0"},
                  dir_ / "out.log");
  EXPECT_EQ(WaitExit(c.pid, std::chrono::seconds(20)), 1);
  EXPECT_THAT(ReadAll(c.log), HasSubstr(rules.string() + ":5:"));
}

TEST_F(DaemonProcessTest, FlagErrorsHelpAndVersion) {
  Child bad = Spawn({"--no-such-flag"}, dir_ / "bad.log");
  EXPECT_EQ(WaitExit(bad.pid, std::chrono::seconds(20)), 2);
  EXPECT_THAT(ReadAll(bad.log), HasSubstr("unknown flag --no-such-flag"));
  Child help = Spawn({"--help"}, dir_ / "help.log");
  EXPECT_EQ(WaitExit(help.pid, std::chrono::seconds(20)), 0);
  EXPECT_THAT(ReadAll(help.log), HasSubstr("--web.listen-address"));
  Child version = Spawn({"--version"}, dir_ / "version.log");
  EXPECT_EQ(WaitExit(version.pid, std::chrono::seconds(20)), 0);
  EXPECT_THAT(ReadAll(version.log), HasSubstr("nimifyd, version"));
}

// The README's command: the runbook's rules and responses, in dry-run.
TEST_F(DaemonProcessTest, RunbookDryRunReloadOnSighupAndGracefulSigterm) {
  const std::string src = NIMIFY_SOURCE_DIR;
  const auto rules = dir_ / "runbook.rules.yml";
  std::filesystem::copy_file(src + "/rules/runbook.rules.yml", rules);
  Child c = Spawn({"--config.file=" + src + "/rules/runbook.responses.yml",
                   "--rules.file=" + rules.string(), "--dry-run",
                   "--web.listen-address=127.0.0.1:0", "--storage.state-dir=" + (dir_ / "state").string()},
                  dir_ / "out.log");
  std::uint16_t port = 0;
  const std::regex port_re("port=([0-9]+)");
  for (int i = 0; i < 300 && port == 0; ++i) {
    std::smatch m;
    const std::string text = ReadAll(c.log);
    if (std::regex_search(text, m, port_re)) port = static_cast<std::uint16_t>(std::stoi(m[1]));
    if (port == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_NE(port, 0) << ReadAll(c.log);
  EXPECT_THAT(ReadAll(c.log), HasSubstr("responses=on dry_run=true"));
  EXPECT_EQ(testing::Get(port, "/-/ready").status, 200);
  EXPECT_THAT(testing::Get(port, "/api/v1/rules").body, HasSubstr("\"name\":\"ServiceDown\""));

  // SIGHUP with a broken rule file: refused, logged, still serving.
  std::ofstream(rules, std::ios::trunc) << "groups: [\n";
  ::kill(c.pid, SIGHUP);
  bool refused = false;
  for (int i = 0; i < 200 && !refused; ++i) {
    refused = ReadAll(c.log).find("reload refused") != std::string::npos;
    if (!refused) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(refused) << ReadAll(c.log);
  EXPECT_THAT(testing::Get(port, "/metrics").body,
              HasSubstr("nimify_config_last_reload_successful 0"));
  EXPECT_THAT(testing::Get(port, "/api/v1/rules").body, HasSubstr("\"name\":\"ServiceDown\""));

  ::kill(c.pid, SIGTERM);
  EXPECT_EQ(WaitExit(c.pid, std::chrono::seconds(40)), 0);
  EXPECT_THAT(ReadAll(c.log), HasSubstr("msg=stopped status=ok"));
}

}  // namespace
}  // namespace nimify::daemon
