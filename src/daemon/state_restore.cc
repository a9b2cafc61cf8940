#include "daemon/state_restore.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "actions/file_state_store.h"
#include "daemon/logging.h"

namespace nimify::daemon {

namespace {

void PutLabels(rapidjson::Writer<rapidjson::StringBuffer>& w, const OwnedLabels& labels) {
  w.StartObject();
  for (const OwnedLabel& l : labels) {
    w.Key(l.name.c_str(), static_cast<rapidjson::SizeType>(l.name.size()));
    w.String(l.value.c_str(), static_cast<rapidjson::SizeType>(l.value.size()));
  }
  w.EndObject();
}

std::string Str(const rapidjson::Value& v, const char* key) {
  auto it = v.FindMember(key);
  return it != v.MemberEnd() && it->value.IsString()
             ? std::string(it->value.GetString(), it->value.GetStringLength())
             : std::string();
}

}  // namespace

std::string AlertStateToJson(const std::vector<AlertEvent>& alerts) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("version");
  w.Int(1);
  w.Key("alerts");
  w.StartArray();
  for (const AlertEvent& a : alerts) {
    if (a.state == AlertState::kResolved) continue;
    w.StartObject();
    w.Key("rule");
    w.String(a.rule.c_str());
    w.Key("group");
    w.String(a.group.c_str());
    w.Key("file");
    w.String(a.file.c_str());
    w.Key("expr");
    w.String(a.expr.c_str());
    w.Key("labels");
    PutLabels(w, a.labels);
    w.Key("state");
    w.String(a.state == AlertState::kFiring ? "firing" : "pending");
    w.Key("activeAt");
    w.Int64(a.active_at_ms);
    if (a.fired_at_ms) {
      w.Key("firedAt");
      w.Int64(*a.fired_at_ms);
    }
    if (a.keep_firing_since_ms) {
      w.Key("keepFiringSince");
      w.Int64(*a.keep_firing_since_ms);
    }
    if (a.last_sent_at_ms) {
      w.Key("lastSentAt");
      w.Int64(*a.last_sent_at_ms);
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

Result<std::vector<AlertEvent>> AlertStateFromJson(std::string_view json) {
  rapidjson::Document d;
  if (d.Parse(json.data(), json.size()).HasParseError() || !d.IsObject() ||
      !d.HasMember("alerts") || !d["alerts"].IsArray()) {
    return Status::InvalidArgument("malformed alert state snapshot");
  }
  std::vector<AlertEvent> out;
  for (const auto& v : d["alerts"].GetArray()) {
    if (!v.IsObject()) continue;
    AlertEvent e;
    e.rule = Str(v, "rule");
    e.group = Str(v, "group");
    e.file = Str(v, "file");
    e.expr = Str(v, "expr");
    if (auto it = v.FindMember("labels"); it != v.MemberEnd() && it->value.IsObject()) {
      for (const auto& l : it->value.GetObject()) {
        if (l.value.IsString()) e.labels.push_back({l.name.GetString(), l.value.GetString()});
      }
    }
    e.state = Str(v, "state") == "firing" ? AlertState::kFiring : AlertState::kPending;
    if (auto it = v.FindMember("activeAt"); it != v.MemberEnd() && it->value.IsInt64()) {
      e.active_at_ms = it->value.GetInt64();
    }
    if (auto it = v.FindMember("firedAt"); it != v.MemberEnd() && it->value.IsInt64()) {
      e.fired_at_ms = it->value.GetInt64();
    }
    if (auto it = v.FindMember("keepFiringSince"); it != v.MemberEnd() && it->value.IsInt64()) {
      e.keep_firing_since_ms = it->value.GetInt64();
    }
    if (auto it = v.FindMember("lastSentAt"); it != v.MemberEnd() && it->value.IsInt64()) {
      e.last_sent_at_ms = it->value.GetInt64();
    }
    if (e.rule.empty() || e.labels.empty()) continue;
    out.push_back(std::move(e));
  }
  return out;
}

std::shared_ptr<AlertStateKeeper> AlertStateKeeper::Start(Engine& engine,
                                                          std::shared_ptr<StateStore> store,
                                                          std::shared_ptr<spdlog::logger> log) {
  std::shared_ptr<AlertStateKeeper> k(new AlertStateKeeper(engine, std::move(store), std::move(log)));
  Result<std::optional<StoredValue>> v = k->store_->Get(kAlertStateKey);
  if (!v.ok()) {
    LogKv(*k->log_, spdlog::level::warn, "reading the saved alert state failed",
          {{"err", v.status().message()}});
  } else if (v->has_value()) {
    Result<std::vector<AlertEvent>> saved = AlertStateFromJson((*v)->value);
    if (saved.ok()) {
      k->saved_ = std::move(*saved);
      k->last_written_ = (*v)->value;
    } else {
      LogKv(*k->log_, spdlog::level::warn, "dropping the saved alert state",
            {{"err", saved.status().message()}});
    }
  }
  if (k->saved_.empty()) k->restored_.store(true);
  engine.AddHandler(k);
  return k;
}

void AlertStateKeeper::OnEvaluation(std::int64_t /*eval_time_ms*/) {
  // A state dir that refused writes is retried here (at most once a second;
  // nothing to do while it takes writes), so held changes reach the disk and
  // the state shows writable again soon after space returns, even when
  // nothing else writes. Failures are logged by the store, once per spell.
  (void)actions::RetryHeldWrites(*store_);
  if (!restored_.load()) {
    if (engine_.stats().samples_accepted == 0) return;
    Result<std::size_t> n = engine_.RestoreAlerts(saved_);
    LogKv(*log_, spdlog::level::info, "alert state restored",
          {{"saved", std::to_string(saved_.size())},
           {"restored", n.ok() ? std::to_string(*n) : std::string(n.status().message())}});
    saved_.clear();
    restored_.store(true);
    return;
  }
  // The snapshot has no annotations (the rules make them again): do not expand them.
  std::string snapshot = AlertStateToJson(engine_.ActiveAlerts({.annotations = false}));
  if (snapshot == last_written_) return;
  Status saved;
  {
    // Synced by Commit outside the store's write lock, so the responder's
    // writes for the same evaluation do not queue behind this fdatasync.
    actions::GroupSyncScope sync;
    saved = store_->Put(kAlertStateKey, snapshot).status();
    if (Status s = sync.Commit(); saved.ok()) saved = std::move(s);
  }
  if (!saved.ok()) {
    LogKv(*log_, spdlog::level::warn, "saving the alert state failed",
          {{"err", saved.message()}});
    return;
  }
  last_written_ = std::move(snapshot);
}

}  // namespace nimify::daemon
