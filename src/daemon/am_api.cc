#include "daemon/am_api.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "actions/file_state_store.h"
#include "actions/fingerprint.h"
#include "actions/time_interval.h"
#include "daemon/daemon_impl.h"
#include "daemon/prom_api.h"

namespace nimify::daemon {

namespace {

using actions::Matcher;
using actions::Matchers;
using actions::MatchType;

// Silences and acknowledgements a client is told are saved must be on disk
// (kill -9 tests rely on it): while one lives, the store does not hold these
// writes in memory when the state dir refuses writes, so the client gets 503.
class ClientWriteScope : public actions::DurableWritesScope {
 public:
  ClientWriteScope() : DurableWritesScope({"silence/", "ack/"}) {}
};

// Alertmanager answers errors of its v2 API as a JSON string.
HttpResponse AmError(int status, std::string_view message) {
  std::string body;
  AppendJsonString(&body, message);
  return HttpResponse::Json(status, std::move(body));
}

int HttpStatusFor(const Status& st) {
  switch (st.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kParseError:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

std::string_view MemberString(const rapidjson::Value& obj, const char* key) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

bool HasMember(const rapidjson::Value& obj, const char* key) {
  return obj.FindMember(key) != obj.MemberEnd() && !obj.FindMember(key)->value.IsNull();
}

Result<std::int64_t> MemberTime(const rapidjson::Value& obj, const char* key) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsString()) {
    return Status::InvalidArgument(std::string(key) + " in body is required");
  }
  Result<std::int64_t> t = ParseApiTime({it->value.GetString(), it->value.GetStringLength()});
  if (!t.ok()) {
    return Status::InvalidArgument(std::string(key) + " in body must be of type date-time: \"" +
                                   it->value.GetString() + "\"");
  }
  return *t;
}

// Deeper than any silence, acknowledgement or alert list needs.
constexpr int kMaxJsonDepth = 64;

// RapidJSON's DOM parser recurses once per level: a body of "[[[[..." as deep
// as the body limit allows would overflow the stack. Checked before parsing.
Status CheckJsonDepth(std::string_view body) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) {
        return Status::InvalidArgument("JSON body nested too deeply (more than " +
                                       std::to_string(kMaxJsonDepth) + " levels) at offset " +
                                       std::to_string(i));
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return Status::Ok();
}

Result<rapidjson::Document> ParseBody(std::string_view body) {
  NIMIFY_RETURN_IF_ERROR(CheckJsonDepth(body));
  rapidjson::Document d;
  if (d.Parse(body.data(), body.size()).HasParseError()) {
    return Status::InvalidArgument("parsing body as JSON failed at offset " +
                                   std::to_string(d.GetErrorOffset()));
  }
  return d;
}

// A matcher as an object {name, value, isRegex, isEqual} or, for nimify's
// own endpoints, an amtool-style string.
Result<MatcherSpec> ParseMatcherValue(const rapidjson::Value& v, bool allow_string) {
  if (allow_string && v.IsString()) {
    NIMIFY_ASSIGN_OR_RETURN(Matcher m, actions::ParseMatcher({v.GetString(), v.GetStringLength()}));
    return MatcherSpec{m.name(), m.value(),
                       m.type() == MatchType::kRegexp || m.type() == MatchType::kNotRegexp,
                       m.type() == MatchType::kEqual || m.type() == MatchType::kRegexp};
  }
  if (!v.IsObject()) return Status::InvalidArgument("matchers: each matcher must be an object");
  MatcherSpec m;
  auto name = v.FindMember("name");
  auto value = v.FindMember("value");
  if (name == v.MemberEnd() || !name->value.IsString()) {
    return Status::InvalidArgument("matchers.name in body is required");
  }
  if (value == v.MemberEnd() || !value->value.IsString()) {
    return Status::InvalidArgument("matchers.value in body is required");
  }
  m.name.assign(name->value.GetString(), name->value.GetStringLength());
  m.value.assign(value->value.GetString(), value->value.GetStringLength());
  if (auto r = v.FindMember("isRegex"); r != v.MemberEnd()) {
    if (!r->value.IsBool()) return Status::InvalidArgument("matchers.isRegex must be a boolean");
    m.is_regex = r->value.GetBool();
  }
  if (auto e = v.FindMember("isEqual"); e != v.MemberEnd() && !e->value.IsNull()) {
    if (!e->value.IsBool()) return Status::InvalidArgument("matchers.isEqual must be a boolean");
    m.is_equal = e->value.GetBool();
  }
  return m;
}

Result<std::vector<MatcherSpec>> ParseMatcherList(const rapidjson::Value& obj, bool allow_string) {
  auto it = obj.FindMember("matchers");
  if (it == obj.MemberEnd() || !it->value.IsArray()) {
    return Status::InvalidArgument("matchers in body is required");
  }
  std::vector<MatcherSpec> out;
  for (const auto& v : it->value.GetArray()) {
    NIMIFY_ASSIGN_OR_RETURN(MatcherSpec m, ParseMatcherValue(v, allow_string));
    out.push_back(std::move(m));
  }
  return out;
}

void AppendMatchers(std::string* out, const std::vector<MatcherSpec>& ms) {
  out->push_back('[');
  for (std::size_t i = 0; i < ms.size(); ++i) {
    if (i > 0) out->push_back(',');
    *out += "{\"name\":";
    AppendJsonString(out, ms[i].name);
    *out += ",\"value\":";
    AppendJsonString(out, ms[i].value);
    *out += ms[i].is_regex ? ",\"isRegex\":true" : ",\"isRegex\":false";
    *out += ms[i].is_equal ? ",\"isEqual\":true}" : ",\"isEqual\":false}";
  }
  out->push_back(']');
}

void AppendStringArray(std::string* out, const std::vector<std::string>& items) {
  out->push_back('[');
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendJsonString(out, items[i]);
  }
  out->push_back(']');
}

