#pragma once

#include <string>
#include <vector>

#include "kaas/common/status.h"
#include "kaas/provisioner/ansible_inventory.h"

namespace kaas::provisioner {

// Settings of the real-VM path of LibvirtFleet (every libvirt URI that is not test://...),
// given to the fleet when it is made; the simulated path ignores them.
struct RealVmOptions {
  // Folder made by scripts/build-guest-image.sh: disk.qcow2 (the base image every node's disk
  // is a qcow2 overlay on), vmlinuz and initrd.img (direct kernel boot).
  std::string guest_image_dir;
  // Directory storage pool "kaas" on each real hypervisor (created when missing).
  std::string pool_name = "kaas";
  std::string pool_dir = "/var/lib/libvirt/images/kaas";
  // Serial console logs of the guests (one file per domain, kept for debugging).
  std::string console_dir = "/var/log/libvirt/kaas";
  std::string ssh_public_key;      // authorized for user "kaas" through cloud-init
  int boot_timeout_seconds = 600;  // start -> SSH answers
  // Caps on what a guest gets (software emulation on small machines); 0 = the flavor's size.
  int max_vcpus = 0;
  int max_memory_mib = 0;
};

// Finds where a real VM's services are reached from the hypervisor's host (LibvirtFleet, through
// its connections): QEMU user-mode networking forwards ports on 127.0.0.1 to the guest's 22,
// 2379 and 2380.
class VmEndpoints {
 public:
  virtual ~VmEndpoints() = default;
  // The endpoint of `domain_name` on the hypervisor `name` at `uri`. kNotFound when the domain
  // is not there or has no forwarded ports (a simulated hypervisor never has any);
  // kUnavailable when the hypervisor cannot be reached.
  virtual Result<NodeAccess> FindVmEndpoint(const std::string& name, const std::string& uri,
                                            const std::string& domain_name) = 0;
};

struct HypervisorUri {
  std::string name;
  std::string uri;
};

// How Ansible reaches a node when VMs are real: a node that is a VM on one of `hypervisors`
// through the ports QEMU forwards on 127.0.0.1; anything else (a physical host, a node not
// placed yet) by its address, like AddressResolver.
class VmNodeResolver final : public NodeResolver {
 public:
  VmNodeResolver(VmEndpoints& endpoints, std::vector<HypervisorUri> hypervisors);
  Result<NodeAccess> Resolve(const std::string& cluster_id, const BootstrapNode& node) override;

 private:
  VmEndpoints& endpoints_;
  const std::vector<HypervisorUri> hypervisors_;
  AddressResolver addresses_;
};

}  // namespace kaas::provisioner
