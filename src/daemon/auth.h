// --web.config.file: the web configuration file of Prometheus's
// exporter-toolkit (basic_auth_users with bcrypt hashes, tls_server_config,
// http_server_config), so existing files work unchanged, plus nimify's
// `nimify_bearer_tokens` with scopes. docs/daemon.md, "Authentication".
//
//   basic_auth_users:
//     alice: $2y$10$...            # htpasswd -nBC 10 "" | tr -d ':\n'
//   nimify_bearer_tokens:
//     - {token_file: /etc/nimify/prometheus.token, scopes: [ingest]}
//     - {token_sha256: 5e884898..., scopes: [read, silence]}
#ifndef NIMIFY_DAEMON_AUTH_H_
#define NIMIFY_DAEMON_AUTH_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/mutex.h"
#include "daemon/http_server.h"
#include "nimify/status.h"

namespace nimify::daemon {

// What a request needs. A basic-auth user may do everything (as in
// exporter-toolkit); a bearer token what its scopes say; kAdmin implies all.
enum Scope : std::uint8_t {
  kScopeNone = 0,  // health and readiness: always open
  kScopeIngest = 1,
  kScopeRead = 2,
  kScopeSilence = 4,  // silences and acknowledgements
  kScopeAdmin = 8,    // reload; implies every other scope
};

// The scope a route (its metrics name, as registered) needs for `method`.
std::uint8_t RequiredScope(std::string_view route, std::string_view method);

// exporter-toolkit's tls_server_config, checked; paths resolved against the
// web config file's directory. tls.h turns it into an OpenSSL context.
struct TlsServerConfig {
  std::string cert_file;
  std::string key_file;
  // NoClientCert (default), RequestClientCert, RequireAnyClientCert,
  // VerifyClientCertIfGiven, RequireAndVerifyClientCert.
  std::string client_auth_type = "NoClientCert";
  std::string client_ca_file;
  std::string min_version = "TLS12";  // TLS10 .. TLS13
  std::string max_version = "TLS13";
  std::vector<std::string> cipher_suites;  // OpenSSL names (TLS 1.2 and below)
  bool prefer_server_cipher_suites = true;
  std::vector<std::string> curve_preferences;  // OpenSSL group names
  // When set, the client certificate must carry one of these SANs (DNS name,
  // e-mail address, IP address or URI, compared as text).
  std::vector<std::string> client_allowed_sans;
};

struct BearerToken {
  std::string sha256_hex;  // of the token
  std::uint8_t scopes = 0;
  std::string origin;      // "file:line:col" of its entry, for logs
};

struct WebConfig {
  std::optional<TlsServerConfig> tls;
  std::map<std::string, std::string> basic_auth_users;  // user -> bcrypt hash
  std::vector<BearerToken> tokens;
  std::vector<std::pair<std::string, std::string>> headers;  // http_server_config.headers
};

// Reads and checks a web config file; token files are read now. Errors read
// "file:line:col: message". Unknown keys are refused, as exporter-toolkit does.
Result<WebConfig> LoadWebConfig(const std::string& path);
Result<WebConfig> ParseWebConfig(std::string_view text, std::string_view origin);

// "$2y$..." against a password with libxcrypt's crypt_r.
bool BcryptMatches(const std::string& hash, const std::string& password);

// Checks the Authorization header of requests.
// Thread safety: Check may be called from any thread; the cache of verified
// basic-auth credentials has its own lock.
class Authenticator {
 public:
  explicit Authenticator(WebConfig config);

  // nullopt: allowed. Otherwise the answer: 401 with WWW-Authenticate for
  // missing or wrong credentials, 403 for a token without the scope.
  std::optional<HttpResponse> Check(std::string_view authorization, std::uint8_t required) const;

  const WebConfig& config() const { return config_; }
  bool enabled() const { return !config_.basic_auth_users.empty() || !config_.tokens.empty(); }

 private:
  bool BasicOk(const std::string& user, const std::string& password) const;

  WebConfig config_;
  mutable Mutex mu_;
  // sha256(user, password, hash) of credentials bcrypt already accepted:
  // bcrypt costs tens of milliseconds on purpose, too much per request.
  mutable std::set<std::string> verified_ NIMIFY_GUARDED_BY(mu_);
};

// The HttpServerOptions::authorize hook for an authenticator.
std::function<std::optional<HttpResponse>(const HttpRequest&, std::string_view)> MakeAuthorizeHook(
    std::shared_ptr<const Authenticator> auth);

// The authenticator in force, replaced when a reload re-reads the web config.
// Thread safety: Get and Set from any thread; mu_ guards the pointer.
class AuthenticatorSlot {
 public:
  explicit AuthenticatorSlot(std::shared_ptr<const Authenticator> auth) : auth_(std::move(auth)) {}
  std::shared_ptr<const Authenticator> Get() const {
    MutexLock lock(mu_);
    return auth_;
  }
  void Set(std::shared_ptr<const Authenticator> auth) {
    MutexLock lock(mu_);
    auth_ = std::move(auth);
  }

 private:
  mutable Mutex mu_;
  std::shared_ptr<const Authenticator> auth_ NIMIFY_GUARDED_BY(mu_);
};

// The hook for whatever authenticator the slot holds at each request.
std::function<std::optional<HttpResponse>(const HttpRequest&, std::string_view)>
MakeReloadableAuthorizeHook(std::shared_ptr<const AuthenticatorSlot> slot);

}  // namespace nimify::daemon

#endif  // NIMIFY_DAEMON_AUTH_H_
