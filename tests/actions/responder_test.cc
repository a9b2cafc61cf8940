// The Responder on a manual clock with a memory store and a recording handler
// type in a private registry: Alertmanager timing and grouping, routing,
// inhibition, silences, acknowledgement, escalation, steps and their safety.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "actions/fingerprint.h"
#include "nimify/actions.h"
#include "nimify/state_store.h"

namespace nimify {
namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000;
constexpr std::int64_t kSec = 1000;
constexpr std::int64_t kMin = 60 * kSec;

struct RecordedCall {
  std::string handler;
  ActionTrigger trigger;
  std::string event;
  std::string step;
  std::string receiver;
  std::size_t alerts = 0;
  ConfigNode params;
  std::string acknowledged_by;
};

// Shared by every instance the factory makes: calls seen, scripted results.
struct Script {
  std::mutex mu;
  std::vector<RecordedCall> calls;
  std::map<std::string, std::deque<ActionResult>> results;  // by step name
  int renders = 0;

  std::vector<RecordedCall> Calls(ActionTrigger t) {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<RecordedCall> out;
    for (const auto& c : calls) {
      if (c.trigger == t) out.push_back(c);
    }
    return out;
  }
  std::vector<std::string> Steps() {
    std::vector<std::string> out;
    for (const auto& c : Calls(ActionTrigger::kStep)) out.push_back(c.step);
    return out;
  }
};

class Recorder : public ActionHandler {
 public:
  Recorder(std::string name, std::shared_ptr<Script> s)
      : name_(std::move(name)), s_(std::move(s)) {}
  bool Accepts(ActionTrigger) const override { return true; }
  Result<std::string> Render(const ActionRequest& r) const override {
    {
      std::lock_guard<std::mutex> lock(s_->mu);
      ++s_->renders;
    }
    if (const ConfigNode* refuse = r.params.Find("refuse")) {
      if (refuse->text() == "true") return Status::InvalidArgument("refused: bad label value");
    }
    std::string out = "run " + r.step;
    if (const ConfigNode* arg = r.params.Find("arg")) out += " " + arg->text();
    return out;
  }
  void Execute(const ActionRequest& r, ActionDone done) override {
    ActionResult result = ActionResult::Success("exit 0");
    result.exit_status = 0;
    {
      std::lock_guard<std::mutex> lock(s_->mu);
      s_->calls.push_back(RecordedCall{name_, r.trigger, r.event, r.step, r.receiver,
                                       r.alerts.size(), r.params, r.incident.acknowledged_by});
      if (r.trigger == ActionTrigger::kStep) {
        auto& q = s_->results[r.step];
        if (!q.empty()) {
          result = q.front();
          q.pop_front();
        }
      }
    }
    if (r.trigger == ActionTrigger::kStep && r.params.Find("throw") != nullptr) {
      throw std::runtime_error("boom");
    }
    done(result);
  }

