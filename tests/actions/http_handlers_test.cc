#include "actions/http_handlers.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "actions/builtin_handlers.h"
#include "actions/http_client.h"
#include "nimify/actions.h"
#include "nimify/config.h"
#include "nimify/state_store.h"
#include "support/recording_http_server.h"

namespace nimify::actions {
namespace {

using std::chrono::milliseconds;
using test_support::RecordedRequest;
using test_support::RecordingHttpServer;
using test_support::ScriptedResponse;

constexpr milliseconds kWait{10000};

std::unique_ptr<RecordingHttpServer> StartServer() {
  auto server = RecordingHttpServer::Start();
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  return std::move(server).value();
}

// A port nobody listens on: bind, read the port, close.
std::uint16_t ClosedPort() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const std::uint16_t port = a.local_endpoint().port();
  a.close();
  return port;
}

ConfigNode Yaml(const std::string& text) {
  auto node = ConfigNode::ParseYaml(text, "test.yml");
  EXPECT_TRUE(node.ok()) << node.status().ToString();
  return node.ok() ? *node : ConfigNode();
}

struct Fixture {
  std::unique_ptr<StateStore> store = NewMemoryStateStore();
  std::shared_ptr<ActionHandler> handler;
};

Fixture Make(const std::string& type, const std::string& config_yaml,
             const std::string& name = "h") {
  ActionHandlerRegistry registry;
  EXPECT_TRUE(RegisterHttpHandlers(registry).ok());
  auto factory = registry.Find(type);
  EXPECT_TRUE(factory.ok());
  Fixture f;
  HandlerContext ctx;
  ctx.name = name;
  ctx.type = type;
  ctx.store = f.store.get();
  ctx.log = [](LogLevel, std::string_view) {};
  auto handler = (*factory)(Yaml(config_yaml), ctx);
  EXPECT_TRUE(handler.ok()) << handler.status().ToString();
  if (handler.ok()) f.handler = *handler;
  return f;
}

Status MakeError(const std::string& type, const std::string& config_yaml) {
  ActionHandlerRegistry registry;
  EXPECT_TRUE(RegisterHttpHandlers(registry).ok());
  HandlerContext ctx;
  ctx.name = "h";
  ctx.log = [](LogLevel, std::string_view) {};
  auto handler = (*registry.Find(type))(Yaml(config_yaml), ctx);
  return handler.ok() ? Status::Ok() : handler.status();
}

ActionResult RunHandler(ActionHandler& h, const ActionRequest& r) {
  auto promise = std::make_shared<std::promise<ActionResult>>();
  auto future = promise->get_future();
  h.Execute(r, [promise](ActionResult result) { promise->set_value(std::move(result)); });
  if (future.wait_for(kWait) != std::future_status::ready) {
    ADD_FAILURE() << "handler did not finish";
    return ActionResult::Permanent("hung");
  }
  return future.get();
}

AlertSnapshot Alert(const std::string& name, AlertState state = AlertState::kFiring) {
  AlertSnapshot a;
  a.labels = {{"alertname", name}, {"job", "nimify-api"}, {"severity", "critical"}};
  a.annotations = {{"summary", name + " is bad"}};
  a.state = state;
  a.starts_at_ms = 1700000000123;
  a.ends_at_ms = state == AlertState::kResolved ? 1700000600000 : 0;
  a.generator_url = "http://prom/graph?g0.expr=up";
  a.fingerprint = "0123456789abcdef";
  return a;
}

ActionRequest StepRequest(const std::string& with_yaml) {
  ActionRequest r;
  r.trigger = ActionTrigger::kStep;
  r.alerts = {Alert("ServiceDown")};
  r.params = with_yaml.empty() ? ConfigNode() : Yaml(with_yaml);
  r.timeout = milliseconds(5000);
  r.now_ms = 1700000001000;
  return r;
}

rapidjson::Document ParseJson(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str());
  EXPECT_FALSE(doc.HasParseError()) << text;
  return doc;
}

std::string Str(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject() || !v.HasMember(key) || !v[key].IsString()) return "<missing>";
  return v[key].GetString();
}

// ---- the client -----------------------------------------------------------------

// Every RapidJSON parse in nimify is iterative (RAPIDJSON_PARSE_DEFAULT_FLAGS on
// nimify_rapidjson): the recursive default overflows the stack on deep input, as
// a 600 KB silence body once did to nimifyd, and action targets' answers are
// parsed the same way.
TEST(JsonParseTest, DeepNestingIsAParseErrorNotAStackOverflow) {
  const std::string deep(900'000, '[');
  rapidjson::Document doc;
  doc.Parse(deep.data(), deep.size());
  EXPECT_TRUE(doc.HasParseError());
  EXPECT_EQ(doc.GetErrorOffset(), deep.size());
}

TEST(HttpClientTest, ParsesUrls) {
  auto u = ParseHttpUrl("https://Example.com:8443/a/b?c=d");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->target, "/a/b?c=d");
  EXPECT_EQ(u->Origin(), "https://example.com:8443");
  EXPECT_EQ(ParseHttpUrl("http://h")->target, "/");
  EXPECT_EQ(ParseHttpUrl("http://h")->port, 80);
  EXPECT_FALSE(ParseHttpUrl("ftp://h/").ok());
  EXPECT_FALSE(ParseHttpUrl("http://user:pw@h/").ok());
  EXPECT_FALSE(ParseHttpUrl("http://h/a b").ok());
  EXPECT_FALSE(ParseHttpUrl("http://h:99999/").ok());
  EXPECT_FALSE(ParseHttpUrl("/relative").ok());
}

TEST(HttpClientTest, RetryAfterSecondsAndDate) {
  EXPECT_EQ(ParseRetryAfter("7", 0), milliseconds(7000));
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:28:10 GMT", 1445412480000), milliseconds(10000));
  EXPECT_EQ(ParseRetryAfter("soon", 0), milliseconds(0));
}

// Sends `req` and waits (bounded) for its result; kTimeout when none came.
HttpResult SendAndWait(HttpClient& client, const HttpRequest& req) {
  auto p = std::make_shared<std::promise<HttpResult>>();
  std::future<HttpResult> f = p->get_future();
  client.Send(req, [p](HttpResult r) { p->set_value(std::move(r)); });
  if (f.wait_for(kWait) != std::future_status::ready) {
    HttpResult timed_out;
    timed_out.error = HttpError::kTimeout;
    timed_out.message = "no result within the test's wait";
    return timed_out;
  }
  return f.get();
}

TEST(HttpClientTest, SendsAndReceives) {
  auto server = StartServer();
  server->SetResponse("/x", {.status = 201, .body = "created", .headers = {{"X-Answer", "42"}}});
  HttpClient client;
  HttpRequest req;
  req.method = "PUT";
  req.url = server->url() + "/x?y=1";
  req.headers = {{"X-Test", "yes"}};
  req.body = "payload";
  HttpResult r = SendAndWait(client, req);
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.response.status, 201);
  EXPECT_EQ(r.response.body, "created");
  EXPECT_EQ(r.response.Header("x-answer"), "42");
  auto recorded = server->requests();
  ASSERT_EQ(recorded.size(), 1u);
  EXPECT_EQ(recorded[0].method, "PUT");
  EXPECT_EQ(recorded[0].target, "/x?y=1");
  EXPECT_EQ(recorded[0].Header("X-Test"), "yes");
  EXPECT_EQ(recorded[0].Header("Host"), "127.0.0.1:" + std::to_string(server->port()));
  EXPECT_EQ(recorded[0].body, "payload");
}

