// Steps that take a cluster apart: destroy_nodes (machines go, physical hosts are wiped) and
// release_cluster (keys, leftover allocations).
#include "kaas/common/log.h"
#include "kaas/lifecycle/steps.h"
#include "kaas/store/repositories.h"
#include "steps_internal.h"

namespace kaas::lifecycle {

Status ClusterSteps::DestroyNode(const Context& x, const store::Node& n) {
  if (KindOf(n) == NodeKind::kVm) {
    if (!n.hypervisor.empty()) {
      KAAS_ASSIGN_OR_RETURN(provisioner::Hypervisor * hv, HypervisorOf(n.hypervisor));
      KAAS_RETURN_IF_ERROR(hv->DestroyDomain(provisioner::DomainName(n.cluster_id, n.name)));
    }
    return SetNodeState(x, n, NodeState::kDeleted);
  }
  // A physical host is wiped (wipe-host.yml undoes what kaas installed) before it returns to
  // the pool; the node and the allocation go in one transaction so the host is never both
  // free and in use. A host that cannot be wiped goes to maintenance, never to the next team.
  bool ours = false;
  KAAS_RETURN_IF_ERROR(Write(x.control, [&](store::Tx& tx) {
    auto host = store::hosts::Find(tx, n.host);
    ours = host && host->cluster_id == n.cluster_id;
    if (ours) store::hosts::SetState(tx, n.host, "wiping", n.cluster_id);
    return Status::Ok();
  }));
  std::string after = "available";
  if (ours && HealthOf(n) == NodeHealth::kUnhealthy) {
    // Down (a repair): it cannot be wiped now, and whatever killed it needs a person.
    log::Warn("host is down and cannot be wiped; it goes to maintenance",
              {{"host", n.host}, {"cluster", x.cluster.id}, {"reason", n.health_reason}});
    after = "maintenance";
  } else if (ours && StateOf(n) != NodeState::kReserved) {
    // A reserved host never had anything installed.
    provisioner::BootstrapJob job = NewJob(x, "wipe-host.yml", {n});
    job.work_dir /= n.name;
    job.targets = {n.name};
    auto wiped = d_.bootstrapper.Run(job);
    if (!wiped.ok()) {
      if (wiped.status().code() == Code::kCancelled) return wiped.status();
      log::Warn("host wipe failed; the host goes to maintenance",
                {{"operation", x.op.id},
                 {"cluster", x.cluster.id},
                 {"host", n.host},
                 {"error", wiped.status().message()}});
      after = "maintenance";
    }
  }
  return Write(x.control, [&](store::Tx& tx) {
    auto host = store::hosts::Find(tx, n.host);
    if (host && host->cluster_id == n.cluster_id) store::hosts::SetState(tx, n.host, after, "");
    store::nodes::SetState(tx, n.id, ToString(NodeState::kDeleted), d_.clock.NowMs());
    return Status::Ok();
  });
}

// target: a role, or a comma-separated list of nodes.
StepResult ClusterSteps::DestroyNodes(const Context& x) {
  const std::string& target = x.step.target;
  KAAS_ASSIGN_OR_RETURN(auto nodes, LiveNodes(x.cluster.id));
  const std::optional<NodeRole> role = Parse<NodeRole>(target);
  auto names = internal::SplitNames(target);
  std::vector<store::Node> todo;
  for (const auto& n : nodes) {
    bool named = std::find(names.begin(), names.end(), n.name) != names.end();
    if (role ? RoleOf(n) == role : named) todo.push_back(n);
  }
  KAAS_RETURN_IF_ERROR(
      internal::ForEachParallel(todo, 16, [&](const store::Node& n) { return DestroyNode(x, n); }));
  if (role) return "removed " + std::to_string(todo.size()) + " " + target + "(s)";
  std::vector<std::string> removed;
  for (const auto& n : todo) removed.push_back(n.name);
  return removed.empty() ? std::string("already removed") : "removed " + internal::Join(removed);
}

StepResult ClusterSteps::ReleaseCluster(const Context& x) {
  const store::Cluster& c = x.cluster;
  // Anything still live (a node reserved after the plan was made) goes too.
  KAAS_ASSIGN_OR_RETURN(auto nodes, LiveNodes(c.id));
  KAAS_RETURN_IF_ERROR(internal::ForEachParallel(
      nodes, 16, [&](const store::Node& n) { return DestroyNode(x, n); }));
  // A host still allocated to the cluster without a live node on it was never released by
  // its node, so nothing says it was wiped: it goes to maintenance, not back to the pool.
  size_t released = 0;
  KAAS_RETURN_IF_ERROR(Write(x.control, [&](store::Tx& tx) {
    store::secrets::Delete(tx, c.id);
    for (const auto& h : store::hosts::List(tx)) {
      if (h.cluster_id != c.id) continue;
      store::hosts::SetState(tx, h.name, "maintenance", "");
      log::Warn("leftover host allocation goes to maintenance (wipe it before reuse)",
                {{"operation", x.op.id}, {"cluster", c.id}, {"host", h.name}});
      ++released;
    }
    return Status::Ok();
  }));
  return "destroyed the cluster's CAs and keys, released quota and placement; " +
         std::to_string(nodes.size() + released) + " leftover allocation(s) cleaned";
}

}  // namespace kaas::lifecycle
