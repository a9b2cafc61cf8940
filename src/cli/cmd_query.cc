// `nimify query`: evaluates one PromQL expression over series given in the
// promqltest `load` notation, and prints the result as Prometheus does.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <variant>

#include "cli/commands.h"
#include "promql/evaluator.h"
#include "promql/parser.h"
#include "promqltest/memory_storage.h"
#include "promqltest/script.h"
#include "template/go_format.h"

namespace nimify::cli {
namespace {

constexpr const char* kUsage =
    "usage: nimify query EXPR --input FILE [--at TIME] [--promql-compat=2|3]\n"
    "                         [--lookback DURATION] [--format text|json]\n"
    "\n"
    "Evaluates the PromQL expression EXPR at TIME over the series in FILE.\n"
    "FILE holds one or more `load <step>` blocks in promqltest notation, e.g.\n"
    "    load 1m\n"
    "      http_requests_total{code=\"500\"} 0+3x60\n"
    "TIME is a duration from time 0, where every load block starts (`5m`),\n"
    "Unix seconds (`1700000000.5`) or RFC 3339 (`2024-05-01T12:00:00Z`);\n"
    "default: the newest sample in FILE. --promql-compat picks Prometheus 2\n"
    "(closed windows) or 3 (left-open windows, the default) semantics.\n";

int UsageError(const std::string& msg) {
  std::fprintf(stderr, "nimify query: %s\n\n%s", msg.c_str(), kUsage);
  return 2;
}

// Go's strconv.FormatFloat(v, 'f', -1, 64), as Prometheus prints sample values.
// Go's strconv.FormatFloat(v, 'f', -1, 64): shortest digits, padded with zeros
// (std::to_chars' fixed form would print a large value's exact decimal expansion).
std::string FormatFloatF(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return tmpl::FormatFloat(v, 'f', -1);
}

// Prometheus's API value format (jsonutil.MarshalFloat): 'e' for tiny or huge.
std::string FormatFloatJson(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  const double a = std::fabs(v);
  if (a != 0 && (a < 1e-6 || a >= 1e21)) {
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
    return std::string(buf, res.ptr);
  }
  return FormatFloatF(v);
}

// Unix milliseconds as seconds with up to three decimals (jsonutil.MarshalTimestamp).
std::string FormatTimestampJson(std::int64_t t) {
  std::string out;
  if (t < 0) {
    out = "-";
    t = -t;
  }
  out += std::to_string(t / 1000);
  const std::int64_t frac = t % 1000;
  if (frac != 0) {
    out += ".";
    if (frac < 100) out += "0";
    if (frac < 10) out += "0";
    out += std::to_string(frac);
  }
  return out;
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
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
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  return out + "\"";
}

std::string JsonMetric(const promql::Labels& labels) {
  std::string out = "{";
  bool first = true;
  for (const auto& l : labels) {
    if (!first) out += ",";
    first = false;
    out += JsonString(l.name) + ":" + JsonString(l.value);
  }
  return out + "}";
}

std::string JsonPoint(std::int64_t t, double v) {
  return "[" + FormatTimestampJson(t) + "," + JsonString(FormatFloatJson(v)) + "]";
}

std::string ToJson(const promql::Value& value) {
  if (const auto* s = std::get_if<promql::Scalar>(&value)) {
    return R"({"resultType":"scalar","result":)" + JsonPoint(s->t, s->v) + "}";
  }
  if (const auto* s = std::get_if<promql::String>(&value)) {
    return R"({"resultType":"string","result":[)" + FormatTimestampJson(s->t) + "," +
           JsonString(s->v) + "]}";
  }
  std::string out;
  if (const auto* vec = std::get_if<promql::Vector>(&value)) {
    out = R"({"resultType":"vector","result":[)";
    for (std::size_t i = 0; i < vec->size(); ++i) {
      const auto& s = (*vec)[i];
      out += (i ? "," : "") + std::string(R"({"metric":)") + JsonMetric(s.metric) + R"(,"value":)" +
             JsonPoint(s.t, s.v) + "}";
    }
    return out + "]}";
  }
  const auto& m = std::get<promql::Matrix>(value);
  out = R"({"resultType":"matrix","result":[)";
  for (std::size_t i = 0; i < m.size(); ++i) {
    out +=
        (i ? "," : "") + std::string(R"({"metric":)") + JsonMetric(m[i].metric) + R"(,"values":[)";
    for (std::size_t j = 0; j < m[i].points.size(); ++j) {
      out += (j ? "," : "") + JsonPoint(m[i].points[j].t, m[i].points[j].v);
    }
    out += "]}";
  }
  return out + "]}";
}

// Prometheus's String() forms: `metric => value @[ms]`, `scalar: v @[ms]`, ...
std::string ToText(const promql::Value& value) {
  std::string out;
  if (const auto* s = std::get_if<promql::Scalar>(&value)) {
    return "scalar: " + FormatFloatF(s->v) + " @[" + std::to_string(s->t) + "]\n";
  }
  if (const auto* s = std::get_if<promql::String>(&value)) return s->v + "\n";
  if (const auto* vec = std::get_if<promql::Vector>(&value)) {
    for (const auto& s : *vec) {
      out += s.metric.ToString() + " => " + FormatFloatF(s.v) + " @[" + std::to_string(s.t) + "]\n";
    }
    return out;
  }
  for (const auto& series : std::get<promql::Matrix>(value)) {
    out += series.metric.ToString() + " =>\n";
    for (const auto& p : series.points) {
      out += FormatFloatF(p.v) + " @[" + std::to_string(p.t) + "]\n";
    }
  }
  return out;
}

bool IsUnixSeconds(std::string_view s) {
  std::size_t i = (!s.empty() && s[0] == '-') ? 1 : 0;
  if (i >= s.size()) return false;
  bool dot = false;
  bool digits = false;
  for (; i < s.size(); ++i) {
    if (s[i] == '.' && !dot) {
      dot = true;
    } else if (s[i] >= '0' && s[i] <= '9') {
      digits = true;
    } else {
      return false;
    }
  }
  return digits;
}

// Days since 1970-01-01 of a proleptic Gregorian date.
std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// RFC 3339: 2024-05-01T12:00:00Z, 2024-05-01T12:00:00.250+02:00.
std::optional<std::int64_t> ParseRfc3339(std::string_view s) {
  auto num = [&](std::size_t pos, std::size_t len) -> std::optional<int> {
    if (pos + len > s.size()) return std::nullopt;
    int v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return std::nullopt;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  auto year = num(0, 4), month = num(5, 2), day = num(8, 2);
  auto hour = num(11, 2), minute = num(14, 2), second = num(17, 2);
  if (!year || !month || !day || !hour || !minute || !second || s.size() < 20 || s[4] != '-' ||
      s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' ||
      s[16] != ':' || *month < 1 || *month > 12 || *day < 1 || *day > 31 || *hour > 23 ||
      *minute > 59 || *second > 60) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  std::int64_t millis = 0;
  if (s[pos] == '.') {
    ++pos;
    int scale = 100;
    const std::size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      millis += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  std::int64_t offset_minutes = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    auto oh = num(pos + 1, 2), om = num(pos + 4, 2);
    if (!oh || !om || s[pos + 3] != ':') return std::nullopt;
    offset_minutes = (*oh * 60 + *om) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  const std::int64_t days =
      DaysFromCivil(*year, static_cast<unsigned>(*month), static_cast<unsigned>(*day));
  const std::int64_t seconds =
      days * 86400 + *hour * 3600 + *minute * 60 + *second - offset_minutes * 60;
  return seconds * 1000 + millis;
}

Result<std::int64_t> ParseTime(const std::string& s) {
  if (IsUnixSeconds(s)) {
    double seconds = 0;
    auto res = std::from_chars(s.data(), s.data() + s.size(), seconds);
    if (res.ec == std::errc() && std::fabs(seconds) < 9.2e15) {
      return static_cast<std::int64_t>(std::llround(seconds * 1000));
    }
  }
  if (auto t = ParseRfc3339(s)) return *t;
  auto d = promql::ParseDuration(s);
  if (d.ok()) return *d;
  return Status::InvalidArgument("invalid --at " + promql::QuoteLabelValue(s) +
                                 ": want a duration (5m), Unix seconds or RFC 3339 time");
}

}  // namespace

int RunQuery(const Args& args) {
  std::optional<std::string> expr_text, input, at, lookback;
  std::string format = "text";
  promql::Compat compat = promql::Compat::kPrometheus3;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg == "-h" || arg == "--help") {
      std::printf("%s", kUsage);
      return 0;
    }
    if (arg.rfind("--", 0) != 0 || arg == "--") {
      if (arg == "--" && i + 1 < args.size()) arg = args[++i];
      if (expr_text) return UsageError("more than one expression given: '" + arg + "'");
      expr_text = arg;
      continue;
    }
    std::string value;
    const auto eq = arg.find('=');
    std::string flag = arg.substr(0, eq);
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return UsageError("flag " + flag + " needs a value");
    }
    if (flag == "--input") {
      input = value;
    } else if (flag == "--at") {
      at = value;
    } else if (flag == "--lookback") {
      lookback = value;
    } else if (flag == "--format") {
      if (value != "text" && value != "json") return UsageError("--format must be text or json");
      format = value;
    } else if (flag == "--promql-compat") {
      if (value == "2") {
        compat = promql::Compat::kPrometheus2;
      } else if (value == "3") {
        compat = promql::Compat::kPrometheus3;
      } else {
        return UsageError("--promql-compat must be 2 or 3");
      }
    } else {
      return UsageError("unknown flag " + flag);
    }
  }
  if (!expr_text) return UsageError("missing the PromQL expression");
  if (!input) return UsageError("missing --input FILE");