// An IP literal skips the resolver; a host name still goes through it, and
// each address it returns is tried in turn (localhost may be ::1 first,
// where nothing listens).
TEST(HttpClientTest, ResolvesHostNames) {
  auto server = StartServer();
  server->SetResponse("/named", {.status = 200, .body = "found"});
  HttpClient client;
  HttpRequest req;
  req.url = "http://localhost:" + std::to_string(server->port()) + "/named";
  HttpResult r = SendAndWait(client, req);
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.response.body, "found");
  auto recorded = server->requests();
  ASSERT_EQ(recorded.size(), 1u);
  EXPECT_EQ(recorded[0].Header("Host"), "localhost:" + std::to_string(server->port()));
}

TEST(HttpClientTest, CapsTheResponseBody) {
  auto server = StartServer();
  server->SetResponse("/big", {.body = std::string(5000, 'a')});
  HttpClient client;
  HttpRequest req;
  req.url = server->url() + "/big";
  req.max_response_bytes = 100;
  std::promise<HttpResult> p;
  client.Send(req, [&](HttpResult r) { p.set_value(std::move(r)); });
  HttpResult r = p.get_future().get();
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.response.status, 200);
  EXPECT_TRUE(r.response.truncated);
  EXPECT_LE(r.response.body.size(), 100u);
}

TEST(HttpClientTest, RefusesHeaderInjection) {
  HttpClient client;
  HttpRequest req;
  req.url = "http://127.0.0.1:1/";
  req.headers = {{"X-A", "a\r\nX-Evil: 1"}};
  std::promise<HttpResult> p;
  client.Send(req, [&](HttpResult r) { p.set_value(std::move(r)); });
  HttpResult r = p.get_future().get();
  EXPECT_EQ(r.error, HttpError::kInvalidRequest);
}

TEST(HttpClientTest, ShutdownCancelsRequestsInFlight) {
  auto server = StartServer();
  server->SetResponse("/hang", {.never_answer = true});
  auto client = std::make_unique<HttpClient>();
  HttpRequest req;
  req.url = server->url() + "/hang";
  std::promise<HttpResult> p;
  client->Send(req, [&](HttpResult r) { p.set_value(std::move(r)); });
  ASSERT_TRUE(server->WaitForRequests(1, kWait));
  client->Shutdown();
  auto f = p.get_future();
  ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(f.get().error, HttpError::kCancelled);
}

// ---- http -----------------------------------------------------------------------

std::string HttpConfig(const RecordingHttpServer& s) {
  return "base_url: " + s.url() + "\nbearer_token: s3cret\nheaders: {X-Team: sre}\n";
}

TEST(HttpHandlerTest, TritonModelLoadWithParameters) {
  auto server = StartServer();
  Fixture f = Make("http", HttpConfig(*server));
  ActionRequest r = StepRequest(
      "{method: post, path: /v2/repository/models/resnet50/load, "
      "body: {parameters: {max_batch_size: '32', fast: 'true', name: x}}}");
  ASSERT_TRUE(f.handler->ValidateParams(r.params).ok());
  auto rendered = f.handler->Render(r);
  ASSERT_TRUE(rendered.ok()) << rendered.status().ToString();
  EXPECT_EQ(*rendered, "POST " + server->url() + "/v2/repository/models/resnet50/load");
  ActionResult result = RunHandler(*f.handler, r);
  EXPECT_EQ(result.outcome, ActionOutcome::kSuccess) << result.summary;
  EXPECT_EQ(result.http_status, 200);
  EXPECT_EQ(result.summary, "HTTP 200");
  auto reqs = server->requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].target, "/v2/repository/models/resnet50/load");
  EXPECT_EQ(reqs[0].Header("Authorization"), "Bearer s3cret");
  EXPECT_EQ(reqs[0].Header("X-Team"), "sre");
  EXPECT_EQ(reqs[0].Header("Content-Type"), "application/json");
  auto body = ParseJson(reqs[0].body);
  ASSERT_TRUE(body.HasMember("parameters"));
  const auto& params = body["parameters"];
  ASSERT_TRUE(params["max_batch_size"].IsInt64());
  EXPECT_EQ(params["max_batch_size"].GetInt64(), 32);
  ASSERT_TRUE(params["fast"].IsBool());
  EXPECT_TRUE(params["fast"].GetBool());
  EXPECT_EQ(Str(params, "name"), "x");
}

