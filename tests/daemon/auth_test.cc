// --web.config.file: exporter-toolkit's basic auth with bcrypt, nimify's
// bearer tokens with scopes, and a daemon that enforces them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "daemon/auth.h"
#include "daemon/daemon.h"
#include "daemon/test_http.h"

namespace nimify::daemon {
namespace {

using ::testing::HasSubstr;
using testing::Get;
using testing::Post;
using testing::SendRaw;

// bcrypt (cost 4) of "secret", as `htpasswd -nbBC 4 alice secret` would give.
constexpr const char* kSecretHash = "$2y$04$dQtSEImOFt9yD//PWbXDruF7.gUHlNw.RzrwiwPheLyDweF5lAUNO";
// Some well-formed token digest (64 hex digits).
constexpr const char* kReadTokenSha = "b5e6e4bd5d1d9dfd5fd0a3c45de6bd4d1d0b5a9b2a1b1e2b3c3cbd50a6b4a9f0";

std::string Basic(const std::string& user_colon_password) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  const std::string& in = user_colon_password;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned n = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i + 1 == in.size()) {
    const unsigned n = static_cast<unsigned char>(in[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const unsigned n = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += '=';
  }
  return "Basic " + out;
}

TEST(AuthTest, BcryptThroughLibxcrypt) {
  EXPECT_TRUE(BcryptMatches(kSecretHash, "secret"));
  EXPECT_FALSE(BcryptMatches(kSecretHash, "Secret"));
  EXPECT_FALSE(BcryptMatches(kSecretHash, ""));
  EXPECT_FALSE(BcryptMatches("$2y$04$garbage", "secret"));
}

TEST(AuthTest, RequiredScopes) {
  EXPECT_EQ(RequiredScope("/-/healthy", "GET"), kScopeNone);
  EXPECT_EQ(RequiredScope("/-/ready", "GET"), kScopeNone);
  EXPECT_EQ(RequiredScope("/-/reload", "POST"), kScopeAdmin);
  EXPECT_EQ(RequiredScope("/api/v1/write", "POST"), kScopeIngest);
  EXPECT_EQ(RequiredScope("/api/v1/import/json", "POST"), kScopeIngest);
  EXPECT_EQ(RequiredScope("/api/v1/query", "POST"), kScopeRead);
  EXPECT_EQ(RequiredScope("/api/v2/silences", "GET"), kScopeRead);
  EXPECT_EQ(RequiredScope("/api/v2/silences", "POST"), kScopeSilence);
  EXPECT_EQ(RequiredScope("/api/v2/silence/:id", "DELETE"), kScopeSilence);
  EXPECT_EQ(RequiredScope("/api/v1/alerts", "GET"), kScopeRead);
  EXPECT_EQ(RequiredScope("/api/v1/alerts", "POST"), kScopeSilence);
  EXPECT_EQ(RequiredScope("/api/v2/ack/:id", "DELETE"), kScopeSilence);
}

TEST(AuthTest, ConfigErrorsCarryPositions) {
  EXPECT_TRUE(ParseWebConfig("", "w.yml").ok());
  Result<WebConfig> c = ParseWebConfig("basic_auth_users:\n  alice: plain\n", "w.yml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("w.yml:2:"));
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("not a bcrypt hash"));
  c = ParseWebConfig("basic_auth_user: {}\n", "w.yml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("basic_auth_user"));
  c = ParseWebConfig("nimify_bearer_tokens: [{token_sha256: abc, scopes: [read]}]\n", "w.yml");
  EXPECT_FALSE(c.ok());
  c = ParseWebConfig(std::string("nimify_bearer_tokens: [{token_sha256: ") + kReadTokenSha +
                         ", scopes: [reed]}]\n",
                     "w.yml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("unknown scope \"reed\""));
  c = ParseWebConfig("tls_server_config: {cert_file: a.crt}\n", "w.yml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("cert_file and key_file"));
}

class AuthServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("nimifyd_auth_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "ingest.token") << "ingest-token\n";
    std::ofstream(dir_ / "read.token") << "read-token\n";
    std::ofstream(dir_ / "admin.token") << "admin-token\n";
    std::ofstream(dir_ / "web.yml") << "basic_auth_users:\n  alice: '" << kSecretHash
                                    << "'\nnimify_bearer_tokens:\n"
                                       "  - {token_file: ingest.token, scopes: [ingest]}\n"
                                       "  - {token_file: read.token, scopes: [read]}\n"
                                       "  - {token_file: admin.token, scopes: [admin]}\n";
    DaemonOptions opts;
    opts.flags.listen_address = "127.0.0.1:0";
    opts.flags.web_config_file = (dir_ / "web.yml").string();
    opts.log_sink = std::make_shared<spdlog::sinks::null_sink_mt>();
    Result<std::unique_ptr<Daemon>> d = Daemon::Start(std::move(opts));
    ASSERT_TRUE(d.ok()) << d.status().message();
    daemon_ = std::move(*d);
    port_ = daemon_->port();
  }
  void TearDown() override {
    daemon_.reset();
    std::filesystem::remove_all(dir_);
  }

  int GetWith(const std::string& target, const std::string& authorization) {
    return SendRaw(port_, "GET " + target + " HTTP/1.1\r\nHost: x\r\nAuthorization: " +
                              authorization + "\r\n\r\n")
        .status;
  }

  std::filesystem::path dir_;
  std::unique_ptr<Daemon> daemon_;
  std::uint16_t port_ = 0;
};

TEST_F(AuthServerTest, BasicAuthAndScopedTokens) {
  EXPECT_EQ(Get(port_, "/-/healthy").status, 200);  // always open
  EXPECT_EQ(Get(port_, "/-/ready").status, 200);
  const testing::RawResponse denied = Get(port_, "/api/v1/labels");
  EXPECT_EQ(denied.status, 401);
  EXPECT_EQ(denied.headers.count("www-authenticate"), 1u);
  EXPECT_EQ(GetWith("/api/v1/labels", Basic("alice:secret")), 200);
  EXPECT_EQ(GetWith("/api/v1/labels", Basic("alice:secret")), 200);  // cached
  EXPECT_EQ(GetWith("/api/v1/labels", Basic("alice:wrong")), 401);
  EXPECT_EQ(GetWith("/api/v1/labels", Basic("bob:secret")), 401);
  EXPECT_EQ(GetWith("/api/v1/labels", "Basic !!!"), 401);
  EXPECT_EQ(GetWith("/api/v1/labels", "Bearer read-token"), 200);
  EXPECT_EQ(GetWith("/api/v1/labels", "Bearer ingest-token"), 403);
  EXPECT_EQ(GetWith("/api/v1/labels", "Bearer admin-token"), 200);
  EXPECT_EQ(GetWith("/api/v1/labels", "Bearer nope"), 401);
  EXPECT_EQ(GetWith("/metrics", "Bearer read-token"), 200);

  const auto post = [&](const std::string& target, const std::string& auth) {
    return Post(port_, target, "up{job=\"a\"} 1\n", "text/plain", "Authorization: " + auth + "\r\n")
        .status;
  };
  EXPECT_EQ(post("/api/v1/import/prometheus", "Bearer read-token"), 403);
  EXPECT_EQ(post("/api/v1/import/prometheus", "Bearer ingest-token"), 204);
  EXPECT_EQ(post("/-/reload", "Bearer read-token"), 403);
  EXPECT_EQ(post("/-/reload", "Bearer admin-token"), 200);
  EXPECT_EQ(post("/api/v2/silences", "Bearer read-token"), 403);
}

}  // namespace
}  // namespace nimify::daemon
