// The audit log, and the JSON form of a Decision (also what `nimify replay`
// prints) and SilenceStateName.
#include "actions/audit_log.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <exception>
#include <string>
#include <utility>

#include "common/utf8.h"

namespace nimify {

namespace {

// Replaces each byte that is not part of well-formed UTF-8 with U+FFFD, so a
// handler's raw output cannot make the line invalid JSON.
std::string ValidUtf8(std::string_view s) {
  if (internal::IsValidUtf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  while (!s.empty()) {
    int width = 1;
    if (internal::DecodeUtf8(s, &width) == internal::kRuneError && width == 1) {
      out.append("\xEF\xBF\xBD");
    } else {
      out.append(s.substr(0, static_cast<std::size_t>(width)));
    }
    s.remove_prefix(static_cast<std::size_t>(width));
  }
  return out;
}

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void Key(JsonWriter& w, std::string_view key) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
}

void String(JsonWriter& w, std::string_view value) {
  const std::string valid = ValidUtf8(value);
  w.String(valid.data(), static_cast<rapidjson::SizeType>(valid.size()));
}

void StringField(JsonWriter& w, std::string_view key, std::string_view value, bool always) {
  if (value.empty() && !always) return;
  Key(w, key);
  String(w, value);
}

}  // namespace

std::string_view SilenceStateName(SilenceState state) noexcept {
  switch (state) {
    case SilenceState::kPending:
      return "pending";
    case SilenceState::kActive:
      return "active";
    case SilenceState::kExpired:
      return "expired";
  }
  return "unknown";
}

std::string DecisionToJson(const Decision& d) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  Key(w, "ts_ms");
  w.Int64(d.ts_ms);
  StringField(w, "kind", d.kind, true);
  StringField(w, "state", d.state, false);
  StringField(w, "alertname", d.alertname, false);
  if (!d.labels.empty()) {
    Key(w, "labels");
    w.StartObject();
    for (const OwnedLabel& label : d.labels) {
      String(w, label.name);
      String(w, label.value);
    }
    w.EndObject();
  }
  StringField(w, "fingerprint", d.fingerprint, false);
  StringField(w, "receiver", d.receiver, false);
  StringField(w, "response", d.response, false);
  StringField(w, "step", d.step, false);
  StringField(w, "handler", d.handler, false);
  StringField(w, "outcome", d.outcome, true);
  StringField(w, "target", d.target, false);
  StringField(w, "detail", d.detail, false);
  StringField(w, "summary", d.summary, false);
  StringField(w, "output", d.output, false);
  if (d.exit_status >= 0) {  // 0 is a real exit status; -1 means none
    Key(w, "exit_status");
    w.Int(d.exit_status);
  }
  if (d.http_status != 0) {
    Key(w, "http_status");
    w.Int(d.http_status);
  }
  if (d.attempt != 0) {
    Key(w, "attempt");
    w.Uint(d.attempt);
  }
  if (d.duration.count() != 0) {
    Key(w, "duration_ms");
    w.Int64(d.duration.count());
  }
  if (d.dry_run) {
    Key(w, "dry_run");
    w.Bool(true);
  }
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

namespace actions {

AuditLog::AuditLog(StateStore* store, std::function<void(LogLevel, std::string_view)> log)
    : store_(store), log_(std::move(log)) {}

bool AuditLog::Record(const Decision& decision) noexcept {
  if (store_ == nullptr) return true;
  try {
    Result<std::uint64_t> seq = store_->Append(kAuditLogName, DecisionToJson(decision));
    if (seq.ok()) {
      records_.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
    LogFailure(seq.status().ToString());
  } catch (const std::exception& e) {
    LogFailure(std::string("store threw: ") + e.what());
  } catch (...) {
    LogFailure("store threw");
  }
  return false;
}

void AuditLog::LogFailure(std::string_view why) noexcept {
  const std::uint64_t n = failures_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (!log_) return;
  try {
    log_(LogLevel::kError, "audit log: append failed (" + std::to_string(n) +
                               " failure(s) so far), the decision proceeds: " + std::string(why));
  } catch (...) {  // NOLINT(bugprone-empty-catch): nowhere left to report
  }
}

}  // namespace actions
}  // namespace nimify