TEST(HttpHandlerTest, ReadyCheckWithQueryAndExpectStatus) {
  auto server = StartServer();
  server->SetResponse("/v2/models/resnet50/ready", {.status = 400});
  Fixture f =
      Make("http", "base_url: " + server->url() + "/\nbasic_auth: {username: u, password: p}\n");
  ActionRequest r = StepRequest("{path: v2/models/resnet50/ready, query: {a: 'x y', b: '&'}}");
  ActionResult result = RunHandler(*f.handler, r);
  EXPECT_EQ(result.outcome, ActionOutcome::kPermanentFailure);
  EXPECT_EQ(result.http_status, 400);
  auto reqs = server->requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "GET");
  EXPECT_EQ(reqs[0].target, "/v2/models/resnet50/ready?a=x%20y&b=%26");
  EXPECT_EQ(reqs[0].Header("Authorization"), "Basic dTpw");

  ActionRequest r2 = StepRequest("{path: /v2/models/resnet50/ready, expect_status: [400]}");
  EXPECT_EQ(RunHandler(*f.handler, r2).outcome, ActionOutcome::kSuccess);
}

TEST(HttpHandlerTest, RetryableAndPermanentStatuses) {
  auto server = StartServer();
  server->SetResponse("/500", {.status = 500, .body = "boom"});
  server->SetResponse("/429", {.status = 429, .headers = {{"Retry-After", "7"}}});
  server->SetResponse("/400", {.status = 400, .body = "bad"});
  Fixture f = Make("http", HttpConfig(*server));
  ActionResult r500 = RunHandler(*f.handler, StepRequest("{path: /500}"));
  EXPECT_EQ(r500.outcome, ActionOutcome::kRetryableFailure);
  EXPECT_NE(r500.summary.find("HTTP 500"), std::string::npos) << r500.summary;
  EXPECT_EQ(r500.output, "boom");
  ActionResult r429 = RunHandler(*f.handler, StepRequest("{path: /429}"));
  EXPECT_EQ(r429.outcome, ActionOutcome::kRetryableFailure);
  EXPECT_EQ(r429.retry_after, milliseconds(7000));
  ActionResult r400 = RunHandler(*f.handler, StepRequest("{path: /400}"));
  EXPECT_EQ(r400.outcome, ActionOutcome::kPermanentFailure);
  EXPECT_EQ(r400.http_status, 400);
}

TEST(HttpHandlerTest, TimeoutIsRetryableAndBounded) {
  auto server = StartServer();
  server->SetResponse("/hang", {.never_answer = true});
  Fixture f = Make("http", HttpConfig(*server));
  ActionRequest r = StepRequest("{path: /hang}");
  r.timeout = milliseconds(300);
  const auto start = std::chrono::steady_clock::now();
  ActionResult result = RunHandler(*f.handler, r);
  EXPECT_EQ(result.outcome, ActionOutcome::kRetryableFailure);
  EXPECT_NE(result.summary.find("within 300ms"), std::string::npos) << result.summary;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(HttpHandlerTest, ConnectionRefusedIsRetryable) {
  Fixture f = Make("http", "base_url: http://127.0.0.1:" + std::to_string(ClosedPort()) + "\n");
  ActionResult result = RunHandler(*f.handler, StepRequest("{path: /x}"));
  EXPECT_EQ(result.outcome, ActionOutcome::kRetryableFailure);
  EXPECT_NE(result.summary.find("connecting"), std::string::npos) << result.summary;
}

TEST(HttpHandlerTest, DnsFailureIsRetryable) {
  Fixture f = Make("http", "base_url: http://no-such-host.invalid:9/\n");
  ActionResult result = RunHandler(*f.handler, StepRequest("{path: /x}"));
  EXPECT_EQ(result.outcome, ActionOutcome::kRetryableFailure);
  EXPECT_NE(result.summary.find("resolving"), std::string::npos) << result.summary;
}

TEST(HttpHandlerTest, RefusesHostChangesDotDotAndHeaderInjection) {
  auto server = StartServer();
  Fixture f = Make("http", HttpConfig(*server));
  auto refused = [&](const std::string& with) {
    auto r = f.handler->Render(StepRequest(with));
    return r.ok() ? std::string() : std::string(r.status().message());
  };
  EXPECT_NE(
      refused("{url: 'http://evil.example.com/v2/models/x/load'}").find("leaves base_url's host"),
      std::string::npos);
  EXPECT_NE(refused("{url: 'http://127.0.0.1:1/x'}").find("leaves"), std::string::npos);
  EXPECT_NE(refused("{path: '/v2/models/../../admin'}").find(".."), std::string::npos);
  EXPECT_NE(refused("{path: '/v2/models/%2E%2e/admin'}").find(".."), std::string::npos);
  EXPECT_NE(refused("{path: '/v2/models/x y/load'}"), "");
  EXPECT_NE(refused("{path: \"/x\", headers: {X-A: \"a\\r\\nX-Evil: 1\"}}").find("CR"),
            std::string::npos);
  EXPECT_NE(refused("{path: '/x', method: 'GET /evil'}"), "");
  // The same host in an absolute url is fine.
  auto ok = f.handler->Render(StepRequest("{url: '" + server->url() + "/v2/models/x/ready'}"));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(*ok, "GET " + server->url() + "/v2/models/x/ready");
  // Refused requests never reach the server.
  EXPECT_EQ(RunHandler(*f.handler, StepRequest("{path: '/a/../b'}")).outcome,
            ActionOutcome::kPermanentFailure);
  EXPECT_TRUE(server->requests().empty());
}

// A missing label must not turn /models/<model>/load into /models//load.
TEST(HttpHandlerTest, RefusesATemplatedPathSegmentThatRenderedEmpty) {
  auto server = StartServer();
  Fixture f = Make("http", HttpConfig(*server));
  auto with_template = [](const std::string& key, const std::string& rendered, const std::string& raw) {
    ActionRequest r = StepRequest("");
    r.params = ConfigNode::Map({{"method", ConfigNode::Scalar("POST")},
                                {key, ConfigNode::Scalar(rendered)},
                                {"__template", ConfigNode::Map({{key, ConfigNode::Scalar(raw)}})}});
    return r;
  };
  const std::string raw = "/v2/repository/models/{{ $labels.model }}/load";
  auto empty = f.handler->Render(with_template("path", "/v2/repository/models//load", raw));
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("rendered empty"), std::string::npos) << empty.status().message();
  EXPECT_EQ(RunHandler(*f.handler, with_template("path", "/v2/repository/models//load", raw)).outcome,
            ActionOutcome::kPermanentFailure);
  // At the end of the path too, and in an absolute url.
  EXPECT_FALSE(f.handler->Render(with_template("path", "/v2/models/", "/v2/models/{{ $labels.model }}")).ok());
  EXPECT_FALSE(f.handler
                   ->Render(with_template("url", server->url() + "/v2/models//ready",
                                          server->url() + "/v2/models/{{ $labels.model }}/ready"))
                   .ok());
  // Without the template every inner empty segment is refused.
  EXPECT_FALSE(f.handler->Render(StepRequest("{path: '/v2/repository/models//load'}")).ok());
  EXPECT_TRUE(server->requests().empty());
  // A value that rendered is fine; so is the author's own literal "//".
  auto ok = f.handler->Render(with_template("path", "/v2/repository/models/resnet50/load", raw));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(*ok, "POST " + server->url() + "/v2/repository/models/resnet50/load");
  EXPECT_TRUE(f.handler->Render(with_template("path", "/a//b/x", "/a//b/{{ $labels.m }}")).ok());
}

