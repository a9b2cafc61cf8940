// The Responder: routing, grouping, silences, inhibition, acknowledgement,
// escalation and the response steps (docs/actions.md).
//
// One lock (Impl::mu) guards the whole decision state; every decision is made
// by the thread holding it (the AdvanceTo caller in manual mode, the timer
// thread in wall mode). Handler calls run on the dispatcher's threads; their
// results come back through a completion queue and are applied under the lock.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <re2/re2.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>  // std::recursive_mutex
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "actions/acks.h"
#include "actions/audit_log.h"
#include "actions/call_dispatcher.h"
#include "actions/file_state_store.h"
#include "actions/fingerprint.h"
#include "actions/incident.h"
#include "actions/inhibit.h"
#include "actions/response_config.h"
#include "actions/route.h"
#include "actions/silences.h"
#include "actions/template_data.h"
#include "common/mutex.h"
#include "common/thread_name.h"
#include "common/wall_clock.h"
#include "nimify/actions.h"
#include "template/data_template.h"

namespace nimify {
namespace {

using actions::AckStore;
using actions::AuditLog;
using actions::Call;
using actions::CallDispatcher;
using actions::CallOutcome;
using actions::Incident;
using actions::QueuedStep;
using actions::ResponseConfig;
using actions::Route;
using actions::SilenceStore;
using actions::StepSpec;

constexpr std::size_t kOutputExcerpt = 1024;
constexpr std::size_t kAttachCap = 4096;
// Manual clock: how long AdvanceTo waits for a handler call to finish before
// it moves on (the completion is then applied at a later time).
constexpr std::chrono::seconds kSettleWait(60);

std::int64_t WallNowMs() {
  return internal::GuardedWallClockMs();  // never back: common/wall_clock.h
}

std::string Excerpt(const std::string& s, std::size_t cap) {
  return s.size() <= cap ? s : s.substr(0, cap);
}

std::string LabelValueOf(const OwnedLabels& labels, std::string_view name) {
  for (const OwnedLabel& l : labels) {
    if (l.name == name) return l.value;
  }
  return "";
}

std::string AlertName(const OwnedLabels& labels) { return LabelValueOf(labels, "alertname"); }

std::string JoinTimes(const std::vector<std::int64_t>& ts) {
  std::string out = "[";
  for (std::size_t i = 0; i < ts.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(ts[i]);
  }
  return out + "]";
}

std::vector<std::int64_t> ParseTimes(const std::string& json) {
  std::vector<std::int64_t> out;
  rapidjson::Document d;
  if (d.Parse(json.c_str(), json.size()).HasParseError() || !d.IsArray()) return out;
  for (const auto& v : d.GetArray()) {
    if (v.IsInt64()) out.push_back(v.GetInt64());
  }
  return out;
}

// A scheduled piece of work; `seq` keeps the order of equal times stable.
struct TimerKey {
  std::int64_t at = 0;
  std::uint64_t seq = 0;
  friend bool operator<(const TimerKey& a, const TimerKey& b) {
    return a.at != b.at ? a.at < b.at : a.seq < b.seq;
  }
};

// An aggregation group (route, group labels) with Alertmanager's timing.
struct Group {
  const Route* route = nullptr;
  std::string receiver;
  OwnedLabels group_labels;
  std::string am_key;  // Alertmanager's group key
  std::set<std::string> alerts;  // fingerprints
  bool flushed = false;
  std::int64_t next_flush = 0;
  std::uint64_t timer_seq = 0;  // the live flush timer; others are stale
};

struct NflogEntry {
  std::set<std::string> firing;
  std::set<std::string> resolved;
  std::int64_t ts = 0;
};

// Forwards the engine's calls while the responder lives (Attach).
// Thread safety: mu_ is held across each forwarded call, so Detach waits for
// a call in progress.
class Forwarder : public AlertHandler {
 public:
  explicit Forwarder(Responder* r) : responder_(r) {}
  void OnAlert(const AlertEvent& e) override {
    MutexLock lock(mu_);
    if (responder_ != nullptr) responder_->OnAlert(e);
  }
  void OnEvaluation(std::int64_t t) override {
    MutexLock lock(mu_);
    if (responder_ != nullptr) responder_->OnEvaluation(t);
  }
  void Flush() override {
    MutexLock lock(mu_);
    if (responder_ != nullptr) responder_->Flush();
  }
  void Detach() {
    MutexLock lock(mu_);
    responder_ = nullptr;
  }

 private:
  Mutex mu_;
  Responder* responder_ NIMIFY_GUARDED_BY(mu_);
};

}  // namespace

struct Responder::Impl {
  ResponderOptions opts;
  std::shared_ptr<const ResponseConfig> cfg;
  std::shared_ptr<StateStore> store;
  std::unique_ptr<AuditLog> audit;
  std::shared_ptr<actions::ManualClock> manual_clock;
  std::unique_ptr<CallDispatcher> dispatcher;
  bool manual = false;

  // Guards everything below it, except the inbox group and `stopped`. A
  // std::recursive_mutex (common/mutex.h has no annotated recursive mutex),
  // so what it guards carries no annotations.
  mutable std::recursive_mutex mu;
  std::int64_t now = 0;  // manual clock time; wall: set at each processing pass
  std::int64_t last_pass_ms = 0;  // wall: `now` of WallLoop's last pass
  std::uint64_t backward_steps_logged = 0;
  std::uint64_t next_seq = 1;
  std::map<TimerKey, std::function<void()>> timers;
  std::map<std::string, Incident> incidents;  // by fingerprint
  std::map<std::string, Group> groups;        // by route id + group key
  std::map<std::string, NflogEntry> nflog;    // by am key + "/" + receiver
  actions::Inhibitor inhibitor{{}};
  std::unique_ptr<SilenceStore> silences;
  std::unique_ptr<AckStore> acks;
  ResponderStats stats;
  std::mt19937_64 rng;
  bool restored_pending = false;
  // A wall-clock pass writes its records under one GroupSyncScope and holds
  // its calls until they are synced: each step is on disk before it runs,
  // with one sync per file per pass rather than one per record.
  struct HeldCall {
    Call call;
    std::function<void(const CallOutcome&)> done;
  };
  bool holding_calls = false;
  std::vector<HeldCall> held_calls;

  // The inbox: alerts from the engine, handler completions, retry wake-ups.
  Mutex inbox_mu;
  CondVar inbox_cv;
  std::deque<AlertEvent> inbox NIMIFY_GUARDED_BY(inbox_mu);
  std::deque<std::function<void()>> completions NIMIFY_GUARDED_BY(inbox_mu);
  std::vector<std::int64_t> retry_wakeups NIMIFY_GUARDED_BY(inbox_mu);
  bool wake NIMIFY_GUARDED_BY(inbox_mu) = false;
  bool stopping NIMIFY_GUARDED_BY(inbox_mu) = false;
  std::atomic<std::uint64_t> outstanding{0};  // calls submitted, completion not applied

  std::thread wall_thread;
  Mutex stop_mu;
  bool stopped NIMIFY_GUARDED_BY(stop_mu) = false;
  std::shared_ptr<Forwarder> forwarder;
  Engine* engine = nullptr;
  HandlerId engine_handler = 0;

  // ---- helpers -------------------------------------------------------------

  std::int64_t Now() const { return now; }

  // Forward steps of the wall clock after `t`: taken out of delays (escalations,
  // group timers) and windows (budgets, cooldowns, breakers), so that they
  // count real time (docs/daemon.md, "Time"). The manual clock has no steps.
  std::int64_t StepsAfter(std::int64_t t) const {
    return manual ? 0 : internal::ForwardStepsAfter(t);
  }

  void Log(LogLevel level, std::string_view msg) const {
    if (opts.log) opts.log(level, msg);
  }

  std::string NewId() {
    std::uniform_int_distribution<std::uint64_t> dist;
    const std::uint64_t a = dist(rng);
    const std::uint64_t b = dist(rng);
    char buf[40];
    std::snprintf(buf, sizeof(buf), "%08x-%04x-4%03x-%04x-%012llx",
                  static_cast<unsigned>(a >> 32), static_cast<unsigned>((a >> 16) & 0xffff),
                  static_cast<unsigned>(a & 0xfff),
                  static_cast<unsigned>(0x8000 | ((b >> 48) & 0x3fff)),
                  static_cast<unsigned long long>(b & 0xffffffffffffULL));
    return buf;
  }

