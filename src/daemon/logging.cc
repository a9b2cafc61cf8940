#include "daemon/logging.h"

#include <spdlog/formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <chrono>
#include <ctime>

namespace nimify::daemon {
namespace {

// Separates the message from its fields, and a field's key from its value,
// inside the payload LogKv hands to spdlog (control characters never appear
// unescaped in log text otherwise: the formatter escapes them).
constexpr char kFieldSep = '\x1f';
constexpr char kKeySep = '\x1e';

void AppendTimestamp(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& out) {
  const auto since = msg.time.time_since_epoch();
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(since - secs).count();
  const std::time_t t = secs.count();
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  const int n = std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                              tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                              tm.tm_sec, static_cast<int>(ms));
  out.append(buf, buf + n);
}

std::string_view LevelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    default:
      return "error";
  }
}

void AppendEscaped(std::string_view s, bool json, spdlog::memory_buf_t& out) {
  for (const char c : s) {
    switch (c) {
      case '"':
        out.append(std::string_view("\\\""));
        break;
      case '\\':
        out.append(std::string_view("\\\\"));
        break;
      case '\n':
        out.append(std::string_view("\\n"));
        break;
      case '\r':
        out.append(std::string_view("\\r"));
        break;
      case '\t':
        out.append(std::string_view("\\t"));
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          const int n = json ? std::snprintf(buf, sizeof(buf), "\\u%04x", c)
                             : std::snprintf(buf, sizeof(buf), "\\x%02x", c);
          out.append(buf, buf + n);
        } else {
          out.push_back(c);
        }
    }
  }
}

bool NeedsQuotes(std::string_view v) {
  if (v.empty()) return true;
  for (const char c : v) {
    if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20) return true;
  }
  return false;
}

void AppendPair(std::string_view key, std::string_view value, bool json, bool first,
                spdlog::memory_buf_t& out) {
  if (json) {
    if (!first) out.push_back(',');
    out.push_back('"');
    AppendEscaped(key, true, out);
    out.append(std::string_view("\":\""));
    AppendEscaped(value, true, out);
    out.push_back('"');
    return;
  }
  if (!first) out.push_back(' ');
  out.append(key);
  out.push_back('=');
  if (NeedsQuotes(value)) {
    out.push_back('"');
    AppendEscaped(value, false, out);
    out.push_back('"');
  } else {
    out.append(value);
  }
}

// Renders one record as logfmt or JSON.
// Thread safety: spdlog calls format() under the sink's lock; clone() per sink.
class StructuredFormatter final : public spdlog::formatter {
 public:
  explicit StructuredFormatter(LogFormat format) : format_(format) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const bool json = format_ == LogFormat::kJson;
    if (json) dest.push_back('{');
    if (json) {
      dest.append(std::string_view("\"ts\":\""));
      AppendTimestamp(msg, dest);
      dest.push_back('"');
    } else {
      dest.append(std::string_view("ts="));
      AppendTimestamp(msg, dest);
    }
    AppendPair("level", LevelName(msg.level), json, false, dest);
    const std::string_view logger(msg.logger_name.data(), msg.logger_name.size());
    if (!logger.empty()) AppendPair("component", logger, json, false, dest);
    std::string_view payload(msg.payload.data(), msg.payload.size());
    auto sep = payload.find(kFieldSep);
    AppendPair("msg", payload.substr(0, sep), json, false, dest);
    while (sep != std::string_view::npos) {
      payload.remove_prefix(sep + 1);
      sep = payload.find(kFieldSep);
      const std::string_view field = payload.substr(0, sep);
      const auto ks = field.find(kKeySep);
      if (ks != std::string_view::npos) {
        AppendPair(field.substr(0, ks), field.substr(ks + 1), json, false, dest);
      }
    }
    if (json) dest.push_back('}');
    dest.push_back('\n');
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<StructuredFormatter>(format_);
  }

 private:
  LogFormat format_;
};

}  // namespace

spdlog::level::level_enum ToSpdlogLevel(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

LogFactory::LogFactory(LogFormat format, LogLevel level, spdlog::sink_ptr sink)
    : format_(format), level_(ToSpdlogLevel(level)), sink_(std::move(sink)) {
  if (sink_ == nullptr) sink_ = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  sink_->set_formatter(std::make_unique<StructuredFormatter>(format_));
}

std::shared_ptr<spdlog::logger> LogFactory::Make(const std::string& component) const {
  auto logger = std::make_shared<spdlog::logger>(component, sink_);
  logger->set_level(level_);
  logger->flush_on(spdlog::level::warn);
  return logger;
}

std::function<void(LogLevel, std::string_view)> LogFactory::Callback(
    const std::string& component) const {
  std::shared_ptr<spdlog::logger> logger = Make(component);
  return [logger](LogLevel level, std::string_view text) {
    logger->log(ToSpdlogLevel(level), spdlog::string_view_t(text.data(), text.size()));
  };
}

void LogKv(spdlog::logger& logger, spdlog::level::level_enum level, std::string_view msg,
           std::initializer_list<LogField> fields) {
  if (!logger.should_log(level)) return;
  std::string payload(msg);
  for (const auto& [key, value] : fields) {
    payload.push_back(kFieldSep);
    payload.append(key);
    payload.push_back(kKeySep);
    payload.append(value);
  }
  logger.log(level, spdlog::string_view_t(payload.data(), payload.size()));
}

}  // namespace nimify::daemon
