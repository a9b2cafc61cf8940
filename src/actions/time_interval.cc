#include "actions/time_interval.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

namespace nimify::actions {

namespace {

using std::chrono::day;
using std::chrono::days;
using std::chrono::month;
using std::chrono::sys_days;
using std::chrono::weekday;
using std::chrono::year;
using std::chrono::year_month_day;

constexpr std::int64_t kSecondsPerDay = 86400;

std::int64_t FloorDiv(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

std::int64_t DaysFromCivil(int y, unsigned m, unsigned d) {
  return sys_days(year_month_day(year(y), month(m), day(d))).time_since_epoch().count();
}

// ---- POSIX TZ strings (the TZif footer), e.g. "CET-1CEST,M3.5.0,M10.5.0/3".

struct DateRule {
  enum Kind { kJulianNoLeap, kZeroBased, kMonthWeekDay } kind = kMonthWeekDay;
  int day = 0, week = 0, month = 0;
  std::int32_t time = 7200;  // seconds after local midnight
};

}  // namespace

struct TimeZone::Rule {
  std::int32_t std_offset = 0;  // seconds east of UTC
  std::int32_t dst_offset = 0;
  bool has_dst = false;
  DateRule start, end;
};

namespace {

class PosixTzParser {
 public:
  explicit PosixTzParser(std::string_view s) : s_(s) {}

  bool Parse(TimeZone::Rule* rule) {
    if (!Name()) return false;
    std::int32_t off = 0;
    if (!Offset(&off)) return false;
    rule->std_offset = -off;  // POSIX offsets are west of UTC
    if (s_.empty()) return true;
    if (!Name()) return false;
    rule->has_dst = true;
    rule->dst_offset = rule->std_offset + 3600;
    if (!s_.empty() && s_.front() != ',') {
      if (!Offset(&off)) return false;
      rule->dst_offset = -off;
    }
    if (s_.empty()) {  // no rule: the US rules, as Go assumes
      rule->start = {DateRule::kMonthWeekDay, 0, 2, 3, 7200};
      rule->end = {DateRule::kMonthWeekDay, 0, 1, 11, 7200};
      return true;
    }
    if (s_.front() != ',') return false;
    s_.remove_prefix(1);
    if (!Date(&rule->start)) return false;
    if (s_.empty() || s_.front() != ',') return false;
    s_.remove_prefix(1);
    if (!Date(&rule->end)) return false;
    return s_.empty();
  }

 private:
  bool Name() {
    if (!s_.empty() && s_.front() == '<') {
      const auto close = s_.find('>');
      if (close == std::string_view::npos) return false;
      s_.remove_prefix(close + 1);
      return true;
    }
    std::size_t n = 0;
    while (n < s_.size() && std::isalpha(static_cast<unsigned char>(s_[n]))) ++n;
    if (n < 3) return false;
    s_.remove_prefix(n);
    return true;
  }
  bool Number(int* out) {
    std::size_t n = 0;
    int v = 0;
    while (n < s_.size() && std::isdigit(static_cast<unsigned char>(s_[n])) && n < 6) {
      v = v * 10 + (s_[n] - '0');
      ++n;
    }
    if (n == 0) return false;
    s_.remove_prefix(n);
    *out = v;
    return true;
  }
  // [+-]hh[:mm[:ss]] in seconds.
  bool Offset(std::int32_t* out) {
    int sign = 1;
    if (!s_.empty() && (s_.front() == '+' || s_.front() == '-')) {
      if (s_.front() == '-') sign = -1;
      s_.remove_prefix(1);
    }
    int h = 0, m = 0, sec = 0;
    if (!Number(&h)) return false;
    if (!s_.empty() && s_.front() == ':') {
      s_.remove_prefix(1);
      if (!Number(&m)) return false;
      if (!s_.empty() && s_.front() == ':') {
        s_.remove_prefix(1);
        if (!Number(&sec)) return false;
      }
    }
    *out = sign * (h * 3600 + m * 60 + sec);
    return true;
  }
  bool Date(DateRule* d) {
    if (s_.empty()) return false;
    if (s_.front() == 'J') {
      s_.remove_prefix(1);
      d->kind = DateRule::kJulianNoLeap;
      if (!Number(&d->day)) return false;
    } else if (s_.front() == 'M') {
      s_.remove_prefix(1);
      d->kind = DateRule::kMonthWeekDay;
      if (!Number(&d->month) || s_.empty() || s_.front() != '.') return false;
      s_.remove_prefix(1);
      if (!Number(&d->week) || s_.empty() || s_.front() != '.') return false;
      s_.remove_prefix(1);
      if (!Number(&d->day)) return false;
      if (d->month < 1 || d->month > 12 || d->week < 1 || d->week > 5 || d->day > 6) return false;
    } else {
      d->kind = DateRule::kZeroBased;
      if (!Number(&d->day)) return false;
    }
    d->time = 7200;
    if (!s_.empty() && s_.front() == '/') {
      s_.remove_prefix(1);
      if (!Offset(&d->time)) return false;
    }
    return true;
  }