  void Schedule(std::int64_t at, std::function<void()> fn, std::uint64_t* seq_out = nullptr) {
    const std::uint64_t seq = next_seq++;
    timers.emplace(TimerKey{at, seq}, std::move(fn));
    if (seq_out != nullptr) *seq_out = seq;
    if (!manual) {
      MutexLock lock(inbox_mu);
      wake = true;
      inbox_cv.NotifyAll();
    }
  }

  void Put(const std::string& key, const std::string& value) {
    Result<std::uint64_t> r = store->Put(key, value);
    if (!r.ok()) {
      ++stats.state_write_failures;
      Log(LogLevel::kError, "state store: " + std::string(r.status().message()));
    }
  }
  std::string GetValue(const std::string& key) {
    Result<std::optional<StoredValue>> r = store->Get(key);
    if (!r.ok() || !r->has_value()) return "";
    return (*r)->value;
  }

  void Emit(Decision d) {
    d.ts_ms = now;
    audit->Record(d);
    if (opts.on_decision) {
      try {
        opts.on_decision(d);
      } catch (...) {
        Log(LogLevel::kError, "on_decision threw");
      }
    }
  }

  Decision AlertDecision(const Incident& inc, std::string kind) const {
    Decision d;
    d.kind = std::move(kind);
    d.alertname = AlertName(inc.alert.labels);
    d.labels = inc.alert.labels;
    d.fingerprint = inc.alert.fingerprint;
    return d;
  }

  bool DryRunFor(const actions::HandlerSpec& h) const {
    return opts.force_dry_run || cfg->dry_run || h.dry_run.value_or(false);
  }

  void SaveIncident(const Incident& inc) { Put("alert/" + inc.alert.fingerprint, inc.Encode()); }

  bool IsAcked(const Incident& inc) {
    return !acks->Covering(inc.alert.fingerprint, inc.alert.labels, now).empty();
  }

  // Runs on every alert event. It used to copy every firing incident's labels
  // even without inhibit rules, so each event cost more with every incident
  // open (a third of the responder's CPU with 200 alerts firing).
  void RefreshInhibitor() {
    if (inhibitor.rules().empty()) return;
    std::vector<const OwnedLabels*> firing;
    for (const auto& [fp, inc] : incidents) {
      if (inc.firing) firing.push_back(&inc.alert.labels);
    }
    inhibitor.SetFiringFrom(firing);
  }

  // Silence and inhibition check now; decisions once per alert per silence.
  bool Suppressed(Incident& inc) {
    inc.silenced_by = silences->Matching(inc.alert.labels, now);
    for (const std::string& id : inc.silenced_by) {
      silences->NoteSilenced(id, inc.alert.fingerprint);
      if (inc.silence_reported.insert(id).second) {
        Decision d = AlertDecision(inc, "silenced");
        d.detail = "silence " + id;
        Emit(d);
      }
    }
    inc.inhibited_by.clear();
    if (inc.firing) {
      for (std::uint64_t f : inhibitor.InhibitedBy(inc.alert.labels)) {
        inc.inhibited_by.push_back(actions::FingerprintString(f));
      }
    }
    if (!inc.inhibited_by.empty() && !inc.inhibit_reported) {
      inc.inhibit_reported = true;
      Decision d = AlertDecision(inc, "inhibited");
      d.detail = "inhibited by " + inc.inhibited_by.front();
      Emit(d);
    }
    if (inc.inhibited_by.empty()) inc.inhibit_reported = false;
    return !inc.silenced_by.empty() || !inc.inhibited_by.empty();
  }

  tmpl::Value TemplateData(const Incident& inc, const std::string& receiver) {
    AlertSnapshot alert = inc.alert;
    alert.state = inc.firing ? AlertState::kFiring : AlertState::kResolved;
    return actions::MakeTemplateData(alert, receiver, inc.view, inc.results);
  }

  // ---- handler calls --------------------------------------------------------

  // Submits a call; `done` runs under the lock when the completion is applied.
  // `rendered`: what Render() said; the attempt records carry it as detail.
  void Submit(const actions::HandlerSpec& h, ActionRequest request, std::string order_key,
              std::function<void(const CallOutcome&)> done, std::string rendered = "") {
    Call call;
    call.handler = h.instance;
    call.handler_name = h.name;
    call.limits.timeout = std::chrono::milliseconds(h.timeout_ms);
    call.limits.attempts = h.retry.attempts;
    call.limits.initial_backoff = std::chrono::milliseconds(h.retry.initial_backoff_ms);
    call.limits.max_backoff = std::chrono::milliseconds(h.retry.max_backoff_ms);
    call.limits.concurrency = h.concurrency;
    request.timeout = call.limits.timeout;
    request.now_ms = now;
    call.order_key = std::move(order_key);
    Decision attempt_base;
    if (!request.alerts.empty()) {
      attempt_base.fingerprint = request.alerts[0].fingerprint;
      attempt_base.alertname = AlertName(request.alerts[0].labels);
      attempt_base.labels = request.alerts[0].labels;
    }
    attempt_base.kind = "attempt";
    attempt_base.receiver = request.receiver;
    attempt_base.response = request.response;
    attempt_base.step = request.step;
    attempt_base.handler = h.name;
    attempt_base.detail = std::move(rendered);
    call.request = std::move(request);
    AuditLog* audit_log = audit.get();
    CallDispatcher* disp = dispatcher.get();
    call.on_attempt = [this, attempt_base, audit_log, disp](const actions::AttemptReport& r) {
      Decision d = attempt_base;
      d.ts_ms = disp->now_ms();
      d.attempt = r.attempt;
      d.outcome = r.result.outcome == ActionOutcome::kSuccess ? "ran" : "failed";
      d.summary = r.result.summary + (r.will_retry ? " (retrying)" : "");
      d.exit_status = r.result.exit_status;
      d.http_status = r.result.http_status;
      d.duration = std::chrono::duration_cast<std::chrono::milliseconds>(r.duration);
      d.output = Excerpt(r.result.output, kOutputExcerpt);
      audit_log->Record(d);
      MutexLock lock(inbox_mu);
      if (r.will_retry) retry_wakeups.push_back(r.retry_at_ms);
      wake = true;
      inbox_cv.NotifyAll();
    };
    call.on_done = [this, done = std::move(done)](const CallOutcome& o) {
      MutexLock lock(inbox_mu);
      completions.push_back([done, o] { done(o); });
      wake = true;
      inbox_cv.NotifyAll();
    };
    ++outstanding;
    ++stats.in_flight;
    if (holding_calls) {
      held_calls.push_back(HeldCall{std::move(call), std::move(done)});
      return;
    }
    SubmitToDispatcher(std::move(call), done);
  }

  void SubmitToDispatcher(Call call, const std::function<void(const CallOutcome&)>& done) {
    Status s = dispatcher->Submit(std::move(call));
    if (!s.ok()) {
      --outstanding;
      --stats.in_flight;
      CallOutcome o;
      o.result = ActionResult::Permanent(std::string(s.message()));
      o.abandoned = true;
      done(o);
    }
  }

  void ReleaseHeldCalls() {
    std::vector<HeldCall> calls;
    calls.swap(held_calls);
    for (HeldCall& c : calls) SubmitToDispatcher(std::move(c.call), c.done);
  }

  void ApplyCompletion(const std::function<void()>& fn) {
    --outstanding;
    if (stats.in_flight > 0) --stats.in_flight;
    try {
      fn();
    } catch (const std::exception& e) {
      Log(LogLevel::kError, std::string("completion threw: ") + e.what());
    }
  }

