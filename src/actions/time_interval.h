// Time intervals as Alertmanager 0.25 defines them (package timeinterval),
// for a route's mute_time_intervals and active_time_intervals:
//
//   time_intervals:
//     - name: office-hours
//       time_intervals:
//         - times: [{start_time: "09:00", end_time: "17:00"}]
//           weekdays: ["monday:friday"]
//           location: Europe/Berlin
//
// A TimeInterval contains a time when every field that is set contains it
// (times are [start, end) minutes of the day; weekdays, days_of_month,
// months and years are inclusive ranges). A named interval contains a time
// when any of its TimeIntervals does.
//
// One deliberate difference from 0.25: negative days_of_month count from the
// calendar length of the month, where 0.25 measured the month in hours and
// lost a day in months with a DST change (fixed upstream later).
#ifndef NIMIFY_ACTIONS_TIME_INTERVAL_H_
#define NIMIFY_ACTIONS_TIME_INTERVAL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nimify/config.h"
#include "nimify/status.h"

namespace nimify::actions {

// A time zone read from the system's tzdata (TZif files under
// /usr/share/zoneinfo, or $ZONEINFO), including the POSIX rule that extends a
// zone past its last transition. Thread safety: immutable after Load.
class TimeZone {
 public:
  // Go's time.LoadLocation: "" and "UTC" are UTC, "Local" is the process's
  // zone ($TZ or /etc/localtime), anything else an IANA name.
  static Result<std::shared_ptr<const TimeZone>> Load(std::string_view name);
  static std::shared_ptr<const TimeZone> Utc();

  const std::string& name() const noexcept { return name_; }
  // Seconds east of UTC at the instant `unix_seconds`.
  std::int32_t OffsetAt(std::int64_t unix_seconds) const noexcept;

  struct Rule;  // the POSIX TZ footer (defined in the .cc)

 private:
  std::string name_;
  std::vector<std::int64_t> transitions_;  // ascending
  std::vector<std::uint8_t> transition_types_;
  std::vector<std::int32_t> type_offsets_;
  std::int32_t initial_offset_ = 0;   // before the first transition
  std::shared_ptr<const Rule> rule_;  // after the last transition; may be null

  friend Result<std::shared_ptr<const TimeZone>> ParseTzif(std::string name, std::string_view data);
};

// Parses TZif data (RFC 8536, versions 1-4). Exposed for tests.
Result<std::shared_ptr<const TimeZone>> ParseTzif(std::string name, std::string_view data);

struct InclusiveRange {
  int begin = 0;
  int end = 0;
};

// One element of a `time_intervals:` list. Empty vectors mean "any".
struct TimeInterval {
  struct TimeRange {
    int start_minute = 0;  // inclusive, 0..1439
    int end_minute = 0;    // exclusive, 1..1440
  };
  std::vector<TimeRange> times;
  std::vector<InclusiveRange> weekdays;       // 0 = Sunday .. 6
  std::vector<InclusiveRange> days_of_month;  // 1..31 or -31..-1 (from the end)
  std::vector<InclusiveRange> months;         // 1..12
  std::vector<InclusiveRange> years;
  std::shared_ptr<const TimeZone> location;  // null: UTC

  bool ContainsTime(std::int64_t unix_ms) const;
};

// Parses one element of a `time_intervals:` list (times, weekdays, ...).
Result<TimeInterval> ParseTimeInterval(const ConfigNode& node);

// The named intervals of a config, from both `time_intervals` and the
// deprecated `mute_time_intervals`. Thread safety: immutable after Parse.
class TimeIntervals {
 public:
  // Either argument may be null (absent). Names must be unique across both.
  static Result<TimeIntervals> Parse(const ConfigNode* time_intervals,
                                     const ConfigNode* mute_time_intervals);

  bool Contains(std::string_view name) const { return by_name_.count(std::string(name)) > 0; }
  std::vector<std::string> Names() const;
  // True when the named interval contains the time; false for unknown names.
  bool ContainsTime(std::string_view name, std::int64_t unix_ms) const;

  // Alertmanager's notify stages: muted when any mute interval contains the
  // time, or when active intervals are given and none contains it.
  bool IsMuted(const std::vector<std::string>& mute_intervals,
               const std::vector<std::string>& active_intervals, std::int64_t unix_ms) const;

 private:
  std::map<std::string, std::vector<TimeInterval>, std::less<>> by_name_;
};

}  // namespace nimify::actions

#endif  // NIMIFY_ACTIONS_TIME_INTERVAL_H_