 private:
  std::string name_;
  std::shared_ptr<Script> s_;
};

ActionResult Output(std::string out, int exit_status = 0) {
  ActionResult r = exit_status == 0
                       ? ActionResult::Success("exit 0")
                       : ActionResult::Permanent("exit " + std::to_string(exit_status));
  r.output = std::move(out);
  r.exit_status = exit_status;
  return r;
}

OwnedLabels L(std::vector<std::pair<std::string, std::string>> kv) {
  OwnedLabels out;
  for (auto& [k, v] : kv) out.push_back({k, v});
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

AlertEvent Firing(OwnedLabels labels, std::int64_t t) {
  AlertEvent e;
  e.rule = actions::LabelSetString(labels);
  e.labels = std::move(labels);
  e.state = AlertState::kFiring;
  e.eval_time_ms = t;
  e.active_at_ms = t;
  e.fired_at_ms = t;
  return e;
}

AlertEvent Resolved(OwnedLabels labels, std::int64_t fired, std::int64_t t) {
  AlertEvent e = Firing(std::move(labels), fired);
  e.state = AlertState::kResolved;
  e.eval_time_ms = t;
  e.resolved_at_ms = t;
  return e;
}

std::string Fp(const OwnedLabels& l) { return actions::FingerprintString(actions::Fingerprint(l)); }

const char* kBase = R"(
route:
  receiver: default
  group_by: [alertname, job]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
  routes:
    - matchers: ['alertname="ServiceDown"']
      receiver: sre
      continue: true
    - matchers: ['severity="critical"']
      receiver: pager
    - matchers: ['alertname="PerAlert"']
      receiver: pager
      group_by: ['...']
inhibit_rules:
  - source_matchers: ['alertname="ServiceDown"']
    target_matchers: ['alertname=~"HighLatency|HighErrorRate"']
    equal: [job, instance]
receivers:
  - name: default
  - name: sre
    notify: [rec]
    responses: [service-down]
    escalation: sd
  - name: pager
    notify: [rec]
handlers:
  rec: {type: recorder}
  dry: {type: recorder, dry_run: true}
responses:
  service-down:
    steps:
      - name: get-pods
        handler: rec
        with: {arg: "{{ $labels.namespace }}"}
        attach: true
      - {name: check, manual: "look at the dashboard of {{ $labels.job }} in {{ .Labels.namespace }}"}
    on_resolved:
      - {name: note, handler: rec, with: {arg: resolved}}
escalations:
  sd:
    levels:
      - {after: 15m, target: engineering-manager, notify: [rec]}
      - {after: 30m, target: director, notify: [rec]}
)";

class ResponderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    script_ = std::make_shared<Script>();
    registry_ = std::make_unique<ActionHandlerRegistry>();
    auto s = script_;
    ASSERT_TRUE(registry_
                    ->Register("recorder",
                               [s](const ConfigNode&, const HandlerContext& c)
                                   -> Result<std::shared_ptr<ActionHandler>> {
                                 return std::make_shared<Recorder>(c.name, s);
                               })
                    .ok());
    store_ = std::shared_ptr<StateStore>(NewMemoryStateStore());
  }

  std::shared_ptr<Responder> Make(const std::string& yaml, bool force_dry_run = false) {
    Result<ConfigNode> root = ConfigNode::ParseYaml(yaml, "test.yml");
    EXPECT_TRUE(root.ok()) << root.status().ToString();
    ResponderOptions o;
    o.clock = ResponderClock::kManual;
    o.store = store_;
    o.registry = registry_.get();
    o.force_dry_run = force_dry_run;
    o.seed = 7;
    o.query = [this](std::string_view expr, std::int64_t t) -> Result<QueryResult> {
      queries_.emplace_back(std::string(expr), t);
      if (query_error_) return Status::InvalidArgument("boom");
      QueryResult r;
      r.type = QueryValueType::kVector;
      auto it = truth_.find(std::string(expr));
      const bool on = it != truth_.end() && it->second(t);
      if (on) r.series.push_back(QuerySeries{L({{"x", "1"}}), {{t, 1}}});
      return r;
    };
    o.on_decision = [this](const Decision& d) { decisions_.push_back(d); };
    Result<std::shared_ptr<Responder>> r = Responder::Create(*root, std::move(o));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : nullptr;
  }

  std::vector<Decision> Of(std::string_view kind) const {
    std::vector<Decision> out;
    for (const Decision& d : decisions_) {
      if (d.kind == kind) out.push_back(d);
    }
    return out;
  }
  std::vector<std::string> Outcomes(std::string_view kind) const {
    std::vector<std::string> out;
    for (const Decision& d : Of(kind)) out.push_back(d.step + ":" + d.outcome);
    return out;
  }

  void Run(Responder& r, std::int64_t t) {
    r.AdvanceTo(t);
    ASSERT_TRUE(r.WaitIdle(std::chrono::seconds(10)).ok());
  }

  std::shared_ptr<Script> script_;
  std::unique_ptr<ActionHandlerRegistry> registry_;
  std::shared_ptr<StateStore> store_;
  std::vector<Decision> decisions_;
  std::map<std::string, std::function<bool(std::int64_t)>> truth_;
  std::vector<std::pair<std::string, std::int64_t>> queries_;
  bool query_error_ = false;
};

const OwnedLabels kLatency = L({{"alertname", "HighLatency"}, {"job", "api"}, {"instance", "a"}});

