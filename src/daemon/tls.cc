#include "daemon/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <array>
#include <boost/asio/ssl/context.hpp>
#include <boost/system/system_error.hpp>
#include <exception>
#include <utility>

namespace nimify::daemon {

namespace {

namespace ssl = boost::asio::ssl;

// OpenSSL's reasons queued on this thread, oldest first; clears the queue.
std::string OpenSslErrors() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    std::array<char, 256> buf{};
    ERR_error_string_n(e, buf.data(), buf.size());
    if (!out.empty()) out += "; ";
    out += buf.data();
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

int ProtocolVersion(const std::string& name) {
  if (name == "TLS10") return TLS1_VERSION;
  if (name == "TLS11") return TLS1_1_VERSION;
  if (name == "TLS12") return TLS1_2_VERSION;
  return TLS1_3_VERSION;
}

// For RequestClientCert and RequireAnyClientCert: a certificate is asked for
// (or required) but not checked, as Go's crypto/tls does for those modes.
int AcceptAnyCertificate(int /*preverify_ok*/, X509_STORE_CTX* /*ctx*/) { return 1; }

}  // namespace

std::optional<std::string> OpenSslCipherName(std::string_view go_name) {
  static constexpr std::pair<std::string_view, std::string_view> kSuites[] = {
      {"TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"},
      {"TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA"},
      {"TLS_RSA_WITH_AES_128_CBC_SHA256", "AES128-SHA256"},
      {"TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256"},
      {"TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"},
      {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"},
      {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"},
      {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"},
      {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"},
      {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA-AES128-SHA256"},
      {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA-AES128-SHA256"},
      {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"},
      {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"},
      {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"},
      {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"},
      {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305"},
      {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "ECDHE-RSA-CHACHA20-POLY1305"},
      {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"},
      {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "ECDHE-ECDSA-CHACHA20-POLY1305"},
      // TLS 1.3: always on, as in Go.
      {"TLS_AES_128_GCM_SHA256", ""},
      {"TLS_AES_256_GCM_SHA384", ""},
      {"TLS_CHACHA20_POLY1305_SHA256", ""},
  };
  for (const auto& [go, ossl] : kSuites) {
    if (go == go_name) return std::string(ossl);
  }
  return std::nullopt;
}

std::optional<std::string> OpenSslGroupName(std::string_view go_name) {
  if (go_name == "CurveP256") return "P-256";
  if (go_name == "CurveP384") return "P-384";
  if (go_name == "CurveP521") return "P-521";
  if (go_name == "X25519") return "X25519";
  return std::nullopt;
}

Result<std::shared_ptr<ssl::context>> MakeTlsContext(const TlsServerConfig& config) {
  ERR_clear_error();
  std::shared_ptr<ssl::context> ctx;
  try {
    ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  } catch (const std::exception& e) {
    return Status::Internal(std::string("TLS: cannot create an OpenSSL context: ") + e.what());
  }
  SSL_CTX* native = ctx->native_handle();
  const auto fail = [](const std::string& what) {
    return Status::InvalidArgument("tls_server_config: " + what + ": " + OpenSslErrors());
  };
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (config.prefer_server_cipher_suites) {
    SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE);
  }
  if (SSL_CTX_set_min_proto_version(native, ProtocolVersion(config.min_version)) != 1 ||
      SSL_CTX_set_max_proto_version(native, ProtocolVersion(config.max_version)) != 1) {
    return fail("min_version/max_version");
  }
  if (SSL_CTX_use_certificate_chain_file(native, config.cert_file.c_str()) != 1) {
    return fail("cert_file " + config.cert_file);
  }
  if (SSL_CTX_use_PrivateKey_file(native, config.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return fail("key_file " + config.key_file);
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return fail("key_file " + config.key_file + " does not match cert_file " + config.cert_file);
  }
  if (!config.cipher_suites.empty()) {
    std::string list;
    for (const std::string& c : config.cipher_suites) list += (list.empty() ? "" : ":") + c;
    if (SSL_CTX_set_cipher_list(native, list.c_str()) != 1) {
      return fail("cipher_suites: none of them is available in this OpenSSL");
    }
  }
  if (!config.curve_preferences.empty()) {
    std::string list;
    for (const std::string& g : config.curve_preferences) list += (list.empty() ? "" : ":") + g;
    if (SSL_CTX_set1_groups_list(native, list.c_str()) != 1) return fail("curve_preferences");
  }
  if (!config.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(native, config.client_ca_file.c_str(), nullptr) != 1) {
      return fail("client_ca_file " + config.client_ca_file);
    }
    // The CA names sent in the certificate request, so clients pick the right cert.
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(config.client_ca_file.c_str());
    if (names == nullptr) return fail("client_ca_file " + config.client_ca_file);
    SSL_CTX_set_client_CA_list(native, names);
  }
  // Sessions resumed with a verified client certificate need an id context.
  static constexpr unsigned char kSessionContext[] = "nimifyd";
  SSL_CTX_set_session_id_context(native, kSessionContext, sizeof(kSessionContext) - 1);
  const std::string& mode = config.client_auth_type;
  if (mode == "RequestClientCert") {
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER, AcceptAnyCertificate);
  } else if (mode == "RequireAnyClientCert") {
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                       AcceptAnyCertificate);
  } else if (mode == "VerifyClientCertIfGiven") {
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
  } else if (mode == "RequireAndVerifyClientCert") {
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  } else {
    SSL_CTX_set_verify(native, SSL_VERIFY_NONE, nullptr);
  }
  return ctx;
}

Result<LoadedWebConfig> LoadWebConfigWithTls(const std::string& path) {
  NIMIFY_ASSIGN_OR_RETURN(WebConfig web, LoadWebConfig(path));
  LoadedWebConfig out;
  if (web.tls) {
    Result<std::shared_ptr<ssl::context>> ctx = MakeTlsContext(*web.tls);
    if (!ctx.ok()) return ctx.status().WithPrefix(path);
    out.tls = std::move(*ctx);
  }
  out.auth = std::make_shared<const Authenticator>(std::move(web));
  return out;
}

}  // namespace nimify::daemon
