#include "actions/exec_handler.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "actions/builtin_handlers.h"
#include "actions/log_handler.h"
#include "nimify/actions.h"
#include "nimify/config.h"

namespace nimify::actions {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

const fs::path kTestData = NIMIFY_ACTIONS_TESTDATA;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);) out.push_back(line);
  return out;
}

// One step argument: the template as written and what the responder rendered.
struct Arg {
  std::string raw;
  std::string rendered;
};
Arg Lit(std::string s) { return Arg{s, s}; }
Arg Tpl(std::string raw, std::string rendered) { return Arg{std::move(raw), std::move(rendered)}; }

// A request as the responder builds it: the rendered `with:` plus the
// unrendered one under "__template".
struct Step {
  std::vector<Arg> args;
  std::vector<std::pair<std::string, std::string>> extra;  // stdin, timeout, allow_pattern, ...
  std::optional<std::pair<std::string, std::string>> stdin_raw_rendered;
  bool with_template = true;
  milliseconds timeout{20000};

  ActionRequest Build() const {
    std::vector<ConfigNode> rendered_args;
    std::vector<ConfigNode> raw_args;
    for (const Arg& a : args) {
      rendered_args.push_back(ConfigNode::Scalar(a.rendered));
      raw_args.push_back(ConfigNode::Scalar(a.raw));
    }
    std::vector<ConfigNode::Entry> rendered{{"args", ConfigNode::Sequence(rendered_args)}};
    std::vector<ConfigNode::Entry> raw{{"args", ConfigNode::Sequence(raw_args)}};
    for (const auto& [k, v] : extra) {
      rendered.emplace_back(k, ConfigNode::Scalar(v));
      raw.emplace_back(k, ConfigNode::Scalar(v));
    }
    if (stdin_raw_rendered) {
      rendered.emplace_back("stdin", ConfigNode::Scalar(stdin_raw_rendered->second));
      raw.emplace_back("stdin", ConfigNode::Scalar(stdin_raw_rendered->first));
    }
    if (with_template) rendered.emplace_back("__template", ConfigNode::Map(raw));
    ActionRequest r;
    r.trigger = ActionTrigger::kStep;
    r.response = "service-down";
    r.step = "get-pods";
    r.params = ConfigNode::Map(rendered);
    r.timeout = timeout;
    return r;
  }
};

ActionResult RunToCompletion(ActionHandler& handler, const ActionRequest& request) {
  auto promise = std::make_shared<std::promise<ActionResult>>();
  std::future<ActionResult> future = promise->get_future();
  handler.Execute(request, [promise](ActionResult r) { promise->set_value(std::move(r)); });
  if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    ADD_FAILURE() << "handler did not finish";
    return ActionResult::Permanent("did not finish");
  }
  return future.get();
}

class ExecHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nimify-exec-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = fs::canonical(tmpl);
    bin_ = dir_ / "bin";
    fs::create_directory(bin_);
    fs::create_symlink(kTestData / "fake-kubectl", bin_ / "kubectl");
    fs::create_symlink(kTestData / "fake-psql", bin_ / "psql");
    record_ = dir_ / "record.jsonl";
    const char* path = std::getenv("PATH");
    old_path_ = path != nullptr ? path : "";
    // The handler resolves `command` on PATH at load time, as the daemon would.
    ASSERT_EQ(setenv("PATH", (bin_.string() + ":" + old_path_).c_str(), 1), 0);
  }
  void TearDown() override {
    setenv("PATH", old_path_.c_str(), 1);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  Result<std::shared_ptr<ExecHandler>> Load(const std::string& yaml, bool dry_run = false) {
    Result<ConfigNode> node = ConfigNode::ParseYaml(yaml, "handlers.yml");
    if (!node.ok()) return node.status();
    HandlerContext context;
    context.name = "kubectl";
    context.type = "exec";
    context.dry_run = dry_run;
    context.log = [this](LogLevel level, std::string_view msg) {
      if (level == LogLevel::kWarn) warnings_.emplace_back(msg);
    };
    return ExecHandler::Create(*node, context);
  }

  // A kubectl handler recording into record_, with extra config lines.
  std::shared_ptr<ExecHandler> Kubectl(const std::string& extra = "") {
    Result<std::shared_ptr<ExecHandler>> h =
        Load("command: kubectl\nset_env: {NIMIFY_RECORD_FILE: '" + record_.string() + "'" +
             extra_env_ + "}\n" + extra);
    EXPECT_TRUE(h.ok()) << h.status().ToString();
    return h.ok() ? *h : nullptr;
  }

  std::vector<std::string> Recorded() { return Lines(ReadFile(record_)); }

  fs::path dir_;
  fs::path bin_;
  fs::path record_;
  std::string old_path_;
  std::string extra_env_;
  std::vector<std::string> warnings_;
};

