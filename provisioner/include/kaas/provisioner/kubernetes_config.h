#pragma once

#include <map>
#include <string>
#include <vector>

#include "kaas/common/status.h"
#include "kaas/provisioner/ansible_inventory.h"
#include "kaas/provisioner/bootstrapper.h"
#include "kaas/templates/renderer.h"

namespace kaas::provisioner {

// Where a node's Kubernetes API is reached by the other nodes: "10.0.2.2:<forwarded port>" for a
// VM under QEMU user-mode networking, "<address>:6443" for a physical host.
std::string ApiServerEndpoint(const NodeAccess& access);

// Where the kaasd machine (and the people it hands kubeconfigs to) reach a master's Kubernetes
// API: "https://127.0.0.1:<forwarded port>" for a VM under QEMU user-mode networking,
// "https://<address>:6443" for a physical host.
std::string ApiServerUrl(const NodeAccess& access);

// What a team member may do in the team's cluster, carried as a group (O=) of the client
// certificates in kaas's kubeconfigs and bound in the cluster's RBAC (templates/kubeadm/rbac.yaml):
// every member of the team is in group "<team>" (read, nodes included); "<team>:edit" may change
// namespaced objects (ClusterRole edit); "<team>:admin" is cluster-admin.
enum class ClusterAccess { kView, kEdit, kAdmin };
std::vector<std::string> KubernetesGroups(const std::string& team, ClusterAccess access);

// The kubeadm files a run ships to its targets, by path under the run's staged files
// (BootstrapJob::files), rendered from templates/kubeadm the same way for the simulated and the
// Ansible bootstrapper:
//   bootstrap-master.yml  kubeadm/<target>.yaml  InitConfiguration + ClusterConfiguration
//                                                (external etcd on every master, kaas's CAs)
//   join-master.yml       kubeadm/<target>.yaml  JoinConfiguration with controlPlane
//   join-worker.yml       kubeadm/<target>.yaml  JoinConfiguration
//                         kubeadm/discovery.conf the control-plane endpoint and the cluster CA
//                         kubeadm/token          a fresh bootstrap token for this run
//                         kubernetes/rbac.yaml   (bootstrap-master.yml) the team's groups bound
//                                                (KubernetesGroups), applied with the guardrails
// Other playbooks ship none. The control-plane endpoint is the first voting master's API (the
// first target master while the cluster is being created). A join needs the cluster CA staged
// as "kubernetes/ca.crt" (kFailedPrecondition otherwise). Every file is parsed as YAML before
// it is returned (kInternal when a template renders something that is not).
Result<std::map<std::string, std::string>> RenderKubernetesFiles(
    const BootstrapJob& job, NodeResolver& resolver, const templates::Renderer& renderer);

}  // namespace kaas::provisioner
