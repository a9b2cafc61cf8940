// Prometheus's HTTP API (read side) over the engine: queries, series and
// label lookups, rules and alerts, build info.
#include <algorithm>
#include <limits>

#include "daemon/daemon_impl.h"
#include "common/go_strconv.h"
#include "daemon/prom_api.h"

namespace nimify::daemon {
namespace {

// Prometheus's defaults when start/end are absent: the whole time range.
constexpr std::int64_t kMinTimeMs = std::numeric_limits<std::int64_t>::min() / 4;
constexpr std::int64_t kMaxTimeMs = std::numeric_limits<std::int64_t>::max() / 4;

HttpResponse ApiErrorReply(int status, std::string_view type, std::string_view message) {
  return HttpResponse::Json(status, ApiErrorBody(type, message));
}

HttpResponse ApiFailure(const Status& st) {
  const daemon::ApiError e = ApiErrorForStatus(st);
  return ApiErrorReply(e.http_status, e.type, st.message());
}

HttpResponse BadParam(std::string_view name, const Status& st) {
  return ApiErrorReply(400, "bad_data",
                  "invalid parameter \"" + std::string(name) + "\": " + std::string(st.message()));
}

// Query-string parameters, plus the form body of a POST (Grafana's default).
Result<Params> ReadParams(const HttpRequest& req) {
  Params params;
  NIMIFY_RETURN_IF_ERROR(params.AddEncoded(req.query));
  if (req.method == "POST") {
    const std::string_view ct = req.content_type;
    if (ct.empty() || ct.starts_with("application/x-www-form-urlencoded")) {
      NIMIFY_RETURN_IF_ERROR(params.AddEncoded(req.body));
    }
  }
  return params;
}

Result<std::int64_t> TimeParam(const Params& params, std::string_view name,
                               std::int64_t default_ms) {
  const auto v = params.Get(name);
  if (!v || v->empty()) return default_ms;
  return ParseApiTime(*v);
}

void AppendStringArray(std::string* out, const std::vector<std::string>& items) {
  out->push_back('[');
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendJsonString(out, items[i]);
  }
  out->push_back(']');
}

std::string FormatSeconds(std::chrono::nanoseconds d) {
  return FormatApiValue(static_cast<double>(d.count()) / 1e9);
}

void AppendAlert(std::string* out, const AlertEvent& a) {
  *out += "{\"labels\":";
  AppendLabelsObject(out, a.labels);
  *out += ",\"annotations\":";
  AppendLabelsObject(out, a.annotations);
  *out += ",\"state\":";
  AppendJsonString(out, AlertStateName(a.state));
  *out += ",\"activeAt\":";
  AppendJsonString(out, FormatRfc3339(a.active_at_ms));
  *out += ",\"value\":";
  // Prometheus writes an alert's value with FormatFloat(v, 'e', -1).
  AppendJsonString(out, internal::FormatGoFloat(a.value, 'e', -1));
  *out += '}';
}

std::vector<std::string> Matchers(const Params& params) { return params.GetAll("match[]"); }

}  // namespace

HttpResponse Daemon::Impl::Query(const HttpRequest& req) {
  Result<Params> params = ReadParams(req);
  if (!params.ok()) return ApiErrorReply(400, "bad_data", params.status().message());
  const auto expr = params->Get("query");
  Result<std::int64_t> t = TimeParam(*params, "time", WallClockMs());
  if (!t.ok()) return BadParam("time", t.status());
  QueryOptions opts;
  opts.timeout = limits.query_timeout;
  opts.max_samples = limits.max_query_samples;
  if (auto to = params->Get("timeout"); to && !to->empty()) {
    Result<std::int64_t> d = ParseApiDuration(*to);
    if (!d.ok()) return BadParam("timeout", d.status());
    if (*d > 0) opts.timeout = std::min(opts.timeout, std::chrono::milliseconds(*d));
  }
  Result<QueryResult> r = engine->Query(expr ? *expr : std::string_view(), *t, opts);
  if (!r.ok()) return ApiFailure(r.status());
  return HttpResponse::Json(200, ApiSuccessBody(QueryDataJson(*r), r->warnings, r->infos));
}

