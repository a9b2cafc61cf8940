// HTTPS through tls_server_config in --web.config.file: certificates made
// at test time with OpenSSL's C API (a CA, a server and a client cert), the
// daemon in-process on 127.0.0.1:0, and a Boost.Beast TLS client.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <spdlog/sinks/null_sink.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "daemon/auth.h"
#include "daemon/daemon.h"
#include "daemon/test_http.h"
#include "daemon/tls.h"

namespace nimify::daemon {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using ::testing::HasSubstr;

// bcrypt (cost 4) of "secret".
constexpr const char* kSecretHash = "$2y$04$dQtSEImOFt9yD//PWbXDruF7.gUHlNw.RzrwiwPheLyDweF5lAUNO";
constexpr const char* kAliceSecret = "Basic YWxpY2U6c2VjcmV0";  // alice:secret

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertFree {
  void operator()(X509* x) const { X509_free(x); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;

struct KeyPair {
  Key key;
  Cert cert;
};

void AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
  ASSERT_NE(ext, nullptr) << value;
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

enum class Kind { kCa, kServer, kClient };

// A P-256 key and a certificate for it, signed by `issuer` (self-signed when null).
KeyPair MakeCert(const std::string& common_name, Kind kind, const KeyPair* issuer,
                 const char* client_sans = nullptr) {
  static long serial = 1;
  KeyPair out;
  out.key.reset(EVP_EC_gen("P-256"));
  out.cert.reset(X509_new());
  X509* x = out.cert.get();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
  X509_set_pubkey(x, out.key.get());
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0);
  X509* signer = issuer != nullptr ? issuer->cert.get() : x;
  X509_set_issuer_name(x, X509_get_subject_name(signer));
  AddExtension(x, signer, NID_subject_key_identifier, "hash");
  if (kind == Kind::kCa) {
    AddExtension(x, signer, NID_basic_constraints, "critical,CA:TRUE");
    AddExtension(x, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    AddExtension(x, signer, NID_basic_constraints, "critical,CA:FALSE");
    AddExtension(x, signer, NID_authority_key_identifier, "keyid:always");
    AddExtension(x, signer, NID_key_usage, "critical,digitalSignature");
    AddExtension(x, signer, NID_ext_key_usage, kind == Kind::kServer ? "serverAuth" : "clientAuth");
    if (kind == Kind::kServer) {
      AddExtension(x, signer, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
    } else if (client_sans != nullptr) {
      AddExtension(x, signer, NID_subject_alt_name, client_sans);
    }
  }
  EVP_PKEY* signing_key = issuer != nullptr ? issuer->key.get() : out.key.get();
  EXPECT_GT(X509_sign(x, signing_key, EVP_sha256()), 0);
  return out;
}

void WritePem(const std::filesystem::path& cert_path, const std::filesystem::path& key_path,
              const KeyPair& kp) {
  FILE* f = std::fopen(cert_path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  PEM_write_X509(f, kp.cert.get());
  std::fclose(f);
  f = std::fopen(key_path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  PEM_write_PrivateKey(f, kp.key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
}

struct ClientOptions {
  std::string ca_file;      // trust root for the server's certificate
  std::string cert_file;    // client certificate (optional)
  std::string key_file;
  std::string authorization;
  int max_version = 0;      // e.g. TLS1_2_VERSION
};

struct HttpsResult {
  bool connected = false;
  bool handshake_ok = false;
  std::string error;  // of the step that failed
  int status = 0;     // 0: no response
  std::string body;
};

// Runs one asynchronous step to completion or until `timeout`.
template <class Start>
beast::error_code RunStep(asio::io_context& ioc, Start start, std::chrono::milliseconds timeout) {
  beast::error_code result = asio::error::timed_out;
  bool done = false;
  start([&](beast::error_code ec, auto&&...) {
    result = ec;
    done = true;
  });
  ioc.restart();
  ioc.run_for(timeout);
  if (!done) result = asio::error::timed_out;
  return result;
}

HttpsResult HttpsGet(std::uint16_t port, const std::string& target, const ClientOptions& opts) {
  HttpsResult out;
  asio::io_context ioc;
  ssl::context ctx(ssl::context::tls_client);
  ctx.set_verify_mode(ssl::verify_peer);
  ctx.load_verify_file(opts.ca_file);
  if (!opts.cert_file.empty()) {
    ctx.use_certificate_chain_file(opts.cert_file);
    ctx.use_private_key_file(opts.key_file, ssl::context::pem);
  }
  if (opts.max_version != 0) SSL_CTX_set_max_proto_version(ctx.native_handle(), opts.max_version);
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  stream.set_verify_callback(ssl::host_name_verification("127.0.0.1"));
  const auto timeout = std::chrono::seconds(10);
  const asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
  beast::error_code ec = RunStep(
      ioc, [&](auto h) { beast::get_lowest_layer(stream).async_connect(ep, h); }, timeout);
  if (ec) {
    out.error = "connect: " + ec.message();
    return out;
  }
  out.connected = true;
  ec = RunStep(
      ioc, [&](auto h) { stream.async_handshake(ssl::stream_base::client, h); }, timeout);
  if (ec) {
    out.error = "handshake: " + ec.message();
    return out;
  }
  out.handshake_ok = true;
  http::request<http::string_body> req(http::verb::get, target, 11);
  req.set(http::field::host, "127.0.0.1");
  if (!opts.authorization.empty()) req.set(http::field::authorization, opts.authorization);
  ec = RunStep(ioc, [&](auto h) { http::async_write(stream, req, h); }, timeout);
  if (ec) {
    out.error = "write: " + ec.message();
    return out;
  }
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  ec = RunStep(ioc, [&](auto h) { http::async_read(stream, buffer, res, h); }, timeout);
  if (ec) {
    out.error = "read: " + ec.message();
    return out;
  }
  out.status = static_cast<int>(res.result_int());
  out.body = res.body();
  return out;
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("nimifyd_tls_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    ca_ = MakeCert("nimify test CA", Kind::kCa, nullptr);
    const KeyPair server = MakeCert("nimifyd", Kind::kServer, &ca_);
    const KeyPair client = MakeCert("alice", Kind::kClient, &ca_);
    other_ca_ = MakeCert("another CA", Kind::kCa, nullptr);
    const KeyPair stranger = MakeCert("mallory", Kind::kClient, &other_ca_);
    WritePem(dir_ / "ca.crt", dir_ / "ca.key", ca_);
    WritePem(dir_ / "server.crt", dir_ / "server.key", server);
    WritePem(dir_ / "client.crt", dir_ / "client.key", client);
    WritePem(dir_ / "other_ca.crt", dir_ / "other_ca.key", other_ca_);
    WritePem(dir_ / "stranger.crt", dir_ / "stranger.key", stranger);
    std::ofstream(dir_ / "nimify.yml") << "limits: {read_timeout: 700ms}\n";
  }
  void TearDown() override {
    daemon_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Starts the daemon with `tls_yaml` as the body of tls_server_config
  // (paths relative to the web config) and `extra` after it.
  Status StartDaemon(const std::string& tls_yaml, const std::string& extra = "") {
    std::ofstream(dir_ / "web.yml") << "tls_server_config:\n" << tls_yaml << extra;
    DaemonOptions opts;
    opts.flags.listen_address = "127.0.0.1:0";
    opts.flags.web_config_file = (dir_ / "web.yml").string();
    opts.flags.config_file = (dir_ / "nimify.yml").string();
    opts.log_sink = std::make_shared<spdlog::sinks::null_sink_mt>();
    Result<std::unique_ptr<Daemon>> d = Daemon::Start(std::move(opts));
    if (!d.ok()) return d.status();
    daemon_ = std::move(*d);
    port_ = daemon_->port();
    return Status::Ok();
  }

  ClientOptions Trusting() const { return ClientOptions{(dir_ / "ca.crt").string(), "", "", "", 0}; }
  ClientOptions WithCert(const std::string& name) const {
    ClientOptions o = Trusting();
    o.cert_file = (dir_ / (name + ".crt")).string();
    o.key_file = (dir_ / (name + ".key")).string();
    return o;
  }

  static constexpr const char* kServerPair = "  cert_file: server.crt\n  key_file: server.key\n";

  std::filesystem::path dir_;
  KeyPair ca_;
  KeyPair other_ca_;
  std::unique_ptr<Daemon> daemon_;
  std::uint16_t port_ = 0;
};

TEST_F(TlsTest, ServesHttpsAndTheClientVerifiesTheServer) {
  ASSERT_TRUE(StartDaemon(kServerPair).ok());
  HttpsResult r = HttpsGet(port_, "/-/healthy", Trusting());
  EXPECT_TRUE(r.handshake_ok) << r.error;
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_THAT(r.body, HasSubstr("Healthy"));
  r = HttpsGet(port_, "/api/v1/labels", Trusting());
  EXPECT_EQ(r.status, 200) << r.error;  // no users configured: open
  // A client that trusts another CA refuses the server.
  ClientOptions wrong = Trusting();
  wrong.ca_file = (dir_ / "other_ca.crt").string();
  r = HttpsGet(port_, "/-/healthy", wrong);
  EXPECT_FALSE(r.handshake_ok);
  EXPECT_EQ(r.status, 0);
  // TLS 1.3 and 1.2 both work by default (min_version TLS12).
  ClientOptions tls12 = Trusting();
  tls12.max_version = TLS1_2_VERSION;
  EXPECT_EQ(HttpsGet(port_, "/-/healthy", tls12).status, 200);
}

TEST_F(TlsTest, PlainHttpToTheTlsPortFailsCleanly) {
  ASSERT_TRUE(StartDaemon(kServerPair).ok());
  const testing::RawResponse plain = testing::Get(port_, "/-/healthy");
  EXPECT_EQ(plain.status, 400);
  EXPECT_THAT(plain.body, HasSubstr("HTTPS"));
  // Garbage that is not HTTP either: closed without an answer.
  const std::string garbage = testing::SendAndReadAll(port_, std::string(64, '\x01'),
                                                      std::chrono::seconds(5));
  EXPECT_EQ(garbage.find("HTTP/1.1 200"), std::string::npos);
  EXPECT_EQ(HttpsGet(port_, "/-/healthy", Trusting()).status, 200);  // still serving
}

TEST_F(TlsTest, BasicAuthOverTlsAndHealthStaysOpen) {
  ASSERT_TRUE(StartDaemon(kServerPair, std::string("basic_auth_users:\n  alice: '") +
                                           kSecretHash + "'\n")
                  .ok());
  EXPECT_EQ(HttpsGet(port_, "/-/healthy", Trusting()).status, 200);
  EXPECT_EQ(HttpsGet(port_, "/-/ready", Trusting()).status, 200);
  EXPECT_EQ(HttpsGet(port_, "/api/v1/labels", Trusting()).status, 401);
  ClientOptions alice = Trusting();
  alice.authorization = kAliceSecret;
  EXPECT_EQ(HttpsGet(port_, "/api/v1/labels", alice).status, 200);
  alice.authorization = "Basic YWxpY2U6d3Jvbmc=";  // alice:wrong
  EXPECT_EQ(HttpsGet(port_, "/api/v1/labels", alice).status, 401);
}

TEST_F(TlsTest, RequireAndVerifyClientCert) {
  ASSERT_TRUE(StartDaemon(std::string(kServerPair) +
                          "  client_auth_type: RequireAndVerifyClientCert\n"
                          "  client_ca_file: ca.crt\n")
                  .ok());
  HttpsResult r = HttpsGet(port_, "/-/healthy", WithCert("client"));
  EXPECT_EQ(r.status, 200) << r.error;
  // Without a certificate (TLS 1.3 reports it on the first read, 1.2 in the handshake).
  r = HttpsGet(port_, "/-/healthy", Trusting());
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.error.empty());
  ClientOptions no_cert_12 = Trusting();
  no_cert_12.max_version = TLS1_2_VERSION;
  r = HttpsGet(port_, "/-/healthy", no_cert_12);
  EXPECT_FALSE(r.handshake_ok);
  EXPECT_EQ(r.status, 0);
  // A certificate from a CA the server does not trust.
  EXPECT_EQ(HttpsGet(port_, "/-/healthy", WithCert("stranger")).status, 0);
  EXPECT_EQ(HttpsGet(port_, "/-/healthy", WithCert("client")).status, 200);  // still serving
}

TEST_F(TlsTest, OtherClientAuthTypes) {
  ASSERT_TRUE(StartDaemon(std::string(kServerPair) +
                          "  client_auth_type: VerifyClientCertIfGiven\n"
                          "  client_ca_file: ca.crt\n")
                  .ok());
  EXPECT_EQ(HttpsGet(port_, "/-/healthy", Trusting()).status, 200);
  EXPECT_EQ(HttpsGet(port_, "/-/healthy", WithCert("client")).status, 200);
  EXPECT_EQ(HttpsGet(port_, "/-/healthy", WithCert("stranger")).status, 0);
  daemon_.reset();
  // RequireAnyClientCert: some certificate, not verified.
  ASSERT_TRUE(StartDaemon(std::string(kServerPair) + "  client_auth_type: RequireAnyClientCert\n")
                  .ok());
  EXPECT_EQ(HttpsGet(port_, "/-/healthy", Trusting()).status, 0);
  EXPECT_EQ(HttpsGet(port_, "/-/healthy", WithCert("stranger")).status, 200);
}

// client_allowed_sans: the client certificate must carry one of the listed
// SANs, whichever kind (DNS, IP, e-mail, URI); none or another is refused.
TEST_F(TlsTest, ClientAllowedSans) {
  const std::pair<const char*, const char*> certs[] = {
      {"by_dns", "DNS:alice.example"},
      {"by_ip", "IP:10.1.2.3"},
      {"by_ipv6", "IP:2001:db8::7"},
      {"by_email", "email:alice@example.com"},
      {"by_uri", "URI:spiffe://example.org/alice"},
      {"other", "DNS:mallory.example,IP:10.9.9.9,email:mallory@example.com"},
  };
  for (const auto& [name, sans] : certs) {
    const KeyPair kp = MakeCert(name, Kind::kClient, &ca_, sans);
    WritePem(dir_ / (std::string(name) + ".crt"), dir_ / (std::string(name) + ".key"), kp);
  }
  const std::string allowed =
      "  client_allowed_sans: [alice.example, 10.1.2.3, '2001:db8::7', alice@example.com,"
      " 'spiffe://example.org/alice']\n";
  ASSERT_TRUE(StartDaemon(std::string(kServerPair) +
                          "  client_auth_type: RequireAndVerifyClientCert\n"
                          "  client_ca_file: ca.crt\n" + allowed)
                  .ok());
  for (const char* ok : {"by_dns", "by_ip", "by_ipv6", "by_email", "by_uri"}) {
    const HttpsResult r = HttpsGet(port_, "/-/healthy", WithCert(ok));
    EXPECT_EQ(r.status, 200) << ok << ": " << r.error;
  }
  EXPECT_EQ(HttpsGet(port_, "/-/healthy", WithCert("other")).status, 0);
  EXPECT_EQ(HttpsGet(port_, "/-/healthy", WithCert("client")).status, 0);  // no SAN at all
  EXPECT_EQ(HttpsGet(port_, "/-/healthy", Trusting()).status, 0);         // no certificate
  EXPECT_EQ(HttpsGet(port_, "/-/healthy", WithCert("by_dns")).status, 200);  // still serving
  daemon_.reset();

  // VerifyClientCertIfGiven: with the list, a certificate becomes necessary.
  ASSERT_TRUE(StartDaemon(std::string(kServerPair) +
                          "  client_auth_type: VerifyClientCertIfGiven\n"
                          "  client_ca_file: ca.crt\n" + allowed)
                  .ok());
  EXPECT_EQ(HttpsGet(port_, "/-/healthy", Trusting()).status, 0);
  EXPECT_EQ(HttpsGet(port_, "/-/healthy", WithCert("by_uri")).status, 200);
  daemon_.reset();

  // RequireAnyClientCert: the chain is not verified, the SAN still is.
  const KeyPair stranger_ok = MakeCert("eve", Kind::kClient, &other_ca_, "DNS:alice.example");
  WritePem(dir_ / "stranger_ok.crt", dir_ / "stranger_ok.key", stranger_ok);
  ASSERT_TRUE(StartDaemon(std::string(kServerPair) +
                          "  client_auth_type: RequireAnyClientCert\n" + allowed)
                  .ok());
  EXPECT_EQ(HttpsGet(port_, "/-/healthy", WithCert("stranger_ok")).status, 200);
  EXPECT_EQ(HttpsGet(port_, "/-/healthy", WithCert("stranger")).status, 0);
}

TEST_F(TlsTest, StalledHandshakeIsClosedAfterTheReadTimeout) {
  ASSERT_TRUE(StartDaemon(kServerPair).ok());
  // Nothing at all, then half a TLS record header: both cut off (read_timeout 700ms).
  const auto silent = testing::TimeUntilClosed(port_, "", std::chrono::seconds(15));
  EXPECT_GE(silent.count(), 0) << "a silent connection stayed open";
  const auto partial = testing::TimeUntilClosed(port_, std::string("\x16\x03\x01\x00", 4),
                                                std::chrono::seconds(15));
  EXPECT_GE(partial.count(), 0) << "a stalled handshake stayed open";
  EXPECT_EQ(HttpsGet(port_, "/-/healthy", Trusting()).status, 200);
}

TEST_F(TlsTest, MinVersionTls13RefusesTls12Clients) {
  ASSERT_TRUE(StartDaemon(std::string(kServerPair) + "  min_version: TLS13\n").ok());
  EXPECT_EQ(HttpsGet(port_, "/-/healthy", Trusting()).status, 200);
  ClientOptions tls12 = Trusting();
  tls12.max_version = TLS1_2_VERSION;
  const HttpsResult r = HttpsGet(port_, "/-/healthy", tls12);
  EXPECT_FALSE(r.handshake_ok);
}

TEST_F(TlsTest, CipherSuitesAndCurvesApply) {
  ASSERT_TRUE(StartDaemon(std::string(kServerPair) +
                          "  max_version: TLS12\n"
                          "  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]\n"
                          "  curve_preferences: [CurveP256, X25519]\n")
                  .ok());
  EXPECT_EQ(HttpsGet(port_, "/-/healthy", Trusting()).status, 200);
}

TEST_F(TlsTest, ReloadPicksUpNewCertificates) {
  ASSERT_TRUE(StartDaemon(kServerPair).ok());
  EXPECT_EQ(HttpsGet(port_, "/-/healthy", Trusting()).status, 200);
  // Replace the server's certificate by one of another CA, then reload.
  const KeyPair renewed = MakeCert("nimifyd", Kind::kServer, &other_ca_);
  WritePem(dir_ / "server.crt", dir_ / "server.key", renewed);
  ASSERT_TRUE(daemon_->Reload().ok());
  EXPECT_EQ(HttpsGet(port_, "/-/healthy", Trusting()).status, 0);
  ClientOptions other = Trusting();
  other.ca_file = (dir_ / "other_ca.crt").string();
  EXPECT_EQ(HttpsGet(port_, "/-/healthy", other).status, 200);
  // A broken key is refused on reload; the running certificate stays.
  std::ofstream(dir_ / "server.key") << "not a key\n";
  const Status st = daemon_->Reload();
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr("server.key"));
  EXPECT_EQ(HttpsGet(port_, "/-/healthy", other).status, 200);
}

TEST_F(TlsTest, BadTlsConfigsStopStartUp) {
  Status st = StartDaemon("  cert_file: server.crt\n");
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr("cert_file and key_file are both required"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("web.yml:2:"));
  st = StartDaemon("  cert_file: missing.crt\n  key_file: server.key\n");
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr("missing.crt"));
  st = StartDaemon("  cert_file: server.crt\n  key_file: client.key\n");
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr("client.key"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("mismatch"));
  st = StartDaemon(std::string(kServerPair) + "  client_auth_type: Sometimes\n");
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr("web.yml:4:"));
  st = StartDaemon(std::string(kServerPair) + "  client_auth_type: RequireAndVerifyClientCert\n");
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr("needs client_ca_file"));
  st = StartDaemon(std::string(kServerPair) + "  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n");
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr("TLS_RSA_WITH_RC4_128_SHA"));
  st = StartDaemon(std::string(kServerPair) + "  min_version: TLS14\n");
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr("min_version"));
  // Without a certificate request the list would restrict nothing: refused.
  st = StartDaemon(std::string(kServerPair) + "  client_allowed_sans: [alice]\n");
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr("client_allowed_sans needs a client_auth_type"));
}

TEST(TlsNamesTest, GoNamesMapToOpenSsl) {
  EXPECT_EQ(OpenSslCipherName("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
            std::optional<std::string>("ECDHE-RSA-AES128-GCM-SHA256"));
  EXPECT_EQ(OpenSslCipherName("TLS_AES_128_GCM_SHA256"), std::optional<std::string>(""));
  EXPECT_EQ(OpenSslCipherName("TLS_RSA_WITH_RC4_128_SHA"), std::nullopt);
  EXPECT_EQ(OpenSslGroupName("CurveP384"), std::optional<std::string>("P-384"));
  EXPECT_EQ(OpenSslGroupName("P384"), std::nullopt);
}

}  // namespace
}  // namespace nimify::daemon
