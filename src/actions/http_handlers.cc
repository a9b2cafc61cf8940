#include "actions/http_handlers.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <utility>

#include "actions/builtin_handlers.h"
#include "actions/fingerprint.h"
#include "actions/http_client.h"
#include "actions/matchers.h"
#include "actions/template_data.h"
#include "common/mutex.h"
#include "common/wall_clock.h"
#include "template/data_template.h"

namespace nimify::actions {

namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr std::size_t kOutputCap = 16 * 1024;
constexpr std::int64_t kHandlerStateTtlMs = 7LL * 24 * 3600 * 1000;

std::int64_t WallNowMs() {
  return internal::GuardedWallClockMs();  // never back: common/wall_clock.h
}

std::int64_t RequestNowMs(const ActionRequest& request) {
  return request.now_ms > 0 ? request.now_ms : WallNowMs();
}

std::string Excerpt(std::string_view text, std::size_t max = 200) {
  std::string out(text.substr(0, max));
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  if (text.size() > max) out += "...";
  return out;
}

void WriteString(JsonWriter& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void WriteLabels(JsonWriter& w, const OwnedLabels& labels) {
  w.StartObject();
  for (const auto& l : labels) {
    WriteString(w, l.name);
    WriteString(w, l.value);
  }
  w.EndObject();
}

// A rendered `with:` value as JSON. Every scalar is text after rendering, so
// numbers and booleans are recognised by their form ("32" -> 32, "true" -> true).
void WriteConfigAsJson(JsonWriter& w, const ConfigNode& node) {
  switch (node.kind()) {
    case ConfigNode::Kind::kNull:
      w.Null();
      return;
    case ConfigNode::Kind::kScalar: {
      const std::string& t = node.text();
      if (t == "true" || t == "false") {
        w.Bool(t == "true");
      } else if (auto i = node.AsInt(); i.ok() && !t.empty() && t.find_first_of("_xXoO") == std::string::npos) {
        w.Int64(*i);
      } else if (auto d = node.AsDouble();
                 d.ok() && !t.empty() && t.find_first_not_of("0123456789.eE+-") == std::string::npos) {
        w.Double(*d);
      } else {
        WriteString(w, t);
      }
      return;
    }
    case ConfigNode::Kind::kSequence:
      w.StartArray();
      for (const auto& item : node.items()) WriteConfigAsJson(w, item);
      w.EndArray();
      return;
    case ConfigNode::Kind::kMap:
      w.StartObject();
      for (const auto& [k, v] : node.entries()) {
        WriteString(w, k);
        WriteConfigAsJson(w, v);
      }
      w.EndObject();
      return;
  }
}

std::string JsonString(std::string_view s) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  WriteString(w, s);
  return buf.GetString();
}

// ---- Config helpers -------------------------------------------------------------

Result<std::string> OptionalString(const ConfigNode& config, std::string_view key,
                                   std::string fallback = "") {
  const ConfigNode* n = config.Find(key);
  if (n == nullptr || n->is_null()) return fallback;
  return n->AsString();
}

Result<std::string> ReadSecretFile(const ConfigNode& node) {
  NIMIFY_ASSIGN_OR_RETURN(std::string path, node.AsString());
  std::ifstream in(path, std::ios::binary);
  if (!in) return node.Error("cannot read secret file \"" + path + "\"");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

// `key` or `key_file` (not both); "" when neither.
Result<std::string> ReadSecret(const ConfigNode& config, std::string_view key) {
  const ConfigNode* inline_value = config.Find(key);
  const std::string file_key = std::string(key) + "_file";
  const ConfigNode* file_value = config.Find(file_key);
  if (inline_value != nullptr && file_value != nullptr) {
    return file_value->Error("set either \"" + std::string(key) + "\" or \"" + file_key + "\", not both");
  }
  if (file_value != nullptr) return ReadSecretFile(*file_value);
  if (inline_value != nullptr) return inline_value->AsString();
  return std::string();
}

std::string Base64(std::string_view in) {
  static constexpr char kTable[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) | static_cast<unsigned char>(in[i + 2]);
    out += kTable[(v >> 18) & 63];
    out += kTable[(v >> 12) & 63];
    out += kTable[(v >> 6) & 63];
    out += kTable[v & 63];
  }
  if (i + 1 == in.size()) {
    const unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += kTable[(v >> 18) & 63];
    out += kTable[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += kTable[(v >> 18) & 63];
    out += kTable[(v >> 12) & 63];
    out += kTable[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// What every HTTP handler's config may hold besides its own fields.
struct HttpConnectionConfig {
  HttpHeaders headers;  // static headers, Authorization included
  bool tls_insecure_skip_verify = false;
  std::chrono::milliseconds connect_timeout{5000};
  std::size_t max_response_bytes = 1u << 20;
};

constexpr std::string_view kConnectionKeys[] = {
    "headers", "basic_auth", "bearer_token", "bearer_token_file", "tls_insecure_skip_verify",
    "connect_timeout", "max_response_bytes"};

Status ReadHeaderMap(const ConfigNode& node, HttpHeaders* out) {
  if (!node.is_map()) return node.Error("headers must be a mapping of name to value");
  for (const auto& [k, v] : node.entries()) {
    NIMIFY_ASSIGN_OR_RETURN(std::string value, v.AsString());
    if (!IsSafeHeaderValue(k) || !IsSafeHeaderValue(value) || k.empty() ||
        k.find_first_of(": ") != std::string::npos) {
      return v.Error("header \"" + k + "\" contains CR, LF or a bad name");
    }
    out->emplace_back(k, std::move(value));
  }
  return Status::Ok();
}

Result<HttpConnectionConfig> ReadConnectionConfig(const ConfigNode& config) {
  HttpConnectionConfig out;
  if (const ConfigNode* h = config.Find("headers")) NIMIFY_RETURN_IF_ERROR(ReadHeaderMap(*h, &out.headers));
  const ConfigNode* basic = config.Find("basic_auth");
  NIMIFY_ASSIGN_OR_RETURN(std::string bearer, ReadSecret(config, "bearer_token"));
  if (basic != nullptr && !bearer.empty()) {
    return basic->Error("set either basic_auth or bearer_token, not both");
  }
  if (basic != nullptr) {
    NIMIFY_RETURN_IF_ERROR(basic->CheckKeys({"username", "password", "password_file"}, "basic_auth"));
    NIMIFY_ASSIGN_OR_RETURN(std::string user, OptionalString(*basic, "username"));
    NIMIFY_ASSIGN_OR_RETURN(std::string password, ReadSecret(*basic, "password"));
    if (user.empty()) return basic->Error("basic_auth needs a username");
    out.headers.emplace_back("Authorization", "Basic " + Base64(user + ":" + password));
  } else if (!bearer.empty()) {
    out.headers.emplace_back("Authorization", "Bearer " + bearer);
  }
  if (const ConfigNode* n = config.Find("tls_insecure_skip_verify")) {
    NIMIFY_ASSIGN_OR_RETURN(out.tls_insecure_skip_verify, n->AsBool());
  }
  if (const ConfigNode* n = config.Find("connect_timeout")) {
    NIMIFY_ASSIGN_OR_RETURN(out.connect_timeout, n->AsDuration());
    if (out.connect_timeout.count() <= 0) return n->Error("connect_timeout must be positive");
  }
  if (const ConfigNode* n = config.Find("max_response_bytes")) {
    NIMIFY_ASSIGN_OR_RETURN(std::int64_t v, n->AsInt());
    if (v <= 0) return n->Error("max_response_bytes must be positive");
    out.max_response_bytes = static_cast<std::size_t>(v);
  }
  for (const auto& [k, v] : out.headers) {
    if (!IsSafeHeaderValue(v)) return config.Error("a secret contains CR or LF");
  }
  return out;
}

Result<HttpUrl> ReadUrl(const ConfigNode& config, std::string_view key, bool required,
                        std::string fallback = "") {
  const ConfigNode* n = config.Find(key);
  if (n == nullptr) {
    if (required) return config.Error("missing field \"" + std::string(key) + "\"");
    if (fallback.empty()) return HttpUrl{};
    return ParseHttpUrl(fallback);
  }
  NIMIFY_ASSIGN_OR_RETURN(std::string text, n->AsString());
  Result<HttpUrl> url = ParseHttpUrl(text);
  if (!url.ok()) return n->Error(url.status().message());
  return url;
}

std::string StripTrailingSlash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

// The base of a request: connection settings plus a timeout from the request.
HttpRequest NewRequest(const HttpConnectionConfig& conn, const ActionRequest& request,
                       std::string method, std::string url) {
  HttpRequest r;
  r.method = std::move(method);
  r.url = std::move(url);
  r.headers = conn.headers;
  r.tls_insecure_skip_verify = conn.tls_insecure_skip_verify;
  r.total_timeout = request.timeout.count() > 0 ? request.timeout : std::chrono::milliseconds(30000);
  r.connect_timeout = std::min(conn.connect_timeout, r.total_timeout);
  r.max_response_bytes = conn.max_response_bytes;
  return r;
}

void SetJsonBody(HttpRequest* r, std::string body) {
  r->headers.emplace_back("Content-Type", "application/json");
  r->body = std::move(body);
}

// The outcome of an HTTP exchange: 2xx (or `expect`) succeeds; 429 and 5xx,
// timeouts and connection errors are retried; other statuses are permanent.
ActionResult ResultFromHttp(const HttpResult& r, std::string_view what, std::int64_t now_ms,
                            const std::vector<int>* expect = nullptr) {
  if (!r.ok()) {
    std::string summary = std::string(what) + ": " + r.message;
    return r.error == HttpError::kInvalidRequest ? ActionResult::Permanent(std::move(summary))
                                                 : ActionResult::Retryable(std::move(summary));
  }
  const int status = r.response.status;
  const bool success = expect != nullptr && !expect->empty()
                           ? std::find(expect->begin(), expect->end(), status) != expect->end()
                           : status >= 200 && status < 300;
  ActionResult out;
  std::string summary = "HTTP " + std::to_string(status);
  if (success) {
    out = ActionResult::Success(std::move(summary));
  } else {
    summary = std::string(what) + ": " + summary;
    if (!r.response.body.empty()) summary += ": " + Excerpt(r.response.body);
    if (status == 429 || status >= 500) {
      out = ActionResult::Retryable(std::move(summary));
      out.retry_after = ParseRetryAfter(r.response.Header("Retry-After"), now_ms);
    } else {
      out = ActionResult::Permanent(std::move(summary));
    }
  }
  out.http_status = status;
  out.output = r.response.body.substr(0, kOutputCap);
  return out;
}

// Runs one task per key at a time, in arrival order, so the updates of one
// incident (post, then update, then update) never race each other.
// Thread safety: Run may be called from any thread; `next` exactly once per task.
class KeyedQueue {
 public:
  using Task = std::function<void(std::function<void()> next)>;

  void Run(const std::string& key, Task task) {
    {
      MutexLock lock(mu_);
      auto it = pending_.find(key);
      if (it != pending_.end()) {
        it->second.push_back(std::move(task));
        return;
      }
      pending_.emplace(key, std::deque<Task>());
    }
    Invoke(key, std::move(task));
  }

 private:
  void Invoke(const std::string& key, Task task) {
    task([this, key] { Next(key); });
  }

  void Next(const std::string& key) {
    Task task;
    {
      MutexLock lock(mu_);
      auto it = pending_.find(key);
      if (it == pending_.end()) return;
      if (it->second.empty()) {
        pending_.erase(it);
        return;
      }
      task = std::move(it->second.front());
      it->second.pop_front();
    }
    Invoke(key, std::move(task));
  }

  Mutex mu_;
  std::map<std::string, std::deque<Task>> pending_ NIMIFY_GUARDED_BY(mu_);
};

// The shared base: a client and a store.
class HttpHandlerBase : public ActionHandler, public std::enable_shared_from_this<HttpHandlerBase> {
 public:
  HttpHandlerBase(const HandlerContext& context, HttpConnectionConfig conn)
      : name_(context.name), conn_(std::move(conn)), client_(HttpClient::Shared()) {
    store_ = context.store;
    if (store_ == nullptr) {
      owned_store_ = NewMemoryStateStore();
      store_ = owned_store_.get();
    }
  }

  void Shutdown() override { stopping_ = true; }

 protected:
  // Sends unless shut down; `done` runs on the client's thread.
  void Send(HttpRequest request, HttpDone done) {
    if (stopping_) {
      HttpResult r;
      r.error = HttpError::kCancelled;
      r.message = "the handler shut down";
      done(std::move(r));
      return;
    }
    client_->Send(std::move(request), std::move(done));
  }

  std::string StateKey(std::string_view suffix) const { return "handler/" + name_ + "/" + std::string(suffix); }

  // The state key of the request's incident (one alert) or group (notification).
  std::string IncidentKey(const ActionRequest& request) const {
    if (request.trigger == ActionTrigger::kNotification) {
      std::uint64_t h = 1469598103934665603ULL;
      for (unsigned char c : request.group_key) h = (h ^ c) * 1099511628211ULL;
      return StateKey("group/" + FingerprintString(h));
    }
    return StateKey(request.alerts.empty() ? std::string("none") : request.alerts.front().fingerprint);
  }

  Result<std::optional<rapidjson::Document>> LoadState(const std::string& key) {
    NIMIFY_ASSIGN_OR_RETURN(std::optional<StoredValue> v, store_->Get(key));
    if (!v) return std::optional<rapidjson::Document>();
    rapidjson::Document doc;
    doc.Parse(v->value.data(), v->value.size());
    if (doc.HasParseError() || !doc.IsObject()) return std::optional<rapidjson::Document>();
    return std::optional<rapidjson::Document>(std::move(doc));
  }

  Status SaveState(const std::string& key, std::string_view json) {
    PutOptions options;
    options.expires_at_ms = store_->now_ms() + kHandlerStateTtlMs;
    return store_->Put(key, json, options).status();
  }

  std::string name_;
  HttpConnectionConfig conn_;
  std::shared_ptr<HttpClient> client_;
  StateStore* store_ = nullptr;
  std::unique_ptr<StateStore> owned_store_;
  std::atomic<bool> stopping_{false};
  KeyedQueue queue_;
};

std::string GetMember(const rapidjson::Value& obj, const char* name) {
  if (!obj.IsObject()) return "";
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || !it->value.IsString()) return "";
  return std::string(it->value.GetString(), it->value.GetStringLength());
}


// ---- http ---------------------------------------------------------------------

struct BuiltHttpStep {
  HttpRequest request;
  std::vector<int> expect;
};

bool ContainsDotDotSegment(std::string_view path) {
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string segment;
    std::string_view raw = path.substr(start, end - start);
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '%' && i + 2 < raw.size() && raw[i + 1] == '2' && (raw[i + 2] == 'e' || raw[i + 2] == 'E')) {
        segment += '.';
        i += 2;
      } else {
        segment += raw[i];
      }
    }
    if (segment == "..") return true;
    if (end == path.size()) break;
    start = end + 1;
  }
  return false;
}

std::vector<std::string_view> SplitSlash(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = s.find('/', start);
    out.push_back(s.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

// A templated path segment must not render empty: a missing label would turn
// /v2/repository/models/{{ $labels.model }}/load into .../models//load, a
// different resource. `raw` is the template (null: unknown, then every empty
// segment between two others is refused). Query strings are not checked here.
Status CheckEmptySegments(const std::string* raw, std::string_view rendered, std::string_view what) {
  rendered = rendered.substr(0, rendered.find('?'));
  const std::vector<std::string_view> out = SplitSlash(rendered);
  auto refuse = [&](std::string_view tmpl) {
    return Status::InvalidArgument("http: refused: " + std::string(what) + " \"" + std::string(rendered) +
                                   "\": the templated segment \"" + std::string(tmpl) +
                                   "\" rendered empty (a missing label?)");
  };
  if (raw == nullptr) {
    for (std::size_t i = 1; i + 1 < out.size(); ++i) {
      // "scheme://" is the one empty segment a URL has by design.
      if (out[i].empty() && !(i == 1 && !out[0].empty() && out[0].back() == ':')) {
        return Status::InvalidArgument("http: refused: " + std::string(what) + " \"" + std::string(rendered) +
                                       "\" holds an empty segment (a missing label?)");
      }
    }
    return Status::Ok();
  }
  if (raw->find("{{") == std::string::npos) return Status::Ok();
  const std::string_view raw_path = std::string_view(*raw).substr(0, raw->find('?'));
  const std::vector<std::string_view> in = SplitSlash(raw_path);
  if (in.size() == out.size()) {
    for (std::size_t i = 0; i < in.size(); ++i) {
      if (out[i].empty() && in[i].find("{{") != std::string_view::npos) return refuse(in[i]);
    }
    return Status::Ok();
  }
  // A value held a '/': compare the empty segments the literal text has.
  std::size_t raw_empty = 0;
  std::size_t rendered_empty = 0;
  for (std::string_view seg : in) raw_empty += seg.empty() ? 1 : 0;
  for (std::string_view seg : out) rendered_empty += seg.empty() ? 1 : 0;
  if (rendered_empty > raw_empty) return refuse(raw_path);
  return Status::Ok();
}

class HttpStepHandler final : public HttpHandlerBase {
 public:
  HttpStepHandler(const HandlerContext& context, HttpConnectionConfig conn, HttpUrl base)
      : HttpHandlerBase(context, std::move(conn)), base_(std::move(base)) {}

  bool Accepts(ActionTrigger trigger) const override { return trigger == ActionTrigger::kStep; }

  Status ValidateParams(const ConfigNode& params) const override {
    if (params.is_null()) return Status::Ok();
    if (!params.is_map()) return params.Error("http: `with` must be a mapping");
    NIMIFY_RETURN_IF_ERROR(
        params.CheckKeys({"method", "path", "url", "headers", "body", "expect_status", "query"}, "http step"));
    if (params.Find("path") != nullptr && params.Find("url") != nullptr) {
      return params.Error("http: set either path or url, not both");
    }
    if (const ConfigNode* e = params.Find("expect_status")) {
      NIMIFY_RETURN_IF_ERROR(ReadExpect(*e).status());
    }
    if (const ConfigNode* h = params.Find("headers"); h != nullptr && !h->is_map()) {
      return h->Error("http: headers must be a mapping");
    }
    if (const ConfigNode* q = params.Find("query"); q != nullptr && !q->is_map()) {
      return q->Error("http: query must be a mapping");
    }
    return Status::Ok();
  }

  Result<std::string> Render(const ActionRequest& request) const override {
    NIMIFY_ASSIGN_OR_RETURN(BuiltHttpStep built, Build(request));
    return built.request.method + " " + built.request.url;
  }

  void Execute(const ActionRequest& request, ActionDone done) override {
    Result<BuiltHttpStep> built = Build(request);
    if (!built.ok()) return done(ActionResult::Permanent(std::string(built.status().message())));
    const std::int64_t now = RequestNowMs(request);
    auto expect = std::make_shared<std::vector<int>>(std::move(built->expect));
    Send(std::move(built->request), [done = std::move(done), expect, now](HttpResult r) {
      done(ResultFromHttp(r, "http", now, expect.get()));
    });
  }

 private:
  static Result<std::vector<int>> ReadExpect(const ConfigNode& node) {
    std::vector<int> out;
    std::vector<ConfigNode> items = node.is_sequence() ? node.items() : std::vector<ConfigNode>{node};
    for (const auto& item : items) {
      NIMIFY_ASSIGN_OR_RETURN(std::int64_t code, item.AsInt());
      if (code < 100 || code > 599) return item.Error("http: expect_status must be HTTP status codes");
      out.push_back(static_cast<int>(code));
    }
    return out;
  }

  Result<BuiltHttpStep> Build(const ActionRequest& request) const {
    const ConfigNode& p = request.params;
    BuiltHttpStep out;
    HttpRequest& r = out.request;
    r = NewRequest(conn_, request, "GET", "");
    const bool has_body = p.Find("body") != nullptr && !p.Find("body")->is_null();
    NIMIFY_ASSIGN_OR_RETURN(std::string method, OptionalString(p, "method", has_body ? "POST" : "GET"));
    std::transform(method.begin(), method.end(), method.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    if (method.empty() || method.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string::npos) {
      return Status::InvalidArgument("http: refused: bad method \"" + method + "\"");
    }
    r.method = method;

    // The unrendered `with:` (the responder passes it) tells which parts were templated.
    const ConfigNode* raw_params = p.Find("__template");
    auto raw_of = [&](const char* key) -> std::optional<std::string> {
      const ConfigNode* n = raw_params != nullptr ? raw_params->Find(key) : nullptr;
      if (n == nullptr || !n->is_scalar()) return std::nullopt;
      return n->text();
    };
    std::string target;
    if (const ConfigNode* u = p.Find("url")) {
      NIMIFY_ASSIGN_OR_RETURN(std::string text, u->AsString());
      const std::optional<std::string> raw = raw_of("url");
      NIMIFY_RETURN_IF_ERROR(CheckEmptySegments(raw ? &*raw : nullptr, text, "URL"));
      Result<HttpUrl> url = ParseHttpUrl(text);
      if (!url.ok()) return Status::InvalidArgument("http: refused: " + std::string(url.status().message()));
      if (url->scheme != base_.scheme || url->host != base_.host || url->port != base_.port) {
        return Status::InvalidArgument("http: refused: URL \"" + text + "\" leaves base_url's host " +
                                       base_.Origin());
      }
      target = url->target;
    } else {
      NIMIFY_ASSIGN_OR_RETURN(std::string path, OptionalString(p, "path"));
      const std::optional<std::string> raw = raw_of("path");
      NIMIFY_RETURN_IF_ERROR(CheckEmptySegments(raw ? &*raw : nullptr, path, "path"));
      const std::size_t q = base_.target.find('?');
      std::string prefix = StripTrailingSlash(base_.target.substr(0, q));
      if (!path.empty() && path.front() != '/') path = "/" + path;
      target = prefix + path;
      if (target.empty()) target = "/";
      if (q != std::string::npos) target += base_.target.substr(q);
    }
    for (char c : target) {
      if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '#' || c == '\\') {
        return Status::InvalidArgument("http: refused: the path holds a space, control character, '#' or '\\'");
      }
    }
    const std::string path_only = target.substr(0, target.find('?'));
    if (ContainsDotDotSegment(path_only)) {
      return Status::InvalidArgument("http: refused: the path \"" + path_only + "\" holds a \"..\" segment");
    }
    if (const ConfigNode* query = p.Find("query")) {
      std::string qs;
      for (const auto& [k, v] : query->entries()) {
        NIMIFY_ASSIGN_OR_RETURN(std::string value, v.AsString());
        if (!qs.empty()) qs += '&';
        qs += PercentEncode(k) + "=" + PercentEncode(value);
      }
      if (!qs.empty()) target += (target.find('?') == std::string::npos ? "?" : "&") + qs;
    }
    r.url = base_.Origin() + target;
    // Defence in depth: the joined URL must still name base_url's host.
    Result<HttpUrl> joined = ParseHttpUrl(r.url);
    if (!joined.ok() || joined->host != base_.host || joined->port != base_.port) {
      return Status::InvalidArgument("http: refused: the rendered URL \"" + r.url + "\" leaves base_url's host");
    }

    if (const ConfigNode* h = p.Find("headers")) {
      Status s = ReadHeaderMap(*h, &r.headers);
      if (!s.ok()) return Status::InvalidArgument("http: refused: " + std::string(s.message()));
    }
    if (has_body) {
      const ConfigNode& body = *p.Find("body");
      bool has_type = false;
      for (const auto& [k, v] : r.headers) {
        std::string lower = k;
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        has_type = has_type || lower == "content-type";
      }
      if (body.is_scalar()) {
        r.body = body.text();
        if (!has_type) {
          rapidjson::Document probe;
          probe.Parse(r.body.data(), r.body.size());
          r.headers.emplace_back("Content-Type", probe.HasParseError() ? "text/plain" : "application/json");
        }
      } else {
        rapidjson::StringBuffer buf;
        JsonWriter w(buf);
        WriteConfigAsJson(w, body);
        r.body = buf.GetString();
        if (!has_type) r.headers.emplace_back("Content-Type", "application/json");
      }
    }
    if (const ConfigNode* e = p.Find("expect_status")) {
      NIMIFY_ASSIGN_OR_RETURN(out.expect, ReadExpect(*e));
    }
    return out;
  }

  HttpUrl base_;
};

// ---- webhook ------------------------------------------------------------------

class WebhookHandler final : public HttpHandlerBase {
 public:
  WebhookHandler(const HandlerContext& context, HttpConnectionConfig conn, std::string url,
                 std::size_t max_alerts, std::string external_url)
      : HttpHandlerBase(context, std::move(conn)),
        url_(std::move(url)),
        max_alerts_(max_alerts),
        external_url_(std::move(external_url)) {}

  bool Accepts(ActionTrigger trigger) const override {
    return trigger == ActionTrigger::kNotification;
  }

  Result<std::string> Render(const ActionRequest& request) const override {
    return "POST " + url_ + " (" + std::to_string(request.alerts.size()) + " alerts)";
  }

  void Execute(const ActionRequest& request, ActionDone done) override {
    HttpRequest r = NewRequest(conn_, request, "POST", url_);
    SetJsonBody(&r, BuildWebhookPayload(request, max_alerts_, external_url_));
    const std::int64_t now = RequestNowMs(request);
    Send(std::move(r), [done = std::move(done), now](HttpResult res) {
      done(ResultFromHttp(res, "webhook", now));
    });
  }

 private:
  std::string url_;
  std::size_t max_alerts_;
  std::string external_url_;
};

// ---- slack --------------------------------------------------------------------

std::string Capitalize(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

bool StepDone(std::string_view outcome) {
  return outcome == "ran" || outcome == "recovered" || outcome == "planned";
}

class SlackHandler final : public HttpHandlerBase {
 public:
  SlackHandler(const HandlerContext& context, HttpConnectionConfig conn, std::string api_url,
               std::string token, std::string channel, std::string webhook_url)
      : HttpHandlerBase(context, std::move(conn)),
        api_url_(StripTrailingSlash(std::move(api_url))),
        token_(std::move(token)),
        channel_(std::move(channel)),
        webhook_url_(std::move(webhook_url)) {}

  bool Accepts(ActionTrigger) const override { return true; }

  Status ValidateParams(const ConfigNode& params) const override {
    if (params.is_null()) return Status::Ok();
    return params.CheckKeys({"text"}, "slack step");
  }

  Result<std::string> Render(const ActionRequest& request) const override {
    NIMIFY_ASSIGN_OR_RETURN(std::string text, Text(request));
    if (!webhook_url_.empty()) return "POST " + webhook_url_ + ": " + Excerpt(text, 80);
    return "slack " + channel_ + ": " + Excerpt(text, 80);
  }

  void Execute(const ActionRequest& request, ActionDone done) override {
    Result<std::string> text = Text(request);
    if (!text.ok()) return done(ActionResult::Permanent(std::string(text.status().message())));
    const std::int64_t now = RequestNowMs(request);
    if (!webhook_url_.empty()) {
      HttpRequest r = NewRequest(conn_, request, "POST", webhook_url_);
      SetJsonBody(&r, "{\"text\":" + JsonString(*text) + "}");
      return Send(std::move(r), [done = std::move(done), now](HttpResult res) {
        done(ResultFromHttp(res, "slack webhook", now));
      });
    }
    const bool thread_reply = request.trigger == ActionTrigger::kStep && request.params.Find("text") != nullptr;
    const std::string key = IncidentKey(request);
    auto shared_done = std::make_shared<ActionDone>(std::move(done));
    queue_.Run(key, [this, keep = shared_from_this(), request, key, text = *text, thread_reply, now,
                     shared_done](std::function<void()> next) {
      auto finish = [shared_done, next](ActionResult r) {
        next();
        (*shared_done)(std::move(r));
      };
      Result<std::optional<rapidjson::Document>> state = LoadState(key);
      if (!state.ok()) return finish(ActionResult::Retryable("slack: state store: " + std::string(state.status().message())));
      std::string channel = channel_;
      std::string ts;
      if (state->has_value()) {
        channel = GetMember(**state, "channel");
        ts = GetMember(**state, "ts");
      }
      if (thread_reply) {
        return Call(request, "chat.postMessage", channel_, "", ts, text, now,
                    [finish](ActionResult r, std::string, std::string) { finish(std::move(r)); });
      }
      if (ts.empty()) return PostNew(request, key, text, now, finish);
      Call(request, "chat.update", channel, ts, "", text, now,
           [this, keep, request, key, text, now, finish](ActionResult r, std::string error, std::string) {
             if (error == "message_not_found" || error == "cant_update_message" ||
                 error == "channel_not_found") {
               return PostNew(request, key, text, now, finish);  // the old message is gone
             }
             finish(std::move(r));
           });
    });
  }

 private:
  using CallDone = std::function<void(ActionResult, std::string error, std::string ts_channel)>;

  Result<std::string> Text(const ActionRequest& request) const {
    if (request.trigger == ActionTrigger::kStep) {
      if (const ConfigNode* t = request.params.Find("text")) return t->AsString();
    }
    if (request.trigger == ActionTrigger::kNotification) return SlackNotificationText(request);
    return SlackIncidentText(request);
  }

  void PostNew(const ActionRequest& request, const std::string& key, const std::string& text,
               std::int64_t now, std::function<void(ActionResult)> finish) {
    Call(request, "chat.postMessage", channel_, "", "", text, now,
         [this, keep = shared_from_this(), key, finish](ActionResult r, std::string, std::string ts_channel) {
           if (r.outcome == ActionOutcome::kSuccess && !ts_channel.empty()) {
             Status s = SaveState(key, ts_channel);
             if (!s.ok()) r.summary += " (state not saved: " + std::string(s.message()) + ")";
           }
           finish(std::move(r));
         });
  }

  // One Web API call. `done` gets the result, Slack's error code and, on
  // success, {"channel":..,"ts":..} of the message.
  void Call(const ActionRequest& request, const std::string& method, const std::string& channel,
            const std::string& ts, const std::string& thread_ts, const std::string& text,
            std::int64_t now, CallDone done) {
    HttpRequest r = NewRequest(conn_, request, "POST", api_url_ + "/" + method);
    r.headers.emplace_back("Authorization", "Bearer " + token_);
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    w.Key("channel");
    WriteString(w, channel);
    if (!ts.empty()) {
      w.Key("ts");
      WriteString(w, ts);
    }
    if (!thread_ts.empty()) {
      w.Key("thread_ts");
      WriteString(w, thread_ts);
    }
    w.Key("text");
    WriteString(w, text);
    w.EndObject();
    r.headers.emplace_back("Content-Type", "application/json; charset=utf-8");
    r.body = buf.GetString();
    Send(std::move(r), [method, now, done = std::move(done)](HttpResult res) {
      ActionResult out = ResultFromHttp(res, "slack " + method, now);
      if (out.outcome != ActionOutcome::kSuccess) return done(std::move(out), "", "");
      rapidjson::Document doc;
      doc.Parse(res.response.body.data(), res.response.body.size());
      if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("ok") || !doc["ok"].IsBool()) {
        ActionResult bad = ActionResult::Permanent("slack " + method + ": the answer is not Slack's JSON: " +
                                                   Excerpt(res.response.body, 120));
        bad.http_status = res.response.status;
        bad.output = res.response.body.substr(0, kOutputCap);
        return done(std::move(bad), "", "");
      }
      if (!doc["ok"].GetBool()) {
        const std::string error = GetMember(doc, "error");
        ActionResult failed = error == "ratelimited"
                                  ? ActionResult::Retryable("slack " + method + ": ratelimited")
                                  : ActionResult::Permanent("slack " + method + ": " + error);
        failed.http_status = res.response.status;
        failed.output = out.output;
        return done(std::move(failed), error, "");
      }
      const std::string ts_out = GetMember(doc, "ts");
      const std::string channel_out = GetMember(doc, "channel");
      out.summary = "slack " + method + " ok, ts " + ts_out;
      std::string state = "{\"channel\":" + JsonString(channel_out) + ",\"ts\":" + JsonString(ts_out) + "}";
      done(std::move(out), "", ts_out.empty() ? "" : state);
    });
  }

  std::string api_url_;
  std::string token_;
  std::string channel_;
  std::string webhook_url_;
};

// ---- statuspage ---------------------------------------------------------------

constexpr std::string_view kDefaultInvestigating =
    "We are currently investigating elevated error rates affecting our inference API. Users may "
    "experience increased response times or failures when making inference requests. We are "
    "actively working to resolve this issue.";
constexpr std::string_view kDefaultIdentified =
    "We have identified the root cause as a dependency issue and are implementing a fix. Service "
    "should be restored within 30 minutes.";
constexpr std::string_view kDefaultResolved =
    "The issue has been resolved. All services are operating normally. We will publish a "
    "post-mortem within 24 hours.";


class StatuspageHandler final : public HttpHandlerBase {
 public:
  struct Templates {
    // The same data as step templates (actions/template_data.h).
    tmpl::DataTemplate name;
    std::map<std::string, tmpl::DataTemplate> bodies;  // by phase
  };

  StatuspageHandler(const HandlerContext& context, HttpConnectionConfig conn, std::string api_url,
                    std::string page_id, std::string api_key, Templates templates)
      : HttpHandlerBase(context, std::move(conn)),
        api_url_(StripTrailingSlash(std::move(api_url))),
        page_id_(std::move(page_id)),
        templates_(std::move(templates)) {
    conn_.headers.emplace_back("Authorization", "OAuth " + api_key);
  }

  bool Accepts(ActionTrigger trigger) const override {
    return trigger == ActionTrigger::kIncidentUpdate;
  }

  Result<std::string> Render(const ActionRequest& request) const override {
    if (request.alerts.empty()) return Status::InvalidArgument("statuspage: no alert in the request");
    NIMIFY_ASSIGN_OR_RETURN(std::string name, Name(request));
    NIMIFY_RETURN_IF_ERROR(Body(request, StatuspagePhase(request)).status());
    return "statuspage " + page_id_ + ": " + StatuspagePhase(request) + " \"" + name + "\"";
  }

  void Execute(const ActionRequest& request, ActionDone done) override {
    if (request.alerts.empty()) return done(ActionResult::Permanent("statuspage: no alert in the request"));
    const std::string key = IncidentKey(request);
    const std::int64_t now = RequestNowMs(request);
    auto shared_done = std::make_shared<ActionDone>(std::move(done));
    queue_.Run(key, [this, keep = shared_from_this(), request, key, now, shared_done](std::function<void()> next) {
      auto finish = [shared_done, next](ActionResult r) {
        next();
        (*shared_done)(std::move(r));
      };
      Result<std::optional<rapidjson::Document>> state = LoadState(key);
      if (!state.ok()) {
        return finish(ActionResult::Retryable("statuspage: state store: " + std::string(state.status().message())));
      }
      const std::string phase = StatuspagePhase(request);
      Result<std::string> name = Name(request);
      Result<std::string> body_text = Body(request, phase);
      if (!name.ok() || !body_text.ok()) {
        return finish(ActionResult::Permanent(
            "statuspage: " + std::string((name.ok() ? body_text.status() : name.status()).message())));
      }
      const std::string body = *body_text;
      const std::string incidents = api_url_ + "/v1/pages/" + PercentEncode(page_id_) + "/incidents";
      std::string id;
      if (state->has_value()) {
        id = GetMember(**state, "id");
        if (GetMember(**state, "status") == phase) {
          return finish(ActionResult::Success("statuspage incident " + id + " already " + phase));
        }
      }
      if (id.empty() && phase == "resolved") {
        return finish(ActionResult::Success("statuspage: no incident to resolve"));
      }
      rapidjson::StringBuffer buf;
      JsonWriter w(buf);
      w.StartObject();
      w.Key("incident");
      w.StartObject();
      if (id.empty()) {
        w.Key("name");
        WriteString(w, *name);
      }
      w.Key("status");
      WriteString(w, phase);
      w.Key("body");
      WriteString(w, body);
      w.EndObject();
      w.EndObject();
      HttpRequest r = NewRequest(conn_, request, id.empty() ? "POST" : "PATCH",
                                 id.empty() ? incidents : incidents + "/" + PercentEncode(id));
      SetJsonBody(&r, buf.GetString());
      Send(std::move(r), [this, keep, key, id, phase, now, finish](HttpResult res) {
        ActionResult out = ResultFromHttp(res, "statuspage", now);
        if (out.outcome != ActionOutcome::kSuccess) return finish(std::move(out));
        std::string incident_id = id;
        if (incident_id.empty()) {
          rapidjson::Document doc;
          doc.Parse(res.response.body.data(), res.response.body.size());
          incident_id = doc.HasParseError() ? "" : GetMember(doc, "id");
          if (incident_id.empty()) {
            ActionResult bad = ActionResult::Permanent("statuspage: the answer has no incident id: " +
                                                       Excerpt(res.response.body, 120));
            bad.http_status = res.response.status;
            return finish(std::move(bad));
          }
        }
        Status s = SaveState(key, "{\"id\":" + JsonString(incident_id) + ",\"status\":" + JsonString(phase) + "}");
        out.summary = "statuspage incident " + incident_id + " " + phase + " (HTTP " +
                      std::to_string(res.response.status) + ")";
        if (!s.ok()) out.summary += " (state not saved: " + std::string(s.message()) + ")";
        finish(std::move(out));
      });
    });
  }

 private:
  Result<std::string> Name(const ActionRequest& request) const {
    return templates_.name.Execute(MakeTemplateData(request));
  }
  Result<std::string> Body(const ActionRequest& request, const std::string& phase) const {
    auto it = templates_.bodies.find(phase);
    return it == templates_.bodies.end() ? std::string() : it->second.Execute(MakeTemplateData(request));
  }

  std::string api_url_;
  std::string page_id_;
  Templates templates_;
};

// ---- alertmanager -------------------------------------------------------------

struct SilenceSpec {
  std::vector<Matcher> matchers;
  std::chrono::milliseconds duration{3600 * 1000};
  std::string comment;
  std::string created_by = "nimify";
};

class AlertmanagerHandler final : public HttpHandlerBase {
 public:
  AlertmanagerHandler(const HandlerContext& context, HttpConnectionConfig conn, std::vector<HttpUrl> urls,
                      std::chrono::milliseconds firing_valid_for)
      : HttpHandlerBase(context, std::move(conn)), urls_(std::move(urls)), firing_valid_for_(firing_valid_for) {}

  bool Accepts(ActionTrigger) const override { return true; }

  Status ValidateParams(const ConfigNode& params) const override {
    if (params.is_null()) return Status::Ok();
    NIMIFY_RETURN_IF_ERROR(params.CheckKeys({"create_silence"}, "alertmanager step"));
    if (const ConfigNode* s = params.Find("create_silence")) {
      NIMIFY_RETURN_IF_ERROR(
          s->CheckKeys({"matchers", "duration", "comment", "created_by"}, "create_silence"));
      if (s->Find("matchers") == nullptr) return s->Error("create_silence needs matchers");
      if (const ConfigNode* d = s->Find("duration"); d != nullptr && d->text().find("{{") == std::string::npos) {
        NIMIFY_RETURN_IF_ERROR(d->AsDuration().status());
      }
    }
    return Status::Ok();
  }

  Result<std::string> Render(const ActionRequest& request) const override {
    if (const ConfigNode* s = request.params.Find("create_silence")) {
      NIMIFY_ASSIGN_OR_RETURN(SilenceSpec spec, ReadSilence(*s));
      Matchers sorted = spec.matchers;
      return "POST " + Base(0) + "/api/v2/silences " + MatchersToString(sorted) + " for " +
             std::to_string(spec.duration.count() / 1000) + "s";
    }
    return "POST " + Base(0) + "/api/v2/alerts (" + std::to_string(request.alerts.size()) + " alerts)";
  }

  void Execute(const ActionRequest& request, ActionDone done) override {
    const std::int64_t now = RequestNowMs(request);
    if (const ConfigNode* s = request.params.Find("create_silence")) {
      Result<SilenceSpec> spec = ReadSilence(*s);
      if (!spec.ok()) return done(ActionResult::Permanent(std::string(spec.status().message())));
      return CreateSilence(request, SilenceJson(*spec, now), 0, now, std::move(done));
    }
    // Every Alertmanager gets the alerts (as Prometheus sends to each); one
    // success is enough, like Prometheus counts it.
    // Thread safety: `mu` guards `left` and `results`; `done` is called only
    // by the last callback, which takes the results out under the lock.
    struct Gather {
      Gather(std::size_t n, ActionDone d) : left(n), results(n), done(std::move(d)) {}
      Mutex mu;
      std::size_t left NIMIFY_GUARDED_BY(mu);
      std::vector<ActionResult> results NIMIFY_GUARDED_BY(mu);
      ActionDone done;
    };
    auto gather = std::make_shared<Gather>(urls_.size(), std::move(done));
    const std::string body = AlertsJson(request, now);
    for (std::size_t i = 0; i < urls_.size(); ++i) {
      HttpRequest r = NewRequest(conn_, request, "POST", Base(i) + "/api/v2/alerts");
      SetJsonBody(&r, body);
      Send(std::move(r), [gather, i, now, base = Base(i)](HttpResult res) {
        ActionResult one = ResultFromHttp(res, "alertmanager " + base, now);
        bool last = false;
        std::vector<ActionResult> results;  // filled for the last callback only
        {
          MutexLock lock(gather->mu);
          gather->results[i] = std::move(one);
          last = --gather->left == 0;
          if (last) results = std::move(gather->results);
        }
        if (!last) return;
        ActionResult best;
        bool any_success = false;
        bool any_retryable = false;
        std::string summaries;
        for (const auto& each : results) {
          any_success = any_success || each.outcome == ActionOutcome::kSuccess;
          any_retryable = any_retryable || each.outcome == ActionOutcome::kRetryableFailure;
          if (!summaries.empty()) summaries += "; ";
          summaries += each.summary;
          if (best.http_status == 0 || each.outcome == ActionOutcome::kSuccess) best.http_status = each.http_status;
          best.retry_after = std::max(best.retry_after, each.retry_after);
        }
        best.summary = summaries;
        best.outcome = any_success ? ActionOutcome::kSuccess
                       : any_retryable ? ActionOutcome::kRetryableFailure
                                       : ActionOutcome::kPermanentFailure;
        gather->done(std::move(best));
      });
    }
  }

 private:
  std::string Base(std::size_t i) const {
    const HttpUrl& u = urls_[i];
    return u.Origin() + StripTrailingSlash(u.target.substr(0, u.target.find('?')));
  }

  static Result<SilenceSpec> ReadSilence(const ConfigNode& node) {
    SilenceSpec spec;
    const ConfigNode* ms = node.Find("matchers");
    if (ms == nullptr || !ms->is_sequence() || ms->items().empty()) {
      return node.Error("alertmanager: refused: create_silence needs a list of matchers");
    }
    for (const auto& item : ms->items()) {
      if (item.is_scalar()) {
        Result<Matcher> m = ParseMatcher(item.text());
        if (!m.ok()) return item.Error("alertmanager: refused: " + std::string(m.status().message()));
        spec.matchers.push_back(std::move(*m));
        continue;
      }
      NIMIFY_RETURN_IF_ERROR(item.CheckKeys({"name", "value", "is_regex", "is_equal"}, "matcher"));
      NIMIFY_ASSIGN_OR_RETURN(std::string name, OptionalString(item, "name"));
      NIMIFY_ASSIGN_OR_RETURN(std::string value, OptionalString(item, "value"));
      bool is_regex = false;
      bool is_equal = true;
      if (const ConfigNode* b = item.Find("is_regex")) {
        NIMIFY_ASSIGN_OR_RETURN(is_regex, b->AsBool());
      }
      if (const ConfigNode* b = item.Find("is_equal")) {
        NIMIFY_ASSIGN_OR_RETURN(is_equal, b->AsBool());
      }
      const MatchType type = is_regex ? (is_equal ? MatchType::kRegexp : MatchType::kNotRegexp)
                                      : (is_equal ? MatchType::kEqual : MatchType::kNotEqual);
      Result<Matcher> m = Matcher::Create(type, name, value);
      if (!m.ok()) return item.Error("alertmanager: refused: " + std::string(m.status().message()));
      spec.matchers.push_back(std::move(*m));
    }
    bool narrows = false;
    for (const auto& m : spec.matchers) {
      if (m.name().empty()) return ms->Error("alertmanager: refused: a matcher without a label name");
      narrows = narrows || !m.Matches(std::string_view());
    }
    // A label that rendered empty would silence every alert lacking it.
    if (!narrows) return ms->Error("alertmanager: refused: every matcher matches the empty string");
    if (const ConfigNode* d = node.Find("duration")) {
      NIMIFY_ASSIGN_OR_RETURN(spec.duration, d->AsDuration());
      if (spec.duration.count() <= 0) return d->Error("alertmanager: duration must be positive");
    }
    NIMIFY_ASSIGN_OR_RETURN(spec.comment, OptionalString(node, "comment", "created by nimify"));
    NIMIFY_ASSIGN_OR_RETURN(spec.created_by, OptionalString(node, "created_by", "nimify"));
    return spec;
  }

  static std::string SilenceJson(const SilenceSpec& spec, std::int64_t now) {
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    w.Key("matchers");
    w.StartArray();
    for (const auto& m : spec.matchers) {
      w.StartObject();
      w.Key("name");
      WriteString(w, m.name());
      w.Key("value");
      WriteString(w, m.value());
      w.Key("isRegex");
      w.Bool(m.type() == MatchType::kRegexp || m.type() == MatchType::kNotRegexp);
      w.Key("isEqual");
      w.Bool(m.type() == MatchType::kEqual || m.type() == MatchType::kRegexp);
      w.EndObject();
    }
    w.EndArray();
    w.Key("startsAt");
    WriteString(w, FormatRfc3339(now));
    w.Key("endsAt");
    WriteString(w, FormatRfc3339(now + spec.duration.count()));
    w.Key("createdBy");
    WriteString(w, spec.created_by);
    w.Key("comment");
    WriteString(w, spec.comment);
    w.EndObject();
    return buf.GetString();
  }

  // Tries the Alertmanagers in order until one takes the silence (the
  // cluster gossips it to the others).
  void CreateSilence(const ActionRequest& request, std::string body, std::size_t index, std::int64_t now,
                     ActionDone done) {
    HttpRequest r = NewRequest(conn_, request, "POST", Base(index) + "/api/v2/silences");
    SetJsonBody(&r, body);
    Send(std::move(r), [this, keep = shared_from_this(), request, body, index, now, done = std::move(done)](HttpResult res) mutable {
      ActionResult out = ResultFromHttp(res, "alertmanager silence", now);
      if (out.outcome == ActionOutcome::kRetryableFailure && index + 1 < urls_.size()) {
        return CreateSilence(request, std::move(body), index + 1, now, std::move(done));
      }
      if (out.outcome == ActionOutcome::kSuccess) {
        rapidjson::Document doc;
        doc.Parse(res.response.body.data(), res.response.body.size());
        const std::string id = doc.HasParseError() ? "" : GetMember(doc, "silenceID");
        out.summary = "silence " + id + " (HTTP " + std::to_string(res.response.status) + ")";
      }
      done(std::move(out));
    });
  }

  std::string AlertsJson(const ActionRequest& request, std::int64_t now) const {
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartArray();
    for (const auto& a : request.alerts) {
      w.StartObject();
      w.Key("labels");
      WriteLabels(w, a.labels);
      w.Key("annotations");
      WriteLabels(w, a.annotations);
      w.Key("startsAt");
      WriteString(w, FormatRfc3339(a.starts_at_ms));
      if (a.state == AlertState::kResolved) {
        w.Key("endsAt");
        WriteString(w, FormatRfc3339(a.ends_at_ms > 0 ? a.ends_at_ms : now));
      } else if (firing_valid_for_.count() > 0) {
        w.Key("endsAt");
        WriteString(w, FormatRfc3339(now + firing_valid_for_.count()));
      }
      w.Key("generatorURL");
      WriteString(w, a.generator_url);
      w.EndObject();
    }
    w.EndArray();
    return buf.GetString();
  }

  std::vector<HttpUrl> urls_;
  std::chrono::milliseconds firing_valid_for_;
};

// ---- factories ----------------------------------------------------------------

Status CheckHandlerKeys(const ConfigNode& config, std::string_view what,
                        std::initializer_list<std::string_view> own) {
  std::vector<std::string_view> all(own);
  all.insert(all.end(), std::begin(kConnectionKeys), std::end(kConnectionKeys));
  if (!config.is_map()) return config.Error(std::string(what) + ": config must be a mapping");
  for (const auto& [k, v] : config.entries()) {
    if (std::find(all.begin(), all.end(), k) == all.end()) {
      return v.Error("field \"" + k + "\" not found in " + std::string(what) + " config");
    }
  }
  return Status::Ok();
}

Result<std::shared_ptr<ActionHandler>> MakeHttp(const ConfigNode& config, const HandlerContext& ctx) {
  NIMIFY_RETURN_IF_ERROR(CheckHandlerKeys(config, "http", {"base_url"}));
  NIMIFY_ASSIGN_OR_RETURN(HttpConnectionConfig conn, ReadConnectionConfig(config));
  NIMIFY_ASSIGN_OR_RETURN(HttpUrl base, ReadUrl(config, "base_url", true));
  return std::shared_ptr<ActionHandler>(std::make_shared<HttpStepHandler>(ctx, std::move(conn), std::move(base)));
}

Result<std::shared_ptr<ActionHandler>> MakeWebhook(const ConfigNode& config, const HandlerContext& ctx) {
  NIMIFY_RETURN_IF_ERROR(CheckHandlerKeys(config, "webhook", {"url", "max_alerts", "external_url"}));
  NIMIFY_ASSIGN_OR_RETURN(HttpConnectionConfig conn, ReadConnectionConfig(config));
  NIMIFY_ASSIGN_OR_RETURN(HttpUrl url, ReadUrl(config, "url", true));
  std::size_t max_alerts = 0;
  if (const ConfigNode* n = config.Find("max_alerts")) {
    NIMIFY_ASSIGN_OR_RETURN(std::int64_t v, n->AsInt());
    if (v < 0) return n->Error("max_alerts must not be negative");
    max_alerts = static_cast<std::size_t>(v);
  }
  NIMIFY_ASSIGN_OR_RETURN(std::string external_url, OptionalString(config, "external_url"));
  NIMIFY_ASSIGN_OR_RETURN(std::string url_text, config.Find("url")->AsString());
  return std::shared_ptr<ActionHandler>(std::make_shared<WebhookHandler>(
      ctx, std::move(conn), std::move(url_text), max_alerts, std::move(external_url)));
}

Result<std::shared_ptr<ActionHandler>> MakeSlack(const ConfigNode& config, const HandlerContext& ctx) {
  NIMIFY_RETURN_IF_ERROR(CheckHandlerKeys(config, "slack",
                                          {"api_url", "token", "token_file", "channel", "webhook_url"}));
  NIMIFY_ASSIGN_OR_RETURN(HttpConnectionConfig conn, ReadConnectionConfig(config));
  NIMIFY_ASSIGN_OR_RETURN(HttpUrl api, ReadUrl(config, "api_url", false, "https://slack.com/api"));
  NIMIFY_ASSIGN_OR_RETURN(std::string api_text, OptionalString(config, "api_url", "https://slack.com/api"));
  NIMIFY_ASSIGN_OR_RETURN(std::string token, ReadSecret(config, "token"));
  NIMIFY_ASSIGN_OR_RETURN(std::string channel, OptionalString(config, "channel"));
  std::string webhook;
  if (config.Find("webhook_url") != nullptr) {
    NIMIFY_RETURN_IF_ERROR(ReadUrl(config, "webhook_url", true).status());
    NIMIFY_ASSIGN_OR_RETURN(webhook, OptionalString(config, "webhook_url"));
    if (!token.empty()) return config.Error("slack: set either webhook_url or token, not both");
  } else if (token.empty() || channel.empty()) {
    return config.Error("slack: needs token (or token_file) and channel, or webhook_url");
  }
  if (!IsSafeHeaderValue(token)) return config.Error("slack: the token contains CR or LF");
  (void)api;
  return std::shared_ptr<ActionHandler>(std::make_shared<SlackHandler>(
      ctx, std::move(conn), std::move(api_text), std::move(token), std::move(channel), std::move(webhook)));
}

Result<std::shared_ptr<ActionHandler>> MakeStatuspage(const ConfigNode& config, const HandlerContext& ctx) {
  NIMIFY_RETURN_IF_ERROR(CheckHandlerKeys(
      config, "statuspage", {"api_url", "page_id", "api_key", "api_key_file", "name", "bodies"}));
  NIMIFY_ASSIGN_OR_RETURN(HttpConnectionConfig conn, ReadConnectionConfig(config));
  NIMIFY_RETURN_IF_ERROR(ReadUrl(config, "api_url", false, "https://api.statuspage.io").status());
  NIMIFY_ASSIGN_OR_RETURN(std::string api_url, OptionalString(config, "api_url", "https://api.statuspage.io"));
  NIMIFY_ASSIGN_OR_RETURN(std::string page_id, OptionalString(config, "page_id"));
  if (page_id.empty()) return config.Error("statuspage: missing field \"page_id\"");
  NIMIFY_ASSIGN_OR_RETURN(std::string key, ReadSecret(config, "api_key"));
  if (key.empty()) return config.Error("statuspage: needs api_key or api_key_file");
  if (!IsSafeHeaderValue(key)) return config.Error("statuspage: the api_key contains CR or LF");

  auto compile = [](const ConfigNode* node, std::string_view fallback,
                    std::string_view what) -> Result<tmpl::DataTemplate> {
    std::string text(fallback);
    if (node != nullptr) {
      NIMIFY_ASSIGN_OR_RETURN(text, node->AsString());
    }
    Result<tmpl::DataTemplate> t = tmpl::DataTemplate::Compile(text, what);
    if (!t.ok() && node != nullptr) return node->Error(t.status().message());
    return t;
  };
  NIMIFY_ASSIGN_OR_RETURN(tmpl::DataTemplate name,
                          compile(config.Find("name"), "{{ $labels.alertname }}", "name"));
  StatuspageHandler::Templates templates{std::move(name), {}};
  const ConfigNode* bodies = config.Find("bodies");
  if (bodies != nullptr) {
    NIMIFY_RETURN_IF_ERROR(bodies->CheckKeys({"investigating", "identified", "monitoring", "resolved"}, "bodies"));
  }
  const std::pair<const char*, std::string_view> defaults[] = {{"investigating", kDefaultInvestigating},
                                                                {"identified", kDefaultIdentified},
                                                                {"monitoring", kDefaultIdentified},
                                                                {"resolved", kDefaultResolved}};
  for (const auto& [phase, text] : defaults) {
    const ConfigNode* n = bodies == nullptr ? nullptr : bodies->Find(phase);
    NIMIFY_ASSIGN_OR_RETURN(tmpl::DataTemplate t, compile(n, text, phase));
    templates.bodies.emplace(phase, std::move(t));
  }
  return std::shared_ptr<ActionHandler>(std::make_shared<StatuspageHandler>(
      ctx, std::move(conn), std::move(api_url), std::move(page_id), std::move(key), std::move(templates)));
}

Result<std::shared_ptr<ActionHandler>> MakeAlertmanager(const ConfigNode& config, const HandlerContext& ctx) {
  NIMIFY_RETURN_IF_ERROR(CheckHandlerKeys(config, "alertmanager", {"url", "firing_valid_for"}));
  NIMIFY_ASSIGN_OR_RETURN(HttpConnectionConfig conn, ReadConnectionConfig(config));
  const ConfigNode* url = config.Find("url");
  if (url == nullptr) return config.Error("alertmanager: missing field \"url\"");
  std::vector<ConfigNode> items = url->is_sequence() ? url->items() : std::vector<ConfigNode>{*url};
  if (items.empty()) return url->Error("alertmanager: url needs at least one URL");
  std::vector<HttpUrl> urls;
  for (const auto& item : items) {
    NIMIFY_ASSIGN_OR_RETURN(std::string text, item.AsString());
    Result<HttpUrl> u = ParseHttpUrl(text);
    if (!u.ok()) return item.Error(u.status().message());
    urls.push_back(std::move(*u));
  }
  std::chrono::milliseconds valid_for{0};
  if (const ConfigNode* n = config.Find("firing_valid_for")) {
    NIMIFY_ASSIGN_OR_RETURN(valid_for, n->AsDuration());
  }
  return std::shared_ptr<ActionHandler>(
      std::make_shared<AlertmanagerHandler>(ctx, std::move(conn), std::move(urls), valid_for));
}

// Labels equal across every alert (Alertmanager's commonLabels).
OwnedLabels Common(const std::vector<AlertSnapshot>& alerts, bool annotations) {
  if (alerts.empty()) return {};
  OwnedLabels common = annotations ? alerts.front().annotations : alerts.front().labels;
  for (std::size_t i = 1; i < alerts.size(); ++i) {
    const OwnedLabels& other = annotations ? alerts[i].annotations : alerts[i].labels;
    std::erase_if(common, [&](const OwnedLabel& l) {
      return std::find(other.begin(), other.end(), l) == other.end();
    });
  }
  return common;
}

Result<OwnedLabels> ReadLabelObject(const rapidjson::Value& v, std::string_view what) {
  OwnedLabels out;
  if (v.IsNull()) return out;
  if (!v.IsObject()) return Status::InvalidArgument("webhook payload: " + std::string(what) + " is not an object");
  for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
    if (!it->value.IsString()) {
      return Status::InvalidArgument("webhook payload: " + std::string(what) + " values must be strings");
    }
    out.push_back({it->name.GetString(), it->value.GetString()});
  }
  std::sort(out.begin(), out.end(), [](const OwnedLabel& a, const OwnedLabel& b) { return a.name < b.name; });
  return out;
}

}  // namespace

// ---- public helpers -------------------------------------------------------------

std::string FormatRfc3339(std::int64_t unix_ms) {
  if (unix_ms == 0) return "0001-01-01T00:00:00Z";
  std::int64_t secs = unix_ms / 1000;
  std::int64_t frac = unix_ms % 1000;
  if (frac < 0) {
    frac += 1000;
    --secs;
  }
  const std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  if (frac != 0) {
    char f[8];
    std::snprintf(f, sizeof(f), ".%03d", static_cast<int>(frac));
    std::string fs = f;
    while (fs.back() == '0') fs.pop_back();
    out += fs;
  }
  return out + "Z";
}

Result<std::int64_t> ParseRfc3339(std::string_view text) {
  auto bad = [&] { return Status::InvalidArgument("bad RFC 3339 time \"" + std::string(text) + "\""); };
  if (text.size() < 20) return bad();
  std::tm tm{};
  const std::string s(text);
  const char* rest = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) return bad();
  std::int64_t ms = 0;
  if (*rest == '.') {
    ++rest;
    int digits = 0;
    std::int64_t frac = 0;
    while (*rest >= '0' && *rest <= '9') {
      if (digits < 3) frac = frac * 10 + (*rest - '0');
      ++digits;
      ++rest;
    }
    if (digits == 0) return bad();
    for (int d = std::min(digits, 3); d < 3; ++d) frac *= 10;
    ms = frac;
  }
  std::int64_t offset_s = 0;
  if (*rest == 'Z' || *rest == 'z') {
    ++rest;
  } else if (*rest == '+' || *rest == '-') {
    const int sign = *rest == '-' ? -1 : 1;
    int hh = 0, mm = 0;
    if (std::sscanf(rest + 1, "%2d:%2d", &hh, &mm) != 2) return bad();
    offset_s = sign * (hh * 3600 + mm * 60);
    rest += 6;
  } else {
    return bad();
  }
  if (*rest != '\0') return bad();
  if (tm.tm_year + 1900 == 1 && tm.tm_mon == 0 && tm.tm_mday == 1 && tm.tm_hour == 0 && tm.tm_min == 0 &&
      tm.tm_sec == 0 && ms == 0 && offset_s == 0) {
    return std::int64_t{0};
  }
  return (static_cast<std::int64_t>(timegm(&tm)) - offset_s) * 1000 + ms;
}

