// HTTPS for nimifyd: an OpenSSL server context from the `tls_server_config`
// of a --web.config.file (exporter-toolkit's field names and meanings), and
// the web config loaded whole (authenticator + TLS context), for start-up
// and reload. docs/daemon.md, "Authentication".
#ifndef NIMIFY_DAEMON_TLS_H_
#define NIMIFY_DAEMON_TLS_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/auth.h"
#include "nimify/status.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace nimify::daemon {

// The OpenSSL name of a Go cipher suite name (crypto/tls), as exporter-toolkit
// accepts them. "" for TLS 1.3 suites, which Go (and so exporter-toolkit)
// does not let one configure; nullopt for an unknown or unsupported name.
std::optional<std::string> OpenSslCipherName(std::string_view go_name);
// The OpenSSL group of a Go curve name (CurveP256, CurveP384, CurveP521, X25519).
std::optional<std::string> OpenSslGroupName(std::string_view go_name);

// Builds a server context: certificate chain and key, client certificate
// policy, protocol versions, TLS 1.2 cipher suites, curves. Errors name the
// file and OpenSSL's reason. The context is immutable once returned.
Result<std::shared_ptr<boost::asio::ssl::context>> MakeTlsContext(const TlsServerConfig& config);

struct LoadedWebConfig {
  std::shared_ptr<const Authenticator> auth;
  std::shared_ptr<boost::asio::ssl::context> tls;  // null: plain HTTP
};

// LoadWebConfig + MakeTlsContext: everything a web config file sets, checked.
Result<LoadedWebConfig> LoadWebConfigWithTls(const std::string& path);

}  // namespace nimify::daemon

#endif  // NIMIFY_DAEMON_TLS_H_
