#include "daemon/prom_api.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <ctime>

#include "common/go_strconv.h"
#include "nimify/config.h"

namespace nimify::daemon {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool ParseFloatFull(std::string_view text, double* out) {
  if (text.empty() || text.size() > 64) return false;
  const std::string s(text);
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || errno == ERANGE) return false;
  // strtod also reads hex floats and "infinity"/"nan"; the API wants decimal.
  for (const char c : s) {
    if (c == 'x' || c == 'X' || c == 'n' || c == 'N' || c == 'i' || c == 'I') return false;
  }
  *out = v;
  return true;
}

bool ParseDigits(std::string_view s, std::size_t pos, std::size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// RFC 3339: YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM).
bool ParseRfc3339(std::string_view s, std::int64_t* ms) {
  int year = 0, mon = 0, day = 0, hour = 0, min = 0, sec = 0;
  if (!ParseDigits(s, 0, 4, &year) || s.size() < 20 || s[4] != '-' ||
      !ParseDigits(s, 5, 2, &mon) || s[7] != '-' || !ParseDigits(s, 8, 2, &day) ||
      (s[10] != 'T' && s[10] != 't') || !ParseDigits(s, 11, 2, &hour) || s[13] != ':' ||
      !ParseDigits(s, 14, 2, &min) || s[16] != ':' || !ParseDigits(s, 17, 2, &sec)) {
    return false;
  }
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 59) return false;
  std::size_t pos = 19;
  std::int64_t frac_ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 3) frac_ms = frac_ms * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return false;
    for (int d = digits; d < 3; ++d) frac_ms *= 10;
  }
  std::int64_t offset_s = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh = 0, om = 0;
    if (!ParseDigits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !ParseDigits(s, pos + 4, 2, &om) || oh > 23 || om > 59) {
      return false;
    }
    offset_s = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return false;
  }
  if (pos != s.size()) return false;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  const std::int64_t secs = static_cast<std::int64_t>(timegm(&tm)) - offset_s;
  *ms = secs * 1000 + frac_ms;
  return true;
}

void AppendPoint(std::string* out, const QueryPoint& p) {
  out->push_back('[');
  out->append(FormatApiTimestamp(p.t_ms));
  out->append(",\"");
  out->append(FormatApiValue(p.value));
  out->append("\"]");
}

}  // namespace

bool UrlDecode(std::string_view in, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+') {
      out->push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = HexDigit(in[i + 1]);
      const int lo = HexDigit(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out->push_back(c);
    }
  }
  return true;
}

Status Params::AddEncoded(std::string_view encoded) {
  while (!encoded.empty()) {
    const auto amp = encoded.find('&');
    const std::string_view pair = encoded.substr(0, amp);
    encoded = amp == std::string_view::npos ? std::string_view() : encoded.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    std::string name, value;
    if (!UrlDecode(pair.substr(0, eq), &name) ||
        (eq != std::string_view::npos && !UrlDecode(pair.substr(eq + 1), &value))) {
      return Status::InvalidArgument("invalid URL escape in \"" + std::string(pair) + "\"");
    }
    pairs_.emplace_back(std::move(name), std::move(value));
  }
  return Status::Ok();
}

std::optional<std::string_view> Params::Get(std::string_view name) const {
  for (const auto& [n, v] : pairs_) {
    if (n == name) return std::string_view(v);
  }
  return std::nullopt;
}

std::vector<std::string> Params::GetAll(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [n, v] : pairs_) {
    if (n == name) out.push_back(v);
  }
  return out;
}

Result<std::int64_t> ParseApiTime(std::string_view text) {
  double secs = 0;
  if (ParseFloatFull(text, &secs)) {
    // Prometheus rounds float seconds to milliseconds.
    const double ms = std::round(secs * 1000.0);
    if (std::abs(ms) < 9.2e18) return static_cast<std::int64_t>(ms);
  }
  std::int64_t ms = 0;
  if (ParseRfc3339(text, &ms)) return ms;
  return Status::InvalidArgument("cannot parse \"" + std::string(text) +
                                 "\" to a valid timestamp");
}

Result<std::int64_t> ParseApiDuration(std::string_view text) {
  double secs = 0;
  if (ParseFloatFull(text, &secs)) {
    const double ms = std::round(secs * 1000.0);
    if (std::abs(ms) < 9.2e18) return static_cast<std::int64_t>(ms);
    return Status::InvalidArgument("cannot parse \"" + std::string(text) +
                                   "\" to a valid duration. It overflows int64");
  }
  Result<std::chrono::milliseconds> d = ConfigNode::Scalar(std::string(text)).AsDuration();
  if (d.ok()) return static_cast<std::int64_t>(d->count());
  return Status::InvalidArgument("cannot parse \"" + std::string(text) + "\" to a valid duration");
}