TEST_F(ResponderTest, GroupWaitIntervalAndRepeatAreExact) {
  auto r = Make(kBase);
  r->OnAlert(Firing(kLatency, kT0));
  Run(*r, kT0 + 30 * kSec - 1);
  EXPECT_TRUE(Of("notify").empty());
  Run(*r, kT0 + 30 * kSec);
  ASSERT_EQ(Of("notify").size(), 1u);  // the default receiver: a notify decision, no handlers
  EXPECT_EQ(Of("notify")[0].ts_ms, kT0 + 30 * kSec);
  EXPECT_EQ(Of("notify")[0].receiver, "default");
  // A second alert of the same group: at the next group_interval tick.
  OwnedLabels second = L({{"alertname", "HighLatency"}, {"job", "api"}, {"instance", "b"}});
  r->OnAlert(Firing(second, kT0 + 60 * kSec));
  Run(*r, kT0 + 30 * kSec + 5 * kMin - 1);
  EXPECT_EQ(Of("notify").size(), 1u);
  Run(*r, kT0 + 30 * kSec + 5 * kMin);
  ASSERT_EQ(Of("notify").size(), 2u);
  EXPECT_NE(Of("notify")[1].detail.find("firing=2"), std::string::npos);
  // Unchanged: the repeat comes one repeat_interval after the last notification.
  Run(*r, kT0 + 30 * kSec + 5 * kMin + 60 * kMin - 1);
  EXPECT_EQ(Of("notify").size(), 2u);
  Run(*r, kT0 + 30 * kSec + 5 * kMin + 60 * kMin);
  EXPECT_EQ(Of("notify").size(), 3u);
  // A resolve goes out at the next tick, then the group is gone.
  r->OnAlert(Resolved(kLatency, kT0, kT0 + 70 * kMin));
  r->OnAlert(Resolved(second, kT0 + 60 * kSec, kT0 + 70 * kMin));
  Run(*r, kT0 + 30 * kSec + 75 * kMin);
  ASSERT_EQ(Of("notify").size(), 4u);
  EXPECT_NE(Of("notify")[3].detail.find("firing=0 resolved=2"), std::string::npos);
  Run(*r, kT0 + 3 * 60 * kMin);
  EXPECT_EQ(Of("notify").size(), 4u);
}

TEST_F(ResponderTest, GroupsByLabelsAndByAll) {
  auto r = Make(kBase);
  r->OnAlert(Firing(L({{"alertname", "HighLatency"}, {"job", "a"}}), kT0));
  r->OnAlert(Firing(L({{"alertname", "HighLatency"}, {"job", "a"}, {"instance", "2"}}), kT0));
  r->OnAlert(Firing(L({{"alertname", "HighLatency"}, {"job", "b"}}), kT0));
  r->OnAlert(Firing(L({{"alertname", "PerAlert"}, {"x", "1"}}), kT0));
  r->OnAlert(Firing(L({{"alertname", "PerAlert"}, {"x", "2"}}), kT0));
  Run(*r, kT0 + 30 * kSec);
  std::vector<std::string> details;
  for (const Decision& d : Of("notify")) details.push_back(d.receiver + " " + d.detail);
  std::sort(details.begin(), details.end());
  ASSERT_EQ(details.size(), 4u);
  EXPECT_NE(details[0].find(R"({alertname="HighLatency", job="a"} firing=2)"), std::string::npos)
      << details[0];
  EXPECT_NE(details[1].find(R"(job="b"} firing=1)"), std::string::npos) << details[1];
  EXPECT_EQ(details[2].rfind("pager ", 0), 0u);
  EXPECT_NE(details[2].find(R"(x="1")"), std::string::npos) << details[2];
  EXPECT_NE(details[3].find(R"(x="2")"), std::string::npos) << details[3];
  // The pager's handler got one kNotification per group, with the group's alerts.
  auto notes = script_->Calls(ActionTrigger::kNotification);
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_EQ(notes[0].alerts, 1u);
}

TEST_F(ResponderTest, RoutesToSeveralReceiversWithContinueAndRunsResponses) {
  auto r = Make(kBase);
  const OwnedLabels sd = L({{"alertname", "ServiceDown"},
                            {"severity", "critical"},
                            {"job", "api"},
                            {"namespace", "prod"}});
  r->OnAlert(Firing(sd, kT0));
  Run(*r, kT0 + 30 * kSec);
  std::vector<std::string> receivers;
  for (const Decision& d : Of("notify")) receivers.push_back(d.receiver);
  EXPECT_EQ(receivers, (std::vector<std::string>{"sre", "pager"}));
  // The response ran once, steps in order; the template rendered the label.
  EXPECT_EQ(Outcomes("step"), (std::vector<std::string>{"get-pods:ran", "check:manual"}));
  const auto steps = script_->Calls(ActionTrigger::kStep);
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].params.Find("arg")->text(), "prod");
  // The exec handler's unrendered `with:` rides along.
  ASSERT_NE(steps[0].params.Find("__template"), nullptr);
  EXPECT_EQ(steps[0].params.Find("__template")->Find("arg")->text(), "{{ $labels.namespace }}");
  // detail is the Render() text whether planned or run; the result is in summary.
  EXPECT_EQ(Of("step")[0].detail, "run get-pods prod");
  EXPECT_EQ(Of("step")[0].summary, "exit 0");
  // The manual step's text is a template too.
  EXPECT_EQ(Of("step")[1].detail, "look at the dashboard of api in prod");
  // A notify decision names its group.
  ASSERT_FALSE(Of("notify").empty());
  EXPECT_EQ(Of("notify")[0].labels, L({{"alertname", "ServiceDown"}, {"job", "api"}}));
  EXPECT_EQ(Of("notify")[0].alertname, "ServiceDown");
  // Incident updates: fired (per receiver with that handler), then a step update.
  std::vector<std::string> events;
  for (const auto& c : script_->Calls(ActionTrigger::kIncidentUpdate)) events.push_back(c.event);
  EXPECT_EQ(std::count(events.begin(), events.end(), "firing"), 2);
  EXPECT_GE(std::count(events.begin(), events.end(), "step"), 1);
  auto alerts = r->Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].receivers, (std::vector<std::string>{"sre", "pager"}));
}

