#pragma once

#include <string>

#include "kaas/common/status.h"
#include "kaas/provisioner/bootstrapper.h"

namespace kaas::provisioner {

// How Ansible logs in to the nodes and what the playbooks install: the same for a simulated and
// a real run, so the simulation renders the very inventory a real run would use.
struct InventoryOptions {
  std::string ssh_user = "kaas";
  std::string ssh_private_key;      // path; its public half is in every guest's cloud-init
  bool kubernetes_install = false;  // false: kubeadm/kubelet tasks are skipped, visibly
  // kaas's mirror of Kubernetes' binaries: <kubernetes_binaries>/v<version>/{kubeadm, kubelet,
  // kubectl, SHA256SUMS} (scripts/build-kubernetes.sh), copied to the nodes by the playbooks.
  std::string kubernetes_binaries = "/var/cache/kaas/kubernetes";
};

// How Ansible reaches a node: host and SSH port (VMs: 127.0.0.1 and the forwarded port), and
// the node's etcd and Kubernetes API ports as seen from the other guests (0 for hosts: the
// standard ports).
struct NodeAccess {
  std::string host;
  int ssh_port = 22;
  int etcd_client_port = 0;
  int etcd_peer_port = 0;
  int apiserver_port = 0;
  std::string host_key;  // its SSH host key ("TYPE BASE64"); "" = not known
  // A real VM's address on its cluster's private network (cluster_network.h); "" = none.
  std::string segment_ip;
};

// Where a node of a cluster is reached (a seam: real VMs are found on their hypervisor).
class NodeResolver {
 public:
  virtual ~NodeResolver() = default;
  // A node without an address (not placed yet) is {"", 22}: in the inventory, never a target.
  // kInvalidArgument (field "address") for an address that is not host or host:port.
  virtual Result<NodeAccess> Resolve(const std::string& cluster_id, const BootstrapNode& node) = 0;
};

// Physical hosts and simulated nodes: the node's registered address, "host" or "host:ssh-port".
class AddressResolver final : public NodeResolver {
 public:
  Result<NodeAccess> Resolve(const std::string& cluster_id, const BootstrapNode& node) override;
};

// inventory.yml of one run, the one inventory both bootstrappers write: every node of the job
// in `masters`/`workers` (ansible_host/ansible_port as `resolver` says; etcd_advertise_host and
// ports as the other nodes reach its etcd), the voting etcd members in `etcd_voters`, and the
// job's variables. Every text value reaches Ansible literally (templates::RenderInventory).
Result<std::string> RenderJobInventory(const BootstrapJob& job, const InventoryOptions& options,
                                       NodeResolver& resolver);

}  // namespace kaas::provisioner