// ---- What reaches the program ----------------------------------------------------

TEST_F(ExecHandlerTest, ArgvReachesTheProgramExactlyAsRendered) {
  auto handler = Kubectl();
  ASSERT_NE(handler, nullptr);
  Step step{{Lit("get"), Lit("pods"), Lit("-n"), Tpl("{{ $labels.namespace }}", "prod-1"),
             Lit("-o"), Lit("wide")}};
  const ActionRequest request = step.Build();
  Result<std::string> rendered = handler->Render(request);
  ASSERT_TRUE(rendered.ok()) << rendered.status().ToString();
  EXPECT_EQ(*rendered, "kubectl get pods -n prod-1 -o wide");
  ActionResult r = RunToCompletion(*handler, request);
  EXPECT_EQ(r.outcome, ActionOutcome::kSuccess) << r.summary;
  EXPECT_EQ(r.summary, "exit 0");
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_NE(r.output.find("nimify-api-7d9f8b6c5d-abcde"), std::string::npos);
  EXPECT_EQ(Recorded(),
            std::vector<std::string>{R"(["get", "pods", "-n", "prod-1", "-o", "wide"])"});
}

TEST_F(ExecHandlerTest, LiteralArgumentsAreNeverInterpretedByAShell) {
  auto handler = Kubectl();
  ASSERT_NE(handler, nullptr);
  // Literal (untemplated) arguments are the config author's: passed as they are.
  Step step{{Lit("exec"), Lit("pod-1"), Lit("--"), Lit("echo"), Lit("$(id)"), Lit(";"), Lit("`id`"),
             Lit("a b")}};
  ActionResult r = RunToCompletion(*handler, step.Build());
  EXPECT_EQ(r.outcome, ActionOutcome::kSuccess) << r.summary;
  EXPECT_EQ(Recorded(), std::vector<std::string>{
                            R"j(["exec", "pod-1", "--", "echo", "$(id)", ";", "`id`", "a b"])j"});
  Result<std::string> display = handler->Render(step.Build());
  ASSERT_TRUE(display.ok());
  EXPECT_EQ(*display, "kubectl exec pod-1 -- echo '$(id)' ';' '`id`' 'a b'");
}

