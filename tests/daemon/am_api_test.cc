// nimifyd's Alertmanager v2 API, acknowledgements and the runbook's v1 calls,
// in-process on 127.0.0.1:0, plus the JSON helpers on their own.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <snappy.h>
#include <spdlog/sinks/null_sink.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "daemon/am_api.h"
#include "daemon/daemon.h"
#include "daemon/test_http.h"
#include "remote_write_test.pb.h"

namespace nimify::daemon {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::Get;
using testing::Post;
using testing::RawResponse;
using testing::SendRaw;

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool WaitFor(const std::function<bool()>& cond,
             std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return cond();
}

rapidjson::Document ParseJson(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size());
  EXPECT_FALSE(d.HasParseError()) << text;
  return d;
}

RawResponse Delete(std::uint16_t port, const std::string& target) {
  return SendRaw(port, "DELETE " + target + " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
}

// ---- The JSON helpers ----

TEST(AmApiJsonTest, FormatAmTimeAlwaysPrintsMilliseconds) {
  EXPECT_EQ(FormatAmTime(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatAmTime(1704164645120), "2024-01-02T03:04:05.120Z");
  EXPECT_EQ(FormatAmTime(-1), "1969-12-31T23:59:59.999Z");
}

TEST(AmApiJsonTest, SilenceRoundTripAndErrors) {
  Result<Silence> s = ParseSilenceJson(
      R"({"matchers":[{"name":"alertname","value":"ServiceDown","isRegex":false}],)"
      R"("startsAt":"2024-01-02T03:04:05.000Z","endsAt":"2024-01-02T04:04:05.000Z",)"
      R"("createdBy":"oncall","comment":"maintenance"})");
  ASSERT_TRUE(s.ok()) << s.status().message();
  ASSERT_EQ(s->matchers.size(), 1u);
  EXPECT_TRUE(s->matchers[0].is_equal);  // isEqual defaults to true
  EXPECT_EQ(s->ends_at_ms - s->starts_at_ms, 3600 * 1000);
  s->id = "abc";
  s->state = SilenceState::kActive;
  s->updated_at_ms = s->starts_at_ms;
  const std::string json = GettableSilenceJson(*s);
  EXPECT_THAT(json, HasSubstr(R"("status":{"state":"active"})"));
  EXPECT_THAT(json, HasSubstr(R"("startsAt":"2024-01-02T03:04:05.000Z")"));
  EXPECT_THAT(json, HasSubstr(R"({"name":"alertname","value":"ServiceDown","isRegex":false,"isEqual":true})"));
  Result<Silence> again = ParseSilenceJson(json);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->id, "abc");
  EXPECT_EQ(again->matchers, s->matchers);

  EXPECT_THAT(std::string(ParseSilenceJson("{").status().message()), HasSubstr("JSON"));
  EXPECT_THAT(std::string(ParseSilenceJson(R"({"startsAt":"x"})").status().message()),
              HasSubstr("matchers in body is required"));
  EXPECT_THAT(std::string(ParseSilenceJson(
                              R"({"matchers":[{"name":"a","value":"b","isRegex":false}],)"
                              R"("startsAt":"yesterday","endsAt":"x","createdBy":"a","comment":"c"})")
                              .status()
                              .message()),
              HasSubstr("startsAt in body must be of type date-time"));
}

TEST(AmApiJsonTest, AckBodies) {
  Result<Acknowledgement> a = ParseAckJson(
      R"({"matchers":["alertname=ServiceDown",{"name":"job","value":"a|b","isRegex":true}],)"
      R"("createdBy":"alice","comment":"on it"})");
  ASSERT_TRUE(a.ok()) << a.status().message();
  ASSERT_EQ(a->matchers.size(), 2u);
  EXPECT_EQ(a->matchers[0], (MatcherSpec{"alertname", "ServiceDown", false, true}));
  EXPECT_EQ(a->matchers[1], (MatcherSpec{"job", "a|b", true, true}));
  EXPECT_EQ(a->ends_at_ms, 0);
  EXPECT_FALSE(ParseAckJson(R"({"createdBy":"a"})").ok());  // neither matchers nor fingerprint
  EXPECT_FALSE(ParseAckJson(R"({"fingerprint":"00","matchers":["a=b"],"createdBy":"a"})").ok());
  EXPECT_FALSE(ParseAckJson(R"({"fingerprint":"00"})").ok());  // no createdBy

  Result<std::vector<Acknowledgement>> v1 = ParseV1AlertsAsAcks(
      R"([{"labels":{"alertname":"ServiceDown","instance":"nimify-api:8000"},)"
      R"("annotations":{"comment":"Investigating"},"generatorURL":"http://prometheus:9090/graph"}])");
  ASSERT_TRUE(v1.ok()) << v1.status().message();
  ASSERT_EQ(v1->size(), 1u);
  EXPECT_EQ((*v1)[0].created_by, "api");
  EXPECT_EQ((*v1)[0].comment, "Investigating");
  EXPECT_EQ((*v1)[0].matchers.size(), 2u);
  EXPECT_FALSE(ParseV1AlertsAsAcks(R"({"labels":{}})").ok());
  EXPECT_FALSE(ParseV1AlertsAsAcks(R"([{"labels":{}}])").ok());
}

TEST(AmApiJsonTest, AlertFilterSemantics) {
  AlertStatus a;
  a.alert.labels = {{"alertname", "X"}, {"job", "api"}};
  a.receivers = {"team-a"};
  a.state = "suppressed";
  a.silenced_by = {"s1"};
  Result<AlertFilter> f = ParseAlertFilter("filter=alertname%3D%22X%22&receiver=team-.*");
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(AlertPasses(*f, a));
  f = ParseAlertFilter("receiver=team");  // anchored
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(AlertPasses(*f, a));
  f = ParseAlertFilter("silenced=false");
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(AlertPasses(*f, a));
  f = ParseAlertFilter("filter=job%21~%22ap.%22");
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(AlertPasses(*f, a));
  EXPECT_FALSE(ParseAlertFilter("active=maybe").ok());
  EXPECT_FALSE(ParseAlertFilter("filter=%7B%7B").ok());
  EXPECT_FALSE(ParseAlertFilter("receiver=(").ok());
}

// /api/v2/alerts/groups: one group per (route, group_by values), as
// Alertmanager's dispatcher forms them; `continue` puts an alert in two.
TEST(AmApiJsonTest, AlertGroupsFollowTheRouteTree) {
  Result<ConfigNode> node = ConfigNode::ParseYaml(R"(route:
  receiver: team
  group_by: [alertname]
  routes:
    - matchers: ['severity="page"']
      receiver: pager
      group_by: [alertname, job]
      continue: true
    - matchers: ['job="db"']
      receiver: dba
      group_by: ['...']
receivers: [{name: team}, {name: pager}, {name: dba}]
)",
                                                  "responses.yml");
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  Result<std::shared_ptr<const actions::Route>> routes = ParseRoutesOf(*node);
  ASSERT_TRUE(routes.ok()) << routes.status().ToString();
  const auto alert = [](std::string fp, OwnedLabels labels) {
    AlertStatus a;
    a.alert.fingerprint = std::move(fp);
    a.alert.labels = std::move(labels);
    a.state = "active";
    return a;
  };
  const std::vector<AlertStatus> alerts = {
      alert("1", {{"alertname", "Down"}, {"job", "api"}, {"severity", "page"}}),
      alert("2", {{"alertname", "Down"}, {"job", "db"}, {"severity", "page"}}),
      alert("3", {{"alertname", "Down"}, {"job", "web"}, {"severity", "info"}}),
      alert("4", {{"alertname", "Slow"}, {"job", "web"}}),
      alert("5", {{"alertname", "Down"}, {"job", "web"}, {"severity", "info"}, {"x", "y"}}),
  };
  const auto describe = [](const std::vector<AlertGroupView>& groups) {
    std::vector<std::string> out;
    for (const AlertGroupView& g : groups) {
      std::string s = g.receiver + " {";
      for (const OwnedLabel& l : g.labels) s += l.name + "=" + l.value + ",";
      s += "}";
      for (const AlertStatus* a : g.alerts) s += " " + a->alert.fingerprint;
      out.push_back(s);
    }
    return out;
  };
  Result<AlertFilter> all = ParseAlertFilter("");
  ASSERT_TRUE(all.ok());
  EXPECT_THAT(describe(GroupAlerts(routes->get(), alerts, *all)),
              ::testing::ElementsAre("team {alertname=Down,} 3 5",
                                     "pager {alertname=Down,job=api,} 1",
                                     "pager {alertname=Down,job=db,} 2",
                                     "dba {alertname=Down,job=db,severity=page,} 2",
                                     "team {alertname=Slow,} 4"));
  // receiver= selects groups by their route's receiver (anchored).
  Result<AlertFilter> pager = ParseAlertFilter("receiver=pag.*");
  ASSERT_TRUE(pager.ok());
  EXPECT_THAT(describe(GroupAlerts(routes->get(), alerts, *pager)),
              ::testing::ElementsAre("pager {alertname=Down,job=api,} 1",
                                     "pager {alertname=Down,job=db,} 2"));
  Result<AlertFilter> db = ParseAlertFilter("filter=job%3D%22db%22");
  ASSERT_TRUE(db.ok());
  EXPECT_THAT(describe(GroupAlerts(routes->get(), alerts, *db)),
              ::testing::ElementsAre("pager {alertname=Down,job=db,} 2",
                                     "dba {alertname=Down,job=db,severity=page,} 2"));
  // Without a route tree (no responses): by receiver and alertname.
  std::vector<AlertStatus> plain = {alerts[0]};
  plain[0].receivers = {"team"};
  EXPECT_THAT(describe(GroupAlerts(nullptr, plain, *all)),
              ::testing::ElementsAre("team {alertname=Down,} 1"));
}

TEST(AmApiJsonTest, SilenceFilterAndOrder) {
  Silence s;
  s.matchers = {{"alertname", "X", false, true}, {"job", "a.*", true, true}};
  Result<actions::Matchers> f = actions::ParseMatchers(R"({alertname="X"})");
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(SilenceMatchesFilter(s, *f));
  f = actions::ParseMatchers(R"({instance="X"})");  // no matcher of that name
  EXPECT_FALSE(SilenceMatchesFilter(s, *f));
  f = actions::ParseMatchers(R"({job=~"a.*"})");  // the filter matches the value "a.*"
  EXPECT_TRUE(SilenceMatchesFilter(s, *f));

  std::vector<Silence> v(4);
  v[0].id = "expired-old", v[0].state = SilenceState::kExpired, v[0].ends_at_ms = 1;
  v[1].id = "expired-new", v[1].state = SilenceState::kExpired, v[1].ends_at_ms = 2;
  v[2].id = "pending", v[2].state = SilenceState::kPending, v[2].starts_at_ms = 5;
  v[3].id = "active", v[3].state = SilenceState::kActive, v[3].ends_at_ms = 9;
  SortSilences(&v);
  EXPECT_EQ(v[0].id, "active");
  EXPECT_EQ(v[1].id, "pending");
  EXPECT_EQ(v[2].id, "expired-new");
  EXPECT_EQ(v[3].id, "expired-old");
}

// ---- The server ----

constexpr const char* kRules = R"(groups:
  - name: test
    interval: 1s
    rules:
      - alert: TargetDown
        expr: up{job=~"rw|other"} == 0
        labels: {severity: page}
        annotations: {summary: "{{ $labels.job }} is down"}
)";