TEST(HttpHandlerTest, ConfigErrorsCarryPositions) {
  Status s = MakeError("http", "bearer_token: x\n");
  EXPECT_NE(s.message().find("test.yml:1:1"), std::string_view::npos) << s.ToString();
  EXPECT_NE(s.message().find("base_url"), std::string_view::npos);
  s = MakeError("http", "base_url: http://h\nbogus: 1\n");
  EXPECT_NE(s.message().find("test.yml:2:"), std::string_view::npos) << s.ToString();
  s = MakeError("http", "base_url: http://h\nbasic_auth: {username: u}\nbearer_token: t\n");
  EXPECT_FALSE(s.ok());
  Fixture f = Make("http", "base_url: http://h\n");
  EXPECT_FALSE(f.handler->ValidateParams(Yaml("{path: /x, url: 'http://h/x'}")).ok());
  EXPECT_FALSE(f.handler->ValidateParams(Yaml("{path: /x, expect_status: [600]}")).ok());
  EXPECT_FALSE(f.handler->ValidateParams(Yaml("{pth: /x}")).ok());
  EXPECT_TRUE(f.handler->Accepts(ActionTrigger::kStep));
  EXPECT_FALSE(f.handler->Accepts(ActionTrigger::kNotification));
}

// ---- webhook --------------------------------------------------------------------

ActionRequest Notification() {
  ActionRequest r;
  r.trigger = ActionTrigger::kNotification;
  r.receiver = "sre-critical";
  r.group_key = "{}:{alertname=\"ServiceDown\"}";
  r.group_labels = {{"alertname", "ServiceDown"}};
  AlertSnapshot a = Alert("ServiceDown");
  AlertSnapshot b = Alert("ServiceDown", AlertState::kResolved);
  b.labels.push_back({"zone", "b"});
  b.annotations = {{"summary", "other"}};
  b.fingerprint = "fedcba9876543210";
  AlertSnapshot c = Alert("ServiceDown");
  c.labels[1].value = "other-job";
  c.fingerprint = "";
  r.alerts = {a, b, c};
  r.now_ms = 1700000001000;
  r.timeout = milliseconds(5000);
  return r;
}

TEST(WebhookTest, PayloadIsAlertmanagersVersion4) {
  auto server = StartServer();
  Fixture f = Make("webhook", "url: " + server->url() +
                                  "/hook\nmax_alerts: 2\nexternal_url: http://nimify:9093\n"
                                  "basic_auth: {username: am, password: pw}\n");
  ASSERT_TRUE(f.handler->Accepts(ActionTrigger::kNotification));
  ActionResult result = RunHandler(*f.handler, Notification());
  EXPECT_EQ(result.outcome, ActionOutcome::kSuccess) << result.summary;
  auto reqs = server->RequestsTo("/hook");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].Header("Authorization"), "Basic YW06cHc=");
  EXPECT_EQ(reqs[0].Header("Content-Type"), "application/json");
  auto doc = ParseJson(reqs[0].body);
  // Go marshals the embedded template.Data first, then the Message fields.
  std::vector<std::string> keys;
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it)
    keys.push_back(it->name.GetString());
  EXPECT_EQ(keys, (std::vector<std::string>{"receiver", "status", "alerts", "groupLabels",
                                            "commonLabels", "commonAnnotations", "externalURL",
                                            "version", "groupKey", "truncatedAlerts"}));
  EXPECT_EQ(Str(doc, "receiver"), "sre-critical");
  EXPECT_EQ(Str(doc, "status"), "firing");
  EXPECT_EQ(Str(doc, "version"), "4");
  EXPECT_EQ(Str(doc, "groupKey"), "{}:{alertname=\"ServiceDown\"}");
  EXPECT_EQ(Str(doc, "externalURL"), "http://nimify:9093");
  EXPECT_EQ(doc["truncatedAlerts"].GetUint64(), 1u);
  ASSERT_EQ(doc["alerts"].Size(), 2u);
  const auto& a0 = doc["alerts"][0];
  EXPECT_EQ(Str(a0, "status"), "firing");
  EXPECT_EQ(Str(a0["labels"], "alertname"), "ServiceDown");
  EXPECT_EQ(Str(a0["annotations"], "summary"), "ServiceDown is bad");
  EXPECT_EQ(Str(a0, "startsAt"), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(Str(a0, "endsAt"), "0001-01-01T00:00:00Z");
  EXPECT_EQ(Str(a0, "generatorURL"), "http://prom/graph?g0.expr=up");
  EXPECT_EQ(Str(a0, "fingerprint"), "0123456789abcdef");
  const auto& a1 = doc["alerts"][1];
  EXPECT_EQ(Str(a1, "status"), "resolved");
  EXPECT_EQ(Str(a1, "endsAt"), "2023-11-14T22:23:20Z");
  EXPECT_EQ(Str(a1["labels"], "zone"), "b");
  // Common labels over the two alerts sent: zone only on one; summaries differ.
  EXPECT_EQ(doc["commonLabels"].MemberCount(), 3u);
  EXPECT_EQ(Str(doc["commonLabels"], "job"), "nimify-api");
  EXPECT_EQ(doc["commonAnnotations"].MemberCount(), 0u);
  EXPECT_EQ(Str(doc["groupLabels"], "alertname"), "ServiceDown");
}

