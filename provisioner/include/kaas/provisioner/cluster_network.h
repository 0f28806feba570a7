#pragma once

#include <string>
#include <string_view>

namespace kaas::provisioner {

// A cluster's private network on a real hypervisor. Every VM of a cluster has a second NIC on
// an Ethernet segment of its own (QEMU's UDP multicast socket backend, on 127.0.0.1: one group
// per cluster), and its user-mode NIC is restricted (restrict=on): the guest reaches no address
// of the hypervisor and nothing beyond it; only the ports kaas forwards into it are reachable
// from the host. The guests of a cluster reach each other on the segment, and nothing else does.
//
// kaas keeps advertising a VM's services as "10.0.2.2:<forwarded port>" (what a physical worker
// reaches through the hypervisor); inside every VM, tasks/cluster-network.yml maps those
// addresses of the cluster's VMs onto the segment.

struct ClusterSegment {
  std::string group;  // IPv4 multicast group, 239.128.0.0/9 (organization-local scope)
  int port = 0;       // UDP port, 20000..59999
};

// The segment of a cluster: derived from its id (SHA-256), so every node of the cluster, on
// any hypervisor and after any restart of kaasd, joins the same one. Two clusters share one
// with a probability of 2^-38 per pair (4.7e-9 for 50 clusters on one hypervisor).
ClusterSegment SegmentOf(std::string_view cluster_id);

// A VM's address and MAC on its segment, derived from its forwarded SSH port (unique on the
// hypervisor, so unique within any cluster): 10.200.<port / 256>.<port % 256> in 10.200.0.0/15
// (a /15, so that no port gives the broadcast address).
std::string SegmentAddress(int ssh_port);
std::string SegmentMac(int ssh_port);

}  // namespace kaas::provisioner