std::string FormatRfc3339(std::int64_t ms) {
  std::int64_t secs = ms / 1000;
  std::int64_t frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    secs -= 1;
  }
  const std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[48];
  int n = std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  std::string out(buf, static_cast<std::size_t>(n));
  if (frac != 0) {
    n = std::snprintf(buf, sizeof(buf), ".%03d", static_cast<int>(frac));
    std::string f(buf, static_cast<std::size_t>(n));
    while (f.back() == '0') f.pop_back();  // Go trims trailing zeros
    out += f;
  }
  out += 'Z';
  return out;
}

std::string FormatApiTimestamp(std::int64_t ms) {
  std::string out;
  std::uint64_t t = 0;
  if (ms < 0) {
    out.push_back('-');
    t = static_cast<std::uint64_t>(-(ms + 1)) + 1;
  } else {
    t = static_cast<std::uint64_t>(ms);
  }
  out += std::to_string(t / 1000);
  const std::uint64_t fraction = t % 1000;
  if (fraction != 0) {
    char buf[8];
    const int n = std::snprintf(buf, sizeof(buf), ".%03u", static_cast<unsigned>(fraction));
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

std::string FormatApiValue(double v) { return internal::FormatGoFloat(v, 'f', -1); }

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (const char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          const int n = std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out->append(buf, static_cast<std::size_t>(n));
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

void AppendLabelsObject(std::string* out, const OwnedLabels& labels) {
  out->push_back('{');
  bool first = true;
  for (const OwnedLabel& l : labels) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(out, l.name);
    out->push_back(':');
    AppendJsonString(out, l.value);
  }
  out->push_back('}');
}

std::string ApiErrorBody(std::string_view error_type, std::string_view message) {
  std::string out = "{\"status\":\"error\",\"errorType\":";
  AppendJsonString(&out, error_type);
  out += ",\"error\":";
  AppendJsonString(&out, message);
  out += '}';
  return out;
}

std::string ApiSuccessBody(std::string_view data_json, const std::vector<std::string>& warnings,
                           const std::vector<std::string>& infos) {
  std::string out = "{\"status\":\"success\",\"data\":";
  out += data_json;
  const auto list = [&out](const char* key, const std::vector<std::string>& items) {
    if (items.empty()) return;
    out += ",\"";
    out += key;
    out += "\":[";
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out += ',';
      AppendJsonString(&out, items[i]);
    }
    out += ']';
  };
  list("warnings", warnings);
  list("infos", infos);
  out += '}';
  return out;
}

std::string QueryDataJson(const QueryResult& result) {
  std::string out = "{\"resultType\":";
  switch (result.type) {
    case QueryValueType::kScalar:
      out += "\"scalar\",\"result\":";
      AppendPoint(&out, result.scalar);
      break;
    case QueryValueType::kString:
      out += "\"string\",\"result\":[";
      out += FormatApiTimestamp(result.scalar.t_ms);
      out += ',';
      AppendJsonString(&out, result.string_value);
      out += ']';
      break;
    case QueryValueType::kVector:
    case QueryValueType::kMatrix: {
      const bool matrix = result.type == QueryValueType::kMatrix;
      out += matrix ? "\"matrix\",\"result\":[" : "\"vector\",\"result\":[";
      for (std::size_t i = 0; i < result.series.size(); ++i) {
        const QuerySeries& s = result.series[i];
        if (i > 0) out += ',';
        out += "{\"metric\":";
        AppendLabelsObject(&out, s.labels);
        if (matrix) {
          out += ",\"values\":[";
          for (std::size_t j = 0; j < s.points.size(); ++j) {
            if (j > 0) out += ',';
            AppendPoint(&out, s.points[j]);
          }
          out += ']';
        } else {
          out += ",\"value\":";
          AppendPoint(&out, s.points.empty() ? QueryPoint{} : s.points.front());
        }
        out += '}';
      }
      out += ']';
      break;
    }
  }
  out += '}';
  return out;
}

ApiError ApiErrorForStatus(const Status& status) {
  switch (status.code()) {
    case StatusCode::kParseError:
    case StatusCode::kInvalidArgument:
      return {"bad_data", 400};
    case StatusCode::kDeadlineExceeded:
      return {"timeout", 503};
    case StatusCode::kResourceExhausted:
      return {"execution", 422};
    case StatusCode::kFailedPrecondition:
    case StatusCode::kUnavailable:
      return {"unavailable", 503};
    case StatusCode::kNotFound:
      return {"not_found", 404};
    default:
      return {"internal", 500};
  }
}

}  // namespace nimify::daemon
