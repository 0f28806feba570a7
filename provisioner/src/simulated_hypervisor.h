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
//
// Several kaasd processes may share the file (replicas on one PostgreSQL with one data dir, as
// the replica tests run them): every call holds an exclusive lock on `<file>.lock` (flock) and
// reloads the file first when another process rewrote it since this one last read or wrote
// it, so all of them see one hypervisor.
class SimulatedHypervisor final : public Hypervisor {
 public:
  SimulatedHypervisor(std::string name, std::string uri, std::unique_ptr<libvirt::Connection> conn,
                      std::string state_file, const templates::Renderer& renderer,
                      int sim_delay_ms);
  ~SimulatedHypervisor() override;

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
  // With mu_ held: takes the file lock (released by the returned guard) and reloads the file
  // when another process changed it.
  class FileGuard;
  Result<FileGuard> SyncLocked();
  // What the file was when this process last read or wrote it (inode, size, mtime).
  std::string FileStamp() const;

  const std::string name_;
  const std::string uri_;
  std::unique_ptr<libvirt::Connection> conn_;
  int lock_fd_ = -1;
  std::string stamp_;
  const std::string state_file_;
  const templates::Renderer& renderer_;
  const int sim_delay_ms_;
  std::mutex mu_;
};

}  // namespace kaas::provisioner
