// The `log` handler: one logfmt line per call, to the responder's log and
// optionally appended to a file. Accepts every trigger.
#ifndef NIMIFY_ACTIONS_LOG_HANDLER_H_
#define NIMIFY_ACTIONS_LOG_HANDLER_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "nimify/actions.h"
#include "nimify/config.h"
#include "nimify/engine.h"
#include "nimify/status.h"

namespace nimify::actions {

// Thread safety: immutable after Create; concurrent calls each write one line
// with a single O_APPEND write, so lines never interleave.
class LogHandler : public ActionHandler {
 public:
  // config: {file: PATH, level: debug|info|warn|error} (both optional; null config allowed).
  static Result<std::shared_ptr<LogHandler>> Create(const ConfigNode& config,
                                                    const HandlerContext& context);
  LogHandler(std::string name, std::string file, LogLevel level,
             std::function<void(LogLevel, std::string_view)> log);

  // with: {message: "...", level: warn, fields: {k: v}} (all optional).
  Status ValidateParams(const ConfigNode& params) const override;
  bool Accepts(ActionTrigger /*trigger*/) const override { return true; }
  // The line that Execute writes.
  Result<std::string> Render(const ActionRequest& request) const override;
  void Execute(const ActionRequest& request, ActionDone done) override;

 private:
  Result<LogLevel> LevelOf(const ActionRequest& request) const;

  const std::string name_;
  const std::string file_;
  const LogLevel level_;
  const std::function<void(LogLevel, std::string_view)> log_;
};

// logfmt: a value bare when it is safe, else double-quoted with escapes.
std::string LogfmtValue(std::string_view value);

// `value` in double quotes with ", \\, \n, \r, \t and other control bytes
// escaped: how log lines and error messages show outside text.
std::string QuoteEscaped(std::string_view value);

}  // namespace nimify::actions

#endif  // NIMIFY_ACTIONS_LOG_HANDLER_H_