// strconv.ParseBool.
std::optional<bool> ParseGoBool(std::string_view s) {
  if (s == "1" || s == "t" || s == "T" || s == "true" || s == "TRUE" || s == "True") return true;
  if (s == "0" || s == "f" || s == "F" || s == "false" || s == "FALSE" || s == "False") {
    return false;
  }
  return std::nullopt;
}

Result<Matchers> ParseFilterParams(const Params& params) {
  Matchers out;
  for (const std::string& f : params.GetAll("filter")) {
    Result<Matcher> m = actions::ParseMatcher(f);
    if (!m.ok()) return Status::InvalidArgument(std::string(m.status().message()));
    out.push_back(std::move(*m));
  }
  return out;
}

}  // namespace

std::string FormatAmTime(std::int64_t ms) {
  std::int64_t secs = ms / 1000;
  std::int64_t frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    secs -= 1;
  }
  const std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(frac));
  return buf;
}

Result<Silence> ParseSilenceJson(std::string_view body) {
  NIMIFY_ASSIGN_OR_RETURN(rapidjson::Document d, ParseBody(body));
  if (!d.IsObject()) return Status::InvalidArgument("the body must be a silence object");
  Silence s;
  s.id = std::string(MemberString(d, "id"));
  NIMIFY_ASSIGN_OR_RETURN(s.matchers, ParseMatcherList(d, /*allow_string=*/false));
  if (s.matchers.empty()) return Status::InvalidArgument("matchers in body should have at least 1 items");
  NIMIFY_ASSIGN_OR_RETURN(s.starts_at_ms, MemberTime(d, "startsAt"));
  NIMIFY_ASSIGN_OR_RETURN(s.ends_at_ms, MemberTime(d, "endsAt"));
  if (!HasMember(d, "createdBy")) return Status::InvalidArgument("createdBy in body is required");
  if (!HasMember(d, "comment")) return Status::InvalidArgument("comment in body is required");
  s.created_by = std::string(MemberString(d, "createdBy"));
  s.comment = std::string(MemberString(d, "comment"));
  if (auto it = d.FindMember("expireOnResolve"); it != d.MemberEnd() && it->value.IsBool()) {
    s.expire_on_resolve = it->value.GetBool();
  }
  return s;
}

std::string GettableSilenceJson(const Silence& s) {
  std::string out = "{\"id\":";
  AppendJsonString(&out, s.id);
  out += ",\"status\":{\"state\":";
  AppendJsonString(&out, SilenceStateName(s.state));
  out += "},\"updatedAt\":\"" + FormatAmTime(s.updated_at_ms) + "\",\"matchers\":";
  AppendMatchers(&out, s.matchers);
  out += ",\"startsAt\":\"" + FormatAmTime(s.starts_at_ms) + "\",\"endsAt\":\"" +
         FormatAmTime(s.ends_at_ms) + "\",\"createdBy\":";
  AppendJsonString(&out, s.created_by);
  out += ",\"comment\":";
  AppendJsonString(&out, s.comment);
  if (s.expire_on_resolve) out += ",\"expireOnResolve\":true";
  out += '}';
  return out;
}