  // Sends a kIncidentUpdate to each handler of `names` that takes one.
  void IncidentUpdate(Incident& inc, const std::string& receiver,
                      const std::vector<std::string>& names, const std::string& event) {
    RefreshStatus(&inc);
    for (const std::string& name : names) {
      auto it = cfg->handlers.find(name);
      if (it == cfg->handlers.end()) continue;
      const actions::HandlerSpec& h = it->second;
      if (!h.instance->Accepts(ActionTrigger::kIncidentUpdate)) continue;
      ActionRequest req;
      req.trigger = ActionTrigger::kIncidentUpdate;
      req.receiver = receiver;
      req.event = event;
      req.alerts = {inc.alert};
      req.incident = inc.view;
      req.dry_run = DryRunFor(h);
      req.idempotency_key = inc.alert.fingerprint + "/" + std::to_string(inc.alert.starts_at_ms) +
                            "/" + receiver + "/" + name + "/" + event + "/" +
                            std::to_string(inc.view.steps.size());
      if (req.dry_run) continue;
      Submit(h, std::move(req), inc.alert.fingerprint, [](const CallOutcome&) {});
    }
  }

  void NotifyUpdate(Incident& inc, const std::string& event) {
    for (const std::string& r : inc.receivers) {
      if (inc.notified.count(r) == 0) continue;
      auto it = cfg->receivers.find(r);
      if (it != cfg->receivers.end()) IncidentUpdate(inc, r, it->second.notify, event);
    }
  }

  // ---- alerts in -------------------------------------------------------------

  void HandleEvent(const AlertEvent& e) {
    ++stats.alerts_received;
    const std::string fp = actions::FingerprintString(actions::Fingerprint(e.labels));
    Incident& inc = incidents[fp];
    inc.alert.fingerprint = fp;
    inc.alert.labels = e.labels;
    inc.alert.annotations = e.annotations;
    inc.alert.value = e.value;
    inc.alert.generator_url = e.generator_url;
    inc.updated_at_ms = now;
    inc.view.severity = LabelValueOf(e.labels, "severity");
    inc.view.eta = LabelValueOf(e.annotations, "eta");
    if (e.state == AlertState::kPending) {
      if (!inc.firing) inc.alert.state = AlertState::kPending;
      Decision d = AlertDecision(inc, "alert");
      d.state = "pending";
      Emit(d);
      return;
    }
    if (e.state == AlertState::kFiring) {
      const std::int64_t starts = e.fired_at_ms.value_or(e.eval_time_ms);
      // Firing again with no resolve in between continues the incident: after
      // a restart the engine can report a restored alert as newly firing
      // before its saved state is back (nimifyd's state_restore.h).
      const bool continuing = inc.ever_fired && inc.firing;
      const bool same_incident =
          continuing || (inc.ever_fired && inc.alert.starts_at_ms == starts);
      if (!same_incident || !inc.firing) {
        if (!same_incident) {
          // A new incident: forget the last one's progress.
          inc.step_running = false;
          inc.notified.clear();
          inc.levels_done.clear();
          inc.steps_done.clear();
          inc.results.clear();
          inc.queue.clear();
          inc.silence_reported.clear();
          inc.inhibit_reported = false;
          inc.view = IncidentView{};
          inc.view.severity = LabelValueOf(e.labels, "severity");
          inc.view.eta = LabelValueOf(e.annotations, "eta");
        }
        ++inc.generation;
      }
      inc.firing = true;
      inc.ever_fired = true;
      inc.alert.state = AlertState::kFiring;
      inc.alert.starts_at_ms = continuing ? std::min(inc.alert.starts_at_ms, starts) : starts;
      inc.alert.ends_at_ms = 0;
      Decision d = AlertDecision(inc, "alert");
      d.state = "firing";
      Emit(d);
      RefreshInhibitor();
      Admit(inc);
      SaveIncident(inc);
      return;
    }
    // Resolved.
    Decision d = AlertDecision(inc, "alert");
    d.state = "resolved";
    if (!inc.ever_fired || !inc.firing) {
      Emit(d);
      if (!inc.ever_fired) incidents.erase(fp);
      return;
    }
    inc.firing = false;
    inc.alert.state = AlertState::kResolved;
    inc.alert.ends_at_ms = e.resolved_at_ms.value_or(e.eval_time_ms);
    Emit(d);
    RefreshInhibitor();
    Resolve(inc);
  }

  // Routes a firing alert into its groups and arms its escalation timers.
  void Admit(Incident& inc) {
    inc.receivers.clear();
    if (cfg->route == nullptr) return;
    for (const Route* route : cfg->route->Match(inc.alert.labels)) {
      const std::string& receiver = route->options().receiver;
      if (std::find(inc.receivers.begin(), inc.receivers.end(), receiver) == inc.receivers.end()) {
        inc.receivers.push_back(receiver);
      }
      const std::string am_key = actions::GroupKey(*route, inc.alert.labels);
      const std::string key = route->id() + "\n" + am_key;
      auto [it, created] = groups.try_emplace(key);
      Group& g = it->second;
      g.alerts.insert(inc.alert.fingerprint);
      if (created) {
        g.route = route;
        g.receiver = receiver;
        g.group_labels = actions::GroupLabels(*route, inc.alert.labels);
        g.am_key = am_key;
        std::int64_t at = now + route->options().group_wait.count();
        // Alertmanager: an alert older than group_wait is flushed at once.
        if (inc.alert.starts_at_ms + route->options().group_wait.count() <= now) at = now;
        ArmFlush(key, at);
      }
    }
    (void)Suppressed(inc);
    ArmEscalations(inc);
  }

  void ArmFlush(const std::string& key, std::int64_t at) {
    Group& g = groups.at(key);
    g.next_flush = at;
    const std::uint64_t seq = next_seq;  // the one Schedule takes
    g.timer_seq = seq;
    Schedule(at, [this, key, seq] {
      auto it = groups.find(key);
      if (it != groups.end() && it->second.timer_seq == seq) FlushGroup(key);
    });
  }

  void ArmEscalations(Incident& inc) {
    for (const std::string& r : inc.receivers) {
      auto rit = cfg->receivers.find(r);
      if (rit == cfg->receivers.end() || rit->second.escalation.empty()) continue;
      const actions::EscalationSpec& esc = cfg->escalations.at(rit->second.escalation);
      for (std::size_t i = 0; i < esc.levels.size(); ++i) {
        if (inc.levels_done.count(r + "/" + std::to_string(i)) > 0) continue;
        // A delay from the alert's start: a forward step of the clock does not shorten it.
        const std::int64_t start = inc.alert.starts_at_ms;
        const std::int64_t at = std::max(now, start + esc.levels[i].after_ms + StepsAfter(start));
        const std::string fp = inc.alert.fingerprint;
        const std::uint64_t gen = inc.generation;
        Schedule(at, [this, fp, gen, r, i] { EscalationDue(fp, gen, r, i, false); });
      }
    }
  }

  void Resolve(Incident& inc) {
    // Steps not started are cancelled; the running one finishes.
    for (const QueuedStep& q : inc.queue) {
      Decision d = AlertDecision(inc, "step");
      d.receiver = q.receiver;
      d.response = q.response;
      d.step = q.step->name;
      d.handler = q.step->handler;
      d.outcome = "cancelled";
      d.detail = "the alert resolved before the step started";
      Emit(d);
      ++stats.steps_skipped;
    }
    inc.queue.clear();
    NotifyUpdate(inc, "resolved");
    for (const std::string& r : inc.receivers) {
      if (inc.notified.count(r) == 0) continue;
      for (const std::string& resp : cfg->receivers.at(r).responses) {
        for (const StepSpec& s : cfg->responses.at(resp).on_resolved) {
          inc.queue.push_back(QueuedStep{r, resp, &s, "resolved"});
        }
      }
    }
    acks->OnResolved(inc.alert.fingerprint, inc.alert.labels);
    inc.view.acknowledged_by.clear();
    inc.view.ack_comment.clear();
    auto is_firing = [this](std::string_view f) {
      auto it = incidents.find(std::string(f));
      return it != incidents.end() && it->second.firing;
    };
    silences->OnResolved(inc.alert.fingerprint, now, is_firing);
    SaveIncident(inc);
    RunNext(inc.alert.fingerprint);
  }

  // ---- group flushes -----------------------------------------------------------

