#include "actions/exec_handler.h"

#include <re2/re2.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <utility>

#include "actions/builtin_handlers.h"
#include "actions/log_handler.h"

namespace nimify::actions {

namespace {

constexpr std::size_t kMaxOutputLimit = 64 * 1024 * 1024;
constexpr const char* kDefaultPath = "/usr/local/bin:/usr/bin:/bin";

bool IsTemplated(std::string_view raw) { return raw.find("{{") != std::string_view::npos; }

// A value as it appears in a message: quoted, control bytes escaped.
std::string Printable(std::string_view s) { return QuoteEscaped(s); }

std::unique_ptr<re2::RE2> Compile(std::string_view pattern) {
  re2::RE2::Options options;
  options.set_log_errors(false);
  return std::make_unique<re2::RE2>(pattern, options);
}

const re2::RE2& DefaultPattern() {
  static const re2::RE2* const re = Compile(kDefaultArgPattern).release();
  return *re;
}

bool IsVariableName(std::string_view s) {
  if (s.empty() || (std::isdigit(static_cast<unsigned char>(s[0])) != 0)) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
  });
}

std::vector<std::string> SplitWords(std::string_view s) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i])) != 0) ++i;
    std::size_t j = i;
    while (j < s.size() && std::isspace(static_cast<unsigned char>(s[j])) == 0) ++j;
    if (j > i) words.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return words;
}

// The structure of one template string: literal text around {{ actions }},
// and the label/annotation names each action reads. `exact` is false when
// the template has control flow, so its output cannot be split back into
// the values of its actions.
struct TemplateShape {
  bool exact = true;
  std::vector<std::string> literals;  // actions + 1
  std::vector<std::vector<std::string>> names;
  std::vector<std::string> all_names;
};