Result<Acknowledgement> ParseAckJson(std::string_view body) {
  NIMIFY_ASSIGN_OR_RETURN(rapidjson::Document d, ParseBody(body));
  if (!d.IsObject()) return Status::InvalidArgument("the body must be an acknowledgement object");
  Acknowledgement a;
  a.fingerprint = std::string(MemberString(d, "fingerprint"));
  if (HasMember(d, "matchers")) {
    NIMIFY_ASSIGN_OR_RETURN(a.matchers, ParseMatcherList(d, /*allow_string=*/true));
  }
  if (a.fingerprint.empty() == a.matchers.empty()) {
    return Status::InvalidArgument("give either matchers or a fingerprint");
  }
  a.created_by = std::string(MemberString(d, "createdBy"));
  if (a.created_by.empty()) return Status::InvalidArgument("createdBy in body is required");
  a.comment = std::string(MemberString(d, "comment"));
  if (HasMember(d, "endsAt")) {
    NIMIFY_ASSIGN_OR_RETURN(a.ends_at_ms, MemberTime(d, "endsAt"));
  }
  return a;
}

std::string AckJson(const Acknowledgement& a) {
  std::string out = "{\"id\":";
  AppendJsonString(&out, a.id);
  if (!a.fingerprint.empty()) {
    out += ",\"fingerprint\":";
    AppendJsonString(&out, a.fingerprint);
  }
  out += ",\"matchers\":";
  AppendMatchers(&out, a.matchers);
  out += ",\"createdBy\":";
  AppendJsonString(&out, a.created_by);
  out += ",\"comment\":";
  AppendJsonString(&out, a.comment);
  out += ",\"createdAt\":\"" + FormatAmTime(a.created_at_ms) + "\"";
  if (a.ends_at_ms > 0) out += ",\"endsAt\":\"" + FormatAmTime(a.ends_at_ms) + "\"";
  out += '}';
  return out;
}

std::string GettableAlertJson(const AlertStatus& a, std::int64_t ends_at_ms) {
  const AlertSnapshot& s = a.alert;
  std::string out = "{\"annotations\":";
  AppendLabelsObject(&out, s.annotations);
  const std::int64_t ends = s.state == AlertState::kResolved && s.ends_at_ms > 0 ? s.ends_at_ms
                                                                                 : ends_at_ms;
  out += ",\"endsAt\":\"" + FormatAmTime(ends) + "\",\"fingerprint\":";
  AppendJsonString(&out, s.fingerprint);
  out += ",\"receivers\":[";
  for (std::size_t i = 0; i < a.receivers.size(); ++i) {
    if (i > 0) out += ',';
    out += "{\"name\":";
    AppendJsonString(&out, a.receivers[i]);
    out += '}';
  }
  out += "],\"startsAt\":\"" + FormatAmTime(s.starts_at_ms) + "\",\"status\":{\"inhibitedBy\":";
  AppendStringArray(&out, a.inhibited_by);
  out += ",\"silencedBy\":";
  AppendStringArray(&out, a.silenced_by);
  out += ",\"state\":";
  AppendJsonString(&out, a.state);
  // nimify's addition; Alertmanager's clients ignore unknown fields.
  out += "},\"acknowledgedBy\":";
  AppendStringArray(&out, a.acknowledged_by);
  out += ",\"updatedAt\":\"" + FormatAmTime(a.updated_at_ms > 0 ? a.updated_at_ms : s.starts_at_ms) +
         "\"";
  if (!s.generator_url.empty()) {
    out += ",\"generatorURL\":";
    AppendJsonString(&out, s.generator_url);
  }
  out += ",\"labels\":";
  AppendLabelsObject(&out, s.labels);
  out += '}';
  return out;
}

