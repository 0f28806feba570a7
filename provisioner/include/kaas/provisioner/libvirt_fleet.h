#pragma once

#include <map>
#include <memory>
#include <mutex>

#include "kaas/provisioner/hypervisor.h"
#include "kaas/provisioner/hypervisor_uri.h"
#include "kaas/provisioner/real_vm.h"
#include "kaas/templates/renderer.h"

namespace kaas::provisioner {

class QemuHypervisor;

struct LibvirtOptions {
  // Each simulated (test:///) hypervisor call sleeps this long, so demos can watch progress.
  int sim_delay_ms = 0;
  // Guest image, storage pool, SSH key, caps: the real-VM path (every non-test:// URI).
  RealVmOptions real_vm;
};

// Hypervisors reached through the libvirt C API, one connection each, opened on first use.
//
// `test:///<absolute path>.xml` URIs are libvirt's own simulated hypervisor, persisted to that
// file after every change (SimulatedHypervisor); `test:///default` is the same without a file.
// Every other accepted URI (ValidateHypervisorUri) is a real libvirtd with QEMU guests
// (QemuHypervisor).
class LibvirtFleet final : public Fleet, public VmEndpoints {
 public:
  LibvirtFleet(const templates::Renderer& renderer, LibvirtOptions options);
  ~LibvirtFleet() override;

  // kInvalidArgument for a URI ValidateHypervisorUri refuses (never connected to).
  Result<Hypervisor*> Get(const std::string& name, const std::string& uri) override;

  Result<NodeAccess> FindVmEndpoint(const std::string& name, const std::string& uri,
                                    const std::string& domain_name) override;

  // Writes an empty simulated hypervisor file at `path` unless one exists.
  static Status CreateSimulatedHypervisorFile(const std::string& path, int64_t vcpus,
                                              int64_t memory_gib);

 private:
  struct Entry {
    std::unique_ptr<Hypervisor> hypervisor;
    QemuHypervisor* qemu = nullptr;  // the same object when the hypervisor is real
  };
  Result<Entry*> GetEntry(const std::string& name, const std::string& uri);

  const templates::Renderer& renderer_;
  const LibvirtOptions options_;
  std::mutex mu_;
  std::map<std::string, Entry> hypervisors_;
};

}  // namespace kaas::provisioner
