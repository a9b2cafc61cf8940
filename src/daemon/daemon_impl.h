// Daemon::Impl, shared by daemon.cc (life cycle, reload, /metrics),
// ingest.cc (the write endpoints) and api.cc (Prometheus's read API).
#ifndef NIMIFY_DAEMON_DAEMON_IMPL_H_
#define NIMIFY_DAEMON_DAEMON_IMPL_H_

#include <spdlog/logger.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "daemon/auth.h"
#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/http_server.h"
#include "daemon/logging.h"
#include "daemon/metrics.h"
#include "nimify/actions.h"
#include "nimify/engine.h"
#include "nimify/state_store.h"

namespace nimify::ingest {
class Batch;
}

namespace nimify::daemon {

std::int64_t WallClockMs();

// Label set -> SeriesRef for one producer, so a series' labels are looked up
// in the engine once rather than per sample. Bounded: cleared when full.
// Entries idle for long are resolved again (the engine frees idle series).
// Thread safety: none; one per producer.
class SeriesRefCache {
 public:
  static constexpr std::size_t kMaxEntries = 1u << 20;
  static constexpr std::int64_t kRefreshAfterMs = 30 * 60 * 1000;

  struct Entry {
    SeriesRef ref = 0;
    std::int64_t last_used_ms = 0;
  };
  // Null when absent or stale. `key` from MakeKey.
  Entry* Find(std::string_view key, std::int64_t now_ms);
  void Put(std::string_view key, SeriesRef ref, std::int64_t now_ms);
  std::size_t size() const { return map_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>()(s);
    }
  };
  std::unordered_map<std::string, Entry, Hash, std::equal_to<>> map_;
};

// One engine producer per I/O thread, with its cache.
struct IngestWorker {
  std::mutex mu;  // uncontended: only its I/O thread appends (and shutdown)
  std::unique_ptr<Producer> producer;
  SeriesRefCache cache;
  std::string key;  // scratch
  std::vector<Label> labels;  // scratch
};

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

  mutable std::mutex mu;  // guards config, responder, responder_yaml
  DaemonConfig config;
  std::shared_ptr<Responder> responder;
  std::string responder_yaml;  // the responder's config as loaded, to see changes

  std::mutex reload_mu;  // serialises Reload and Shutdown
  std::atomic<bool> ready{false};
  bool shut_down = false;  // guarded by reload_mu
  Status shutdown_status;
  RequestLimits limits;  // as at start: the server's limits do not reload
  std::int64_t max_sample_age_ms = 0;
  std::int64_t max_future_ms = 0;
  std::int64_t started_ms = 0;

  std::int64_t config_eval_interval_ms() const {
    std::lock_guard<std::mutex> lock(mu);
    return config.evaluation_interval.count();
  }
  std::shared_ptr<Responder> CurrentResponder() const {
    std::lock_guard<std::mutex> lock(mu);
    return responder;
  }

  // daemon.cc
  Result<std::shared_ptr<const RuleSet>> LoadRules(const DaemonConfig& config) const;
  Result<std::shared_ptr<Responder>> MakeResponder(const ConfigNode& node) const;
  Status Reload();  // takes reload_mu, updates the reload metrics
  Status ReloadLocked();
  void RegisterRoutes();
  HttpResponse Metrics();

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
