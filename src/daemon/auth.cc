#include "daemon/auth.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include "daemon/prom_api.h"
#include "daemon/tls.h"
#include "nimify/config.h"

namespace nimify::daemon {

namespace {

std::string Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// Standard base64 with padding; false on anything else.
bool Base64Decode(std::string_view in, std::string* out) {
  if (in.size() % 4 != 0) return false;
  const auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  out->clear();
  for (std::size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = in[i + k];
      if (c == '=' && i + 4 == in.size() && k >= 2) {
        v[k] = 0;
        ++pad;
      } else {
        if (pad > 0) return false;
        v[k] = value(c);
        if (v[k] < 0) return false;
      }
    }
    const std::uint32_t n = (static_cast<std::uint32_t>(v[0]) << 18) |
                            (static_cast<std::uint32_t>(v[1]) << 12) |
                            (static_cast<std::uint32_t>(v[2]) << 6) | static_cast<std::uint32_t>(v[3]);
    out->push_back(static_cast<char>((n >> 16) & 0xff));
    if (pad < 2) out->push_back(static_cast<char>((n >> 8) & 0xff));
    if (pad < 1) out->push_back(static_cast<char>(n & 0xff));
  }
  return true;
}

HttpResponse Unauthorized() {
  HttpResponse r = HttpResponse::Text(401, "Unauthorized\n");
  r.headers.emplace_back("WWW-Authenticate", "Basic");
  return r;
}

Result<std::uint8_t> ParseScopes(const ConfigNode& node) {
  NIMIFY_ASSIGN_OR_RETURN(std::vector<std::string> names, node.AsStringList());
  if (names.empty()) return node.Error("scopes: at least one of ingest, read, silence, admin");
  std::uint8_t scopes = 0;
  for (const std::string& n : names) {
    if (n == "ingest") {
      scopes |= kScopeIngest;
    } else if (n == "read") {
      scopes |= kScopeRead;
    } else if (n == "silence" || n == "acknowledge") {
      scopes |= kScopeSilence;
    } else if (n == "admin") {
      scopes |= kScopeAdmin;
    } else {
      return node.Error("unknown scope \"" + n + "\" (ingest, read, silence, admin)");
    }
  }
  return scopes;
}

// A relative path in the web config is relative to the file, as in exporter-toolkit.
std::string Resolve(std::string_view origin, const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  const auto slash = origin.rfind('/');
  if (slash == std::string_view::npos) return path;
  return std::string(origin.substr(0, slash + 1)) + path;
}

}  // namespace

std::uint8_t RequiredScope(std::string_view route, std::string_view method) {
  if (route == "/-/healthy" || route == "/-/ready") return kScopeNone;
  if (route == "/-/reload") return kScopeAdmin;
  if (route == "/api/v1/write" || route.starts_with("/api/v1/import/")) return kScopeIngest;
  const bool changes = method != "GET" && method != "HEAD";
  if (changes && (route == "/api/v2/silences" || route == "/api/v2/silence/:id" ||
                  route == "/api/v2/acks" || route == "/api/v2/ack/:id" ||
                  route == "/api/v1/silences" || route == "/api/v1/alerts")) {
    return kScopeSilence;
  }
  return kScopeRead;  // queries (POST /api/v1/query too), lists, /metrics, unknown paths
}