std::string BuildWebhookPayload(const ActionRequest& request, std::size_t max_alerts,
                                std::string_view external_url) {
  std::vector<AlertSnapshot> alerts = request.alerts;
  std::uint64_t truncated = 0;
  if (max_alerts > 0 && alerts.size() > max_alerts) {
    truncated = alerts.size() - max_alerts;
    alerts.resize(max_alerts);
  }
  const bool firing = std::any_of(alerts.begin(), alerts.end(),
                                  [](const AlertSnapshot& a) { return a.state != AlertState::kResolved; });
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("receiver");
  WriteString(w, request.receiver);
  w.Key("status");
  WriteString(w, firing ? "firing" : "resolved");
  w.Key("alerts");
  w.StartArray();
  for (const auto& a : alerts) {
    const bool resolved = a.state == AlertState::kResolved;
    w.StartObject();
    w.Key("status");
    WriteString(w, resolved ? "resolved" : "firing");
    w.Key("labels");
    WriteLabels(w, a.labels);
    w.Key("annotations");
    WriteLabels(w, a.annotations);
    w.Key("startsAt");
    WriteString(w, FormatRfc3339(a.starts_at_ms));
    w.Key("endsAt");
    WriteString(w, FormatRfc3339(resolved ? a.ends_at_ms : 0));
    w.Key("generatorURL");
    WriteString(w, a.generator_url);
    w.Key("fingerprint");
    WriteString(w, a.fingerprint.empty() ? FingerprintString(Fingerprint(a.labels)) : a.fingerprint);
    w.EndObject();
  }
  w.EndArray();
  w.Key("groupLabels");
  WriteLabels(w, request.group_labels);
  w.Key("commonLabels");
  WriteLabels(w, Common(alerts, false));
  w.Key("commonAnnotations");
  WriteLabels(w, Common(alerts, true));
  w.Key("externalURL");
  WriteString(w, external_url);
  w.Key("version");
  WriteString(w, "4");
  w.Key("groupKey");
  WriteString(w, request.group_key);
  w.Key("truncatedAlerts");
  w.Uint64(truncated);
  w.EndObject();
  return buf.GetString();
}

