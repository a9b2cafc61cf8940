// `nimify config routes`: output and exit codes as amtool 0.25 prints them
// (expected texts recorded from /usr/bin/amtool on the same config).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

struct Output {
  std::string out;
  int status = -1;
};

Output RunNimify(const std::string& args) {
  const std::string cmd =
      std::string(NIMIFY_CLI_BINARY) + " config routes " + args + " 2>/dev/null";
  Output r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[1024];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

class ConfigRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("nimify_routes_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    config_ = (dir_ / "am.yml").string();
    std::ofstream(config_) << R"(global: {resolve_timeout: 5m}
route:
  receiver: default
  group_by: [alertname]
  routes:
    - matchers: ['service=~"foo1|foo2"', 'a="x\"y"']
      receiver: x
      continue: true
      routes:
        - match: {severity: critical}
          receiver: xp
    - match_re: {service: "foo.*"}
      receiver: y
    - receiver: z
receivers:
  - name: default
  - name: x
    webhook_configs: [{url: 'http://127.0.0.1:1/'}]
  - name: xp
  - name: y
  - name: z
)";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  std::string config_;
};

TEST_F(ConfigRoutesTest, PrintsReceiversInTreeOrder) {
  Output o =
      RunNimify("test --config.file=" + config_ + " service=foo1 'a=x\\\"y' severity=critical");
  EXPECT_EQ(o.status, 0);
  EXPECT_EQ(o.out, "xp,y\n");
  o = RunNimify("test --config.file " + config_ + " service=bar");
  EXPECT_EQ(o.status, 0);
  EXPECT_EQ(o.out, "z\n");
  o = RunNimify("test --config.file=" + config_);
  EXPECT_EQ(o.out, "z\n");
}

TEST_F(ConfigRoutesTest, VerifyReceiversFailsWithAmtoolsWarning) {
  Output o = RunNimify("test --config.file=" + config_ + " --verify.receivers=x service=foo1");
  EXPECT_EQ(o.status, 1);
  EXPECT_EQ(o.out, "y\nWARNING: Expected receivers did not match resolved receivers.\n");
  o = RunNimify("test --config.file=" + config_ + " --verify.receivers=y service=foo1");
  EXPECT_EQ(o.status, 0);
}

TEST_F(ConfigRoutesTest, TreeOutputMatchesAmtool) {
  Output o = RunNimify("test --tree --config.file=" + config_ +
                       " service=foo1 'a=x\\\"y' severity=critical");
  EXPECT_EQ(o.status, 0);
  EXPECT_EQ(o.out,
            "Matching routes:\n.\n\u2514\u2500\u2500 default-route\n"
            "    \u251c\u2500\u2500 {a=\"x\\\"y\",service=~\"foo1|foo2\"}\n"
            "    \u2502\u00a0\u00a0 \u2514\u2500\u2500 {severity=\"critical\"}  receiver: xp\n"
            "    \u2514\u2500\u2500 {service=~\"^(?:foo.*)$\"}  receiver: y\n\n\nxp,y\n");
  o = RunNimify("show --config.file=" + config_);
  EXPECT_EQ(o.status, 0);
  EXPECT_EQ(o.out,
            "Routing tree:\n.\n\u2514\u2500\u2500 default-route  receiver: default\n"
            "    \u251c\u2500\u2500 {a=\"x\\\"y\",service=~\"foo1|foo2\"}  continue: true  "
            "receiver: x\n"
            "    \u2502\u00a0\u00a0 \u2514\u2500\u2500 {severity=\"critical\"}  receiver: xp\n"
            "    \u251c\u2500\u2500 {service=~\"^(?:foo.*)$\"}  receiver: y\n"
            "    \u2514\u2500\u2500 default-route  receiver: z\n\n");
}

TEST_F(ConfigRoutesTest, BadInputExitsOne) {
  EXPECT_EQ(RunNimify("test --config.file=" + config_ + " 'foo!=bar'").status, 1);
  EXPECT_EQ(RunNimify("test --config.file=" + config_ + " 'foo=\"bar'").status, 1);
  EXPECT_EQ(RunNimify("test --config.file=" + (dir_ / "missing.yml").string() + " a=b").status, 1);
  std::ofstream(dir_ / "bad.yml") << "route:\n  receiver: nobody\nreceivers: [{name: a}]\n";
  Output o = RunNimify("test --config.file=" + (dir_ / "bad.yml").string() + " a=b");
  EXPECT_EQ(o.status, 1);
  EXPECT_EQ(o.out, "");
  EXPECT_EQ(RunNimify("test --bogus-flag").status, 2);
}

}  // namespace