void ExtractNames(std::string_view body, std::vector<std::string>& out) {
  static const re2::RE2* const dotted =
      Compile(R"re((?:\$labels|\.Labels|\$annotations|\.Annotations)\.([A-Za-z_][A-Za-z0-9_]*))re")
          .release();
  static const re2::RE2* const indexed =
      Compile(R"re(index\s+(?:\$labels|\.Labels|\$annotations|\.Annotations)\s+"([^"]*)")re")
          .release();
  for (const re2::RE2* re : {dotted, indexed}) {
    re2::StringPiece input(body.data(), body.size());
    std::string name;
    while (re2::RE2::FindAndConsume(&input, *re, &name)) out.push_back(name);
  }
}

bool IsControlAction(std::string_view body) {
  static constexpr std::string_view kKeywords[] = {
      "if", "else", "end", "range", "with", "define", "block", "template", "break", "continue"};
  if (body.substr(0, 2) == "/*") return true;
  if (body.find(":=") != std::string_view::npos) return true;
  const std::vector<std::string> words = SplitWords(body);
  if (words.empty()) return true;
  for (const std::string_view kw : kKeywords) {
    if (words[0] == kw) return true;
  }
  return false;
}

TemplateShape ParseShape(std::string_view raw) {
  TemplateShape shape;
  std::string literal;
  std::size_t pos = 0;
  while (true) {
    const std::size_t open = raw.find("{{", pos);
    if (open == std::string_view::npos) {
      literal.append(raw.substr(pos));
      break;
    }
    literal.append(raw.substr(pos, open - pos));
    std::size_t body_begin = open + 2;
    // "{{- " trims the whitespace before the action, " -}}" the whitespace after.
    if (body_begin + 1 < raw.size() && raw[body_begin] == '-' &&
        std::isspace(static_cast<unsigned char>(raw[body_begin + 1])) != 0) {
      while (!literal.empty() && std::isspace(static_cast<unsigned char>(literal.back())) != 0) {
        literal.pop_back();
      }
      ++body_begin;
    }
    const std::size_t close = raw.find("}}", body_begin);
    if (close == std::string_view::npos) {
      shape.exact = false;
      break;
    }
    std::size_t body_end = close;
    bool trim_after = false;
    if (body_end >= body_begin + 2 && raw[body_end - 1] == '-' &&
        std::isspace(static_cast<unsigned char>(raw[body_end - 2])) != 0) {
      trim_after = true;
      --body_end;
    }
    const std::string_view body = raw.substr(body_begin, body_end - body_begin);
    if (IsControlAction(body)) shape.exact = false;
    std::vector<std::string> names;
    ExtractNames(body, names);
    shape.all_names.insert(shape.all_names.end(), names.begin(), names.end());
    shape.names.push_back(std::move(names));
    shape.literals.push_back(std::move(literal));
    literal.clear();
    pos = close + 2;
    if (trim_after) {
      while (pos < raw.size() && std::isspace(static_cast<unsigned char>(raw[pos])) != 0) ++pos;
    }
  }
  shape.literals.push_back(std::move(literal));
  return shape;
}

// The values the actions of `shape` produced in `rendered`, or nothing when
// the literal text does not line up.
std::optional<std::vector<std::string>> SplitRendered(const TemplateShape& shape,
                                                      const std::string& rendered) {
  if (!shape.exact || shape.names.empty()) return std::nullopt;
  std::string pattern = "(?s)";
  for (std::size_t i = 0; i < shape.names.size(); ++i) {
    pattern += re2::RE2::QuoteMeta(shape.literals[i]);
    pattern += "(.*)";
  }
  pattern += re2::RE2::QuoteMeta(shape.literals.back());
  const std::unique_ptr<re2::RE2> re = Compile(pattern);
  if (!re->ok()) return std::nullopt;
  const std::size_t n = shape.names.size();
  std::vector<std::string> values(n);
  std::vector<re2::RE2::Arg> args(n);
  std::vector<const re2::RE2::Arg*> arg_ptrs(n);
  for (std::size_t i = 0; i < n; ++i) {
    args[i] = &values[i];
    arg_ptrs[i] = &args[i];
  }
  if (!re2::RE2::FullMatchN(rendered, *re, arg_ptrs.data(), static_cast<int>(n))) {
    return std::nullopt;
  }
  return values;
}

bool HasDotDotComponent(std::string_view value) {
  std::size_t begin = 0;
  while (begin <= value.size()) {
    std::size_t end = value.find('/', begin);
    if (end == std::string_view::npos) end = value.size();
    if (value.substr(begin, end - begin) == "..") return true;
    begin = end + 1;
  }
  return false;
}

Result<std::unique_ptr<re2::RE2>> CompilePatternNode(const ConfigNode& node,
                                                     std::string_view what) {
  if (IsTemplated(node.text())) return node.Error(std::string(what) + " cannot be a template");
  NIMIFY_ASSIGN_OR_RETURN(std::string text, node.AsString());
  std::unique_ptr<re2::RE2> re = Compile(text);
  if (!re->ok()) return node.Error(std::string(what) + ": bad pattern: " + re->error());
  return re;
}

// True when `args` (rendered, or raw templates that might render to anything)
// can start with the words of one allowed subcommand.
bool SubcommandAllowed(const std::vector<std::vector<std::string>>& allowed,
                       const std::vector<std::string>& args, bool args_are_raw) {
  if (allowed.empty()) return true;
  for (const std::vector<std::string>& words : allowed) {
    if (words.size() > args.size()) continue;
    bool match = true;
    for (std::size_t i = 0; i < words.size() && match; ++i) {
      if (args_are_raw && IsTemplated(args[i])) continue;  // decided when rendered
      match = args[i] == words[i];
    }
    if (match) return true;
  }
  return false;
}

std::string AllowedList(const std::vector<std::vector<std::string>>& allowed) {
  std::string out = "[";
  for (std::size_t i = 0; i < allowed.size(); ++i) {
    if (i > 0) out += ", ";
    std::string joined;
    for (const std::string& w : allowed[i]) joined += (joined.empty() ? "" : " ") + w;
    out += joined;
  }
  return out + "]";
}

bool PermanentSpawnError(int err) {
  switch (err) {
    case ENOENT:
    case EACCES:
    case ENOEXEC:
    case ENOTDIR:
    case EISDIR:
    case ELOOP:
    case ENAMETOOLONG:
    case EPERM:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string ShellQuote(std::string_view arg) {
  if (arg.empty()) return "''";
  const bool plain = std::all_of(arg.begin(), arg.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           std::string_view("@%+=:,./_-").find(c) != std::string_view::npos;
  });
  if (plain) return std::string(arg);
  std::string out = "'";
  for (const char c : arg) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// ---- Load time --------------------------------------------------------------------

Result<std::shared_ptr<ExecHandler>> ExecHandler::Create(const ConfigNode& config,
                                                         const HandlerContext& context) {
  if (!config.is_map()) {
    return config.Error("exec handler needs a config: mapping with at least \"command\"");
  }
  NIMIFY_RETURN_IF_ERROR(config.CheckKeys({"command", "env", "set_env", "workdir", "max_output",
                                           "kill_grace", "arg_patterns", "allowed_subcommands"},
                                          "exec handler config"));
  ExecConfig out;
  const ConfigNode* command = config.Find("command");
  if (command == nullptr) return config.Error("exec handler config: missing field \"command\"");
  NIMIFY_ASSIGN_OR_RETURN(out.command, command->AsString());
  const char* path_env = std::getenv("PATH");
  out.search_path = path_env != nullptr ? path_env : kDefaultPath;
  Result<std::string> resolved = ResolveProgram(out.command, out.search_path);
  if (resolved.ok()) {
    out.path = std::move(resolved).value();
  } else if (context.dry_run) {
    // A plan-only handler never runs the program: a machine without it (CI
    // without kubectl) can still load and plan; a real run resolves it again.
    if (context.log) {
      context.log(LogLevel::kWarn,
                  command->position().ToString() + ": handler \"" + context.name +
                      "\" is dry-run: " + std::string(resolved.status().message()));
    }
  } else {
    return command->Error(resolved.status().message());
  }

  if (const ConfigNode* env = config.Find("env"); env != nullptr) {
    NIMIFY_ASSIGN_OR_RETURN(std::vector<std::string> names, env->AsStringList());
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (!IsVariableName(names[i])) {
        return env->items()[i].Error("env: " + Printable(names[i]) + " is not a variable name");
      }
      // Read once at load time: getenv is not safe against a concurrent setenv.
      if (const char* value = std::getenv(names[i].c_str()); value != nullptr) {
        out.env.push_back(names[i] + "=" + value);
      }
    }
  }
  if (const ConfigNode* set_env = config.Find("set_env"); set_env != nullptr) {
    if (!set_env->is_map()) return set_env->Error("set_env must be a mapping NAME: value");
    for (const auto& [name, value_node] : set_env->entries()) {
      if (!IsVariableName(name)) {
        return value_node.Error("set_env: " + Printable(name) + " is not a variable name");
      }
      NIMIFY_ASSIGN_OR_RETURN(std::string value, value_node.AsString());
      const std::string prefix = name + "=";
      std::erase_if(out.env, [&prefix](const std::string& e) { return e.rfind(prefix, 0) == 0; });
      out.env.push_back(prefix + value);
    }
  }
  if (const ConfigNode* workdir = config.Find("workdir"); workdir != nullptr) {
    NIMIFY_ASSIGN_OR_RETURN(std::string dir, workdir->AsString());
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
      return workdir->Error("workdir " + Printable(dir) + " is not a directory");
    }
    out.workdir = std::filesystem::absolute(dir, ec).string();
  }
  if (const ConfigNode* max_output = config.Find("max_output"); max_output != nullptr) {
    NIMIFY_ASSIGN_OR_RETURN(std::int64_t bytes, max_output->AsInt());
    if (bytes <= 0 || static_cast<std::uint64_t>(bytes) > kMaxOutputLimit) {
      return max_output->Error("max_output must be between 1 and " +
                               std::to_string(kMaxOutputLimit) + " bytes");
    }
    out.max_output = static_cast<std::size_t>(bytes);
  }
  if (const ConfigNode* grace = config.Find("kill_grace"); grace != nullptr) {
    NIMIFY_ASSIGN_OR_RETURN(out.kill_grace, grace->AsDuration());
    if (out.kill_grace.count() < 0) return grace->Error("kill_grace must not be negative");
  }
  if (const ConfigNode* patterns = config.Find("arg_patterns"); patterns != nullptr) {
    if (!patterns->is_map()) {
      return patterns->Error(
          "arg_patterns must map an argument index or a label name to a pattern");
    }
    for (const auto& [key, pattern_node] : patterns->entries()) {
      const bool is_index = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) != 0;
      });
      if (!is_index && !IsVariableName(key)) {
        return pattern_node.Error("arg_patterns: key " + Printable(key) +
                                  " is neither an argument index nor a label name");
      }
      NIMIFY_ASSIGN_OR_RETURN(std::unique_ptr<re2::RE2> re,
                              CompilePatternNode(pattern_node, "arg_patterns." + key));
      out.arg_patterns.emplace_back(key, std::shared_ptr<const re2::RE2>(std::move(re)));
    }
  }
  if (const ConfigNode* allowed = config.Find("allowed_subcommands"); allowed != nullptr) {
    NIMIFY_ASSIGN_OR_RETURN(std::vector<std::string> entries, allowed->AsStringList());
    for (std::size_t i = 0; i < entries.size(); ++i) {
      std::vector<std::string> words = SplitWords(entries[i]);
      if (words.empty()) return allowed->items()[i].Error("allowed_subcommands: empty entry");
      out.allowed_subcommands.push_back(std::move(words));
    }
  }
  return std::make_shared<ExecHandler>(std::move(out));
}

