#include "daemon/daemon.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <thread>

#include "actions/file_state_store.h"
#include "common/wall_clock.h"
#include "actions/route.h"
#include "daemon/am_api.h"
#include "daemon/auth.h"
#include "daemon/state_restore.h"
#include "daemon/tls.h"
#include "daemon/daemon_impl.h"
#include "daemon/prom_api.h"

namespace nimify::daemon {

// The engine's clock (common/wall_clock.h): ingest bounds, default sample
// timestamps and query times agree with the evaluation instants after a step.
std::int64_t WallClockMs() { return internal::GuardedWallClockMs(); }

namespace {

std::string ResponderYaml(const DaemonConfig& c) {
  return c.responses ? c.responses->ToYaml() : std::string();
}

std::vector<std::string> AllRuleFiles(const DaemonConfig& config, const Flags& flags) {
  std::vector<std::string> files = config.rule_files;
  files.insert(files.end(), flags.rules_files.begin(), flags.rules_files.end());
  return files;
}

}  // namespace

Result<std::shared_ptr<const RuleSet>> Daemon::Impl::LoadRules(const DaemonConfig& c) const {
  const std::vector<std::string> files = AllRuleFiles(c, options.flags);
  if (files.empty()) return RuleSet::Empty();
  return RuleSet::LoadFiles(files);
}

std::shared_ptr<const actions::Route> Daemon::Impl::RoutesOf(const DaemonConfig& c) const {
  if (!c.responses) return nullptr;
  Result<std::shared_ptr<const actions::Route>> tree = ParseRoutesOf(*c.responses);
  if (!tree.ok()) {
    LogKv(*log, spdlog::level::warn, "alert groups fall back to receiver and alertname",
          {{"err", tree.status().message()}});
    return nullptr;
  }
  return std::move(*tree);
}

MemoryBound Daemon::Impl::Bound() const {
  MutexLock lock(mu);
  const std::uint32_t shards = config.engine.shards != 0
                                   ? config.engine.shards
                                   : std::max(1u, std::thread::hardware_concurrency());
  return ComputeMemoryBound(config, std::max<std::size_t>(1, options.io_threads), shards,
                            kSeriesBytes);
}

Result<std::shared_ptr<Responder>> Daemon::Impl::MakeResponder(const ConfigNode& node) const {
  ResponderOptions ro;
  ro.clock = ResponderClock::kWall;
  ro.force_dry_run = options.flags.dry_run;
  ro.store = store;
  ro.log = logs->Callback("responder");
  std::shared_ptr<spdlog::logger> decisions = logs->Make("responder");
  ro.on_decision = [decisions](const Decision& d) {
    LogKv(*decisions, spdlog::level::info, "decision",
          {{"kind", d.kind},
           {"alertname", d.alertname},
           {"state", d.state},
           {"fingerprint", d.fingerprint},
           {"receiver", d.receiver},
           {"response", d.response},
           {"step", d.step},
           {"handler", d.handler},
           {"outcome", d.outcome},
           {"target", d.target},
           {"detail", d.detail},
           {"summary", d.summary},
           {"dry_run", d.dry_run ? "true" : "false"}});
  };
  return Responder::Create(node, std::move(ro));
}

Result<std::unique_ptr<Daemon>> Daemon::Start(DaemonOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  const Flags& flags = impl->options.flags;
  impl->logs = std::make_unique<LogFactory>(flags.log_format, flags.log_level,
                                            impl->options.log_sink);
  impl->log = impl->logs->Make("nimifyd");
  impl->http_log = impl->logs->Make("http");
  impl->started_ms = WallClockMs();
  LoadedWebConfig web;
  if (!flags.web_config_file.empty()) {
    Result<LoadedWebConfig> loaded = LoadWebConfigWithTls(flags.web_config_file);
    if (!loaded.ok()) return loaded.status().WithPrefix("--web.config.file");
    web = std::move(*loaded);
    impl->auth = std::make_shared<AuthenticatorSlot>(web.auth);
  }

  // Config and rules first: a bad file stops start-up before anything runs.
  DaemonConfig config;
  if (!flags.config_file.empty()) {
    NIMIFY_ASSIGN_OR_RETURN(config, LoadConfigFile(flags.config_file));
  }
  NIMIFY_ASSIGN_OR_RETURN(std::shared_ptr<const RuleSet> rules, impl->LoadRules(config));

  if (flags.state_dir.empty()) {
    impl->store = NewMemoryStateStore();
  } else {
    // A state dir that fills up or turns read-only must not stop evaluation or
    // responses: their writes are held in memory and written out when it takes
    // writes again; client writes (silences, acks) still fail (am_api.cc).
    actions::FileStateStoreHooks hooks;
    hooks.hold_failed_writes = true;
    std::shared_ptr<spdlog::logger> state_log = impl->logs->Make("state");
    hooks.on_writable_change = [state_log, dir = flags.state_dir](bool writable,
                                                                  const std::string& error) {
      if (writable) {
        LogKv(*state_log, spdlog::level::info,
              "state dir takes writes again; the changes held in memory are written",
              {{"dir", dir}});
      } else {
        LogKv(*state_log, spdlog::level::err,
              "state dir does not take writes; evaluation and responses go on, their changes "
              "are held in memory, silences and acks are refused (503)",
              {{"dir", dir}, {"err", error}});
      }
    };
    Result<std::unique_ptr<StateStore>> store =
        actions::OpenFileStateStoreWithHooks(flags.state_dir, {}, std::move(hooks));
    if (!store.ok()) return store.status().WithPrefix("--storage.state-dir");
    impl->store = std::move(*store);
    const FileStateStoreInfo info = GetFileStateStoreInfo(*impl->store);
    LogKv(*impl->log, spdlog::level::info, "state restored",
          {{"dir", flags.state_dir}, {"records", std::to_string(info.records_replayed)},
           {"bytes_discarded", std::to_string(info.bytes_discarded)}});
    for (const std::string& note : info.notes) {
      LogKv(*impl->log, spdlog::level::warn, "state store", {{"note", note}});
    }
  }

  EngineOptions eo;
  eo.clock = ClockMode::kWallClock;
  eo.shards = config.engine.shards;
  eo.ring_capacity = config.engine.ring_capacity;
  eo.allowed_lateness = config.engine.allowed_lateness;
  eo.retention = config.engine.retention;
  eo.max_late_age = config.engine.max_late_age;
  eo.max_series = config.engine.max_series;
  eo.fire_on_crossing = config.engine.fire_on_crossing;
  eo.compat = flags.compat;
  eo.default_eval_interval = config.evaluation_interval;
  eo.external_labels = config.external_labels;
  eo.external_url = flags.external_url;
  eo.max_producers = static_cast<std::uint32_t>(std::max<std::size_t>(64, impl->options.io_threads + 8));
  eo.log = impl->logs->Callback("engine");
  NIMIFY_ASSIGN_OR_RETURN(impl->engine, Engine::Create(std::move(eo), rules));

  std::shared_ptr<Responder> responder;  // impl->responder once published below
  if (config.responses) {
    Result<std::shared_ptr<Responder>> made = impl->MakeResponder(*config.responses);
    if (!made.ok()) {
      (void)impl->engine->Stop();
      return made.status();
    }
    responder = std::move(*made);
    NIMIFY_RETURN_IF_ERROR(responder->Attach(*impl->engine));
  }
  // Templates that hit their step, depth or output bounds expand to Go's
  // "<error expanding template: ...>" text, as in Prometheus; counted here.
  {
    DaemonMetrics* m = &impl->metrics;
    impl->engine->Subscribe([m](const AlertEvent& e) {
      for (const OwnedLabel& a : e.annotations) {
        if (a.value.find("<error expanding template") != std::string::npos &&
            ClassifyRefusal(a.value) == RefusedInput::kTemplateLimit) {
          m->CountRefusal(RefusedInput::kTemplateLimit);
          return;
        }
      }
    });
  }
  // After the responder, so it sees the events of restored alerts (state_restore.h).
  impl->keeper = AlertStateKeeper::Start(*impl->engine, impl->store, impl->logs->Make("state"));

  impl->limits = config.limits;
  const std::int64_t retention_ms = config.engine.retention.count();
  impl->max_sample_age_ms = config.engine.max_sample_age.count() > 0
                                ? config.engine.max_sample_age.count()
                                : std::max<std::int64_t>(retention_ms, 3600 * 1000);
  impl->max_future_ms = std::max<std::int64_t>(config.engine.allowed_lateness.count(), 5000);
  {
    std::string yaml = ResponderYaml(config);
    std::shared_ptr<const actions::Route> routes = impl->RoutesOf(config);
    // Nothing else sees impl yet: the lock is for the analysis.
    MutexLock lock(impl->mu);
    impl->responder = responder;
    impl->responder_yaml = std::move(yaml);
    impl->routes = std::move(routes);
    impl->config = std::move(config);
  }

  const std::size_t threads = std::max<std::size_t>(1, impl->options.io_threads);
  ProducerOptions po;
  // A short wait absorbs bursts; past it the request gets 429 and Prometheus retries.
  po.backpressure = BackpressurePolicy::kWait;
  po.max_wait = std::chrono::milliseconds(100);
  for (std::size_t i = 0; i < threads; ++i) {
    NIMIFY_ASSIGN_OR_RETURN(std::unique_ptr<Producer> producer, impl->engine->NewProducer(po));
    impl->workers.push_back(std::make_unique<IngestWorker>(std::move(producer)));
  }

  HttpServerOptions so;
  so.listen_address = flags.listen_address;
  so.threads = threads;
  so.limits = impl->limits;
  if (impl->auth) so.authorize = MakeReloadableAuthorizeHook(impl->auth);
  so.tls = web.tls;
  Impl* raw = impl.get();
  so.observe = [raw](std::string_view handler, int status, double secs) {
    raw->metrics.ObserveRequest(handler, status, secs);
  };
  so.on_connection = [raw](std::int64_t delta, bool refused) {
    if (refused) raw->metrics.connections_refused.fetch_add(1);
    raw->metrics.connections_open.fetch_add(delta);
  };
  // Every refusal over a limit, by the server or in a handler's 4xx message
  // (ingest, the Prometheus and Alertmanager APIs), in nimify_refused_inputs_total.
  so.on_refused = [raw](std::optional<RefusedInput> reason, const HttpResponse* response) {
    if (reason) {
      raw->metrics.CountRefusal(*reason);
    } else if (response != nullptr) {
      raw->metrics.CountRefusal(std::string_view(response->body));
    }
  };
  impl->server = std::make_unique<HttpServer>(so);
  impl->RegisterRoutes();
  if (Status st = impl->server->Start(); !st.ok()) {
    for (auto& w : impl->workers) {
      MutexLock wl(w->mu);  // uncontended: the server never ran
      w->producer.reset();
    }
    if (responder) (void)responder->Stop(std::chrono::seconds(1));
    (void)impl->engine->Stop();
    return st;
  }
  impl->metrics.last_reload_success_ms.store(WallClockMs());
  {
    const MemoryBound b = impl->Bound();
    LogKv(*impl->log, spdlog::level::info, "memory bound of the limits (bytes)",
          {{"request_buffers", std::to_string(b.request_buffers)},
           {"decoding", std::to_string(b.decoding)},
           {"rings", std::to_string(b.rings)},
           {"series", std::to_string(b.series)},
           {"total", std::to_string(b.total())}});
  }
  impl->ready.store(true);
  LogKv(*impl->log, spdlog::level::info, "nimifyd started",
        {{"version", NIMIFY_DAEMON_VERSION},
         {"address", flags.listen_address},
         {"port", std::to_string(impl->server->port())},
         {"tls", impl->server->tls_enabled() ? "on" : "off"},
         {"rules", std::to_string(rules->rule_count())},
         {"responses", responder ? "on" : "off"},
         {"dry_run", flags.dry_run ? "true" : "false"}});
  return std::unique_ptr<Daemon>(new Daemon(std::move(impl)));
}

Daemon::Daemon(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Daemon::~Daemon() { (void)Shutdown(std::chrono::seconds(10)); }

std::uint16_t Daemon::port() const { return impl_->server->port(); }
bool Daemon::ready() const { return impl_->NotReadyReason().empty(); }

std::string Daemon::Impl::NotReadyReason() const {
  if (!ready.load()) return "starting or shutting down";
  if (keeper && !keeper->restored() && WallClockMs() - started_ms < kRestoreWaitMs) {
    return "saved alert states wait for the first samples to be restored";
  }
  return {};
}
Engine& Daemon::engine() { return *impl_->engine; }

Status Daemon::Reload() { return impl_->Reload(); }

Status Daemon::Impl::Reload() {
  MutexLock lock(reload_mu);
  if (shut_down) return Status::FailedPrecondition("nimifyd is shutting down");
  metrics.reloads.fetch_add(1);
  const Status st = ReloadLocked();
  if (!st.ok()) {
    metrics.reload_failures.fetch_add(1);
    metrics.CountRefusal(st.message());  // a bomb in a config or rule file
    metrics.last_reload_successful.store(0);
    LogKv(*log, spdlog::level::err, "reload refused; the running configuration stays",
          {{"err", st.message()}});
    return st;
  }
  metrics.last_reload_successful.store(1);
  metrics.last_reload_success_ms.store(WallClockMs());
  LogKv(*log, spdlog::level::info, "configuration reloaded",
        {{"rules", std::to_string(engine->rules()->rule_count())},
         {"responses", CurrentResponder() ? "on" : "off"}});
  return Status::Ok();
}

Status Daemon::Impl::ReloadLocked() {
  DaemonConfig next;
  if (!options.flags.config_file.empty()) {
    NIMIFY_ASSIGN_OR_RETURN(next, LoadConfigFile(options.flags.config_file));
  }
  NIMIFY_ASSIGN_OR_RETURN(std::shared_ptr<const RuleSet> rules, LoadRules(next));
  std::optional<LoadedWebConfig> web;  // users, tokens and certificates reload
  if (auth) {
    Result<LoadedWebConfig> loaded = LoadWebConfigWithTls(options.flags.web_config_file);
    if (!loaded.ok()) return loaded.status().WithPrefix("--web.config.file");
    web = std::move(*loaded);
  }
  const std::string next_yaml = ResponderYaml(next);
  std::shared_ptr<Responder> next_responder;
  bool responder_changed = false;
  {
    MutexLock lock(mu);
    responder_changed = next_yaml != responder_yaml;
  }
  // Validate everything before changing anything.
  if (responder_changed && next.responses) {
    NIMIFY_ASSIGN_OR_RETURN(next_responder, MakeResponder(*next.responses));
  }
  NIMIFY_RETURN_IF_ERROR(engine->SetRules(rules));
  if (web) {
    auth->Set(web->auth);
    if ((web->tls != nullptr) != server->tls_enabled()) {
      LogKv(*log, spdlog::level::warn, "setting changed; it takes effect at restart",
            {{"setting", "tls_server_config"}});
    } else if (web->tls) {
      (void)server->SetTlsContext(web->tls);
    }
  }
  {
    MutexLock lock(mu);
    const auto restart_only = [this](bool changed, std::string_view what) {
      if (changed) {
        LogKv(*log, spdlog::level::warn, "setting changed; it takes effect at restart",
              {{"setting", what}});
      }
    };
    restart_only(next.engine.shards != config.engine.shards ||
                     next.engine.ring_capacity != config.engine.ring_capacity ||
                     next.engine.allowed_lateness != config.engine.allowed_lateness ||
                     next.engine.retention != config.engine.retention ||
                     next.engine.max_series != config.engine.max_series ||
                     next.engine.max_sample_age != config.engine.max_sample_age ||
                     next.engine.max_late_age != config.engine.max_late_age,
                 "engine");
    restart_only(next.evaluation_interval != config.evaluation_interval ||
                     next.external_labels != config.external_labels,
                 "global");
    next.engine = config.engine;
    next.limits = config.limits;
    next.evaluation_interval = config.evaluation_interval;
    next.external_labels = config.external_labels;
  }
  if (responder_changed) {
    std::shared_ptr<Responder> old;
    {
      MutexLock lock(mu);
      old = responder;
    }
    // The old one stops first so that no alert is handled twice; silences and
    // acknowledgements live in the shared store and carry over.
    if (old) (void)old->Stop(std::chrono::seconds(10));
    if (next_responder) {
      const Status attached = next_responder->Attach(*engine);
      if (!attached.ok()) {
        LogKv(*log, spdlog::level::err, "attaching the new responder failed",
              {{"err", attached.message()}});
      }
    }
    std::shared_ptr<const actions::Route> next_routes = RoutesOf(next);
    MutexLock lock(mu);
    responder = next_responder;
    responder_yaml = next_yaml;
    routes = std::move(next_routes);
  }
  MutexLock lock(mu);
  config = std::move(next);
  return Status::Ok();
}

Status Daemon::Shutdown(std::chrono::milliseconds deadline) {
  MutexLock lock(impl_->reload_mu);
  if (impl_->shut_down) return impl_->shutdown_status;
  impl_->shut_down = true;
  impl_->ready.store(false);
  LogKv(*impl_->log, spdlog::level::info, "shutting down",
        {{"deadline", std::to_string(deadline.count()) + "ms"}});
  // 1. Intake: no new connections; requests in flight finish.
  impl_->server->Stop(deadline);
  // 2. Producers publish what they staged and leave the watermark.
  for (auto& w : impl_->workers) {
    MutexLock wl(w->mu);
    w->producer.reset();
  }
  // 3. Final evaluations; every queued event reaches the responder.
  Status st = impl_->engine->Stop();
  // 4. Calls in flight get until the deadline; state is flushed.
  if (std::shared_ptr<Responder> r = impl_->CurrentResponder()) {
    const Status rs = r->Stop(deadline);
    if (st.ok()) st = rs;
  }
  impl_->shutdown_status = st;
  LogKv(*impl_->log, spdlog::level::info, "stopped", {{"status", st.ok() ? "ok" : st.message()}});
  impl_->log->flush();
  return st;
}

void Daemon::Impl::RegisterRoutes() {
  RegisterAlertmanagerApi(*this);  // first: it also answers POST /api/v1/alerts
  HttpServer& s = *server;
  const std::vector<std::string> get{"GET"};
  const std::vector<std::string> get_post{"GET", "POST"};
  const std::vector<std::string> post{"POST"};
  auto bind = [this](HttpResponse (Impl::*fn)(const HttpRequest&)) {
    return [this, fn](const HttpRequest& req) { return (this->*fn)(req); };
  };
  s.Handle("/api/v1/write", post, "/api/v1/write", bind(&Impl::RemoteWrite));
  s.Handle("/api/v1/import/prometheus", post, "/api/v1/import/prometheus",
           bind(&Impl::ImportText));
  s.Handle("/api/v1/import/json", post, "/api/v1/import/json", bind(&Impl::ImportJson));
  s.Handle("/api/v1/query", get_post, "/api/v1/query", bind(&Impl::Query));
  s.Handle("/api/v1/query_range", get_post, "/api/v1/query_range", bind(&Impl::QueryRange));
  s.Handle("/api/v1/series", get_post, "/api/v1/series", bind(&Impl::Series));
  s.Handle("/api/v1/labels", get_post, "/api/v1/labels", bind(&Impl::Labels));
  s.Handle("/api/v1/label/", get, "/api/v1/label/:name/values", bind(&Impl::LabelValues),
           /*prefix=*/true);
  s.Handle("/api/v1/rules", get, "/api/v1/rules", bind(&Impl::Rules));
  s.Handle("/api/v1/alerts", get, "/api/v1/alerts", bind(&Impl::Alerts));
  s.Handle("/api/v1/status/buildinfo", get, "/api/v1/status/buildinfo", bind(&Impl::BuildInfo));
  s.Handle("/api/v1/metadata", get, "/api/v1/metadata", [](const HttpRequest&) {
    return HttpResponse::Json(200, ApiSuccessBody("{}"));
  });
  s.Handle("/api/v1/query_exemplars", get_post, "/api/v1/query_exemplars", [](const HttpRequest&) {
    return HttpResponse::Json(200, ApiSuccessBody("[]"));
  });
  s.Handle("/metrics", get, "/metrics", [this](const HttpRequest&) { return Metrics(); });
  s.Handle("/-/healthy", {"GET", "HEAD"}, "/-/healthy", [](const HttpRequest&) {
    return HttpResponse::Text(200, "nimifyd is Healthy.\n");
  });
  s.Handle("/-/ready", {"GET", "HEAD"}, "/-/ready", [this](const HttpRequest&) {
    const std::string why = NotReadyReason();
    // A state dir that refuses writes leaves nimifyd able to serve: still 200, but said.
    return why.empty() ? HttpResponse::Text(200, "nimifyd is Ready.\n" + StateDegradedNote())
                       : HttpResponse::Text(503, "Service Unavailable: " + why + "\n");
  });
  s.Handle("/-/reload", {"POST", "PUT"}, "/-/reload", [this](const HttpRequest&) {
    const Status st = Reload();
    if (st.ok()) return HttpResponse::Text(200, "");
    if (st.code() == StatusCode::kFailedPrecondition) {
      return HttpResponse::Text(503, std::string(st.message()) + "\n");
    }
    return HttpResponse::Text(500, "failed to reload config: " + std::string(st.message()) + "\n");
  });
}

std::string Daemon::Impl::StateDegradedNote() const {
  const std::optional<actions::FileStateStoreStats> st = actions::GetFileStateStoreStats(*store);
  if (!st || st->writable) return {};
  return "Degraded: the state dir " + options.flags.state_dir + " does not take writes since " +
         std::to_string(st->unwritable_since_ms / 1000) + " (unix seconds): " + st->write_error +
         "; evaluation and responses go on, " +
         (st->journal_held ? "changed state is" : "nothing is") + " held in memory" +
         (st->held_log_records > 0
              ? " with " + std::to_string(st->held_log_records) + " audit records"
              : std::string()) +
         ", silences and acks are refused.\n";
}

void Daemon::Impl::WriteStateMetrics(ExpositionWriter& w) const {
  const std::optional<actions::FileStateStoreStats> st = actions::GetFileStateStoreStats(*store);
  std::shared_ptr<Responder> r = CurrentResponder();
  // The total keeps its old name and no labels (scripts read it); by op beside it.
  const std::uint64_t responder_failures = r ? r->stats().state_write_failures : 0;
  const std::uint64_t total = responder_failures + (st ? st->journal_write_failures +
                                                             st->log_write_failures +
                                                             st->snapshot_write_failures
                                                       : 0);
  w.Family("nimify_state_write_failures_total", "counter",
           "State writes that failed or that the disk refused (held in memory).");
  w.Sample("nimify_state_write_failures_total", static_cast<double>(total));
  w.Family("nimify_state_write_failures_by_op_total", "counter",
           "nimify_state_write_failures_total by what was written: journal (keys), log (audit "
           "records), snapshot (rewrites of the journal), responder (writes that failed the "
           "responder).");
  if (st) {
    w.Sample("nimify_state_write_failures_by_op_total", {{"op", "journal"}},
             static_cast<double>(st->journal_write_failures));
    w.Sample("nimify_state_write_failures_by_op_total", {{"op", "log"}},
             static_cast<double>(st->log_write_failures));
    w.Sample("nimify_state_write_failures_by_op_total", {{"op", "snapshot"}},
             static_cast<double>(st->snapshot_write_failures));
  }
  w.Sample("nimify_state_write_failures_by_op_total", {{"op", "responder"}},
           static_cast<double>(responder_failures));
  if (!st) return;
  w.Family("nimify_state_writable", "gauge",
           "1 when the state dir takes writes; 0 while it refuses them (changes are held in "
           "memory).");
  w.Sample("nimify_state_writable", st->writable ? 1 : 0);
  w.Family("nimify_state_unwritable_since_seconds", "gauge",
           "Since when the state dir refuses writes (unix seconds); 0 while it takes them.");
  w.Sample("nimify_state_unwritable_since_seconds",
           static_cast<double>(st->unwritable_since_ms) / 1000.0);
  w.Family("nimify_state_held_log_records", "gauge",
           "Audit records held in memory until the state dir takes writes again.");
  w.Sample("nimify_state_held_log_records", static_cast<double>(st->held_log_records));
  w.Family("nimify_state_journal_held", "gauge",
           "1 when changed state is held in memory until the state dir takes writes again.");
  w.Sample("nimify_state_journal_held", st->journal_held ? 1 : 0);
  w.Family("nimify_state_recoveries_total", "counter",
           "Times the state dir took writes again after refusing them.");
  w.Sample("nimify_state_recoveries_total", static_cast<double>(st->recoveries));
}

HttpResponse Daemon::Impl::Metrics() {
  std::string out;
  ExpositionWriter w(&out);
  w.Family("nimify_build_info", "gauge", "A metric with a constant '1' value labeled by version.");
  w.Sample("nimify_build_info", {{"version", NIMIFY_DAEMON_VERSION}}, 1);
  w.Family("nimify_start_time_seconds", "gauge", "Start time of the process since unix epoch.");
  w.Sample("nimify_start_time_seconds", static_cast<double>(started_ms) / 1000.0);
  w.Family("nimify_ready", "gauge", "Whether nimifyd is ready (state restored, rules loaded).");
  w.Sample("nimify_ready", NotReadyReason().empty() ? 1 : 0);
  const internal::WallClockSteps steps = internal::WallClockStepCounts();
  w.FamilyByLabel("nimify_wall_clock_steps_total", "counter",
                  "Steps of the wall clock of at least a second seen (docs/daemon.md, \"Time\").",
                  "direction",
                  {{"forward", static_cast<double>(steps.forward)},
                   {"backward", static_cast<double>(steps.backward)}});
  w.Family("nimify_wall_clock_ahead_seconds", "gauge",
           "How far nimifyd's clock is ahead of the wall clock after backward steps.");
  w.Sample("nimify_wall_clock_ahead_seconds",
           static_cast<double>(internal::GuardedWallClockAheadMs()) / 1000.0);
  metrics.Write(w);

  const EngineStats es = engine->stats();
  const auto counter = [&w](std::string_view name, std::string_view help, std::uint64_t v) {
    w.Family(name, "counter", help);
    w.Sample(name, static_cast<double>(v));
  };
  const auto gauge = [&w](std::string_view name, std::string_view help, double v) {
    w.Family(name, "gauge", help);
    w.Sample(name, v);
  };
  counter("nimify_engine_samples_accepted_total", "Samples the engine accepted.",
          es.samples_accepted);
  counter("nimify_engine_samples_refused_total", "Samples the engine refused (backpressure).",
          es.samples_refused);
  w.FamilyByLabel("nimify_engine_samples_late_total", "counter",
                  "Samples at or below a producer's watermark: stored by the shards (they count "
                  "from the next evaluation on), or refused as more than max_late_age behind it.",
                  "outcome",
                  {{"stored", static_cast<double>(es.samples_late_stored)},
                   {"refused", static_cast<double>(es.samples_late)}});
  counter("nimify_engine_samples_rejected_total",
          "Samples a shard could not store (out of order, duplicate, too old).",
          es.samples_rejected);
  gauge("nimify_engine_series", "Active series in the engine.", static_cast<double>(es.series_live));
  counter("nimify_engine_series_refused_total", "Series refused at max_series.", es.series_refused);
  {
    const MemoryBound b = Bound();
    w.FamilyByLabel("nimify_memory_bound_bytes", "gauge",
                    "Worst case of the memory the configured limits allow, by part "
                    "(docs/daemon.md); series: 0 when engine.max_series is unlimited.",
                    "part",
                    {{"request_buffers", static_cast<double>(b.request_buffers)},
                     {"decoding", static_cast<double>(b.decoding)},
                     {"rings", static_cast<double>(b.rings)},
                     {"series", static_cast<double>(b.series)}});
    gauge("nimify_http_request_body_bytes_in_flight",
          "Body bytes reserved by requests being read or handled "
          "(limits.max_inflight_body_bytes).",
          server ? static_cast<double>(server->inflight_body_bytes()) : 0.0);
    gauge("nimify_process_resident_memory_bytes", "Resident memory of nimifyd (VmRSS).",
          static_cast<double>(ResidentBytes()));
  }
  gauge("nimify_engine_memory_bytes", "Estimated heap of the engine's shards.",
        static_cast<double>(es.memory_bytes));
  gauge("nimify_engine_queue_depth", "Alert events waiting for the dispatcher.",
        static_cast<double>(es.queue_depth));
  counter("nimify_rule_evaluation_instants_total", "Evaluation instants run.",
          es.evaluation_instants);
  w.FamilyByLabel("nimify_engine_clock_advances_total", "counter",
                  "Times the engine clock moved the watermarks: on its tick, or early because a "
                  "request brought samples the wall clock had already passed.",
                  "cause",
                  {{"tick", static_cast<double>(es.clock_ticks)},
                   {"samples_due", static_cast<double>(es.clock_wakeups)}});
  counter("nimify_rule_evaluations_total", "Rule evaluations.", es.rule_evaluations);
  counter("nimify_rule_evaluations_skipped_total",
          "Rule evaluations left out because their result was known to be empty.",
          es.rule_evaluations_skipped);
  counter("nimify_rule_evaluation_failures_total", "Rule evaluations that failed.",
          es.rule_failures);
  gauge("nimify_rule_last_evaluation_timestamp_seconds", "The last evaluation instant.",
        es.last_evaluation_ms > 0 ? static_cast<double>(es.last_evaluation_ms) / 1000.0 : 0);
  counter("nimify_alert_events_total", "Alert transitions queued for the handlers.",
          es.alert_events);
  counter("nimify_handler_failures_total", "Alert handler calls that threw.", es.handler_failures);
  counter("nimify_alerts_fired_on_crossing_total",
          "Alerts announced from the sample that crossed the threshold, before the evaluation "
          "of its instant (engine.fire_on_crossing).",
          es.alerts_fired_on_crossing);
  counter("nimify_crossing_alerts_unconfirmed_total",
          "Announced alerts that no evaluation confirmed (should stay 0; each is logged).",
          es.crossing_alerts_unconfirmed);

  std::uint64_t pending = 0, firing = 0;
  for (const AlertEvent& a : engine->ActiveAlerts({.annotations = false})) {
    (a.state == AlertState::kFiring ? firing : pending) += 1;
  }
  w.FamilyByLabel(
      "nimify_alerts", "gauge", "Active alerts by state.", "state",
      {{"firing", static_cast<double>(firing)}, {"pending", static_cast<double>(pending)}});

  w.Family("nimify_rule_group_last_duration_seconds", "gauge",
           "The duration of the last rule group evaluation.");
  std::string last_group;
  for (const RuleHealth& h : engine->RuleHealth()) {
    const std::string key = h.file + ";" + h.group;
    if (key == last_group) continue;
    last_group = key;
    w.Sample("nimify_rule_group_last_duration_seconds", {{"rule_group", key}},
             static_cast<double>(h.group_evaluation_duration.count()) / 1e9);
  }

  if (std::shared_ptr<Responder> r = CurrentResponder()) {
    const ResponderStats rs = r->stats();
    counter("nimify_responder_alerts_received_total", "Alert transitions the responder received.",
            rs.alerts_received);
    counter("nimify_responder_notifications_total", "Group notifications sent.", rs.notifications);
    w.FamilyByLabel("nimify_responder_steps_total", "counter", "Response steps by outcome.",
                    "outcome",
                    {{"ran", static_cast<double>(rs.steps_run)},
                     {"planned", static_cast<double>(rs.steps_planned)},
                     {"failed", static_cast<double>(rs.steps_failed)},
                     {"skipped", static_cast<double>(rs.steps_skipped)}});
    counter("nimify_responder_escalations_total", "Escalation levels reached.", rs.escalations);
    counter("nimify_responder_handler_attempts_total", "Handler calls attempted.",
            rs.handler_attempts);
    counter("nimify_responder_handler_retries_total", "Handler calls retried.", rs.handler_retries);
    gauge("nimify_responder_in_flight", "Handler calls in flight.",
          static_cast<double>(rs.in_flight));
    counter("nimify_responder_audit_records_total", "Decisions written to the audit log.",
            rs.audit_records);
  }
  WriteStateMetrics(w);
  HttpResponse res = HttpResponse::Text(200, std::move(out));
  res.content_type = "text/plain; version=0.0.4; charset=utf-8";
  return res;
}

}  // namespace nimify::daemon
