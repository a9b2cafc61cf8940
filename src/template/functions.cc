// Prometheus's template functions (template/template.go in prometheus/prometheus
// and helpers/templates in prometheus/common), with Go's formatting and error texts.
#include <arpa/inet.h>
#include <re2/re2.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "template/alert_template.h"
#include "template/go_format.h"
#include "template/go_template.h"

namespace nimify::tmpl {

namespace {

Status FuncError(std::string msg) { return Status::InvalidArgument(std::move(msg)); }

// convertToFloat: float64, string (strconv.ParseFloat) and int.
Result<double> ConvertToFloat(const Value& v) {
  switch (v.kind()) {
    case Kind::kFloat:
      return v.AsFloat();
    case Kind::kInt:
      return static_cast<double>(v.AsInt());
    case Kind::kString:
      if (!v.IsHtml()) return ParseFloat(v.AsString());
      break;
    default:
      break;
  }
  return FuncError("can't convert " + v.TypeName() + " to float");
}

std::string G4(double v) { return FormatFloat(v, 'g', 4); }  // fmt's %.4g

Result<Value> Humanize(const CallEnv&, std::span<const Value> args) {
  NIMIFY_ASSIGN_OR_RETURN(double v, ConvertToFloat(args[0]));
  if (v == 0 || std::isnan(v) || std::isinf(v)) return Value::String(G4(v));
  const char* prefix = "";
  if (std::fabs(v) >= 1) {
    // The prefix is chosen before rounding: 999999 is "1000k".
    for (const char* p : {"k", "M", "G", "T", "P", "E", "Z", "Y"}) {
      if (std::fabs(v) < 1000) break;
      prefix = p;
      v /= 1000;
    }
    return Value::String(G4(v) + prefix);
  }
  for (const char* p : {"m", "u", "n", "p", "f", "a", "z", "y"}) {
    if (std::fabs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return Value::String(G4(v) + prefix);
}

Result<Value> Humanize1024(const CallEnv&, std::span<const Value> args) {
  NIMIFY_ASSIGN_OR_RETURN(double v, ConvertToFloat(args[0]));
  if (std::fabs(v) <= 1 || std::isnan(v) || std::isinf(v)) return Value::String(G4(v));
  const char* prefix = "";
  for (const char* p : {"ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"}) {
    if (std::fabs(v) < 1024) break;
    prefix = p;
    v /= 1024;
  }
  return Value::String(G4(v) + prefix);
}

Result<Value> HumanizeDuration(const CallEnv&, std::span<const Value> args) {
  NIMIFY_ASSIGN_OR_RETURN(double v, ConvertToFloat(args[0]));
  if (std::isnan(v) || std::isinf(v)) return Value::String(G4(v));
  if (v == 0) return Value::String(G4(v) + "s");
  if (std::fabs(v) >= 1) {
    std::string sign;
    if (v < 0) {
      sign = "-";
      v = -v;
    }
    // Go's int64(v): values beyond int64 become math.MinInt64 on amd64.
    const std::int64_t duration = GoFloatToInt64(v);
    const std::int64_t seconds = duration % 60;
    const std::int64_t minutes = (duration / 60) % 60;
    const std::int64_t hours = (duration / 60 / 60) % 24;
    const std::int64_t days = duration / 60 / 60 / 24;
    const auto s = [](std::int64_t n) { return std::to_string(n); };
    if (days != 0) {
      return Value::String(sign + s(days) + "d " + s(hours) + "h " + s(minutes) + "m " +
                           s(seconds) + "s");
    }
    if (hours != 0) {
      return Value::String(sign + s(hours) + "h " + s(minutes) + "m " + s(seconds) + "s");
    }
    if (minutes != 0) return Value::String(sign + s(minutes) + "m " + s(seconds) + "s");
    return Value::String(sign + G4(v) + "s");
  }
  const char* prefix = "";
  for (const char* p : {"m", "u", "n", "p", "f", "a", "z", "y"}) {
    if (std::fabs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return Value::String(G4(v) + prefix + "s");
}

Result<Value> HumanizePercentage(const CallEnv&, std::span<const Value> args) {
  NIMIFY_ASSIGN_OR_RETURN(double v, ConvertToFloat(args[0]));
  return Value::String(G4(v * 100) + "%");
}

// floatToTime: Unix seconds -> UTC time at millisecond precision (model.Time).
Result<TimeValue> FloatToTime(double v) {
  const double ts = v * 1e9;
  if (ts > 9223372036854775807.0 || ts < -9223372036854775808.0) {
    return FuncError(FormatFloat(v, 'g', -1) +
                     " cannot be represented as a nanoseconds timestamp since it overflows int64");
  }
  const std::int64_t ms = GoFloatToInt64(ts) / 1000000;
  TimeValue t;
  t.unix_sec = ms / 1000;
  std::int64_t nsec = (ms % 1000) * 1000000;
  if (nsec < 0) {
    nsec += 1000000000;
    --t.unix_sec;
  }
  t.nsec = static_cast<std::int32_t>(nsec);
  return t;
}

Result<Value> HumanizeTimestamp(const CallEnv&, std::span<const Value> args) {
  NIMIFY_ASSIGN_OR_RETURN(double v, ConvertToFloat(args[0]));
  if (std::isnan(v) || std::isinf(v)) return Value::String(G4(v));
  NIMIFY_ASSIGN_OR_RETURN(TimeValue t, FloatToTime(v));
  return Value::String(FormatTime(t));
}

Result<Value> ToTime(const CallEnv&, std::span<const Value> args) {
  NIMIFY_ASSIGN_OR_RETURN(double v, ConvertToFloat(args[0]));
  if (std::isnan(v) || std::isinf(v)) return FuncError("value is NaN or Inf");
  NIMIFY_ASSIGN_OR_RETURN(TimeValue t, FloatToTime(v));
  return Value::Time(t);
}

Result<Value> ToDuration(const CallEnv&, std::span<const Value> args) {
  NIMIFY_ASSIGN_OR_RETURN(double v, ConvertToFloat(args[0]));
  return Value::Duration(DurationValue{GoFloatToInt64(v * 1e9)});
}

Result<Value> Now(const CallEnv& env, std::span<const Value>) {
  const double ms = env.data == nullptr ? 0 : static_cast<double>(env.data->ts_ms);
  return Value::Float(ms / 1000.0);
}

// The path of a URL, unescaped, as url.URL.Path.
std::string UrlPath(std::string_view url) {
  url = url.substr(0, url.find('#'));
  url = url.substr(0, url.find('?'));
  const std::size_t colon = url.find(':');
  const std::size_t slash = url.find('/');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon < slash)) {
    url.remove_prefix(colon + 1);  // scheme
  }
  if (url.substr(0, 2) == "//") {
    const std::size_t p = url.find('/', 2);
    url = p == std::string_view::npos ? std::string_view() : url.substr(p);
  }
  std::string out;
  for (std::size_t i = 0; i < url.size(); ++i) {
    const auto hex = [&](std::size_t j) {
      const char c = url[j];
      return c >= '0' && c <= '9'   ? c - '0'
             : c >= 'a' && c <= 'f' ? c - 'a' + 10
             : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                    : -1;
    };
    if (url[i] == '%' && i + 2 < url.size() && hex(i + 1) >= 0 && hex(i + 2) >= 0) {
      out.push_back(static_cast<char>(hex(i + 1) * 16 + hex(i + 2)));
      i += 2;
    } else {
      out.push_back(url[i]);
    }
  }
  return out;
}

Result<Value> PathPrefix(const CallEnv& env, std::span<const Value>) {
  return Value::String(env.data == nullptr ? "" : UrlPath(env.data->external_url));
}

Result<Value> ExternalUrl(const CallEnv& env, std::span<const Value>) {
  return Value::String(env.data == nullptr ? "" : env.data->external_url);
}

// model.ParseDuration (2.x messages), accepting a leading '-' as Prometheus 3.x does.
Result<Value> ParseDuration(const CallEnv&, std::span<const Value> args) {
  const std::string& orig = args[0].AsString();
  std::string_view s = orig;
  bool neg = false;
  if (!s.empty() && s[0] == '-') {
    neg = true;
    s.remove_prefix(1);
  }
  if (s == "0") return Value::Float(0);
  if (s.empty()) return FuncError("empty duration string");
  const auto invalid = [&] { return FuncError("not a valid duration string: " + Quote(orig)); };
  struct Unit {
    std::string_view name;
    std::uint64_t mult;
  };
  static constexpr Unit kUnits[] = {
      {"y", 365ull * 24 * 3600 * 1000000000ull},
      {"w", 7ull * 24 * 3600 * 1000000000ull},
      {"d", 24ull * 3600 * 1000000000ull},
      {"h", 3600ull * 1000000000ull},
      {"m", 60ull * 1000000000ull},
      {"s", 1000000000ull},
      {"ms", 1000000ull},
  };
  std::uint64_t dur = 0;
  int last_unit = -1;
  while (!s.empty()) {
    if (s[0] < '0' || s[0] > '9') return invalid();
    std::size_t i = 0;
    std::uint64_t v = 0;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
      if (v > (std::numeric_limits<std::uint64_t>::max() - 9) / 10) return invalid();
      v = v * 10 + static_cast<std::uint64_t>(s[i] - '0');
    }
    s.remove_prefix(i);
    std::size_t u = 0;
    while (u < s.size() && (s[u] < '0' || s[u] > '9')) ++u;
    if (u == 0) return invalid();
    const std::string_view unit = s.substr(0, u);
    s.remove_prefix(u);
    int pos = -1;
    for (int k = 0; k < 7; ++k) {
      if (kUnits[k].name == unit) pos = k;
    }
    // Units must exist and go from biggest to smallest.
    if (pos < 0 || pos <= last_unit) return invalid();
    last_unit = pos;
    const std::uint64_t mult = kUnits[pos].mult;
    if (v > (std::uint64_t{1} << 63) / mult) return FuncError("duration out of range");
    dur += v * mult;
    if (dur > (std::uint64_t{1} << 63) - 1) return FuncError("duration out of range");
  }
  const double secs = static_cast<double>(dur) / 1e9;
  return Value::Float(neg ? -secs : secs);
}

Result<Value> UrlQueryEscapeFunc(const CallEnv&, std::span<const Value> args) {
  return Value::String(UrlQueryEscape(args[0].AsString()));
}

Result<Value> GraphLink(const CallEnv&, std::span<const Value> args) {
  return Value::String("/graph?g0.expr=" + UrlQueryEscape(args[0].AsString()) + "&g0.tab=0");
}

Result<Value> TableLink(const CallEnv&, std::span<const Value> args) {
  return Value::String("/graph?g0.expr=" + UrlQueryEscape(args[0].AsString()) + "&g0.tab=1");
}

Result<Value> Query(const CallEnv& env, std::span<const Value> args) {
  if (env.data == nullptr || !env.data->query) {
    return FuncError("query is not available in this context");
  }
  NIMIFY_ASSIGN_OR_RETURN(promql::Vector vector, env.data->query(args[0].AsString()));
  auto list = std::make_shared<ListValue>();
  list->items.reserve(vector.size());
  for (const auto& s : vector) {
    auto sample = std::make_shared<SampleValue>();
    sample->labels = Value::LabelMap(s.metric);
    sample->value = s.v;
    list->items.push_back(Value::Sample(std::move(sample)));
  }
  return Value::List(std::move(list));
}

Result<Value> First(const CallEnv&, std::span<const Value> args) {
  const ListValue* l = args[0].AsList();
  if (l == nullptr || l->items.empty()) {
    return FuncError("first() called on vector with no elements");
  }
  return l->items[0];
}

constexpr const char* kNilDeref =
    "runtime error: invalid memory address or nil pointer dereference";

std::string SampleLabel(const SampleValue& s, std::string_view name) {
  const MapValue* m = s.labels.kind() == Kind::kMap ? s.labels.AsMap() : nullptr;
  const Value* v = m == nullptr ? nullptr : m->Find(name);
  return v == nullptr ? std::string() : v->AsString();
}

Result<Value> Label(const CallEnv&, std::span<const Value> args) {
  const SampleValue* s = args[1].AsSample();
  if (s == nullptr) return FuncError(kNilDeref);
  return Value::String(SampleLabel(*s, args[0].AsString()));
}

Result<Value> SampleValueFunc(const CallEnv&, std::span<const Value> args) {
  const SampleValue* s = args[0].AsSample();
  if (s == nullptr) return FuncError(kNilDeref);
  return Value::Float(s->value);
}

Result<Value> StrValue(const CallEnv&, std::span<const Value> args) {
  const SampleValue* s = args[0].AsSample();
  if (s == nullptr) return FuncError(kNilDeref);
  return Value::String(SampleLabel(*s, "__value__"));
}

Result<Value> Args(const CallEnv&, std::span<const Value> args) {
  auto m = std::make_shared<MapValue>();
  m->elem_is_string = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    m->entries.emplace_back("arg" + std::to_string(i), args[i]);
  }
  std::sort(m->entries.begin(), m->entries.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return Value::Map(std::move(m));
}

Result<Value> SortByLabel(const CallEnv&, std::span<const Value> args) {
  const ListValue* l = args[1].AsList();
  if (l == nullptr) return args[1];
  auto sorted = std::make_shared<ListValue>(*l);
  const std::string& label = args[0].AsString();
  std::stable_sort(sorted->items.begin(), sorted->items.end(), [&](const Value& a, const Value& b) {
    const SampleValue* sa = a.AsSample();
    const SampleValue* sb = b.AsSample();
    if (sa == nullptr || sb == nullptr) return false;
    return SampleLabel(*sa, label) < SampleLabel(*sb, label);
  });
  return Value::List(std::move(sorted));
}

// --- regular expressions (Go's regexp is RE2, so re2 has the same syntax) ----

std::string GoRegexpError(const RE2& re) {
  const char* code = "regexp/syntax: internal error";
  switch (re.error_code()) {
    case RE2::ErrorBadEscape:
      code = "invalid escape sequence";
      break;
    case RE2::ErrorBadCharClass:
      code = "invalid character class";
      break;
    case RE2::ErrorBadCharRange:
      code = "invalid character class range";
      break;
    case RE2::ErrorMissingBracket:
      code = "missing closing ]";
      break;
    case RE2::ErrorMissingParen:
      code = "missing closing )";
      break;
    case RE2::ErrorUnexpectedParen:
      code = "unexpected )";
      break;
    case RE2::ErrorTrailingBackslash:
      code = "trailing backslash at end of expression";
      break;
    case RE2::ErrorRepeatArgument:
      code = "missing argument to repetition operator";
      break;
    case RE2::ErrorRepeatSize:
      code = "invalid repeat count";
      break;
    case RE2::ErrorRepeatOp:
      code = "invalid nested repetition operator";
      break;
    case RE2::ErrorBadPerlOp:
      code = "invalid or unsupported Perl syntax";
      break;
    case RE2::ErrorBadUTF8:
      code = "invalid UTF-8";
      break;
    case RE2::ErrorBadNamedCapture:
      code = "invalid named capture";
      break;
    case RE2::ErrorPatternTooLarge:
      code = "expression too large";
      break;
    default:
      break;
  }
  return std::string("error parsing regexp: ") + code + ": `" + re.error_arg() + "`";
}

std::unique_ptr<RE2> CompileRegexp(const std::string& pattern) {
  RE2::Options opts;
  opts.set_log_errors(false);
  return std::make_unique<RE2>(pattern, opts);
}

Result<Value> Match(const CallEnv&, std::span<const Value> args) {
  auto re = CompileRegexp(args[0].AsString());
  if (!re->ok()) return FuncError(GoRegexpError(*re));
  return Value::Bool(RE2::PartialMatch(args[1].AsString(), *re));
}

// Go's extract(): a $name or ${name} reference at the start of `s`.
bool ExtractGroupRef(std::string_view s, std::string* name, int* num, std::size_t* consumed) {
  if (s.empty()) return false;
  bool brace = false;
  std::size_t start = 0;
  if (s[0] == '{') {
    brace = true;
    start = 1;
  }
  std::size_t i = start;
  while (i < s.size()) {
    int w = 1;
    const std::int32_t r = DecodeRune(s.substr(i), &w);
    if (!IsLetterRune(r) && !IsDigitRune(r) && r != '_') break;
    i += static_cast<std::size_t>(w);
  }
  if (i == start) return false;
  *name = std::string(s.substr(start, i - start));
  if (brace) {
    if (i >= s.size() || s[i] != '}') return false;
    ++i;
  }
  *num = 0;
  for (char c : *name) {
    if (c < '0' || c > '9' || *num >= 100000000) {
      *num = -1;
      break;
    }
    *num = *num * 10 + (c - '0');
  }
  if ((*name)[0] == '0' && name->size() > 1) *num = -1;  // no leading zeros
  *consumed = i;
  return true;
}

// Regexp.ReplaceAllString: $1, ${1}, $name, ${name} and $$ in `repl`.
std::string ReplaceAll(const RE2& re, std::string_view src, std::string_view repl) {
  const int ngroups = re.NumberOfCapturingGroups() + 1;
  std::vector<re2::StringPiece> m(static_cast<std::size_t>(ngroups));
  const auto& names = re.NamedCapturingGroups();
  std::string out;
  std::size_t last_match_end = 0;
  std::size_t search_pos = 0;
  const re2::StringPiece text(src.data(), src.size());
  while (search_pos <= src.size()) {
    if (!re.Match(text, search_pos, src.size(), RE2::UNANCHORED, m.data(), ngroups)) break;
    const auto a0 = static_cast<std::size_t>(m[0].data() - src.data());
    const std::size_t a1 = a0 + m[0].size();
    out.append(src.substr(last_match_end, a0 - last_match_end));
    // No replacement for an empty match right after the previous match.
    if (a1 > last_match_end || a0 == 0) {
      std::string_view t = repl;
      while (!t.empty()) {
        const std::size_t dollar = t.find('$');
        if (dollar == std::string_view::npos) break;
        out.append(t.substr(0, dollar));
        t.remove_prefix(dollar + 1);
        if (!t.empty() && t[0] == '$') {
          out.push_back('$');
          t.remove_prefix(1);
          continue;
        }
        std::string name;
        int num = -1;
        std::size_t consumed = 0;
        if (!ExtractGroupRef(t, &name, &num, &consumed)) {
          out.push_back('$');  // malformed: a literal '$'
          continue;
        }
        t.remove_prefix(consumed);
        int group = num;
        if (num < 0) {
          auto it = names.find(name);
          group = it == names.end() ? -1 : it->second;
        }
        if (group >= 0 && group < ngroups && m[static_cast<std::size_t>(group)].data() != nullptr) {
          const auto& g = m[static_cast<std::size_t>(group)];
          out.append(g.data(), g.size());
        }
      }
      out.append(t);
    }
    last_match_end = a1;
    // Advance past this match; always advance at least one character.
    int width = 0;
    if (search_pos < src.size()) DecodeRune(src.substr(search_pos), &width);
    if (search_pos + static_cast<std::size_t>(width) > a1) {
      search_pos += static_cast<std::size_t>(width);
    } else if (search_pos + 1 > a1) {
      ++search_pos;
    } else {
      search_pos = a1;
    }
  }
  out.append(src.substr(std::min(last_match_end, src.size())));
  return out;
}

Result<Value> ReReplaceAll(const CallEnv&, std::span<const Value> args) {
  const std::string& pattern = args[0].AsString();
  auto re = CompileRegexp(pattern);
  if (!re->ok()) {
    // regexp.MustCompile panics; text/template reports the panic value.
    const std::string quoted = CanBackquote(pattern) ? "`" + pattern + "`" : Quote(pattern);
    return FuncError("regexp: Compile(" + quoted + "): " + GoRegexpError(*re));
  }
  return Value::String(ReplaceAll(*re, args[2].AsString(), args[1].AsString()));
}

// --- strings -------------------------------------------------------------

template <typename Fn>
std::string MapRunes(std::string_view s, Fn fn) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    int w = 1;
    const std::int32_t r = DecodeRune(s.substr(i), &w);
    AppendRune(&out, fn(r));
    i += static_cast<std::size_t>(w);
  }
  return out;
}

// strings.Title's word boundaries.
bool IsSeparator(std::int32_t r) {
  if (r <= 0x7F) {
    return !((r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') ||
             r == '_');
  }
  if (IsLetterRune(r) || IsDigitRune(r)) return false;
  return IsSpaceRune(r);
}

Result<Value> Title(const CallEnv&, std::span<const Value> args) {
  std::int32_t prev = ' ';
  return Value::String(MapRunes(args[0].AsString(), [&](std::int32_t r) {
    const std::int32_t out = IsSeparator(prev) ? ToUpperRune(r) : r;
    prev = r;
    return out;
  }));
}

Result<Value> ToUpper(const CallEnv&, std::span<const Value> args) {
  return Value::String(MapRunes(args[0].AsString(), ToUpperRune));
}

Result<Value> ToLower(const CallEnv&, std::span<const Value> args) {
  return Value::String(MapRunes(args[0].AsString(), ToLowerRune));
}

Result<Value> SafeHtml(const CallEnv&, std::span<const Value> args) {
  return Value::Html(args[0].AsString());
}

// net.SplitHostPort.
bool SplitHostPort(std::string_view hostport, std::string_view* host, std::string_view* port) {
  const std::size_t i = hostport.rfind(':');
  if (i == std::string_view::npos) return false;
  std::size_t j = 0, k = 0;
  if (!hostport.empty() && hostport[0] == '[') {
    const std::size_t end = hostport.find(']');
    if (end == std::string_view::npos) return false;
    if (end + 1 != i) return false;
    *host = hostport.substr(1, end - 1);
    j = 1;
    k = end + 1;
  } else {
    *host = hostport.substr(0, i);
    if (host->find(':') != std::string_view::npos) return false;
  }
  if (hostport.find('[', j) != std::string_view::npos) return false;
  if (hostport.find(']', k) != std::string_view::npos) return false;
  *port = hostport.substr(i + 1);
  return true;
}

// net.ParseIP succeeds: dotted IPv4 or IPv6 without a zone.
bool IsIp(std::string_view host) {
  const std::string h(host);
  unsigned char buf[16];
  return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

Result<Value> StripPort(const CallEnv&, std::span<const Value> args) {
  const std::string& hostport = args[0].AsString();
  std::string_view host, port;
  if (!SplitHostPort(hostport, &host, &port)) return Value::String(hostport);
  return Value::String(std::string(host));
}

Result<Value> StripDomain(const CallEnv&, std::span<const Value> args) {
  const std::string& hostport = args[0].AsString();
  std::string_view host, port;
  if (!SplitHostPort(hostport, &host, &port)) {
    host = hostport;
    port = {};
  }
  if (IsIp(host)) return Value::String(hostport);
  host = host.substr(0, host.find('.'));
  if (port.empty()) return Value::String(std::string(host));
  // net.JoinHostPort brackets hosts containing a colon.
  if (host.find(':') != std::string_view::npos) {
    return Value::String("[" + std::string(host) + "]:" + std::string(port));
  }
  return Value::String(std::string(host) + ":" + std::string(port));
}

FuncTable BuildPrometheusFuncs() {
  FuncTable t;
  AddBuiltinFuncs(&t);
  using P = ParamType;
  const auto add = [&](const char* name, std::vector<ParamType> params, bool variadic,
                       FuncImpl impl) {
    t.Add(FuncDef{name, std::move(params), variadic, impl}, false);
  };
  add("query", {P::kString}, false, Query);
  add("first", {P::kQueryResult}, false, First);
  add("label", {P::kString, P::kSamplePtr}, false, Label);
  add("value", {P::kSamplePtr}, false, SampleValueFunc);
  add("strvalue", {P::kSamplePtr}, false, StrValue);
  add("args", {P::kAny}, true, Args);
  add("reReplaceAll", {P::kString, P::kString, P::kString}, false, ReReplaceAll);
  add("safeHtml", {P::kString}, false, SafeHtml);
  add("match", {P::kString, P::kString}, false, Match);
  add("title", {P::kString}, false, Title);
  add("toUpper", {P::kString}, false, ToUpper);
  add("toLower", {P::kString}, false, ToLower);
  add("graphLink", {P::kString}, false, GraphLink);
  add("tableLink", {P::kString}, false, TableLink);
  add("sortByLabel", {P::kString, P::kQueryResult}, false, SortByLabel);
  add("stripPort", {P::kString}, false, StripPort);
  add("stripDomain", {P::kString}, false, StripDomain);
  add("humanize", {P::kAny}, false, Humanize);
  add("humanize1024", {P::kAny}, false, Humanize1024);
  add("humanizeDuration", {P::kAny}, false, HumanizeDuration);
  add("humanizePercentage", {P::kAny}, false, HumanizePercentage);
  add("humanizeTimestamp", {P::kAny}, false, HumanizeTimestamp);
  add("toTime", {P::kAny}, false, ToTime);
  add("toDuration", {P::kAny}, false, ToDuration);
  add("now", {}, false, Now);
  add("pathPrefix", {}, false, PathPrefix);
  add("externalURL", {}, false, ExternalUrl);
  add("parseDuration", {P::kString}, false, ParseDuration);
  add("urlQueryEscape", {P::kString}, false, UrlQueryEscapeFunc);
  return t;
}

}  // namespace

const FuncTable& PrometheusFuncs() {
  static const FuncTable* const kTable = new FuncTable(BuildPrometheusFuncs());
  return *kTable;
}

}  // namespace nimify::tmpl
