#include "kaas/provisioner/ansible_inventory.h"

#include <filesystem>

#include "kaas/common/host_port.h"
#include "kaas/common/strings.h"
#include "kaas/provisioner/bootstrapper.h"
#include "kaas/provisioner/hypervisor.h"
#include "kaas/provisioner/real_vm.h"
#include "kaas/templates/ansible_inventory.h"

namespace kaas::provisioner {
Result<NodeAccess> AddressResolver::Resolve(const std::string&, const BootstrapNode& node) {
  if (node.address.empty()) return NodeAccess{"", 22, 0, 0};
  KAAS_ASSIGN_OR_RETURN(HostPort at, ParseHostPort(node.address, 22));
  NodeAccess access{at.host, at.port, 0, 0};
  access.host_key = node.host_key;
  return access;
}

Result<std::string> RenderJobInventory(const BootstrapJob& job, const InventoryOptions& options,
                                       NodeResolver& resolver) {
  templates::Inventory inv;
  inv.vars = {
      {"cluster_id", job.cluster_id},
      {"cluster_name", job.cluster_name},
      {"kubernetes_version", job.kubernetes_version},
      {"kubernetes_install", options.kubernetes_install},
      {"kubernetes_binaries_dir", options.kubernetes_binaries + "/v" + job.kubernetes_version},
      {"target_node", Join(job.targets, ",")},
      {"ansible_user", options.ssh_user},
      {"ansible_ssh_private_key_file", options.ssh_private_key},
      {"ansible_python_interpreter", std::string("/usr/bin/python3")},
  };
  for (const auto& [k, v] : job.extra_vars) inv.vars.emplace_back(k, v);
  inv.vars.emplace_back("kaas_files_dir",
                        (std::filesystem::absolute(job.work_dir) / "files").string());

  for (const char* role : {"master", "worker"}) {
    templates::InventoryGroup group{std::string(role) + "s", {}};
    for (const auto& n : job.nodes) {
      if (n.role != role) continue;
      KAAS_ASSIGN_OR_RETURN(NodeAccess a, resolver.Resolve(job.cluster_id, n));
      // How the other nodes reach this node's etcd. A VM under QEMU user-mode networking: the
      // hypervisor's forwarded ports through the guests' gateway 10.0.2.2.
      const bool vm = a.etcd_client_port > 0;
      templates::InventoryHost host{n.name,
                                    {{"ansible_host", a.host},
                                     {"ansible_port", int64_t{a.ssh_port}},
                                     {"etcd_advertise_host", vm ? std::string("10.0.2.2") : a.host},
                                     {"etcd_client_port", int64_t{vm ? a.etcd_client_port : 2379}},
                                     {"etcd_peer_port", int64_t{vm ? a.etcd_peer_port : 2380}}}};
      // A VM on its cluster's private network: tasks/cluster-network.yml maps its forwarded
      // ports, as the other VMs address them, onto this address.
      if (!a.segment_ip.empty()) {
        host.vars.emplace_back("kaas_segment_ip", a.segment_ip);
        host.vars.emplace_back("apiserver_port", int64_t{a.apiserver_port});
      }
      group.hosts.push_back(std::move(host));
    }
    inv.groups.push_back(std::move(group));
  }
  // The voting etcd members: playbooks run membership changes (etcdctl member add/promote/
  // remove) on one of them, never on a node that has not joined yet.
  templates::InventoryGroup voters{"etcd_voters", {}};
  for (const auto& n : job.nodes) {
    if (n.etcd_voter) voters.hosts.push_back({n.name, {}});
  }
  inv.groups.push_back(std::move(voters));
  return templates::RenderInventory(inv);
}

VmNodeResolver::VmNodeResolver(VmEndpoints& endpoints, std::vector<HypervisorUri> hypervisors)
    : endpoints_(endpoints), hypervisors_(std::move(hypervisors)) {}

Result<NodeAccess> VmNodeResolver::Resolve(const std::string& cluster_id,
                                           const BootstrapNode& node) {
  for (const auto& h : hypervisors_) {
    auto ep = endpoints_.FindVmEndpoint(h.name, h.uri, DomainName(cluster_id, node.name));
    if (ep.ok()) return ep;
    if (ep.status().code() != Code::kNotFound) return ep.status();
  }
  return addresses_.Resolve(cluster_id, node);
}

}  // namespace kaas::provisioner