Result<WebConfig> ParseWebConfig(std::string_view text, std::string_view origin) {
  NIMIFY_ASSIGN_OR_RETURN(ConfigNode root, ConfigNode::ParseYaml(text, origin));
  WebConfig out;
  if (root.is_null()) return out;
  if (!root.is_map()) return root.Error("web config: expected a mapping");
  NIMIFY_RETURN_IF_ERROR(root.CheckKeys(
      {"tls_server_config", "http_server_config", "basic_auth_users", "nimify_bearer_tokens"},
      "web config"));
  if (const ConfigNode* tls = root.Find("tls_server_config"); tls != nullptr && !tls->is_null()) {
    NIMIFY_RETURN_IF_ERROR(tls->CheckKeys(
        {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version",
         "max_version", "cipher_suites", "prefer_server_cipher_suites", "curve_preferences",
         "client_allowed_sans"},
        "tls_server_config"));
    TlsServerConfig t;
    const auto str = [&](const char* key, std::string* dst) -> Status {
      if (const ConfigNode* n = tls->Find(key); n != nullptr && !n->is_null()) {
        NIMIFY_ASSIGN_OR_RETURN(*dst, n->AsString());
      }
      return Status::Ok();
    };
    NIMIFY_RETURN_IF_ERROR(str("cert_file", &t.cert_file));
    NIMIFY_RETURN_IF_ERROR(str("key_file", &t.key_file));
    NIMIFY_RETURN_IF_ERROR(str("client_auth_type", &t.client_auth_type));
    NIMIFY_RETURN_IF_ERROR(str("client_ca_file", &t.client_ca_file));
    NIMIFY_RETURN_IF_ERROR(str("min_version", &t.min_version));
    NIMIFY_RETURN_IF_ERROR(str("max_version", &t.max_version));
    if (t.cert_file.empty() || t.key_file.empty()) {
      return tls->Error("tls_server_config: cert_file and key_file are both required");
    }
    t.cert_file = Resolve(origin, t.cert_file);
    t.key_file = Resolve(origin, t.key_file);
    if (!t.client_ca_file.empty()) t.client_ca_file = Resolve(origin, t.client_ca_file);
    if (t.client_auth_type.empty()) t.client_auth_type = "NoClientCert";
    const ConfigNode* auth_node = tls->Find("client_auth_type");
    const auto at = [&]() -> const ConfigNode& { return auth_node != nullptr ? *auth_node : *tls; };
    if (t.client_auth_type != "NoClientCert" && t.client_auth_type != "RequestClientCert" &&
        t.client_auth_type != "RequireAnyClientCert" &&
        t.client_auth_type != "VerifyClientCertIfGiven" &&
        t.client_auth_type != "RequireAndVerifyClientCert") {
      return at().Error("client_auth_type \"" + t.client_auth_type +
                        "\": expected NoClientCert, RequestClientCert, RequireAnyClientCert, "
                        "VerifyClientCertIfGiven or RequireAndVerifyClientCert");
    }
    const bool verifies = t.client_auth_type == "VerifyClientCertIfGiven" ||
                          t.client_auth_type == "RequireAndVerifyClientCert";
    if (verifies && t.client_ca_file.empty()) {
      return at().Error("client_auth_type " + t.client_auth_type + " needs client_ca_file");
    }
    if (!t.client_ca_file.empty() && t.client_auth_type == "NoClientCert") {
      return tls->Error("client_ca_file is set but client_auth_type is NoClientCert");
    }
    const auto rank = [](const std::string& v) {
      return v == "TLS10" ? 10 : v == "TLS11" ? 11 : v == "TLS12" ? 12 : v == "TLS13" ? 13 : 0;
    };
    for (const char* key : {"min_version", "max_version"}) {
      const std::string& v = std::string_view(key) == "min_version" ? t.min_version : t.max_version;
      if (rank(v) == 0) {
        const ConfigNode* n = tls->Find(key);
        return (n != nullptr ? *n : *tls)
            .Error(std::string(key) + " \"" + v + "\": expected TLS10, TLS11, TLS12 or TLS13");
      }
    }
    if (rank(t.min_version) > rank(t.max_version)) {
      return tls->Error("tls_server_config: min_version is above max_version");
    }
    if (const ConfigNode* n = tls->Find("cipher_suites"); n != nullptr && !n->is_null()) {
      NIMIFY_ASSIGN_OR_RETURN(std::vector<std::string> names, n->AsStringList());
      for (const std::string& name : names) {
        std::optional<std::string> ossl = OpenSslCipherName(name);
        if (!ossl) {
          return n->Error("cipher_suites: unknown or unsupported suite \"" + name +
                          "\" (Go's names, e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)");
        }
        if (!ossl->empty()) t.cipher_suites.push_back(*ossl);
      }
      if (!names.empty() && t.cipher_suites.empty() && rank(t.min_version) < 13) {
        return n->Error("cipher_suites: only TLS 1.3 suites given; they are not configurable");
      }
    }
    if (const ConfigNode* n = tls->Find("prefer_server_cipher_suites");
        n != nullptr && !n->is_null()) {
      NIMIFY_ASSIGN_OR_RETURN(t.prefer_server_cipher_suites, n->AsBool());
    }
    if (const ConfigNode* n = tls->Find("curve_preferences"); n != nullptr && !n->is_null()) {
      NIMIFY_ASSIGN_OR_RETURN(std::vector<std::string> names, n->AsStringList());
      for (const std::string& name : names) {
        std::optional<std::string> group = OpenSslGroupName(name);
        if (!group) {
          return n->Error("curve_preferences: unknown curve \"" + name +
                          "\" (CurveP256, CurveP384, CurveP521, X25519)");
        }
        t.curve_preferences.push_back(*group);
      }
    }
    if (const ConfigNode* n = tls->Find("client_allowed_sans"); n != nullptr && !n->is_null()) {
      NIMIFY_ASSIGN_OR_RETURN(t.client_allowed_sans, n->AsStringList());
      // Without a certificate request the list would restrict nothing.
      if (!t.client_allowed_sans.empty() && t.client_auth_type == "NoClientCert") {
        return n->Error("client_allowed_sans needs a client_auth_type that asks for a client "
                        "certificate (e.g. RequireAndVerifyClientCert)");
      }
    }
    out.tls = std::move(t);
  }
  if (const ConfigNode* h = root.Find("http_server_config"); h != nullptr && !h->is_null()) {
    NIMIFY_RETURN_IF_ERROR(h->CheckKeys({"http2", "headers"}, "http_server_config"));
    if (const ConfigNode* hs = h->Find("headers"); hs != nullptr && hs->is_map()) {
      for (const auto& [k, v] : hs->entries()) {
        NIMIFY_ASSIGN_OR_RETURN(std::string value, v.AsString());
        out.headers.emplace_back(k, value);
      }
    }
  }
  if (const ConfigNode* users = root.Find("basic_auth_users"); users != nullptr && !users->is_null()) {
    if (!users->is_map()) return users->Error("basic_auth_users: expected a mapping user: hash");
    for (const auto& [user, hash_node] : users->entries()) {
      NIMIFY_ASSIGN_OR_RETURN(std::string hash, hash_node.AsString());
      if (!(hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$"))) {
        return hash_node.Error("basic_auth_users." + user + ": not a bcrypt hash ($2y$...)");
      }
      out.basic_auth_users[user] = hash;
    }
  }
  if (const ConfigNode* tokens = root.Find("nimify_bearer_tokens");
      tokens != nullptr && !tokens->is_null()) {
    if (!tokens->is_sequence()) return tokens->Error("nimify_bearer_tokens: expected a list");
    for (const ConfigNode& t : tokens->items()) {
      NIMIFY_RETURN_IF_ERROR(t.CheckKeys({"token_file", "token_sha256", "scopes"},
                                         "nimify_bearer_tokens entry"));
      const ConfigNode* file = t.Find("token_file");
      const ConfigNode* sha = t.Find("token_sha256");
      const ConfigNode* scopes = t.Find("scopes");
      if ((file == nullptr) == (sha == nullptr)) {
        return t.Error("nimify_bearer_tokens: give exactly one of token_file and token_sha256");
      }
      if (scopes == nullptr) return t.Error("nimify_bearer_tokens: scopes is required");
      BearerToken bt;
      NIMIFY_ASSIGN_OR_RETURN(bt.scopes, ParseScopes(*scopes));
      if (file != nullptr) {
        NIMIFY_ASSIGN_OR_RETURN(std::string path, file->AsString());
        path = Resolve(origin, path);
        std::ifstream in(path);
        if (!in) return file->Error("token_file: cannot read " + path);
        std::string token;
        std::getline(in, token);
        while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
        if (token.empty()) return file->Error("token_file: " + path + " is empty");
        bt.sha256_hex = Sha256Hex(token);
      } else {
        NIMIFY_ASSIGN_OR_RETURN(bt.sha256_hex, sha->AsString());
        std::transform(bt.sha256_hex.begin(), bt.sha256_hex.end(), bt.sha256_hex.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (bt.sha256_hex.size() != 64 ||
            bt.sha256_hex.find_first_not_of("0123456789abcdef") != std::string::npos) {
          return sha->Error("token_sha256: expected 64 hex digits (sha256sum of the token)");
        }
      }
      bt.origin = std::string(origin) + ":" + std::to_string(t.position().line);
      out.tokens.push_back(std::move(bt));
    }
  }
  return out;
}

Result<WebConfig> LoadWebConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument(path + ": cannot read the web config file");
  std::ostringstream s;
  s << in.rdbuf();
  return ParseWebConfig(s.str(), path);
}

bool BcryptMatches(const std::string& hash, const std::string& password) {
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof(crypt_data));
  const char* out = ::crypt_r(password.c_str(), hash.c_str(), data.get());
  // On failure libxcrypt returns a string starting with '*'.
  return out != nullptr && out[0] != '*' && ConstantTimeEqual(out, hash);
}