TEST_F(ExecHandlerTest, ShellMetacharactersFromLabelsAreRefusedByDefault) {
  auto handler = Kubectl();
  ASSERT_NE(handler, nullptr);
  for (const std::string evil : {"x; rm -rf /", "$(id)", "`id`", "a|b", "a&&b", "a b", "x'y"}) {
    Step step{{Lit("get"), Lit("pods"), Lit("-n"), Tpl("{{ $labels.namespace }}", evil)}};
    Result<std::string> rendered = handler->Render(step.Build());
    ASSERT_FALSE(rendered.ok()) << evil;
    EXPECT_EQ(rendered.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(rendered.status().message().find("args[3]"), std::string::npos)
        << rendered.status().message();
    ActionResult r = RunToCompletion(*handler, step.Build());
    EXPECT_EQ(r.outcome, ActionOutcome::kPermanentFailure);
  }
  EXPECT_FALSE(fs::exists(record_)) << "nothing may run: " << ReadFile(record_);
}

TEST_F(ExecHandlerTest, AllowPatternLetsAStepAcceptMoreButStillWithoutAShell) {
  auto handler = Kubectl();
  ASSERT_NE(handler, nullptr);
  Step step{{Lit("exec"), Lit("pod-1"), Lit("--"), Lit("echo"),
             Tpl("{{ $labels.comment }}", "x; rm -rf /")},
            {{"allow_pattern", "[ -~]*"}}};
  ASSERT_TRUE(handler->Render(step.Build()).ok());
  ActionResult r = RunToCompletion(*handler, step.Build());
  EXPECT_EQ(r.outcome, ActionOutcome::kSuccess) << r.summary;
  EXPECT_EQ(Recorded(),
            std::vector<std::string>{R"(["exec", "pod-1", "--", "echo", "x; rm -rf /"])"});
}

TEST_F(ExecHandlerTest, OptionInjectionIsRefused) {
  auto handler = Kubectl();
  ASSERT_NE(handler, nullptr);
  Step step{{Lit("get"), Lit("pods"), Lit("-n"),
             Tpl("{{ $labels.namespace }}", "--kubeconfig=/tmp/evil")}};
  Result<std::string> rendered = handler->Render(step.Build());
  ASSERT_FALSE(rendered.ok());
  EXPECT_NE(rendered.status().message().find("option injection"), std::string::npos)
      << rendered.status().message();
  ActionResult r = RunToCompletion(*handler, step.Build());
  EXPECT_EQ(r.outcome, ActionOutcome::kPermanentFailure);
  EXPECT_FALSE(fs::exists(record_));

  // A template that itself starts with '-' may render an option.
  Step flag{
      {Lit("get"), Lit("pods"), Tpl("--selector=app={{ $labels.app }}", "--selector=app=api")}};
  EXPECT_TRUE(handler->Render(flag.Build()).ok());
}

TEST_F(ExecHandlerTest, PathTraversalAndAbsolutePathsAreRefused) {
  auto handler = Kubectl();
  ASSERT_NE(handler, nullptr);
  for (const auto& [raw, value] : std::vector<std::pair<std::string, std::string>>{
           {"{{ $labels.pod }}", "../../etc/passwd"},
           {"pods/{{ $labels.pod }}", "pods/../../secret"},
           {"{{ $labels.pod }}", ".."},
           {"{{ $labels.pod }}", "/etc/passwd"},
           {"--from-file={{ $labels.pod }}", "--from-file=/etc/shadow"}}) {
    Step step{{Lit("describe"), Tpl(raw, value)}};
    Result<std::string> rendered = handler->Render(step.Build());
    EXPECT_FALSE(rendered.ok()) << raw << " -> " << value;
  }
  // An absolute path the template itself starts with is the author's.
  Step log_path{{Lit("describe"), Tpl("/var/log/{{ $labels.pod }}.log", "/var/log/api.log")}};
  EXPECT_TRUE(handler->Render(log_path.Build()).ok());
  EXPECT_FALSE(fs::exists(record_));
}

TEST_F(ExecHandlerTest, NulAndLineBreaksAreRefused) {
  auto handler = Kubectl();
  ASSERT_NE(handler, nullptr);
  for (const std::string& bad :
       {std::string("a\nb"), std::string("a\0b", 3), std::string("a\rb")}) {
    Step step{{Lit("get"), Lit("pods"), Lit("-n"), Tpl("{{ $labels.namespace }}", bad)}};
    Result<std::string> rendered = handler->Render(step.Build());
    ASSERT_FALSE(rendered.ok());
    // The message shows the value escaped, never raw control bytes.
    EXPECT_EQ(rendered.status().message().find('\n'), std::string_view::npos);
  }
}

TEST_F(ExecHandlerTest, AMissingLabelRenderingEmptyIsRefused) {
  auto handler = Kubectl();
  ASSERT_NE(handler, nullptr);
  Step step{{Lit("delete"), Lit("pod"), Tpl("{{ $labels.pod }}", ""), Lit("-n"), Lit("prod")}};
  Result<std::string> rendered = handler->Render(step.Build());
  ASSERT_FALSE(rendered.ok());
  EXPECT_NE(rendered.status().message().find("rendered empty"), std::string::npos);
}

TEST_F(ExecHandlerTest, WithoutTheTemplateEveryArgumentIsCheckedStrictly) {
  auto handler = Kubectl();
  ASSERT_NE(handler, nullptr);
  Step step{{Lit("get"), Lit("pods"), Lit("-n"), Lit("prod")}};
  step.with_template = false;
  // "-n" could have come from a label: refused.
  EXPECT_FALSE(handler->Render(step.Build()).ok());
  Step plain{{Lit("get"), Lit("pods")}};
  plain.with_template = false;
  EXPECT_TRUE(handler->Render(plain.Build()).ok());
}

TEST_F(ExecHandlerTest, ArgPatternsApplyByLabelNameAndByIndex) {
  auto handler = Kubectl(
      "arg_patterns:\n"
      "  deployment: '[a-z][a-z0-9-]*'\n"
      "  '4': '[0-9]+'\n");
  ASSERT_NE(handler, nullptr);
  auto render = [&](const std::string& deployment, const std::string& replicas) {
    Step step{{Lit("scale"), Tpl("deployment/{{ $labels.deployment }}", "deployment/" + deployment),
               Lit("-n"), Lit("prod"), Tpl("--replicas={{ .Labels.replicas }}", replicas)}};
    return handler->Render(step.Build());
  };
  EXPECT_TRUE(render("nimify-api", "3").ok());
  // The label's own value is checked, not the whole argument.
  Result<std::string> upper = render("Nimify", "3");
  ASSERT_FALSE(upper.ok());
  EXPECT_NE(upper.status().message().find("arg_patterns.deployment"), std::string::npos)
      << upper.status().message();
  Result<std::string> by_index = render("api", "--replicas=3");
  ASSERT_FALSE(by_index.ok());
  EXPECT_NE(by_index.status().message().find("arg_patterns.4"), std::string::npos)
      << by_index.status().message();
}

TEST_F(ExecHandlerTest, AllowedSubcommandsAreEnforcedAtLoadAndRenderTime) {
  auto handler = Kubectl("allowed_subcommands: [get, describe, 'rollout history']\n");
  ASSERT_NE(handler, nullptr);
  Result<ConfigNode> params = ConfigNode::ParseYaml("args: [delete, pod, x]\n", "responses.yml");
  ASSERT_TRUE(params.ok());
  Status load = handler->ValidateParams(*params);
  ASSERT_FALSE(load.ok());
  EXPECT_EQ(load.message().substr(0, 18), "responses.yml:1:7:") << load.message();
  EXPECT_NE(load.message().find("allowed_subcommands"), std::string::npos);

  Result<ConfigNode> history = ConfigNode::ParseYaml("args: [rollout, history, x]\n", "r.yml");
  ASSERT_TRUE(history.ok());
  EXPECT_TRUE(handler->ValidateParams(*history).ok());
  Result<ConfigNode> undo = ConfigNode::ParseYaml("args: [rollout, undo, x]\n", "r.yml");
  ASSERT_TRUE(undo.ok());
  EXPECT_FALSE(handler->ValidateParams(*undo).ok());

  // A templated subcommand is checked once rendered.
  Step step{{Tpl("{{ $labels.verb }}", "delete"), Lit("pod"), Lit("x")}};
  EXPECT_FALSE(handler->Render(step.Build()).ok());
  Step ok{{Tpl("{{ $labels.verb }}", "get"), Lit("pod"), Lit("x")}};
  EXPECT_TRUE(handler->Render(ok.Build()).ok());
}

TEST_F(ExecHandlerTest, ValidateParamsReportsPositions) {
  auto handler = Kubectl();
  ASSERT_NE(handler, nullptr);
  Result<ConfigNode> typo = ConfigNode::ParseYaml("args: [get]\nargz: [x]\n", "responses.yml");
  ASSERT_TRUE(typo.ok());
  Status s = handler->ValidateParams(*typo);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message().substr(0, 16), "responses.yml:2:") << s.message();
  EXPECT_NE(s.message().find("argz"), std::string::npos);

  Result<ConfigNode> bad_pattern =
      ConfigNode::ParseYaml("args: [get]\nallow_pattern: '(['\n", "responses.yml");
  ASSERT_TRUE(bad_pattern.ok());
  EXPECT_FALSE(handler->ValidateParams(*bad_pattern).ok());
  Result<ConfigNode> templated_timeout =
      ConfigNode::ParseYaml("args: [get]\ntimeout: '{{ $labels.t }}'\n", "responses.yml");
  ASSERT_TRUE(templated_timeout.ok());
  EXPECT_FALSE(handler->ValidateParams(*templated_timeout).ok());
  Result<ConfigNode> good = ConfigNode::ParseYaml(
      "args: [logs, -f, '{{ $labels.pod }}']\ntimeout: 10s\nfollow_limit: 4096\n", "r.yml");
  ASSERT_TRUE(good.ok());
  EXPECT_TRUE(handler->ValidateParams(*good).ok());
}