  std::string_view s_;
};

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

// Days since the epoch of the local date the rule names in year `y`.
std::int64_t RuleDay(const DateRule& d, int y) {
  const std::int64_t jan1 = DaysFromCivil(y, 1, 1);
  switch (d.kind) {
    case DateRule::kJulianNoLeap: {
      std::int64_t n = d.day - 1;  // 1..365, Feb 29 never counted
      if (IsLeap(y) && d.day >= 60) ++n;
      return jan1 + n;
    }
    case DateRule::kZeroBased:
      return jan1 + d.day;
    case DateRule::kMonthWeekDay: {
      const std::int64_t first = DaysFromCivil(y, static_cast<unsigned>(d.month), 1);
      const unsigned first_wd = weekday(sys_days(days(first))).c_encoding();
      std::int64_t dd = (d.day - static_cast<int>(first_wd) + 7) % 7;
      dd += 7 * (d.week - 1);
      const unsigned mlen = static_cast<unsigned>(
          year_month_day(
              std::chrono::year_month_day_last(
                  year(y), std::chrono::month_day_last(month(static_cast<unsigned>(d.month)))))
              .day());
      while (dd >= static_cast<std::int64_t>(mlen)) dd -= 7;
      return first + dd;
    }
  }
  return jan1;
}

std::int32_t RuleOffset(const TimeZone::Rule& r, std::int64_t t) {
  if (!r.has_dst) return r.std_offset;
  const std::int64_t local_days = FloorDiv(t + r.std_offset, kSecondsPerDay);
  const int y = static_cast<int>(year_month_day(sys_days(days(local_days))).year());
  // Start is given in standard local time, end in daylight local time.
  const std::int64_t start = RuleDay(r.start, y) * kSecondsPerDay + r.start.time - r.std_offset;
  const std::int64_t end = RuleDay(r.end, y) * kSecondsPerDay + r.end.time - r.dst_offset;
  const bool in_dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
  return in_dst ? r.dst_offset : r.std_offset;
}

std::uint32_t ReadBe32(std::string_view d, std::size_t at) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(d[at])) << 24) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(d[at + 1])) << 16) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(d[at + 2])) << 8) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(d[at + 3]));
}

std::int64_t ReadBe64(std::string_view d, std::size_t at) {
  return static_cast<std::int64_t>((static_cast<std::uint64_t>(ReadBe32(d, at)) << 32) |
                                   ReadBe32(d, at + 4));
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

}  // namespace