HttpResponse Daemon::Impl::QueryRange(const HttpRequest& req) {
  Result<Params> params = ReadParams(req);
  if (!params.ok()) return ApiErrorReply(400, "bad_data", params.status().message());
  const auto start_text = params->Get("start");
  const auto end_text = params->Get("end");
  const auto step_text = params->Get("step");
  if (!start_text) return BadParam("start", Status::InvalidArgument("cannot parse \"\" to a valid timestamp"));
  Result<std::int64_t> start = ParseApiTime(*start_text);
  if (!start.ok()) return BadParam("start", start.status());
  if (!end_text) return BadParam("end", Status::InvalidArgument("cannot parse \"\" to a valid timestamp"));
  Result<std::int64_t> end = ParseApiTime(*end_text);
  if (!end.ok()) return BadParam("end", end.status());
  if (*end < *start) {
    return BadParam("end", Status::InvalidArgument("end timestamp must not be before start time"));
  }
  if (!step_text) return BadParam("step", Status::InvalidArgument("cannot parse \"\" to a valid duration"));
  Result<std::int64_t> step = ParseApiDuration(*step_text);
  if (!step.ok()) return BadParam("step", step.status());
  if (*step <= 0) {
    return BadParam("step", Status::InvalidArgument(
                                "zero or negative query resolution step widths are not accepted. "
                                "Try a positive integer"));
  }
  if ((*end - *start) / *step > 11000) {
    return ApiErrorReply(400, "bad_data",
                    "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing "
                    "the query resolution (?step=XX)");
  }
  QueryOptions opts;
  opts.timeout = limits.query_timeout;
  opts.max_samples = limits.max_query_samples;
  if (auto to = params->Get("timeout"); to && !to->empty()) {
    Result<std::int64_t> d = ParseApiDuration(*to);
    if (!d.ok()) return BadParam("timeout", d.status());
    if (*d > 0) opts.timeout = std::min(opts.timeout, std::chrono::milliseconds(*d));
  }
  const auto expr = params->Get("query");
  Result<QueryResult> r = engine->QueryRange(expr ? *expr : std::string_view(), *start, *end,
                                             std::chrono::milliseconds(*step), opts);
  if (!r.ok()) return ApiFailure(r.status());
  return HttpResponse::Json(200, ApiSuccessBody(QueryDataJson(*r), r->warnings, r->infos));
}

HttpResponse Daemon::Impl::Series(const HttpRequest& req) {
  Result<Params> params = ReadParams(req);
  if (!params.ok()) return ApiErrorReply(400, "bad_data", params.status().message());
  const std::vector<std::string> matchers = Matchers(*params);
  if (matchers.empty()) return ApiErrorReply(400, "bad_data", "no match[] parameter provided");
  Result<std::int64_t> start = TimeParam(*params, "start", kMinTimeMs);
  if (!start.ok()) return BadParam("start", start.status());
  Result<std::int64_t> end = TimeParam(*params, "end", kMaxTimeMs);
  if (!end.ok()) return BadParam("end", end.status());
  Result<std::vector<OwnedLabels>> r = engine->Series(matchers, *start, *end);
  if (!r.ok()) return ApiFailure(r.status());
  std::string data = "[";
  for (std::size_t i = 0; i < r->size(); ++i) {
    if (i > 0) data += ',';
    AppendLabelsObject(&data, (*r)[i]);
  }
  data += ']';
  return HttpResponse::Json(200, ApiSuccessBody(data));
}