TEST(WebhookTest, PayloadRoundTripsThroughTheReader) {
  ActionRequest r = Notification();
  auto msg = ParseWebhookPayload(BuildWebhookPayload(r, 0, ""));
  ASSERT_TRUE(msg.ok()) << msg.status().ToString();
  ASSERT_EQ(msg->alerts.size(), 3u);
  EXPECT_EQ(msg->truncated_alerts, 0u);
  EXPECT_EQ(msg->alerts[0].labels, r.alerts[0].labels);
  EXPECT_EQ(msg->alerts[0].starts_at_ms, r.alerts[0].starts_at_ms);
  EXPECT_EQ(msg->alerts[0].ends_at_ms, 0);
  EXPECT_EQ(msg->alerts[1].ends_at_ms, r.alerts[1].ends_at_ms);
  EXPECT_EQ(msg->alerts[1].state, AlertState::kResolved);
  // A missing fingerprint is computed as Alertmanager does.
  EXPECT_EQ(msg->alerts[2].fingerprint.size(), 16u);
  EXPECT_EQ(msg->common_labels,
            (OwnedLabels{{"alertname", "ServiceDown"}, {"severity", "critical"}}));
  EXPECT_FALSE(ParseWebhookPayload("{not json").ok());
}

TEST(WebhookTest, Rfc3339) {
  EXPECT_EQ(FormatRfc3339(0), "0001-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(1700000000100), "2023-11-14T22:13:20.1Z");
  EXPECT_EQ(*ParseRfc3339("2023-11-14T22:13:20.123456789Z"), 1700000000123);
  EXPECT_EQ(*ParseRfc3339("2023-11-15T00:13:20+02:00"), 1700000000000);
  EXPECT_EQ(*ParseRfc3339("0001-01-01T00:00:00Z"), 0);
  EXPECT_FALSE(ParseRfc3339("yesterday").ok());
}

// ---- slack ----------------------------------------------------------------------

ActionRequest IncidentUpdate(const std::string& status) {
  ActionRequest r;
  r.trigger = ActionTrigger::kIncidentUpdate;
  r.event = status;
  r.alerts = {
      Alert("ServiceDown", status == "resolved" ? AlertState::kResolved : AlertState::kFiring)};
  r.incident.status = status;
  r.incident.severity = "SEV-1";
  r.incident.eta = "30m";
  r.timeout = milliseconds(5000);
  r.now_ms = 1700000001000;
  return r;
}

std::string SlackConfig(const RecordingHttpServer& s) {
  return "api_url: " + s.url() + "/api\ntoken: xoxb-1\nchannel: C123\n";
}

TEST(SlackTest, PostsOnceThenUpdatesTheSameMessage) {
  auto server = StartServer();
  server->SetResponse("/api/chat.postMessage",
                      {.body = R"({"ok":true,"channel":"C123","ts":"1700.0001"})"});
  server->SetResponse("/api/chat.update",
                      {.body = R"({"ok":true,"channel":"C123","ts":"1700.0001"})"});
  Fixture f = Make("slack", SlackConfig(*server), "slack-sre");
  ActionRequest first = IncidentUpdate("investigating");
  first.incident.manual_steps = {"ssh to the node and run: sudo systemctl restart kubelet"};
  ActionResult r1 = RunHandler(*f.handler, first);
  ASSERT_EQ(r1.outcome, ActionOutcome::kSuccess) << r1.summary;
  auto stored = f.store->Get("handler/slack-sre/0123456789abcdef");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  auto state = ParseJson((*stored)->value);
  EXPECT_EQ(Str(state, "ts"), "1700.0001");
  EXPECT_EQ(Str(state, "channel"), "C123");

  ActionRequest second = IncidentUpdate("acknowledged");
  second.incident.acknowledged_by = "alice";
  second.incident.steps = {{"service-down", "get-pods", "kubectl", "ran", "exit 0", "", 0},
                           {"service-down", "rollback", "kubectl", "failed", "exit 1", "", 0}};
  EXPECT_EQ(RunHandler(*f.handler, second).outcome, ActionOutcome::kSuccess);
  EXPECT_EQ(RunHandler(*f.handler, IncidentUpdate("resolved")).outcome, ActionOutcome::kSuccess);

  auto posts = server->RequestsTo("/api/chat.postMessage");
  auto updates = server->RequestsTo("/api/chat.update");
  ASSERT_EQ(posts.size(), 1u);
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_EQ(posts[0].Header("Authorization"), "Bearer xoxb-1");
  auto post = ParseJson(posts[0].body);
  EXPECT_EQ(Str(post, "channel"), "C123");
  EXPECT_FALSE(post.HasMember("ts"));
  const std::string text = Str(post, "text");
  EXPECT_NE(text.find("*ALERT*: ServiceDown"), std::string::npos) << text;
  EXPECT_NE(text.find("*Severity*: SEV-1"), std::string::npos);
  EXPECT_NE(text.find("*Started*: 2023-11-14T22:13:20.123Z"), std::string::npos);
  EXPECT_NE(text.find("*Status*: Investigating"), std::string::npos);
  EXPECT_NE(text.find("- [ ] manual: ssh to the node"), std::string::npos);
  EXPECT_NE(text.find("*ETA for resolution*: 30m"), std::string::npos);
  auto upd = ParseJson(updates[0].body);
  EXPECT_EQ(Str(upd, "ts"), "1700.0001");
  EXPECT_EQ(Str(upd, "channel"), "C123");
  const std::string text2 = Str(upd, "text");
  EXPECT_NE(text2.find("*Status*: Acknowledged by alice"), std::string::npos) << text2;
  EXPECT_NE(text2.find("*Assigned*: @alice"), std::string::npos);
  EXPECT_NE(text2.find("- [x] get-pods (kubectl): ran — exit 0"), std::string::npos);
  EXPECT_NE(text2.find("- [ ] rollback (kubectl): failed — exit 1"), std::string::npos);
  EXPECT_NE(Str(ParseJson(updates[1].body), "text").find("*Status*: Resolved"), std::string::npos);
}

TEST(SlackTest, ConcurrentUpdatesOfOneIncidentPostOnce) {
  auto server = StartServer();
  server->SetResponse(
      "/api/chat.postMessage",
      {.body = R"({"ok":true,"channel":"C123","ts":"1.2"})", .delay = milliseconds(100)});
  server->SetResponse("/api/chat.update", {.body = R"({"ok":true,"channel":"C123","ts":"1.2"})"});
  Fixture f = Make("slack", SlackConfig(*server));
  std::vector<std::future<ActionResult>> futures;
  for (int i = 0; i < 3; ++i) {
    futures.push_back(std::async(std::launch::async, [&] {
      return RunHandler(*f.handler, IncidentUpdate("investigating"));
    }));
  }
  for (auto& fu : futures) EXPECT_EQ(fu.get().outcome, ActionOutcome::kSuccess);
  EXPECT_EQ(server->RequestsTo("/api/chat.postMessage").size(), 1u);
  EXPECT_EQ(server->RequestsTo("/api/chat.update").size(), 2u);
}

TEST(SlackTest, SlackErrorsGarbageAndRateLimits) {
  auto server = StartServer();
  Fixture f = Make("slack", SlackConfig(*server));
  server->QueueResponse("/api/chat.postMessage",
                        {.body = R"({"ok":false,"error":"invalid_auth"})"});
  ActionResult auth = RunHandler(*f.handler, IncidentUpdate("investigating"));
  EXPECT_EQ(auth.outcome, ActionOutcome::kPermanentFailure);
  EXPECT_NE(auth.summary.find("invalid_auth"), std::string::npos);

  server->QueueResponse("/api/chat.postMessage", {.body = R"({"ok":false,"error":"ratelimited"})"});
  EXPECT_EQ(RunHandler(*f.handler, IncidentUpdate("investigating")).outcome,
            ActionOutcome::kRetryableFailure);

  server->QueueResponse("/api/chat.postMessage",
                        {.status = 429, .headers = {{"Retry-After", "3"}}});
  ActionResult limited = RunHandler(*f.handler, IncidentUpdate("investigating"));
  EXPECT_EQ(limited.outcome, ActionOutcome::kRetryableFailure);
  EXPECT_EQ(limited.retry_after, milliseconds(3000));

  server->QueueResponse("/api/chat.postMessage",
                        {.body = "<html>oops</html>", .content_type = "text/html"});
  ActionResult garbage = RunHandler(*f.handler, IncidentUpdate("investigating"));
  EXPECT_EQ(garbage.outcome, ActionOutcome::kPermanentFailure);
  EXPECT_NE(garbage.summary.find("not Slack's JSON: <html>oops</html>"), std::string::npos)
      << garbage.summary;
  // A body nested deeper than a recursive parser's stack allows: a clean
  // failure, not a crash (RapidJSON parses iteratively here).
  server->QueueResponse("/api/chat.postMessage", {.body = std::string(900'000, '[')});
  ActionResult deep = RunHandler(*f.handler, IncidentUpdate("investigating"));
  EXPECT_EQ(deep.outcome, ActionOutcome::kPermanentFailure);
  EXPECT_NE(deep.summary.find("not Slack's JSON"), std::string::npos) << deep.summary.substr(0, 200);
  // Nothing was stored: the next call posts again.
  EXPECT_FALSE(f.store->Get("handler/h/0123456789abcdef")->has_value());
}

TEST(SlackTest, UpdateOfAVanishedMessagePostsANewOne) {
  auto server = StartServer();
  server->SetResponse("/api/chat.postMessage",
                      {.body = R"({"ok":true,"channel":"C123","ts":"2.0"})"});
  server->SetResponse("/api/chat.update", {.body = R"({"ok":false,"error":"message_not_found"})"});
  Fixture f = Make("slack", SlackConfig(*server));
  ASSERT_TRUE(f.store->Put("handler/h/0123456789abcdef", R"({"channel":"C123","ts":"1.0"})").ok());
  EXPECT_EQ(RunHandler(*f.handler, IncidentUpdate("acknowledged")).outcome,
            ActionOutcome::kSuccess);
  EXPECT_EQ(server->RequestsTo("/api/chat.update").size(), 1u);
  EXPECT_EQ(server->RequestsTo("/api/chat.postMessage").size(), 1u);
  EXPECT_EQ(Str(ParseJson((*f.store->Get("handler/h/0123456789abcdef"))->value), "ts"), "2.0");
}

TEST(SlackTest, IncomingWebhookPostsEveryUpdate) {
  auto server = StartServer();
  server->SetResponse("/services/T/B/X", {.body = "ok", .content_type = "text/plain"});
  Fixture f = Make("slack", "webhook_url: " + server->url() + "/services/T/B/X\n");
  EXPECT_EQ(RunHandler(*f.handler, IncidentUpdate("investigating")).outcome,
            ActionOutcome::kSuccess);
  EXPECT_EQ(RunHandler(*f.handler, IncidentUpdate("resolved")).outcome, ActionOutcome::kSuccess);
  ActionRequest n = Notification();
  EXPECT_EQ(RunHandler(*f.handler, n).outcome, ActionOutcome::kSuccess);
  auto reqs = server->RequestsTo("/services/T/B/X");
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_NE(Str(ParseJson(reqs[1].body), "text").find("Resolved"), std::string::npos);
  EXPECT_NE(Str(ParseJson(reqs[2].body), "text").find("[FIRING:2]"), std::string::npos);
  EXPECT_FALSE(MakeError("slack", "channel: C1\n").ok());
}

TEST(SlackTest, StepTextRepliesInTheIncidentThread) {
  auto server = StartServer();
  server->SetResponse("/api/chat.postMessage",
                      {.body = R"({"ok":true,"channel":"C123","ts":"9.9"})"});
  Fixture f = Make("slack", SlackConfig(*server));
  ASSERT_TRUE(f.store->Put("handler/h/0123456789abcdef", R"({"channel":"C123","ts":"1.5"})").ok());
  ActionRequest r = StepRequest("{text: 'rolled back nimify-api'}");
  ASSERT_TRUE(f.handler->ValidateParams(r.params).ok());
  EXPECT_EQ(RunHandler(*f.handler, r).outcome, ActionOutcome::kSuccess);
  auto body = ParseJson(server->RequestsTo("/api/chat.postMessage").at(0).body);
  EXPECT_EQ(Str(body, "thread_ts"), "1.5");
  EXPECT_EQ(Str(body, "text"), "rolled back nimify-api");
  // The incident message stays the one to update.
  EXPECT_EQ(Str(ParseJson((*f.store->Get("handler/h/0123456789abcdef"))->value), "ts"), "1.5");
}

// ---- statuspage -----------------------------------------------------------------

TEST(StatuspageTest, CreateUpdateResolve) {
  auto server = StartServer();
  server->SetResponse("/v1/pages/pg1/incidents",
                      {.status = 201, .body = R"({"id":"inc42","status":"investigating"})"});
  server->SetResponse("/v1/pages/pg1/incidents/inc42", {.body = R"({"id":"inc42"})"});
  Fixture f = Make("statuspage",
                   "api_url: " + server->url() +
                       "\npage_id: pg1\napi_key: k3y\n"
                       "name: '{{ $labels.alertname }} on {{ $labels.job }}'\n"
                       "bodies: {resolved: 'All good for {{ $labels.job }}.',\n"
                       "         monitoring: '{{ $annotations.summary }} ({{ .Annotations.summary }},\n"
                       "           {{ .Status }}, {{ .Steps.rollback.Outcome }})'}\n",
                   "sp");
  ASSERT_TRUE(f.handler->Accepts(ActionTrigger::kIncidentUpdate));
  ASSERT_FALSE(f.handler->Accepts(ActionTrigger::kStep));
  ActionResult created = RunHandler(*f.handler, IncidentUpdate("investigating"));
  ASSERT_EQ(created.outcome, ActionOutcome::kSuccess) << created.summary;
  // The same phase again changes nothing.
  EXPECT_EQ(RunHandler(*f.handler, IncidentUpdate("investigating")).outcome,
            ActionOutcome::kSuccess);
  ActionRequest ack = IncidentUpdate("acknowledged");
  EXPECT_EQ(StatuspagePhase(ack), "identified");
  EXPECT_EQ(RunHandler(*f.handler, ack).outcome, ActionOutcome::kSuccess);
  ActionRequest fixed = IncidentUpdate("acknowledged");
  fixed.incident.steps = {{"r", "rollback", "kubectl", "recovered", "", "", 0}};
  EXPECT_EQ(StatuspagePhase(fixed), "monitoring");
  EXPECT_EQ(RunHandler(*f.handler, fixed).outcome, ActionOutcome::kSuccess);
  EXPECT_EQ(RunHandler(*f.handler, IncidentUpdate("resolved")).outcome, ActionOutcome::kSuccess);

  auto reqs = server->requests();
  ASSERT_EQ(reqs.size(), 4u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].path, "/v1/pages/pg1/incidents");
  EXPECT_EQ(reqs[0].Header("Authorization"), "OAuth k3y");
  auto create = ParseJson(reqs[0].body);
  EXPECT_EQ(Str(create["incident"], "name"), "ServiceDown on nimify-api");
  EXPECT_EQ(Str(create["incident"], "status"), "investigating");
  EXPECT_EQ(Str(create["incident"], "body").rfind("We are currently investigating", 0), 0u);
  const char* phases[] = {"identified", "monitoring", "resolved"};
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(reqs[i].method, "PATCH");
    EXPECT_EQ(reqs[i].path, "/v1/pages/pg1/incidents/inc42");
    auto patch = ParseJson(reqs[i].body);
    EXPECT_EQ(Str(patch["incident"], "status"), phases[i - 1]);
    EXPECT_FALSE(patch["incident"].HasMember("name"));
  }
  EXPECT_EQ(Str(ParseJson(reqs[1].body)["incident"], "body").rfind("We have identified", 0), 0u);
  EXPECT_EQ(Str(ParseJson(reqs[3].body)["incident"], "body"), "All good for nimify-api.");
  // Handler templates get the step templates' data: $annotations, .Steps, .Status.
  EXPECT_EQ(Str(ParseJson(reqs[2].body)["incident"], "body"),
            "ServiceDown is bad (ServiceDown is bad, firing, recovered)");
  auto stored = f.store->Get("handler/sp/0123456789abcdef");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ(Str(ParseJson((*stored)->value), "status"), "resolved");
}

TEST(StatuspageTest, ResolveWithoutIncidentSendsNothingAndErrorsClassify) {
  auto server = StartServer();
  Fixture f = Make("statuspage", "api_url: " + server->url() + "\npage_id: pg1\napi_key: k\n");
  EXPECT_EQ(RunHandler(*f.handler, IncidentUpdate("resolved")).outcome, ActionOutcome::kSuccess);
  EXPECT_TRUE(server->requests().empty());
  server->QueueResponse("/v1/pages/pg1/incidents", {.status = 503});
  EXPECT_EQ(RunHandler(*f.handler, IncidentUpdate("investigating")).outcome,
            ActionOutcome::kRetryableFailure);
  server->QueueResponse("/v1/pages/pg1/incidents",
                        {.status = 401, .body = R"({"error":"unauthorized"})"});
  EXPECT_EQ(RunHandler(*f.handler, IncidentUpdate("investigating")).outcome,
            ActionOutcome::kPermanentFailure);
  server->QueueResponse("/v1/pages/pg1/incidents", {.status = 201, .body = "not json"});
  ActionResult bad = RunHandler(*f.handler, IncidentUpdate("investigating"));
  EXPECT_EQ(bad.outcome, ActionOutcome::kPermanentFailure);
  EXPECT_NE(bad.summary.find("no incident id"), std::string::npos);
  EXPECT_FALSE(MakeError("statuspage", "page_id: p\n").ok());
  EXPECT_FALSE(MakeError("statuspage", "page_id: p\napi_key: k\nname: '{{ .Bad '\n").ok());
}

// ---- alertmanager ---------------------------------------------------------------

TEST(AlertmanagerHandlerTest, PostsAlertsAsPrometheusDoes) {
  auto server = StartServer();
  auto down = StartServer();
  down->SetResponse("/api/v2/alerts", {.status = 500});
  Fixture f = Make("alertmanager", "url: [" + server->url() + ", " + down->url() + "]\n");
  ActionRequest r = Notification();
  ActionResult result = RunHandler(*f.handler, r);
  EXPECT_EQ(result.outcome, ActionOutcome::kSuccess) << result.summary;  // one of two took them
  auto reqs = server->RequestsTo("/api/v2/alerts");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  auto doc = ParseJson(reqs[0].body);
  ASSERT_TRUE(doc.IsArray());
  ASSERT_EQ(doc.Size(), 3u);
  EXPECT_EQ(Str(doc[0]["labels"], "alertname"), "ServiceDown");
  EXPECT_EQ(Str(doc[0]["annotations"], "summary"), "ServiceDown is bad");
  EXPECT_EQ(Str(doc[0], "startsAt"), "2023-11-14T22:13:20.123Z");
  EXPECT_FALSE(doc[0].HasMember("endsAt"));
  EXPECT_EQ(Str(doc[0], "generatorURL"), "http://prom/graph?g0.expr=up");
  EXPECT_EQ(Str(doc[1], "endsAt"), "2023-11-14T22:23:20Z");
  EXPECT_EQ(down->RequestsTo("/api/v2/alerts").size(), 1u);

  server->SetResponse("/api/v2/alerts", {.status = 400});
  EXPECT_EQ(RunHandler(*f.handler, r).outcome,
            ActionOutcome::kRetryableFailure);  // the 500 one may recover
}

TEST(AlertmanagerHandlerTest, CreatesSilences) {
  auto server = StartServer();
  server->SetResponse("/api/v2/silences", {.body = R"({"silenceID":"abc-123"})"});
  Fixture f = Make("alertmanager", "url: " + server->url() + "/\n");
  ActionRequest r = StepRequest(
      "{create_silence: {matchers: ['alertname=\"ServiceDown\"', {name: job, value: 'nimify-.*', "
      "is_regex: true}],"
      " duration: 2h, comment: 'rollback in progress', created_by: nimify-bot}}");
  ASSERT_TRUE(f.handler->ValidateParams(r.params).ok());
  auto rendered = f.handler->Render(r);
  ASSERT_TRUE(rendered.ok()) << rendered.status().ToString();
  EXPECT_NE(rendered->find("/api/v2/silences"), std::string::npos);
  ActionResult result = RunHandler(*f.handler, r);
  ASSERT_EQ(result.outcome, ActionOutcome::kSuccess) << result.summary;
  EXPECT_NE(result.summary.find("abc-123"), std::string::npos);
  auto reqs = server->RequestsTo("/api/v2/silences");
  ASSERT_EQ(reqs.size(), 1u);
  auto doc = ParseJson(reqs[0].body);
  ASSERT_EQ(doc["matchers"].Size(), 2u);
  EXPECT_EQ(Str(doc["matchers"][0], "name"), "alertname");
  EXPECT_EQ(Str(doc["matchers"][0], "value"), "ServiceDown");
  EXPECT_FALSE(doc["matchers"][0]["isRegex"].GetBool());
  EXPECT_TRUE(doc["matchers"][0]["isEqual"].GetBool());
  EXPECT_TRUE(doc["matchers"][1]["isRegex"].GetBool());
  EXPECT_EQ(Str(doc, "startsAt"), "2023-11-14T22:13:21Z");
  EXPECT_EQ(Str(doc, "endsAt"), "2023-11-15T00:13:21Z");
  EXPECT_EQ(Str(doc, "createdBy"), "nimify-bot");
  EXPECT_EQ(Str(doc, "comment"), "rollback in progress");

  // A label that rendered empty would silence everything: refused.
  EXPECT_FALSE(
      f.handler->Render(StepRequest("{create_silence: {matchers: ['instance=\"\"']}}")).ok());
  EXPECT_FALSE(f.handler->ValidateParams(Yaml("{create_silence: {duration: 1h}}")).ok());
}

}  // namespace
}  // namespace nimify::actions