// ---- Load-time errors ----------------------------------------------------------------

TEST_F(ExecHandlerTest, MissingBinaryIsALoadErrorWithPosition) {
  Result<std::shared_ptr<ExecHandler>> h = Load("env: [HOME]\ncommand: no-such-kubectl-xyz\n");
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(h.status().message().substr(0, 17), "handlers.yml:2:10") << h.status().message();
  EXPECT_NE(h.status().message().find("not found on PATH"), std::string::npos);
}

TEST_F(ExecHandlerTest, MissingBinaryOfADryRunHandlerIsAWarningAndResolvedWhenRun) {
  Result<std::shared_ptr<ExecHandler>> h =
      Load("command: late-kubectl\nset_env: {NIMIFY_RECORD_FILE: '" + record_.string() + "'}\n",
           /*dry_run=*/true);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_EQ(warnings_[0].substr(0, 17), "handlers.yml:1:10") << warnings_[0];
  EXPECT_NE(warnings_[0].find("not found on PATH"), std::string::npos) << warnings_[0];
  Step step{{Lit("get"), Lit("pods")}};
  // Planning needs no program.
  Result<std::string> rendered = (*h)->Render(step.Build());
  ASSERT_TRUE(rendered.ok()) << rendered.status().ToString();
  EXPECT_EQ(*rendered, "late-kubectl get pods");
  // A run while it is still missing fails permanently, saying why.
  ActionResult missing = RunToCompletion(**h, step.Build());
  EXPECT_EQ(missing.outcome, ActionOutcome::kPermanentFailure);
  EXPECT_NE(missing.summary.find("not found on PATH"), std::string::npos) << missing.summary;
  // Installed later on the load-time PATH: resolved when a step actually runs.
  fs::create_symlink(kTestData / "fake-kubectl", bin_ / "late-kubectl");
  ActionResult ran = RunToCompletion(**h, step.Build());
  EXPECT_EQ(ran.outcome, ActionOutcome::kSuccess) << ran.summary;
  EXPECT_EQ(Recorded(), std::vector<std::string>{R"(["get", "pods"])"});
}

