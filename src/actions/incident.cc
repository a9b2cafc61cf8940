#include "actions/incident.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

namespace nimify::actions {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Str(Writer& w, const std::string& s) {
  w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
}

void Labels(Writer& w, const char* key, const OwnedLabels& labels) {
  w.Key(key);
  w.StartObject();
  for (const OwnedLabel& l : labels) {
    Str(w, l.name);
    Str(w, l.value);
  }
  w.EndObject();
}

void Set(Writer& w, const char* key, const std::set<std::string>& set) {
  w.Key(key);
  w.StartArray();
  for (const std::string& s : set) Str(w, s);
  w.EndArray();
}

OwnedLabels ReadLabels(const rapidjson::Value& o, const char* key) {
  OwnedLabels out;
  auto it = o.FindMember(key);
  if (it == o.MemberEnd() || !it->value.IsObject()) return out;
  for (const auto& m : it->value.GetObject()) {
    if (m.value.IsString()) out.push_back({m.name.GetString(), m.value.GetString()});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

std::set<std::string> ReadSet(const rapidjson::Value& o, const char* key) {
  std::set<std::string> out;
  auto it = o.FindMember(key);
  if (it == o.MemberEnd() || !it->value.IsArray()) return out;
  for (const auto& v : it->value.GetArray()) {
    if (v.IsString()) out.insert(v.GetString());
  }
  return out;
}

}  // namespace

std::string Incident::Encode() const {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("fingerprint");
  Str(w, alert.fingerprint);
  Labels(w, "labels", alert.labels);
  Labels(w, "annotations", alert.annotations);
  w.Key("firing");
  w.Bool(firing);
  w.Key("value");
  w.Double(alert.value);
  w.Key("startsAt");
  w.Int64(alert.starts_at_ms);
  w.Key("endsAt");
  w.Int64(alert.ends_at_ms);
  w.Key("generatorURL");
  Str(w, alert.generator_url);
  Set(w, "notified", notified);
  Set(w, "levelsDone", levels_done);
  Set(w, "stepsDone", steps_done);
  w.Key("escalatedTo");
  Str(w, view.escalated_to);
  w.Key("results");
  w.StartObject();
  for (const auto& [step, r] : results) {
    Str(w, step);
    w.StartObject();
    w.Key("output");
    Str(w, r.output.size() <= kPersistedOutputCap ? r.output : r.output.substr(0, kPersistedOutputCap));
    w.Key("exitStatus");
    w.Int(r.exit_status);
    w.Key("outcome");
    Str(w, r.outcome);
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  return buf.GetString();
}

bool Incident::Decode(const std::string& json) {
  rapidjson::Document d;
  if (d.Parse(json.c_str(), json.size()).HasParseError() || !d.IsObject()) return false;
  auto str = [&](const char* k) {
    auto it = d.FindMember(k);
    return it != d.MemberEnd() && it->value.IsString() ? std::string(it->value.GetString())
                                                       : std::string();
  };
  auto i64 = [&](const char* k) -> std::int64_t {
    auto it = d.FindMember(k);
    return it != d.MemberEnd() && it->value.IsInt64() ? it->value.GetInt64() : 0;
  };
  alert.fingerprint = str("fingerprint");
  if (alert.fingerprint.empty()) return false;
  alert.labels = ReadLabels(d, "labels");
  alert.annotations = ReadLabels(d, "annotations");
  auto f = d.FindMember("firing");
  firing = f != d.MemberEnd() && f->value.IsBool() && f->value.GetBool();
  ever_fired = true;
  alert.state = firing ? AlertState::kFiring : AlertState::kResolved;
  if (auto v = d.FindMember("value"); v != d.MemberEnd() && v->value.IsNumber()) {
    alert.value = v->value.GetDouble();
  }
  alert.starts_at_ms = i64("startsAt");
  alert.ends_at_ms = i64("endsAt");
  alert.generator_url = str("generatorURL");
  notified = ReadSet(d, "notified");
  levels_done = ReadSet(d, "levelsDone");
  steps_done = ReadSet(d, "stepsDone");
  view.escalated_to = str("escalatedTo");
  results.clear();
  if (auto rs = d.FindMember("results"); rs != d.MemberEnd() && rs->value.IsObject()) {
    for (const auto& m : rs->value.GetObject()) {
      if (!m.value.IsObject()) continue;
      StepResult r;
      if (auto o = m.value.FindMember("output"); o != m.value.MemberEnd() && o->value.IsString()) {
        r.output.assign(o->value.GetString(), o->value.GetStringLength());
      }
      if (auto e = m.value.FindMember("exitStatus"); e != m.value.MemberEnd() && e->value.IsInt()) {
        r.exit_status = e->value.GetInt();
      }
      if (auto o = m.value.FindMember("outcome"); o != m.value.MemberEnd() && o->value.IsString()) {
        r.outcome = o->value.GetString();
      }
      results[m.name.GetString()] = std::move(r);
    }
  }
  return true;
}

void RefreshStatus(Incident* incident) {
  IncidentView& v = incident->view;
  if (!incident->firing) {
    v.status = "resolved";
  } else if (!v.acknowledged_by.empty()) {
    v.status = "acknowledged";
  } else if (!v.escalated_to.empty()) {
    v.status = "escalated";
  } else {
    v.status = "investigating";
  }
}

}  // namespace nimify::actions