TEST_F(ResponderTest, FiringServiceDownInhibitsLatencyAndErrorRateOfSameJobAndInstance) {
  auto r = Make(kBase);
  r->OnAlert(Firing(L({{"alertname", "ServiceDown"}, {"job", "api"}, {"instance", "a"}}), kT0));
  r->OnAlert(Firing(kLatency, kT0));
  r->OnAlert(Firing(L({{"alertname", "HighErrorRate"}, {"job", "api"}, {"instance", "a"}}), kT0));
  r->OnAlert(Firing(L({{"alertname", "HighErrorRate"}, {"job", "api"}, {"instance", "b"}}), kT0));
  Run(*r, kT0 + 30 * kSec);
  auto inhibited = Of("inhibited");
  ASSERT_EQ(inhibited.size(), 2u);
  std::vector<std::string> names{inhibited[0].alertname, inhibited[1].alertname};
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"HighErrorRate", "HighLatency"}));
  // Only ServiceDown (sre) and the instance-b error rate (default) notified.
  std::vector<std::string> details;
  for (const Decision& d : Of("notify")) details.push_back(d.detail);
  ASSERT_EQ(details.size(), 2u);
  for (const std::string& d : details) EXPECT_EQ(d.find("HighLatency"), std::string::npos) << d;
}

TEST_F(ResponderTest, SilencedAlertGetsNoNotificationStepsOrEscalation) {
  auto r = Make(kBase);
  Run(*r, kT0);
  Silence s;
  s.matchers = {MatcherSpec{"alertname", "ServiceDown", false, true}};
  s.starts_at_ms = kT0;
  s.ends_at_ms = kT0 + 2 * 60 * kMin;
  s.created_by = "me";
  s.comment = "maintenance";
  s.expire_on_resolve = true;
  Result<std::string> id = r->AddSilence(s);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  const OwnedLabels sd = L({{"alertname", "ServiceDown"}, {"job", "api"}});
  r->OnAlert(Firing(sd, kT0 + kSec));
  Run(*r, kT0 + 40 * kMin);
  EXPECT_EQ(Of("silenced").size(), 1u);  // once per alert per silence
  EXPECT_TRUE(Of("notify").empty());
  EXPECT_TRUE(Of("step").empty());
  EXPECT_TRUE(Of("escalate").empty());
  // expire_on_resolve: the silence ends when its alert resolves.
  r->OnAlert(Resolved(sd, kT0 + kSec, kT0 + 41 * kMin));
  Run(*r, kT0 + 41 * kMin);
  Result<Silence> got = r->GetSilence(*id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->state, SilenceState::kExpired);
  EXPECT_EQ(got->ends_at_ms, kT0 + 41 * kMin);
}

TEST_F(ResponderTest, EscalatesExactlyAfterFifteenMinutesAndOnlyOnce) {
  auto r = Make(kBase);
  const OwnedLabels sd = L({{"alertname", "ServiceDown"}, {"job", "api"}});
  r->OnAlert(Firing(sd, kT0));
  Run(*r, kT0 + 15 * kMin - 1);
  EXPECT_TRUE(Of("escalate").empty());
  Run(*r, kT0 + 15 * kMin);
  ASSERT_EQ(Of("escalate").size(), 1u);
  EXPECT_EQ(Of("escalate")[0].ts_ms, kT0 + 15 * kMin);
  EXPECT_EQ(Of("escalate")[0].target, "engineering-manager");
  std::vector<std::string> events;
  for (const auto& c : script_->Calls(ActionTrigger::kIncidentUpdate)) events.push_back(c.event);
  EXPECT_EQ(std::count(events.begin(), events.end(), "escalated"), 1);
  Run(*r, kT0 + 30 * kMin);
  ASSERT_EQ(Of("escalate").size(), 2u);
  EXPECT_EQ(Of("escalate")[1].target, "director");
  Run(*r, kT0 + 90 * kMin);
  EXPECT_EQ(Of("escalate").size(), 2u);
}

