// Steps that make, resize and check machines: reserve, provision_nodes, provision_node,
// resize_node, verify.
#include "kaas/lifecycle/steps.h"
#include "kaas/store/repositories.h"
#include "steps_internal.h"

namespace kaas::lifecycle {
namespace {

// Where a node runs: its hypervisor (VM) or host (physical).
const std::string& PlaceOf(const store::Node& n) {
  return KindOf(n) == NodeKind::kVm ? n.hypervisor : n.host;
}

}  // namespace

StepResult ClusterSteps::Reserve(const Context& x) {
  const store::Cluster& c = x.cluster;
  KAAS_ASSIGN_OR_RETURN(auto nodes, LiveNodes(c.id));
  std::vector<std::string> where;
  int64_t masters = 0, workers = 0;
  for (const auto& n : nodes) {
    const bool master = RoleOf(n) == NodeRole::kMaster;
    (master ? masters : workers)++;
    if (master) where.push_back(PlaceOf(n));
  }
  if (masters != c.master_count || workers != c.worker_count) {
    return Internal("reservation does not match the cluster: " + std::to_string(masters) +
                    " masters and " + std::to_string(workers) + " workers reserved");
  }
  return "reserved " + std::to_string(masters) + " × " + c.master_flavor + " masters (" +
         internal::Join(where) + ") and " + std::to_string(workers) + " workers at admission";
}

Status ClusterSteps::ProvisionNode(const Context& x, const store::Node& n) {
  if (StateOf(n) != NodeState::kReserved) return Status::Ok();  // already provisioned
  std::string address;
  if (KindOf(n) == NodeKind::kVm) {
    KAAS_ASSIGN_OR_RETURN(provisioner::Hypervisor * hv, HypervisorOf(n.hypervisor));
    provisioner::DomainSpec spec{provisioner::DomainName(n.cluster_id, n.name),
                                 {n.cluster_id, n.name, n.role},
                                 n.vcpus,
                                 n.memory_gib};
    KAAS_ASSIGN_OR_RETURN(auto info, hv->EnsureDomainRunning(spec));
    if (!info.running) return Unavailable("domain " + spec.name + " did not start");
    address = n.name + "." + n.cluster_id + ".sim";
  } else {
    std::optional<store::Host> host;
    KAAS_RETURN_IF_ERROR(d_.db.Read([&](store::Tx& tx) {
      host = store::hosts::Find(tx, n.host);
      return Status::Ok();
    }));
    if (!host || host->cluster_id != n.cluster_id) {
      return Internal("host " + n.host + " is not allocated to cluster " + n.cluster_id);
    }
    address = host->address;
  }
  return Write(x.control, [&](store::Tx& tx) {
    store::nodes::SetAddress(tx, n.id, address, d_.clock.NowMs());
    store::nodes::SetState(tx, n.id, ToString(NodeState::kProvisioned), d_.clock.NowMs());
    return Status::Ok();
  });
}

// target: a role.
StepResult ClusterSteps::ProvisionNodes(const Context& x) {
  const std::string& role = x.step.target;
  KAAS_ASSIGN_OR_RETURN(auto nodes, LiveNodes(x.cluster.id));
  std::vector<store::Node> todo;
  size_t done = 0;
  for (const auto& n : nodes) {
    if (n.role != role) continue;
    (StateOf(n) == NodeState::kReserved ? todo.push_back(n) : void(++done));
  }
  KAAS_RETURN_IF_ERROR(internal::ForEachParallel(
      todo, 16, [&](const store::Node& n) { return ProvisionNode(x, n); }));
  std::vector<std::string> names;
  for (const auto& n : todo) names.push_back(n.name + "@" + PlaceOf(n));
  std::string msg = "provisioned " + std::to_string(todo.size()) + " " + role + "(s) in parallel";
  if (!names.empty()) msg += ": " + internal::Join(names);
  if (done > 0) msg += "; " + std::to_string(done) + " already provisioned";
  return msg;
}

// target: one node.
StepResult ClusterSteps::ProvisionOneNode(const Context& x) {
  KAAS_ASSIGN_OR_RETURN(auto nodes, LiveNodes(x.cluster.id));
  for (const auto& n : nodes) {
    if (n.name != x.step.target) continue;
    if (StateOf(n) != NodeState::kReserved) return n.name + " already provisioned";
    KAAS_RETURN_IF_ERROR(ProvisionNode(x, n));
    return "provisioned " + n.name + " on " + PlaceOf(n);
  }
  return Internal("node " + x.step.target + " is not part of the cluster");
}

StepResult ClusterSteps::ResizeNode(const Context& x) {
  const store::Cluster& c = x.cluster;
  const std::string& name = x.step.target;
  KAAS_ASSIGN_OR_RETURN(auto nodes, LiveNodes(c.id));
  for (const auto& n : nodes) {
    if (n.name != name) continue;
    if (KindOf(n) != NodeKind::kVm) return name + " is a physical host; nothing to resize";
    KAAS_ASSIGN_OR_RETURN(provisioner::Hypervisor * hv, HypervisorOf(n.hypervisor));
    provisioner::DomainSpec spec{
        provisioner::DomainName(c.id, n.name), {c.id, n.name, n.role}, n.vcpus, n.memory_gib};
    KAAS_ASSIGN_OR_RETURN(auto info, hv->ResizeDomain(spec));
    return "resized " + name + " to " + n.flavor + " (" + std::to_string(info.vcpus) + " vCPU, " +
           std::to_string(info.memory_gib) + " GiB)";
  }
  return Internal("node " + name + " is not part of the cluster");
}

// Every node ready and every VM's domain running; a domain not (yet) running is waited for.
StepResult ClusterSteps::Verify(const Context& x) {
  const store::Cluster& c = x.cluster;
  KAAS_ASSIGN_OR_RETURN(auto nodes, LiveNodes(c.id));
  for (const auto& n : nodes) {
    if (StateOf(n) != NodeState::kReady) {
      return Internal("node " + n.name + " is " + n.state + ", not ready");
    }
    if (KindOf(n) != NodeKind::kVm) continue;
    KAAS_ASSIGN_OR_RETURN(provisioner::Hypervisor * hv, HypervisorOf(n.hypervisor));
    auto info = hv->FindDomain(provisioner::DomainName(c.id, n.name));
    // No answer, or no domain: an error (retried as an attempt), not something to wait out.
    if (!info.ok()) return Unavailable("domain of " + n.name + ": " + info.status().message());
    if (!info->running) {
      return StepResult::Wait("domain of " + n.name + " is not running", d_.look_again);
    }
  }
  return std::to_string(nodes.size()) + " nodes ready, every domain running";
}

}  // namespace kaas::lifecycle