ExecHandler::ExecHandler(ExecConfig config) : config_(std::move(config)) {}

ExecHandler::~ExecHandler() { runner_.Shutdown(); }

void ExecHandler::Shutdown() { runner_.Shutdown(); }

Status ExecHandler::ValidateParams(const ConfigNode& params) const {
  if (!params.is_map()) return params.Error("exec step needs with: {args: [...]}");
  NIMIFY_RETURN_IF_ERROR(params.CheckKeys(
      {"args", "stdin", "timeout", "follow_limit", "allow_pattern"}, "exec step with:"));
  const ConfigNode* args = params.Find("args");
  if (args == nullptr) return params.Error("exec step: missing field \"args\"");
  NIMIFY_ASSIGN_OR_RETURN(std::vector<std::string> raw_args, args->AsStringList());
  if (!SubcommandAllowed(config_.allowed_subcommands, raw_args, /*args_are_raw=*/true)) {
    return args->Error("exec step: subcommand " + Printable(raw_args.empty() ? "" : raw_args[0]) +
                       " is not in allowed_subcommands " +
                       AllowedList(config_.allowed_subcommands));
  }
  if (const ConfigNode* stdin_node = params.Find("stdin"); stdin_node != nullptr) {
    NIMIFY_RETURN_IF_ERROR(stdin_node->AsString().status());
  }
  if (const ConfigNode* timeout = params.Find("timeout"); timeout != nullptr) {
    if (IsTemplated(timeout->text())) return timeout->Error("timeout cannot be a template");
    NIMIFY_ASSIGN_OR_RETURN(std::chrono::milliseconds t, timeout->AsDuration());
    if (t.count() <= 0) return timeout->Error("timeout must be positive");
  }
  if (const ConfigNode* follow = params.Find("follow_limit"); follow != nullptr) {
    if (IsTemplated(follow->text())) return follow->Error("follow_limit cannot be a template");
    NIMIFY_ASSIGN_OR_RETURN(std::int64_t n, follow->AsInt());
    if (n < 0) return follow->Error("follow_limit must not be negative");
  }
  if (const ConfigNode* allow = params.Find("allow_pattern"); allow != nullptr) {
    NIMIFY_RETURN_IF_ERROR(CompilePatternNode(*allow, "allow_pattern").status());
  }
  return Status::Ok();
}

