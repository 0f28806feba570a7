#pragma once

#include <string>
#include <vector>

#include "kaas/common/clock.h"
#include "kaas/common/status.h"
#include "kaas/store/database.h"
#include "kaas/store/records.h"
#include "kaas/store/repositories.h"

namespace kaas::provisioner {

// A hypervisor with what its live nodes take of it.
struct HypervisorRecord {
  store::Hypervisor hypervisor;
  store::HypervisorUsage used;
};

// The datacenter's machines as kaas records them: hypervisors (libvirt connections) that VMs
// are placed on, and physical hosts that clusters take whole. These are the registration
// rules a platform admin works under (POST/PUT/DELETE /hypervisors and /hosts); allocating a
// host to a cluster and releasing it belongs to admission and the delete steps (lifecycle/).
// Errors name the offending field for kInvalidArgument.
class Inventory {
 public:
  virtual ~Inventory() = default;

  virtual Result<std::vector<HypervisorRecord>> ListHypervisors() = 0;
  // Registers a hypervisor `active`: name a DNS label, uri one ValidateHypervisorUri accepts,
  // vcpus and memory_gib > 0. kConflict when the name is taken.
  virtual Result<store::Hypervisor> AddHypervisor(store::Hypervisor hv) = 0;
  // `active` (placement may use it) or `draining` (no new VMs). kNotFound.
  virtual Status SetHypervisorState(const std::string& name, const std::string& state) = 0;
  // kNotFound; kConflict while live nodes are on it.
  virtual Status RemoveHypervisor(const std::string& name) = 0;

  virtual Result<std::vector<store::Host>> ListHosts() = 0;
  // Registers a host `available`: name a DNS label, address where kaas reaches it over SSH
  // ("host" = port 22, or "host:port"), vcpus and memory_gib > 0; labels is a JSON object of
  // strings (the caller's parse); host_key, when given, its SSH host key (else kaas pins the key
  // it sees at its first contact). kConflict when the name is taken.
  virtual Result<store::Host> AddHost(store::Host host) = 0;
  // Changes a host in one transaction ("" = unchanged, at least one given): `state` available
  // or maintenance (not taken by new clusters; kConflict while the host is allocated or being
  // wiped), `host_key` its new SSH host key (a reinstalled machine; kInvalidArgument, field
  // host_key, for one that is not a key). Both are checked before either is applied.
  // kNotFound. Returns the host as it is afterwards.
  virtual Result<store::Host> UpdateHost(const std::string& name, const std::string& state,
                                         const std::string& host_key) = 0;
  // kNotFound; kConflict while the host is allocated or being wiped.
  virtual Status RemoveHost(const std::string& name) = 0;
};

// The inventory in kaas's database; each call is one transaction.
class DatabaseInventory : public Inventory {
 public:
  DatabaseInventory(store::Database& db, const Clock& clock) : db_(db), clock_(clock) {}

  Result<std::vector<HypervisorRecord>> ListHypervisors() override;
  Result<store::Hypervisor> AddHypervisor(store::Hypervisor hv) override;
  Status SetHypervisorState(const std::string& name, const std::string& state) override;
  Status RemoveHypervisor(const std::string& name) override;
  Result<std::vector<store::Host>> ListHosts() override;
  Result<store::Host> AddHost(store::Host host) override;
  Result<store::Host> UpdateHost(const std::string& name, const std::string& state,
                                 const std::string& host_key) override;
  Status RemoveHost(const std::string& name) override;

 private:
  store::Database& db_;
  const Clock& clock_;
};

}  // namespace kaas::provisioner
