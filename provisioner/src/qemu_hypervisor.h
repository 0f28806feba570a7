#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "kaas/provisioner/hypervisor.h"
#include "kaas/provisioner/real_vm.h"
#include "kaas/templates/renderer.h"
#include "libvirt_connection.h"

namespace kaas::provisioner {

// A real hypervisor: libvirtd + QEMU (qemu:///system, qemu+ssh://…). A node is a qcow2 overlay
// on the guest image and a cloud-init NoCloud seed in the kaas storage pool, booted as a QEMU
// domain (templates/domain/qemu.xml) with user-mode networking: SSH and etcd are forwarded from
// free ports on 127.0.0.1, recorded in the domain's ownership metadata. Deleting a domain
// deletes both volumes.
class QemuHypervisor final : public Hypervisor {
 public:
  QemuHypervisor(std::string name, std::unique_ptr<libvirt::Connection> conn,
                 const templates::Renderer& renderer, RealVmOptions options);

  const std::string& name() const override { return name_; }
  // Returns once sshd answers on the forwarded port; the lock is not held while the guest boots,
  // so the nodes of a step boot in parallel.
  Result<DomainInfo> EnsureDomainRunning(const DomainSpec& spec) override;
  Result<DomainInfo> ResizeDomain(const DomainSpec& spec) override;
  Status DestroyDomain(const std::string& domain_name) override;
  Status PowerOff(const std::string& domain_name) override;
  Result<DomainInfo> FindDomain(const std::string& domain_name) override;
  Result<std::vector<DomainInfo>> ListDomains() override;

  // The forwarded ports of `domain_name`; kNotFound when there is no such domain or it has none.
  Result<NodeAccess> Endpoint(const std::string& domain_name);

 private:
  Result<libvirt::Domain> DefineLocked(const DomainSpec& spec);
  Status DeleteVolumesLocked(const std::string& domain_name);

  const std::string name_;
  const std::unique_ptr<libvirt::Connection> conn_;
  const templates::Renderer& renderer_;
  const RealVmOptions options_;
  std::mutex mu_;
};

}  // namespace kaas::provisioner