// ---- Render time: the injection checks --------------------------------------------

Status ExecHandler::CheckTemplated(std::size_t index, const std::optional<std::string>& raw,
                                   const std::string& value, const re2::RE2* allow_pattern,
                                   std::string_view what) const {
  const bool is_stdin = what == "stdin";
  auto refuse = [&](const std::string& why) {
    return Status::InvalidArgument(std::string(what) + " " + Printable(value) + " (template " +
                                   (raw ? Printable(*raw) : std::string("unknown")) +
                                   ") refused: " + why);
  };
  auto find_pattern = [&](std::string_view key) -> const re2::RE2* {
    for (const auto& [k, re] : config_.arg_patterns) {
      if (k == key) return re.get();
    }
    return nullptr;
  };
  const bool raw_dash = raw && !raw->empty() && (*raw)[0] == '-';
  const bool raw_slash = raw && !raw->empty() && (*raw)[0] == '/';

  if (value.find('\0') != std::string::npos) return refuse("contains a NUL byte");
  if (!is_stdin) {
    if (value.find_first_of("\n\r") != std::string::npos) return refuse("contains a line break");
    if (!raw_dash && !value.empty() && value[0] == '-') {
      return refuse("starts with '-' but the template does not (option injection)");
    }
    if (HasDotDotComponent(value)) return refuse("path traversal (\"..\")");
    if (!raw_slash && !value.empty() && value[0] == '/') {
      return refuse("absolute path but the template does not start with '/'");
    }
    if (const re2::RE2* by_index = find_pattern(std::to_string(index)); by_index != nullptr) {
      if (!re2::RE2::FullMatch(value, *by_index)) {
        return refuse("does not match arg_patterns." + std::to_string(index) + " " +
                      Printable(by_index->pattern()));
      }
      return Status::Ok();
    }
  }

  // Check each value the template's actions produced, when the literal text
  // lets us find them; otherwise the whole rendered string.
  struct Part {
    std::string value;
    std::vector<std::string> names;
  };
  std::vector<Part> parts;
  if (raw) {
    const TemplateShape shape = ParseShape(*raw);
    if (std::optional<std::vector<std::string>> values = SplitRendered(shape, value)) {
      for (std::size_t i = 0; i < values->size(); ++i) {
        parts.push_back(Part{std::move((*values)[i]), shape.names[i]});
      }
    } else {
      parts.push_back(Part{value, shape.all_names});
    }
  } else {
    parts.push_back(Part{value, {}});
  }
  for (const Part& part : parts) {
    if (!is_stdin && !raw_slash && !part.value.empty() && part.value[0] == '/') {
      return refuse("templated value " + Printable(part.value) + " is an absolute path");
    }
    if (is_stdin && part.value.find_first_of("\n\r") != std::string::npos) {
      return refuse("templated value " + Printable(part.value) + " contains a line break");
    }
    bool named = false;
    for (const std::string& name : part.names) {
      const re2::RE2* re = find_pattern(name);
      if (re == nullptr) continue;
      named = true;
      if (!re2::RE2::FullMatch(part.value, *re)) {
        return refuse("value " + Printable(part.value) + " of " + name +
                      " does not match arg_patterns." + name + " " + Printable(re->pattern()));
      }
    }
    if (named) continue;
    if (allow_pattern != nullptr) {
      if (!re2::RE2::FullMatch(part.value, *allow_pattern)) {
        return refuse("value " + Printable(part.value) + " does not match allow_pattern " +
                      Printable(allow_pattern->pattern()));
      }
      continue;
    }
    if (part.value.empty()) return refuse("a templated value rendered empty (a missing label?)");
    if (!re2::RE2::FullMatch(part.value, DefaultPattern())) {
      return refuse("value " + Printable(part.value) + " has characters outside " +
                    std::string(kDefaultArgPattern) +
                    " (allow them with arg_patterns or with.allow_pattern)");
    }
  }
  return Status::Ok();
}

