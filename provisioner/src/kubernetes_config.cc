#include "kaas/provisioner/kubernetes_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <random>

#include "kaas/common/host_port.h"

namespace kaas::provisioner {
namespace {

// The guests' own address under QEMU user-mode networking, and how they reach the hypervisor.
constexpr char kGuestAddress[] = "10.0.2.15";
constexpr char kGuestGateway[] = "10.0.2.2";
// No registry is reachable: control-plane images are imported on each node, never pulled.
constexpr char kImageRepository[] = "registry.kaas.internal";

bool IsVm(const NodeAccess& a) { return a.etcd_client_port > 0; }

std::string EtcdEndpoint(const NodeAccess& a) {
  return IsVm(a)
             ? "https://" + std::string(kGuestGateway) + ":" + std::to_string(a.etcd_client_port)
             : "https://" + a.host + ":2379";
}

std::string AdvertiseAddress(const NodeAccess& a) {
  if (IsVm(a)) return kGuestAddress;
  return IsIpAddress(a.host) ? a.host : "";  // "": kubeadm takes the default route's address
}

// [a-z0-9]{6}.[a-z0-9]{16}, kubeadm's bootstrap token format.
std::string NewBootstrapToken() {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device rd;
  std::uniform_int_distribution<int> pick(0, 35);
  std::string token;
  for (int i = 0; i < 23; ++i) token += i == 6 ? '.' : kAlphabet[pick(rd)];
  return token;
}

std::string Quoted(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "\"" : ", \"") + s + "\"";
  return out;
}

Status CheckYaml(const std::string& name, const std::string& text) {
  try {
    YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    return Internal("rendered " + name + " is not valid YAML: " + e.what());
  }
  return Status::Ok();
}

}  // namespace

std::string ApiServerEndpoint(const NodeAccess& a) {
  if (IsVm(a)) {
    return std::string(kGuestGateway) + ":" +
           std::to_string(a.apiserver_port > 0 ? a.apiserver_port : 6443);
  }
  return a.host + ":6443";
}

std::string ApiServerUrl(const NodeAccess& a) {
  if (IsVm(a)) {
    return "https://" + a.host + ":" +
           std::to_string(a.apiserver_port > 0 ? a.apiserver_port : 6443);
  }
  return "https://" + a.host + ":6443";
}

std::vector<std::string> KubernetesGroups(const std::string& team, ClusterAccess access) {
  switch (access) {
    case ClusterAccess::kView:
      return {team};
    case ClusterAccess::kEdit:
      return {team, team + ":edit"};
    case ClusterAccess::kAdmin:
      return {team, team + ":admin"};
  }
  return {team};
}

Result<std::map<std::string, std::string>> RenderKubernetesFiles(
    const BootstrapJob& job, NodeResolver& resolver, const templates::Renderer& renderer) {
  std::map<std::string, std::string> files;
  const bool init = job.playbook == "bootstrap-master.yml";
  const bool join_master = job.playbook == "join-master.yml";
  const bool join_worker = job.playbook == "join-worker.yml";
  if (!init && !join_master && !join_worker) return files;

  std::map<std::string, NodeAccess> access;
  std::vector<std::string> etcd_endpoints;
  std::vector<std::string> sans = {"127.0.0.1", kGuestGateway, "localhost"};
  std::string endpoint;
  for (const auto& n : job.nodes) {
    KAAS_ASSIGN_OR_RETURN(NodeAccess a, resolver.Resolve(job.cluster_id, n));
    access[n.name] = a;
    if (n.role != "master") continue;
    const bool target =
        std::find(job.targets.begin(), job.targets.end(), n.name) != job.targets.end();
    if (!n.etcd_voter && !(init && target)) continue;
    etcd_endpoints.push_back(EtcdEndpoint(a));
    sans.push_back(n.name);
    if (!a.host.empty() && a.host != "127.0.0.1") sans.push_back(a.host);
    if (endpoint.empty() && !a.host.empty()) endpoint = ApiServerEndpoint(a);
  }
  if (endpoint.empty()) {
    return Status(Code::kFailedPrecondition,
                  "no master of cluster " + job.cluster_name + " has an address for the API");
  }

  templates::Values common = {{"cluster_name", job.cluster_name},
                              {"kubernetes_version", job.kubernetes_version},
                              {"control_plane_endpoint", endpoint}};
  if (!init) {
    auto ca = job.files.find("kubernetes/ca.crt");
    if (ca == job.files.end()) {
      return Status(Code::kFailedPrecondition,
                    "no Kubernetes CA staged for " + job.playbook + " of " + job.cluster_name);
    }
    templates::Values v = common;
    v["ca_data"] = YAML::EncodeBase64(reinterpret_cast<const unsigned char*>(ca->second.data()),
                                      ca->second.size());
    KAAS_ASSIGN_OR_RETURN(files["kubeadm/discovery.conf"],
                          renderer.Render("kubeadm/discovery.conf", v));
    files["kubeadm/token"] = NewBootstrapToken();
  }
  if (init) {
    if (job.team_name.empty()) {
      return Status(Code::kFailedPrecondition, "cluster " + job.cluster_name + " has no team");
    }
    KAAS_ASSIGN_OR_RETURN(files["kubernetes/rbac.yaml"],
                          renderer.Render("kubeadm/rbac.yaml", {{"team", job.team_name}}));
  }
  for (const auto& target : job.targets) {
    auto a = access.find(target);
    if (a == access.end()) return Internal("node " + target + " is not in the job's nodes");
    templates::Values v = common;
    v["node_name"] = target;
    v["advertise_address"] = AdvertiseAddress(a->second);
    std::string text;
    if (init) {
      v["etcd_endpoints"] = Quoted(etcd_endpoints);
      v["apiserver_sans"] = Quoted(sans);
      v["image_repository"] = kImageRepository;
      KAAS_ASSIGN_OR_RETURN(text, renderer.Render("kubeadm/init-config.yaml", v));
    } else {
      v["token"] = files["kubeadm/token"];
      v["control_plane"] = join_master
                               ? "controlPlane:\n  localAPIEndpoint:\n    advertiseAddress: \"" +
                                     v["advertise_address"] + "\"\n    bindPort: 6443\n"
                               : "";
      KAAS_ASSIGN_OR_RETURN(text, renderer.Render("kubeadm/join-config.yaml", v));
    }
    files["kubeadm/" + target + ".yaml"] = std::move(text);
  }
  for (const auto& [name, text] : files) {
    if (name != "kubeadm/token") KAAS_RETURN_IF_ERROR(CheckYaml(name, text));
  }
  return files;
}

}  // namespace kaas::provisioner
