#include "daemon/flags.h"

#include <string_view>

namespace nimify::daemon {
namespace {

enum class FlagKind : std::uint8_t { kString, kBool };

struct FlagSpec {
  std::string_view name;
  FlagKind kind;
  std::string_view help;
};

constexpr FlagSpec kFlags[] = {
    {"config.file", FlagKind::kString, "Configuration file (YAML): engine, limits, responses."},
    {"rules.file", FlagKind::kString,
     "Rule file, directory or glob; repeatable, added to the config's rule_files."},
    {"web.listen-address", FlagKind::kString, "Address to listen on (default 127.0.0.1:9095)."},
    {"web.config.file", FlagKind::kString, "Web config (TLS, basic auth); not supported yet."},
    {"web.external-url", FlagKind::kString, "URL under which nimifyd is reachable (generator URLs)."},
    {"storage.state-dir", FlagKind::kString,
     "Directory for durable state (silences, acknowledgements, audit log); unset: memory only."},
    {"promql.compat", FlagKind::kString, "PromQL window semantics: 2 or 3 (default 3)."},
    {"log.level", FlagKind::kString, "debug, info, warn or error (default info)."},
    {"log.format", FlagKind::kString, "logfmt or json (default logfmt)."},
    {"dry-run", FlagKind::kBool, "Plan every response step, run none."},
    {"help", FlagKind::kBool, "Show this help."},
    {"version", FlagKind::kBool, "Show the version."},
};

const FlagSpec* FindFlag(std::string_view name) {
  for (const FlagSpec& f : kFlags) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

Status Apply(Flags& flags, std::string_view name, std::string_view value) {
  if (name == "config.file") {
    flags.config_file = value;
  } else if (name == "rules.file") {
    flags.rules_files.emplace_back(value);
  } else if (name == "web.listen-address") {
    flags.listen_address = value;
  } else if (name == "web.config.file") {
    flags.web_config_file = value;
  } else if (name == "web.external-url") {
    flags.external_url = value;
  } else if (name == "storage.state-dir") {
    flags.state_dir = value;
  } else if (name == "promql.compat") {
    if (value == "2") {
      flags.compat = PromqlCompat::kPrometheus2;
    } else if (value == "3") {
      flags.compat = PromqlCompat::kPrometheus3;
    } else {
      return Status::InvalidArgument("--promql.compat: expected 2 or 3, got \"" +
                                     std::string(value) + "\"");
    }
  } else if (name == "log.level") {
    NIMIFY_ASSIGN_OR_RETURN(flags.log_level, ParseLogLevel(value));
  } else if (name == "log.format") {
    if (value == "logfmt") {
      flags.log_format = LogFormat::kLogfmt;
    } else if (value == "json") {
      flags.log_format = LogFormat::kJson;
    } else {
      return Status::InvalidArgument("--log.format: expected logfmt or json, got \"" +
                                     std::string(value) + "\"");
    }
  } else {
    bool on = false;
    if (value == "true") {
      on = true;
    } else if (value != "false") {
      return Status::InvalidArgument("--" + std::string(name) + ": expected true or false, got \"" +
                                     std::string(value) + "\"");
    }
    if (name == "dry-run") flags.dry_run = on;
    if (name == "help") flags.help = on;
    if (name == "version") flags.version = on;
  }
  return Status::Ok();
}

}  // namespace

Result<LogLevel> ParseLogLevel(std::string_view text) {
  if (text == "debug") return LogLevel::kDebug;
  if (text == "info") return LogLevel::kInfo;
  if (text == "warn") return LogLevel::kWarn;
  if (text == "error") return LogLevel::kError;
  return Status::InvalidArgument("--log.level: expected debug, info, warn or error, got \"" +
                                 std::string(text) + "\"");
}

Result<Flags> ParseFlags(std::span<const std::string> args) {
  Flags flags;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "-h") arg = "--help";
    if (arg.substr(0, 2) != "--") {
      return Status::InvalidArgument("unexpected argument \"" + std::string(arg) +
                                     "\" (flags start with --; see --help)");
    }
    arg.remove_prefix(2);
    std::string_view name = arg;
    std::string_view value;
    bool has_value = false;
    if (const auto eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    bool negated = false;
    const FlagSpec* spec = FindFlag(name);
    if (spec == nullptr && name.substr(0, 3) == "no-") {
      spec = FindFlag(name.substr(3));
      negated = spec != nullptr && spec->kind == FlagKind::kBool && !has_value;
      if (!negated) spec = nullptr;
    }
    if (spec == nullptr) {
      return Status::InvalidArgument("unknown flag --" + std::string(name) + " (see --help)");
    }
    if (spec->kind == FlagKind::kBool) {
      if (!has_value) value = negated ? "false" : "true";
      NIMIFY_RETURN_IF_ERROR(Apply(flags, spec->name, value));
      continue;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) {
        return Status::InvalidArgument("flag --" + std::string(name) + " needs a value");
      }
      value = args[++i];
    }
    NIMIFY_RETURN_IF_ERROR(Apply(flags, spec->name, value));
  }
  return flags;
}

std::string FlagsUsage() {
  std::string out =
      "usage: nimifyd [<flags>]\n\n"
      "The nimify daemon: a Prometheus remote-write receiver that evaluates alerting\n"
      "and recording rules as samples arrive and runs the configured responses.\n\nFlags:\n";
  for (const FlagSpec& f : kFlags) {
    std::string left = "  --" + std::string(f.name);
    if (f.kind == FlagKind::kString) left += "=<value>";
    if (left.size() < 32) left.resize(32, ' ');
    out += left + " " + std::string(f.help) + "\n";
  }
  return out;
}

}  // namespace nimify::daemon