Result<AlertFilter> ParseAlertFilter(std::string_view query) {
  Params params;
  NIMIFY_RETURN_IF_ERROR(params.AddEncoded(query));
  AlertFilter f;
  NIMIFY_ASSIGN_OR_RETURN(f.matchers, ParseFilterParams(params));
  const auto flag = [&params](const char* name, bool* out) -> Status {
    if (std::optional<std::string_view> v = params.Get(name)) {
      std::optional<bool> b = ParseGoBool(*v);
      if (!b) {
        return Status::InvalidArgument(std::string(name) + " in query must be of type boolean: \"" +
                                       std::string(*v) + "\"");
      }
      *out = *b;
    }
    return Status::Ok();
  };
  NIMIFY_RETURN_IF_ERROR(flag("active", &f.active));
  NIMIFY_RETURN_IF_ERROR(flag("silenced", &f.silenced));
  NIMIFY_RETURN_IF_ERROR(flag("inhibited", &f.inhibited));
  NIMIFY_RETURN_IF_ERROR(flag("unprocessed", &f.unprocessed));
  if (std::optional<std::string_view> r = params.Get("receiver"); r && !r->empty()) {
    f.receiver_regex = std::string(*r);
    Result<Matcher> check = Matcher::Create(MatchType::kRegexp, "receiver", f.receiver_regex);
    if (!check.ok()) {
      return Status::InvalidArgument("failed to parse receiver param: " +
                                     std::string(check.status().message()));
    }
  }
  return f;
}

bool AlertPasses(const AlertFilter& f, const AlertStatus& a) {
  if (!f.receiver_regex.empty()) {
    Result<Matcher> re = Matcher::Create(MatchType::kRegexp, "receiver", f.receiver_regex);
    if (!re.ok()) return false;
    const bool any = std::any_of(a.receivers.begin(), a.receivers.end(),
                                 [&](const std::string& r) { return re->Matches(r); });
    if (!any) return false;
  }
  if (!actions::MatchesAll(f.matchers, a.alert.labels)) return false;
  if (!f.active && a.state == "active") return false;
  if (!f.unprocessed && a.state == "unprocessed") return false;
  if (!f.silenced && !a.silenced_by.empty()) return false;
  if (!f.inhibited && !a.inhibited_by.empty()) return false;
  return true;
}

bool SilenceMatchesFilter(const Silence& s, const Matchers& filter) {
  for (const Matcher& f : filter) {
    auto it = std::find_if(s.matchers.begin(), s.matchers.end(),
                           [&](const MatcherSpec& m) { return m.name == f.name(); });
    if (it == s.matchers.end() || !f.Matches(it->value)) return false;
  }
  return true;
}

void SortSilences(std::vector<Silence>* silences) {
  const auto rank = [](SilenceState st) {
    switch (st) {
      case SilenceState::kActive:
        return 0;
      case SilenceState::kPending:
        return 1;
      case SilenceState::kExpired:
        return 2;
    }
    return 3;
  };
  std::stable_sort(silences->begin(), silences->end(), [&](const Silence& a, const Silence& b) {
    if (a.state != b.state) return rank(a.state) < rank(b.state);
    switch (a.state) {
      case SilenceState::kActive:
        return a.ends_at_ms < b.ends_at_ms;
      case SilenceState::kPending:
        return a.starts_at_ms < b.starts_at_ms;
      case SilenceState::kExpired:
        return a.ends_at_ms > b.ends_at_ms;
    }
    return false;
  });
}

Result<std::vector<Acknowledgement>> ParseV1AlertsAsAcks(std::string_view body) {
  NIMIFY_ASSIGN_OR_RETURN(rapidjson::Document d, ParseBody(body));
  if (!d.IsArray()) return Status::InvalidArgument("the body must be a list of alerts");
  std::vector<Acknowledgement> out;
  for (const auto& alert : d.GetArray()) {
    if (!alert.IsObject()) return Status::InvalidArgument("each alert must be an object");
    auto labels = alert.FindMember("labels");
    if (labels == alert.MemberEnd() || !labels->value.IsObject() ||
        labels->value.MemberCount() == 0) {
      return Status::InvalidArgument("each alert needs a non-empty labels object");
    }
    Acknowledgement a;
    for (const auto& l : labels->value.GetObject()) {
      if (!l.value.IsString()) return Status::InvalidArgument("label values must be strings");
      a.matchers.push_back(MatcherSpec{l.name.GetString(), l.value.GetString(), false, true});
    }
    a.created_by = "api";
    if (auto ann = alert.FindMember("annotations");
        ann != alert.MemberEnd() && ann->value.IsObject()) {
      a.comment = std::string(MemberString(ann->value, "comment"));
    }
    if (HasMember(alert, "endsAt")) {
      NIMIFY_ASSIGN_OR_RETURN(a.ends_at_ms, MemberTime(alert, "endsAt"));
    }
    out.push_back(std::move(a));
  }
  return out;
}

