#pragma once

#include <functional>
#include <string>

#include "kaas/common/clock.h"
#include "kaas/common/status.h"
#include "kaas/pki/secret_box.h"
#include "kaas/provisioner/kubernetes_config.h"
#include "kaas/store/database.h"
#include "kaas/store/records.h"

namespace kaas::lifecycle {

struct CredentialOptions {
  int64_t default_ttl_hours = 24;
  int64_t max_ttl_hours = 168;
  // Where a master's Kubernetes API is reached from outside the cluster (kaasd's provisioner
  // knows: a VM's forwarded port, a host's address). Unset: "https://<node address>:6443".
  std::function<Result<std::string>(const store::Node&)> api_server_url;
};

// Where a cluster's API server is and the CA its serving certificate chains to: what a
// kubeconfig's cluster entry holds.
struct ClusterEndpoint {
  std::string server;                 // "https://ADDRESS:6443"
  std::string certificate_authority;  // PEM
};

// Hands out access to a cluster: kubeconfigs with short-lived client certificates signed by the
// cluster's own CA (issued by the create operation's issue_pki step). Authorization is the
// caller's job.
// Every replica must seal with the same master key (cluster CA keys sealed by one are opened by
// all). The first kaasd on a database seals a known value with its key into the database
// (settings `master_key_check`); every later start opens it: kFailedPrecondition when this
// key cannot, naming the fix.
Status CheckSealingKey(store::Database& db, const pki::SecretBox& box, const std::string& key_path);

class CredentialService {
 public:
  CredentialService(store::Database& db, const pki::SecretBox& box, const Clock& clock,
                    CredentialOptions options)
      : db_(db), box_(box), clock_(clock), options_(options) {}

  // A kubeconfig for `username` (certificate CN) in `team`, with the groups (O) that give
  // `access` in the cluster's RBAC (provisioner::KubernetesGroups). ttl_hours 0 = default.
  // kInvalidArgument for a TTL outside 1..max; kNotFound for an unknown cluster;
  // kFailedPrecondition while the cluster has no PKI (being created, or deleted).
  Result<std::string> Kubeconfig(const std::string& cluster_id, const std::string& username,
                                 const std::string& team, provisioner::ClusterAccess access,
                                 int64_t ttl_hours);

  // The endpoint a kubeconfig of the cluster names, without issuing anything. kNotFound and
  // kFailedPrecondition as Kubeconfig.
  Result<ClusterEndpoint> Endpoint(const std::string& cluster_id);

  const CredentialOptions& options() const { return options_; }

 private:
  struct Loaded {
    store::Cluster cluster;
    store::ClusterSecrets secrets;
    ClusterEndpoint endpoint;
  };
  Result<Loaded> Load(const std::string& cluster_id);

  store::Database& db_;
  const pki::SecretBox& box_;
  const Clock& clock_;
  CredentialOptions options_;
};

}  // namespace kaas::lifecycle
