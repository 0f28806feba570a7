#include "kaas/lifecycle/planner.h"

#include <algorithm>
#include <map>
#include <set>

#include "kaas/common/ids.h"
#include "kaas/common/names.h"
#include "kaas/lifecycle/catalog.h"

namespace kaas::lifecycle {
namespace {

store::Step MakeStep(const std::string& name, StepKind kind, const std::string& target = "") {
  store::Step s;
  s.name = name;
  s.kind = ToString(kind);
  s.target = target;
  s.state = ToString(StepState::kPending);
  return s;
}

void Number(std::vector<store::Step>& steps) {
  for (size_t i = 0; i < steps.size(); ++i) steps[i].index = static_cast<int64_t>(i);
}

}  // namespace

store::Node ReservedNode(const store::Cluster& c, const std::string& name, NodeRole role,
                         const Flavor* flavor, NodeKind kind, int64_t now) {
  store::Node n;
  n.id = NewId("nd");
  n.cluster_id = c.id;
  n.name = name;
  n.role = ToString(role);
  n.kind = ToString(kind);
  n.flavor = flavor ? flavor->name : "";
  n.state = ToString(NodeState::kReserved);
  n.vcpus = flavor ? flavor->vcpus : 0;
  n.memory_gib = flavor ? flavor->memory_gib : 0;
  n.kubernetes_version = c.kubernetes_version;
  n.created_at = n.updated_at = now;
  return n;
}

Status Validate(const CreateClusterRequest& r) {
  KAAS_RETURN_IF_ERROR(CheckDnsLabel("name", r.name, kClusterNameMaxLength));
  if (r.team.empty()) return InvalidArgument("team", "team is required");
  KAAS_RETURN_IF_ERROR(CheckLabels("labels", r.labels));
  KAAS_ASSIGN_OR_RETURN(int64_t masters, MasterCount(r.purpose, r.master_count));
  (void)masters;
  if (!r.kubernetes_version.empty() && !IsSupportedVersion(r.kubernetes_version)) {
    return InvalidArgument("kubernetes_version",
                           "kubernetes_version " + r.kubernetes_version +
                               " is not supported (see GET /api/v1/versions)");
  }
  if (!Parse<NodeKind>(r.worker_kind)) {
    return InvalidArgument("workers.kind", "workers.kind must be vm or physical");
  }
  if (!r.worker_flavor.empty()) KAAS_RETURN_IF_ERROR(WorkerFlavor(r.worker_flavor).status());
  KAAS_RETURN_IF_ERROR(MasterFlavorForWorkers(r.worker_count).status());
  return Status::Ok();
}

Result<ClusterDraft> Draft(const CreateClusterRequest& r, const std::string& team_id,
                           const std::string& requested_by, int64_t now) {
  KAAS_RETURN_IF_ERROR(Validate(r));
  KAAS_ASSIGN_OR_RETURN(int64_t master_count, MasterCount(r.purpose, r.master_count));
  KAAS_ASSIGN_OR_RETURN(Flavor master, MasterFlavorForWorkers(r.worker_count));
  KAAS_ASSIGN_OR_RETURN(Flavor worker, WorkerFlavor(r.worker_flavor.empty() ? kDefaultWorkerFlavor
                                                                            : r.worker_flavor));
  ClusterDraft d;
  store::Cluster& c = d.cluster;
  c.id = NewId("cl");
  c.team_id = team_id;
  c.name = r.name;
  c.purpose = r.purpose;
  c.kubernetes_version = r.kubernetes_version.empty() ? DefaultVersion() : r.kubernetes_version;
  c.status = ToString(ClusterStatus::kProvisioning);
  c.master_count = master_count;
  c.master_flavor = master.name;
  c.master_kind = ToString(master.kind);
  c.worker_count = r.worker_count;
  c.worker_kind = r.worker_kind;
  const NodeKind worker_kind = *Parse<NodeKind>(r.worker_kind);  // checked by Validate
  c.worker_flavor = worker_kind == NodeKind::kPhysical ? "" : worker.name;
  c.created_by = requested_by;
  c.created_at = c.updated_at = now;
  c.labels = r.labels;

  auto add = [&](const std::string& name, NodeRole role, NodeKind kind, const Flavor* flavor) {
    d.nodes.push_back(ReservedNode(c, name, role, flavor, kind, now));
  };
  for (int64_t i = 1; i <= master_count; ++i) {
    add("master-" + std::to_string(i), NodeRole::kMaster, master.kind, &master);
  }
  for (int64_t i = 1; i <= r.worker_count; ++i) {
    add("worker-" + std::to_string(i), NodeRole::kWorker, worker_kind,
        worker_kind == NodeKind::kVm ? &worker : nullptr);
  }
  return d;
}

Status PlaceVms(std::vector<HypervisorRoom> rooms, std::vector<store::Node*> vms,
                bool allow_colocated_masters,
                const std::vector<std::string>& existing_master_hypervisors) {
  auto fits = [](const HypervisorRoom& h, const store::Node& n) {
    return h.free_vcpus >= n.vcpus && h.free_memory_gib >= n.memory_gib;
  };
  auto take = [](HypervisorRoom& h, store::Node& n) {
    h.free_vcpus -= n.vcpus;
    h.free_memory_gib -= n.memory_gib;
    n.hypervisor = h.name;
  };
  auto by_room = [](const HypervisorRoom& a, const HypervisorRoom& b) {
    if (a.free_vcpus != b.free_vcpus) return a.free_vcpus > b.free_vcpus;
    if (a.free_memory_gib != b.free_memory_gib) return a.free_memory_gib > b.free_memory_gib;
    return a.name < b.name;
  };
  // Hypervisors that already carry a master of this cluster count as taken.
  std::set<std::string> master_hosts(existing_master_hypervisors.begin(),
                                     existing_master_hypervisors.end());
  for (store::Node* n : vms) {
    if (RoleOf(*n) != NodeRole::kMaster) continue;
    std::sort(rooms.begin(), rooms.end(), by_room);
    auto it = std::find_if(rooms.begin(), rooms.end(), [&](const HypervisorRoom& h) {
      return !master_hosts.count(h.name) && fits(h, *n);
    });
    if (it == rooms.end() && allow_colocated_masters) {
      // Fewest masters of this cluster first, then most room.
      std::map<std::string, int> masters_on;
      for (store::Node* m : vms) {
        if (RoleOf(*m) == NodeRole::kMaster && !m->hypervisor.empty()) masters_on[m->hypervisor]++;
      }
      for (auto h = rooms.begin(); h != rooms.end(); ++h) {
        if (!fits(*h, *n)) continue;
        if (it == rooms.end() || masters_on[h->name] < masters_on[it->name]) it = h;
      }
    }
    if (it == rooms.end()) {
      return std::move(
          Status(Code::kInsufficientCapacity,
                 "no placement for " + n->name +
                     ": masters of a cluster need distinct hypervisors with " +
                     std::to_string(n->vcpus) + " vCPU and " + std::to_string(n->memory_gib) +
                     " GiB free")
              .WithShortfalls({{"hypervisors", static_cast<int64_t>(master_hosts.size() + 1),
                                static_cast<int64_t>(master_hosts.size()),
                                static_cast<int64_t>(master_hosts.size())}}));
    }
    master_hosts.insert(it->name);
    take(*it, *n);
  }
  for (store::Node* n : vms) {
    if (RoleOf(*n) == NodeRole::kMaster) continue;
    std::sort(rooms.begin(), rooms.end(), by_room);
    // The hypervisor with most free vCPU may lack memory while another one has both.
    auto it = std::find_if(rooms.begin(), rooms.end(),
                           [&](const HypervisorRoom& h) { return fits(h, *n); });
    if (it == rooms.end()) {
      int64_t free_vcpus = 0, free_memory_gib = 0;
      bool vcpus_fit_somewhere = false;
      for (const auto& h : rooms) {
        free_vcpus += h.free_vcpus;
        free_memory_gib += h.free_memory_gib;
        vcpus_fit_somewhere |= h.free_vcpus >= n->vcpus;
      }
      ResourceShortfall shortfall =
          vcpus_fit_somewhere ? ResourceShortfall{"memory_gib", n->memory_gib, 0, free_memory_gib}
                              : ResourceShortfall{"vcpus", n->vcpus, 0, free_vcpus};
      return std::move(
          Status(Code::kInsufficientCapacity, "no hypervisor has room for " + n->name + " (" +
                                                  std::to_string(n->vcpus) + " vCPU, " +
                                                  std::to_string(n->memory_gib) + " GiB)")
              .WithShortfalls({shortfall}));
    }
    take(*it, *n);
  }
  return Status::Ok();
}

std::vector<store::Step> PlanCreate(const store::Cluster& cluster,
                                    const std::vector<store::Node>& nodes) {
  std::vector<store::Step> steps;
  steps.push_back(MakeStep("reserve quota and placement", StepKind::kReserve));
  steps.push_back(MakeStep("issue PKI", StepKind::kIssuePki));
  steps.push_back(
      MakeStep("provision masters", StepKind::kProvisionNodes, ToString(NodeRole::kMaster)));
  std::vector<std::string> masters;
  bool has_workers = false;
  for (const auto& n : nodes) {
    if (RoleOf(n) == NodeRole::kMaster) masters.push_back(n.name);
    if (RoleOf(n) == NodeRole::kWorker) has_workers = true;
  }
  if (!masters.empty()) {
    steps.push_back(
        MakeStep("bootstrap " + masters[0], StepKind::kBootstrapFirstMaster, masters[0]));
  }
  for (size_t i = 1; i < masters.size(); ++i) {
    steps.push_back(MakeStep("join " + masters[i], StepKind::kJoinMaster, masters[i]));
    // i + 1 members after this join: a cancel does not stop at an even count.
    steps.back().cancel_safe = (i + 1) % 2 == 1;
  }
  if (has_workers) {
    steps.push_back(
        MakeStep("provision workers", StepKind::kProvisionNodes, ToString(NodeRole::kWorker)));
    steps.push_back(MakeStep("join workers", StepKind::kJoinWorkers, ToString(NodeRole::kWorker)));
  }
  steps.push_back(MakeStep("verify cluster", StepKind::kVerify));
  Number(steps);
  return steps;
}

std::vector<store::Step> PlanChange(const ChangeSpec& spec) {
  std::vector<store::Step> steps;
  int64_t voters = spec.voters;
  auto add = [&](const std::string& name, StepKind kind, const std::string& target) {
    store::Step s = MakeStep(name, kind, target);
    s.cancel_safe = voters % 2 == 1;
    steps.push_back(std::move(s));
  };
  auto join_list = [](const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
    return out;
  };
  // Step names stay readable for big batches: "worker-3 … worker-60 (58 nodes)".
  auto label = [](const std::vector<std::string>& names) {
    if (names.size() <= 4) {
      std::string out;
      for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
      return out;
    }
    return names.front() + " … " + names.back() + " (" + std::to_string(names.size()) + " nodes)";
  };
  auto gate = [&] {
    add("health gate (" + std::to_string(voters) + " etcd voters)", StepKind::kHealthGate, "");
  };

  auto masters = [&] {
    // No health gate before the dead member leaves: etcd cannot report it healthy. etcd itself
    // refuses a removal that would cost the others their quorum.
    for (const auto& [dead, fresh] : spec.repair_masters) {
      --voters;
      add("remove " + dead + " from etcd (its machine is down)", StepKind::kEtcdRemove, dead);
      add("destroy " + dead, StepKind::kDestroyNodes, dead);
      add("provision " + fresh, StepKind::kProvisionNode, fresh);
      gate();
      add("add " + fresh + " to etcd as learner", StepKind::kEtcdAddLearner, fresh);
      ++voters;
      add("promote " + fresh + " to voter", StepKind::kEtcdPromote, fresh);
      gate();
    }
    for (const auto& [old_name, new_name] : spec.replace_masters) {
      add("provision " + new_name, StepKind::kProvisionNode, new_name);
      gate();
      add("add " + new_name + " to etcd as learner", StepKind::kEtcdAddLearner, new_name);
      ++voters;
      add("promote " + new_name + " to voter", StepKind::kEtcdPromote, new_name);
      gate();
      --voters;
      add("remove " + old_name + " from etcd", StepKind::kEtcdRemove, old_name);
      add("destroy " + old_name, StepKind::kDestroyNodes, old_name);
    }
    if (!spec.add_masters.empty()) {
      add("provision " + label(spec.add_masters), StepKind::kProvisionNodes,
          ToString(NodeRole::kMaster));
    }
    for (const auto& m : spec.add_masters) {
      gate();
      add("add " + m + " to etcd as learner", StepKind::kEtcdAddLearner, m);
      ++voters;
      add("promote " + m + " to voter", StepKind::kEtcdPromote, m);
    }
    for (const auto& m : spec.remove_masters) {
      gate();
      --voters;
      add("remove " + m + " from etcd", StepKind::kEtcdRemove, m);
      add("destroy " + m, StepKind::kDestroyNodes, m);
    }
    for (const auto& m : spec.resize_masters) {
      gate();
      add("resize " + m +
              (spec.single_master_downtime ? " (single master: API briefly unavailable)" : ""),
          StepKind::kResizeNode, m);
    }
  };
  auto workers = [&] {
    if (!spec.add_workers.empty()) {
      add("provision " + label(spec.add_workers), StepKind::kProvisionNodes,
          ToString(NodeRole::kWorker));
      add("join workers", StepKind::kJoinWorkers, ToString(NodeRole::kWorker));
    }
    if (!spec.remove_workers.empty()) {
      add("drain " + label(spec.remove_workers), StepKind::kDrainNodes,
          join_list(spec.remove_workers));
      add("remove " + label(spec.remove_workers), StepKind::kDestroyNodes,
          join_list(spec.remove_workers));
    }
  };
  if (spec.masters_first) {
    masters();
    workers();
  } else {
    workers();
    masters();
  }
  if (!spec.upgrade_to.empty()) {
    for (const auto& m : spec.upgrade_masters) {
      gate();
      add("upgrade " + m + " to " + spec.upgrade_to, StepKind::kUpgradeNodes, m);
    }
    size_t batch = static_cast<size_t>(std::max<int64_t>(1, spec.max_unavailable));
    for (size_t i = 0; i < spec.upgrade_workers.size(); i += batch) {
      std::vector<std::string> b(
          spec.upgrade_workers.begin() + i,
          spec.upgrade_workers.begin() + std::min(spec.upgrade_workers.size(), i + batch));
      add("upgrade " + label(b) + " to " + spec.upgrade_to, StepKind::kUpgradeNodes, join_list(b));
    }
  }
  add("verify cluster", StepKind::kVerify, "");
  Number(steps);
  return steps;
}

std::vector<store::Step> PlanDelete(const store::Cluster& cluster,
                                    const std::vector<store::Node>& nodes) {
  std::vector<store::Step> steps;
  bool has_workers = std::any_of(nodes.begin(), nodes.end(), [](const store::Node& n) {
    return RoleOf(n) == NodeRole::kWorker;
  });
  if (has_workers)
    steps.push_back(
        MakeStep("remove workers", StepKind::kDestroyNodes, ToString(NodeRole::kWorker)));
  steps.push_back(MakeStep("remove masters", StepKind::kDestroyNodes, ToString(NodeRole::kMaster)));
  steps.push_back(MakeStep("release cluster", StepKind::kReleaseCluster));
  Number(steps);
  return steps;
}

}  // namespace kaas::lifecycle
