#include "kaas/provisioner/inventory.h"

#include "kaas/common/host_port.h"
#include "kaas/common/names.h"
#include "kaas/provisioner/host_keys.h"
#include "kaas/provisioner/hypervisor_uri.h"

namespace kaas::provisioner {
namespace {

Status CheckSize(const std::string& field, int64_t value) {
  if (value <= 0) return InvalidArgument(field, field + " must be > 0");
  return Status::Ok();
}

// A host that a cluster holds cannot change hands here: release it by deleting the cluster.
Status CheckNotHeld(const store::Host& host, const std::string& advice) {
  if (host.state == "allocated" || host.state == "wiping") {
    return Conflict("host " + host.name + " is " + host.state + " (cluster " + host.cluster_id +
                    ")" + advice);
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<HypervisorRecord>> DatabaseInventory::ListHypervisors() {
  std::vector<HypervisorRecord> out;
  KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
    auto usage = store::hypervisors::Usage(tx);
    for (auto& hv : store::hypervisors::List(tx)) {
      store::HypervisorUsage used = usage[hv.name];
      out.push_back({std::move(hv), used});
    }
    return Status::Ok();
  }));
  return out;
}

Result<store::Hypervisor> DatabaseInventory::AddHypervisor(store::Hypervisor hv) {
  KAAS_RETURN_IF_ERROR(CheckDnsLabel("name", hv.name));
  KAAS_RETURN_IF_ERROR(ValidateHypervisorUri(hv.uri));
  KAAS_RETURN_IF_ERROR(CheckSize("vcpus", hv.vcpus));
  KAAS_RETURN_IF_ERROR(CheckSize("memory_gib", hv.memory_gib));
  hv.state = "active";
  hv.created_at = clock_.NowMs();
  Status st = db_.Write([&](store::Tx& tx) {
    store::hypervisors::Insert(tx, hv);
    return Status::Ok();
  });
  if (st.code() == Code::kAlreadyExists) {
    return Conflict("hypervisor " + hv.name + " already exists");
  }
  KAAS_RETURN_IF_ERROR(st);
  return hv;
}

Status DatabaseInventory::SetHypervisorState(const std::string& name, const std::string& state) {
  if (state != "active" && state != "draining") {
    return InvalidArgument("state", "state must be active or draining");
  }
  return db_.Write([&](store::Tx& tx) {
    if (!store::hypervisors::Find(tx, name)) return NotFound("hypervisor " + name + " not found");
    store::hypervisors::SetState(tx, name, state);
    return Status::Ok();
  });
}

Status DatabaseInventory::RemoveHypervisor(const std::string& name) {
  return db_.Write([&](store::Tx& tx) {
    if (!store::hypervisors::Find(tx, name)) return NotFound("hypervisor " + name + " not found");
    size_t nodes = store::nodes::ListLiveOnHypervisor(tx, name).size();
    if (nodes > 0) {
      return Conflict("hypervisor " + name + " still carries " + std::to_string(nodes) +
                      " node(s); drain it and move or delete their clusters first");
    }
    store::hypervisors::Delete(tx, name);
    return Status::Ok();
  });
}

Result<std::vector<store::Host>> DatabaseInventory::ListHosts() {
  std::vector<store::Host> hosts;
  KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
    hosts = store::hosts::List(tx);
    return Status::Ok();
  }));
  return hosts;
}

Result<store::Host> DatabaseInventory::AddHost(store::Host host) {
  KAAS_RETURN_IF_ERROR(CheckDnsLabel("name", host.name));
  // kaas reaches the host over SSH there: "host" (port 22) or "host:port".
  KAAS_RETURN_IF_ERROR(ParseHostPort(host.address, 22).status());
  KAAS_RETURN_IF_ERROR(CheckSize("vcpus", host.vcpus));
  KAAS_RETURN_IF_ERROR(CheckSize("memory_gib", host.memory_gib));
  if (!host.host_key.empty()) {
    KAAS_ASSIGN_OR_RETURN(host.host_key, NormalizeHostKey(host.host_key));
  }
  if (host.labels.empty()) host.labels = "{}";
  host.state = "available";
  host.cluster_id.clear();
  host.created_at = clock_.NowMs();
  Status st = db_.Write([&](store::Tx& tx) {
    store::hosts::Insert(tx, host);
    return Status::Ok();
  });
  if (st.code() == Code::kAlreadyExists) return Conflict("host " + host.name + " already exists");
  KAAS_RETURN_IF_ERROR(st);
  return host;
}

Result<store::Host> DatabaseInventory::UpdateHost(const std::string& name, const std::string& state,
                                                  const std::string& host_key) {
  if (state.empty() && host_key.empty()) return InvalidArgument("state", "give state or host_key");
  if (!state.empty() && state != "available" && state != "maintenance") {
    return InvalidArgument("state", "state must be available or maintenance");
  }
  std::string key;
  if (!host_key.empty()) {
    KAAS_ASSIGN_OR_RETURN(key, NormalizeHostKey(host_key));
  }
  store::Host updated;
  KAAS_RETURN_IF_ERROR(db_.Write([&](store::Tx& tx) {
    auto host = store::hosts::Find(tx, name);
    if (!host) return NotFound("host " + name + " not found");
    if (!state.empty()) {
      KAAS_RETURN_IF_ERROR(CheckNotHeld(*host, ""));
      store::hosts::SetState(tx, name, state, "");
      host->state = state;
    }
    if (!key.empty()) {
      store::hosts::SetHostKey(tx, name, key);
      host->host_key = key;
    }
    updated = *host;
    return Status::Ok();
  }));
  return updated;
}

Status DatabaseInventory::RemoveHost(const std::string& name) {
  return db_.Write([&](store::Tx& tx) {
    auto host = store::hosts::Find(tx, name);
    if (!host) return NotFound("host " + name + " not found");
    KAAS_RETURN_IF_ERROR(CheckNotHeld(*host, "; release it first"));
    store::hosts::Delete(tx, name);
    return Status::Ok();
  });
}

}  // namespace kaas::provisioner
