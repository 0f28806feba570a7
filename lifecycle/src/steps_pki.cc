// The cluster's certificate authorities (issue_pki) and the key material the bootstrap
// playbooks carry (etcd TLS, the Kubernetes CAs kubeadm expects to find shared).
#include "kaas/common/host_port.h"
#include "kaas/lifecycle/steps.h"
#include "kaas/pki/certificates.h"
#include "kaas/store/repositories.h"
#include "steps_internal.h"

namespace kaas::lifecycle {
namespace {

// etcd member and client certificates: a year (kaas re-issues them when a member joins again).
constexpr int64_t kEtcdCertTtlSeconds = int64_t{365} * 24 * 3600;

}  // namespace

StepResult ClusterSteps::IssuePki(const Context& x) {
  const store::Cluster& c = x.cluster;
  std::optional<store::ClusterSecrets> existing;
  KAAS_RETURN_IF_ERROR(d_.db.Read([&](store::Tx& tx) {
    existing = store::secrets::Get(tx, c.id);
    return Status::Ok();
  }));
  if (existing) return "cluster CA, etcd CA, front-proxy CA and service-account key already issued";
  KAAS_ASSIGN_OR_RETURN(pki::ClusterPki issued,
                        pki::IssueClusterPki(c.name, d_.clock.NowMs() / 1000));
  store::ClusterSecrets s;
  s.cluster_id = c.id;
  s.ca_cert = issued.ca.cert_pem;
  s.etcd_ca_cert = issued.etcd_ca.cert_pem;
  s.front_proxy_ca_cert = issued.front_proxy_ca.cert_pem;
  s.sa_public_key = issued.sa_public_key_pem;
  KAAS_ASSIGN_OR_RETURN(s.ca_key_sealed, d_.secret_box.Seal(issued.ca.key_pem));
  KAAS_ASSIGN_OR_RETURN(s.etcd_ca_key_sealed, d_.secret_box.Seal(issued.etcd_ca.key_pem));
  KAAS_ASSIGN_OR_RETURN(s.front_proxy_ca_key_sealed,
                        d_.secret_box.Seal(issued.front_proxy_ca.key_pem));
  KAAS_ASSIGN_OR_RETURN(s.sa_private_key_sealed, d_.secret_box.Seal(issued.sa_private_key_pem));
  s.created_at = d_.clock.NowMs();
  KAAS_RETURN_IF_ERROR(Write(x.control, [&](store::Tx& tx) {
    if (store::secrets::Get(tx, c.id)) return Status::Ok();  // a concurrent run won
    store::secrets::Put(tx, s);
    return Status::Ok();
  }));
  return "issued cluster CA, etcd CA, front-proxy CA and service-account key "
         "(private keys sealed at rest)";
}

Status ClusterSteps::AddEtcdTls(provisioner::BootstrapJob& job, const store::Cluster& c,
                                const std::vector<store::Node>& targets) const {
  const bool master = job.playbook == "bootstrap-master.yml" || job.playbook == "join-master.yml";
  if (!master && job.playbook != "join-worker.yml") {
    return Status::Ok();  // only a node that starts etcd or joins Kubernetes needs these
  }
  std::optional<store::ClusterSecrets> secrets;
  KAAS_RETURN_IF_ERROR(d_.db.Read([&](store::Tx& tx) {
    secrets = store::secrets::Get(tx, c.id);
    return Status::Ok();
  }));
  if (!secrets) return Internal("cluster " + c.id + " has no etcd CA yet");
  // Kubernetes: a worker trusts the cluster CA (kubeadm join's discovery); every master gets the
  // keys kubeadm expects to find shared (it makes each master's own certificates from them).
  job.files["kubernetes/ca.crt"] = secrets->ca_cert;
  if (!master) return Status::Ok();
  KAAS_ASSIGN_OR_RETURN(job.files["kubernetes/ca.key"], d_.secret_box.Open(secrets->ca_key_sealed));
  job.files["kubernetes/front-proxy-ca.crt"] = secrets->front_proxy_ca_cert;
  KAAS_ASSIGN_OR_RETURN(job.files["kubernetes/front-proxy-ca.key"],
                        d_.secret_box.Open(secrets->front_proxy_ca_key_sealed));
  job.files["kubernetes/sa.pub"] = secrets->sa_public_key;
  KAAS_ASSIGN_OR_RETURN(job.files["kubernetes/sa.key"],
                        d_.secret_box.Open(secrets->sa_private_key_sealed));

  KAAS_ASSIGN_OR_RETURN(std::string ca_key, d_.secret_box.Open(secrets->etcd_ca_key_sealed));
  const int64_t now = d_.clock.NowMs() / 1000;
  job.files["etcd/ca.crt"] = secrets->etcd_ca_cert;
  // The API server's own client certificate for the cluster's etcd (external etcd).
  KAAS_ASSIGN_OR_RETURN(
      pki::ClientCert apiserver,
      pki::IssueClientCert(secrets->etcd_ca_cert, ca_key, "kube-apiserver-etcd-client", {},
                           kEtcdCertTtlSeconds, now));
  job.files["kubernetes/apiserver-etcd-client.crt"] = apiserver.cert_pem;
  job.files["kubernetes/apiserver-etcd-client.key"] = apiserver.key_pem;
  KAAS_ASSIGN_OR_RETURN(pki::ClientCert client,
                        pki::IssueClientCert(secrets->etcd_ca_cert, ca_key, "kaas-etcdctl", {},
                                             kEtcdCertTtlSeconds, now));
  job.files["etcd/client.crt"] = client.cert_pem;
  job.files["etcd/client.key"] = client.key_pem;
  for (const auto& n : targets) {
    if (RoleOf(n) != NodeRole::kMaster) continue;
    std::vector<std::string> dns = {n.name, "localhost"};
    std::vector<std::string> ips = {"127.0.0.1"};
    for (const std::string& extra : d_.etcd_cert_extra_names) {
      (IsIpAddress(extra) ? ips : dns).push_back(extra);
    }
    if (auto at = ParseHostPort(n.address, 22); at.ok()) {  // "host:ssh-port" -> "host"
      (IsIpAddress(at->host) ? ips : dns).push_back(at->host);
    }
    KAAS_ASSIGN_OR_RETURN(pki::ClientCert member,
                          pki::IssueServingCert(secrets->etcd_ca_cert, ca_key, n.name, dns, ips,
                                                kEtcdCertTtlSeconds, now));
    job.files["etcd/" + n.name + ".crt"] = member.cert_pem;
    job.files["etcd/" + n.name + ".key"] = member.key_pem;
  }
  return Status::Ok();
}

}  // namespace kaas::lifecycle