constexpr const char* kConfig = R"(global:
  evaluation_interval: 1s
rule_files: [rules.yml]
engine: {allowed_lateness: 1s, shards: 1}
route:
  receiver: team
  group_by: [alertname, job]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: team
    notify: [log]
    responses: [fix]
handlers:
  log: {type: log}
responses:
  fix:
    steps:
      - {name: note, handler: log, with: {message: "fixing {{ $labels.job }}"}}
)";

std::string RemoteWriteBody(const std::string& job, double v) {
  nimify_test::rw::WriteRequest req;
  auto* ts = req.add_timeseries();
  auto* l = ts->add_labels();
  l->set_name("__name__");
  l->set_value("up");
  l = ts->add_labels();
  l->set_name("job");
  l->set_value(job);
  auto* s = ts->add_samples();
  s->set_timestamp(NowMs());
  s->set_value(v);
  std::string raw, out;
  req.SerializeToString(&raw);
  snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

class AmApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("nimifyd_am_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "rules.yml") << kRules;
    std::ofstream(dir_ / "nimifyd.yml") << kConfig;
    DaemonOptions opts;
    opts.flags.config_file = (dir_ / "nimifyd.yml").string();
    opts.flags.listen_address = "127.0.0.1:0";
    opts.flags.dry_run = true;
    opts.flags.state_dir = (dir_ / "state").string();
    opts.log_sink = std::make_shared<spdlog::sinks::null_sink_mt>();
    Result<std::unique_ptr<Daemon>> d = Daemon::Start(std::move(opts));
    ASSERT_TRUE(d.ok()) << d.status().message();
    daemon_ = std::move(*d);
    port_ = daemon_->port();
  }
  void TearDown() override {
    if (daemon_) {
      EXPECT_TRUE(daemon_->Shutdown(std::chrono::seconds(5)).ok());
    }
    daemon_.reset();
    std::filesystem::remove_all(dir_);
  }

  void WriteUp(const std::string& job, double v) {
    const RawResponse r =
        Post(port_, "/api/v1/write", RemoteWriteBody(job, v), "application/x-protobuf",
             "Content-Encoding: snappy\r\nX-Prometheus-Remote-Write-Version: 0.1.0\r\n");
    ASSERT_EQ(r.status, 204) << r.body;
  }

  // Keeps the job's `up` at 0 until `cond` holds.
  bool FeedUntil(const std::string& job, const std::function<bool()>& cond) {
    return WaitFor([&] {
      WriteUp(job, 0);
      return cond();
    });
  }

  std::filesystem::path dir_;
  std::unique_ptr<Daemon> daemon_;
  std::uint16_t port_ = 0;
};