TEST_F(ExecHandlerTest, UnknownConfigKeysAreLoadErrorsWithPosition) {
  Result<std::shared_ptr<ExecHandler>> h = Load("command: kubectl\ntimout: 5s\n");
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().message().substr(0, 15), "handlers.yml:2:") << h.status().message();
  EXPECT_NE(h.status().message().find("timout"), std::string::npos);

  EXPECT_FALSE(Load("command: kubectl\nworkdir: /nonexistent/dir\n").ok());
  EXPECT_FALSE(Load("command: kubectl\nmax_output: 0\n").ok());
  EXPECT_FALSE(Load("command: kubectl\nenv: ['BAD=NAME']\n").ok());
  EXPECT_FALSE(Load("command: kubectl\narg_patterns: {ns: '(['}\n").ok());
  EXPECT_FALSE(Load("env: [HOME]\n").ok());  // no command
}

// ---- Execution -------------------------------------------------------------------------

TEST_F(ExecHandlerTest, CannedOutputAndOomKilledPod) {
  extra_env_ = ", FAKE_OOM: '1'";
  auto handler = Kubectl();
  ASSERT_NE(handler, nullptr);
  Step step{{Lit("get"), Lit("pods"), Lit("-n"), Tpl("{{ $labels.namespace }}", "prod")}};
  ActionResult r = RunToCompletion(*handler, step.Build());
  EXPECT_EQ(r.outcome, ActionOutcome::kSuccess);
  EXPECT_NE(r.output.find("OOMKilled"), std::string::npos) << r.output;

  Step history{{Lit("rollout"), Lit("history"),
                Tpl("deployment/{{ $labels.deployment }}", "deployment/nimify-api")}};
  ActionResult h = RunToCompletion(*handler, history.Build());
  EXPECT_NE(h.output.find("REVISION"), std::string::npos) << h.output;
}

TEST_F(ExecHandlerTest, NonzeroExitIsAPermanentFailure) {
  extra_env_ = ", FAKE_EXIT: '3'";
  auto handler = Kubectl();
  ASSERT_NE(handler, nullptr);
  Step step{{Lit("rollout"), Lit("undo"), Lit("deployment/nimify-api")}};
  ActionResult r = RunToCompletion(*handler, step.Build());
  EXPECT_EQ(r.outcome, ActionOutcome::kPermanentFailure);
  EXPECT_EQ(r.exit_status, 3);
  EXPECT_EQ(r.summary, "exit 3");
  EXPECT_NE(r.output.find("rolled back"), std::string::npos);
}

TEST_F(ExecHandlerTest, TimeoutKillsTheChildAndItsGrandchildren) {
  Result<std::shared_ptr<ExecHandler>> h = Load("command: /bin/sh\nkill_grace: 1s\n");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  Step step{{Lit("-c"), Lit("sleep 100 & echo $!; sleep 100")}};
  step.timeout = milliseconds(300);
  ActionResult r = RunToCompletion(**h, step.Build());
  EXPECT_EQ(r.outcome, ActionOutcome::kRetryableFailure);
  EXPECT_EQ(r.summary, "killed by SIGTERM after timeout 300ms");
  EXPECT_EQ(r.exit_status, 128 + SIGTERM);
  const pid_t grandchild = static_cast<pid_t>(std::stol(r.output));
  bool gone = false;
  for (int i = 0; i < 250 && !gone; ++i) {
    std::ifstream stat("/proc/" + std::to_string(grandchild) + "/stat");
    std::string line;
    if (!stat || !std::getline(stat, line) || line.find(") Z") != std::string::npos) {
      gone = true;
    } else {
      std::this_thread::sleep_for(milliseconds(20));
    }
  }
  EXPECT_TRUE(gone) << "grandchild " << grandchild << " survived the timeout";
}

TEST_F(ExecHandlerTest, StepTimeoutShortensTheAttemptTimeout) {
  Result<std::shared_ptr<ExecHandler>> h = Load("command: /bin/sleep\nkill_grace: 0s\n");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  Step step{{Lit("100")}, {{"timeout", "200ms"}}};
  step.timeout = milliseconds(20000);
  ActionResult r = RunToCompletion(**h, step.Build());
  EXPECT_EQ(r.outcome, ActionOutcome::kRetryableFailure);
  EXPECT_EQ(r.summary, "killed by SIGTERM after timeout 200ms");
}

