#pragma once

#include <string>
#include <vector>

#include "kaas/common/status.h"

namespace kaas::provisioner {

// Settings of the real-VM path of LibvirtFleet (every libvirt URI that is not test://...).
// Set once at startup, before the first hypervisor call; the simulated path ignores them.
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

void SetRealVmOptions(const RealVmOptions& options);
const RealVmOptions& GetRealVmOptions();

// Where a real VM's services are reached from the hypervisor's host: QEMU user-mode
// networking forwards these ports on 127.0.0.1 to the guest's 22, 2379 and 2380.
struct VmEndpoint {
  std::string host = "127.0.0.1";
  int ssh_port = 0;
  int etcd_client_port = 0;
  int etcd_peer_port = 0;
};

// Reads the forwarded ports from the ownership metadata of `domain_name` on the hypervisor at
// `uri`; kNotFound when there is no such domain.
Result<VmEndpoint> LookupVmEndpoint(const std::string& uri, const std::string& domain_name);

// Waits until an SSH server answers (sends its banner) on host:port.
Status WaitForSsh(const std::string& host, int port, int timeout_seconds);

}  // namespace kaas::provisioner