Result<WebhookMessage> ParseWebhookPayload(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return Status::InvalidArgument("webhook payload: not a JSON object");
  }
  WebhookMessage m;
  m.receiver = GetMember(doc, "receiver");
  m.status = GetMember(doc, "status");
  m.external_url = GetMember(doc, "externalURL");
  m.version = GetMember(doc, "version");
  m.group_key = GetMember(doc, "groupKey");
  if (doc.HasMember("truncatedAlerts") && doc["truncatedAlerts"].IsUint64()) {
    m.truncated_alerts = doc["truncatedAlerts"].GetUint64();
  }
  auto labels = [&](const char* key, OwnedLabels* out) -> Status {
    if (!doc.HasMember(key)) return Status::Ok();
    NIMIFY_ASSIGN_OR_RETURN(*out, ReadLabelObject(doc[key], key));
    return Status::Ok();
  };
  NIMIFY_RETURN_IF_ERROR(labels("groupLabels", &m.group_labels));
  NIMIFY_RETURN_IF_ERROR(labels("commonLabels", &m.common_labels));
  NIMIFY_RETURN_IF_ERROR(labels("commonAnnotations", &m.common_annotations));
  if (!doc.HasMember("alerts") || !doc["alerts"].IsArray()) {
    return Status::InvalidArgument("webhook payload: no alerts array");
  }
  for (const auto& v : doc["alerts"].GetArray()) {
    if (!v.IsObject()) return Status::InvalidArgument("webhook payload: an alert is not an object");
    AlertSnapshot a;
    a.state = GetMember(v, "status") == "resolved" ? AlertState::kResolved : AlertState::kFiring;
    if (v.HasMember("labels")) {
      NIMIFY_ASSIGN_OR_RETURN(a.labels, ReadLabelObject(v["labels"], "labels"));
    }
    if (v.HasMember("annotations")) {
      NIMIFY_ASSIGN_OR_RETURN(a.annotations, ReadLabelObject(v["annotations"], "annotations"));
    }
    NIMIFY_ASSIGN_OR_RETURN(a.starts_at_ms, ParseRfc3339(GetMember(v, "startsAt")));
    NIMIFY_ASSIGN_OR_RETURN(a.ends_at_ms, ParseRfc3339(GetMember(v, "endsAt")));
    a.generator_url = GetMember(v, "generatorURL");
    a.fingerprint = GetMember(v, "fingerprint");
    m.alerts.push_back(std::move(a));
  }
  return m;
}