Result<std::shared_ptr<const actions::Route>> ParseRoutesOf(const ConfigNode& responses) {
  const ConfigNode* route = responses.Find("route");
  if (route == nullptr || route->is_null()) return Status::InvalidArgument("no route provided in config");
  actions::RouteValidation v;
  if (const ConfigNode* rs = responses.Find("receivers"); rs != nullptr && rs->is_sequence()) {
    for (const ConfigNode& r : rs->items()) {
      if (const ConfigNode* n = r.Find("name"); n != nullptr && n->is_scalar()) {
        v.receiver_names.push_back(n->text());
      }
    }
  }
  NIMIFY_ASSIGN_OR_RETURN(actions::TimeIntervals intervals,
                          actions::TimeIntervals::Parse(responses.Find("time_intervals"),
                                                        responses.Find("mute_time_intervals")));
  v.time_interval_names = intervals.Names();
  NIMIFY_ASSIGN_OR_RETURN(std::unique_ptr<actions::Route> tree, actions::ParseRouteTree(*route, v));
  return std::shared_ptr<const actions::Route>(std::move(tree));
}

std::vector<AlertGroupView> GroupAlerts(const actions::Route* routes,
                                        const std::vector<AlertStatus>& alerts,
                                        const AlertFilter& filter) {
  std::optional<Matcher> receiver_re;
  if (!filter.receiver_regex.empty()) {
    Result<Matcher> re = Matcher::Create(MatchType::kRegexp, "receiver", filter.receiver_regex);
    if (!re.ok()) return {};
    receiver_re = std::move(*re);
  }
  AlertFilter per_alert = filter;
  per_alert.receiver_regex.clear();  // it selects groups, not alerts
  std::vector<const AlertStatus*> sorted;
  for (const AlertStatus& a : alerts) {
    if (AlertPasses(per_alert, a)) sorted.push_back(&a);
  }
  std::sort(sorted.begin(), sorted.end(), [](const AlertStatus* a, const AlertStatus* b) {
    return a->alert.fingerprint < b->alert.fingerprint;
  });
  // Keyed by the route's unique id and the group key, as the dispatcher's
  // aggregation groups are (per route, then per group labels).
  std::map<std::pair<std::string, std::string>, AlertGroupView> groups;
  const auto add = [&](const std::string& id, const std::string& key, OwnedLabels labels,
                       const std::string& receiver, const AlertStatus* a) {
    if (receiver_re && !receiver_re->Matches(receiver)) return;
    AlertGroupView& g = groups[{id, key}];
    if (g.alerts.empty()) {
      g.labels = std::move(labels);
      g.receiver = receiver;
    }
    g.alerts.push_back(a);
  };
  for (const AlertStatus* a : sorted) {
    if (routes == nullptr) {
      OwnedLabels name{{"alertname", std::string(actions::LabelValue(a->alert.labels, "alertname"))}};
      if (a->receivers.empty()) add("", name[0].value, name, "", a);
      for (const std::string& r : a->receivers) add(r, name[0].value, name, r, a);
      continue;
    }
    OwnedLabels labels = a->alert.labels;
    std::sort(labels.begin(), labels.end(),
              [](const OwnedLabel& x, const OwnedLabel& y) { return x.name < y.name; });
    for (const actions::Route* r : routes->Match(labels)) {
      add(r->id(), actions::GroupKey(*r, labels), actions::GroupLabels(*r, labels),
          r->options().receiver, a);
    }
  }
  std::vector<AlertGroupView> out;
  out.reserve(groups.size());
  for (auto& [key, g] : groups) out.push_back(std::move(g));
  // Alertmanager's AlertGroups order: labels, then receiver.
  std::stable_sort(out.begin(), out.end(), [](const AlertGroupView& x, const AlertGroupView& y) {
    if (x.labels != y.labels) {
      return std::lexicographical_compare(
          x.labels.begin(), x.labels.end(), y.labels.begin(), y.labels.end(),
          [](const OwnedLabel& a, const OwnedLabel& b) {
            return a.name != b.name ? a.name < b.name : a.value < b.value;
          });
    }
    return x.receiver < y.receiver;
  });
  return out;
}

// ---- The routes ----

namespace {

// Handlers of the Alertmanager API. Thread safety: stateless; the responder
// and the engine are safe from any thread.
class AmApi {
 public:
  explicit AmApi(Daemon::Impl& impl) : impl_(impl) {}

  HttpResponse NoResponder() const {
    return AmError(503,
                   "silences and acknowledgements need the response config (route, receivers) in "
                   "--config.file");
  }

  // When an alert still firing stops being valid, as Alertmanager shows it:
  // four evaluation intervals ahead, as Prometheus's ValidUntil.
  std::int64_t ValidUntil() const {
    return WallClockMs() + 4 * std::max<std::int64_t>(impl_.config_eval_interval_ms(), 1000);
  }

