// nimifyd's command-line flags, spelled as Prometheus spells its own
// (`--flag=value` or `--flag value`; booleans also as `--flag` alone).
#ifndef NIMIFY_DAEMON_FLAGS_H_
#define NIMIFY_DAEMON_FLAGS_H_

#include <span>
#include <string>
#include <vector>

#include "nimify/engine.h"
#include "nimify/status.h"

namespace nimify::daemon {

enum class LogFormat : std::uint8_t { kLogfmt, kJson };

struct Flags {
  std::string config_file;
  std::vector<std::string> rules_files;  // in addition to the config's rule_files
  std::string listen_address = "127.0.0.1:9095";
  std::string web_config_file;
  std::string external_url;
  std::string state_dir;  // empty: state is kept in memory only
  PromqlCompat compat = PromqlCompat::kPrometheus3;
  LogLevel log_level = LogLevel::kInfo;
  LogFormat log_format = LogFormat::kLogfmt;
  bool dry_run = false;
  bool help = false;
  bool version = false;
};

// kInvalidArgument naming the flag for an unknown flag, a missing or bad value.
Result<Flags> ParseFlags(std::span<const std::string> args);

// The --help text.
std::string FlagsUsage();

// "debug", "info", "warn", "error".
Result<LogLevel> ParseLogLevel(std::string_view text);

}  // namespace nimify::daemon

#endif  // NIMIFY_DAEMON_FLAGS_H_
