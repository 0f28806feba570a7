#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "kaas/provisioner/hypervisor.h"
#include "kaas/templates/renderer.h"
#include "libvirt_connection.h"

namespace kaas::provisioner {

// libvirt's own simulated hypervisor (the test:/// driver, in-process). The driver keeps its
// state in memory only, so after every change the hypervisor's file (`state_file`, the path in
// test:///<path>) is rewritten with the domains and their run state (.tmp, fsync, rename): the
// simulated datacenter survives a kaasd crash like a real hypervisor would. Without a file
// (test:///default) nothing is persisted and no latency is simulated.
class SimulatedHypervisor final : public Hypervisor {
 public:
  SimulatedHypervisor(std::string name, std::unique_ptr<libvirt::Connection> conn,
                      std::string state_file, const templates::Renderer& renderer,
                      int sim_delay_ms);

  const std::string& name() const override { return name_; }
  Result<DomainInfo> EnsureDomainRunning(const DomainSpec& spec) override;
  Result<DomainInfo> ResizeDomain(const DomainSpec& spec) override;
  Status DestroyDomain(const std::string& domain_name) override;
  Status PowerOff(const std::string& domain_name) override;
  Result<DomainInfo> FindDomain(const std::string& domain_name) override;
  Result<std::vector<DomainInfo>> ListDomains() override;

  // Writes an empty simulated hypervisor file at `path` unless one exists.
  static Status CreateFile(const std::string& path, int64_t vcpus, int64_t memory_gib);

 private:
  bool persisted() const { return !state_file_.empty(); }
  void SimulateLatency() const;
  Status SaveLocked();

  const std::string name_;
  const std::unique_ptr<libvirt::Connection> conn_;
  const std::string state_file_;
  const templates::Renderer& renderer_;
  const int sim_delay_ms_;
  std::mutex mu_;
};

}  // namespace kaas::provisioner
