#include "kaas/lifecycle/steps.h"

#include <nlohmann/json.hpp>

#include "kaas/store/repositories.h"
#include "steps_internal.h"

namespace kaas::lifecycle {
namespace internal {

std::string ParamOf(const store::Operation& op, const std::string& key) {
  auto j = nlohmann::json::parse(op.params, nullptr, false);
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) return "";
  return j[key].get<std::string>();
}

}  // namespace internal

const std::map<StepKind, ClusterSteps::Handler>& ClusterSteps::Table() {
  static const std::map<StepKind, Handler> kTable = {
      {StepKind::kReserve, &ClusterSteps::Reserve},
      {StepKind::kIssuePki, &ClusterSteps::IssuePki},
      {StepKind::kProvisionNodes, &ClusterSteps::ProvisionNodes},
      {StepKind::kProvisionNode, &ClusterSteps::ProvisionOneNode},
      {StepKind::kBootstrapFirstMaster, &ClusterSteps::BootstrapFirstMaster},
      {StepKind::kJoinMaster, &ClusterSteps::JoinMaster},
      {StepKind::kJoinWorkers, &ClusterSteps::JoinWorkers},
      {StepKind::kHealthGate, &ClusterSteps::HealthGate},
      {StepKind::kEtcdAddLearner, &ClusterSteps::EtcdAddLearner},
      {StepKind::kEtcdPromote, &ClusterSteps::EtcdPromote},
      {StepKind::kEtcdRemove, &ClusterSteps::EtcdRemove},
      {StepKind::kDrainNodes, &ClusterSteps::DrainNodes},
      {StepKind::kResizeNode, &ClusterSteps::ResizeNode},
      {StepKind::kUpgradeNodes, &ClusterSteps::UpgradeNodes},
      {StepKind::kVerify, &ClusterSteps::Verify},
      {StepKind::kDestroyNodes, &ClusterSteps::DestroyNodes},
      {StepKind::kReleaseCluster, &ClusterSteps::ReleaseCluster},
  };
  return kTable;
}

StepResult ClusterSteps::Run(const store::Operation& op, const store::Step& step,
                             const StepControl& control) {
  const std::optional<StepKind> kind = KindOf(step);
  auto handler = kind ? Table().find(*kind) : Table().end();
  if (handler == Table().end()) return Internal("unknown step kind " + step.kind);
  std::optional<store::Cluster> cluster;
  KAAS_RETURN_IF_ERROR(d_.db.Read([&](store::Tx& tx) {
    cluster = store::clusters::Find(tx, op.cluster_id);
    return Status::Ok();
  }));
  if (!cluster) return Internal("cluster " + op.cluster_id + " of operation " + op.id + " is gone");
  return (this->*handler->second)(Context{op, step, *cluster, control});
}

Result<std::vector<store::Node>> ClusterSteps::LiveNodes(const std::string& cluster_id) {
  std::vector<store::Node> nodes;
  KAAS_RETURN_IF_ERROR(d_.db.Read([&](store::Tx& tx) {
    nodes = store::nodes::ListLive(tx, cluster_id);
    return Status::Ok();
  }));
  return nodes;
}

Status ClusterSteps::Write(const StepControl& control,
                           const std::function<Status(store::Tx&)>& fn) const {
  return d_.db.Write([&](store::Tx& tx) {
    if (control.fence) KAAS_RETURN_IF_ERROR(control.fence(tx));
    return fn(tx);
  });
}

Status ClusterSteps::SetNodeState(const Context& x, const store::Node& n, NodeState state) {
  return Write(x.control, [&](store::Tx& tx) {
    store::nodes::SetState(tx, n.id, ToString(state), d_.clock.NowMs());
    return Status::Ok();
  });
}

Result<provisioner::Hypervisor*> ClusterSteps::HypervisorOf(const std::string& name) {
  std::optional<store::Hypervisor> hv;
  KAAS_RETURN_IF_ERROR(d_.db.Read([&](store::Tx& tx) {
    hv = store::hypervisors::Find(tx, name);
    return Status::Ok();
  }));
  if (!hv) return Status(Code::kFailedPrecondition, "hypervisor " + name + " is not registered");
  return d_.fleet.Get(hv->name, hv->uri);
}

Status ClusterSteps::Settle(const store::Operation& op, const StepControl& control) {
  return Write(control, [&](store::Tx& tx) {
    auto c = store::clusters::Find(tx, op.cluster_id);
    if (!c || StatusOf(*c) == ClusterStatus::kDeleted) return Status::Ok();
    auto nodes = store::nodes::ListLive(tx, c->id);
    int64_t masters = 0, workers = 0;
    std::map<std::string, int> versions;
    const store::Node* master = nullptr;
    for (const auto& n : nodes) {
      versions[n.kubernetes_version]++;
      if (RoleOf(n) == NodeRole::kWorker) {
        ++workers;
        continue;
      }
      if (StateOf(n) == NodeState::kRemoving) continue;
      ++masters;
      if (StateOf(n) == NodeState::kReady && (!master || n.name < master->name)) master = &n;
    }
    if (masters == 0 && workers == 0) return Status::Ok();  // nothing built yet
    c->master_count = masters;
    c->worker_count = workers;
    if (master) {
      c->master_flavor = master->flavor;
      c->master_kind = master->kind;
    }
    // The cluster's version is the one every node runs; mid-upgrade it stays the older one.
    if (versions.size() == 1) c->kubernetes_version = versions.begin()->first;
    store::clusters::SetShape(tx, *c, d_.clock.NowMs());
    return Status::Ok();
  });
}

}  // namespace kaas::lifecycle