TEST_F(ExecHandlerTest, BoundedFollowSucceedsWithTheExcerpt) {
  auto handler = Kubectl("max_output: 65536\n");
  ASSERT_NE(handler, nullptr);
  Step by_bytes{{Lit("logs"), Lit("-f"), Tpl("{{ $labels.pod }}", "api-1")},
                {{"follow_limit", "200"}}};
  ActionResult r = RunToCompletion(*handler, by_bytes.Build());
  EXPECT_EQ(r.outcome, ActionOutcome::kSuccess) << r.summary;
  EXPECT_EQ(r.summary, "stopped after follow_limit 200 bytes");
  EXPECT_EQ(r.output.size(), 200u);
  EXPECT_EQ(r.output.substr(0, 27), "log line 0: request served\n");

  Step by_time{{Lit("logs"), Lit("-f"), Tpl("{{ $labels.pod }}", "api-1")},
               {{"follow_limit", "100000000"}, {"timeout", "500ms"}}};
  ActionResult t = RunToCompletion(*handler, by_time.Build());
  EXPECT_EQ(t.outcome, ActionOutcome::kSuccess) << t.summary;
  EXPECT_EQ(t.summary, "follow stopped after timeout 500ms");
  EXPECT_NE(t.output.find("log line 0"), std::string::npos);
}

TEST_F(ExecHandlerTest, OutputIsCappedAndMarked) {
  Result<std::shared_ptr<ExecHandler>> h = Load("command: /bin/sh\nmax_output: 100\n");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  Step step{{Lit("-c"), Lit("head -c 5000 /dev/zero | tr '\\0' a")}};
  ActionResult r = RunToCompletion(**h, step.Build());
  EXPECT_EQ(r.outcome, ActionOutcome::kSuccess) << r.summary << r.output;
  EXPECT_EQ(r.output, std::string(100, 'a') + "\n[output truncated: 4900 bytes dropped]");
}

TEST_F(ExecHandlerTest, OnlyAllowListedEnvironmentReachesTheChild) {
  ASSERT_EQ(setenv("NIMIFY_TEST_VISIBLE", "yes", 1), 0);
  ASSERT_EQ(setenv("NIMIFY_TEST_SECRET", "token", 1), 0);
  Result<std::shared_ptr<ExecHandler>> h = Load(
      "command: /usr/bin/env\nenv: [NIMIFY_TEST_VISIBLE, NIMIFY_TEST_UNSET]\n"
      "set_env: {FIXED: '1'}\n");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ActionResult r = RunToCompletion(**h, Step{}.Build());
  EXPECT_EQ(r.outcome, ActionOutcome::kSuccess);
  EXPECT_EQ(r.output, "NIMIFY_TEST_VISIBLE=yes\nFIXED=1\n");
  EXPECT_EQ(r.output.find("SECRET"), std::string::npos);
  EXPECT_EQ(r.output.find("PATH="), std::string::npos);
}

TEST_F(ExecHandlerTest, RunsInTheWorkdir) {
  Result<std::shared_ptr<ExecHandler>> h =
      Load("command: /bin/pwd\nworkdir: '" + dir_.string() + "'\n");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ActionResult r = RunToCompletion(**h, Step{}.Build());
  EXPECT_EQ(r.output, dir_.string() + "\n");
}

TEST_F(ExecHandlerTest, StdinReachesTheProgram) {
  Result<std::shared_ptr<ExecHandler>> h =
      Load("command: psql\nset_env: {NIMIFY_RECORD_FILE: '" + record_.string() + "'}\n");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  Step step{{Lit("-X"), Lit("-d"), Tpl("{{ $labels.database }}", "orders")}};
  step.stdin_raw_rendered = {
      "SELECT pid, query FROM pg_stat_activity WHERE datname = '{{ $labels.database }}';",
      "SELECT pid, query FROM pg_stat_activity WHERE datname = 'orders';"};
  ActionResult r = RunToCompletion(**h, step.Build());
  EXPECT_EQ(r.outcome, ActionOutcome::kSuccess) << r.summary;
  EXPECT_NE(r.output.find("(2 rows)"), std::string::npos) << r.output;
  const std::vector<std::string> recorded = Recorded();
  ASSERT_EQ(recorded.size(), 2u);
  EXPECT_EQ(recorded[0], R"(["-X", "-d", "orders"])");
  EXPECT_EQ(recorded[1],
            R"({"stdin": "SELECT pid, query FROM pg_stat_activity WHERE datname = 'orders';"})");

  // A label value that tries SQL injection through stdin is refused.
  step.stdin_raw_rendered->second =
      "SELECT pid, query FROM pg_stat_activity WHERE datname = 'x'; DROP TABLE orders; --';";
  EXPECT_FALSE((*h)->Render(step.Build()).ok());
}

