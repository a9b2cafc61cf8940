// Alertmanager's v2 API (0.25's api/v2/openapi.yaml) over nimify's alerts,
// silences and status, so amtool, Grafana and scripts written for
// Alertmanager work against nimifyd; nimify's acknowledgement endpoints in
// the same style; and the two v1 calls of the runbook (POST
// /api/v1/silences, POST /api/v1/alerts as an acknowledgement).
// docs/daemon.md, "Alertmanager API" and "Acknowledgements".
#ifndef NIMIFY_DAEMON_AM_API_H_
#define NIMIFY_DAEMON_AM_API_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "actions/matchers.h"
#include "actions/route.h"
#include "daemon/daemon.h"
#include "nimify/actions.h"
#include "nimify/status.h"

namespace nimify::daemon {

// Registers the /api/v2 routes, /api/v1/silences and POST /api/v1/alerts
// (GET /api/v1/alerts stays Prometheus's, answered by Impl::Alerts). Call it
// before the other routes: the first matching route wins.
void RegisterAlertmanagerApi(Daemon::Impl& impl);

// ---- The JSON shapes, separate from the server for the tests ----

// strfmt.DateTime as Alertmanager prints it: 2024-01-02T03:04:05.120Z (always
// three fraction digits, UTC).
std::string FormatAmTime(std::int64_t ms);

// A postableSilence (v2) or a v1 silence: matchers, startsAt, endsAt,
// createdBy, comment, optional id, and nimify's optional expireOnResolve.
// kInvalidArgument naming the field for a malformed body.
Result<Silence> ParseSilenceJson(std::string_view body);
// A gettableSilence (status.state as the responder computed it on read).
std::string GettableSilenceJson(const Silence& silence);

// POST /api/v2/acks: {"matchers":[...]} or {"fingerprint":"..."}, createdBy,
// comment, optional endsAt. Matchers may also be strings ("a=~b").
Result<Acknowledgement> ParseAckJson(std::string_view body);
std::string AckJson(const Acknowledgement& ack);

// A gettableAlert. `ends_at_ms` is used when the alert is still firing.
std::string GettableAlertJson(const AlertStatus& alert, std::int64_t ends_at_ms);

// GET /api/v2/alerts's query parameters.
struct AlertFilter {
  actions::Matchers matchers;
  bool active = true;
  bool silenced = true;
  bool inhibited = true;
  bool unprocessed = true;
  std::string receiver_regex;  // empty: any
};
// kInvalidArgument with Alertmanager's text for a bad matcher, bool or regex.
Result<AlertFilter> ParseAlertFilter(std::string_view query);
// Whether `alert` passes (receiver regex anchored as Alertmanager does).
bool AlertPasses(const AlertFilter& filter, const AlertStatus& alert);

// The route tree of a response config (its `route`, `receivers` and time
// interval sections), for /api/v2/alerts/groups.
Result<std::shared_ptr<const actions::Route>> ParseRoutesOf(const ConfigNode& responses);

// One aggregation group of GET /api/v2/alerts/groups.
struct AlertGroupView {
  OwnedLabels labels;     // the route's group_by labels of its alerts
  std::string receiver;   // the route's receiver
  std::vector<const AlertStatus*> alerts;  // by fingerprint
};
// Alertmanager's dispatcher groups: one per (route, group-label values) for
// every route the alert matches (continue included). `filter`'s receiver
// regex selects groups by their route's receiver, the rest selects alerts;
// empty groups are left out. Sorted by labels, then receiver. Without a
// route tree, one group per receiver and alertname.
std::vector<AlertGroupView> GroupAlerts(const actions::Route* routes,
                                        const std::vector<AlertStatus>& alerts,
                                        const AlertFilter& filter);

// Alertmanager's CheckSilenceMatchesFilterLabels: each filter matcher must
// match the value of the silence's matcher of the same name.
bool SilenceMatchesFilter(const Silence& silence, const actions::Matchers& filter);
// Alertmanager's SortSilences: active by endsAt, then pending by startsAt,
// then expired by endsAt, newest first.
void SortSilences(std::vector<Silence>* silences);

// The v1 alerts body of the runbook's "acknowledge" call: one
// acknowledgement per posted alert, matching its labels exactly, with
// annotations.comment as the comment and createdBy "api".
Result<std::vector<Acknowledgement>> ParseV1AlertsAsAcks(std::string_view body);

}  // namespace nimify::daemon

#endif  // NIMIFY_DAEMON_AM_API_H_