Result<std::shared_ptr<const TimeZone>> ParseTzif(std::string name, std::string_view data) {
  const auto bad = [&] { return Status::InvalidArgument("malformed time zone data for " + name); };
  if (data.size() < 44 || data.substr(0, 4) != "TZif") return bad();
  const char version = data[4];
  struct Counts {
    std::uint32_t isut, isstd, leap, time, type, chars;
  };
  const auto counts_at = [&](std::size_t at) {
    return Counts{ReadBe32(data, at + 20), ReadBe32(data, at + 24), ReadBe32(data, at + 28),
                  ReadBe32(data, at + 32), ReadBe32(data, at + 36), ReadBe32(data, at + 40)};
  };
  Counts c = counts_at(0);
  std::size_t header = 0;
  int time_size = 4;
  if (version >= '2') {
    // Skip the 32-bit block; the 64-bit one follows with its own header.
    const std::size_t v1 = 44 + std::size_t{c.time} * 5 + std::size_t{c.type} * 6 + c.chars +
                           std::size_t{c.leap} * 8 + c.isstd + c.isut;
    if (data.size() < v1 + 44 || data.substr(v1, 4) != "TZif") return bad();
    header = v1;
    c = counts_at(header);
    time_size = 8;
  }
  std::size_t at = header + 44;
  const std::size_t need = std::size_t{c.time} * (time_size + 1) + std::size_t{c.type} * 6 +
                           c.chars + std::size_t{c.leap} * (time_size + 4) + c.isstd + c.isut;
  if (data.size() < at + need || c.type == 0) return bad();
  auto zone = std::make_shared<TimeZone>();
  zone->name_ = std::move(name);
  for (std::uint32_t i = 0; i < c.time; ++i) {
    zone->transitions_.push_back(time_size == 8 ? ReadBe64(data, at)
                                                : static_cast<std::int32_t>(ReadBe32(data, at)));
    at += static_cast<std::size_t>(time_size);
  }
  for (std::uint32_t i = 0; i < c.time; ++i) {
    const auto t = static_cast<std::uint8_t>(data[at++]);
    if (t >= c.type) return bad();
    zone->transition_types_.push_back(t);
  }
  std::vector<bool> is_dst;
  for (std::uint32_t i = 0; i < c.type; ++i) {
    zone->type_offsets_.push_back(static_cast<std::int32_t>(ReadBe32(data, at)));
    is_dst.push_back(data[at + 4] != 0);
    at += 6;
  }
  at += c.chars + std::size_t{c.leap} * (time_size + 4) + c.isstd + c.isut;
  // Go's lookupFirstZone: the first standard-time type (before any transition).
  zone->initial_offset_ = zone->type_offsets_[0];
  if (!zone->transition_types_.empty() && is_dst[zone->transition_types_[0]]) {
    for (std::size_t i = 0; i < is_dst.size(); ++i) {
      if (!is_dst[i]) {
        zone->initial_offset_ = zone->type_offsets_[i];
        break;
      }
    }
  }
  if (version >= '2' && at < data.size() && data[at] == '\n') {
    const std::size_t end = data.find('\n', at + 1);
    if (end != std::string_view::npos && end > at + 1) {
      auto rule = std::make_shared<TimeZone::Rule>();
      if (PosixTzParser(data.substr(at + 1, end - at - 1)).Parse(rule.get())) {
        zone->rule_ = std::move(rule);
      }
    }
  }
  return std::shared_ptr<const TimeZone>(std::move(zone));
}

std::shared_ptr<const TimeZone> TimeZone::Utc() {
  static const std::shared_ptr<const TimeZone> kUtc = [] {
    auto z = std::make_shared<TimeZone>();
    z->name_ = "UTC";
    return std::shared_ptr<const TimeZone>(std::move(z));
  }();
  return kUtc;
}

Result<std::shared_ptr<const TimeZone>> TimeZone::Load(std::string_view name) {
  if (name.empty() || name == "UTC") return Utc();
  if (name == "Local") {
    const char* tz = std::getenv("TZ");
    std::string data;
    std::shared_ptr<const TimeZone> zone;
    if (tz == nullptr) {
      if (ReadFile("/etc/localtime", &data)) {
        auto parsed = ParseTzif("Local", data);
        if (parsed.ok()) zone = *parsed;
      }
    } else if (*tz != '\0') {
      std::string_view tzname = tz;
      if (tzname.front() == ':') tzname.remove_prefix(1);
      auto loaded = Load(tzname);
      if (loaded.ok() && tzname != "Local") zone = *loaded;
    }
    if (zone == nullptr) return Utc();
    auto local = std::make_shared<TimeZone>(*zone);
    local->name_ = "Local";
    return std::shared_ptr<const TimeZone>(std::move(local));
  }
  // Go refuses names that could escape the zoneinfo directory.
  if (name.find("..") != std::string_view::npos || name.front() == '/' || name.front() == '\\') {
    return Status::InvalidArgument("time: invalid location name");
  }
  std::vector<std::string> dirs;
  if (const char* zi = std::getenv("ZONEINFO"); zi != nullptr && *zi != '\0') dirs.emplace_back(zi);
  dirs.emplace_back("/usr/share/zoneinfo");
  dirs.emplace_back("/usr/share/lib/zoneinfo");
  dirs.emplace_back("/usr/lib/locale/TZ");
  for (const std::string& dir : dirs) {
    std::string data;
    if (!ReadFile(dir + "/" + std::string(name), &data)) continue;
    return ParseTzif(std::string(name), data);
  }
  return Status::NotFound("unknown time zone " + std::string(name));
}

