#pragma once

// `kaas credential`: the client.authentication.k8s.io/v1 ExecCredential kubectl's exec plugin
// mechanism runs for a kubeconfig user that `kaas kubeconfig --exec` / `kaas use --exec`
// wrote, and its cache on disk, so that kubectl always holds a fresh short-lived client
// certificate without asking kaasd on every call.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "kaas/common/status.h"

namespace kaas::cli {

inline constexpr const char* kExecApiVersion = "client.authentication.k8s.io/v1";
// A cached credential is renewed when less than this is left of its certificate: kubectl is
// told it expires that much earlier, so it never sends a certificate about to run out.
inline constexpr int64_t kRenewBeforeSeconds = 300;

// The client certificate and key of the (first) user of a kubeconfig as kaasd hands it out
// (client-certificate-data / client-key-data, base64 of PEM), with the certificate's notAfter.
struct ClientCredential {
  std::string certificate_pem;
  std::string key_pem;
  int64_t not_after = 0;  // Unix seconds
};
Result<ClientCredential> ReadClientCredential(const std::string& kubeconfig_yaml);

// The ExecCredential for `c`: status.clientCertificateData, clientKeyData (PEM) and
// expirationTimestamp (RFC 3339, UTC) = notAfter - kRenewBeforeSeconds.
nlohmann::json ExecCredential(const ClientCredential& c);

// The cached ExecCredential text at `path` when it is one and has not expired at `now`
// (Unix seconds); nullopt otherwise (missing, unreadable, another kind, expired).
std::optional<nlohmann::json> FreshCachedCredential(const std::string& path, int64_t now);

// Where the credential for (server, user, team, cluster ref) is cached: a file of its own
// under `config_dir`/credentials/, the key percent-escaped into its name.
std::string CredentialCachePath(const std::string& config_dir, const std::string& server,
                                const std::string& username, const std::string& team,
                                const std::string& cluster);

// `kubeconfig_yaml` with the user of its current context replaced by an exec entry running
// `command` (kubectl's v1 exec plugin: apiVersion, command, args, env, interactiveMode Never).
Result<std::string> WithExecUser(const std::string& kubeconfig_yaml,
                                 const std::vector<std::string>& command,
                                 const std::vector<std::pair<std::string, std::string>>& env,
                                 const std::string& install_hint);

// RFC 3339 in UTC ("2026-12-02T17:05:00Z") and back; nullopt for anything else.
std::string FormatRfc3339(int64_t unix_seconds);
std::optional<int64_t> ParseRfc3339(const std::string& text);

}  // namespace kaas::cli
