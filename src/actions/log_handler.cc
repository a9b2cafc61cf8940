#include "actions/log_handler.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <utility>

#include "actions/builtin_handlers.h"

namespace nimify::actions {

namespace {

Result<LogLevel> ParseLevel(std::string_view text) {
  if (text == "debug") return LogLevel::kDebug;
  if (text == "info") return LogLevel::kInfo;
  if (text == "warn" || text == "warning") return LogLevel::kWarn;
  if (text == "error") return LogLevel::kError;
  return Status::InvalidArgument("unknown log level \"" + std::string(text) +
                                 "\" (debug, info, warn, error)");
}

std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

std::string_view TriggerName(ActionTrigger trigger) {
  switch (trigger) {
    case ActionTrigger::kStep:
      return "step";
    case ActionTrigger::kNotification:
      return "notification";
    case ActionTrigger::kIncidentUpdate:
      return "incident_update";
  }
  return "step";
}

// 2024-05-01T12:00:00.123Z
std::string Rfc3339(std::int64_t ms) {
  std::int64_t secs = ms / 1000;
  std::int64_t rest = ms % 1000;
  if (rest < 0) {
    rest += 1000;
    --secs;
  }
  const std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(rest));
  return buf;
}

std::string_view LabelValue(const OwnedLabels& labels, std::string_view name) {
  for (const OwnedLabel& l : labels) {
    if (l.name == name) return l.value;
  }
  return {};
}

// Appends " key=value", leaving out empty values.
void Field(std::string& line, std::string_view key, std::string_view value) {
  if (value.empty()) return;
  if (!line.empty()) line += ' ';
  line.append(key);
  line += '=';
  line += LogfmtValue(value);
}

bool IsFieldKey(std::string_view key) {
  if (key.empty()) return false;
  for (const char c : key) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= ' ' || c == '=' || c == '"' || u == 0x7f) return false;
  }
  return true;
}

}  // namespace

std::string LogfmtValue(std::string_view value) {
  bool bare = !value.empty();
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= ' ' || c == '=' || c == '"' || c == '\\' || u == 0x7f) {
      bare = false;
      break;
    }
  }
  return bare ? std::string(value) : QuoteEscaped(value);
}