TEST_F(ResponderTest, AcknowledgementStopsEscalationAndRepeats) {
  auto r = Make(kBase);
  const OwnedLabels sd = L({{"alertname", "ServiceDown"}, {"job", "api"}});
  r->OnAlert(Firing(sd, kT0));
  Run(*r, kT0 + 5 * kMin);
  Acknowledgement ack;
  ack.fingerprint = Fp(sd);
  ack.created_by = "alice";
  ack.comment = "on it";
  ASSERT_TRUE(r->Acknowledge(ack).ok());
  ASSERT_EQ(Of("acknowledged").size(), 1u);
  EXPECT_EQ(Of("acknowledged")[0].ts_ms, kT0 + 5 * kMin);
  Run(*r, kT0 + 3 * 60 * kMin);
  EXPECT_TRUE(Of("escalate").empty());
  // sre got the first notification and no repeats (pager is not routed here).
  EXPECT_EQ(Of("notify").size(), 1u);
  bool saw_ack = false;
  for (const auto& c : script_->Calls(ActionTrigger::kIncidentUpdate)) {
    if (c.event == "acknowledged") {
      saw_ack = true;
      EXPECT_EQ(c.acknowledged_by, "alice");
    }
  }
  EXPECT_TRUE(saw_ack);
  EXPECT_EQ(r->Acknowledgements().size(), 1u);
  // Dropped when the alert resolves.
  r->OnAlert(Resolved(sd, kT0, kT0 + 3 * 60 * kMin + kSec));
  Run(*r, kT0 + 3 * 60 * kMin + kSec);
  EXPECT_TRUE(r->Acknowledgements().empty());
}

TEST_F(ResponderTest, RestartWithSameStoreNeitherEscalatesTwiceNorRerunsSteps) {
  const OwnedLabels sd = L({{"alertname", "ServiceDown"}, {"job", "api"}, {"namespace", "n"}});
  {
    auto r = Make(kBase);
    r->OnAlert(Firing(sd, kT0));
    Run(*r, kT0 + 16 * kMin);
    ASSERT_EQ(Of("escalate").size(), 1u);
    ASSERT_EQ(script_->Steps().size(), 1u);
    ASSERT_TRUE(r->Stop().ok());
  }
  decisions_.clear();
  auto r2 = Make(kBase);
  r2->OnAlert(Firing(sd, kT0));  // the engine sends the firing alert again
  Run(*r2, kT0 + 20 * kMin);
  EXPECT_TRUE(Of("escalate").empty());
  EXPECT_TRUE(Of("step").empty());
  EXPECT_TRUE(Of("notify").empty());  // the nflog says it was sent
  EXPECT_EQ(script_->Steps().size(), 1u);
  // The timer of the level not yet done was recomputed from starts_at.
  Run(*r2, kT0 + 30 * kMin);
  ASSERT_EQ(Of("escalate").size(), 1u);
  EXPECT_EQ(Of("escalate")[0].target, "director");
  EXPECT_EQ(Of("escalate")[0].ts_ms, kT0 + 30 * kMin);
}

const char* kSteps = R"(
dry_run: false
route: {receiver: r, group_wait: 10s, group_interval: 1m, repeat_interval: 1h}
receivers:
  - {name: r, notify: [rec], responses: [fix], escalation: e}
handlers:
  rec: {type: recorder}
budgets:
  rollbacks: {max: 2, per: 1h}
safety:
  breaker: {failures: 2, window: 1h, open_for: 1h}
escalations:
  e: {levels: [{after: 10h, target: team-lead, notify: [rec]}]}
responses:
  fix:
    steps:
      - {name: inspect, handler: rec, with: {arg: x}}
      - name: scaled-down
        handler: rec
        when: 'replicas < 3'
      - name: oom
        handler: rec
        when: {step: inspect, output_matches: 'OOMKilled'}
      - name: rollback
        handler: rec
        remediation: {target: 'deploy/{{ $labels.job }}', budget: rollbacks}
        verify: {expr: 'up == 1', within: 2m, every: 30s}
        on_failure:
          - {name: undo, handler: rec}
)";

TEST_F(ResponderTest, WhenConditionsQueryAtStepTimeAndMatchEarlierOutput) {
  truth_["replicas < 3"] = [](std::int64_t) { return false; };
  truth_["up == 1"] = [](std::int64_t) { return true; };
  script_->results["inspect"].push_back(Output("pod x: OOMKilled"));
  auto r = Make(kSteps);
  r->OnAlert(Firing(L({{"alertname", "A"}, {"job", "api"}}), kT0));
  Run(*r, kT0 + 10 * kSec);
  EXPECT_EQ(Outcomes("step"),
            (std::vector<std::string>{"inspect:ran", "scaled-down:skipped_condition", "oom:ran",
                                      "rollback:ran"}));
  ASSERT_FALSE(queries_.empty());
  EXPECT_EQ(queries_[0], (std::pair<std::string, std::int64_t>{"replicas < 3", kT0 + 10 * kSec}));
  // verify: true at the first check, 30s after the step.
  Run(*r, kT0 + 10 * kSec + 30 * kSec);
  ASSERT_EQ(Outcomes("verify"), (std::vector<std::string>{"rollback:recovered"}));
  EXPECT_EQ(Of("verify")[0].ts_ms, kT0 + 40 * kSec);
  EXPECT_EQ(Of("step")[3].target, "deploy/api");
}

