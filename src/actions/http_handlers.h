// The HTTP-based handler types: `http` (a request per step, e.g. Triton's
// model load/unload), `webhook` (Alertmanager's webhook payload, version 4),
// `slack` (one message per incident, updated in place), `statuspage`
// (Atlassian Statuspage incidents) and `alertmanager` (forwards alerts to a
// real Alertmanager and creates silences there). docs/actions.md, section
// "HTTP handlers", lists every config field.
//
// The pieces below are exposed for tests and for other handlers.
#ifndef NIMIFY_ACTIONS_HTTP_HANDLERS_H_
#define NIMIFY_ACTIONS_HTTP_HANDLERS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "nimify/actions.h"
#include "nimify/status.h"

namespace nimify::actions {

// Go's time.Time JSON form in UTC (RFC 3339 with up to nanosecond digits,
// trailing zeros dropped); 0 ms prints Go's zero time "0001-01-01T00:00:00Z".
std::string FormatRfc3339(std::int64_t unix_ms);
// The reverse (any offset, any number of fraction digits); Go's zero time reads as 0.
Result<std::int64_t> ParseRfc3339(std::string_view text);

// Alertmanager 0.25's webhook message (notify/webhook Message: template.Data
// plus version, groupKey, truncatedAlerts).
struct WebhookMessage {
  std::string receiver;
  std::string status;  // "firing" when any alert fires, else "resolved"
  std::vector<AlertSnapshot> alerts;
  OwnedLabels group_labels;
  OwnedLabels common_labels;
  OwnedLabels common_annotations;
  std::string external_url;
  std::string version;  // "4"
  std::string group_key;
  std::uint64_t truncated_alerts = 0;
};

// The webhook payload of a notification, as Alertmanager's webhook notifier
// builds it: at most `max_alerts` alerts (0: all) and the rest counted in
// truncatedAlerts; a firing alert shows the zero endsAt.
std::string BuildWebhookPayload(const ActionRequest& request, std::size_t max_alerts,
                                std::string_view external_url);
// Reads a webhook payload (ours or Alertmanager's). kInvalidArgument on bad JSON.
Result<WebhookMessage> ParseWebhookPayload(std::string_view json);

// The runbook's "Slack Update Template" for one incident (kStep, kIncidentUpdate).
std::string SlackIncidentText(const ActionRequest& request);
// A group notification's text (kNotification).
std::string SlackNotificationText(const ActionRequest& request);

// The Statuspage incident status for the request: investigating, identified,
// monitoring or resolved.
std::string StatuspagePhase(const ActionRequest& request);

}  // namespace nimify::actions

#endif  // NIMIFY_ACTIONS_HTTP_HANDLERS_H_
