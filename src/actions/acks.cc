#include "actions/acks.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "actions/silences.h"

namespace nimify::actions {
namespace {

constexpr std::string_view kPrefix = "ack/";

void PutString(rapidjson::Writer<rapidjson::StringBuffer>& w, const char* k, const std::string& v) {
  w.Key(k);
  w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
}

std::string Str(const rapidjson::Value& o, const char* k) {
  auto it = o.FindMember(k);
  return it != o.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
}

}  // namespace

AckStore::AckStore(StateStore* store, std::function<std::string()> new_id)
    : store_(store), new_id_(std::move(new_id)) {}

Status AckStore::Persist(const Entry& e) {
  if (store_ == nullptr) return Status::Ok();
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  PutString(w, "id", e.ack.id);
  PutString(w, "fingerprint", e.ack.fingerprint);
  w.Key("matchers");
  w.StartArray();
  for (const MatcherSpec& m : e.ack.matchers) {
    w.StartObject();
    PutString(w, "name", m.name);
    PutString(w, "value", m.value);
    w.Key("isRegex");
    w.Bool(m.is_regex);
    w.Key("isEqual");
    w.Bool(m.is_equal);
    w.EndObject();
  }
  w.EndArray();
  PutString(w, "createdBy", e.ack.created_by);
  PutString(w, "comment", e.ack.comment);
  w.Key("createdAt");
  w.Int64(e.ack.created_at_ms);
  w.Key("endsAt");
  w.Int64(e.ack.ends_at_ms);
  w.Key("covered");
  w.StartArray();
  for (const std::string& f : e.covered) w.String(f.c_str(), static_cast<rapidjson::SizeType>(f.size()));
  w.EndArray();
  w.EndObject();
  return store_->Put(std::string(kPrefix) + e.ack.id, buf.GetString()).status();
}

Status AckStore::Load() {
  if (store_ == nullptr) return Status::Ok();
  NIMIFY_ASSIGN_OR_RETURN(std::vector<StoredValue> values, store_->List(kPrefix));
  for (const StoredValue& v : values) {
    rapidjson::Document d;
    if (d.Parse(v.value.c_str(), v.value.size()).HasParseError() || !d.IsObject()) continue;
    Entry e;
    e.ack.id = Str(d, "id");
    e.ack.fingerprint = Str(d, "fingerprint");
    if (auto it = d.FindMember("matchers"); it != d.MemberEnd() && it->value.IsArray()) {
      for (const auto& m : it->value.GetArray()) {
        auto b = [&](const char* k) {
          auto f = m.FindMember(k);
          return f != m.MemberEnd() && f->value.IsBool() && f->value.GetBool();
        };
        e.ack.matchers.push_back(MatcherSpec{Str(m, "name"), Str(m, "value"), b("isRegex"), b("isEqual")});
      }
    }
    e.ack.created_by = Str(d, "createdBy");
    e.ack.comment = Str(d, "comment");
    if (auto it = d.FindMember("createdAt"); it != d.MemberEnd() && it->value.IsInt64()) {
      e.ack.created_at_ms = it->value.GetInt64();
    }
    if (auto it = d.FindMember("endsAt"); it != d.MemberEnd() && it->value.IsInt64()) {
      e.ack.ends_at_ms = it->value.GetInt64();
    }
    if (auto it = d.FindMember("covered"); it != d.MemberEnd() && it->value.IsArray()) {
      for (const auto& f : it->value.GetArray()) {
        if (f.IsString()) e.covered.insert(f.GetString());
      }
    }
    Result<Matchers> ms = ToMatchers(e.ack.matchers);
    if (!ms.ok() || e.ack.id.empty()) continue;
    e.matchers = std::move(*ms);
    acks_[e.ack.id] = std::move(e);
  }
  return Status::Ok();
}

Result<std::string> AckStore::Add(Acknowledgement ack, std::int64_t now_ms) {
  if (ack.fingerprint.empty() == ack.matchers.empty()) {
    return Status::InvalidArgument(
        "an acknowledgement needs either a fingerprint or matchers (not both)");
  }
  if (ack.created_by.empty()) return Status::InvalidArgument("createdBy missing");
  if (ack.ends_at_ms != 0 && ack.ends_at_ms <= now_ms) {
    return Status::InvalidArgument("end time can't be in the past");
  }
  NIMIFY_ASSIGN_OR_RETURN(Matchers ms, ToMatchers(ack.matchers));
  Entry e;
  ack.id = new_id_();
  ack.created_at_ms = now_ms;
  e.ack = std::move(ack);
  e.matchers = std::move(ms);
  if (!e.ack.fingerprint.empty()) e.covered.insert(e.ack.fingerprint);
  NIMIFY_RETURN_IF_ERROR(Persist(e));
  std::string id = e.ack.id;
  acks_[id] = std::move(e);
  return id;
}

Status AckStore::Remove(std::string_view id) {
  auto it = acks_.find(id);
  if (it == acks_.end()) {
    return Status::NotFound("acknowledgement " + std::string(id) + " not found");
  }
  acks_.erase(it);
  if (store_ != nullptr) return store_->Delete(std::string(kPrefix) + std::string(id));
  return Status::Ok();
}

std::vector<Acknowledgement> AckStore::List(std::int64_t now_ms) const {
  std::vector<Acknowledgement> out;
  for (const auto& [id, e] : acks_) {
    if (e.ack.ends_at_ms == 0 || e.ack.ends_at_ms > now_ms) out.push_back(e.ack);
  }
  return out;
}

const Acknowledgement* AckStore::Find(std::string_view id) const {
  auto it = acks_.find(id);
  return it == acks_.end() ? nullptr : &it->second.ack;
}

std::vector<std::string> AckStore::Covering(std::string_view fingerprint,
                                            const OwnedLabels& labels, std::int64_t now_ms) const {
  std::vector<std::string> out;
  for (const auto& [id, e] : acks_) {
    if (e.ack.ends_at_ms != 0 && e.ack.ends_at_ms <= now_ms) continue;
    const bool covers = e.ack.fingerprint.empty() ? MatchesAll(e.matchers, labels)
                                                  : e.ack.fingerprint == fingerprint;
    if (covers) out.push_back(id);
  }
  return out;
}

void AckStore::NoteCovered(std::string_view id, std::string_view fingerprint) {
  auto it = acks_.find(id);
  if (it == acks_.end()) return;
  if (it->second.covered.insert(std::string(fingerprint)).second) (void)Persist(it->second);
}

void AckStore::OnResolved(std::string_view fingerprint, const OwnedLabels& labels) {
  (void)labels;
  for (auto it = acks_.begin(); it != acks_.end();) {
    Entry& e = it->second;
    if (e.covered.erase(std::string(fingerprint)) > 0 && e.covered.empty()) {
      if (store_ != nullptr) (void)store_->Delete(std::string(kPrefix) + it->first);
      it = acks_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace nimify::actions