  void FlushGroup(const std::string& key) {
    auto git = groups.find(key);
    if (git == groups.end()) return;
    Group& g = git->second;
    const actions::RouteOptions& ro = g.route->options();
    std::vector<Incident*> firing, resolved;
    for (const std::string& fp : g.alerts) {
      auto it = incidents.find(fp);
      if (it == incidents.end()) continue;
      Incident& inc = it->second;
      if (inc.firing && Suppressed(inc)) continue;
      if (!inc.firing && !inc.silenced_by.empty()) continue;
      (inc.firing ? firing : resolved).push_back(&inc);
    }
    const std::string log_key = g.am_key + "/" + g.receiver;
    const bool muted = cfg->time_intervals.IsMuted(ro.mute_time_intervals,
                                                   ro.active_time_intervals, now);
    if (muted && (!firing.empty() || !resolved.empty())) {
      Decision d;
      d.kind = "notify";
      d.receiver = g.receiver;
      GroupIdentity(g, firing, resolved, &d);
      d.outcome = "skipped_muted";
      d.detail = g.am_key;
      Emit(d);
    } else if (NeedsUpdate(log_key, firing, resolved, ro.repeat_interval.count())) {
      SendNotification(g, firing, resolved, log_key);
    }
    // Resolved alerts were included in this flush (or are silenced): drop them.
    for (auto it = g.alerts.begin(); it != g.alerts.end();) {
      auto inc = incidents.find(*it);
      if (inc == incidents.end() || !inc->second.firing) {
        it = g.alerts.erase(it);
      } else {
        ++it;
      }
    }
    g.flushed = true;
    if (g.alerts.empty()) {
      groups.erase(git);
      return;
    }
    ArmFlush(key, now + ro.group_interval.count());
  }

  // A notify decision names its group: the group labels, and the alertname
  // when every alert of the notification has the same one.
  static void GroupIdentity(const Group& g, const std::vector<Incident*>& firing,
                            const std::vector<Incident*>& resolved, Decision* d) {
    d->labels = g.group_labels;
    std::string name;
    bool single = true;
    for (const std::vector<Incident*>* list : {&firing, &resolved}) {
      for (const Incident* inc : *list) {
        const std::string n = AlertName(inc->alert.labels);
        if (name.empty()) name = n;
        single = single && n == name;
      }
    }
    if (single) d->alertname = name;
  }

  bool NeedsUpdate(const std::string& log_key, const std::vector<Incident*>& firing,
                   const std::vector<Incident*>& resolved, std::int64_t repeat_ms) {
    auto it = nflog.find(log_key);
    if (it == nflog.end()) return !firing.empty();
    const NflogEntry& e = it->second;
    for (const Incident* f : firing) {
      if (e.firing.count(f->alert.fingerprint) == 0) return true;
    }
    if (firing.empty()) return !e.firing.empty();
    for (const Incident* r : resolved) {
      if (e.resolved.count(r->alert.fingerprint) == 0) return true;
    }
    if (now < e.ts + repeat_ms) return false;
    // Repeats skip acknowledged alerts: repeat only for an unacknowledged one.
    for (Incident* f : firing) {
      if (!IsAcked(*f)) return true;
    }
    return false;
  }

  void SendNotification(Group& g, const std::vector<Incident*>& firing,
                        const std::vector<Incident*>& resolved, const std::string& log_key) {
    ++stats.notifications;
    NflogEntry& e = nflog[log_key];
    const bool repeat = !e.firing.empty() || !e.resolved.empty();
    Decision d;
    d.kind = "notify";
    d.receiver = g.receiver;
    GroupIdentity(g, firing, resolved, &d);
    d.detail = g.am_key + " firing=" + std::to_string(firing.size()) +
               " resolved=" + std::to_string(resolved.size());
    d.outcome = "ran";
    auto rit = cfg->receivers.find(g.receiver);
    const std::vector<std::string> no_handlers;
    const std::vector<std::string>& handlers =
        rit != cfg->receivers.end() ? rit->second.notify : no_handlers;
    bool dry = opts.force_dry_run || cfg->dry_run;
    d.dry_run = dry;
    if (dry) d.outcome = "planned";
    Emit(d);
    e.firing.clear();
    e.resolved.clear();
    for (const Incident* f : firing) e.firing.insert(f->alert.fingerprint);
    for (const Incident* r : resolved) e.resolved.insert(r->alert.fingerprint);
    e.ts = now;
    {
      std::string v = "{\"ts\":" + std::to_string(e.ts) + ",\"firing\":[";
      bool first = true;
      for (const std::string& f : e.firing) v += (first ? "" : ",") + ("\"" + f + "\""), first = false;
      v += "],\"resolved\":[";
      first = true;
      for (const std::string& f : e.resolved) v += (first ? "" : ",") + ("\"" + f + "\""), first = false;
      v += "]}";
      Put("nflog/" + log_key, v);
    }
    for (const std::string& name : handlers) {
      const actions::HandlerSpec& h = cfg->handlers.at(name);
      if (!h.instance->Accepts(ActionTrigger::kNotification) || DryRunFor(h)) continue;
      ActionRequest req;
      req.trigger = ActionTrigger::kNotification;
      req.receiver = g.receiver;
      req.event = firing.empty() ? "resolved" : (repeat ? "repeat" : "firing");
      for (const Incident* f : firing) req.alerts.push_back(f->alert);
      for (const Incident* r : resolved) req.alerts.push_back(r->alert);
      req.group_labels = g.group_labels;
      req.group_key = g.am_key;
      req.idempotency_key = g.am_key + "/" + g.receiver + "/" + std::to_string(now);
      Submit(h, std::move(req), "group:" + g.am_key, [](const CallOutcome&) {});
    }
    // Alerts notified for the first time on this receiver: fire the incident
    // and start the responses.
    for (Incident* f : firing) {
      if (f->notified.count(g.receiver) > 0) continue;
      f->notified.insert(g.receiver);
      IncidentUpdate(*f, g.receiver, handlers, "firing");
      if (rit != cfg->receivers.end()) {
        for (const std::string& resp : rit->second.responses) QueueResponse(*f, g.receiver, resp, "fire");
      }
      SaveIncident(*f);
      RunNext(f->alert.fingerprint);
    }
  }

  void QueueResponse(Incident& inc, const std::string& receiver, const std::string& response,
                     const std::string& occasion) {
    const actions::ResponseSpec& spec = cfg->responses.at(response);
    for (const StepSpec& s : spec.steps) {
      QueuedStep q{receiver, response, &s, occasion};
      if (inc.steps_done.count(q.DoneKey()) > 0) continue;
      inc.queue.push_back(std::move(q));
    }
  }

  // ---- escalation ---------------------------------------------------------------

  void EscalationDue(const std::string& fp, std::uint64_t gen, const std::string& receiver,
                     std::size_t level, bool now_forced) {
    auto it = incidents.find(fp);
    if (it == incidents.end()) return;
    Incident& inc = it->second;
    if (!inc.firing || inc.generation != gen) return;
    const std::string mark = receiver + "/" + std::to_string(level);
    if (inc.levels_done.count(mark) > 0) return;
    if (!now_forced && (IsAcked(inc) || Suppressed(inc))) return;
    const actions::EscalationSpec& esc =
        cfg->escalations.at(cfg->receivers.at(receiver).escalation);
    const actions::EscalationLevelSpec& l = esc.levels[level];
    inc.levels_done.insert(mark);
    Put("escalation/" + fp + "/" + mark, std::to_string(now));
    SaveIncident(inc);
    ++stats.escalations;
    Decision d = AlertDecision(inc, "escalate");
    d.receiver = receiver;
    d.target = l.target;
    d.detail = "level " + std::to_string(level + 1) + " of " + esc.name;
    d.dry_run = opts.force_dry_run || cfg->dry_run;
    Emit(d);
    inc.view.escalated_to = l.target;
    IncidentUpdate(inc, receiver, l.notify, "escalated");
    for (const std::string& resp : l.responses) {
      QueueResponse(inc, receiver, resp, "escalation/" + std::to_string(level));
    }
    RunNext(fp);
  }

  // Jumps to the next escalation level of every receiver of the alert now.
  void EscalateNow(Incident& inc) {
    for (const std::string& r : inc.receivers) {
      auto rit = cfg->receivers.find(r);
      if (rit == cfg->receivers.end() || rit->second.escalation.empty()) continue;
      const actions::EscalationSpec& esc = cfg->escalations.at(rit->second.escalation);
      for (std::size_t i = 0; i < esc.levels.size(); ++i) {
        if (inc.levels_done.count(r + "/" + std::to_string(i)) == 0) {
          EscalationDue(inc.alert.fingerprint, inc.generation, r, i, true);
          break;
        }
      }
    }
  }

