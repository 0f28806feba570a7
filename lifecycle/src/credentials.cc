#include "kaas/lifecycle/credentials.h"

#include "kaas/lifecycle/model.h"
#include "kaas/pki/certificates.h"
#include "kaas/pki/kubeconfig.h"
#include "kaas/store/repositories.h"

namespace kaas::lifecycle {

Status CheckSealingKey(store::Database& db, const pki::SecretBox& box,
                       const std::string& key_path) {
  constexpr const char* kName = "master_key_check";
  constexpr std::string_view kPlain = "kaas master key check";
  std::optional<std::string> sealed;
  KAAS_RETURN_IF_ERROR(db.Read([&](store::Tx& tx) {
    sealed = store::settings::Get(tx, kName);
    return Status::Ok();
  }));
  if (!sealed) {
    KAAS_ASSIGN_OR_RETURN(std::string mine, box.Seal(kPlain));
    Status st = db.Write([&](store::Tx& tx) {
      store::settings::Insert(tx, kName, mine);
      return Status::Ok();
    });
    if (st.ok()) return Status::Ok();
    if (st.code() != Code::kAlreadyExists) return st;
    // Another replica sealed its value first: check against that one.
    KAAS_RETURN_IF_ERROR(db.Read([&](store::Tx& tx) {
      sealed = store::settings::Get(tx, kName);
      return Status::Ok();
    }));
    if (!sealed) return Internal("settings." + std::string(kName) + " vanished");
  }
  auto opened = box.Open(*sealed);
  if (opened.ok() && *opened == kPlain) return Status::Ok();
  return Status(Code::kFailedPrecondition,
                "the master key " + key_path +
                    " is not the one this database's secrets are sealed with: every replica "
                    "needs the same master key file (copy it from the first replica, mode 0600; "
                    "--master-key FILE)");
}

Result<CredentialService::Loaded> CredentialService::Load(const std::string& cluster_id) {
  std::optional<store::Cluster> cluster;
  std::optional<store::ClusterSecrets> secrets;
  std::string endpoint;
  std::optional<store::Node> master;
  KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
    cluster = store::clusters::Find(tx, cluster_id);
    if (!cluster) return Status::Ok();
    secrets = store::secrets::Get(tx, cluster_id);
    for (const auto& n : store::nodes::ListLive(tx, cluster_id)) {
      if (RoleOf(n) == NodeRole::kMaster && !n.address.empty()) {
        master = n;
        break;
      }
    }
    return Status::Ok();
  }));
  if (!cluster) return NotFound("cluster " + cluster_id + " not found");
  if (master && options_.api_server_url) {
    auto url = options_.api_server_url(*master);
    if (url.ok()) endpoint = *url;
  }
  if (master && endpoint.empty()) endpoint = "https://" + master->address + ":6443";
  if (!secrets || StatusOf(*cluster) == ClusterStatus::kDeleted) {
    return Status(Code::kFailedPrecondition,
                  "cluster " + cluster->name + " has no certificate authority (yet)");
  }
  if (endpoint.empty()) endpoint = "https://" + cluster->name + ".kaas.internal:6443";
  std::string ca = secrets->ca_cert;
  return Loaded{std::move(*cluster), std::move(*secrets), {endpoint, ca}};
}

Result<ClusterEndpoint> CredentialService::Endpoint(const std::string& cluster_id) {
  KAAS_ASSIGN_OR_RETURN(Loaded loaded, Load(cluster_id));
  return loaded.endpoint;
}

Result<std::string> CredentialService::Kubeconfig(const std::string& cluster_id,
                                                  const std::string& username,
                                                  const std::string& team,
                                                  provisioner::ClusterAccess access,
                                                  int64_t ttl_hours) {
  if (ttl_hours == 0) ttl_hours = options_.default_ttl_hours;
  if (ttl_hours < 1 || ttl_hours > options_.max_ttl_hours) {
    return InvalidArgument(
        "ttl_hours", "ttl_hours must be between 1 and " + std::to_string(options_.max_ttl_hours));
  }
  KAAS_ASSIGN_OR_RETURN(Loaded loaded, Load(cluster_id));
  KAAS_ASSIGN_OR_RETURN(std::string ca_key, box_.Open(loaded.secrets.ca_key_sealed));
  KAAS_ASSIGN_OR_RETURN(pki::ClientCert cert,
                        pki::IssueClientCert(loaded.secrets.ca_cert, ca_key, username,
                                             provisioner::KubernetesGroups(team, access),
                                             ttl_hours * 3600, clock_.NowMs() / 1000));
  return pki::RenderKubeconfig(loaded.cluster.name, loaded.endpoint.server, loaded.secrets.ca_cert,
                               username, cert.cert_pem, cert.key_pem);
}

}  // namespace kaas::lifecycle
