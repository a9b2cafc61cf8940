#include "actions/silences.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

// SilenceStateName is in audit_log.cc.

namespace nimify::actions {
namespace {

constexpr std::string_view kPrefix = "silence/";

std::string Encode(const Silence& s, const std::set<std::string>& silenced) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("id");
  w.String(s.id.c_str(), static_cast<rapidjson::SizeType>(s.id.size()));
  w.Key("matchers");
  w.StartArray();
  for (const MatcherSpec& m : s.matchers) {
    w.StartObject();
    w.Key("name");
    w.String(m.name.c_str(), static_cast<rapidjson::SizeType>(m.name.size()));
    w.Key("value");
    w.String(m.value.c_str(), static_cast<rapidjson::SizeType>(m.value.size()));
    w.Key("isRegex");
    w.Bool(m.is_regex);
    w.Key("isEqual");
    w.Bool(m.is_equal);
    w.EndObject();
  }
  w.EndArray();
  w.Key("startsAt");
  w.Int64(s.starts_at_ms);
  w.Key("endsAt");
  w.Int64(s.ends_at_ms);
  w.Key("updatedAt");
  w.Int64(s.updated_at_ms);
  w.Key("createdBy");
  w.String(s.created_by.c_str(), static_cast<rapidjson::SizeType>(s.created_by.size()));
  w.Key("comment");
  w.String(s.comment.c_str(), static_cast<rapidjson::SizeType>(s.comment.size()));
  w.Key("expireOnResolve");
  w.Bool(s.expire_on_resolve);
  w.Key("silenced");
  w.StartArray();
  for (const std::string& f : silenced) w.String(f.c_str(), static_cast<rapidjson::SizeType>(f.size()));
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

std::string Str(const rapidjson::Value& o, const char* k) {
  auto it = o.FindMember(k);
  return it != o.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
}
std::int64_t Int(const rapidjson::Value& o, const char* k) {
  auto it = o.FindMember(k);
  return it != o.MemberEnd() && it->value.IsInt64() ? it->value.GetInt64() : 0;
}
bool Bool(const rapidjson::Value& o, const char* k) {
  auto it = o.FindMember(k);
  return it != o.MemberEnd() && it->value.IsBool() && it->value.GetBool();
}

}  // namespace

Result<Matchers> ToMatchers(const std::vector<MatcherSpec>& specs) {
  Matchers out;
  for (const MatcherSpec& m : specs) {
    if (!IsValidLabelName(m.name)) {
      return Status::InvalidArgument("invalid label name \"" + m.name + "\"");
    }
    const MatchType t = m.is_regex ? (m.is_equal ? MatchType::kRegexp : MatchType::kNotRegexp)
                                   : (m.is_equal ? MatchType::kEqual : MatchType::kNotEqual);
    Result<Matcher> mm = Matcher::Create(t, m.name, m.value);
    if (!mm.ok()) {
      return Status::InvalidArgument("invalid regular expression \"" + m.value +
                                     "\": " + std::string(mm.status().message()));
    }
    out.push_back(std::move(*mm));
  }
  return out;
}

SilenceStore::SilenceStore(StateStore* store, std::function<std::string()> new_id)
    : store_(store), new_id_(std::move(new_id)) {}

SilenceState SilenceStore::StateAt(const Silence& s, std::int64_t now_ms) noexcept {
  if (now_ms < s.starts_at_ms) return SilenceState::kPending;
  if (now_ms < s.ends_at_ms) return SilenceState::kActive;
  return SilenceState::kExpired;
}

Status SilenceStore::Load() {
  if (store_ == nullptr) return Status::Ok();
  NIMIFY_ASSIGN_OR_RETURN(std::vector<StoredValue> values, store_->List(kPrefix));
  for (const StoredValue& v : values) {
    rapidjson::Document d;
    if (d.Parse(v.value.c_str(), v.value.size()).HasParseError() || !d.IsObject()) continue;
    Entry e;
    e.silence.id = Str(d, "id");
    if (auto it = d.FindMember("matchers"); it != d.MemberEnd() && it->value.IsArray()) {
      for (const auto& m : it->value.GetArray()) {
        e.silence.matchers.push_back(
            MatcherSpec{Str(m, "name"), Str(m, "value"), Bool(m, "isRegex"), Bool(m, "isEqual")});
      }
    }
    e.silence.starts_at_ms = Int(d, "startsAt");
    e.silence.ends_at_ms = Int(d, "endsAt");
    e.silence.updated_at_ms = Int(d, "updatedAt");
    e.silence.created_by = Str(d, "createdBy");
    e.silence.comment = Str(d, "comment");
    e.silence.expire_on_resolve = Bool(d, "expireOnResolve");
    if (auto it = d.FindMember("silenced"); it != d.MemberEnd() && it->value.IsArray()) {
      for (const auto& f : it->value.GetArray()) {
        if (f.IsString()) e.silenced.insert(f.GetString());
      }
    }
    Result<Matchers> ms = ToMatchers(e.silence.matchers);
    if (!ms.ok() || e.silence.id.empty()) continue;
    e.matchers = std::move(*ms);
    silences_[e.silence.id] = std::move(e);
  }
  return Status::Ok();
}

Status SilenceStore::Validate(const Silence& s) const {
  if (s.matchers.empty()) return Status::InvalidArgument("at least one matcher required");
  NIMIFY_ASSIGN_OR_RETURN(Matchers ms, ToMatchers(s.matchers));
  bool all_match_empty = true;
  for (const Matcher& m : ms) all_match_empty = all_match_empty && m.Matches(std::string_view());
  if (all_match_empty) {
    return Status::InvalidArgument("at least one matcher must not match the empty string");
  }
  if (s.starts_at_ms == 0) return Status::InvalidArgument("invalid zero start timestamp");
  if (s.ends_at_ms == 0) return Status::InvalidArgument("invalid zero end timestamp");
  if (s.ends_at_ms < s.starts_at_ms) {
    return Status::InvalidArgument("end time must not be before start time");
  }
  return Status::Ok();
}

Status SilenceStore::Persist(const Entry& e) {
  if (store_ == nullptr) return Status::Ok();
  return store_->Put(std::string(kPrefix) + e.silence.id, Encode(e.silence, e.silenced)).status();
}

Result<std::string> SilenceStore::Set(Silence s, std::int64_t now_ms) {
  // The API's checks come first, as in Alertmanager's postSilencesHandler.
  if (s.starts_at_ms >= s.ends_at_ms) {
    return Status::InvalidArgument("failed to create silence: start time must be before end time");
  }
  if (s.ends_at_ms < now_ms) {
    return Status::InvalidArgument("failed to create silence: end time can't be in the past");
  }
  NIMIFY_RETURN_IF_ERROR(Validate(s));
  NIMIFY_ASSIGN_OR_RETURN(Matchers ms, ToMatchers(s.matchers));
  auto prev = silences_.end();
  if (!s.id.empty()) {
    prev = silences_.find(s.id);
    if (prev == silences_.end()) return Status::NotFound("silence " + s.id + " not found");
    // canUpdate: same matchers, and times only moved as the state allows.
    const Silence& a = prev->second.silence;
    bool can_update = a.matchers == s.matchers;
    switch (StateAt(a, now_ms)) {
      case SilenceState::kActive:
        can_update = can_update && s.starts_at_ms == a.starts_at_ms && s.ends_at_ms >= now_ms;
        break;
      case SilenceState::kPending:
        can_update = can_update && s.starts_at_ms >= now_ms;
        break;
      case SilenceState::kExpired:
        can_update = false;
        break;
    }
    if (can_update) {
      Entry& e = prev->second;
      s.updated_at_ms = now_ms;
      e.silence = s;
      e.matchers = std::move(ms);
      NIMIFY_RETURN_IF_ERROR(Persist(e));
      return s.id;
    }
    if (StateAt(a, now_ms) != SilenceState::kExpired) {
      NIMIFY_RETURN_IF_ERROR(Expire(a.id, now_ms));
    }
  }
  Entry e;
  s.id = new_id_();
  if (s.starts_at_ms < now_ms) s.starts_at_ms = now_ms;
  s.updated_at_ms = now_ms;
  e.silence = s;
  e.matchers = std::move(ms);
  NIMIFY_RETURN_IF_ERROR(Persist(e));
  silences_[s.id] = std::move(e);
  return s.id;
}

Status SilenceStore::Expire(std::string_view id, std::int64_t now_ms) {
  auto it = silences_.find(id);
  if (it == silences_.end()) return Status::NotFound("silence " + std::string(id) + " not found");
  Silence& s = it->second.silence;
  switch (StateAt(s, now_ms)) {
    case SilenceState::kExpired:
      return Status::FailedPrecondition("silence " + s.id + " already expired");
    case SilenceState::kActive:
      s.ends_at_ms = now_ms;
      break;
    case SilenceState::kPending:
      s.starts_at_ms = now_ms;
      s.ends_at_ms = now_ms;
      break;
  }
  s.updated_at_ms = now_ms;
  return Persist(it->second);
}

Result<Silence> SilenceStore::Get(std::string_view id, std::int64_t now_ms) const {
  auto it = silences_.find(id);
  if (it == silences_.end()) return Status::NotFound("silence " + std::string(id) + " not found");
  Silence s = it->second.silence;
  s.state = StateAt(s, now_ms);
  return s;
}

std::vector<Silence> SilenceStore::List(std::int64_t now_ms) const {
  std::vector<Silence> out;
  for (const auto& [id, e] : silences_) {
    out.push_back(e.silence);
    out.back().state = StateAt(e.silence, now_ms);
  }
  return out;
}

std::vector<std::string> SilenceStore::Matching(const OwnedLabels& labels,
                                                std::int64_t now_ms) const {
  std::vector<std::string> out;
  for (const auto& [id, e] : silences_) {
    if (StateAt(e.silence, now_ms) == SilenceState::kActive && MatchesAll(e.matchers, labels)) {
      out.push_back(id);
    }
  }
  return out;
}

void SilenceStore::NoteSilenced(std::string_view id, std::string_view fingerprint) {
  auto it = silences_.find(id);
  if (it == silences_.end() || !it->second.silence.expire_on_resolve) return;
  if (it->second.silenced.insert(std::string(fingerprint)).second) (void)Persist(it->second);
}

std::vector<std::string> SilenceStore::OnResolved(
    std::string_view fingerprint, std::int64_t now_ms,
    const std::function<bool(std::string_view)>& is_firing) {
  std::vector<std::string> expired;
  for (auto& [id, e] : silences_) {
    if (!e.silence.expire_on_resolve || e.silenced.count(std::string(fingerprint)) == 0) continue;
    if (StateAt(e.silence, now_ms) == SilenceState::kExpired) continue;
    const bool any_firing = std::any_of(e.silenced.begin(), e.silenced.end(),
                                        [&](const std::string& f) { return is_firing(f); });
    if (!any_firing && Expire(id, now_ms).ok()) expired.push_back(id);
  }
  return expired;
}

}  // namespace nimify::actions
