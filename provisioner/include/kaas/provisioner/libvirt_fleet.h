#pragma once

#include <map>
#include <memory>
#include <mutex>

#include "kaas/provisioner/hypervisor.h"
#include "kaas/templates/renderer.h"

namespace kaas::provisioner {

struct LibvirtOptions {
  // Each simulated (test:///) hypervisor call sleeps this long, so demos can watch progress.
  int sim_delay_ms = 0;
};

// Hypervisors reached through the libvirt C API.
//
// `test:///<absolute path>.xml` URIs are libvirt's own simulated hypervisor. libvirt's test
// driver never writes its state back, so after every change this adapter rewrites that file
// (domains with their run state, atomically) — the simulated datacenter then survives a
// kaasd crash exactly like a real hypervisor would.
class LibvirtFleet : public Fleet {
 public:
  LibvirtFleet(const templates::Renderer& renderer, LibvirtOptions options);
  ~LibvirtFleet() override;

  Result<Hypervisor*> Get(const std::string& name, const std::string& uri) override;

  // Writes an empty simulated hypervisor file at `path` unless one exists.
  static Status CreateSimulatedHypervisorFile(const std::string& path, int64_t vcpus,
                                              int64_t memory_gib);

 private:
  const templates::Renderer& renderer_;
  LibvirtOptions options_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Hypervisor>> hypervisors_;
};

}  // namespace kaas::provisioner