TEST_F(AmApiServerTest, AlertsInAlertmanagersShape) {
  ASSERT_TRUE(FeedUntil("rw", [&] {
    return Get(port_, "/api/v2/alerts").body.find("TargetDown") != std::string::npos;
  })) << Get(port_, "/api/v2/alerts").body;
  const RawResponse r = Get(port_, "/api/v2/alerts");
  EXPECT_EQ(r.status, 200);
  rapidjson::Document d = ParseJson(r.body);
  ASSERT_TRUE(d.IsArray());
  ASSERT_EQ(d.Size(), 1u) << r.body;
  const auto& a = d[0];
  for (const char* field : {"annotations", "receivers", "fingerprint", "startsAt", "updatedAt",
                            "endsAt", "status", "labels"}) {
    EXPECT_TRUE(a.HasMember(field)) << field << " in " << r.body;
  }
  EXPECT_STREQ(a["labels"]["alertname"].GetString(), "TargetDown");
  EXPECT_STREQ(a["annotations"]["summary"].GetString(), "rw is down");
  EXPECT_STREQ(a["receivers"][0]["name"].GetString(), "team");
  EXPECT_STREQ(a["status"]["state"].GetString(), "active");
  EXPECT_EQ(std::string(a["fingerprint"].GetString()).size(), 16u);
  EXPECT_THAT(a["startsAt"].GetString(), ::testing::MatchesRegex(R"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z)"));

  // Filters.
  EXPECT_THAT(Get(port_, "/api/v2/alerts?filter=job%3D%22other%22").body, "[]");
  EXPECT_THAT(Get(port_, "/api/v2/alerts?filter=job%3D%22rw%22").body, HasSubstr("TargetDown"));
  EXPECT_EQ(Get(port_, "/api/v2/alerts?receiver=nobody").body, "[]");
  EXPECT_EQ(Get(port_, "/api/v2/alerts?active=false").body, "[]");
  EXPECT_EQ(Get(port_, "/api/v2/alerts?filter=%3D%3D").status, 400);
  // Grouped by the route's group_by: [alertname, job].
  EXPECT_THAT(Get(port_, "/api/v2/alerts/groups").body,
              HasSubstr(R"({"labels":{"alertname":"TargetDown","job":"rw"},"receiver":{"name":"team"},"alerts":[{)"));
  EXPECT_EQ(Get(port_, "/api/v2/alerts/groups?receiver=nobody").body, "[]");
  EXPECT_EQ(Get(port_, "/api/v2/receivers").body, R"([{"name":"team"}])");
  // Prometheus's alert list is still at GET /api/v1/alerts.
  EXPECT_THAT(Get(port_, "/api/v1/alerts").body, HasSubstr(R"("status":"success")"));
}