std::string QuoteEscaped(std::string_view value) {
  std::string out = "\"";
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", u);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

Result<std::shared_ptr<LogHandler>> LogHandler::Create(const ConfigNode& config,
                                                       const HandlerContext& context) {
  std::string file;
  LogLevel level = LogLevel::kInfo;
  if (!config.is_null()) {
    if (!config.is_map()) return config.Error("log handler config must be a mapping");
    NIMIFY_RETURN_IF_ERROR(config.CheckKeys({"file", "level"}, "log handler config"));
    if (const ConfigNode* file_node = config.Find("file"); file_node != nullptr) {
      NIMIFY_ASSIGN_OR_RETURN(file, file_node->AsString());
      if (file.empty()) return file_node->Error("file must not be empty");
      std::error_code ec;
      std::filesystem::path parent = std::filesystem::absolute(file, ec).parent_path();
      if (ec || !std::filesystem::is_directory(parent, ec)) {
        return file_node->Error("the directory of log file \"" + file + "\" does not exist");
      }
      file = std::filesystem::absolute(file, ec).string();
    }
    if (const ConfigNode* level_node = config.Find("level"); level_node != nullptr) {
      NIMIFY_ASSIGN_OR_RETURN(std::string text, level_node->AsString());
      Result<LogLevel> parsed = ParseLevel(text);
      if (!parsed.ok()) return level_node->Error(parsed.status().message());
      level = *parsed;
    }
  }
  std::function<void(LogLevel, std::string_view)> log = context.log;
  if (!log) log = [](LogLevel, std::string_view) {};
  return std::make_shared<LogHandler>(context.name, std::move(file), level, std::move(log));
}

LogHandler::LogHandler(std::string name, std::string file, LogLevel level,
                       std::function<void(LogLevel, std::string_view)> log)
    : name_(std::move(name)), file_(std::move(file)), level_(level), log_(std::move(log)) {}

Status LogHandler::ValidateParams(const ConfigNode& params) const {
  if (params.is_null()) return Status::Ok();
  if (!params.is_map()) return params.Error("log step with: must be a mapping");
  NIMIFY_RETURN_IF_ERROR(params.CheckKeys({"message", "level", "fields"}, "log step with:"));
  if (const ConfigNode* message = params.Find("message"); message != nullptr) {
    NIMIFY_RETURN_IF_ERROR(message->AsString().status());
  }
  if (const ConfigNode* level = params.Find("level"); level != nullptr) {
    NIMIFY_ASSIGN_OR_RETURN(std::string text, level->AsString());
    if (text.find("{{") == std::string::npos && !ParseLevel(text).ok()) {
      return level->Error(ParseLevel(text).status().message());
    }
  }
  if (const ConfigNode* fields = params.Find("fields"); fields != nullptr) {
    if (!fields->is_map()) return fields->Error("fields must be a mapping key: value");
    for (const auto& [key, value] : fields->entries()) {
      if (!IsFieldKey(key)) return value.Error("fields: \"" + key + "\" is not a logfmt key");
      NIMIFY_RETURN_IF_ERROR(value.AsString().status());
    }
  }
  return Status::Ok();
}

Result<LogLevel> LogHandler::LevelOf(const ActionRequest& request) const {
  const ConfigNode* level = request.params.Find("level");
  if (level == nullptr) return level_;
  return ParseLevel(level->text());
}

Result<std::string> LogHandler::Render(const ActionRequest& request) const {
  NIMIFY_ASSIGN_OR_RETURN(LogLevel level, LevelOf(request));
  std::string line;
  if (request.now_ms != 0) Field(line, "ts", Rfc3339(request.now_ms));
  Field(line, "level", LevelName(level));
  Field(line, "handler", name_);
  Field(line, "trigger", TriggerName(request.trigger));
  Field(line, "event", request.event);
  Field(line, "receiver", request.receiver);
  Field(line, "response", request.response);
  Field(line, "step", request.step);
  if (request.trigger == ActionTrigger::kNotification) {
    Field(line, "group_key", request.group_key);
    std::size_t firing = 0;
    for (const AlertSnapshot& a : request.alerts) firing += a.state == AlertState::kFiring ? 1 : 0;
    Field(line, "firing", std::to_string(firing));
    Field(line, "resolved", std::to_string(request.alerts.size() - firing));
  } else if (!request.alerts.empty()) {
    const AlertSnapshot& alert = request.alerts.front();
    Field(line, "alertname", LabelValue(alert.labels, "alertname"));
    Field(line, "fingerprint", alert.fingerprint);
    Field(line, "status", AlertStateName(alert.state));
    Field(line, "severity", LabelValue(alert.labels, "severity"));
  }
  if (request.trigger != ActionTrigger::kNotification) {
    Field(line, "incident", request.incident.status);
    Field(line, "acknowledged_by", request.incident.acknowledged_by);
    Field(line, "escalated_to", request.incident.escalated_to);
  }
  if (request.attempt > 1) Field(line, "attempt", std::to_string(request.attempt));
  if (const ConfigNode* message = request.params.Find("message"); message != nullptr) {
    Field(line, "message", message->text());
  }
  if (const ConfigNode* fields = request.params.Find("fields"); fields != nullptr) {
    for (const auto& [key, value] : fields->entries()) {
      if (IsFieldKey(key)) Field(line, key, value.text());
    }
  }
  return line;
}

void LogHandler::Execute(const ActionRequest& request, ActionDone done) {
  Result<std::string> line = Render(request);
  if (!line.ok()) {
    done(ActionResult::Permanent(std::string(line.status().message())));
    return;
  }
  const LogLevel level = LevelOf(request).ok() ? *LevelOf(request) : level_;
  log_(level, *line);
  if (!file_.empty()) {
    const int fd = ::open(file_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
      const int err = errno;
      std::string why = "open " + file_ + ": " + std::strerror(err);
      done(err == EACCES || err == ENOENT || err == EISDIR ? ActionResult::Permanent(why)
                                                           : ActionResult::Retryable(why));
      return;
    }
    const std::string data = *line + "\n";
    // One write per line: O_APPEND keeps concurrent lines whole.
    const ssize_t n = ::write(fd, data.data(), data.size());
    const int err = errno;
    ::close(fd);
    if (n != static_cast<ssize_t>(data.size())) {
      done(ActionResult::Retryable("write " + file_ + ": " +
                                   (n < 0 ? std::strerror(err) : "short write")));
      return;
    }
  }
  ActionResult result = ActionResult::Success("logged");
  result.output = std::move(line).value();
  done(std::move(result));
}

Status RegisterLogHandler(ActionHandlerRegistry& registry) {
  return registry.Register(
      "log",
      [](const ConfigNode& config,
         const HandlerContext& context) -> Result<std::shared_ptr<ActionHandler>> {
        NIMIFY_ASSIGN_OR_RETURN(std::shared_ptr<LogHandler> handler,
                                LogHandler::Create(config, context));
        return std::shared_ptr<ActionHandler>(std::move(handler));
      });
}

}  // namespace nimify::actions
