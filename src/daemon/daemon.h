// nimifyd's server: the engine, the responder and the HTTP endpoints around
// them, with reload and graceful shutdown. main.cc adds flags and signals;
// tests start it in-process on 127.0.0.1:0.
#ifndef NIMIFY_DAEMON_DAEMON_H_
#define NIMIFY_DAEMON_DAEMON_H_

#include <spdlog/sinks/sink.h>

#include <chrono>
#include <cstdint>
#include <memory>

#include "daemon/flags.h"
#include "nimify/engine.h"
#include "nimify/status.h"

namespace nimify::daemon {

struct DaemonOptions {
  Flags flags;
  // Where the logs go; null: stderr.
  spdlog::sink_ptr log_sink;
  std::size_t io_threads = 2;
};

// Thread safety: Reload() and Shutdown() may be called from any thread (they
// serialise); the accessors are safe from any thread.
class Daemon {
 public:
  // Loads the config and the rules, restores state, starts the engine, the
  // responder and the HTTP server. Errors carry file:line:col for bad config
  // or rule files; kUnavailable when the address cannot be bound.
  static Result<std::unique_ptr<Daemon>> Start(DaemonOptions options);
  ~Daemon();  // Shutdown(10s)
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  std::uint16_t port() const;
  bool ready() const;
  Engine& engine();

  // Re-reads the config and rule files. An invalid one is refused: the
  // running config stays, the reason is logged and returned, and
  // nimify_config_last_reload_successful drops to 0.
  Status Reload();

  // Stops intake (no new connections, requests in flight finish), closes the
  // producers, stops the engine (final evaluations, handlers flushed) and the
  // responder (calls in flight get until `deadline`). Idempotent.
  Status Shutdown(std::chrono::milliseconds deadline);

  struct Impl;

 private:
  explicit Daemon(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace nimify::daemon

#endif  // NIMIFY_DAEMON_DAEMON_H_
