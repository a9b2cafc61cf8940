// The response config (docs/actions.md, notes: the alertmanager.yml superset):
// Alertmanager's route / inhibit_rules / time_intervals plus nimify's
// handlers, responses, escalations, budgets and safety, validated whole at
// load time. Every error reads "file:line:col: message"; all errors of a
// config are collected, one per line.
#ifndef NIMIFY_ACTIONS_RESPONSE_CONFIG_H_
#define NIMIFY_ACTIONS_RESPONSE_CONFIG_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actions/inhibit.h"
#include "actions/route.h"
#include "actions/time_interval.h"
#include "nimify/actions.h"
#include "nimify/config.h"
#include "template/data_template.h"

namespace re2 {
class RE2;
}

namespace nimify::actions {

// A `with:` tree whose strings are templates, rendered per alert into a
// ConfigNode of the same shape (positions kept).
// Thread safety: immutable after load.
struct TemplatedNode {
  ConfigNode source;
  std::optional<tmpl::DataTemplate> text;      // scalars holding "{{"
  std::vector<TemplatedNode> children;         // sequence items or map values
  Result<ConfigNode> Render(const tmpl::Value& data) const;
};

struct RetrySpec {
  std::uint32_t attempts = 1;  // total attempts
  std::int64_t initial_backoff_ms = 1000;
  std::int64_t max_backoff_ms = 60000;
};

struct HandlerSpec {
  std::string name;
  std::string type;
  std::optional<bool> dry_run;  // per handler; true forces dry-run
  std::int64_t timeout_ms = 30000;
  RetrySpec retry;
  std::uint32_t concurrency = 4;
  std::shared_ptr<ActionHandler> instance;
};

struct ConditionSpec {
  enum class Kind : std::uint8_t { kNone, kExpr, kOutputMatches, kExitStatus };
  Kind kind = Kind::kNone;
  std::string expr;  // kExpr
  std::string step;  // kOutputMatches / kExitStatus: an earlier step of the response
  std::shared_ptr<const re2::RE2> output_re;
  int exit_status = 0;
  std::string Describe() const;
};

struct VerifySpec {
  std::string expr;
  std::int64_t within_ms = 0;
  std::int64_t every_ms = 0;
};

struct RemediationSpec {
  tmpl::DataTemplate target;
  std::string budget;  // empty: none
  std::int64_t cooldown_ms = 0;
};

struct StepSpec {
  std::string name;
  std::string handler;  // empty for manual and escalate steps
  TemplatedNode with;
  bool has_with = false;
  bool attach = false;
  ConditionSpec when;
  std::optional<RemediationSpec> remediation;
  std::optional<VerifySpec> verify;
  std::vector<StepSpec> on_failure;
  std::string manual;    // non-empty: a manual step (the template's source)
  std::optional<tmpl::DataTemplate> manual_text;  // compiled `manual`, rendered per alert
  bool escalate = false;  // jump to the next escalation level
};

struct ResponseSpec {
  std::string name;
  std::vector<StepSpec> steps;
  std::vector<StepSpec> on_resolved;
};

struct EscalationLevelSpec {
  std::int64_t after_ms = 0;
  std::string target;
  std::vector<std::string> notify;
  std::vector<std::string> responses;
};

struct EscalationSpec {
  std::string name;
  std::vector<EscalationLevelSpec> levels;
};

struct BudgetSpec {
  std::int64_t max = 0;
  std::int64_t per_ms = 0;
};

struct BreakerSpec {
  std::int64_t failures = 0;  // 0: no breaker
  std::int64_t window_ms = 0;
  std::int64_t open_for_ms = 0;
};

struct ReceiverSpec {
  std::string name;
  std::vector<std::string> notify;
  std::vector<std::string> responses;
  std::string escalation;  // empty: none
};

// Thread safety: immutable after LoadResponseConfig.
struct ResponseConfig {
  std::unique_ptr<Route> route;
  std::vector<InhibitRule> inhibit_rules;
  TimeIntervals time_intervals;
  std::int64_t resolve_timeout_ms = 5 * 60 * 1000;
  bool dry_run = false;
  std::map<std::string, ReceiverSpec, std::less<>> receivers;
  std::map<std::string, HandlerSpec, std::less<>> handlers;
  std::map<std::string, ResponseSpec, std::less<>> responses;
  std::map<std::string, EscalationSpec, std::less<>> escalations;
  std::map<std::string, BudgetSpec, std::less<>> budgets;
  std::optional<BudgetSpec> max_remediations;
  BreakerSpec breaker;
};

struct LoadContext {
  const ActionHandlerRegistry* registry = nullptr;  // null: Default()
  StateStore* store = nullptr;
  std::function<void(LogLevel, std::string_view)> log;
  bool force_dry_run = false;  // ResponderOptions::force_dry_run: every handler only plans
};

// Validates and compiles `root`. kInvalidArgument with every error found,
// one "file:line:col: message" per line.
Result<std::shared_ptr<const ResponseConfig>> LoadResponseConfig(const ConfigNode& root,
                                                                 const LoadContext& context);

}  // namespace nimify::actions

#endif  // NIMIFY_ACTIONS_RESPONSE_CONFIG_H_
