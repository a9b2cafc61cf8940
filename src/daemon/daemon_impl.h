// Daemon::Impl, shared by daemon.cc (life cycle, reload, /metrics),
// ingest.cc (the write endpoints) and api.cc (Prometheus's read API).
#ifndef NIMIFY_DAEMON_DAEMON_IMPL_H_
#define NIMIFY_DAEMON_DAEMON_IMPL_H_

#include <spdlog/logger.h>

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/mutex.h"
#include "daemon/auth.h"
#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/http_server.h"
#include "daemon/logging.h"
#include "daemon/metrics.h"
#include "ingest/series_ref_cache.h"
#include "nimify/actions.h"
#include "nimify/engine.h"
#include "nimify/state_store.h"

namespace nimify::ingest {
class Batch;
}
namespace nimify::actions {
class Route;
}

namespace nimify::daemon {

class AlertStateKeeper;

std::int64_t WallClockMs();

// The ingest reference cache of one producer: refs of series idle for half
// an hour are resolved again (the engine frees series idle for about an hour).
inline ingest::SeriesRefCache::Options IngestCacheOptions() {
  ingest::SeriesRefCache::Options o;
  o.max_entries = 1u << 20;
  o.max_idle_ms = 30 * 60 * 1000;
  return o;
}

// One engine producer per I/O thread, with its cache.
// Thread safety: mu guards the rest; uncontended: only its I/O thread appends
// (and shutdown).
struct IngestWorker {
  explicit IngestWorker(std::unique_ptr<Producer> p) : producer(std::move(p)) {}

  Mutex mu;
  std::unique_ptr<Producer> producer NIMIFY_GUARDED_BY(mu) NIMIFY_PT_GUARDED_BY(mu);
  ingest::SeriesRefCache cache NIMIFY_GUARDED_BY(mu){IngestCacheOptions()};
  std::vector<Label> labels NIMIFY_GUARDED_BY(mu);  // scratch
};

// Thread safety: the fields without a lock are set by Start before the server
// runs and not changed after (or are safe from any thread themselves); mu
// guards what a reload replaces, reload_mu serialises Reload and Shutdown.
struct Daemon::Impl {
  DaemonOptions options;
  std::unique_ptr<LogFactory> logs;
  std::shared_ptr<spdlog::logger> log;       // component "nimifyd"
  std::shared_ptr<spdlog::logger> http_log;  // component "http"

  DaemonMetrics metrics;
  std::shared_ptr<StateStore> store;
  std::unique_ptr<Engine> engine;
  std::vector<std::unique_ptr<IngestWorker>> workers;
  std::unique_ptr<HttpServer> server;
  // Set when --web.config.file is given; a reload replaces what it holds.
  std::shared_ptr<AuthenticatorSlot> auth;

  mutable Mutex mu;  // guards config, responder, responder_yaml, routes
  DaemonConfig config NIMIFY_GUARDED_BY(mu);
  std::shared_ptr<Responder> responder NIMIFY_GUARDED_BY(mu);
  // The responder's route tree, parsed again for /api/v2/alerts/groups.
  std::shared_ptr<const actions::Route> routes NIMIFY_GUARDED_BY(mu);
  // The responder's config as loaded, to see changes.
  std::string responder_yaml NIMIFY_GUARDED_BY(mu);

  Mutex reload_mu;  // serialises Reload and Shutdown
  // Set once the server runs (rules loaded, responder state loaded); /-/ready
  // also waits for the saved alert states (IsReady).
  std::atomic<bool> ready{false};
  std::shared_ptr<AlertStateKeeper> keeper;
  bool shut_down NIMIFY_GUARDED_BY(reload_mu) = false;
  Status shutdown_status NIMIFY_GUARDED_BY(reload_mu);
  RequestLimits limits;  // as at start: the server's limits do not reload
  std::int64_t max_sample_age_ms = 0;
  std::int64_t max_future_ms = 0;
  std::int64_t started_ms = 0;

  std::int64_t config_eval_interval_ms() const NIMIFY_EXCLUDES(mu) {
    MutexLock lock(mu);
    return config.evaluation_interval.count();
  }
  std::shared_ptr<Responder> CurrentResponder() const NIMIFY_EXCLUDES(mu) {
    MutexLock lock(mu);
    return responder;
  }
  std::shared_ptr<const actions::Route> CurrentRoutes() const NIMIFY_EXCLUDES(mu) {
    MutexLock lock(mu);
    return routes;
  }
  // The route tree of `config`'s responses, or null (logged) when absent.
  std::shared_ptr<const actions::Route> RoutesOf(const DaemonConfig& config) const;

  // daemon.cc
  // Saved alert states wait for samples (state_restore.h) at most this long;
  // past it /-/ready answers 200 anyway, so a load balancer that sends
  // remote-write only to ready instances cannot lock nimifyd out.
  static constexpr std::int64_t kRestoreWaitMs = 2 * 60 * 1000;
  // "" when ready, else why not.
  std::string NotReadyReason() const;
  Result<std::shared_ptr<const RuleSet>> LoadRules(const DaemonConfig& config) const;
  Result<std::shared_ptr<Responder>> MakeResponder(const ConfigNode& node) const;
  Status Reload() NIMIFY_EXCLUDES(reload_mu);  // takes reload_mu, updates the reload metrics
  Status ReloadLocked() NIMIFY_REQUIRES(reload_mu) NIMIFY_EXCLUDES(mu);
  void RegisterRoutes();
  HttpResponse Metrics();
  // The state dir's health (docs/daemon.md, "A full or read-only state dir").
  std::string StateDegradedNote() const;  // "" while it takes writes
  void WriteStateMetrics(ExpositionWriter& w) const;
  // The memory bound of the running limits (config.h), with kSeriesBytes a series.
  MemoryBound Bound() const NIMIFY_EXCLUDES(mu);

  // ingest.cc
  HttpResponse RemoteWrite(const HttpRequest& req);
  HttpResponse ImportText(const HttpRequest& req);
  HttpResponse ImportJson(const HttpRequest& req);
  HttpResponse AppendBatch(std::size_t worker, const ingest::Batch& batch);

  // api.cc
  HttpResponse Query(const HttpRequest& req);
  HttpResponse QueryRange(const HttpRequest& req);
  HttpResponse Series(const HttpRequest& req);
  HttpResponse Labels(const HttpRequest& req);
  HttpResponse LabelValues(const HttpRequest& req);
  HttpResponse Rules(const HttpRequest& req);
  HttpResponse Alerts(const HttpRequest& req);
  HttpResponse BuildInfo(const HttpRequest& req);
};

}  // namespace nimify::daemon

#endif  // NIMIFY_DAEMON_DAEMON_IMPL_H_
