#include "kaas/lifecycle/cluster_service.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "cluster_change.h"
#include "kaas/common/ids.h"
#include "kaas/lifecycle/catalog.h"
#include "kaas/store/repositories.h"

namespace kaas::lifecycle {
namespace {

store::Operation NewOperation(const store::Cluster& c, OperationType type,
                              const std::string& requested_by, std::vector<store::Step> steps,
                              int64_t now) {
  store::Operation op;
  op.id = NewId("op");
  op.cluster_id = c.id;
  op.type = ToString(type);
  op.state = ToString(OperationState::kPending);
  op.requested_by = requested_by;
  op.created_at = op.updated_at = now;
  op.steps = std::move(steps);
  for (auto& s : op.steps) s.operation_id = op.id;
  return op;
}

// The events of an admitted operation: it exists, and the cluster changed status.
void RecordAdmission(store::Tx& tx, const store::Cluster& c, const store::Operation& op,
                     int64_t now) {
  store::events::Insert(tx, {NewId("ev"), c.id, c.team_id, now, "operation",
                             nlohmann::json{{"operation", op.id},
                                            {"type", op.type},
                                            {"state", op.state},
                                            {"error", ""},
                                            {"progress", 0}}
                                 .dump()});
  store::events::Insert(tx, {NewId("ev"), c.id, c.team_id, now, "cluster",
                             nlohmann::json{{"status", c.status}, {"status_reason", ""}}.dump()});
}

// Gives each physical node an available host (its size becomes the host's), or refuses with
// insufficient_capacity before anything is reserved.
Status AssignHosts(store::Tx& tx, const std::vector<store::Node*>& physical) {
  if (physical.empty()) return Status::Ok();
  auto hosts = store::hosts::ListAvailable(tx, static_cast<int64_t>(physical.size()));
  if (hosts.size() < physical.size()) {
    return std::move(
        Status(Code::kInsufficientCapacity, "not enough available physical hosts: need " +
                                                std::to_string(physical.size()) + ", " +
                                                std::to_string(hosts.size()) + " available")
            .WithShortfalls({{"physical_hosts", static_cast<int64_t>(physical.size()), 0,
                              static_cast<int64_t>(hosts.size())}}));
  }
  for (size_t i = 0; i < physical.size(); ++i) {
    physical[i]->host = hosts[i].name;
    physical[i]->vcpus = hosts[i].vcpus;
    physical[i]->memory_gib = hosts[i].memory_gib;
  }
  return Status::Ok();
}

}  // namespace

Status ClusterService::Commit(bool dry_run,
                              const std::function<Status(store::Tx&, bool persist)>& admit,
                              const Status& on_unique_violation, const std::string& op_id) {
  if (dry_run) return db_.Read([&](store::Tx& tx) { return admit(tx, false); });
  Status st = db_.Write([&](store::Tx& tx) { return admit(tx, true); });
  // A unique index caught a concurrent admission the checks inside could not see yet.
  if (st.code() == Code::kAlreadyExists) return on_unique_violation;
  KAAS_RETURN_IF_ERROR(st);
  queue_.Submit(op_id);
  return Status::Ok();
}

Status ClusterService::AdmitCreate(store::Tx& tx, Admitted& a, bool persist,
                                   bool allow_colocated_masters) {
  store::Cluster& c = a.cluster;
  if (store::clusters::FindLiveByName(tx, c.team_id, c.name)) {
    return Conflict("a cluster named " + c.name + " already exists in this team");
  }
  quota::Demand demand = quota::DemandOf(a.nodes);
  demand.clusters = 1;
  KAAS_RETURN_IF_ERROR(quota_.Admit(tx, c.team_id, demand));
  std::vector<store::Node*> vms, physical;
  for (auto& n : a.nodes) (KindOf(n) == NodeKind::kVm ? vms : physical).push_back(&n);

  std::vector<HypervisorRoom> rooms;
  auto usage = store::hypervisors::Usage(tx);
  for (const auto& hv : store::hypervisors::List(tx)) {
    if (hv.state != "active") continue;
    const auto& u = usage[hv.name];
    rooms.push_back({hv.name, hv.vcpus - u.vcpus, hv.memory_gib - u.memory_gib});
  }
  KAAS_RETURN_IF_ERROR(PlaceVms(std::move(rooms), vms, allow_colocated_masters));
  KAAS_RETURN_IF_ERROR(AssignHosts(tx, physical));
  a.operation =
      NewOperation(c, OperationType::kCreate, c.created_by, PlanCreate(c, a.nodes), clock_.NowMs());
  if (!persist) return Status::Ok();

  quota_.NotifyNearlyFull(tx, c.team_id, demand, c.created_by, clock_.NowMs());
  store::clusters::Insert(tx, c);
  for (const auto& n : a.nodes) {
    store::nodes::Insert(tx, n);
    if (KindOf(n) == NodeKind::kPhysical) store::hosts::SetState(tx, n.host, "allocated", c.id);
  }
  store::operations::Insert(tx, a.operation);
  RecordAdmission(tx, c, a.operation, clock_.NowMs());
  return Status::Ok();
}

Result<Admitted> ClusterService::Create(const CreateClusterRequest& request,
                                        const std::string& team_id, const std::string& requested_by,
                                        bool dry_run) {
  KAAS_ASSIGN_OR_RETURN(ClusterDraft draft, Draft(request, team_id, requested_by, clock_.NowMs()));
  Admitted a{std::move(draft.cluster), std::move(draft.nodes), {}};
  KAAS_RETURN_IF_ERROR(Commit(
      dry_run,
      [&](store::Tx& tx, bool persist) {
        return AdmitCreate(tx, a, persist, request.allow_colocated_masters);
      },
      Conflict("a cluster named " + a.cluster.name + " already exists in this team"),
      a.operation.id));
  return a;
}

Result<Admitted> ClusterService::Delete(const std::string& cluster_id,
                                        const std::string& requested_by, bool dry_run) {
  Admitted a;
  auto admit = [&](store::Tx& tx, bool persist) -> Status {
    auto c = store::clusters::Find(tx, cluster_id);
    if (!c) return NotFound("cluster " + cluster_id + " not found");
    if (StatusOf(*c) == ClusterStatus::kDeleted)
      return Conflict("cluster " + c->name + " is already deleted");
    if (auto active = store::operations::FindActiveForCluster(tx, cluster_id)) {
      return Status(Code::kOperationInProgress, "cluster " + c->name + " has an active " +
                                                    active->type + " operation " + active->id);
    }
    a.cluster = *c;
    a.nodes = store::nodes::ListLive(tx, cluster_id);
    a.operation = NewOperation(*c, OperationType::kDelete, requested_by, PlanDelete(*c, a.nodes),
                               clock_.NowMs());
    if (!persist) return Status::Ok();
    a.cluster.status = ToString(ClusterStatus::kDeleting);
    a.cluster.status_reason = "";
    store::clusters::SetStatus(tx, cluster_id, ToString(ClusterStatus::kDeleting), "",
                               clock_.NowMs());
    store::operations::Insert(tx, a.operation);
    RecordAdmission(tx, a.cluster, a.operation, clock_.NowMs());
    return Status::Ok();
  };
  KAAS_RETURN_IF_ERROR(Commit(dry_run, admit,
                              Status(Code::kOperationInProgress, "cluster has an active operation"),
                              a.operation.id));
  return a;
}

Result<Admitted> ClusterService::AdmitChange(
    const std::string& cluster_id, OperationType type, const std::string& requested_by,
    bool dry_run,
    const std::function<Status(store::Tx&, const store::Cluster&, const std::vector<store::Node>&,
                               Change&)>& shape) {
  Admitted a;
  auto admit = [&](store::Tx& tx, bool persist) -> Status {
    auto c = store::clusters::Find(tx, cluster_id);
    if (!c || StatusOf(*c) == ClusterStatus::kDeleted)
      return NotFound("cluster " + cluster_id + " not found");
    if (auto active = store::operations::FindActiveForCluster(tx, cluster_id)) {
      return Status(Code::kOperationInProgress, "cluster " + c->name + " has an active " +
                                                    active->type + " operation " + active->id);
    }
    if (StatusOf(*c) != ClusterStatus::kRunning) {
      return Conflict("cluster " + c->name + " is " + c->status +
                      (c->status_reason.empty() ? "" : " (" + c->status_reason + ")") +
                      "; retry or delete it first");
    }
    auto nodes = store::nodes::ListLive(tx, cluster_id);
    Change ch;
    for (const auto& n : nodes)
      ch.spec.voters += RoleOf(n) == NodeRole::kMaster && StateOf(n) == NodeState::kReady;
    KAAS_RETURN_IF_ERROR(shape(tx, *c, nodes, ch));

    // Quota for what the change adds (new nodes, bigger masters).
    quota::Demand demand = quota::DemandOf(ch.new_nodes);
    std::vector<store::Node*> vms, physical;
    for (auto& n : ch.new_nodes) (KindOf(n) == NodeKind::kVm ? vms : physical).push_back(&n);
    std::map<std::string, store::HypervisorUsage> grow;  // per hypervisor, for resizes
    for (const auto& r : ch.resized) {
      auto old = std::find_if(nodes.begin(), nodes.end(),
                              [&](const store::Node& n) { return n.id == r.id; });
      demand += quota::GrowthOf(*old, r);
      grow[r.hypervisor].vcpus += r.vcpus - old->vcpus;
      grow[r.hypervisor].memory_gib += r.memory_gib - old->memory_gib;
    }
    if (!demand.empty()) KAAS_RETURN_IF_ERROR(quota_.Admit(tx, c->team_id, demand));

    // Capacity: place new VMs (masters away from the cluster's other masters), grow in place.
    std::vector<HypervisorRoom> rooms;
    auto usage = store::hypervisors::Usage(tx);
    for (const auto& hv : store::hypervisors::List(tx)) {
      const auto& u = usage[hv.name];
      int64_t free_v = hv.vcpus - u.vcpus, free_m = hv.memory_gib - u.memory_gib;
      if (grow.count(hv.name) &&
          (free_v < grow[hv.name].vcpus || free_m < grow[hv.name].memory_gib)) {
        return std::move(
            Status(Code::kInsufficientCapacity,
                   "hypervisor " + hv.name + " has no room to grow its masters")
                .WithShortfalls({{"vcpus", grow[hv.name].vcpus, hv.vcpus - free_v, hv.vcpus}}));
      }
      if (hv.state == "active")
        rooms.push_back({hv.name, free_v - std::max<int64_t>(grow[hv.name].vcpus, 0),
                         free_m - std::max<int64_t>(grow[hv.name].memory_gib, 0)});
    }
    std::vector<std::string> master_hvs;
    for (const auto& n : nodes) {
      if (RoleOf(n) == NodeRole::kMaster && KindOf(n) == NodeKind::kVm)
        master_hvs.push_back(n.hypervisor);
    }
    // Replaced and repaired masters leave; their hypervisors may take the replacements. A dead
    // master's hypervisor only when no other one can: it may be why the machine died.
    auto without = [&](std::vector<std::string> hvs,
                       const std::vector<std::pair<std::string, std::string>>& leaving) {
      for (const auto& [old_name, new_name] : leaving) {
        for (const auto& n : nodes) {
          if (n.name != old_name) continue;
          // One entry per master: another master may share that hypervisor.
          auto at = std::find(hvs.begin(), hvs.end(), n.hypervisor);
          if (at != hvs.end()) hvs.erase(at);
        }
      }
      return hvs;
    };
    master_hvs = without(master_hvs, ch.spec.replace_masters);
    Status placed = PlaceVms(rooms, vms, ch.allow_colocated_masters, master_hvs);
    if (!placed.ok() && !ch.spec.repair_masters.empty()) {
      placed = PlaceVms(rooms, vms, ch.allow_colocated_masters,
                        without(master_hvs, ch.spec.repair_masters));
    }
    KAAS_RETURN_IF_ERROR(placed);
    KAAS_RETURN_IF_ERROR(AssignHosts(tx, physical));

    a.cluster = *c;
    a.nodes = nodes;
    for (const auto& r : ch.resized) {
      for (auto& n : a.nodes) {
        if (n.id == r.id) n = r;
      }
    }
    a.nodes.insert(a.nodes.end(), ch.new_nodes.begin(), ch.new_nodes.end());
    a.operation = NewOperation(*c, type, requested_by, PlanChange(ch.spec), clock_.NowMs());
    a.operation.params = nlohmann::json(ch.params).dump();
    if (!persist) return Status::Ok();

    int64_t now = clock_.NowMs();
    if (!demand.empty()) quota_.NotifyNearlyFull(tx, c->team_id, demand, requested_by, now);
    for (const auto& n : ch.new_nodes) {
      store::nodes::Insert(tx, n);
      if (KindOf(n) == NodeKind::kPhysical) store::hosts::SetState(tx, n.host, "allocated", c->id);
    }
    // The new size is reserved now; the resize steps make the domains match it.
    for (const auto& r : ch.resized)
      store::nodes::SetSize(tx, r.id, r.flavor, r.vcpus, r.memory_gib, now);
    a.cluster.status = ToString(ClusterStatus::kUpdating);
    store::clusters::SetStatus(tx, c->id, a.cluster.status, "", now);
    store::operations::Insert(tx, a.operation);
    RecordAdmission(tx, a.cluster, a.operation, now);
    return Status::Ok();
  };
  KAAS_RETURN_IF_ERROR(Commit(dry_run, admit,
                              Status(Code::kOperationInProgress, "cluster has an active operation"),
                              a.operation.id));
  return a;
}

Result<store::Cluster> ClusterService::Edit(const std::string& cluster_id,
                                            const ClusterEdit& edit) {
  KAAS_RETURN_IF_ERROR(CheckLabels("labels", edit.set_labels));
  const bool labels = !edit.set_labels.empty() || !edit.remove_labels.empty();
  std::optional<store::Cluster> c;
  KAAS_RETURN_IF_ERROR(db_.Write([&](store::Tx& tx) {
    c = store::clusters::Find(tx, cluster_id);
    if (!c) return NotFound("cluster " + cluster_id + " not found");
    if (StatusOf(*c) == ClusterStatus::kDeleted) {
      return Conflict("cluster " + cluster_id + " is deleted");
    }
    if (!labels && !edit.auto_repair) return Status::Ok();  // nothing to change
    c->updated_at = clock_.NowMs();
    if (labels) {
      for (const auto& key : edit.remove_labels) c->labels.erase(key);
      for (const auto& [key, value] : edit.set_labels) c->labels[key] = value;
      KAAS_RETURN_IF_ERROR(CheckLabels("labels", c->labels));  // the count, after merging
      store::clusters::SetLabels(tx, c->id, c->labels, c->updated_at);
    }
    if (edit.auto_repair) {
      c->auto_repair = *edit.auto_repair ? 1 : 0;
      store::clusters::SetAutoRepair(tx, c->id, *edit.auto_repair, c->updated_at);
    }
    return Status::Ok();
  }));
  return *c;
}

Result<store::Operation> ClusterService::Cancel(const std::string& operation_id) {
  std::optional<store::Operation> op;
  KAAS_RETURN_IF_ERROR(db_.Write([&](store::Tx& tx) {
    op = store::operations::Find(tx, operation_id);
    if (!op) return NotFound("operation " + operation_id + " not found");
    const auto state = StateOf(*op);
    if (state != OperationState::kPending && state != OperationState::kRunning) {
      return Conflict("operation " + operation_id + " has already " +
                      (state == OperationState::kSucceeded ? std::string("succeeded")
                                                           : "ended (" + op->state + ")"));
    }
    store::operations::RequestCancel(tx, operation_id, clock_.NowMs());
    op->cancel_requested = true;
    return Status::Ok();
  }));
  queue_.RequestCancel(operation_id);
  queue_.Submit(operation_id);  // a pending operation not running anywhere ends here
  return *op;
}

Result<store::Operation> ClusterService::Retry(const std::string& operation_id) {
  std::optional<store::Operation> op;
  KAAS_RETURN_IF_ERROR(db_.Write([&](store::Tx& tx) {
    op = store::operations::Find(tx, operation_id);
    if (!op) return NotFound("operation " + operation_id + " not found");
    if (StateOf(*op) != OperationState::kFailed && StateOf(*op) != OperationState::kCancelled) {
      return Conflict("only a failed or cancelled operation can be retried; this one is " +
                      op->state);
    }
    if (auto active = store::operations::FindActiveForCluster(tx, op->cluster_id)) {
      return Status(Code::kOperationInProgress,
                    "the cluster has an active operation " + active->id);
    }
    auto latest = store::operations::ListForCluster(tx, op->cluster_id, 1);
    if (latest.empty() || latest[0].id != operation_id) {
      return Conflict("only the cluster's latest operation can be retried");
    }
    auto c = store::clusters::Find(tx, op->cluster_id);
    if (!c || StatusOf(*c) == ClusterStatus::kDeleted) return Conflict("the cluster is deleted");
    int64_t now = clock_.NowMs();
    for (auto& s : op->steps) {
      const auto state = StateOf(s);
      if (state == StepState::kFailed || state == StepState::kCancelled ||
          state == StepState::kRunning) {
        s.state = ToString(StepState::kPending);
        s.finished_at = 0;
        store::operations::UpdateStep(tx, s);
      }
    }
    store::operations::Reopen(tx, operation_id, now);
    const auto type = TypeOf(*op);
    std::string status = ToString(type == OperationType::kCreate   ? ClusterStatus::kProvisioning
                                  : type == OperationType::kDelete ? ClusterStatus::kDeleting
                                                                   : ClusterStatus::kUpdating);
    store::clusters::SetStatus(tx, op->cluster_id, status, "", now);
    op->state = ToString(OperationState::kPending);
    op->error.clear();
    c->status = status;
    RecordAdmission(tx, *c, *op, now);
    return Status::Ok();
  }));
  queue_.Submit(operation_id);
  return *op;
}
}  // namespace kaas::lifecycle
