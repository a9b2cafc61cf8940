// Alert state across restarts: the engine's pending and firing alerts
// (active-at, firing-since) are saved to the state store whenever an
// evaluation changed them, and handed back to the rules after a restart, so a
// pending `for` resumes instead of starting from zero (Prometheus loses this,
// prometheus#15175). docs/daemon.md, "State dir".
#ifndef NIMIFY_DAEMON_STATE_RESTORE_H_
#define NIMIFY_DAEMON_STATE_RESTORE_H_

#include <spdlog/logger.h>

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nimify/alert.h"
#include "nimify/engine.h"
#include "nimify/state_store.h"
#include "nimify/status.h"

namespace nimify::daemon {

// The store key of the snapshot.
inline constexpr std::string_view kAlertStateKey = "engine/alerts";

// The snapshot's JSON (what identifies an alert and its timing; values and
// annotations are recomputed by the next evaluation), and back.
std::string AlertStateToJson(const std::vector<AlertEvent>& alerts);
Result<std::vector<AlertEvent>> AlertStateFromJson(std::string_view json);

// Subscribed to the engine. It also retries a state dir that refused writes
// (actions::RetryHeldWrites) at every evaluation. The saved alerts are restored at the first
// evaluation after samples arrived (an evaluation without data would resolve
// them all); until then nothing is written, so the snapshot survives a daemon
// that restarts again before any data came.
// Thread safety: the engine calls it on its dispatcher thread only; restored()
// may be read from any thread.
class AlertStateKeeper : public AlertHandler {
 public:
  // Reads the snapshot (a malformed one is logged and dropped) and subscribes.
  static std::shared_ptr<AlertStateKeeper> Start(Engine& engine, std::shared_ptr<StateStore> store,
                                                 std::shared_ptr<spdlog::logger> log);

  void OnAlert(const AlertEvent&) override {}
  void OnEvaluation(std::int64_t eval_time_ms) override;

  bool restored() const { return restored_.load(); }

 private:
  AlertStateKeeper(Engine& engine, std::shared_ptr<StateStore> store,
                   std::shared_ptr<spdlog::logger> log)
      : engine_(engine), store_(std::move(store)), log_(std::move(log)) {}

  Engine& engine_;
  std::shared_ptr<StateStore> store_;
  std::shared_ptr<spdlog::logger> log_;
  std::vector<AlertEvent> saved_;
  std::atomic<bool> restored_{false};
  std::string last_written_;
};

}  // namespace nimify::daemon

#endif  // NIMIFY_DAEMON_STATE_RESTORE_H_