  std::ifstream in(*input, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "nimify query: cannot read %s\n", input->c_str());
    return 2;
  }
  std::ostringstream text;
  text << in.rdbuf();
  promqltest::MemoryStorage storage;
  if (Status s = promqltest::LoadSeriesText(text.str(), *input, &storage); !s.ok()) {
    std::fprintf(stderr, "nimify query: %s\n", std::string(s.message()).c_str());
    return 2;
  }

  std::int64_t ts = 0;
  if (at) {
    auto t = ParseTime(*at);
    if (!t.ok()) return UsageError(std::string(t.status().message()));
    ts = *t;
  } else {
    for (const promql::Series* series : storage.AllSeries()) {
      if (!series->points.empty()) ts = std::max(ts, series->points.back().t);
    }
  }

  promql::EvalOptions options = promqltest::TestEngineOptions(compat);
  options.delayed_name_removal = false;  // the server default
  options.max_samples = promql::EvalOptions{}.max_samples;
  if (lookback) {
    auto d = promql::ParseDuration(*lookback);
    if (!d.ok() || *d <= 0) return UsageError("invalid --lookback " + *lookback);
    options.lookback_delta_ms = *d;
  }

  auto expr = promql::ParseExpr(*expr_text);
  if (!expr.ok()) {
    std::fprintf(stderr, "nimify query: %s\n", std::string(expr.status().message()).c_str());
    return 2;
  }
  promql::Evaluator evaluator(&storage, options);
  auto result = evaluator.Instant(**expr, ts, *expr_text);
  if (!result.ok()) {
    std::fprintf(stderr, "nimify query: %s\n", std::string(result.status().message()).c_str());
    return 1;
  }
  for (const auto& w : result->warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  for (const auto& i : result->infos) std::fprintf(stderr, "info: %s\n", i.c_str());
  if (format == "json") {
    std::printf("%s\n", ToJson(result->value).c_str());
  } else {
    std::printf("%s", ToText(result->value).c_str());
  }
  return 0;
}

}  // namespace nimify::cli
