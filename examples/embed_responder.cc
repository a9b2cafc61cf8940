// Embeds the engine together with a Responder: an alerting rule fires, the
// responder routes it, notifies, runs a response through a handler type of
// this program's own ("console"), verifies the fix with PromQL and escalates,
// all on event time. Only the public headers are used.
//
//   embed_responder
//
// Prints each decision as it is made. Exits 0 when the alert fired, was
// notified, its steps ran through the console handler, the escalation came
// at exactly firing + 5m and the alert resolved; 1 otherwise; 2 on errors.
#include <chrono>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "nimify/actions.h"
#include "nimify/config.h"
#include "nimify/nimify.h"

namespace {

constexpr const char* kRules = R"(
groups:
  - name: checkout
    rules:
      - alert: CheckoutDown
        expr: up{job="checkout"} == 0
        for: 1m
        labels: {severity: critical}
        annotations: {summary: "checkout {{ $labels.instance }} is down"}
)";

// The response config: an alertmanager.yml with nimify's sections (docs/actions.md).
constexpr const char* kConfig = R"(
route:
  receiver: oncall
  group_by: [alertname, instance]
  group_wait: 10s
  group_interval: 1m
  repeat_interval: 1h
receivers:
  - name: oncall
    notify: [console]
    responses: [checkout-down]
    escalation: checkout
handlers:
  console:
    type: console
    config: {prefix: "console>"}
responses:
  checkout-down:
    steps:
      - name: look
        handler: console
        attach: true
        with: {message: "checkout {{ $labels.instance }} is down, value {{ $value }}"}
      - name: restart
        handler: console
        when: 'up{job="checkout"} == 0'
        with: {message: "restarting {{ $labels.instance }}"}
        remediation: {target: 'checkout/{{ $labels.instance }}', budget: restarts, cooldown: 10m}
        verify: {expr: 'min(up{job="checkout"}) == 1', within: 3m, every: 1m}
escalations:
  checkout:
    levels:
      - {after: 5m, target: team-lead, notify: [console]}
budgets:
  restarts: {max: 1, per: 1h}
)";

// A handler type of this program's own: prints what it is asked to do.
// Thread safety: the responder calls it from its worker threads; stdout
// writes are serialized by the mutex.
class ConsoleHandler final : public nimify::ActionHandler {
 public:
  explicit ConsoleHandler(std::string prefix) : prefix_(std::move(prefix)) {}

  nimify::Status ValidateParams(const nimify::ConfigNode& params) const override {
    NIMIFY_RETURN_IF_ERROR(params.CheckKeys({"message"}, "console step"));
    if (params.Find("message") == nullptr) return params.Error("console step: missing \"message\"");
    return nimify::Status::Ok();
  }
  bool Accepts(nimify::ActionTrigger) const override { return true; }

  nimify::Result<std::string> Render(const nimify::ActionRequest& r) const override {
    switch (r.trigger) {
      case nimify::ActionTrigger::kStep: {
        const nimify::ConfigNode* message = r.params.Find("message");
        if (message == nullptr) return nimify::Status::InvalidArgument("no message");
        return prefix_ + " " + message->text();
      }
      case nimify::ActionTrigger::kNotification:
        return prefix_ + " notify " + r.receiver + ": " + std::to_string(r.alerts.size()) +
               " alert(s), " + r.event;
      case nimify::ActionTrigger::kIncidentUpdate:
        return prefix_ + " incident " + r.event + " (" + r.incident.status + ")" +
               (r.incident.escalated_to.empty() ? "" : " -> " + r.incident.escalated_to);
    }
    return nimify::Status::InvalidArgument("unknown trigger");
  }

  void Execute(const nimify::ActionRequest& r, nimify::ActionDone done) override {
    auto line = Render(r);
    if (!line.ok())
      return done(nimify::ActionResult::Permanent(std::string(line.status().message())));
    {
      std::lock_guard lock(mu_);
      std::printf("    %s\n", line->c_str());
      std::fflush(stdout);
    }
    nimify::ActionResult result = nimify::ActionResult::Success("printed");
    result.output = *line;
    result.exit_status = 0;
    done(std::move(result));
  }

 private:
  const std::string prefix_;
  mutable std::mutex mu_;
};

// Remembers the decisions (called on the responder's thread).
class Decisions {
 public:
  void Add(const nimify::Decision& d) {
    std::lock_guard lock(mu_);
    std::printf("%s\n", nimify::DecisionToJson(d).c_str());
    std::fflush(stdout);
    all_.push_back(d);
  }
  std::vector<nimify::Decision> All() const {
    std::lock_guard lock(mu_);
    return all_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<nimify::Decision> all_;
};

// Tells when the engine's dispatcher has delivered an evaluation instant.
// Added after the responder, so by then the responder has it too (handlers
// are called in the order they were added). Thread safety: OnEvaluation runs
// on the dispatcher thread, WaitFor on main; the mutex guards last_.
class EvaluationWaiter final : public nimify::AlertHandler {
 public:
  void OnAlert(const nimify::AlertEvent&) override {}
  void OnEvaluation(std::int64_t t_ms) override {
    {
      std::lock_guard lock(mu_);
      last_ = t_ms > last_ ? t_ms : last_;
    }
    cv_.notify_all();
  }
  bool WaitFor(std::int64_t t_ms) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return last_ >= t_ms; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::int64_t last_ = -1;
};

int Fail(const nimify::Status& s) {
  std::fprintf(stderr, "embed_responder: %s\n", s.ToString().c_str());
  return 2;
}

}  // namespace