TEST_F(AmApiServerTest, SilenceLifecycleSuppressesTheAlert) {
  ASSERT_TRUE(FeedUntil("rw", [&] {
    return Get(port_, "/api/v2/alerts").body.find("TargetDown") != std::string::npos;
  }));
  const std::string body =
      R"({"matchers":[{"name":"job","value":"rw","isRegex":false,"isEqual":true}],"startsAt":")" +
      FormatAmTime(NowMs()) + R"(","endsAt":")" + FormatAmTime(NowMs() + 3600000) +
      R"(","createdBy":"tester","comment":"quiet"})";
  const RawResponse post = Post(port_, "/api/v2/silences", body, "application/json");
  ASSERT_EQ(post.status, 200) << post.body;
  rapidjson::Document pd = ParseJson(post.body);
  ASSERT_TRUE(pd.HasMember("silenceID"));
  const std::string id = pd["silenceID"].GetString();

  const RawResponse one = Get(port_, "/api/v2/silence/" + id);
  EXPECT_EQ(one.status, 200);
  EXPECT_THAT(one.body, HasSubstr(R"("status":{"state":"active"})"));
  EXPECT_THAT(Get(port_, "/api/v2/silences").body, HasSubstr(id));
  EXPECT_THAT(Get(port_, "/api/v2/silences?filter=job%3D%22rw%22").body, HasSubstr(id));
  EXPECT_EQ(Get(port_, "/api/v2/silences?filter=job%3D%22zz%22").body, "[]");

  // The responder marks the alert silenced at its next look.
  EXPECT_TRUE(FeedUntil("rw", [&] {
    return Get(port_, "/api/v2/alerts").body.find(R"("silencedBy":[")" + id) != std::string::npos;
  })) << Get(port_, "/api/v2/alerts").body;
  EXPECT_THAT(Get(port_, "/api/v2/alerts").body, HasSubstr(R"("state":"suppressed")"));
  EXPECT_EQ(Get(port_, "/api/v2/alerts?silenced=false").body, "[]");

  EXPECT_EQ(Delete(port_, "/api/v2/silence/" + id).status, 200);
  EXPECT_THAT(Get(port_, "/api/v2/silence/" + id).body, HasSubstr(R"("state":"expired")"));
  EXPECT_EQ(Get(port_, "/api/v2/silence/no-such-id").status, 404);
  EXPECT_EQ(Delete(port_, "/api/v2/silence/no-such-id").status, 404);

  // Bad bodies: clear 400s, the server keeps serving.
  EXPECT_EQ(Post(port_, "/api/v2/silences", "{", "application/json").status, 400);
  EXPECT_EQ(Post(port_, "/api/v2/silences", "[]", "application/json").status, 400);
  const RawResponse past = Post(
      port_, "/api/v2/silences",
      R"({"matchers":[{"name":"a","value":"b","isRegex":false}],"startsAt":"2001-01-01T00:00:00Z",)"
      R"("endsAt":"2001-01-01T01:00:00Z","createdBy":"a","comment":"c"})",
      "application/json");
  EXPECT_EQ(past.status, 400);
  EXPECT_THAT(past.body, HasSubstr("in the past"));
  EXPECT_EQ(Get(port_, "/-/healthy").status, 200);
}

