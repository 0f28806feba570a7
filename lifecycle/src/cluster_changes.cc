// The changes to a running cluster: what each one adds, removes and plans (its shape); the
// admission itself is ClusterService::AdmitChange (cluster_service.cc).
#include <algorithm>
#include <map>
#include <set>

#include "cluster_change.h"
#include "kaas/lifecycle/catalog.h"
#include "kaas/store/repositories.h"

namespace kaas::lifecycle {

namespace {

int NodeNumber(const std::string& name) {
  auto dash = name.rfind('-');
  return dash == std::string::npos ? 0 : std::atoi(name.c_str() + dash + 1);
}

// Highest-numbered first.
std::vector<store::Node> ByNumberDesc(std::vector<store::Node> nodes) {
  std::sort(nodes.begin(), nodes.end(), [](const store::Node& a, const store::Node& b) {
    return NodeNumber(a.name) > NodeNumber(b.name);
  });
  return nodes;
}

// Plans the masters' move to `target`: in place when the kind stays, replacement otherwise.
void PlanMasterFlavor(const store::Cluster& c, const std::vector<store::Node>& masters,
                      const Flavor& target, int& next_master, int64_t now,
                      ClusterService::Change& ch);

}  // namespace

namespace {

void PlanMasterFlavor(const store::Cluster& c, const std::vector<store::Node>& masters,
                      const Flavor& target, int& next_master, int64_t now,
                      ClusterService::Change& ch) {
  for (const auto& m : masters) {
    if (m.flavor == target.name) continue;
    if (KindOf(m) == target.kind && target.kind == NodeKind::kVm) {
      store::Node r = m;
      r.flavor = target.name;
      r.vcpus = target.vcpus;
      r.memory_gib = target.memory_gib;
      ch.resized.push_back(r);
      ch.spec.resize_masters.push_back(m.name);
      continue;
    }
    store::Node n = ReservedNode(c, "master-" + std::to_string(next_master++), NodeRole::kMaster,
                                 &target, target.kind, now);
    ch.spec.replace_masters.emplace_back(m.name, n.name);
    ch.new_nodes.push_back(std::move(n));
  }
  ch.spec.single_master_downtime = masters.size() == 1;
}

}  // namespace

Result<Admitted> ClusterService::ScaleWorkers(const std::string& cluster_id, int64_t count,
                                              const std::string& requested_by, bool dry_run) {
  if (count < 0 || count > kMaxWorkers) {
    return InvalidArgument("count", "count must be between 0 and 500 (sizing policy)");
  }
  return AdmitChange(
      cluster_id, OperationType::kScaleWorkers, requested_by, dry_run,
      [&](store::Tx&, const store::Cluster& c, const std::vector<store::Node>& nodes,
          Change& ch) -> Status {
        std::vector<store::Node> masters, workers;
        int next_master = 1, next_worker = 1;
        for (const auto& n : nodes) {
          (RoleOf(n) == NodeRole::kMaster ? masters : workers).push_back(n);
          int& next = RoleOf(n) == NodeRole::kMaster ? next_master : next_worker;
          next = std::max(next, NodeNumber(n.name) + 1);
        }
        int64_t current = static_cast<int64_t>(workers.size());
        if (count == current) {
          return InvalidArgument("count",
                                 "the cluster already has " + std::to_string(count) + " workers");
        }
        ch.params["workers"] = std::to_string(count);
        int64_t now = clock_.NowMs();
        if (count > current) {
          KAAS_ASSIGN_OR_RETURN(
              Flavor wf,
              WorkerFlavor(c.worker_flavor.empty() ? kDefaultWorkerFlavor : c.worker_flavor));
          for (int64_t i = current; i < count; ++i) {
            const NodeKind kind = Parse<NodeKind>(c.worker_kind).value_or(NodeKind::kVm);
            auto n = ReservedNode(c, "worker-" + std::to_string(next_worker++), NodeRole::kWorker,
                                  kind == NodeKind::kVm ? &wf : nullptr, kind, now);
            ch.spec.add_workers.push_back(n.name);
            ch.new_nodes.push_back(std::move(n));
          }
        } else {
          auto doomed = ByNumberDesc(workers);
          for (int64_t i = 0; i < current - count; ++i)
            ch.spec.remove_workers.push_back(doomed[i].name);
        }
        // Sizing policy: masters follow the worker count, re-sized first when growing.
        KAAS_ASSIGN_OR_RETURN(Flavor target, MasterFlavorForWorkers(count));
        ch.spec.masters_first = count > current;
        PlanMasterFlavor(c, masters, target, next_master, now, ch);
        return Status::Ok();
      });
}

Result<Admitted> ClusterService::ScaleMasters(const std::string& cluster_id, int64_t count,
                                              const std::string& requested_by, bool dry_run,
                                              bool allow_colocated_masters) {
  if (count != 1 && count != 3 && count != 5) {
    return InvalidArgument("count", "count must be 1, 3 or 5 (an etcd quorum never rests even)");
  }
  return AdmitChange(cluster_id, OperationType::kScaleMasters, requested_by, dry_run,
                     [&](store::Tx&, const store::Cluster& c, const std::vector<store::Node>& nodes,
                         Change& ch) -> Status {
                       std::vector<store::Node> masters;
                       int next = 1;
                       for (const auto& n : nodes) {
                         if (RoleOf(n) != NodeRole::kMaster) continue;
                         masters.push_back(n);
                         next = std::max(next, NodeNumber(n.name) + 1);
                       }
                       int64_t current = static_cast<int64_t>(masters.size());
                       if (count == current) {
                         return InvalidArgument("count", "the cluster already has " +
                                                             std::to_string(count) + " masters");
                       }
                       ch.params["masters"] = std::to_string(count);
                       ch.allow_colocated_masters = allow_colocated_masters;
                       KAAS_ASSIGN_OR_RETURN(Flavor flavor, MasterFlavor(c.master_flavor));
                       int64_t now = clock_.NowMs();
                       if (count > current) {
                         for (int64_t i = current; i < count; ++i) {
                           auto n = ReservedNode(c, "master-" + std::to_string(next++),
                                                 NodeRole::kMaster, &flavor, flavor.kind, now);
                           ch.spec.add_masters.push_back(n.name);
                           ch.new_nodes.push_back(std::move(n));
                         }
                       } else {
                         auto doomed = ByNumberDesc(masters);
                         for (int64_t i = 0; i < current - count; ++i)
                           ch.spec.remove_masters.push_back(doomed[i].name);
                       }
                       return Status::Ok();
                     });
}

Result<Admitted> ClusterService::ResizeMasters(const std::string& cluster_id,
                                               const std::string& flavor_name,
                                               const std::string& requested_by, bool dry_run) {
  KAAS_ASSIGN_OR_RETURN(Flavor target, MasterFlavor(flavor_name));
  return AdmitChange(
      cluster_id, OperationType::kResizeMasters, requested_by, dry_run,
      [&](store::Tx&, const store::Cluster& c, const std::vector<store::Node>& nodes,
          Change& ch) -> Status {
        std::vector<store::Node> masters;
        int next = 1, workers = 0;
        for (const auto& n : nodes) {
          next = std::max(next, RoleOf(n) == NodeRole::kMaster ? NodeNumber(n.name) + 1 : next);
          if (RoleOf(n) == NodeRole::kMaster) masters.push_back(n);
          workers += RoleOf(n) == NodeRole::kWorker;
        }
        KAAS_ASSIGN_OR_RETURN(Flavor policy, MasterFlavorForWorkers(workers));
        if (MasterFlavorRank(target.name) < MasterFlavorRank(policy.name)) {
          return InvalidArgument("flavor", "the sizing policy needs at least " + policy.name +
                                               " for " + std::to_string(workers) + " workers");
        }
        if (std::all_of(masters.begin(), masters.end(),
                        [&](const store::Node& m) { return m.flavor == target.name; })) {
          return InvalidArgument("flavor", "the masters already are " + target.name);
        }
        ch.params["flavor"] = target.name;
        PlanMasterFlavor(c, masters, target, next, clock_.NowMs(), ch);
        return Status::Ok();
      });
}

Result<Admitted> ClusterService::Repair(const std::string& cluster_id, const std::string& node_name,
                                        const std::string& requested_by, bool dry_run) {
  return AdmitChange(
      cluster_id, OperationType::kRepair, requested_by, dry_run,
      [&](store::Tx&, const store::Cluster& c, const std::vector<store::Node>& nodes,
          Change& ch) -> Status {
        auto node = std::find_if(nodes.begin(), nodes.end(),
                                 [&](const store::Node& n) { return n.name == node_name; });
        if (node == nodes.end()) {
          return NotFound("node " + node_name + " not found in cluster " + c.name);
        }
        if (StateOf(*node) != NodeState::kReady) {
          return Conflict("node " + node_name + " is " + node->state +
                          "; only a ready node is repaired");
        }
        int next = 1, voters = 0, healthy_voters = 0;
        for (const auto& n : nodes) {
          if (RoleOf(n) != RoleOf(*node)) continue;
          next = std::max(next, NodeNumber(n.name) + 1);
          if (RoleOf(n) == NodeRole::kMaster && StateOf(n) == NodeState::kReady) {
            ++voters;
            healthy_voters += n.name != node_name && HealthOf(n) != NodeHealth::kUnhealthy;
          }
        }
        const bool dead = HealthOf(*node) == NodeHealth::kUnhealthy;
        ch.params["node"] = node_name;
        if (!node->health_reason.empty()) ch.params["reason"] = node->health_reason;
        const int64_t now = clock_.NowMs();
        const NodeKind kind = KindOf(*node).value_or(NodeKind::kVm);
        if (RoleOf(*node) == NodeRole::kMaster) {
          if (voters <= 1) {
            return Status(
                Code::kFailedPrecondition,
                "cannot repair " + node_name +
                    ": it is the cluster's only master, and etcd's data lives only there (restore "
                    "it from a backup, or scale the masters to 3 first)");
          }
          // After the dead member leaves, the others must still be a majority of etcd.
          if (dead && healthy_voters < (voters - 1) / 2 + 1) {
            return Status(Code::kFailedPrecondition,
                          "cannot repair " + node_name + ": only " +
                              std::to_string(healthy_voters) + " of " + std::to_string(voters) +
                              " masters are healthy, etcd would lose its quorum");
          }
          // The new master stays as far from the others as they are from each other: apart,
          // unless the cluster's masters already share a hypervisor (allowed at their change).
          std::set<std::string> hvs;
          int vm_masters = 0;
          for (const auto& m : nodes) {
            if (RoleOf(m) != NodeRole::kMaster || m.name == node_name) continue;
            if (KindOf(m) != NodeKind::kVm) continue;
            ++vm_masters;
            hvs.insert(m.hypervisor);
          }
          ch.allow_colocated_masters = static_cast<int>(hvs.size()) < vm_masters;
          KAAS_ASSIGN_OR_RETURN(Flavor flavor, MasterFlavor(c.master_flavor));
          store::Node n = ReservedNode(c, "master-" + std::to_string(next), NodeRole::kMaster,
                                       &flavor, flavor.kind, now);
          if (dead) {
            ch.spec.repair_masters.emplace_back(node_name, n.name);
          } else {
            ch.spec.replace_masters.emplace_back(node_name, n.name);
          }
          ch.new_nodes.push_back(std::move(n));
          return Status::Ok();
        }
        const Flavor* flavor = nullptr;
        Flavor wf;
        if (kind == NodeKind::kVm) {
          KAAS_ASSIGN_OR_RETURN(
              wf, WorkerFlavor(node->flavor.empty() ? kDefaultWorkerFlavor : node->flavor));
          flavor = &wf;
        }
        store::Node n =
            ReservedNode(c, "worker-" + std::to_string(next), NodeRole::kWorker, flavor, kind, now);
        ch.spec.add_workers.push_back(n.name);
        ch.spec.remove_workers.push_back(node_name);
        ch.new_nodes.push_back(std::move(n));
        return Status::Ok();
      });
}

namespace {

struct Semver {
  int major = 0, minor = 0, patch = 0;
};
bool ParseVersion(const std::string& v, Semver* out) {
  return std::sscanf(v.c_str(), "%d.%d.%d", &out->major, &out->minor, &out->patch) == 3;
}

}  // namespace

Result<Admitted> ClusterService::Upgrade(const std::string& cluster_id, const std::string& version,
                                         int64_t max_unavailable, const std::string& requested_by,
                                         bool dry_run) {
  if (max_unavailable < 1) {
    return InvalidArgument("max_unavailable", "max_unavailable must be at least 1");
  }
  return AdmitChange(
      cluster_id, OperationType::kUpgrade, requested_by, dry_run,
      [&](store::Tx&, const store::Cluster& c, const std::vector<store::Node>& nodes,
          Change& ch) -> Status {
        Semver from, to;
        auto invalid = [&](const std::string& why) {
          return std::move(Status(Code::kInvalidUpgrade, "cannot upgrade " + c.name + " from " +
                                                             c.kubernetes_version + " to " +
                                                             version + ": " + why)
                               .WithField("kubernetes_version"));
        };
        if (!IsSupportedVersion(version) || !ParseVersion(version, &to)) {
          return invalid("not a supported version (see GET /api/v1/versions)");
        }
        ParseVersion(c.kubernetes_version, &from);
        if (to.major != from.major) return invalid("major version changes are not supported");
        if (to.minor < from.minor || (to.minor == from.minor && to.patch <= from.patch)) {
          return invalid("downgrades and same-version upgrades are not allowed");
        }
        if (to.minor > from.minor + 1) {
          return invalid("one minor version at a time: upgrade to 1." +
                         std::to_string(from.minor + 1) + ".x first");
        }
        ch.params["kubernetes_version"] = version;
        ch.spec.upgrade_to = version;
        ch.spec.max_unavailable = max_unavailable;
        for (const auto& n : nodes) {
          (RoleOf(n) == NodeRole::kMaster ? ch.spec.upgrade_masters : ch.spec.upgrade_workers)
              .push_back(n.name);
        }
        return Status::Ok();
      });
}

}  // namespace kaas::lifecycle