TEST_F(ExecHandlerTest, ABinaryThatDisappearedIsAPermanentSpawnFailure) {
  const fs::path copy = dir_ / "vanishing";
  fs::copy_file("/bin/true", copy);
  Result<std::shared_ptr<ExecHandler>> h = Load("command: '" + copy.string() + "'\n");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  fs::remove(copy);
  ActionResult r = RunToCompletion(**h, Step{}.Build());
  EXPECT_EQ(r.outcome, ActionOutcome::kPermanentFailure);
  EXPECT_NE(r.summary.find("spawn failed"), std::string::npos) << r.summary;
}

TEST_F(ExecHandlerTest, EightConcurrentExecutionsAllComplete) {
  extra_env_ = ", FAKE_SLEEP: '0.2'";
  auto handler = Kubectl();
  ASSERT_NE(handler, nullptr);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<ActionResult> results;
  for (int i = 0; i < 8; ++i) {
    Step step{{Lit("get"), Lit("pods"), Lit("-n"),
               Tpl("{{ $labels.namespace }}", "ns-" + std::to_string(i))}};
    handler->Execute(step.Build(), [&](ActionResult r) {
      std::lock_guard lock(mu);
      results.push_back(std::move(r));
      cv.notify_all();
    });
  }
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return results.size() == 8; }));
  }
  for (const ActionResult& r : results) EXPECT_EQ(r.outcome, ActionOutcome::kSuccess) << r.summary;
  std::vector<std::string> recorded = Recorded();
  std::sort(recorded.begin(), recorded.end());
  ASSERT_EQ(recorded.size(), 8u);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(recorded[static_cast<std::size_t>(i)],
              R"(["get", "pods", "-n", "ns-)" + std::to_string(i) + R"("])");
  }
}

TEST_F(ExecHandlerTest, ExecuteReturnsBeforeTheChildExits) {
  Result<std::shared_ptr<ExecHandler>> h = Load("command: /bin/sleep\n");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  auto done_called = std::make_shared<std::atomic<bool>>(false);
  auto promise = std::make_shared<std::promise<ActionResult>>();
  (*h)->Execute(Step{{Lit("1")}}.Build(), [done_called, promise](ActionResult r) {
    done_called->store(true);
    promise->set_value(std::move(r));
  });
  // Behavioural: Execute handed the child off instead of waiting for it.
  EXPECT_FALSE(done_called->load());
  std::future<ActionResult> f = promise->get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_EQ(f.get().summary, "exit 0");
}

TEST_F(ExecHandlerTest, ShutdownFinishesCallsInFlight) {
  Result<std::shared_ptr<ExecHandler>> h = Load("command: /bin/sleep\n");
  ASSERT_TRUE(h.ok());
  auto promise = std::make_shared<std::promise<ActionResult>>();
  (*h)->Execute(Step{{Lit("100")}}.Build(),
                [promise](ActionResult r) { promise->set_value(std::move(r)); });
  std::this_thread::sleep_for(milliseconds(50));
  (*h)->Shutdown();
  std::future<ActionResult> f = promise->get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(f.get().outcome, ActionOutcome::kRetryableFailure);
}

TEST_F(ExecHandlerTest, RegistersAsExecAndTakesStepsOnly) {
  ActionHandlerRegistry registry;
  ASSERT_TRUE(RegisterExecHandler(registry).ok());
  ASSERT_TRUE(RegisterLogHandler(registry).ok());
  EXPECT_EQ(RegisterExecHandler(registry).code(), StatusCode::kAlreadyExists);
  Result<ActionHandlerFactory> factory = registry.Find("exec");
  ASSERT_TRUE(factory.ok());
  Result<ConfigNode> config = ConfigNode::ParseYaml("command: kubectl\n", "h.yml");
  ASSERT_TRUE(config.ok());
  HandlerContext context;
  context.name = "kubectl";
  context.log = [](LogLevel, std::string_view) {};
  Result<std::shared_ptr<ActionHandler>> handler = (*factory)(*config, context);
  ASSERT_TRUE(handler.ok()) << handler.status().ToString();
  EXPECT_TRUE((*handler)->Accepts(ActionTrigger::kStep));
  EXPECT_FALSE((*handler)->Accepts(ActionTrigger::kNotification));
  EXPECT_FALSE((*handler)->Accepts(ActionTrigger::kIncidentUpdate));
}

TEST(ShellQuoteTest, QuotesForDisplay) {
  EXPECT_EQ(ShellQuote("plain-arg_1.2:3/x=y@z"), "plain-arg_1.2:3/x=y@z");
  EXPECT_EQ(ShellQuote(""), "''");
  EXPECT_EQ(ShellQuote("a b"), "'a b'");
  EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
  EXPECT_EQ(ShellQuote(R"({"spec":{"replicas":3}})"), R"('{"spec":{"replicas":3}}')");
}

// ---- log handler ------------------------------------------------------------------------

class LogHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nimify-log-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  Result<std::shared_ptr<LogHandler>> Load(const std::string& yaml) {
    Result<ConfigNode> node = ConfigNode::ParseYaml(yaml, "handlers.yml");
    if (!node.ok()) return node.status();
    HandlerContext context;
    context.name = "audit-log";
    context.type = "log";
    context.log = [this](LogLevel level, std::string_view line) {
      std::lock_guard lock(mu_);
      logged_.emplace_back(level, std::string(line));
    };
    return LogHandler::Create(*node, context);
  }

  static ActionRequest StepRequest() {
    ActionRequest r;
    r.trigger = ActionTrigger::kStep;
    r.receiver = "sre-critical";
    r.response = "service-down";
    r.step = "note";
    r.event = "firing";
    r.now_ms = 1'700'000'000'123;
    AlertSnapshot alert;
    alert.fingerprint = "0123456789abcdef";
    alert.labels = {{"alertname", "ServiceDown"}, {"job", "nimify-api"}, {"severity", "critical"}};
    r.alerts.push_back(alert);
    r.params = ConfigNode::Map(
        {{"message", ConfigNode::Scalar("service is down, say \"hi\"")},
         {"fields", ConfigNode::Map({{"runbook", ConfigNode::Scalar("https://x/rb#down")}})}});
    return r;
  }

  fs::path dir_;
  std::mutex mu_;
  std::vector<std::pair<LogLevel, std::string>> logged_;
};

TEST_F(LogHandlerTest, RendersOneLogfmtLine) {
  Result<std::shared_ptr<LogHandler>> h = Load("level: warn\n");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  Result<std::string> line = (*h)->Render(StepRequest());
  ASSERT_TRUE(line.ok());
  EXPECT_EQ(*line,
            "ts=2023-11-14T22:13:20.123Z level=warn handler=audit-log trigger=step event=firing "
            "receiver=sre-critical response=service-down step=note alertname=ServiceDown "
            "fingerprint=0123456789abcdef status=firing severity=critical "
            "message=\"service is down, say \\\"hi\\\"\" runbook=https://x/rb#down");
  for (ActionTrigger t :
       {ActionTrigger::kStep, ActionTrigger::kNotification, ActionTrigger::kIncidentUpdate}) {
    EXPECT_TRUE((*h)->Accepts(t));
  }
}

TEST_F(LogHandlerTest, ExecuteLogsAndAppendsToTheFile) {
  const fs::path file = dir_ / "responses.log";
  Result<std::shared_ptr<LogHandler>> h = Load("file: '" + file.string() + "'\n");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ActionRequest notification;
  notification.trigger = ActionTrigger::kNotification;
  notification.receiver = "default";
  notification.group_key = "{}:{alertname=\"ServiceDown\"}";
  notification.alerts.resize(2);
  notification.alerts[1].state = AlertState::kResolved;
  for (const ActionRequest& request : {StepRequest(), notification}) {
    auto promise = std::make_shared<std::promise<ActionResult>>();
    (*h)->Execute(request, [promise](ActionResult r) { promise->set_value(std::move(r)); });
    ActionResult r = promise->get_future().get();
    EXPECT_EQ(r.outcome, ActionOutcome::kSuccess) << r.summary;
  }
  const std::vector<std::string> lines = Lines(ReadFile(file));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], (*h)->Render(StepRequest()).value());
  EXPECT_EQ(lines[1],
            "level=info handler=audit-log trigger=notification receiver=default "
            "group_key=\"{}:{alertname=\\\"ServiceDown\\\"}\" firing=1 resolved=1");
  std::lock_guard lock(mu_);
  ASSERT_EQ(logged_.size(), 2u);
  EXPECT_EQ(logged_[0].first, LogLevel::kInfo);
  EXPECT_EQ(logged_[0].second, lines[0]);
}

TEST_F(LogHandlerTest, ConfigErrorsCarryPositions) {
  Result<std::shared_ptr<LogHandler>> typo = Load("file: /tmp/x.log\nlevl: info\n");
  ASSERT_FALSE(typo.ok());
  EXPECT_EQ(typo.status().message().substr(0, 15), "handlers.yml:2:") << typo.status().message();
  Result<std::shared_ptr<LogHandler>> level = Load("level: loud\n");
  ASSERT_FALSE(level.ok());
  EXPECT_EQ(level.status().message().substr(0, 17), "handlers.yml:1:8:")
      << level.status().message();
  EXPECT_FALSE(Load("file: /nonexistent-dir/x.log\n").ok());

  Result<std::shared_ptr<LogHandler>> h = Load("{}\n");
  ASSERT_TRUE(h.ok());
  Result<ConfigNode> params = ConfigNode::ParseYaml("message: hi\nmesage: typo\n", "r.yml");
  ASSERT_TRUE(params.ok());
  EXPECT_FALSE((*h)->ValidateParams(*params).ok());
}

}  // namespace
}  // namespace nimify::actions