Result<ExecCall> ExecHandler::Prepare(const ActionRequest& request) const {
  const ConfigNode& params = request.params;
  if (!params.is_map()) return Status::InvalidArgument("exec: the step has no with: {args: [...]}");
  const ConfigNode* args = params.Find("args");
  if (args == nullptr || !args->is_sequence()) {
    return Status::InvalidArgument("exec: with.args must be a list");
  }
  // The unrendered `with:` tells which arguments came from templates; without
  // it every argument is treated as templated (the strict reading).
  const ConfigNode* raw_params = params.Find("__template");
  const ConfigNode* raw_args = raw_params != nullptr ? raw_params->Find("args") : nullptr;
  if (raw_args != nullptr &&
      (!raw_args->is_sequence() || raw_args->items().size() != args->items().size())) {
    raw_args = nullptr;
  }
  auto raw_of = [](const ConfigNode* node) -> std::optional<std::string> {
    if (node == nullptr || !node->is_scalar()) return std::nullopt;
    return node->text();
  };

  std::unique_ptr<re2::RE2> allow_pattern;
  if (const ConfigNode* allow = params.Find("allow_pattern"); allow != nullptr) {
    const ConfigNode* raw_allow =
        raw_params != nullptr ? raw_params->Find("allow_pattern") : nullptr;
    if (raw_allow != nullptr && IsTemplated(raw_allow->text())) {
      return Status::InvalidArgument("exec: allow_pattern cannot be a template");
    }
    allow_pattern = Compile(allow->text());
    if (!allow_pattern->ok()) {
      return Status::InvalidArgument("exec: bad allow_pattern: " + allow_pattern->error());
    }
  }

  ExecCall call;
  const std::vector<ConfigNode>& items = args->items();
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (!items[i].is_scalar()) {
      return Status::InvalidArgument("exec: args[" + std::to_string(i) + "] is not a string");
    }
    const std::string& value = items[i].text();
    const std::optional<std::string> raw =
        raw_args != nullptr ? raw_of(&raw_args->items()[i]) : std::nullopt;
    if (!raw || IsTemplated(*raw)) {
      NIMIFY_RETURN_IF_ERROR(
          CheckTemplated(i, raw, value, allow_pattern.get(), "args[" + std::to_string(i) + "]"));
    }
    call.args.push_back(value);
  }
  if (!SubcommandAllowed(config_.allowed_subcommands, call.args, /*args_are_raw=*/false)) {
    return Status::InvalidArgument(
        "exec: subcommand " + Printable(call.args.empty() ? "" : call.args[0]) +
        " is not in allowed_subcommands " + AllowedList(config_.allowed_subcommands));
  }
  if (const ConfigNode* stdin_node = params.Find("stdin"); stdin_node != nullptr) {
    if (!stdin_node->is_scalar()) return Status::InvalidArgument("exec: stdin is not a string");
    const std::optional<std::string> raw =
        raw_params != nullptr ? raw_of(raw_params->Find("stdin")) : std::nullopt;
    if (!raw || IsTemplated(*raw)) {
      NIMIFY_RETURN_IF_ERROR(
          CheckTemplated(0, raw, stdin_node->text(), allow_pattern.get(), "stdin"));
    }
    call.stdin_data = stdin_node->text();
  }
  call.timeout = request.timeout.count() > 0 ? request.timeout : std::chrono::milliseconds(30000);
  if (const ConfigNode* timeout = params.Find("timeout"); timeout != nullptr) {
    Result<std::chrono::milliseconds> t = timeout->AsDuration();
    if (!t.ok()) return t.status();
    // The dispatcher gives up at request.timeout: a longer step timeout could not help.
    if (t->count() > 0) call.timeout = std::min(call.timeout, *t);
  }
  if (const ConfigNode* follow = params.Find("follow_limit"); follow != nullptr) {
    Result<std::int64_t> n = follow->AsInt();
    if (!n.ok()) return n.status();
    if (*n < 0) return Status::InvalidArgument("exec: follow_limit must not be negative");
    call.follow_limit = static_cast<std::size_t>(*n);
  }
  return call;
}