  std::vector<AlertStatus> CurrentAlerts() const {
    std::vector<AlertStatus> out;
    if (std::shared_ptr<Responder> r = impl_.CurrentResponder()) {
      for (AlertStatus& a : r->Alerts()) {
        if (a.alert.state == AlertState::kResolved) continue;
        out.push_back(std::move(a));
      }
      return out;
    }
    // Without responses the engine's firing alerts are shown unprocessed.
    for (const AlertEvent& e : impl_.engine->ActiveAlerts()) {
      if (e.state != AlertState::kFiring) continue;
      AlertStatus a;
      a.alert.fingerprint = actions::FingerprintString(actions::Fingerprint(e.labels));
      a.alert.labels = e.labels;
      a.alert.annotations = e.annotations;
      a.alert.starts_at_ms = e.fired_at_ms.value_or(e.active_at_ms);
      a.alert.generator_url = e.generator_url;
      a.alert.value = e.value;
      a.state = "unprocessed";
      a.updated_at_ms = e.eval_time_ms;
      out.push_back(std::move(a));
    }
    return out;
  }

  HttpResponse GetAlerts(const HttpRequest& req) const {
    Result<AlertFilter> f = ParseAlertFilter(req.query);
    if (!f.ok()) return AmError(400, f.status().message());
    std::vector<AlertStatus> alerts = CurrentAlerts();
    std::sort(alerts.begin(), alerts.end(), [](const AlertStatus& a, const AlertStatus& b) {
      return a.alert.fingerprint < b.alert.fingerprint;
    });
    const std::int64_t valid_until = ValidUntil();
    std::string out = "[";
    bool first = true;
    for (const AlertStatus& a : alerts) {
      if (!AlertPasses(*f, a)) continue;
      if (!first) out += ',';
      first = false;
      out += GettableAlertJson(a, valid_until);
    }
    out += ']';
    return HttpResponse::Json(200, std::move(out));
  }

  // Grouped by the route tree's group_by, as Alertmanager's dispatcher groups.
  HttpResponse GetAlertGroups(const HttpRequest& req) const {
    Result<AlertFilter> f = ParseAlertFilter(req.query);
    if (!f.ok()) return AmError(400, f.status().message());
    const std::vector<AlertStatus> alerts = CurrentAlerts();
    const std::shared_ptr<const actions::Route> routes = impl_.CurrentRoutes();
    const std::int64_t valid_until = ValidUntil();
    std::string out = "[";
    bool first = true;
    for (const AlertGroupView& g : GroupAlerts(routes.get(), alerts, *f)) {
      if (!first) out += ',';
      first = false;
      out += "{\"labels\":{";
      for (std::size_t i = 0; i < g.labels.size(); ++i) {
        if (i > 0) out += ',';
        AppendJsonString(&out, g.labels[i].name);
        out += ':';
        AppendJsonString(&out, g.labels[i].value);
      }
      out += "},\"receiver\":{\"name\":";
      AppendJsonString(&out, g.receiver);
      out += "},\"alerts\":[";
      for (std::size_t i = 0; i < g.alerts.size(); ++i) {
        if (i > 0) out += ',';
        out += GettableAlertJson(*g.alerts[i], valid_until);
      }
      out += "]}";
    }
    out += ']';
    return HttpResponse::Json(200, std::move(out));
  }

  HttpResponse GetSilences(const HttpRequest& req) const {
    std::shared_ptr<Responder> r = impl_.CurrentResponder();
    if (!r) return HttpResponse::Json(200, "[]");
    Params params;
    if (Status st = params.AddEncoded(req.query); !st.ok()) return AmError(400, st.message());
    Result<Matchers> filter = ParseFilterParams(params);
    if (!filter.ok()) return AmError(400, filter.status().message());
    std::vector<Silence> silences = r->Silences();
    std::erase_if(silences, [&](const Silence& s) { return !SilenceMatchesFilter(s, *filter); });
    SortSilences(&silences);
    std::string out = "[";
    for (std::size_t i = 0; i < silences.size(); ++i) {
      if (i > 0) out += ',';
      out += GettableSilenceJson(silences[i]);
    }
    out += ']';
    return HttpResponse::Json(200, std::move(out));
  }

  Result<std::string> AddSilence(std::string_view body) const {
    std::shared_ptr<Responder> r = impl_.CurrentResponder();
    if (!r) return Status::Unavailable("no responder");
    NIMIFY_ASSIGN_OR_RETURN(Silence s, ParseSilenceJson(body));
    const ClientWriteScope durable;
    return r->AddSilence(std::move(s));
  }

