#pragma once

#include <map>
#include <string>

#include "kaas/common/status.h"
#include "kaas/provisioner/ansible_inventory.h"
#include "kaas/provisioner/bootstrapper.h"
#include "kaas/templates/renderer.h"

namespace kaas::provisioner {

// Where a node's Kubernetes API is reached by the other nodes: "10.0.2.2:<forwarded port>" for a
// VM under QEMU user-mode networking, "<address>:6443" for a physical host.
std::string ApiServerEndpoint(const NodeAccess& access);

// The kubeadm files a run ships to its targets, by path under the run's staged files
// (BootstrapJob::files), rendered from templates/kubeadm the same way for the simulated and the
// Ansible bootstrapper:
//   bootstrap-master.yml  kubeadm/<target>.yaml  InitConfiguration + ClusterConfiguration
//                                                (external etcd on every master, kaas's CAs)
//   join-master.yml       kubeadm/<target>.yaml  JoinConfiguration with controlPlane
//   join-worker.yml       kubeadm/<target>.yaml  JoinConfiguration
//                         kubeadm/discovery.conf the control-plane endpoint and the cluster CA
//                         kubeadm/token          a fresh bootstrap token for this run
// Other playbooks ship none. The control-plane endpoint is the first voting master's API (the
// first target master while the cluster is being created). A join needs the cluster CA staged
// as "kubernetes/ca.crt" (kFailedPrecondition otherwise). Every file is parsed as YAML before
// it is returned (kInternal when a template renders something that is not).
Result<std::map<std::string, std::string>> RenderKubernetesFiles(
    const BootstrapJob& job, NodeResolver& resolver, const templates::Renderer& renderer);

}  // namespace kaas::provisioner