// `.Steps.<name>` survives a restart: a resumed response still matches on a
// step that finished before it (output capped when persisted).
TEST_F(ResponderTest, RestartKeepsStepOutputsForOutputMatches) {
  const char* config = R"(
route: {receiver: r, group_wait: 10s}
receivers: [{name: r, responses: [fix]}]
handlers: {rec: {type: recorder}}
responses:
  fix:
    steps:
      - {name: inspect, handler: rec}
      - name: wait
        handler: rec
        verify: {expr: 'up == 1', within: 10m, every: 1m}
      - name: oom
        handler: rec
        when: {step: inspect, output_matches: 'OOMKilled'}
      - name: exited-ok
        handler: rec
        when: {step: inspect, exit_status: 0}
      - {name: show, manual: "saw {{ .Steps.inspect.Outcome }}"}
)";
  const OwnedLabels a = L({{"alertname", "A"}, {"job", "api"}});
  script_->results["inspect"].push_back(Output("pod x: OOMKilled\n" + std::string(10000, 'x')));
  bool up = false;
  truth_["up == 1"] = [&up](std::int64_t) { return up; };
  {
    auto r = Make(config);
    r->OnAlert(Firing(a, kT0));
    Run(*r, kT0 + 10 * kSec);
    ASSERT_EQ(Outcomes("step"), (std::vector<std::string>{"inspect:ran", "wait:ran"}));
    ASSERT_TRUE(r->Stop().ok());
  }
  auto stored = store_->Get("alert/" + Fp(a));
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_NE((*stored)->value.find("OOMKilled"), std::string::npos);
  EXPECT_LT((*stored)->value.size(), 6000u);  // the 10 KB output was capped
  decisions_.clear();
  up = true;
  auto r2 = Make(config);
  r2->OnAlert(Firing(a, kT0));
  Run(*r2, kT0 + 5 * kMin);
  // inspect is not run again; the conditions read its persisted result.
  EXPECT_EQ(Outcomes("step"),
            (std::vector<std::string>{"wait:ran", "oom:ran", "exited-ok:ran", "show:manual"}));
  ASSERT_EQ(Of("step").size(), 4u);
  EXPECT_EQ(Of("step")[3].detail, "saw ran");
}

TEST_F(ResponderTest, QueryErrorFailsTheStep) {
  query_error_ = true;
  auto r = Make(kSteps);
  r->OnAlert(Firing(L({{"alertname", "A"}, {"job", "api"}}), kT0));
  Run(*r, kT0 + 10 * kSec);
  auto steps = Of("step");
  ASSERT_GE(steps.size(), 2u);
  EXPECT_EQ(steps[1].outcome, "failed");
  EXPECT_NE(steps[1].detail.find("boom"), std::string::npos);
}

TEST_F(ResponderTest, VerifyNotRecoveredRunsOnFailureAndBreakerOpensThenEscalates) {
  truth_["up == 1"] = [](std::int64_t) { return false; };
  auto r = Make(kSteps);
  const OwnedLabels a = L({{"alertname", "A"}, {"job", "api"}});
  r->OnAlert(Firing(a, kT0));
  Run(*r, kT0 + 10 * kSec + 2 * kMin - 1);
  EXPECT_TRUE(Of("verify").empty());
  Run(*r, kT0 + 10 * kSec + 2 * kMin);
  ASSERT_EQ(Outcomes("verify"), (std::vector<std::string>{"rollback:not_recovered"}));
  EXPECT_EQ(Of("step").back().step, "undo");
  EXPECT_EQ(Of("step").back().outcome, "ran");
  // A second failing fix for the same target opens the breaker (failures: 2).
  r->OnAlert(Resolved(a, kT0, kT0 + 3 * kMin));
  r->OnAlert(Firing(a, kT0 + 4 * kMin));
  Run(*r, kT0 + 4 * kMin + 10 * kSec + 2 * kMin);
  EXPECT_EQ(Of("verify").size(), 2u);
  r->OnAlert(Resolved(a, kT0 + 4 * kMin, kT0 + 8 * kMin));
  r->OnAlert(Firing(a, kT0 + 9 * kMin));
  Run(*r, kT0 + 9 * kMin + 10 * kSec);
  EXPECT_EQ(Of("step").back().step, "rollback");
  EXPECT_EQ(Of("step").back().outcome, "breaker_open");
  ASSERT_EQ(Of("escalate").size(), 1u);  // at once, not after 10h
  EXPECT_EQ(Of("escalate")[0].ts_ms, kT0 + 9 * kMin + 10 * kSec);
  EXPECT_EQ(Of("escalate")[0].target, "team-lead");
}