std::int32_t TimeZone::OffsetAt(std::int64_t unix_seconds) const noexcept {
  if (transitions_.empty()) return rule_ ? RuleOffset(*rule_, unix_seconds) : initial_offset_;
  if (unix_seconds < transitions_.front()) return initial_offset_;
  if (unix_seconds >= transitions_.back() && rule_ != nullptr) {
    return RuleOffset(*rule_, unix_seconds);
  }
  const auto it = std::upper_bound(transitions_.begin(), transitions_.end(), unix_seconds);
  const std::size_t i = static_cast<std::size_t>(it - transitions_.begin()) - 1;
  return type_offsets_[transition_types_[i]];
}

bool TimeInterval::ContainsTime(std::int64_t unix_ms) const {
  const std::int64_t secs = FloorDiv(unix_ms, 1000);
  const std::int64_t local = secs + (location ? location->OffsetAt(secs) : 0);
  const std::int64_t local_days = FloorDiv(local, kSecondsPerDay);
  const int minute_of_day = static_cast<int>((local - local_days * kSecondsPerDay) / 60);
  const year_month_day ymd{sys_days(days(local_days))};
  const int y = static_cast<int>(ymd.year());
  const int m = static_cast<int>(static_cast<unsigned>(ymd.month()));
  const int d = static_cast<int>(static_cast<unsigned>(ymd.day()));
  const int wd = static_cast<int>(weekday(sys_days(days(local_days))).c_encoding());

  const auto in_any = [](const std::vector<InclusiveRange>& ranges, int v) {
    for (const InclusiveRange& r : ranges) {
      if (v >= r.begin && v <= r.end) return true;
    }
    return false;
  };
  if (!times.empty()) {
    bool in = false;
    for (const TimeRange& r : times) {
      in = in || (minute_of_day >= r.start_minute && minute_of_day < r.end_minute);
    }
    if (!in) return false;
  }
  if (!days_of_month.empty()) {
    const int month_len = static_cast<int>(static_cast<unsigned>(
        year_month_day(
            std::chrono::year_month_day_last(ymd.year(), std::chrono::month_day_last(ymd.month())))
            .day()));
    bool in = false;
    for (const InclusiveRange& r : days_of_month) {
      int begin = r.begin < 0 ? month_len + r.begin + 1 : r.begin;
      int end = r.end < 0 ? month_len + r.end + 1 : r.end;
      if (begin > month_len) continue;
      begin = std::clamp(begin, -month_len, month_len);
      end = std::clamp(end, -month_len, month_len);
      if (d >= begin && d <= end) {
        in = true;
        break;
      }
    }
    if (!in) return false;
  }
  if (!months.empty() && !in_any(months, m)) return false;
  if (!weekdays.empty() && !in_any(weekdays, wd)) return false;
  if (!years.empty() && !in_any(years, y)) return false;
  return true;
}