  // ---- steps -----------------------------------------------------------------------

  Decision StepDecision(const Incident& inc, const QueuedStep& q) const {
    Decision d = AlertDecision(inc, "step");
    d.receiver = q.receiver;
    d.response = q.response;
    d.step = q.step->name;
    d.handler = q.step->handler;
    return d;
  }

  void RunNext(const std::string& fp) {
    auto it = incidents.find(fp);
    if (it == incidents.end()) return;
    Incident& inc = it->second;
    while (!inc.step_running && !inc.queue.empty()) {
      QueuedStep q = inc.queue.front();
      inc.queue.pop_front();
      inc.step_running = true;
      StartStep(inc, q);
      // StartStep may finish synchronously; `inc` stays valid (map node).
    }
  }

  // Records the step's end and runs what follows it.
  void FinishStep(Incident& inc, const QueuedStep& q, const std::string& outcome,
                  const std::string& summary, const std::string& output, int exit_status,
                  bool failed) {
    actions::StepResult& r = inc.results[q.step->name];
    r.output = output;
    r.exit_status = exit_status;
    r.outcome = outcome;
    inc.steps_done.insert(q.DoneKey());
    if (outcome != "manual") {
      StepReport report;
      report.response = q.response;
      report.step = q.step->name;
      report.handler = q.step->handler;
      report.outcome = outcome;
      report.summary = summary;
      if (q.step->attach) report.attachment = Excerpt(output, kAttachCap);
      report.at_ms = now;
      inc.view.steps.push_back(std::move(report));
    }
    SaveIncident(inc);
    if (failed && !q.step->on_failure.empty()) {
      // on_failure steps run next, before the rest of the response.
      for (auto s = q.step->on_failure.rbegin(); s != q.step->on_failure.rend(); ++s) {
        inc.queue.push_front(QueuedStep{q.receiver, q.response, &*s, q.occasion});
      }
    }
    if (outcome != "manual" && outcome != "skipped_condition") {
      NotifyUpdate(inc, "step");
    }
    inc.step_running = false;
    RunNext(inc.alert.fingerprint);
  }

  // Condition of `when`: true, false, or an error.
  Result<bool> Condition(const Incident& inc, const actions::ConditionSpec& c) {
    using K = actions::ConditionSpec::Kind;
    switch (c.kind) {
      case K::kNone: return true;
      case K::kExpr: return Query(c.expr);
      case K::kOutputMatches: {
        auto it = inc.results.find(c.step);
        if (it == inc.results.end()) return false;
        return RE2::PartialMatch(it->second.output, *c.output_re);
      }
      case K::kExitStatus: {
        auto it = inc.results.find(c.step);
        return it != inc.results.end() && it->second.exit_status == c.exit_status;
      }
    }
    return false;
  }

  Result<bool> Query(const std::string& expr) {
    if (!opts.query) return Status::FailedPrecondition("no query function (Attach an engine)");
    Result<QueryResult> r = Status::Internal("no result");
    try {
      r = opts.query(expr, now);
    } catch (const std::exception& e) {
      return Status::Internal(std::string("query threw: ") + e.what());
    }
    if (!r.ok()) return r.status();
    switch (r->type) {
      case QueryValueType::kScalar: return r->scalar.value != 0;
      case QueryValueType::kVector:
      case QueryValueType::kMatrix: return !r->series.empty();
      case QueryValueType::kString: return !r->string_value.empty();
    }
    return false;
  }

  // Budget, cooldown and breaker state of a remediation target.
  std::vector<std::int64_t> Window(const std::string& key, std::int64_t per_ms) {
    std::vector<std::int64_t> ts = ParseTimes(GetValue(key));
    ts.erase(std::remove_if(ts.begin(), ts.end(),
                            [&](std::int64_t t) { return t + StepsAfter(t) <= now - per_ms; }),
             ts.end());
    return ts;
  }

  bool BreakerOpen(const std::string& target) {
    if (cfg->breaker.failures == 0) return false;
    const std::string v = GetValue("breaker/" + target);
    rapidjson::Document d;
    if (v.empty() || d.Parse(v.c_str()).HasParseError() || !d.IsObject()) return false;
    auto it = d.FindMember("openUntil");
    return it != d.MemberEnd() && it->value.IsInt64() && now < it->value.GetInt64();
  }

  void BreakerFailure(const std::string& target) {
    if (cfg->breaker.failures == 0 || target.empty()) return;
    const std::string key = "breaker/" + target;
    const std::string v = GetValue(key);
    rapidjson::Document d;
    std::vector<std::int64_t> failures;
    std::int64_t open_until = 0;
    if (!v.empty() && !d.Parse(v.c_str()).HasParseError() && d.IsObject()) {
      if (auto f = d.FindMember("failures"); f != d.MemberEnd() && f->value.IsArray()) {
        for (const auto& x : f->value.GetArray()) {
          const std::int64_t t = x.IsInt64() ? x.GetInt64() : 0;
          const bool in_window = t + StepsAfter(t) > now - cfg->breaker.window_ms;
          if (x.IsInt64() && in_window) failures.push_back(t);
        }
      }
      if (auto o = d.FindMember("openUntil"); o != d.MemberEnd() && o->value.IsInt64()) {
        open_until = o->value.GetInt64();
      }
    }
    failures.push_back(now);
    if (static_cast<std::int64_t>(failures.size()) >= cfg->breaker.failures) {
      open_until = now + cfg->breaker.open_for_ms;
      failures.clear();
    }
    Put(key, "{\"failures\":" + JoinTimes(failures) + ",\"openUntil\":" + std::to_string(open_until) + "}");
  }

