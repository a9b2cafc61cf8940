// The response config loader: every invalid config fails with the exact
// "file:line:col: message", all errors collected; and DataTemplate.
#include "actions/response_config.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "nimify/actions.h"
#include "template/data_template.h"

namespace nimify::actions {
namespace {

class NullHandler : public ActionHandler {
 public:
  explicit NullHandler(bool steps) : steps_(steps) {}
  bool Accepts(ActionTrigger t) const override { return steps_ == (t == ActionTrigger::kStep); }
  Result<std::string> Render(const ActionRequest&) const override { return std::string("x"); }
  void Execute(const ActionRequest&, ActionDone done) override { done(ActionResult::Success("")); }

 private:
  bool steps_;
};

std::unique_ptr<ActionHandlerRegistry> TestRegistry() {
  auto r = std::make_unique<ActionHandlerRegistry>();
  (void)r->Register(
      "stepper",
      [](const ConfigNode&, const HandlerContext&) -> Result<std::shared_ptr<ActionHandler>> {
        return std::make_shared<NullHandler>(true);
      });
  (void)r->Register(
      "notifier",
      [](const ConfigNode& c, const HandlerContext&) -> Result<std::shared_ptr<ActionHandler>> {
        if (c.Find("url") == nullptr) return c.Error("missing field \"url\"");
        return std::make_shared<NullHandler>(false);
      });
  return r;
}

Result<std::shared_ptr<const ResponseConfig>> Load(const std::string& yaml) {
  static auto registry = TestRegistry();
  Result<ConfigNode> root = ConfigNode::ParseYaml(yaml, "c.yml");
  if (!root.ok()) return root.status();
  LoadContext ctx;
  ctx.registry = registry.get();
  return LoadResponseConfig(*root, ctx);
}

constexpr const char* kHead =
    "route: {receiver: r}\n"
    "handlers:\n"
    "  s: {type: stepper}\n"
    "  n: {type: notifier, config: {url: x}}\n";

TEST(ResponseConfigTest, ValidConfigLoads) {
  Result<std::shared_ptr<const ResponseConfig>> c =
      Load(std::string(kHead) +
           "receivers: [{name: r, notify: [n], responses: [a], escalation: e}]\n"
           "budgets: {b: {max: 2, per: 1h}}\n"
           "escalations: {e: {levels: [{after: 15m, target: em, notify: [n]}]}}\n"
           "responses:\n"
           "  a:\n"
           "    steps:\n"
           "      - {name: one, handler: s, with: {args: ['{{ $labels.x }}']}, attach: true}\n"
           "      - {name: two, handler: s, when: 'up < 3',\n"
           "         remediation: {target: 'd/{{ .Labels.x }}', budget: b, cooldown: 10m},\n"
           "         verify: {expr: 'up == 1', within: 5m, every: 30s},\n"
           "         on_failure: [{name: esc, escalate: true}]}\n"
           "      - {name: three, handler: s, when: {step: one, output_matches: 'OOM'}}\n"
           "      - {name: four, manual: 'ssh there'}\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const ResponseSpec& a = (*c)->responses.at("a");
  ASSERT_EQ(a.steps.size(), 4u);
  EXPECT_EQ(a.steps[1].verify->every_ms, 30000);
  EXPECT_EQ(a.steps[1].remediation->cooldown_ms, 600000);
  EXPECT_EQ(a.steps[2].when.kind, ConditionSpec::Kind::kOutputMatches);
  EXPECT_EQ((*c)->escalations.at("e").levels[0].after_ms, 900000);
}

struct BadCase {
  const char* name;
  std::string yaml;
  std::string error;
};

TEST(ResponseConfigTest, InvalidConfigsReportFileLineColumn) {
  const std::string h = kHead;
  const BadCase cases[] = {
      {"unknown top-level key", h + "receivers: [{name: r}]\nbogus: 1\n",
       "c.yml:6:8: field \"bogus\" not found in config"},
      {"unknown step key",
       h + "receivers: [{name: r, responses: [a]}]\n"
           "responses: {a: {steps: [{name: x, handler: s, colour: red}]}}\n",
       "c.yml:6:55: field \"colour\" not found in step"},
      {"unknown handler type",
       "route: {receiver: r}\nreceivers: [{name: r}]\nhandlers: {k: {type: kubectl}}\n",
       "c.yml:3:22: handler \"k\": unknown handler type \"kubectl\""},
      {"unknown handler in step",
       h + "receivers: [{name: r, responses: [a]}]\n"
           "responses: {a: {steps: [{name: x, handler: nope}]}}\n",
       "c.yml:6:44: unknown handler \"nope\""},
      {"handler that takes no steps",
       h + "receivers: [{name: r, responses: [a]}]\n"
           "responses: {a: {steps: [{name: x, handler: n}]}}\n",
       "c.yml:6:44: handler \"n\" (type notifier) cannot be used as a step: it takes no steps"},
      {"unknown receiver in route", h + "receivers: [{name: other}]\n",
       "c.yml:1:19: undefined receiver \"r\" used in route"},
      {"unknown response", h + "receivers: [{name: r, responses: [zz]}]\n",
       "c.yml:5:35: unknown response \"zz\""},
      {"unknown escalation", h + "receivers: [{name: r, escalation: zz}]\n",
       "c.yml:5:35: unknown escalation \"zz\""},
      {"bad PromQL in when",
       h + "receivers: [{name: r}]\n"
           "responses: {a: {steps: [{name: x, handler: s, when: 'up{'}]}}\n",
       "c.yml:6:53: bad PromQL expression: 1:4: parse error: unexpected end of input inside "
       "braces"},
      {"range vector in when",
       h + "receivers: [{name: r}]\n"
           "responses: {a: {steps: [{name: x, handler: s, when: 'up[5m]'}]}}\n",
       "c.yml:6:53: PromQL expression must be an instant vector or a scalar, got range vector"},
      {"bad template",
       h + "receivers: [{name: r}]\n"
           "responses: {a: {steps: [{name: x, handler: s, with: {a: '{{ .X '}}]}}\n",
       "c.yml:6:57: bad template: template: a/x:1: unclosed action"},
      {"budget missing",
       h + "receivers: [{name: r}]\n"
           "responses: {a: {steps: [{name: x, handler: s, remediation: {target: t, budget: "
           "b}}]}}\n",
       "c.yml:6:80: unknown budget \"b\" (define it under budgets:)"},
      {"duplicate step names",
       h + "receivers: [{name: r}]\n"
           "responses: {a: {steps: [{name: x, manual: m}, {name: x, manual: n}]}}\n",
       "c.yml:6:54: duplicate step name \"x\" in response \"a\""},
      {"AM integration", h + "receivers: [{name: r, slack_configs: [{channel: x}]}]\n",
       "c.yml:5:38: receiver \"r\": Alertmanager integration slack_configs is not supported; "
       "use a nimify handler in notify: instead"},
      {"handler factory error",
       "route: {receiver: r}\nreceivers: [{name: r}]\nhandlers: {n: {type: notifier, config: "
       "{}}}\n",
       "c.yml:3:40: missing field \"url\""},
      {"output_matches on a later step",
       h + "receivers: [{name: r}]\n"
           "responses: {a: {steps: [{name: x, handler: s, when: {step: y, output_matches: a}}]}}\n",
       "c.yml:6:60: when: step \"y\" is not an earlier step of response \"a\""},
  };
  for (const BadCase& c : cases) {
    Result<std::shared_ptr<const ResponseConfig>> r = Load(c.yaml);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.status().message(), c.error) << c.name;
  }
}

TEST(ResponseConfigTest, AllErrorsAreCollected) {
  Result<std::shared_ptr<const ResponseConfig>> r =
      Load(std::string(kHead) + "receivers: [{name: r, responses: [zz], escalation: ee}]\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "c.yml:5:35: unknown response \"zz\"\nc.yml:5:52: unknown escalation \"ee\"");
}

// A plan-only exec handler loads without its program on PATH (CI has no
// kubectl); a handler that may run still fails the load with a position.
TEST(ResponseConfigTest, DryRunReachesTheHandlerFactory) {
  auto registry = ActionHandlerRegistry::WithBuiltins();
  auto load = [&](const std::string& yaml, bool force) {
    Result<ConfigNode> root = ConfigNode::ParseYaml(yaml, "c.yml");
    EXPECT_TRUE(root.ok());
    LoadContext ctx;
    ctx.registry = registry.get();
    ctx.force_dry_run = force;
    return LoadResponseConfig(*root, ctx);
  };
  const std::string handler =
      "route: {receiver: r}\nreceivers: [{name: r}]\nhandlers:\n"
      "  k:\n    type: exec\n    config: {command: no-such-kubectl-xyz}\n";
  Result<std::shared_ptr<const ResponseConfig>> real = load(handler, false);
  ASSERT_FALSE(real.ok());
  EXPECT_EQ(real.status().message().substr(0, 11), "c.yml:6:23:") << real.status().message();
  EXPECT_NE(real.status().message().find("not found on PATH"), std::string::npos);
  EXPECT_TRUE(load("dry_run: true\n" + handler, false).ok());
  EXPECT_TRUE(load(handler + "    dry_run: true\n", false).ok());
  EXPECT_TRUE(load(handler, true).ok());
  EXPECT_FALSE(load("dry_run: false\n" + handler + "    dry_run: false\n", false).ok());
}

TEST(DataTemplateTest, ExecutesWithCustomData) {
  Result<tmpl::DataTemplate> t = tmpl::DataTemplate::Compile(
      "{{ $labels.ns }}/{{ .Steps.a.Output }}/{{ .Ack.By }}/{{ $labels.missing }}.", "t");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  tmpl::Value data = tmpl::MakeStruct(
      "data",
      {{"Labels", tmpl::MakeStringMap({{"ns", "prod"}})},
       {"Annotations", tmpl::MakeStringMap({})},
       {"Value", tmpl::Value::Float(1)},
       {"Steps",
        tmpl::MakeAnyMap({{"a", tmpl::MakeStruct("s", {{"Output", tmpl::Value::String("ok")}})}})},
       {"Ack", tmpl::MakeStruct("a", {{"By", tmpl::Value::String("bob")}})}});
  Result<std::string> out = t->Execute(data);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, "prod/ok/bob/.");
  EXPECT_FALSE(tmpl::DataTemplate::Compile("{{ nope }}", "t").ok());
}

}  // namespace
}  // namespace nimify::actions