  HttpResponse PostSilence(const HttpRequest& req) const {
    if (!impl_.CurrentResponder()) return NoResponder();
    Result<std::string> id = AddSilence(req.body);
    if (!id.ok()) return AmError(HttpStatusFor(id.status()), id.status().message());
    std::string out = "{\"silenceID\":";
    AppendJsonString(&out, *id);
    out += '}';
    return HttpResponse::Json(200, std::move(out));
  }

  HttpResponse PostSilenceV1(const HttpRequest& req) const {
    if (!impl_.CurrentResponder()) {
      return HttpResponse::Json(503, ApiErrorBody("unavailable", "no response config"));
    }
    Result<std::string> id = AddSilence(req.body);
    if (!id.ok()) {
      return HttpResponse::Json(HttpStatusFor(id.status()),
                                ApiErrorBody("bad_data", id.status().message()));
    }
    std::string data = "{\"silenceId\":";
    AppendJsonString(&data, *id);
    data += '}';
    return HttpResponse::Json(200, ApiSuccessBody(data));
  }

  // /api/v2/silence/{id}
  HttpResponse SilenceById(const HttpRequest& req) const {
    std::shared_ptr<Responder> r = impl_.CurrentResponder();
    if (!r) return NoResponder();
    std::string id;
    if (!UrlDecode(std::string_view(req.path).substr(kSilencePrefix.size()), &id) || id.empty() ||
        id.find('/') != std::string::npos) {
      return AmError(400, "bad silence id");
    }
    if (req.method == "DELETE") {
      const ClientWriteScope durable;
      const Status st = r->ExpireSilence(id);
      if (!st.ok()) return AmError(HttpStatusFor(st), st.message());
      return HttpResponse::Json(200, "");
    }
    Result<Silence> s = r->GetSilence(id);
    if (!s.ok()) return AmError(HttpStatusFor(s.status()), s.status().message());
    return HttpResponse::Json(200, GettableSilenceJson(*s));
  }

  HttpResponse GetStatus() const {
    std::string original;
    std::string file;
    {
      MutexLock lock(impl_.mu);
      file = impl_.config.file;
    }
    if (!file.empty()) {
      std::ifstream in(file);
      std::ostringstream s;
      s << in.rdbuf();
      original = s.str();
    }
    std::string out = "{\"cluster\":{\"status\":\"disabled\",\"peers\":[]},\"config\":{\"original\":";
    AppendJsonString(&out, original);
    out += "},\"uptime\":\"" + FormatAmTime(impl_.started_ms) + "\",\"versionInfo\":{\"version\":";
    AppendJsonString(&out, NIMIFY_DAEMON_VERSION);
    out += ",\"revision\":\"\",\"branch\":\"\",\"buildUser\":\"\",\"buildDate\":\"\","
           "\"goVersion\":\"none (nimifyd is C++)\"}}";
    return HttpResponse::Json(200, std::move(out));
  }

  HttpResponse Receivers() const {
    std::vector<std::string> names;
    {
      MutexLock lock(impl_.mu);
      if (impl_.config.responses) {
        if (const ConfigNode* rs = impl_.config.responses->Find("receivers");
            rs != nullptr && rs->is_sequence()) {
          for (const ConfigNode& item : rs->items()) {
            if (const ConfigNode* n = item.Find("name"); n != nullptr && n->is_scalar()) {
              names.push_back(n->text());
            }
          }
        }
      }
    }
    std::string out = "[";
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (i > 0) out += ',';
      out += "{\"name\":";
      AppendJsonString(&out, names[i]);
      out += '}';
    }
    out += ']';
    return HttpResponse::Json(200, std::move(out));
  }

  HttpResponse GetAcks(const HttpRequest&) const {
    std::shared_ptr<Responder> r = impl_.CurrentResponder();
    if (!r) return HttpResponse::Json(200, "[]");
    std::string out = "[";
    bool first = true;
    for (const Acknowledgement& a : r->Acknowledgements()) {
      if (!first) out += ',';
      first = false;
      out += AckJson(a);
    }
    out += ']';
    return HttpResponse::Json(200, std::move(out));
  }