  void StartStep(Incident& inc, const QueuedStep& q) {
    const StepSpec& s = *q.step;
    Decision d = StepDecision(inc, q);
    if (!s.manual.empty()) {
      Result<std::string> text = s.manual_text ? s.manual_text->Execute(TemplateData(inc, q.receiver))
                                               : Result<std::string>(s.manual);
      if (!text.ok()) {
        d.outcome = "failed";
        d.detail = "manual: " + std::string(text.status().message());
        Emit(d);
        ++stats.steps_failed;
        FinishStep(inc, q, "failed", d.detail, "", -1, true);
        return;
      }
      d.outcome = "manual";
      d.detail = *text;
      Emit(d);
      inc.view.manual_steps.push_back(*text);
      FinishStep(inc, q, "manual", *text, "", -1, false);
      return;
    }
    if (s.escalate) {
      EscalateNow(inc);
      FinishStep(inc, q, "ran", "escalated", "", -1, false);
      return;
    }
    Result<bool> cond = Condition(inc, s.when);
    if (!cond.ok()) {
      d.outcome = "failed";
      d.detail = "when: " + std::string(cond.status().message());
      Emit(d);
      ++stats.steps_failed;
      FinishStep(inc, q, "failed", d.detail, "", -1, true);
      return;
    }
    if (!*cond) {
      d.outcome = "skipped_condition";
      d.detail = s.when.Describe();
      Emit(d);
      ++stats.steps_skipped;
      FinishStep(inc, q, "skipped_condition", "condition false", "", -1, false);
      return;
    }
    const actions::HandlerSpec& h = cfg->handlers.at(s.handler);
    const tmpl::Value data = TemplateData(inc, q.receiver);
    Result<ConfigNode> params = s.with.Render(data);
    std::string target;
    if (params.ok() && s.remediation) {
      Result<std::string> t = s.remediation->target.Execute(data);
      if (t.ok()) {
        target = *t;
      } else {
        params = t.status();
      }
    }
    if (!params.ok()) {
      d.outcome = "failed";
      d.detail = std::string(params.status().message());
      Emit(d);
      ++stats.steps_failed;
      FinishStep(inc, q, "failed", d.detail, "", -1, true);
      return;
    }
    d.target = target;
    const bool dry = DryRunFor(h);
    d.dry_run = dry;
    if (s.remediation) {
      if (BreakerOpen(target)) {
        d.outcome = "breaker_open";
        d.detail = "automatic fixes for " + target + " are stopped";
        Emit(d);
        ++stats.steps_skipped;
        FinishStep(inc, q, "breaker_open", d.detail, "", -1, false);
        EscalateNow(inc);
        return;
      }
      if (cfg->max_remediations &&
          static_cast<std::int64_t>(Window("budget/_global", cfg->max_remediations->per_ms).size()) >=
              cfg->max_remediations->max) {
        d.outcome = "skipped_budget";
        d.detail = "global max_remediations exhausted";
        Emit(d);
        ++stats.steps_skipped;
        FinishStep(inc, q, "skipped_budget", d.detail, "", -1, false);
        return;
      }
      if (!s.remediation->budget.empty()) {
        const actions::BudgetSpec& b = cfg->budgets.at(s.remediation->budget);
        if (static_cast<std::int64_t>(
                Window("budget/" + s.remediation->budget + "/" + target, b.per_ms).size()) >= b.max) {
          d.outcome = "skipped_budget";
          d.detail = "budget " + s.remediation->budget + " exhausted for " + target;
          Emit(d);
          ++stats.steps_skipped;
          FinishStep(inc, q, "skipped_budget", d.detail, "", -1, false);
          return;
        }
      }
      if (s.remediation->cooldown_ms > 0) {
        const std::string last = GetValue("cooldown/" + target);
        const std::int64_t last_ms = last.empty() ? 0 : std::strtoll(last.c_str(), nullptr, 10);
        if (!last.empty() && now - StepsAfter(last_ms) < last_ms + s.remediation->cooldown_ms) {
          d.outcome = "skipped_cooldown";
          d.detail = "cooldown for " + target + " until " +
                     std::to_string(last_ms + s.remediation->cooldown_ms);
          Emit(d);
          ++stats.steps_skipped;
          FinishStep(inc, q, "skipped_cooldown", d.detail, "", -1, false);
          return;
        }
      }
    }
    ActionRequest req;
    req.trigger = ActionTrigger::kStep;
    req.receiver = q.receiver;
    req.response = q.response;
    req.step = s.name;
    req.event = "step";
    req.alerts = {inc.alert};
    RefreshStatus(&inc);
    req.incident = inc.view;
    {
      std::vector<ConfigNode::Entry> entries = params->entries();
      entries.emplace_back("__template", s.with.source);
      req.params = ConfigNode::Map(std::move(entries), params->position());
    }
    req.dry_run = dry;
    req.now_ms = now;
    req.idempotency_key = inc.alert.fingerprint + "/" + std::to_string(inc.alert.starts_at_ms) + "/" +
                          q.DoneKey();
    Result<std::string> rendered = Status::Internal("");
    try {
      rendered = h.instance->Render(req);
    } catch (const std::exception& e) {
      rendered = Status::Internal(std::string("Render threw: ") + e.what());
    } catch (...) {
      rendered = Status::Internal("Render threw");
    }
    if (!rendered.ok()) {
      d.outcome = "refused";
      d.detail = std::string(rendered.status().message());
      Emit(d);
      ++stats.steps_failed;
      FinishStep(inc, q, "refused", d.detail, "", -1, true);
      return;
    }
    d.detail = *rendered;
    if (dry) {
      d.outcome = "planned";
      d.summary = "dry-run: not run";
      Emit(d);
      ++stats.steps_planned;
      AfterRun(inc, q, "planned", "dry-run: " + *rendered, "", -1, false);
      return;
    }
    // The decision to run is audited before the call starts.
    d.outcome = "started";
    audit->Record([&] {
      Decision a = d;
      a.ts_ms = now;
      return a;
    }());
    if (s.remediation) {
      if (cfg->max_remediations) {
        std::vector<std::int64_t> ts = Window("budget/_global", cfg->max_remediations->per_ms);
        ts.push_back(now);
        Put("budget/_global", JoinTimes(ts));
      }
      if (!s.remediation->budget.empty()) {
        const std::string key = "budget/" + s.remediation->budget + "/" + target;
        std::vector<std::int64_t> ts = Window(key, cfg->budgets.at(s.remediation->budget).per_ms);
        ts.push_back(now);
        Put(key, JoinTimes(ts));
      }
      if (s.remediation->cooldown_ms > 0) Put("cooldown/" + target, std::to_string(now));
    }
    ++stats.steps_run;
    const std::string fp = inc.alert.fingerprint;
    const std::uint64_t gen = inc.generation;
    const std::string rendered_text = *rendered;
    Submit(h, std::move(req), fp, [this, fp, gen, q, d, target](const CallOutcome& o) {
      auto it = incidents.find(fp);
      if (it == incidents.end() || it->second.generation != gen) return;
      Incident& inc2 = it->second;
      Decision done = d;
      const bool ok = o.result.outcome == ActionOutcome::kSuccess;
      done.outcome = ok ? "ran" : "failed";
      done.exit_status = o.result.exit_status;
      done.http_status = o.result.http_status;
      done.attempt = o.attempts;
      done.duration = std::chrono::duration_cast<std::chrono::milliseconds>(o.duration);
      done.output = Excerpt(o.result.output, kOutputExcerpt);
      done.summary = o.result.summary;  // detail stays the Render() text
      Emit(done);
      if (!ok) {
        ++stats.steps_failed;
        if (q.step->remediation) BreakerFailure(target);
      }
      AfterRun(inc2, q, done.outcome, o.result.summary, o.result.output, o.result.exit_status, !ok,
               target);
    }, rendered_text);
  }

  // After a step ran (or was planned): verify, then finish.
  void AfterRun(Incident& inc, const QueuedStep& q, const std::string& outcome,
                const std::string& summary, const std::string& output, int exit_status,
                bool failed, const std::string& target = "") {
    if (failed || !q.step->verify) {
      FinishStep(inc, q, outcome, summary, output, exit_status, failed);
      return;
    }
    const std::int64_t started = now;
    ScheduleVerify(inc.alert.fingerprint, inc.generation, q, started, 1, outcome, summary, output,
                   exit_status, target);
  }

  void ScheduleVerify(const std::string& fp, std::uint64_t gen, const QueuedStep& q,
                      std::int64_t started, std::int64_t k, std::string outcome, std::string summary,
                      std::string output, int exit_status, std::string target) {
    const actions::VerifySpec& v = *q.step->verify;
    Schedule(started + k * v.every_ms, [=, this] {
      auto it = incidents.find(fp);
      if (it == incidents.end() || it->second.generation != gen) return;
      Incident& inc = it->second;
      Result<bool> ok = Query(v.expr);
      const bool last = (k + 1) * v.every_ms > v.within_ms;
      if (ok.ok() && *ok) {
        Decision d = StepDecision(inc, q);
        d.kind = "verify";
        d.outcome = "recovered";
        d.target = target;
        d.detail = v.expr;
        Emit(d);
        FinishStep(inc, q, outcome, summary, output, exit_status, false);
        return;
      }
      if (!last) {
        ScheduleVerify(fp, gen, q, started, k + 1, outcome, summary, output, exit_status, target);
        return;
      }
      Decision d = StepDecision(inc, q);
      d.kind = "verify";
      d.outcome = "not_recovered";
      d.target = target;
      d.detail = ok.ok() ? v.expr : v.expr + ": " + std::string(ok.status().message());
      Emit(d);
      if (q.step->remediation) BreakerFailure(target);
      FinishStep(inc, q, outcome, summary + "; not recovered", output, exit_status, true);
    });
  }

  // ---- restore -------------------------------------------------------------------