TEST_F(ResponderTest, FailedStepRunsOnFailure) {
  script_->results["rollback"].push_back(Output("error", 1));
  auto r = Make(kSteps);
  r->OnAlert(Firing(L({{"alertname", "A"}, {"job", "api"}}), kT0));
  Run(*r, kT0 + 10 * kSec);
  auto steps = Of("step");
  ASSERT_GE(steps.size(), 5u);
  EXPECT_EQ(steps[3].step, "rollback");
  EXPECT_EQ(steps[3].outcome, "failed");
  EXPECT_EQ(steps[3].exit_status, 1);
  EXPECT_EQ(steps[3].output, "error");
  EXPECT_EQ(steps[4].step, "undo");
  EXPECT_TRUE(Of("verify").empty());  // a failed step is not verified
}

TEST_F(ResponderTest, BudgetAllowsTwoPerHourPerTarget) {
  truth_["up == 1"] = [](std::int64_t) { return true; };
  auto r = Make(kSteps);
  const OwnedLabels a = L({{"alertname", "A"}, {"job", "api"}});
  std::vector<std::string> rollbacks;
  for (int i = 0; i < 4; ++i) {
    const std::int64_t t = kT0 + i * 20 * kMin;
    r->OnAlert(Firing(a, t));
    Run(*r, t + 10 * kSec + kMin);
    r->OnAlert(Resolved(a, t, t + 2 * kMin));
    Run(*r, t + 2 * kMin);
  }
  for (const Decision& d : Of("step")) {
    if (d.step == "rollback") rollbacks.push_back(d.outcome);
  }
  // Runs at +0, +20m; skipped at +40m; at +60m10s the first run left the window.
  EXPECT_EQ(rollbacks, (std::vector<std::string>{"ran", "ran", "skipped_budget", "ran"}));
}

TEST_F(ResponderTest, CooldownSkipsASecondRunForTheSameTarget) {
  std::string cfg = kSteps;
  cfg.replace(cfg.find("budget: rollbacks}"), std::string("budget: rollbacks}").size(),
              "cooldown: 10m}");
  truth_["up == 1"] = [](std::int64_t) { return true; };
  auto r = Make(cfg);
  const OwnedLabels a = L({{"alertname", "A"}, {"job", "api"}});
  std::vector<std::string> rollbacks;
  for (std::int64_t start : {kT0, kT0 + 5 * kMin, kT0 + 11 * kMin}) {
    r->OnAlert(Firing(a, start));
    Run(*r, start + 10 * kSec + kMin);
    r->OnAlert(Resolved(a, start, start + 2 * kMin));
    Run(*r, start + 2 * kMin);
  }
  for (const Decision& d : Of("step")) {
    if (d.step == "rollback") rollbacks.push_back(d.outcome);
  }
  EXPECT_EQ(rollbacks, (std::vector<std::string>{"ran", "skipped_cooldown", "ran"}));
}

TEST_F(ResponderTest, DryRunPlansWithRenderTextAndNeverExecutes) {
  truth_["up == 1"] = [](std::int64_t) { return true; };
  auto r = Make(kSteps, /*force_dry_run=*/true);
  r->OnAlert(Firing(L({{"alertname", "A"}, {"job", "api"}}), kT0));
  Run(*r, kT0 + 10 * kSec + 30 * kSec);
  auto steps = Of("step");
  ASSERT_FALSE(steps.empty());
  EXPECT_EQ(steps[0].outcome, "planned");
  EXPECT_EQ(steps[0].detail, "run inspect x");
  EXPECT_TRUE(steps[0].dry_run);
  EXPECT_TRUE(script_->calls.empty());  // Execute never called, notifications included
  EXPECT_GT(script_->renders, 0);
  // verify still evaluates: it only reads.
  EXPECT_EQ(Outcomes("verify"), (std::vector<std::string>{"rollback:recovered"}));
  // Budgets are not consumed in dry-run.
  EXPECT_TRUE(store_->Get("budget/rollbacks/deploy/api")->value_or(StoredValue{}).value.empty());
}