HttpResponse Daemon::Impl::Labels(const HttpRequest& req) {
  Result<Params> params = ReadParams(req);
  if (!params.ok()) return ApiErrorReply(400, "bad_data", params.status().message());
  Result<std::int64_t> start = TimeParam(*params, "start", kMinTimeMs);
  if (!start.ok()) return BadParam("start", start.status());
  Result<std::int64_t> end = TimeParam(*params, "end", kMaxTimeMs);
  if (!end.ok()) return BadParam("end", end.status());
  Result<std::vector<std::string>> r = engine->LabelNames(Matchers(*params), *start, *end);
  if (!r.ok()) return ApiFailure(r.status());
  std::string data;
  AppendStringArray(&data, *r);
  return HttpResponse::Json(200, ApiSuccessBody(data));
}

HttpResponse Daemon::Impl::LabelValues(const HttpRequest& req) {
  // /api/v1/label/<name>/values
  constexpr std::string_view kPrefix = "/api/v1/label/";
  constexpr std::string_view kSuffix = "/values";
  std::string_view rest = std::string_view(req.path).substr(kPrefix.size());
  if (!rest.ends_with(kSuffix) || rest.size() == kSuffix.size()) {
    return ApiErrorReply(404, "not_found", "no handler for path " + req.path);
  }
  std::string name;
  if (!UrlDecode(rest.substr(0, rest.size() - kSuffix.size()), &name) || name.empty() ||
      name.find('/') != std::string::npos) {
    return ApiErrorReply(400, "bad_data", "invalid label name: \"" + name + "\"");
  }
  Result<Params> params = ReadParams(req);
  if (!params.ok()) return ApiErrorReply(400, "bad_data", params.status().message());
  Result<std::int64_t> start = TimeParam(*params, "start", kMinTimeMs);
  if (!start.ok()) return BadParam("start", start.status());
  Result<std::int64_t> end = TimeParam(*params, "end", kMaxTimeMs);
  if (!end.ok()) return BadParam("end", end.status());
  Result<std::vector<std::string>> r = engine->LabelValues(name, Matchers(*params), *start, *end);
  if (!r.ok()) return ApiFailure(r.status());
  std::string data;
  AppendStringArray(&data, *r);
  return HttpResponse::Json(200, ApiSuccessBody(data));
}