  Status Restore() {
    NIMIFY_RETURN_IF_ERROR(silences->Load());
    NIMIFY_RETURN_IF_ERROR(acks->Load());
    NIMIFY_ASSIGN_OR_RETURN(std::vector<StoredValue> nf, store->List("nflog/"));
    for (const StoredValue& v : nf) {
      rapidjson::Document d;
      if (d.Parse(v.value.c_str(), v.value.size()).HasParseError() || !d.IsObject()) continue;
      NflogEntry e;
      if (auto t = d.FindMember("ts"); t != d.MemberEnd() && t->value.IsInt64()) e.ts = t->value.GetInt64();
      for (const char* k : {"firing", "resolved"}) {
        auto a = d.FindMember(k);
        if (a == d.MemberEnd() || !a->value.IsArray()) continue;
        for (const auto& x : a->value.GetArray()) {
          if (x.IsString()) (k[0] == 'f' ? e.firing : e.resolved).insert(x.GetString());
        }
      }
      nflog[v.key.substr(6)] = std::move(e);
    }
    NIMIFY_ASSIGN_OR_RETURN(std::vector<StoredValue> alerts, store->List("alert/"));
    for (const StoredValue& v : alerts) {
      Incident inc;
      if (!inc.Decode(v.value) || !inc.firing) continue;
      inc.generation = 1;
      std::string fp = inc.alert.fingerprint;
      incidents[fp] = std::move(inc);
    }
    restored_pending = !incidents.empty();
    return Status::Ok();
  }

  // At the first processing pass: put restored alerts back into their groups,
  // re-arm escalation timers and resume unfinished responses.
  void ResumeRestored() {
    if (!restored_pending) return;
    restored_pending = false;
    RefreshInhibitor();
    for (auto& [fp, inc] : incidents) {
      if (!inc.firing) continue;
      Admit(inc);
      for (const std::string& r : inc.receivers) {
        if (inc.notified.count(r) == 0) continue;
        for (const std::string& resp : cfg->receivers.at(r).responses) QueueResponse(inc, r, resp, "fire");
      }
      RunNext(fp);
    }
  }

  // ---- the clock ------------------------------------------------------------------

  // Moves queued alerts into the timeline.
  void DrainInbox(std::int64_t up_to, bool all) {
    std::deque<AlertEvent> events;
    std::vector<std::int64_t> wakeups;
    {
      MutexLock lock(inbox_mu);
      while (!inbox.empty() && (all || inbox.front().eval_time_ms <= up_to)) {
        events.push_back(std::move(inbox.front()));
        inbox.pop_front();
      }
      wakeups.swap(retry_wakeups);
    }
    for (AlertEvent& e : events) {
      const std::int64_t at = manual ? std::max(now, e.eval_time_ms) : now;
      Schedule(at, [this, e = std::move(e)] { HandleEvent(e); });
    }
    for (std::int64_t w : wakeups) {
      Schedule(std::max(now, w), [this, w] { dispatcher->AdvanceTo(w); });
    }
  }

  // Applies finished calls; manual mode first waits (bounded) for calls in flight.
  void Settle() {
    for (;;) {
      if (manual && outstanding.load() > 0) (void)dispatcher->WaitIdle(kSettleWait);
      std::deque<std::function<void()>> done;
      {
        MutexLock lock(inbox_mu);
        done.swap(completions);
      }
      DrainInbox(now, !manual);
      if (done.empty()) return;
      for (auto& fn : done) ApplyCompletion(fn);
    }
  }

  void SetNow(std::int64_t t) {
    if (t > now) now = t;
    if (manual_clock) manual_clock->Set(now);
  }

  // Manual: runs everything due up to t in time order.
  void Advance(std::int64_t t) {
    if (restored_pending) {
      // Restored state resumes at the first instant the responder sees.
      std::int64_t first = t;
      {
        MutexLock lock(inbox_mu);
        if (!inbox.empty()) first = std::min(first, inbox.front().eval_time_ms);
      }
      SetNow(first);
      ResumeRestored();
    }
    DrainInbox(t, false);
    Settle();
    for (;;) {
      DrainInbox(t, false);
      auto it = timers.begin();
      if (it == timers.end() || it->first.at > t) break;
      SetNow(it->first.at);
      dispatcher->AdvanceTo(now);
      std::function<void()> fn = std::move(it->second);
      timers.erase(it);
      fn();
      Settle();
    }
    SetNow(t);
    dispatcher->AdvanceTo(now);
    Settle();
  }

  // A forward step of the wall clock since `previous` (the last pass): timers
  // not yet due then are delays, so they move with the step; due ones run now.
  // A backward step never reaches here: the guarded clock does not go back.
  void ShiftTimersAfterStep(std::int64_t previous) {
    const internal::WallClockSteps seen = internal::WallClockStepCounts();
    if (seen.backward > backward_steps_logged) {
      backward_steps_logged = seen.backward;
      Log(LogLevel::kWarn, "the wall clock stepped back: nimifyd's clock does not, it runs on " +
                               std::to_string(internal::GuardedWallClockAheadMs()) +
                               " ms ahead of the wall clock until restart");
    }
    const std::int64_t step = StepsAfter(previous);
    if (step <= 0) return;
    Log(LogLevel::kWarn, "the wall clock stepped forward by " + std::to_string(step) +
                             " ms: timers, escalations and budget windows keep real-time delays");
    std::map<TimerKey, std::function<void()>> moved;
    for (auto& [key, fn] : timers) {
      moved.emplace(TimerKey{key.at > previous ? key.at + step : key.at, key.seq}, std::move(fn));
    }
    timers.swap(moved);
  }

  void WallLoop() {
    for (;;) {
      {
        // Lock order: mu is never taken while inbox_mu is held.
        std::int64_t next = std::numeric_limits<std::int64_t>::max();
        {
          std::lock_guard<std::recursive_mutex> l2(mu);
          if (!timers.empty()) next = timers.begin()->first.at;
        }
        MutexLock lock(inbox_mu);
        if (stopping) return;
        const std::int64_t wall = WallNowMs();
        if (!wake && inbox.empty() && completions.empty() && next > wall) {
          const auto wait = std::chrono::milliseconds(std::min<std::int64_t>(next - wall, 1000));
          // One wait, timed out or woken: the outer loop checks again.
          (void)inbox_cv.WaitFor(inbox_mu, wait);
        }
        wake = false;
        if (stopping) return;
      }
      std::lock_guard<std::recursive_mutex> lock(mu);
      actions::GroupSyncScope group_sync;
      holding_calls = true;
      now = WallNowMs();
      if (last_pass_ms > 0) ShiftTimersAfterStep(last_pass_ms);
      last_pass_ms = now;
      ResumeRestored();
      DrainInbox(now, true);
      Settle();
      for (;;) {
        auto it = timers.begin();
        if (it == timers.end() || it->first.at > now) break;
        std::function<void()> fn = std::move(it->second);
        timers.erase(it);
        fn();
        Settle();
      }
      // A failed sync is the store's to report (unwritable, logged, in
      // /metrics); the calls run as they would after a failed write.
      (void)group_sync.Commit();
      holding_calls = false;
      ReleaseHeldCalls();
    }
  }
};

// ---- public methods ---------------------------------------------------------

Responder::Responder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Responder::~Responder() { (void)Stop(std::chrono::seconds(1)); }

Result<std::shared_ptr<Responder>> Responder::Create(const ConfigNode& config,
                                                     ResponderOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->manual = options.clock == ResponderClock::kManual;
  impl->store = options.store;
  if (impl->store == nullptr) {
    Impl* raw = impl.get();
    impl->store = NewMemoryStateStore(
        impl->manual ? std::function<std::int64_t()>([raw] { return raw->manual_clock->now_ms(); })
                     : nullptr);
  }
  if (impl->manual) impl->manual_clock = std::make_shared<actions::ManualClock>(0);
  actions::LoadContext ctx;
  ctx.registry = options.registry;
  ctx.store = impl->store.get();
  ctx.log = options.log;
  ctx.force_dry_run = options.force_dry_run;
  NIMIFY_ASSIGN_OR_RETURN(impl->cfg, actions::LoadResponseConfig(config, ctx));
  impl->opts = std::move(options);
  impl->rng.seed(impl->opts.seed != 0 ? impl->opts.seed : std::random_device{}());
  impl->audit = std::make_unique<AuditLog>(impl->store.get(), impl->opts.log);
  Impl* raw = impl.get();
  impl->silences = std::make_unique<SilenceStore>(impl->store.get(), [raw] { return raw->NewId(); });
  impl->acks = std::make_unique<AckStore>(impl->store.get(), [raw] { return raw->NewId(); });
  impl->inhibitor = actions::Inhibitor(impl->cfg->inhibit_rules);
  actions::DispatcherOptions dopts;
  dopts.worker_threads = impl->opts.worker_threads;
  dopts.mode = impl->manual ? actions::DispatchClockMode::kManual : actions::DispatchClockMode::kWall;
  if (impl->manual) dopts.clock = impl->manual_clock;
  dopts.seed = impl->opts.seed;
  dopts.log = impl->opts.log;
  impl->dispatcher = std::make_unique<CallDispatcher>(std::move(dopts));
  NIMIFY_RETURN_IF_ERROR(impl->Restore());
  if (!impl->manual) {
    impl->wall_thread = std::thread([raw] {
      SetCurrentThreadName("nimify-respond");
      raw->WallLoop();
    });
  }
  return std::shared_ptr<Responder>(new Responder(std::move(impl)));
}

Result<std::shared_ptr<Responder>> Responder::LoadFile(const std::string& path,
                                                       ResponderOptions options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open the response config");
  std::stringstream ss;
  ss << in.rdbuf();
  NIMIFY_ASSIGN_OR_RETURN(ConfigNode root, ConfigNode::ParseYaml(ss.str(), path));
  return Create(root, std::move(options));
}

Status Responder::Attach(Engine& engine) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  if (impl_->engine != nullptr) return Status::FailedPrecondition("already attached");
  impl_->forwarder = std::make_shared<Forwarder>(this);
  impl_->engine = &engine;
  impl_->engine_handler = engine.AddHandler(impl_->forwarder);
  if (!impl_->opts.query) {
    Engine* e = &engine;
    impl_->opts.query = [e](std::string_view expr, std::int64_t t) { return e->Query(expr, t); };
  }
  return Status::Ok();
}