TEST_F(ResponderTest, RenderRefusalIsRefusedAndThrowingHandlerFails) {
  const char* cfg = R"(
route: {receiver: r, group_wait: 10s}
receivers: [{name: r, responses: [x]}]
handlers: {rec: {type: recorder}}
responses:
  x:
    steps:
      - {name: bad, handler: rec, with: {refuse: "true"}}
      - {name: throws, handler: rec, with: {throw: "yes"}}
      - {name: after, handler: rec}
)";
  auto r = Make(cfg);
  r->OnAlert(Firing(L({{"alertname", "A"}}), kT0));
  Run(*r, kT0 + 10 * kSec);
  EXPECT_EQ(Outcomes("step"),
            (std::vector<std::string>{"bad:refused", "throws:failed", "after:ran"}));
  EXPECT_NE(Of("step")[0].detail.find("refused: bad label value"), std::string::npos);
}

TEST_F(ResponderTest, ResolveCancelsStepsNotStartedAndRunsOnResolvedInOrder) {
  // get-pods is retried later (retryable failure, backoff 1s): resolve arrives meanwhile.
  const char* cfg = R"(
route: {receiver: r, group_wait: 10s}
receivers: [{name: r, notify: [rec], responses: [x]}]
handlers: {rec: {type: recorder, retry: {attempts: 2, initial_backoff: 1m, max_backoff: 1m}}}
responses:
  x:
    steps:
      - {name: first, handler: rec}
      - {name: second, handler: rec}
    on_resolved:
      - {name: note, handler: rec}
)";
  script_->results["first"].push_back(ActionResult::Retryable("503"));
  auto r = Make(cfg);
  const OwnedLabels a = L({{"alertname", "A"}});
  r->OnAlert(Firing(a, kT0));
  Run(*r, kT0 + 10 * kSec);
  EXPECT_TRUE(Of("step").empty());  // first waits for its retry
  r->OnAlert(Resolved(a, kT0, kT0 + 20 * kSec));
  Run(*r, kT0 + 5 * kMin);
  EXPECT_EQ(Outcomes("step"),
            (std::vector<std::string>{"second:cancelled", "first:ran", "note:ran"}));
  // The dispatcher kept the per-alert order: the resolved update after the fire.
  std::vector<std::string> order;
  for (const auto& c : script_->calls) order.push_back(c.step.empty() ? c.event : c.step);
  auto pos = [&](const std::string& s) {
    return std::find(order.begin(), order.end(), s) - order.begin();
  };
  EXPECT_LT(pos("firing"), pos("resolved"));
  EXPECT_LT(pos("first"), pos("note"));
}

TEST_F(ResponderTest, DecisionsAreAuditedInTimeOrder) {
  auto r = Make(kBase);
  r->OnAlert(Firing(L({{"alertname", "ServiceDown"}, {"job", "api"}}), kT0));
  Run(*r, kT0 + 20 * kMin);
  ASSERT_GT(decisions_.size(), 4u);
  for (std::size_t i = 1; i < decisions_.size(); ++i) {
    EXPECT_LE(decisions_[i - 1].ts_ms, decisions_[i].ts_ms);
  }
  Result<std::vector<std::pair<std::uint64_t, std::string>>> log =
      store_->ReadLog("audit", 1, 1000);
  ASSERT_TRUE(log.ok());
  std::size_t found = 0;
  for (const auto& [seq, rec] : *log) {
    if (rec.find("\"kind\":\"escalate\"") != std::string::npos) ++found;
  }
  EXPECT_EQ(found, 1u);
  EXPECT_GE(log->size(), decisions_.size());
}

}  // namespace
}  // namespace nimify

namespace nimify {
namespace {

TEST_F(ResponderTest, WallClockRunsStepsOnItsOwnThread) {
  const char* cfg = R"(
route: {receiver: r, group_wait: 0s}
receivers: [{name: r, responses: [x]}]
handlers: {rec: {type: recorder}}
responses: {x: {steps: [{name: one, handler: rec}]}}
)";
  Result<ConfigNode> root = ConfigNode::ParseYaml(cfg, "wall.yml");
  ASSERT_TRUE(root.ok());
  ResponderOptions o;
  o.registry = registry_.get();
  Result<std::shared_ptr<Responder>> r = Responder::Create(*root, std::move(o));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const std::int64_t now = (*r)->now_ms();
  (*r)->OnAlert(Firing(L({{"alertname", "W"}}), now));
  for (int i = 0; i < 500 && script_->Steps().empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(script_->Steps(), std::vector<std::string>{"one"});
  EXPECT_TRUE((*r)->WaitIdle(std::chrono::seconds(5)).ok());
  EXPECT_TRUE((*r)->Stop().ok());
  EXPECT_TRUE((*r)->Stop().ok());  // idempotent
}

}  // namespace
}  // namespace nimify
