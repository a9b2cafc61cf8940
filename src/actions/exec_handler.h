// The `exec` handler: runs one program per step with an argument vector
// rendered from templates, without a shell, after checking every templated
// argument for injection. docs/actions.md "## exec handler" has the rules.
#ifndef NIMIFY_ACTIONS_EXEC_HANDLER_H_
#define NIMIFY_ACTIONS_EXEC_HANDLER_H_

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "actions/process_runner.h"
#include "nimify/actions.h"
#include "nimify/config.h"
#include "nimify/status.h"

namespace re2 {
class RE2;
}

namespace nimify::actions {

// What a templated value must match unless the config or the step says otherwise.
inline constexpr std::string_view kDefaultArgPattern = "^[A-Za-z0-9._:/=@,+-]*$";

// The handler's `config:` section, validated.
struct ExecConfig {
  std::string command;           // as written: argv[0] and the display name
  // Resolved at load time; empty when the handler only plans and `command`
  // was not found then: Execute resolves it in `search_path` instead.
  std::string path;
  std::string search_path;       // PATH as it was at load time
  std::vector<std::string> env;  // "NAME=value": the allow-listed variables, then set_env
  std::string workdir;
  std::size_t max_output = 64 * 1024;
  std::chrono::milliseconds kill_grace{5000};
  // arg_patterns: key (an argument index "0", "1", ... or a label name) -> pattern.
  std::vector<std::pair<std::string, std::shared_ptr<const re2::RE2>>> arg_patterns;
  // allowed_subcommands, each split into words; empty: any first argument.
  std::vector<std::vector<std::string>> allowed_subcommands;
};

// One step call after the checks: what would run.
struct ExecCall {
  std::vector<std::string> args;  // without argv[0]
  std::optional<std::string> stdin_data;
  std::chrono::milliseconds timeout{30000};
  std::size_t follow_limit = 0;
};

// Thread safety: Validate/Render/Execute may run concurrently; the config is
// immutable after Create and the runner is thread-safe.
class ExecHandler : public ActionHandler {
 public:
  static Result<std::shared_ptr<ExecHandler>> Create(const ConfigNode& config,
                                                     const HandlerContext& context);
  explicit ExecHandler(ExecConfig config);
  ~ExecHandler() override;

  Status ValidateParams(const ConfigNode& params) const override;
  bool Accepts(ActionTrigger trigger) const override { return trigger == ActionTrigger::kStep; }
  Result<std::string> Render(const ActionRequest& request) const override;
  void Execute(const ActionRequest& request, ActionDone done) override;
  void Shutdown() override;

  // The checks of Render, returning what would run.
  Result<ExecCall> Prepare(const ActionRequest& request) const;
  const ExecConfig& config() const { return config_; }

 private:
  Status CheckTemplated(std::size_t index, const std::optional<std::string>& raw,
                        const std::string& value, const re2::RE2* allow_pattern,
                        std::string_view what) const;

  const ExecConfig config_;
  ProcessRunner runner_;
};

// Shell-style quoting, for display only ("kubectl get pods -n 'a b'").
std::string ShellQuote(std::string_view arg);

}  // namespace nimify::actions

#endif  // NIMIFY_ACTIONS_EXEC_HANDLER_H_