namespace {

constexpr std::string_view kWeekdays[] = {"sunday",   "monday", "tuesday", "wednesday",
                                          "thursday", "friday", "saturday"};
constexpr std::string_view kMonths[] = {"january",   "february", "march",    "april",
                                        "may",       "june",     "july",     "august",
                                        "september", "october",  "november", "december"};

bool ParseInt(std::string_view s, int* out) {
  // strconv.Atoi: optional sign, decimal digits.
  if (s.empty()) return false;
  std::size_t i = 0;
  bool neg = false;
  if (s[0] == '+' || s[0] == '-') {
    neg = s[0] == '-';
    i = 1;
  }
  if (i == s.size() || s.size() - i > 9) return false;
  int v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = neg ? -v : v;
  return true;
}

enum class RangeKind { kWeekday, kDayOfMonth, kMonth, kYear };

Result<int> RangeMember(RangeKind kind, std::string_view s) {
  int v = 0;
  switch (kind) {
    case RangeKind::kWeekday:
      for (int i = 0; i < 7; ++i) {
        if (s == kWeekdays[i]) return i;
      }
      return Status::InvalidArgument(std::string(s) + " is not a valid weekday");
    case RangeKind::kMonth:
      for (int i = 0; i < 12; ++i) {
        if (s == kMonths[i]) return i + 1;
      }
      if (!ParseInt(s, &v))
        return Status::InvalidArgument(std::string(s) + " is not a valid month");
      return v;
    case RangeKind::kDayOfMonth:
    case RangeKind::kYear:
      if (!ParseInt(s, &v)) {
        return Status::InvalidArgument("strconv.Atoi: parsing \"" + std::string(s) +
                                       "\": invalid syntax");
      }
      return v;
  }
  return 0;
}

Result<InclusiveRange> ParseRange(RangeKind kind, const ConfigNode& node) {
  if (!node.is_scalar()) return node.Error("expected a string");
  std::string text = node.text();
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  InclusiveRange r;
  const auto colon = text.find(':');
  Result<int> begin = 0, end = 0;
  if (colon != std::string::npos) {
    if (text.find(':', colon + 1) != std::string::npos) {
      return node.Error("couldn't parse range " + text + ", invalid format");
    }
    begin = RangeMember(kind, std::string_view(text).substr(0, colon));
    if (!begin.ok()) return node.Error(begin.status().message());
    end = RangeMember(kind, std::string_view(text).substr(colon + 1));
    if (!end.ok()) return node.Error(end.status().message());
  } else {
    begin = RangeMember(kind, text);
    if (!begin.ok()) return node.Error(begin.status().message());
    end = *begin;
  }
  r.begin = *begin;
  r.end = *end;
  switch (kind) {
    case RangeKind::kWeekday:
      if (r.begin > r.end) return node.Error("start day cannot be before end day");
      if (r.begin < 0 || r.begin > 6 || r.end < 0 || r.end > 6) {
        return node.Error(text + " is not a valid day of the week: out of range");
      }
      break;
    case RangeKind::kDayOfMonth: {
      for (int v : {r.begin, r.end}) {
        if (v == 0 || v < -31 || v > 31) {
          return node.Error(std::to_string(v) + " is not a valid day of the month: out of range");
        }
      }
      if (r.begin < 0 && r.end > 0) {
        return node.Error("end day must be negative if start day is negative");
      }
      const int check_begin = r.begin < 0 ? 28 + r.begin : r.begin;
      const int check_end = r.end < 0 ? 28 + r.end : r.end;
      if (check_begin > check_end) {
        return node.Error("end day " + std::to_string(r.end) + " is always before start day " +
                          std::to_string(r.begin));
      }
      break;
    }
    case RangeKind::kMonth:
      if (r.begin < 1 || r.begin > 12 || r.end < 1 || r.end > 12) {
        return node.Error(text + " is not a valid month: out of range");
      }
      if (r.begin > r.end) {
        return node.Error("end month " + std::string(kMonths[r.end - 1]) +
                          " is before start month " + std::string(kMonths[r.begin - 1]));
      }
      break;
    case RangeKind::kYear:
      if (r.begin > r.end) {
        return node.Error("end year " + std::to_string(r.end) + " is before start year " +
                          std::to_string(r.begin));
      }
      break;
  }
  return r;
}

Result<std::vector<InclusiveRange>> ParseRanges(RangeKind kind, const ConfigNode* node) {
  std::vector<InclusiveRange> out;
  if (node == nullptr || node->is_null()) return out;
  if (!node->is_sequence()) return node->Error("expected a list");
  for (const ConfigNode& item : node->items()) {
    NIMIFY_ASSIGN_OR_RETURN(InclusiveRange r, ParseRange(kind, item));
    out.push_back(r);
  }
  return out;
}

// "HH:MM" (00:00..23:59, or 24:00) in minutes.
Result<int> ParseClock(const ConfigNode& node) {
  NIMIFY_ASSIGN_OR_RETURN(std::string s, node.AsString());
  const bool shape = s.size() == 5 && s[2] == ':' &&
                     std::isdigit(static_cast<unsigned char>(s[0])) &&
                     std::isdigit(static_cast<unsigned char>(s[1])) &&
                     std::isdigit(static_cast<unsigned char>(s[3])) &&
                     std::isdigit(static_cast<unsigned char>(s[4]));
  const int h = shape ? (s[0] - '0') * 10 + (s[1] - '0') : -1;
  const int m = shape ? (s[3] - '0') * 10 + (s[4] - '0') : -1;
  if (!shape || !((h <= 23 && m <= 59) || (h == 24 && m == 0))) {
    return node.Error("couldn't parse timestamp " + s + ", invalid format");
  }
  return h * 60 + m;
}

}  // namespace

