// The audit log: every Decision, as DecisionToJson, appended to the state
// store's "audit" log. The responder records a decision BEFORE it starts the
// handler call the decision is about, so nothing decided is missing after a
// crash. A store failure never stops a decision: it is counted and logged.
#ifndef NIMIFY_ACTIONS_AUDIT_LOG_H_
#define NIMIFY_ACTIONS_AUDIT_LOG_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string_view>

#include "nimify/actions.h"
#include "nimify/engine.h"
#include "nimify/state_store.h"

namespace nimify::actions {

inline constexpr std::string_view kAuditLogName = "audit";

// DecisionToJson (audit_log.cc) writes the fields in the order of struct
// Decision. Always present: ts_ms, kind, outcome (even when empty). Omitted
// when they hold their default: the other strings when empty, labels when
// empty (else an object in label order), exit_status when < 0 (0 is a real
// exit status), http_status/attempt/duration_ms when 0, dry_run when false.
// Invalid UTF-8 in any string becomes U+FFFD.

// Thread safety: Record and the counters may be called from any thread
// concurrently (the store is thread-safe; the counters are atomics).
class AuditLog {
 public:
  // `store` may be null: the log is then disabled (Record does nothing and
  // returns true). `log` may be null. Both must outlive the AuditLog.
  AuditLog(StateStore* store, std::function<void(LogLevel, std::string_view)> log);

  // Appends the decision. False when the store failed (or threw): the failure
  // is counted and logged. Never throws.
  bool Record(const Decision& decision) noexcept;

  std::uint64_t records() const noexcept { return records_.load(std::memory_order_relaxed); }
  std::uint64_t failures() const noexcept { return failures_.load(std::memory_order_relaxed); }

 private:
  void LogFailure(std::string_view why) noexcept;

  StateStore* const store_;
  const std::function<void(LogLevel, std::string_view)> log_;
  std::atomic<std::uint64_t> records_{0};
  std::atomic<std::uint64_t> failures_{0};
};

}  // namespace nimify::actions

#endif  // NIMIFY_ACTIONS_AUDIT_LOG_H_