HttpResponse Daemon::Impl::Rules(const HttpRequest& req) {
  Result<Params> params = ReadParams(req);
  if (!params.ok()) return ApiErrorReply(400, "bad_data", params.status().message());
  const auto type = params->Get("type");
  if (type && !type->empty() && *type != "alert" && *type != "record") {
    return ApiErrorReply(400, "bad_data", "invalid parameter \"type\": not supported value \"" +
                                         std::string(*type) + "\"");
  }
  const bool want_alerts = !type || type->empty() || *type == "alert";
  const bool want_records = !type || type->empty() || *type == "record";
  const std::vector<RuleHealth> health = engine->RuleHealth();
  const std::shared_ptr<const RuleSet> rule_set = engine->rules();
  const std::vector<RuleInfo> infos = rule_set ? rule_set->rules() : std::vector<RuleInfo>();
  const std::vector<AlertEvent> active = engine->ActiveAlerts();
  const std::int64_t default_interval = config_eval_interval_ms();

  std::string data = "{\"groups\":[";
  std::size_t i = 0;
  bool first_group = true;
  while (i < health.size()) {
    const RuleHealth& g = health[i];
    std::size_t j = i;
    while (j < health.size() && health[j].file == g.file && health[j].group == g.group) ++j;
    if (!first_group) data += ',';
    first_group = false;
    data += "{\"name\":";
    AppendJsonString(&data, g.group);
    data += ",\"file\":";
    AppendJsonString(&data, g.file);
    data += ",\"rules\":[";
    bool first_rule = true;
    for (std::size_t k = i; k < j; ++k) {
      const RuleHealth& h = health[k];
      const bool alerting = h.kind == RuleKind::kAlerting;
      if ((alerting && !want_alerts) || (!alerting && !want_records)) continue;
      // Same order as RuleHealth; checked in case the rules changed between the calls.
      const RuleInfo* info = k < infos.size() && infos[k].name == h.name &&
                                     infos[k].group == h.group && infos[k].expr == h.expr
                                 ? &infos[k]
                                 : nullptr;
      if (!first_rule) data += ',';
      first_rule = false;
      data += '{';
      std::string state = "inactive";
      std::string alerts_json = "[";
      if (alerting) {
        bool first_alert = true;
        for (const AlertEvent& a : active) {
          if (a.rule != h.name || a.group != h.group || a.file != h.file) continue;
          if (a.state == AlertState::kFiring) {
            state = "firing";
          } else if (state != "firing") {
            state = "pending";
          }
          if (!first_alert) alerts_json += ',';
          first_alert = false;
          AppendAlert(&alerts_json, a);
        }
        alerts_json += ']';
        data += "\"state\":";
        AppendJsonString(&data, state);
        data += ',';
      }
      data += "\"name\":";
      AppendJsonString(&data, h.name);
      data += ",\"query\":";
      AppendJsonString(&data, h.expr);
      if (alerting) {
        data += ",\"duration\":";
        data += FormatApiValue(info ? static_cast<double>(info->for_duration.count()) / 1000.0 : 0);
        data += ",\"keepFiringFor\":";
        data +=
            FormatApiValue(info ? static_cast<double>(info->keep_firing_for.count()) / 1000.0 : 0);
      }
      data += ",\"labels\":";
      AppendLabelsObject(&data, info ? info->labels : OwnedLabels());
      if (alerting) {
        data += ",\"annotations\":";
        AppendLabelsObject(&data, info ? info->annotations : OwnedLabels());
        data += ",\"alerts\":";
        data += alerts_json;
      }
      data += ",\"health\":";
      AppendJsonString(&data, h.health);
      if (!h.last_error.empty()) {
        data += ",\"lastError\":";
        AppendJsonString(&data, h.last_error);
      }
      data += ",\"evaluationTime\":";
      data += FormatSeconds(h.evaluation_duration);
      data += ",\"lastEvaluation\":";
      AppendJsonString(&data, h.last_evaluation_ms ? FormatRfc3339(*h.last_evaluation_ms)
                                                   : "0001-01-01T00:00:00Z");
      data += ",\"type\":";
      AppendJsonString(&data, alerting ? "alerting" : "recording");
      data += '}';
    }
    data += "],\"interval\":";
    data +=
        FormatApiValue(static_cast<double>(g.group_interval.count() > 0 ? g.group_interval.count()
                                                                        : default_interval) /
                       1000.0);
    data += ",\"limit\":0,\"evaluationTime\":";
    data += FormatSeconds(g.group_evaluation_duration);
    data += ",\"lastEvaluation\":";
    AppendJsonString(&data, g.group_last_evaluation_ms ? FormatRfc3339(*g.group_last_evaluation_ms)
                                                       : "0001-01-01T00:00:00Z");
    data += '}';
    i = j;
  }
  data += "]}";
  return HttpResponse::Json(200, ApiSuccessBody(data));
}

HttpResponse Daemon::Impl::Alerts(const HttpRequest& /*req*/) {
  std::string data = "{\"alerts\":[";
  bool first = true;
  for (const AlertEvent& a : engine->ActiveAlerts()) {
    if (!first) data += ',';
    first = false;
    AppendAlert(&data, a);
  }
  data += "]}";
  return HttpResponse::Json(200, ApiSuccessBody(data));
}

HttpResponse Daemon::Impl::BuildInfo(const HttpRequest& /*req*/) {
  std::string data = "{\"version\":";
  AppendJsonString(&data, NIMIFY_DAEMON_VERSION);
  data += ",\"revision\":\"\",\"branch\":\"\",\"buildUser\":\"\",\"buildDate\":\"\","
          "\"goVersion\":\"none (C++ nimifyd)\"}";
  return HttpResponse::Json(200, ApiSuccessBody(data));
}

}  // namespace nimify::daemon
