// nimifyd's logs: spdlog loggers, one per component, that write logfmt
// (`ts=... level=info component=http msg="..." key=value`) or one JSON object
// a line. Fields beyond the message go through LogKv.
#ifndef NIMIFY_DAEMON_LOGGING_H_
#define NIMIFY_DAEMON_LOGGING_H_

#include <spdlog/logger.h>
#include <spdlog/sinks/sink.h>

#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "daemon/flags.h"
#include "nimify/engine.h"

namespace nimify::daemon {

// Makes loggers that share one sink and one format.
// Thread safety: Make() and the loggers it returns may be used from any thread.
class LogFactory {
 public:
  // `sink` null: stderr.
  LogFactory(LogFormat format, LogLevel level, spdlog::sink_ptr sink = nullptr);
  std::shared_ptr<spdlog::logger> Make(const std::string& component) const;
  // Adapts a logger to the engine's and responder's log callbacks.
  std::function<void(LogLevel, std::string_view)> Callback(const std::string& component) const;

 private:
  LogFormat format_;
  spdlog::level::level_enum level_;
  spdlog::sink_ptr sink_;
};

spdlog::level::level_enum ToSpdlogLevel(LogLevel level);

using LogField = std::pair<std::string_view, std::string_view>;
// Logs `msg` with extra fields, rendered by the formatter as key=value pairs
// (logfmt) or members (JSON).
void LogKv(spdlog::logger& logger, spdlog::level::level_enum level, std::string_view msg,
           std::initializer_list<LogField> fields);

}  // namespace nimify::daemon

#endif  // NIMIFY_DAEMON_LOGGING_H_