int main() {
  // 1. The handler type, before any config that uses it is loaded.
  nimify::Status registered = nimify::ActionHandlerRegistry::Default().Register(
      "console",
      [](const nimify::ConfigNode& config,
         const nimify::HandlerContext&) -> nimify::Result<std::shared_ptr<nimify::ActionHandler>> {
        std::string prefix = "console:";
        if (const nimify::ConfigNode* p = config.Find("prefix")) {
          NIMIFY_ASSIGN_OR_RETURN(prefix, p->AsString());
        }
        return std::make_shared<ConsoleHandler>(prefix);
      });
  if (!registered.ok()) return Fail(registered);

  // 2. Rules, engine and responder.
  auto rules = nimify::RuleSet::Parse(kRules, "embedded-rules");
  if (!rules.ok()) return Fail(rules.status());
  nimify::EngineOptions eo;
  eo.shards = 1;
  auto engine = nimify::Engine::Create(eo, *rules);
  if (!engine.ok()) return Fail(engine.status());

  auto config = nimify::ConfigNode::ParseYaml(kConfig, "embedded-config");
  if (!config.ok()) return Fail(config.status());
  auto decisions = std::make_shared<Decisions>();
  nimify::ResponderOptions ro;
  ro.clock = nimify::ResponderClock::kManual;  // event time: replays are exact
  ro.seed = 1;
  ro.on_decision = [decisions](const nimify::Decision& d) { decisions->Add(d); };
  auto responder = nimify::Responder::Create(*config, ro);
  if (!responder.ok()) return Fail(responder.status());
  if (nimify::Status s = (*responder)->Attach(**engine); !s.ok()) return Fail(s);
  auto waiter = std::make_shared<EvaluationWaiter>();
  (*engine)->AddHandler(waiter);

  // 3. The incident: checkout-0 stops answering at 3m and is back at 10m.
  constexpr std::int64_t kStep = 60'000;
  constexpr int kMinutes = 15;
  {
    auto producer = (*engine)->NewProducer();
    if (!producer.ok()) return Fail(producer.status());
    const nimify::Label labels[] = {
        {"__name__", "up"}, {"job", "checkout"}, {"instance", "checkout-0:8080"}};
    auto ref = (*producer)->Resolve(labels);
    if (!ref.ok()) return Fail(ref.status());
    for (int minute = 0; minute <= kMinutes; ++minute) {
      const std::int64_t t = minute * kStep;
      const double up = minute >= 3 && minute < 10 ? 0 : 1;
      if (nimify::Status s = (*producer)->Append(*ref, t, up); !s.ok()) return Fail(s);
      if (nimify::Status s = (*producer)->AdvanceWatermark(t); !s.ok()) return Fail(s);
      // Wait for the engine, then let the responder decide everything up to t,
      // so its PromQL conditions see the data of t and nothing later.
      if (!waiter->WaitFor(t)) return Fail(nimify::Status::DeadlineExceeded("no evaluation"));
      (*responder)->AdvanceTo(t);
      if (nimify::Status s = (*responder)->WaitIdle(std::chrono::seconds(30)); !s.ok())
        return Fail(s);
    }
  }
  if (nimify::Status s = (*engine)->Stop(); !s.ok()) return Fail(s);
  if (nimify::Status s = (*responder)->WaitIdle(std::chrono::seconds(30)); !s.ok()) return Fail(s);
  if (nimify::Status s = (*responder)->Stop(); !s.ok()) return Fail(s);

  // 4. What should have happened.
  std::int64_t firing = -1, resolved = -1, escalated = -1;
  bool notified = false, looked = false, restarted = false;
  for (const auto& d : decisions->All()) {
    if (d.kind == "alert" && d.state == "firing" && firing < 0) firing = d.ts_ms;
    if (d.kind == "alert" && d.state == "resolved") resolved = d.ts_ms;
    if (d.kind == "escalate") escalated = d.ts_ms;
    notified = notified || d.kind == "notify";
    looked = looked || (d.kind == "step" && d.step == "look" && d.outcome == "ran");
    restarted = restarted || (d.kind == "step" && d.step == "restart" && d.outcome == "ran");
  }
  const nimify::ResponderStats stats = (*responder)->stats();
  std::printf("\nfiring at %" PRId64 " ms, escalated at %" PRId64 " ms, resolved at %" PRId64
              " ms; %" PRIu64 " steps run, %" PRIu64 " notifications\n",
              firing, escalated, resolved, stats.steps_run, stats.notifications);
  const bool ok = firing == 4 * kStep && notified && looked && restarted &&
                  escalated == firing + 5 * kStep && resolved > firing;
  if (!ok)
    std::fprintf(stderr, "embed_responder: the decisions are not what the example expects\n");
  return ok ? 0 : 1;
}
