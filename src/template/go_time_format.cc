// Go's time formatting as templates use it: time.Time.String(),
// time.Time.Format(layout) in UTC, and time.Duration.String().
#include <cstdint>
#include <string>
#include <string_view>

#include "template/go_format.h"

namespace nimify::tmpl {

namespace {

struct Civil {
  std::int64_t year;
  int month, day, hour, minute, second, yday, weekday;
};

// Days since 1970-01-01 -> proleptic Gregorian date (Howard Hinnant's algorithm).
Civil ToCivil(const TimeValue& t) {
  std::int64_t days = t.unix_sec / 86400;
  std::int64_t secs = t.unix_sec % 86400;
  if (secs < 0) {
    secs += 86400;
    --days;
  }
  Civil c{};
  c.hour = static_cast<int>(secs / 3600);
  c.minute = static_cast<int>(secs / 60 % 60);
  c.second = static_cast<int>(secs % 60);
  c.weekday = static_cast<int>(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday (4)
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  c.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  c.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  c.year = yoe + era * 400 + (c.month <= 2 ? 1 : 0);
  static constexpr int kCum[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
  const bool leap = (c.year % 4 == 0 && c.year % 100 != 0) || c.year % 400 == 0;
  c.yday = kCum[c.month - 1] + c.day + (leap && c.month > 2 ? 1 : 0);
  return c;
}

void AppendInt(std::string* out, std::int64_t v, int width) {
  if (v < 0) {
    out->push_back('-');
    v = -v;
  }
  std::string s = std::to_string(v);
  while (static_cast<int>(s.size()) < width) s.insert(s.begin(), '0');
  out->append(s);
}

constexpr const char* kMonths[] = {"January",   "February", "March",    "April",
                                   "May",       "June",     "July",     "August",
                                   "September", "October",  "November", "December"};
constexpr const char* kDays[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                 "Thursday", "Friday", "Saturday"};

}  // namespace

std::string FormatTime(const TimeValue& t) {
  return FormatTimeLayout(t, "2006-01-02 15:04:05.999999999 -0700 MST");
}

std::string FormatTimeLayout(const TimeValue& t, std::string_view layout) {
  const Civil c = ToCivil(t);
  std::string out;
  auto starts = [&](std::size_t i, std::string_view p) { return layout.substr(i, p.size()) == p; };
  for (std::size_t i = 0; i < layout.size();) {
    const auto fractional = [&](std::size_t j, bool trim) -> std::size_t {
      // ".000" or ".999" (also with ','): fractional seconds.
      std::size_t k = j + 1;
      const char d = layout[k];
      while (k < layout.size() && layout[k] == d) ++k;
      const int digits = std::min(static_cast<int>(k - j - 1), 9);
      std::string frac =
          std::to_string(1000000000 + t.nsec).substr(1, static_cast<std::size_t>(digits));
      if (trim) {
        while (!frac.empty() && frac.back() == '0') frac.pop_back();
        if (!frac.empty()) out += layout[j] + frac;
      } else {
        out += layout[j] + frac;
      }
      return k;
    };
    if (starts(i, "January")) {
      out += kMonths[c.month - 1];
      i += 7;
      continue;
    }
    if (starts(i, "Jan")) {
      out += std::string(kMonths[c.month - 1]).substr(0, 3);
      i += 3;
      continue;
    }
    if (starts(i, "Monday")) {
      out += kDays[c.weekday];
      i += 6;
      continue;
    }
    if (starts(i, "Mon")) {
      out += std::string(kDays[c.weekday]).substr(0, 3);
      i += 3;
      continue;
    }
    if (starts(i, "MST")) {
      out += "UTC";
      i += 3;
      continue;
    }
    if (starts(i, "2006")) {
      AppendInt(&out, c.year, 4);
      i += 4;
      continue;
    }
    if (starts(i, "2")) {
      AppendInt(&out, c.day, 0);
      i += 1;
      continue;
    }
    if (starts(i, "01")) {
      AppendInt(&out, c.month, 2);
      i += 2;
      continue;
    }
    if (starts(i, "02")) {
      AppendInt(&out, c.day, 2);
      i += 2;
      continue;
    }
    if (starts(i, "002")) {
      AppendInt(&out, c.yday, 3);
      i += 3;
      continue;
    }
    if (starts(i, "03")) {
      AppendInt(&out, c.hour % 12 == 0 ? 12 : c.hour % 12, 2);
      i += 2;
      continue;
    }
    if (starts(i, "04")) {
      AppendInt(&out, c.minute, 2);
      i += 2;
      continue;
    }
    if (starts(i, "05")) {
      AppendInt(&out, c.second, 2);
      i += 2;
      continue;
    }
    if (starts(i, "06")) {
      AppendInt(&out, ((c.year % 100) + 100) % 100, 2);
      i += 2;
      continue;
    }
    if (starts(i, "_2")) {
      if (c.day < 10) out.push_back(' ');
      AppendInt(&out, c.day, 0);
      i += 2;
      continue;
    }
    if (starts(i, "15")) {
      AppendInt(&out, c.hour, 2);
      i += 2;
      continue;
    }
    if (starts(i, "1")) {
      AppendInt(&out, c.month, 0);
      i += 1;
      continue;
    }
    if (starts(i, "3")) {
      AppendInt(&out, c.hour % 12 == 0 ? 12 : c.hour % 12, 0);
      i += 1;
      continue;
    }
    if (starts(i, "4")) {
      AppendInt(&out, c.minute, 0);
      i += 1;
      continue;
    }
    if (starts(i, "5")) {
      AppendInt(&out, c.second, 0);
      i += 1;
      continue;
    }
    if (starts(i, "PM")) {
      out += c.hour >= 12 ? "PM" : "AM";
      i += 2;
      continue;
    }
    if (starts(i, "pm")) {
      out += c.hour >= 12 ? "pm" : "am";
      i += 2;
      continue;
    }
    if (starts(i, "-07:00:00")) {
      out += "+00:00:00";
      i += 9;
      continue;
    }
    if (starts(i, "-07:00")) {
      out += "+00:00";
      i += 6;
      continue;
    }
    if (starts(i, "-0700")) {
      out += "+0000";
      i += 5;
      continue;
    }
    if (starts(i, "-07")) {
      out += "+00";
      i += 3;
      continue;
    }
    if (starts(i, "Z07:00")) {
      out += "Z";
      i += 6;
      continue;
    }
    if (starts(i, "Z0700")) {
      out += "Z";
      i += 5;
      continue;
    }
    if (starts(i, "Z07")) {
      out += "Z";
      i += 3;
      continue;
    }
    if ((layout[i] == '.' || layout[i] == ',') && i + 1 < layout.size() &&
        (layout[i + 1] == '0' || layout[i + 1] == '9')) {
      std::size_t k = i + 1;
      while (k < layout.size() && layout[k] == layout[i + 1]) ++k;
      // Go treats .000/.999 as fractional seconds only when not followed by a digit.
      if (k >= layout.size() || layout[k] < '0' || layout[k] > '9') {
        i = fractional(i, layout[i + 1] == '9');
        continue;
      }
    }
    out.push_back(layout[i]);
    ++i;
  }
  return out;
}

std::string FormatDuration(std::int64_t nanos) {
  char buf[40];
  int w = sizeof buf;
  std::uint64_t u = static_cast<std::uint64_t>(nanos);
  const bool neg = nanos < 0;
  if (neg) u = ~u + 1;
  auto fmt_frac = [&](int prec) {
    bool print = false;
    for (int i = 0; i < prec; ++i) {
      const auto digit = static_cast<char>(u % 10);
      print = print || digit != 0;
      if (print) buf[--w] = static_cast<char>('0' + digit);
      u /= 10;
    }
    if (print) buf[--w] = '.';
  };
  auto fmt_int = [&](std::uint64_t v) {
    if (v == 0) {
      buf[--w] = '0';
      return;
    }
    while (v > 0) {
      buf[--w] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
  };
  if (u < 1000000000ull) {
    int prec = 0;
    buf[--w] = 's';
    if (u == 0) {
      buf[--w] = '0';
      return std::string(buf + w, buf + sizeof buf);
    }
    if (u < 1000ull) {
      prec = 0;
      buf[--w] = 'n';
    } else if (u < 1000000ull) {
      prec = 3;
      buf[--w] = '\xB5';  // U+00B5 'µ'
      buf[--w] = '\xC2';
    } else {
      prec = 6;
      buf[--w] = 'm';
    }
    fmt_frac(prec);
    fmt_int(u);
  } else {
    buf[--w] = 's';
    fmt_frac(9);
    fmt_int(u % 60);
    u /= 60;
    if (u > 0) {
      buf[--w] = 'm';
      fmt_int(u % 60);
      u /= 60;
      if (u > 0) {
        buf[--w] = 'h';
        fmt_int(u);
      }
    }
  }
  if (neg) buf[--w] = '-';
  return std::string(buf + w, buf + sizeof buf);
}

}  // namespace nimify::tmpl