Result<TimeInterval> ParseTimeInterval(const ConfigNode& node) {
  NIMIFY_RETURN_IF_ERROR(node.CheckKeys(
      {"times", "weekdays", "days_of_month", "months", "years", "location"}, "time interval"));
  TimeInterval ti;
  if (const ConfigNode* times = node.Find("times"); times != nullptr && !times->is_null()) {
    if (!times->is_sequence()) return times->Error("times: expected a list");
    for (const ConfigNode& t : times->items()) {
      NIMIFY_RETURN_IF_ERROR(t.CheckKeys({"start_time", "end_time"}, "time range"));
      const ConfigNode* start = t.Find("start_time");
      const ConfigNode* end = t.Find("end_time");
      if (start == nullptr || end == nullptr || start->is_null() || end->is_null() ||
          start->text().empty() || end->text().empty()) {
        return t.Error("both start and end times must be provided");
      }
      NIMIFY_ASSIGN_OR_RETURN(int start_minute, ParseClock(*start));
      NIMIFY_ASSIGN_OR_RETURN(int end_minute, ParseClock(*end));
      if (start_minute >= end_minute) {
        return t.Error("start time cannot be equal or greater than end time");
      }
      ti.times.push_back({start_minute, end_minute});
    }
  }
  NIMIFY_ASSIGN_OR_RETURN(ti.weekdays, ParseRanges(RangeKind::kWeekday, node.Find("weekdays")));
  NIMIFY_ASSIGN_OR_RETURN(ti.days_of_month,
                          ParseRanges(RangeKind::kDayOfMonth, node.Find("days_of_month")));
  NIMIFY_ASSIGN_OR_RETURN(ti.months, ParseRanges(RangeKind::kMonth, node.Find("months")));
  NIMIFY_ASSIGN_OR_RETURN(ti.years, ParseRanges(RangeKind::kYear, node.Find("years")));
  if (const ConfigNode* loc = node.Find("location"); loc != nullptr && !loc->is_null()) {
    NIMIFY_ASSIGN_OR_RETURN(std::string name, loc->AsString());
    Result<std::shared_ptr<const TimeZone>> zone = TimeZone::Load(name);
    if (!zone.ok()) return loc->Error(zone.status().message());
    ti.location = *zone;
  }
  return ti;
}

Result<TimeIntervals> TimeIntervals::Parse(const ConfigNode* time_intervals,
                                           const ConfigNode* mute_time_intervals) {
  TimeIntervals out;
  // Alertmanager reads the deprecated list first, so its names win the
  // "not unique" message.
  const std::pair<const ConfigNode*, const char*> lists[] = {
      {mute_time_intervals, "mute time interval"}, {time_intervals, "time interval"}};
  for (const auto& [list, what] : lists) {
    if (list == nullptr || list->is_null()) continue;
    if (!list->is_sequence()) return list->Error(std::string(what) + "s: expected a list");
    for (const ConfigNode& named : list->items()) {
      NIMIFY_RETURN_IF_ERROR(named.CheckKeys({"name", "time_intervals"}, what));
      const ConfigNode* name_node = named.Find("name");
      std::string name;
      if (name_node != nullptr && !name_node->is_null()) {
        NIMIFY_ASSIGN_OR_RETURN(name, name_node->AsString());
      }
      if (name.empty()) return named.Error("missing name in " + std::string(what));
      if (out.by_name_.count(name) > 0) {
        return (name_node != nullptr ? *name_node : named)
            .Error(std::string(what) + " \"" + name + "\" is not unique");
      }
      std::vector<TimeInterval> intervals;
      if (const ConfigNode* tis = named.Find("time_intervals"); tis != nullptr && !tis->is_null()) {
        if (!tis->is_sequence()) return tis->Error("time_intervals: expected a list");
        for (const ConfigNode& item : tis->items()) {
          NIMIFY_ASSIGN_OR_RETURN(TimeInterval ti, ParseTimeInterval(item));
          intervals.push_back(std::move(ti));
        }
      }
      out.by_name_.emplace(std::move(name), std::move(intervals));
    }
  }
  return out;
}

std::vector<std::string> TimeIntervals::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, _] : by_name_) names.push_back(name);
  return names;
}

bool TimeIntervals::ContainsTime(std::string_view name, std::int64_t unix_ms) const {
  const auto it = by_name_.find(name);
  if (it == by_name_.end()) return false;
  for (const TimeInterval& ti : it->second) {
    if (ti.ContainsTime(unix_ms)) return true;
  }
  return false;
}

bool TimeIntervals::IsMuted(const std::vector<std::string>& mute_intervals,
                            const std::vector<std::string>& active_intervals,
                            std::int64_t unix_ms) const {
  for (const std::string& name : mute_intervals) {
    if (ContainsTime(name, unix_ms)) return true;
  }
  if (active_intervals.empty()) return false;
  for (const std::string& name : active_intervals) {
    if (ContainsTime(name, unix_ms)) return false;
  }
  return true;
}

}  // namespace nimify::actions