std::string SlackIncidentText(const ActionRequest& request) {
  const IncidentView& inc = request.incident;
  const AlertSnapshot* alert = request.alerts.empty() ? nullptr : &request.alerts.front();
  std::string alertname = alert ? std::string(LabelValue(alert->labels, "alertname")) : "";
  std::string severity = !inc.severity.empty() ? inc.severity
                         : alert                  ? std::string(LabelValue(alert->labels, "severity"))
                                                  : "";
  std::string status = inc.status;
  if (status.empty()) status = alert && alert->state == AlertState::kResolved ? "resolved" : "investigating";
  if (status == "acknowledged" && !inc.acknowledged_by.empty()) status += " by " + inc.acknowledged_by;
  if (status == "escalated" && !inc.escalated_to.empty()) status += " to " + inc.escalated_to;
  std::string assigned = !inc.acknowledged_by.empty() ? "@" + inc.acknowledged_by
                         : !inc.escalated_to.empty()  ? "@" + inc.escalated_to
                                                      : "unassigned";
  std::string out;
  out += (status == "resolved" ? "✅" : "🚨") + std::string(" *ALERT*: ") + alertname + "\n";
  out += "📊 *Severity*: " + (severity.empty() ? std::string("unknown") : severity) + "\n";
  out += "⏰ *Started*: " + (alert ? FormatRfc3339(alert->starts_at_ms) : std::string("unknown")) + "\n";
  out += "🔍 *Status*: " + Capitalize(status) + "\n";
  out += "👤 *Assigned*: " + assigned + "\n";
  if (!inc.ack_comment.empty()) out += "💬 " + inc.ack_comment + "\n";
  out += "\n*Actions taken*:\n";
  if (inc.steps.empty() && inc.manual_steps.empty()) out += "- [ ] Initial assessment in progress\n";
  for (const auto& s : inc.steps) {
    out += std::string("- [") + (StepDone(s.outcome) ? "x" : " ") + "] " + s.step;
    if (!s.handler.empty()) out += " (" + s.handler + ")";
    out += ": " + s.outcome;
    if (!s.summary.empty()) out += " — " + s.summary;
    out += "\n";
    if (!s.attachment.empty()) out += "```" + s.attachment + "```\n";
  }
  for (const auto& m : inc.manual_steps) out += "- [ ] manual: " + m + "\n";
  out += "\n*ETA for resolution*: " + (inc.eta.empty() ? std::string("unknown") : inc.eta);
  return out;
}