void Responder::OnAlert(const AlertEvent& event) {
  MutexLock lock(impl_->inbox_mu);
  if (impl_->stopping) return;
  impl_->inbox.push_back(event);
  impl_->wake = true;
  impl_->inbox_cv.NotifyAll();
}

void Responder::OnEvaluation(std::int64_t eval_time_ms) {
  if (impl_->manual) AdvanceTo(eval_time_ms);
}

void Responder::Flush() {
  if (!impl_->manual) return;
  std::int64_t last = std::numeric_limits<std::int64_t>::min();
  {
    MutexLock lock(impl_->inbox_mu);
    for (const AlertEvent& e : impl_->inbox) last = std::max(last, e.eval_time_ms);
  }
  if (last != std::numeric_limits<std::int64_t>::min()) AdvanceTo(last);
}

void Responder::AdvanceTo(std::int64_t t_ms) {
  if (!impl_->manual) return;
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  impl_->Advance(t_ms);
}

Status Responder::WaitIdle(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    {
      std::lock_guard<std::recursive_mutex> lock(impl_->mu);
      if (impl_->manual) {
        impl_->Settle();
        // Retries waiting for AdvanceTo are not in flight.
        if (impl_->outstanding.load() == 0 || impl_->dispatcher->stats().in_flight == 0) {
          return Status::Ok();
        }
      } else {
        MutexLock l2(impl_->inbox_mu);
        if (impl_->outstanding.load() == 0 && impl_->inbox.empty() && impl_->completions.empty()) {
          return Status::Ok();
        }
      }
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::DeadlineExceeded("responder still busy");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

Result<std::string> Responder::AddSilence(Silence silence) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  return impl_->silences->Set(std::move(silence), impl_->manual ? impl_->now : WallNowMs());
}

Status Responder::ExpireSilence(std::string_view id) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  return impl_->silences->Expire(id, impl_->manual ? impl_->now : WallNowMs());
}

Result<Silence> Responder::GetSilence(std::string_view id) const {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  return impl_->silences->Get(id, impl_->manual ? impl_->now : WallNowMs());
}

std::vector<Silence> Responder::Silences() const {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  return impl_->silences->List(impl_->manual ? impl_->now : WallNowMs());
}

Result<std::string> Responder::Acknowledge(Acknowledgement ack) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  Impl& im = *impl_;
  if (!im.manual) im.now = WallNowMs();
  NIMIFY_ASSIGN_OR_RETURN(std::string id, im.acks->Add(std::move(ack), im.now));
  const Acknowledgement* a = im.acks->Find(id);
  for (auto& [fp, inc] : im.incidents) {
    if (!inc.firing) continue;
    std::vector<std::string> covering = im.acks->Covering(fp, inc.alert.labels, im.now);
    if (std::find(covering.begin(), covering.end(), id) == covering.end()) continue;
    im.acks->NoteCovered(id, fp);
    inc.view.acknowledged_by = a->created_by;
    inc.view.ack_comment = a->comment;
    Decision d = im.AlertDecision(inc, "acknowledged");
    d.detail = a->created_by + (a->comment.empty() ? "" : ": " + a->comment);
    im.Emit(d);
    im.NotifyUpdate(inc, "acknowledged");
  }
  return id;
}

Status Responder::Unacknowledge(std::string_view id) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  NIMIFY_RETURN_IF_ERROR(impl_->acks->Remove(id));
  for (auto& [fp, inc] : impl_->incidents) {
    if (impl_->acks->Covering(fp, inc.alert.labels, impl_->now).empty()) {
      inc.view.acknowledged_by.clear();
      inc.view.ack_comment.clear();
    }
  }
  return Status::Ok();
}

std::vector<Acknowledgement> Responder::Acknowledgements() const {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  return impl_->acks->List(impl_->manual ? impl_->now : WallNowMs());
}

std::vector<AlertStatus> Responder::Alerts() const {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  std::vector<AlertStatus> out;
  for (const auto& [fp, inc] : impl_->incidents) {
    if (!inc.ever_fired) continue;
    AlertStatus s;
    s.alert = inc.alert;
    s.receivers = inc.receivers;
    s.silenced_by = inc.silenced_by;
    s.inhibited_by = inc.inhibited_by;
    s.acknowledged_by = impl_->acks->Covering(fp, inc.alert.labels, impl_->now);
    s.state = !s.silenced_by.empty() || !s.inhibited_by.empty() ? "suppressed" : "active";
    s.updated_at_ms = inc.updated_at_ms;
    out.push_back(std::move(s));
  }
  return out;
}

ResponderStats Responder::stats() const {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  ResponderStats s = impl_->stats;
  const actions::DispatcherStats d = impl_->dispatcher->stats();
  s.handler_attempts = d.attempts;
  s.handler_retries = d.retries;
  s.in_flight = impl_->outstanding.load();
  s.audit_records = impl_->audit->records();
  return s;
}

std::int64_t Responder::now_ms() const {
  if (!impl_->manual) return WallNowMs();
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  return impl_->now;
}

Status Responder::Stop(std::chrono::milliseconds deadline) {
  MutexLock stop_lock(impl_->stop_mu);
  if (impl_->stopped) return Status::Ok();
  impl_->stopped = true;
  std::shared_ptr<Forwarder> forwarder;
  Engine* engine = nullptr;
  HandlerId engine_handler = 0;
  {
    // Attach writes these under mu. Not held below: RemoveHandler waits for a
    // delivery in progress, which takes mu.
    std::lock_guard<std::recursive_mutex> lock(impl_->mu);
    forwarder = impl_->forwarder;
    engine = impl_->engine;
    engine_handler = impl_->engine_handler;
  }
  if (forwarder) forwarder->Detach();
  if (engine != nullptr) (void)engine->RemoveHandler(engine_handler);
  {
    MutexLock lock(impl_->inbox_mu);
    impl_->stopping = true;
    impl_->inbox_cv.NotifyAll();
  }
  if (impl_->wall_thread.joinable()) impl_->wall_thread.join();
  impl_->dispatcher->Shutdown(deadline);
  {
    std::lock_guard<std::recursive_mutex> lock(impl_->mu);
    std::deque<std::function<void()>> done;
    {
      MutexLock l2(impl_->inbox_mu);
      done.swap(impl_->completions);
    }
    for (auto& fn : done) impl_->ApplyCompletion(fn);
    for (auto& [name, h] : impl_->cfg->handlers) {
      try {
        h.instance->Shutdown();
      } catch (...) {
      }
    }
  }
  return Status::Ok();
}

}  // namespace nimify