Result<std::string> ExecHandler::Render(const ActionRequest& request) const {
  NIMIFY_ASSIGN_OR_RETURN(ExecCall call, Prepare(request));
  std::string line = ShellQuote(config_.command);
  for (const std::string& arg : call.args) line += " " + ShellQuote(arg);
  if (call.stdin_data) line += " <<< " + ShellQuote(*call.stdin_data);
  return line;
}

// ---- Execution ----------------------------------------------------------------------

void ExecHandler::Execute(const ActionRequest& request, ActionDone done) {
  Result<ExecCall> call = Prepare(request);
  if (!call.ok()) {
    done(ActionResult::Permanent(std::string(call.status().message())));
    return;
  }
  ProcessSpec spec;
  spec.path = config_.path;
  if (spec.path.empty()) {
    Result<std::string> resolved = ResolveProgram(config_.command, config_.search_path);
    if (!resolved.ok()) {
      done(ActionResult::Permanent(std::string(resolved.status().message())));
      return;
    }
    spec.path = std::move(resolved).value();
  }
  spec.argv.reserve(call->args.size() + 1);
  spec.argv.push_back(config_.command);
  for (std::string& arg : call->args) spec.argv.push_back(std::move(arg));
  spec.env = config_.env;
  spec.workdir = config_.workdir;
  spec.stdin_data = call->stdin_data.value_or("");
  spec.max_output = config_.max_output;
  spec.timeout = call->timeout;
  spec.kill_grace = config_.kill_grace;
  spec.follow_limit = call->follow_limit;

  ProcessSpec summary_spec;  // what Summary() reads, without the argv and stdin
  summary_spec.path = spec.path;
  summary_spec.timeout = spec.timeout;
  summary_spec.follow_limit = spec.follow_limit;
  const std::string workdir = spec.workdir;
  runner_.Start(std::move(spec), [done = std::move(done), summary_spec = std::move(summary_spec),
                                  workdir](ProcessResult r) {
    ActionResult result;
    result.exit_status = r.exit_status;
    result.summary = r.Summary(summary_spec);
    switch (r.end) {
      case ProcessEnd::kExited:
        result.outcome =
            r.exit_status == 0 ? ActionOutcome::kSuccess : ActionOutcome::kPermanentFailure;
        break;
      case ProcessEnd::kSignaled:
        result.outcome = ActionOutcome::kPermanentFailure;
        break;
      case ProcessEnd::kTimedOut:
        if (summary_spec.follow_limit > 0) {
          // A bounded follow ends at its timeout by design.
          result.outcome = ActionOutcome::kSuccess;
          result.summary = "follow stopped after timeout " + FormatDuration(summary_spec.timeout);
        } else {
          result.outcome = ActionOutcome::kRetryableFailure;
        }
        break;
      case ProcessEnd::kFollowLimit:
        result.outcome = ActionOutcome::kSuccess;
        break;
      case ProcessEnd::kCancelled:
        result.outcome = ActionOutcome::kRetryableFailure;
        break;
      case ProcessEnd::kSpawnFailed:
        result.outcome = PermanentSpawnError(r.spawn_errno) ? ActionOutcome::kPermanentFailure
                                                            : ActionOutcome::kRetryableFailure;
        if (!workdir.empty()) result.summary += " (workdir " + workdir + ")";
        break;
    }
    result.output = std::move(r.output);
    done(std::move(result));
  });
}

Status RegisterExecHandler(ActionHandlerRegistry& registry) {
  return registry.Register(
      "exec",
      [](const ConfigNode& config,
         const HandlerContext& context) -> Result<std::shared_ptr<ActionHandler>> {
        NIMIFY_ASSIGN_OR_RETURN(std::shared_ptr<ExecHandler> handler,
                                ExecHandler::Create(config, context));
        return std::shared_ptr<ActionHandler>(std::move(handler));
      });
}

}  // namespace nimify::actions
