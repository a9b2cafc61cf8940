// `nimify ack` / `nimify unack`: acknowledge alerts on a running nimifyd
// through POST /api/v2/acks and DELETE /api/v2/ack/{id}, with amtool-style
// matchers, as `amtool silence add` / `expire` do for silences.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "actions/http_client.h"
#include "actions/matchers.h"
#include "cli/commands.h"
#include "nimify/config.h"

namespace nimify::cli {
namespace {

constexpr const char* kAckUsage =
    "usage: nimify ack --url=URL [--author=NAME] [--comment=TEXT] [--duration=DUR]\n"
    "                  [--bearer-token-file=FILE] (--fingerprint=FP | matcher...)\n"
    "\n"
    "Acknowledges the alerts that every matcher matches (amtool syntax: name=value,\n"
    "name!=value, name=~regex, name!~regex; a bare word means alertname=word), or the\n"
    "one alert with that fingerprint, on the nimifyd at URL. Escalation stops for\n"
    "them; notifications say who acknowledged. --duration limits it (default: until\n"
    "the alert resolves). Prints the acknowledgement's id.\n"
    "Exit status: 0 ok, 1 the server refused or could not be reached, 2 bad usage.\n";

constexpr const char* kUnackUsage =
    "usage: nimify unack --url=URL [--bearer-token-file=FILE] ID...\n"
    "\n"
    "Removes acknowledgements by id on the nimifyd at URL.\n"
    "Exit status: 0 ok, 1 the server refused or could not be reached, 2 bad usage.\n";

int Usage(const char* cmd, const char* usage, const std::string& msg) {
  std::fprintf(stderr, "nimify %s: %s\n\n%s", cmd, msg.c_str(), usage);
  return 2;
}

bool TakeFlag(const std::string& arg, const char* name, std::string* value) {
  const std::string prefix = std::string("--") + name + "=";
  if (arg.rfind(prefix, 0) != 0) return false;
  *value = arg.substr(prefix.size());
  return true;
}

std::string DefaultAuthor() {
  if (const char* u = std::getenv("USER"); u != nullptr && *u != '\0') return u;
  return "nimify-cli";
}

// One request, synchronously; false and a message on transport errors.
bool Send(const std::string& method, const std::string& url, const std::string& body,
          const std::string& token_file, actions::HttpResponse* out, std::string* error) {
  actions::HttpRequest req;
  req.method = method;
  req.url = url;
  req.body = body;
  req.total_timeout = std::chrono::seconds(30);
  if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    if (!in) {
      *error = "cannot read " + token_file;
      return false;
    }
    std::string token;
    std::getline(in, token);
    while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
    req.headers.emplace_back("Authorization", "Bearer " + token);
  }
  actions::HttpClient client;
  std::promise<actions::HttpResult> done;
  auto result = done.get_future();
  client.Send(std::move(req), [&done](actions::HttpResult r) { done.set_value(std::move(r)); });
  actions::HttpResult r = result.get();
  if (!r.ok()) {
    *error = std::string(actions::HttpErrorName(r.error)) + ": " + r.message;
    return false;
  }
  *out = std::move(r.response);
  return true;
}

std::string TrimSlash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace

int RunAck(const Args& args) {
  std::string url, author = DefaultAuthor(), comment, duration, fingerprint, token_file;
  std::vector<std::string> matcher_args;
  for (const std::string& a : args) {
    if (a == "-h" || a == "--help") {
      std::printf("%s", kAckUsage);
      return 0;
    }
    if (TakeFlag(a, "url", &url) || TakeFlag(a, "author", &author) ||
        TakeFlag(a, "comment", &comment) || TakeFlag(a, "duration", &duration) ||
        TakeFlag(a, "fingerprint", &fingerprint) ||
        TakeFlag(a, "bearer-token-file", &token_file)) {
      continue;
    }
    if (a.rfind("--", 0) == 0) return Usage("ack", kAckUsage, "unknown flag " + a);
    matcher_args.push_back(a);
  }
  if (url.empty()) return Usage("ack", kAckUsage, "--url is required");
  if (fingerprint.empty() == matcher_args.empty()) {
    return Usage("ack", kAckUsage, "give either --fingerprint or matchers");
  }
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  if (!fingerprint.empty()) {
    w.Key("fingerprint");
    w.String(fingerprint.c_str());
  } else {
    w.Key("matchers");
    w.StartArray();
    for (std::size_t i = 0; i < matcher_args.size(); ++i) {
      std::string text = matcher_args[i];
      // amtool: a first argument without an operator is the alertname.
      if (i == 0 && text.find_first_of("=!~") == std::string::npos) text = "alertname=" + text;
      Result<actions::Matchers> ms = actions::ParseMatchers(text);
      if (!ms.ok()) return Usage("ack", kAckUsage, std::string(ms.status().message()));
      for (const actions::Matcher& m : *ms) {
        w.StartObject();
        w.Key("name");
        w.String(m.name().c_str());
        w.Key("value");
        w.String(m.value().c_str());
        w.Key("isRegex");
        w.Bool(m.type() == actions::MatchType::kRegexp ||
               m.type() == actions::MatchType::kNotRegexp);
        w.Key("isEqual");
        w.Bool(m.type() == actions::MatchType::kEqual || m.type() == actions::MatchType::kRegexp);
        w.EndObject();
      }
    }
    w.EndArray();
  }
  w.Key("createdBy");
  w.String(author.c_str());
  w.Key("comment");
  w.String(comment.c_str());
  if (!duration.empty()) {
    Result<std::chrono::milliseconds> d = ConfigNode::Scalar(duration).AsDuration();
    if (!d.ok() || d->count() <= 0) {
      return Usage("ack", kAckUsage, "--duration: not a positive duration: " + duration);
    }
    const auto end = std::chrono::system_clock::now() + *d;
    const std::time_t secs = std::chrono::system_clock::to_time_t(end);
    std::tm tm{};
    ::gmtime_r(&secs, &tm);
    char ts[32];
    std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    w.Key("endsAt");
    w.String(ts);
  }
  w.EndObject();

  actions::HttpResponse res;
  std::string error;
  if (!Send("POST", TrimSlash(url) + "/api/v2/acks", buf.GetString(), token_file, &res, &error)) {
    std::fprintf(stderr, "nimify ack: %s\n", error.c_str());
    return 1;
  }
  rapidjson::Document d;
  d.Parse(res.body.c_str(), res.body.size());
  if (res.status != 200 || d.HasParseError() || !d.IsObject() || !d.HasMember("ackID") ||
      !d["ackID"].IsString()) {
    std::fprintf(stderr, "nimify ack: HTTP %d: %s\n", res.status, res.body.c_str());
    return 1;
  }
  std::printf("%s\n", d["ackID"].GetString());
  return 0;
}

int RunUnack(const Args& args) {
  std::string url, token_file;
  std::vector<std::string> ids;
  for (const std::string& a : args) {
    if (a == "-h" || a == "--help") {
      std::printf("%s", kUnackUsage);
      return 0;
    }
    if (TakeFlag(a, "url", &url) || TakeFlag(a, "bearer-token-file", &token_file)) continue;
    if (a.rfind("--", 0) == 0) return Usage("unack", kUnackUsage, "unknown flag " + a);
    ids.push_back(a);
  }
  if (url.empty()) return Usage("unack", kUnackUsage, "--url is required");
  if (ids.empty()) return Usage("unack", kUnackUsage, "no acknowledgement id given");
  int rc = 0;
  for (const std::string& id : ids) {
    actions::HttpResponse res;
    std::string error;
    if (!Send("DELETE", TrimSlash(url) + "/api/v2/ack/" + actions::PercentEncode(id), "",
              token_file, &res, &error)) {
      std::fprintf(stderr, "nimify unack: %s\n", error.c_str());
      return 1;
    }
    if (res.status != 200) {
      std::fprintf(stderr, "nimify unack: %s: HTTP %d: %s\n", id.c_str(), res.status,
                   res.body.c_str());
      rc = 1;
    }
  }
  return rc;
}

}  // namespace nimify::cli