TEST_F(AmApiServerTest, StatusHasWhatAmtoolDereferences) {
  const RawResponse r = Get(port_, "/api/v2/status");
  ASSERT_EQ(r.status, 200);
  rapidjson::Document d = ParseJson(r.body);
  ASSERT_TRUE(d.IsObject());
  EXPECT_TRUE(d["cluster"]["status"].IsString());
  EXPECT_TRUE(d["cluster"]["peers"].IsArray());
  for (const char* f : {"version", "revision", "branch", "buildUser", "buildDate", "goVersion"}) {
    EXPECT_TRUE(d["versionInfo"][f].IsString()) << f;
  }
  EXPECT_THAT(d["config"]["original"].GetString(), HasSubstr("receiver: team"));
  EXPECT_TRUE(d["uptime"].IsString());
}

TEST_F(AmApiServerTest, AcknowledgementsAndTheRunbooksV1Calls) {
  ASSERT_TRUE(FeedUntil("rw", [&] {
    return Get(port_, "/api/v2/alerts").body.find("TargetDown") != std::string::npos;
  }));
  const RawResponse post =
      Post(port_, "/api/v2/acks",
           R"({"matchers":["alertname=TargetDown"],"createdBy":"alice","comment":"on it"})",
           "application/json");
  ASSERT_EQ(post.status, 200) << post.body;
  const std::string id = ParseJson(post.body)["ackID"].GetString();
  EXPECT_THAT(Get(port_, "/api/v2/acks").body, HasSubstr(R"("createdBy":"alice")"));
  EXPECT_THAT(Get(port_, "/api/v2/alerts").body, HasSubstr(R"("acknowledgedBy":[")" + id));
  EXPECT_EQ(Delete(port_, "/api/v2/ack/" + id).status, 200);
  EXPECT_THAT(Get(port_, "/api/v2/acks").body, Not(HasSubstr(id)));
  EXPECT_EQ(Delete(port_, "/api/v2/ack/" + id).status, 404);
  EXPECT_EQ(Post(port_, "/api/v2/acks", R"({"createdBy":"x"})", "application/json").status, 400);

  // The runbook: "Acknowledge alert" and "Silence alert for 1 hour".
  const RawResponse v1ack = Post(
      port_, "/api/v1/alerts",
      R"([{"labels":{"alertname":"TargetDown","job":"rw"},"annotations":{"comment":"Investigating"},)"
      R"("generatorURL":"http://prometheus:9090/graph"}])",
      "application/json");
  EXPECT_EQ(v1ack.status, 200) << v1ack.body;
  EXPECT_THAT(Get(port_, "/api/v2/acks").body,
              HasSubstr(R"("createdBy":"api","comment":"Investigating")"));
  const RawResponse v1sil = Post(
      port_, "/api/v1/silences",
      R"({"matchers":[{"name":"alertname","value":"ServiceDown","isRegex":false}],"startsAt":")" +
          FormatAmTime(NowMs()) + R"(","endsAt":")" + FormatAmTime(NowMs() + 3600000) +
          R"(","createdBy":"oncall-engineer","comment":"Planned maintenance"})",
      "application/json");
  EXPECT_EQ(v1sil.status, 200) << v1sil.body;
  EXPECT_THAT(v1sil.body, ::testing::MatchesRegex(
                              R"(\{"status":"success","data":\{"silenceId":"[0-9a-f-]+"\}\})"));
  EXPECT_THAT(Get(port_, "/api/v2/silences").body, HasSubstr("oncall-engineer"));
}

}  // namespace
}  // namespace nimify::daemon
