#include "daemon/tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <boost/asio/ssl/context.hpp>
#include <boost/system/system_error.hpp>
#include <exception>
#include <utility>
#include <vector>

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

// client_allowed_sans lives in the SSL_CTX's ex_data (OpenSSL's verify
// callbacks take no user pointer) and is freed with the context.
void FreeAllowedSans(void* /*parent*/, void* ptr, CRYPTO_EX_DATA* /*ad*/, int /*idx*/,
                     long /*argl*/, void* /*argp*/) {
  delete static_cast<std::vector<std::string>*>(ptr);
}

int AllowedSansIndex() {
  static const int index =
      SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeAllowedSans);
  return index;
}

std::string Ia5Text(const ASN1_IA5STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<std::size_t>(ASN1_STRING_length(s)));
}

// Go's net.IP.String(): dotted quad for IPv4 (also IPv4-mapped IPv6), else RFC 5952.
std::string IpText(const ASN1_OCTET_STRING* s) {
  const unsigned char* b = ASN1_STRING_get0_data(s);
  const int len = ASN1_STRING_length(s);
  std::array<char, INET6_ADDRSTRLEN> buf{};
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (len == 16 && std::equal(kMapped, kMapped + 12, b)) {
    return inet_ntop(AF_INET, b + 12, buf.data(), buf.size()) ? buf.data() : "";
  }
  if (len == 4) return inet_ntop(AF_INET, b, buf.data(), buf.size()) ? buf.data() : "";
  if (len == 16) return inet_ntop(AF_INET6, b, buf.data(), buf.size()) ? buf.data() : "";
  return {};
}

// Whether `cert` carries one of `allowed` among its DNS, e-mail, IP and URI
// SANs (exporter-toolkit compares the same four kinds as text).
bool HasAllowedSan(X509* cert, const std::vector<std::string>& allowed) {
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return false;
  bool found = false;
  for (int i = 0; i < sk_GENERAL_NAME_num(names) && !found; ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
    std::string text;
    switch (g->type) {
      case GEN_DNS: text = Ia5Text(g->d.dNSName); break;
      case GEN_EMAIL: text = Ia5Text(g->d.rfc822Name); break;
      case GEN_URI: text = Ia5Text(g->d.uniformResourceIdentifier); break;
      case GEN_IPADD: text = IpText(g->d.iPAddress); break;
      default: continue;
    }
    found = !text.empty() && std::find(allowed.begin(), allowed.end(), text) != allowed.end();
  }
  GENERAL_NAMES_free(names);
  return found;
}

// The leaf (depth 0) must also carry an allowed SAN; `accept_any` keeps
// RequestClientCert's and RequireAnyClientCert's "not checked otherwise".
int CheckAllowedSans(int preverify_ok, X509_STORE_CTX* store, bool accept_any) {
  if (!accept_any && preverify_ok != 1) return 0;
  if (X509_STORE_CTX_get_error_depth(store) != 0) return 1;
  const auto* ssl = static_cast<const SSL*>(
      X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  const auto* allowed = ssl == nullptr ? nullptr
                                       : static_cast<const std::vector<std::string>*>(
                                             SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl),
                                                                 AllowedSansIndex()));
  X509* leaf = X509_STORE_CTX_get_current_cert(store);
  if (allowed == nullptr || leaf == nullptr || !HasAllowedSan(leaf, *allowed)) {
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
  return 1;
}
int VerifyAllowedSans(int preverify_ok, X509_STORE_CTX* store) {
  return CheckAllowedSans(preverify_ok, store, false);
}
int AcceptAnyWithAllowedSans(int preverify_ok, X509_STORE_CTX* store) {
  return CheckAllowedSans(preverify_ok, store, true);
}

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
  const bool sans = !config.client_allowed_sans.empty();
  if (sans) {
    if (SSL_CTX_set_ex_data(native, AllowedSansIndex(),
                            new std::vector<std::string>(config.client_allowed_sans)) != 1) {
      return fail("client_allowed_sans");
    }
  }
  // With client_allowed_sans a certificate is needed in every mode: without
  // one there is no SAN to allow.
  const int need_cert = sans ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0;
  SSL_verify_cb accept_any = sans ? AcceptAnyWithAllowedSans : AcceptAnyCertificate;
  SSL_verify_cb verify = sans ? VerifyAllowedSans : nullptr;
  if (mode == "RequestClientCert") {
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER | need_cert, accept_any);
  } else if (mode == "RequireAnyClientCert") {
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, accept_any);
  } else if (mode == "VerifyClientCertIfGiven") {
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER | need_cert, verify);
  } else if (mode == "RequireAndVerifyClientCert") {
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify);
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