std::string SlackNotificationText(const ActionRequest& request) {
  std::size_t firing = 0;
  for (const auto& a : request.alerts) firing += a.state != AlertState::kResolved ? 1 : 0;
  std::string group;
  for (const auto& l : request.group_labels) group += (group.empty() ? "" : " ") + l.name + "=" + l.value;
  std::string out = firing > 0 ? "🚨 *[FIRING:" + std::to_string(firing) + "]* "
                               : "✅ *[RESOLVED]* ";
  out += group.empty() ? request.receiver : group;
  out += "\n";
  for (const auto& a : request.alerts) {
    out += std::string("- ") + (a.state == AlertState::kResolved ? "resolved" : "firing") + " " +
           std::string(LabelValue(a.labels, "alertname")) + " " + LabelSetString(a.labels);
    const std::string summary(LabelValue(a.annotations, "summary"));
    if (!summary.empty()) out += ": " + summary;
    out += " (since " + FormatRfc3339(a.starts_at_ms) + ")\n";
  }
  return out;
}

std::string StatuspagePhase(const ActionRequest& request) {
  const IncidentView& inc = request.incident;
  const bool resolved = inc.status == "resolved" || request.event == "resolved" ||
                        (!request.alerts.empty() && request.alerts.front().state == AlertState::kResolved);
  if (resolved) return "resolved";
  const bool recovered = std::any_of(inc.steps.begin(), inc.steps.end(),
                                     [](const StepReport& s) { return s.outcome == "recovered"; });
  if (recovered) return "monitoring";
  const bool acted = std::any_of(inc.steps.begin(), inc.steps.end(),
                                 [](const StepReport& s) { return s.outcome == "ran"; });
  if (acted || inc.status == "acknowledged" || inc.status == "escalated") return "identified";
  return "investigating";
}

Status RegisterHttpHandlers(ActionHandlerRegistry& registry) {
  NIMIFY_RETURN_IF_ERROR(registry.Register("http", MakeHttp));
  NIMIFY_RETURN_IF_ERROR(registry.Register("webhook", MakeWebhook));
  NIMIFY_RETURN_IF_ERROR(registry.Register("slack", MakeSlack));
  NIMIFY_RETURN_IF_ERROR(registry.Register("statuspage", MakeStatuspage));
  NIMIFY_RETURN_IF_ERROR(registry.Register("alertmanager", MakeAlertmanager));
  return Status::Ok();
}

}  // namespace nimify::actions
