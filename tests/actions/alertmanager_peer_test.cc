// The `alertmanager` handler against the real Alertmanager (Debian's
// prometheus-alertmanager 0.25): alerts and silences go in through the
// handler, come out of Alertmanager's API, and Alertmanager's own webhook
// notification parses with our webhook-payload reader.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "actions/builtin_handlers.h"
#include "actions/http_client.h"
#include "actions/http_handlers.h"
#include "nimify/actions.h"
#include "support/recording_http_server.h"

namespace nimify::actions {
namespace {

constexpr const char* kAlertmanagerBinary = "/usr/bin/prometheus-alertmanager";

std::uint16_t FreePort() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

// The Alertmanager process; killed (and reaped) when this goes away, also when
// an assertion fails half way.
class Peer {
 public:
  ~Peer() { Kill(); }

  bool Start(const std::string& config, const std::string& storage, std::uint16_t port,
             const std::string& log_path) {
    pid_ = fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      const std::string config_flag = "--config.file=" + config;
      const std::string storage_flag = "--storage.path=" + storage;
      const std::string listen_flag = "--web.listen-address=127.0.0.1:" + std::to_string(port);
      FILE* log = std::fopen(log_path.c_str(), "w");
      if (log != nullptr) {
        dup2(fileno(log), 1);
        dup2(fileno(log), 2);
      }
      execl(kAlertmanagerBinary, kAlertmanagerBinary, config_flag.c_str(), storage_flag.c_str(),
            listen_flag.c_str(), "--cluster.listen-address=", "--log.level=debug",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    return true;
  }

  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  bool Running() {
    if (pid_ <= 0) return false;
    int status = 0;
    return waitpid(pid_, &status, WNOHANG) == 0;
  }

 private:
  pid_t pid_ = -1;
};

HttpResult Get(HttpClient& client, const std::string& url) {
  HttpRequest req;
  req.url = url;
  req.total_timeout = std::chrono::seconds(2);
  std::promise<HttpResult> p;
  client.Send(req, [&](HttpResult r) { p.set_value(std::move(r)); });
  return p.get_future().get();
}

ActionResult RunHandler(ActionHandler& h, const ActionRequest& r) {
  auto promise = std::make_shared<std::promise<ActionResult>>();
  auto future = promise->get_future();
  h.Execute(r, [promise](ActionResult result) { promise->set_value(std::move(result)); });
  if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    ADD_FAILURE() << "handler did not finish";
    return ActionResult::Permanent("hung");
  }
  return future.get();
}

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST(AlertmanagerPeerTest, AlertsSilencesAndWebhookThroughTheRealAlertmanager) {
  if (access(kAlertmanagerBinary, X_OK) != 0) {
    if (std::getenv("CI") == nullptr) GTEST_SKIP() << kAlertmanagerBinary << " is not installed";
    FAIL() << kAlertmanagerBinary << " is not installed (required in CI)";
  }
  auto receiver = test_support::RecordingHttpServer::Start();
  ASSERT_TRUE(receiver.ok()) << receiver.status().ToString();

  const auto dir = std::filesystem::temp_directory_path() /
                   ("nimify-am-peer-" + std::to_string(getpid()) + "-" + std::to_string(NowMs()));
  std::filesystem::create_directories(dir / "data");
  struct Cleanup {
    std::filesystem::path dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{dir};
  const std::string config = (dir / "alertmanager.yml").string();
  {
    std::ofstream out(config);
    out << "route:\n"
           "  receiver: hook\n"
           "  group_by: [alertname]\n"
           "  group_wait: 1s\n"
           "  group_interval: 1s\n"
           "  repeat_interval: 1h\n"
           "receivers:\n"
           "  - name: hook\n"
           "    webhook_configs:\n"
           "      - url: "
        << (*receiver)->url()
        << "/hook\n"
           "        send_resolved: true\n";
  }
  const std::uint16_t port = FreePort();
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  Peer peer;
  ASSERT_TRUE(peer.Start(config, (dir / "data").string(), port, (dir / "am.log").string()));

  HttpClient client;
  bool ready = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline && peer.Running()) {
    HttpResult r = Get(client, base + "/-/ready");
    if (r.ok() && r.response.status == 200) {
      ready = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!ready) {
    std::ifstream log(dir / "am.log");
    std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    FAIL() << "Alertmanager did not become ready; its log:\n" << text;
  }

  ActionHandlerRegistry registry;
  ASSERT_TRUE(RegisterHttpHandlers(registry).ok());
  HandlerContext ctx;
  ctx.name = "am";
  ctx.type = "alertmanager";
  ctx.log = [](LogLevel, std::string_view) {};
  auto made =
      (*registry.Find("alertmanager"))(*ConfigNode::ParseYaml("url: " + base + "\n", "t.yml"), ctx);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  std::shared_ptr<ActionHandler> handler = *made;

  // Alerts in.
  ActionRequest notify;
  notify.trigger = ActionTrigger::kNotification;
  notify.receiver = "am";
  notify.now_ms = NowMs();
  AlertSnapshot alert;
  alert.labels = {{"alertname", "ServiceDown"}, {"job", "nimify-api"}, {"severity", "critical"}};
  alert.annotations = {{"summary", "nimify-api is down"}};
  alert.starts_at_ms = notify.now_ms - 60000;
  alert.generator_url = "http://nimify/graph";
  notify.alerts = {alert};
  ActionResult sent = RunHandler(*handler, notify);
  ASSERT_EQ(sent.outcome, ActionOutcome::kSuccess) << sent.summary;

  HttpResult listed = Get(client, base + "/api/v2/alerts");
  ASSERT_TRUE(listed.ok()) << listed.message;
  rapidjson::Document alerts;
  alerts.Parse(listed.response.body.c_str());
  ASSERT_TRUE(alerts.IsArray()) << listed.response.body;
  ASSERT_EQ(alerts.Size(), 1u) << listed.response.body;
  EXPECT_STREQ(alerts[0]["labels"]["alertname"].GetString(), "ServiceDown");
  EXPECT_STREQ(alerts[0]["annotations"]["summary"].GetString(), "nimify-api is down");
  EXPECT_STREQ(alerts[0]["generatorURL"].GetString(), "http://nimify/graph");
  EXPECT_EQ(*ParseRfc3339(alerts[0]["startsAt"].GetString()), alert.starts_at_ms);

  // Alertmanager notifies its webhook receiver after group_wait; its payload
  // must read with our reader.
  ASSERT_TRUE((*receiver)->WaitForRequests(1, std::chrono::seconds(15), "/hook"));
  auto hook = (*receiver)->RequestsTo("/hook").front();
  auto message = ParseWebhookPayload(hook.body);
  ASSERT_TRUE(message.ok()) << message.status().ToString() << "\n" << hook.body;
  EXPECT_EQ(message->version, "4");
  EXPECT_EQ(message->receiver, "hook");
  EXPECT_EQ(message->status, "firing");
  EXPECT_EQ(message->group_key, "{}:{alertname=\"ServiceDown\"}");
  ASSERT_EQ(message->alerts.size(), 1u);
  EXPECT_EQ(message->alerts[0].labels, alert.labels);
  EXPECT_EQ(message->alerts[0].starts_at_ms, alert.starts_at_ms);
  EXPECT_EQ(message->alerts[0].ends_at_ms, 0);  // firing: Go's zero time
  EXPECT_EQ(message->alerts[0].fingerprint.size(), 16u);
  EXPECT_EQ(message->group_labels, (OwnedLabels{{"alertname", "ServiceDown"}}));
  EXPECT_EQ(message->common_labels, alert.labels);
  // Our own payload for the same group has the same shape.
  ActionRequest same = notify;
  same.receiver = "hook";
  same.group_key = message->group_key;
  same.group_labels = message->group_labels;
  same.alerts[0].fingerprint = message->alerts[0].fingerprint;
  auto ours = ParseWebhookPayload(BuildWebhookPayload(same, 0, message->external_url));
  ASSERT_TRUE(ours.ok());
  EXPECT_EQ(ours->alerts[0].fingerprint, message->alerts[0].fingerprint);
  rapidjson::Document theirs_doc;
  theirs_doc.Parse(hook.body.c_str());
  rapidjson::Document ours_doc;
  const std::string ours_text = BuildWebhookPayload(same, 0, message->external_url);
  ours_doc.Parse(ours_text.c_str());
  for (auto it = theirs_doc.MemberBegin(); it != theirs_doc.MemberEnd(); ++it) {
    EXPECT_TRUE(ours_doc.HasMember(it->name)) << "missing field " << it->name.GetString();
  }
  for (auto it = theirs_doc["alerts"][0].MemberBegin(); it != theirs_doc["alerts"][0].MemberEnd();
       ++it) {
    EXPECT_TRUE(ours_doc["alerts"][0].HasMember(it->name))
        << "missing alert field " << it->name.GetString();
  }

  // A silence through the handler.
  ActionRequest step;
  step.trigger = ActionTrigger::kStep;
  step.now_ms = NowMs();
  step.alerts = {alert};
  step.params = *ConfigNode::ParseYaml(
      "{create_silence: {matchers: ['alertname=\"ServiceDown\"', 'job=~\"nimify-.*\"'], duration: "
      "1h, "
      "comment: 'rollback in progress', created_by: nimify}}",
      "with.yml");
  ASSERT_TRUE(handler->ValidateParams(step.params).ok());
  ActionResult silenced = RunHandler(*handler, step);
  ASSERT_EQ(silenced.outcome, ActionOutcome::kSuccess) << silenced.summary;
  HttpResult silences = Get(client, base + "/api/v2/silences");
  ASSERT_TRUE(silences.ok()) << silences.message;
  rapidjson::Document sdoc;
  sdoc.Parse(silences.response.body.c_str());
  ASSERT_TRUE(sdoc.IsArray() && sdoc.Size() == 1u) << silences.response.body;
  EXPECT_STREQ(sdoc[0]["comment"].GetString(), "rollback in progress");
  EXPECT_STREQ(sdoc[0]["createdBy"].GetString(), "nimify");
  EXPECT_STREQ(sdoc[0]["status"]["state"].GetString(), "active");
  EXPECT_NE(silenced.summary.find(sdoc[0]["id"].GetString()), std::string::npos)
      << silenced.summary;
  ASSERT_EQ(sdoc[0]["matchers"].Size(), 2u);

  // Resolving through the handler ends the alert in Alertmanager.
  notify.alerts[0].state = AlertState::kResolved;
  notify.alerts[0].ends_at_ms = NowMs() - 1000;
  ASSERT_EQ(RunHandler(*handler, notify).outcome, ActionOutcome::kSuccess);
  HttpResult after = Get(client, base + "/api/v2/alerts?active=true&silenced=true&inhibited=true");
  ASSERT_TRUE(after.ok());
  rapidjson::Document adoc;
  adoc.Parse(after.response.body.c_str());
  ASSERT_TRUE(adoc.IsArray());
  EXPECT_EQ(adoc.Size(), 0u) << after.response.body;

  handler->Shutdown();
  peer.Kill();
}

}  // namespace
}  // namespace nimify::actions