Authenticator::Authenticator(WebConfig config) : config_(std::move(config)) {}

bool Authenticator::BasicOk(const std::string& user, const std::string& password) const {
  auto it = config_.basic_auth_users.find(user);
  // An unknown user costs a bcrypt too, so timing does not tell which users exist.
  static const std::string kDummy = "$2b$10$.T/ICS/rLEPHrX/ucT7FteMKMaaQ9F.blo6jVojWgI9Y4FZvmTlHS";
  const std::string& hash = it == config_.basic_auth_users.end() ? kDummy : it->second;
  const std::string key = Sha256Hex(user + '\0' + password + '\0' + hash);
  {
    MutexLock lock(mu_);
    if (verified_.count(key) > 0) return true;
  }
  const bool ok = BcryptMatches(hash, password) && it != config_.basic_auth_users.end();
  if (ok) {
    MutexLock lock(mu_);
    if (verified_.size() >= 1024) verified_.clear();
    verified_.insert(key);
  }
  return ok;
}

std::optional<HttpResponse> Authenticator::Check(std::string_view authorization,
                                                 std::uint8_t required) const {
  if (required == kScopeNone || !enabled()) return std::nullopt;
  const auto space = authorization.find(' ');
  if (space == std::string_view::npos) return Unauthorized();
  std::string scheme(authorization.substr(0, space));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string_view credentials = authorization.substr(space + 1);
  while (!credentials.empty() && credentials.front() == ' ') credentials.remove_prefix(1);
  if (scheme == "basic" && !config_.basic_auth_users.empty()) {
    std::string decoded;
    if (!Base64Decode(credentials, &decoded)) return Unauthorized();
    const auto colon = decoded.find(':');
    if (colon == std::string::npos) return Unauthorized();
    if (!BasicOk(decoded.substr(0, colon), decoded.substr(colon + 1))) return Unauthorized();
    return std::nullopt;
  }
  if (scheme == "bearer" && !config_.tokens.empty()) {
    const std::string digest = Sha256Hex(credentials);
    for (const BearerToken& t : config_.tokens) {
      if (!ConstantTimeEqual(digest, t.sha256_hex)) continue;
      if ((t.scopes & kScopeAdmin) != 0 || (t.scopes & required) == required) return std::nullopt;
      return HttpResponse::Text(403, "Forbidden: the token lacks the scope this endpoint needs\n");
    }
  }
  return Unauthorized();
}

std::function<std::optional<HttpResponse>(const HttpRequest&, std::string_view)> MakeAuthorizeHook(
    std::shared_ptr<const Authenticator> auth) {
  return [auth](const HttpRequest& req, std::string_view route) -> std::optional<HttpResponse> {
    return auth->Check(req.authorization, RequiredScope(route, req.method));
  };
}

std::function<std::optional<HttpResponse>(const HttpRequest&, std::string_view)>
MakeReloadableAuthorizeHook(std::shared_ptr<const AuthenticatorSlot> slot) {
  return [slot](const HttpRequest& req, std::string_view route) -> std::optional<HttpResponse> {
    return slot->Get()->Check(req.authorization, RequiredScope(route, req.method));
  };
}

}  // namespace nimify::daemon
