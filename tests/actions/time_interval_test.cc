#include "actions/time_interval.h"

#include <gtest/gtest.h>

#include <string>

namespace nimify::actions {
namespace {

// Unix ms of a UTC civil time.
std::int64_t Utc(int y, unsigned mo, unsigned d, int h, int mi) {
  using namespace std::chrono;
  const sys_days day = year_month_day(year(y), month(mo), std::chrono::day(d));
  return (static_cast<std::int64_t>(day.time_since_epoch().count()) * 86400 + h * 3600 + mi * 60) *
         1000;
}

Result<TimeInterval> Parse(const std::string& yaml) {
  Result<ConfigNode> doc = ConfigNode::ParseYaml(yaml, "ti.yml");
  if (!doc.ok()) return doc.status();
  return ParseTimeInterval(*doc);
}

TEST(TimeIntervalTest, TimesAreHalfOpen) {
  Result<TimeInterval> ti = Parse("times: [{start_time: '09:00', end_time: '17:30'}]");
  ASSERT_TRUE(ti.ok()) << ti.status().ToString();
  EXPECT_FALSE(ti->ContainsTime(Utc(2024, 3, 4, 8, 59)));
  EXPECT_TRUE(ti->ContainsTime(Utc(2024, 3, 4, 9, 0)));
  EXPECT_TRUE(ti->ContainsTime(Utc(2024, 3, 4, 17, 29)));
  EXPECT_FALSE(ti->ContainsTime(Utc(2024, 3, 4, 17, 30)));
  ti = Parse("times: [{start_time: '22:00', end_time: '24:00'}]");
  ASSERT_TRUE(ti.ok()) << ti.status().ToString();
  EXPECT_TRUE(ti->ContainsTime(Utc(2024, 3, 4, 23, 59)));
  EXPECT_FALSE(ti->ContainsTime(Utc(2024, 3, 5, 0, 0)));
}

TEST(TimeIntervalTest, WeekdaysMonthsYearsAndDaysOfMonth) {
  Result<TimeInterval> ti =
      Parse("weekdays: ['Monday:Friday']\nmonths: ['january:march', '12']\nyears: ['2024']\n");
  ASSERT_TRUE(ti.ok()) << ti.status().ToString();
  EXPECT_TRUE(ti->ContainsTime(Utc(2024, 3, 4, 12, 0)));   // Monday in March
  EXPECT_FALSE(ti->ContainsTime(Utc(2024, 3, 3, 12, 0)));  // Sunday
  EXPECT_FALSE(ti->ContainsTime(Utc(2024, 4, 1, 12, 0)));  // April
  EXPECT_TRUE(ti->ContainsTime(Utc(2024, 12, 2, 12, 0)));  // December, Monday
  EXPECT_FALSE(ti->ContainsTime(Utc(2025, 3, 3, 12, 0)));  // 2025

  ti = Parse("days_of_month: ['-3:-1', '1']");
  ASSERT_TRUE(ti.ok()) << ti.status().ToString();
  EXPECT_TRUE(ti->ContainsTime(Utc(2024, 2, 27, 0, 0)));  // leap February: 27..29
  EXPECT_FALSE(ti->ContainsTime(Utc(2024, 2, 26, 23, 59)));
  EXPECT_TRUE(ti->ContainsTime(Utc(2023, 2, 26, 0, 0)));  // 26..28
  EXPECT_TRUE(ti->ContainsTime(Utc(2024, 3, 1, 0, 0)));
  EXPECT_FALSE(ti->ContainsTime(Utc(2024, 3, 2, 0, 0)));

  ti = Parse("days_of_month: ['25:31']");
  ASSERT_TRUE(ti.ok());
  EXPECT_TRUE(ti->ContainsTime(Utc(2023, 2, 28, 0, 0)));  // clamped to the month
}

TEST(TimeIntervalTest, LocationShiftsTheClock) {
  Result<TimeInterval> ti =
      Parse("times: [{start_time: '09:00', end_time: '10:00'}]\nlocation: Europe/Berlin\n");
  ASSERT_TRUE(ti.ok()) << ti.status().ToString();
  // Winter: UTC+1; summer: UTC+2.
  EXPECT_TRUE(ti->ContainsTime(Utc(2024, 1, 15, 8, 30)));
  EXPECT_FALSE(ti->ContainsTime(Utc(2024, 1, 15, 9, 30)));
  EXPECT_TRUE(ti->ContainsTime(Utc(2024, 7, 15, 7, 30)));
  // Beyond the transitions in the file: the POSIX rule applies.
  EXPECT_TRUE(ti->ContainsTime(Utc(2050, 7, 15, 7, 30)));
  EXPECT_TRUE(ti->ContainsTime(Utc(2050, 1, 15, 8, 30)));

  // DST starts 2024-03-31 01:00 UTC in Berlin.
  Result<std::shared_ptr<const TimeZone>> berlin = TimeZone::Load("Europe/Berlin");
  ASSERT_TRUE(berlin.ok());
  EXPECT_EQ((*berlin)->OffsetAt(Utc(2024, 3, 31, 0, 59) / 1000), 3600);
  EXPECT_EQ((*berlin)->OffsetAt(Utc(2024, 3, 31, 1, 0) / 1000), 7200);
  EXPECT_EQ((*berlin)->OffsetAt(Utc(2060, 3, 28, 0, 59) / 1000), 3600);
  EXPECT_EQ((*berlin)->OffsetAt(Utc(2060, 3, 28, 1, 0) / 1000), 7200);
  Result<std::shared_ptr<const TimeZone>> sydney = TimeZone::Load("Australia/Sydney");
  ASSERT_TRUE(sydney.ok());
  EXPECT_EQ((*sydney)->OffsetAt(Utc(2060, 1, 1, 0, 0) / 1000), 11 * 3600);
  EXPECT_EQ((*sydney)->OffsetAt(Utc(2060, 7, 1, 0, 0) / 1000), 10 * 3600);

  EXPECT_EQ((*TimeZone::Load("UTC"))->OffsetAt(0), 0);
  EXPECT_TRUE(TimeZone::Load("Local").ok());
  EXPECT_FALSE(TimeZone::Load("Mars/Olympus").ok());
  EXPECT_FALSE(TimeZone::Load("../etc/passwd").ok());
}

TEST(TimeIntervalTest, RejectsBadFieldsWithPositions) {
  const std::pair<const char*, const char*> cases[] = {
      {"times: [{start_time: '10:00', end_time: '09:00'}]",
       "ti.yml:1:9: start time cannot be equal or greater than end time"},
      {"times: [{start_time: '10:00'}]", "ti.yml:1:9: both start and end times must be provided"},
      {"times: [{start_time: '1:00', end_time: '09:00'}]",
       "ti.yml:1:22: couldn't parse timestamp 1:00, invalid format"},
      {"weekdays: ['friday:monday']", "ti.yml:1:12: start day cannot be before end day"},
      {"weekdays: ['funday']", "ti.yml:1:12: funday is not a valid weekday"},
      {"days_of_month: ['0']", "ti.yml:1:17: 0 is not a valid day of the month: out of range"},
      {"days_of_month: ['-1:5']", "ti.yml:1:17: end day must be negative if start day is negative"},
      {"months: ['march:january']", "ti.yml:1:10: end month january is before start month march"},
      {"years: ['2025:2024']", "ti.yml:1:9: end year 2024 is before start year 2025"},
      {"location: Nowhere/City", "ti.yml:1:11: unknown time zone Nowhere/City"},
      {"weekday: [monday]", "ti.yml:1:10: field \"weekday\" not found in time interval"},
  };
  for (const auto& [yaml, message] : cases) {
    SCOPED_TRACE(yaml);
    Result<TimeInterval> ti = Parse(yaml);
    ASSERT_FALSE(ti.ok());
    EXPECT_EQ(ti.status().message(), message);
  }
}

TEST(TimeIntervalsTest, NamedIntervalsMuteAndActivate) {
  Result<ConfigNode> doc = ConfigNode::ParseYaml(R"(
time_intervals:
  - name: business
    time_intervals:
      - weekdays: ['monday:friday']
        times: [{start_time: '09:00', end_time: '17:00'}]
mute_time_intervals:
  - name: weekend
    time_intervals:
      - weekdays: ['saturday', 'sunday']
)",
                                                 "am.yml");
  ASSERT_TRUE(doc.ok());
  Result<TimeIntervals> tis =
      TimeIntervals::Parse(doc->Find("time_intervals"), doc->Find("mute_time_intervals"));
  ASSERT_TRUE(tis.ok()) << tis.status().ToString();
  EXPECT_EQ(tis->Names(), (std::vector<std::string>{"business", "weekend"}));
  const std::int64_t monday_noon = Utc(2024, 3, 4, 12, 0);
  const std::int64_t sunday_noon = Utc(2024, 3, 3, 12, 0);
  const std::int64_t monday_night = Utc(2024, 3, 4, 22, 0);
  EXPECT_TRUE(tis->IsMuted({"weekend"}, {}, sunday_noon));
  EXPECT_FALSE(tis->IsMuted({"weekend"}, {}, monday_noon));
  EXPECT_FALSE(tis->IsMuted({}, {"business"}, monday_noon));
  EXPECT_TRUE(tis->IsMuted({}, {"business"}, monday_night));
  EXPECT_FALSE(tis->IsMuted({}, {}, monday_night));

  doc = ConfigNode::ParseYaml("time_intervals:\n  - name: a\n  - name: a\n", "am.yml");
  ASSERT_TRUE(doc.ok());
  tis = TimeIntervals::Parse(doc->Find("time_intervals"), nullptr);
  ASSERT_FALSE(tis.ok());
  EXPECT_EQ(tis.status().message(), "am.yml:3:11: time interval \"a\" is not unique");
}

}  // namespace
}  // namespace nimify::actions
