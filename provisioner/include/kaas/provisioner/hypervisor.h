#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kaas/common/status.h"

namespace kaas::provisioner {

// Who a domain belongs to; written into every domain's metadata so that reconciliation can
// tell kaas's domains (and orphans) from everything else on a hypervisor.
struct Ownership {
  std::string cluster_id;
  std::string node_name;
  std::string role;
};

struct DomainSpec {
  std::string name;  // unique per hypervisor: "kaas-<cluster id>-<node name>"
  Ownership owner;
  int64_t vcpus = 0;
  int64_t memory_gib = 0;
};

struct DomainInfo {
  std::string name;
  bool running = false;
  int64_t vcpus = 0;
  int64_t memory_gib = 0;
  Ownership owner;  // empty cluster_id: not a kaas domain
  // A real VM's SSH and etcd client ports, forwarded on the hypervisor's 127.0.0.1 (from the
  // domain's kaas metadata); 0 on simulated hypervisors.
  int ssh_port = 0;
  int etcd_client_port = 0;
};

// One libvirt hypervisor. Every method is idempotent so that an operation step can run again
// after a crash: Ensure* observes first and only acts on the difference.
class Hypervisor {
 public:
  virtual ~Hypervisor() = default;

  virtual const std::string& name() const = 0;

  // Defines the domain if it does not exist and starts it if it is not running. Returns the
  // domain as it is afterwards.
  virtual Result<DomainInfo> EnsureDomainRunning(const DomainSpec& spec) = 0;

  // Gives an existing domain the size in `spec`: powers it off, redefines it with the new
  // vCPU/memory (disks are kept) and starts it again. A no-op when it already has that size.
  // kNotFound when the domain does not exist.
  virtual Result<DomainInfo> ResizeDomain(const DomainSpec& spec) = 0;

  // Stops and undefines the domain; OK when it does not exist.
  virtual Status DestroyDomain(const std::string& domain_name) = 0;

  // Powers the domain off at once, as a dead machine would be (it stays defined); OK when it
  // is not running. kNotFound when absent. Fault injection ("crash" of a node) uses it.
  virtual Status PowerOff(const std::string& domain_name) = 0;

  // Looks a domain up; kNotFound when absent.
  virtual Result<DomainInfo> FindDomain(const std::string& domain_name) = 0;

  // Every domain on the hypervisor, kaas's and others.
  virtual Result<std::vector<DomainInfo>> ListDomains() = 0;
};

// The set of hypervisors kaas provisions on, keyed by name. Connections are opened on first
// use and kept.
class Fleet {
 public:
  virtual ~Fleet() = default;
  // The hypervisor `name` reached at `uri`; kUnavailable when it cannot be connected.
  virtual Result<Hypervisor*> Get(const std::string& name, const std::string& uri) = 0;
};

// Name of the domain that carries `node_name` of `cluster_id`.
std::string DomainName(const std::string& cluster_id, const std::string& node_name);

}  // namespace kaas::provisioner