  HttpResponse PostAck(const HttpRequest& req) const {
    std::shared_ptr<Responder> r = impl_.CurrentResponder();
    if (!r) return NoResponder();
    Result<Acknowledgement> a = ParseAckJson(req.body);
    if (!a.ok()) return AmError(400, a.status().message());
    const ClientWriteScope durable;
    Result<std::string> id = r->Acknowledge(std::move(*a));
    if (!id.ok()) return AmError(HttpStatusFor(id.status()), id.status().message());
    std::string out = "{\"ackID\":";
    AppendJsonString(&out, *id);
    out += '}';
    return HttpResponse::Json(200, std::move(out));
  }

  HttpResponse DeleteAck(const HttpRequest& req) const {
    std::shared_ptr<Responder> r = impl_.CurrentResponder();
    if (!r) return NoResponder();
    std::string id;
    if (!UrlDecode(std::string_view(req.path).substr(kAckPrefix.size()), &id) || id.empty()) {
      return AmError(400, "bad acknowledgement id");
    }
    const ClientWriteScope durable;
    const Status st = r->Unacknowledge(id);
    if (!st.ok()) return AmError(HttpStatusFor(st), st.message());
    return HttpResponse::Json(200, "");
  }

  // The runbook's "acknowledge" call.
  HttpResponse PostAlertsV1(const HttpRequest& req) const {
    std::shared_ptr<Responder> r = impl_.CurrentResponder();
    if (!r) return HttpResponse::Json(503, ApiErrorBody("unavailable", "no response config"));
    Result<std::vector<Acknowledgement>> acks = ParseV1AlertsAsAcks(req.body);
    if (!acks.ok()) return HttpResponse::Json(400, ApiErrorBody("bad_data", acks.status().message()));
    const ClientWriteScope durable;
    for (Acknowledgement& a : *acks) {
      Result<std::string> id = r->Acknowledge(std::move(a));
      if (!id.ok()) {
        return HttpResponse::Json(HttpStatusFor(id.status()),
                                  ApiErrorBody("bad_data", id.status().message()));
      }
    }
    return HttpResponse::Json(200, "{\"status\":\"success\"}");
  }

  static constexpr std::string_view kSilencePrefix = "/api/v2/silence/";
  static constexpr std::string_view kAckPrefix = "/api/v2/ack/";

 private:
  Daemon::Impl& impl_;
};

}  // namespace

void RegisterAlertmanagerApi(Daemon::Impl& impl) {
  HttpServer& s = *impl.server;
  auto api = std::make_shared<AmApi>(impl);
  Daemon::Impl* raw = &impl;
  const auto on = [api](HttpResponse (AmApi::*fn)(const HttpRequest&) const) {
    return [api, fn](const HttpRequest& req) { return ((*api).*fn)(req); };
  };
  s.Handle("/api/v2/alerts", {"GET"}, "/api/v2/alerts", on(&AmApi::GetAlerts));
  s.Handle("/api/v2/alerts/groups", {"GET"}, "/api/v2/alerts/groups", on(&AmApi::GetAlertGroups));
  s.Handle("/api/v2/silences", {"GET", "POST"}, "/api/v2/silences",
           [api](const HttpRequest& req) {
             return req.method == "POST" ? api->PostSilence(req) : api->GetSilences(req);
           });
  s.Handle(std::string(AmApi::kSilencePrefix), {"GET", "DELETE"}, "/api/v2/silence/:id",
           on(&AmApi::SilenceById), /*prefix=*/true);
  s.Handle("/api/v2/status", {"GET"}, "/api/v2/status",
           [api](const HttpRequest&) { return api->GetStatus(); });
  s.Handle("/api/v2/receivers", {"GET"}, "/api/v2/receivers",
           [api](const HttpRequest&) { return api->Receivers(); });
  s.Handle("/api/v2/acks", {"GET", "POST"}, "/api/v2/acks", [api](const HttpRequest& req) {
    return req.method == "POST" ? api->PostAck(req) : api->GetAcks(req);
  });
  s.Handle(std::string(AmApi::kAckPrefix), {"DELETE"}, "/api/v2/ack/:id", on(&AmApi::DeleteAck),
           /*prefix=*/true);
  s.Handle("/api/v1/silences", {"POST"}, "/api/v1/silences", on(&AmApi::PostSilenceV1));
  // GET stays Prometheus's alert list; POST is the runbook's acknowledgement.
  s.Handle("/api/v1/alerts", {"GET", "POST"}, "/api/v1/alerts",
           [api, raw](const HttpRequest& req) {
             return req.method == "POST" ? api->PostAlertsV1(req) : raw->Alerts(req);
           });
}

}  // namespace nimify::daemon
