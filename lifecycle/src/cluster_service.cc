#include "kaas/lifecycle/cluster_service.h"

#include "kaas/common/ids.h"
#include "kaas/store/repositories.h"

namespace kaas::lifecycle {
namespace {

store::Operation NewOperation(const store::Cluster& c, const std::string& type,
                              const std::string& requested_by, std::vector<store::Step> steps,
                              int64_t now) {
  store::Operation op;
  op.id = NewId("op");
  op.cluster_id = c.id;
  op.type = type;
  op.state = "pending";
  op.requested_by = requested_by;
  op.created_at = op.updated_at = now;
  op.steps = std::move(steps);
  for (auto& s : op.steps) s.operation_id = op.id;
  return op;
}

}  // namespace

int Progress(const store::Operation& op) {
  if (op.steps.empty()) return op.state == "succeeded" ? 100 : 0;
  size_t done = 0;
  for (const auto& s : op.steps) done += s.state == "succeeded";
  return static_cast<int>(done * 100 / op.steps.size());
}

Status ClusterService::AdmitCreate(store::Tx& tx, Admitted& a, bool persist,
                                   bool allow_colocated_masters) {
  store::Cluster& c = a.cluster;
  if (store::clusters::FindLiveByName(tx, c.team_id, c.name)) {
    return Conflict("a cluster named " + c.name + " already exists in this team");
  }
  quota::Demand demand;
  demand.clusters = 1;
  std::vector<store::Node*> vms, physical;
  for (auto& n : a.nodes) {
    if (n.kind == "vm") {
      demand.vcpus += n.vcpus;
      demand.memory_gib += n.memory_gib;
      vms.push_back(&n);
    } else {
      demand.physical_hosts += 1;
      physical.push_back(&n);
    }
  }
  KAAS_RETURN_IF_ERROR(quota_.Admit(tx, c.team_id, demand));

  std::vector<HypervisorRoom> rooms;
  auto usage = store::hypervisors::Usage(tx);
  for (const auto& hv : store::hypervisors::List(tx)) {
    if (hv.state != "active") continue;
    const auto& u = usage[hv.name];
    rooms.push_back({hv.name, hv.vcpus - u.vcpus, hv.memory_gib - u.memory_gib});
  }
  KAAS_RETURN_IF_ERROR(PlaceVms(std::move(rooms), vms, allow_colocated_masters));
  if (!physical.empty()) {
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
  }
  a.operation = NewOperation(c, "create", c.created_by, PlanCreate(c, a.nodes), clock_.NowMs());
  if (!persist) return Status::Ok();

  store::clusters::Insert(tx, c);
  for (const auto& n : a.nodes) {
    store::nodes::Insert(tx, n);
    if (n.kind == "physical") store::hosts::SetState(tx, n.host, "allocated", c.id);
  }
  store::operations::Insert(tx, a.operation);
  return Status::Ok();
}

Result<Admitted> ClusterService::Create(const CreateClusterRequest& request,
                                        const std::string& team_id, const std::string& requested_by,
                                        bool dry_run) {
  KAAS_ASSIGN_OR_RETURN(ClusterDraft draft, Draft(request, team_id, requested_by, clock_.NowMs()));
  Admitted a{std::move(draft.cluster), std::move(draft.nodes), {}};
  if (dry_run) {
    KAAS_RETURN_IF_ERROR(db_.Read(
        [&](store::Tx& tx) { return AdmitCreate(tx, a, false, request.allow_colocated_masters); }));
    return a;
  }
  Status st = db_.Write(
      [&](store::Tx& tx) { return AdmitCreate(tx, a, true, request.allow_colocated_masters); });
  if (st.code() == Code::kAlreadyExists) {
    return Conflict("a cluster named " + a.cluster.name + " already exists in this team");
  }
  KAAS_RETURN_IF_ERROR(st);
  engine_.Submit(a.operation.id);
  return a;
}

Result<Admitted> ClusterService::Delete(const std::string& cluster_id,
                                        const std::string& requested_by, bool dry_run) {
  Admitted a;
  auto admit = [&](store::Tx& tx, bool persist) -> Status {
    auto c = store::clusters::Find(tx, cluster_id);
    if (!c) return NotFound("cluster " + cluster_id + " not found");
    if (c->status == "deleted") return Conflict("cluster " + c->name + " is already deleted");
    if (auto active = store::operations::FindActiveForCluster(tx, cluster_id)) {
      return Status(Code::kOperationInProgress, "cluster " + c->name + " has an active " +
                                                    active->type + " operation " + active->id);
    }
    a.cluster = *c;
    a.nodes = store::nodes::ListLive(tx, cluster_id);
    a.operation = NewOperation(*c, "delete", requested_by, PlanDelete(*c, a.nodes), clock_.NowMs());
    if (!persist) return Status::Ok();
    a.cluster.status = "deleting";
    a.cluster.status_reason = "";
    store::clusters::SetStatus(tx, cluster_id, "deleting", "", clock_.NowMs());
    store::operations::Insert(tx, a.operation);
    return Status::Ok();
  };
  if (dry_run) {
    KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) { return admit(tx, false); }));
    return a;
  }
  Status st = db_.Write([&](store::Tx& tx) { return admit(tx, true); });
  if (st.code() == Code::kAlreadyExists) {
    return Status(Code::kOperationInProgress, "cluster has an active operation");
  }
  KAAS_RETURN_IF_ERROR(st);
  engine_.Submit(a.operation.id);
  return a;
}

}  // namespace kaas::lifecycle
