// Steps that run a bootstrap playbook on nodes: bootstrap_first_master, join_master,
// join_workers, drain_nodes, upgrade_nodes; and the job every playbook run starts from.
#include <nlohmann/json.hpp>

#include "kaas/common/ids.h"
#include "kaas/common/log.h"
#include "kaas/lifecycle/steps.h"
#include "kaas/store/repositories.h"
#include "steps_internal.h"

namespace kaas::lifecycle {

provisioner::BootstrapJob ClusterSteps::NewJob(const Context& x, const std::string& playbook,
                                               const std::vector<store::Node>& nodes) const {
  const store::Cluster& c = x.cluster;
  provisioner::BootstrapJob job;
  job.playbook = playbook;
  job.cluster_id = c.id;
  job.operation_id = x.op.id;
  job.cluster_name = c.name;
  std::map<std::string, std::string> host_keys;  // physical host -> its pinned SSH host key
  Status team = d_.db.Read([&](store::Tx& tx) {
    if (auto t = store::teams::FindById(tx, c.team_id)) job.team_name = t->name;
    for (const auto& n : nodes) {
      if (KindOf(n) != NodeKind::kPhysical || n.host.empty()) continue;
      if (auto h = store::hosts::Find(tx, n.host)) host_keys[n.name] = h->host_key;
    }
    return Status::Ok();
  });
  if (!team.ok()) {
    log::Warn("team of the cluster not read", {{"cluster", c.id}, {"error", team.message()}});
  }
  job.kubernetes_version = c.kubernetes_version;
  job.work_dir = d_.work_root / x.op.id / (std::to_string(x.step.index) + "-" + x.step.kind);
  job.cancel = x.control.cancel;
  // Every line of the run becomes a `log` event of the cluster: the operation's live log in
  // the event stream (GET /clusters/{id}/events), next to the step it belongs to.
  job.on_output = [this, cluster_id = c.id, team_id = c.team_id, op_id = x.op.id,
                   index = x.step.index, name = x.step.name,
                   fence = x.control.fence](const std::string& line) {
    store::Event e{
        NewId("ev"),
        cluster_id,
        team_id,
        d_.clock.NowMs(),
        "log",
        nlohmann::json{{"operation", op_id}, {"index", index}, {"step", name}, {"line", line}}
            .dump()};
    Status st = Write(StepControl{nullptr, fence}, [&](store::Tx& tx) {
      store::events::Insert(tx, e);
      return Status::Ok();
    });
    if (!st.ok()) {
      log::Warn("step log line not recorded",
                {{"operation", op_id}, {"cluster", cluster_id}, {"error", st.message()}});
    }
  };
  std::vector<std::string> unreachable;
  for (const auto& n : nodes) {
    const bool master = RoleOf(n) == NodeRole::kMaster;
    job.nodes.push_back({n.name, n.role, n.address, master && StateOf(n) == NodeState::kReady,
                         master && StateOf(n) == NodeState::kLearner, host_keys[n.name]});
    if (HealthOf(n) == NodeHealth::kUnhealthy) unreachable.push_back(n.name);
  }
  // A physical host registered without its SSH host key gets the one it shows at kaas's first
  // contact pinned (hosts.host_key), unless another was pinned meanwhile.
  std::map<std::string, std::string> host_of;
  for (const auto& n : nodes) {
    if (KindOf(n) == NodeKind::kPhysical) host_of[n.name] = n.host;
  }
  job.pin_host_key = [this, host_of, fence = x.control.fence](
                         const std::string& node, const std::string& key) -> Result<bool> {
    auto it = host_of.find(node);
    if (it == host_of.end() || it->second.empty()) return true;  // a VM: nothing to record
    bool pinned = false;
    KAAS_RETURN_IF_ERROR(Write(StepControl{nullptr, fence}, [&](store::Tx& tx) {
      pinned = store::hosts::PinHostKey(tx, it->second, key);
      return Status::Ok();
    }));
    return pinned;
  };
  // Nodes whose machine is down (a repair): the playbooks do their part on the others and skip
  // the tasks that would have to reach them.
  job.extra_vars["kaas_unreachable"] = Join(unreachable, ",");
  return job;
}

Result<std::string> ClusterSteps::Transition(const Context& x, const std::string& playbook,
                                             const std::vector<std::string>& names, NodeState from,
                                             NodeState to,
                                             const std::vector<NodeState>& done_states,
                                             std::map<std::string, std::string> extra_vars) {
  KAAS_ASSIGN_OR_RETURN(auto nodes, LiveNodes(x.cluster.id));
  provisioner::BootstrapJob job = NewJob(x, playbook, nodes);
  for (auto& [k, v] : extra_vars) job.extra_vars[k] = std::move(v);
  std::vector<store::Node> todo;
  size_t skipped = 0;
  for (const auto& name : names) {
    auto it = std::find_if(nodes.begin(), nodes.end(),
                           [&](const store::Node& n) { return n.name == name; });
    if (it == nodes.end()) return Internal("node " + name + " is not part of the cluster");
    const std::optional<NodeState> state = StateOf(*it);
    if (state == to ||
        (state && std::find(done_states.begin(), done_states.end(), *state) != done_states.end())) {
      ++skipped;  // observed: already done
      continue;
    }
    if (state != from) {
      return Internal("node " + name + " is " + it->state + ", expected " + ToString(from));
    }
    todo.push_back(*it);
    job.targets.push_back(name);
  }
  if (todo.empty()) return std::string("already done; nothing to do");
  KAAS_RETURN_IF_ERROR(AddEtcdTls(job, x.cluster, todo));
  KAAS_ASSIGN_OR_RETURN(std::string msg, d_.bootstrapper.Run(job));
  KAAS_RETURN_IF_ERROR(Write(x.control, [&](store::Tx& tx) {
    for (const auto& n : todo) store::nodes::SetState(tx, n.id, ToString(to), d_.clock.NowMs());
    return Status::Ok();
  }));
  if (skipped > 0) msg += "; " + std::to_string(skipped) + " already done";
  return msg;
}

Result<std::string> ClusterSteps::Bootstrap(const Context& x, const std::string& playbook,
                                            NodeRole role, const std::string& target) {
  KAAS_ASSIGN_OR_RETURN(auto nodes, LiveNodes(x.cluster.id));
  provisioner::BootstrapJob job = NewJob(x, playbook, nodes);
  std::vector<store::Node> todo;
  for (const auto& n : nodes) {
    if (RoleOf(n) != role || (!target.empty() && n.name != target)) continue;
    if (StateOf(n) == NodeState::kReady) continue;  // joined already (observe before acting)
    if (StateOf(n) != NodeState::kProvisioned) {
      return Internal("node " + n.name + " is " + n.state + ", expected provisioned");
    }
    todo.push_back(n);
    job.targets.push_back(n.name);
  }
  if (todo.empty()) return std::string("already joined; nothing to do");
  KAAS_RETURN_IF_ERROR(AddEtcdTls(job, x.cluster, todo));
  KAAS_ASSIGN_OR_RETURN(std::string msg, d_.bootstrapper.Run(job));
  if (playbook == "join-master.yml") {
    // A create's further masters join as learners and are promoted in the same step (both
    // playbooks observe etcd first, so a re-run after a crash is harmless).
    provisioner::BootstrapJob promote = std::move(job);
    promote.playbook = "promote-master.yml";
    promote.files.clear();
    promote.work_dir += "-promote";
    KAAS_ASSIGN_OR_RETURN(std::string promoted, d_.bootstrapper.Run(promote));
    msg += "; " + promoted;
  }
  KAAS_RETURN_IF_ERROR(Write(x.control, [&](store::Tx& tx) {
    for (const auto& n : todo) {
      store::nodes::SetState(tx, n.id, ToString(NodeState::kReady), d_.clock.NowMs());
    }
    return Status::Ok();
  }));
  return msg;
}

StepResult ClusterSteps::BootstrapFirstMaster(const Context& x) {
  return Bootstrap(x, "bootstrap-master.yml", NodeRole::kMaster, x.step.target);
}

StepResult ClusterSteps::JoinMaster(const Context& x) {
  return Bootstrap(x, "join-master.yml", NodeRole::kMaster, x.step.target);
}

StepResult ClusterSteps::JoinWorkers(const Context& x) {
  return Bootstrap(x, "join-worker.yml", NodeRole::kWorker, "");
}

// target: a comma-separated list of workers.
StepResult ClusterSteps::DrainNodes(const Context& x) {
  return Transition(x, "drain-node.yml", internal::SplitNames(x.step.target), NodeState::kReady,
                    NodeState::kDraining, {});
}

// target: a comma-separated list of nodes, upgraded together.
StepResult ClusterSteps::UpgradeNodes(const Context& x) {
  const std::vector<std::string> names = internal::SplitNames(x.step.target);
  std::string version = internal::ParamOf(x.op, "kubernetes_version");
  if (version.empty()) return Internal("upgrade operation without a target version");
  KAAS_ASSIGN_OR_RETURN(auto nodes, LiveNodes(x.cluster.id));
  provisioner::BootstrapJob job = NewJob(x, "upgrade-node.yml", nodes);
  job.kubernetes_version = version;
  job.extra_vars["max_unavailable"] = std::to_string(names.size());
  std::vector<store::Node> todo;
  for (const auto& n : nodes) {
    if (std::find(names.begin(), names.end(), n.name) == names.end()) continue;
    if (n.kubernetes_version == version) continue;  // observed: already upgraded
    todo.push_back(n);
    job.targets.push_back(n.name);
  }
  if (todo.empty()) return "already at " + version;
  KAAS_ASSIGN_OR_RETURN(std::string msg, d_.bootstrapper.Run(job));
  KAAS_RETURN_IF_ERROR(Write(x.control, [&](store::Tx& tx) {
    for (const auto& n : todo) store::nodes::SetVersion(tx, n.id, version, d_.clock.NowMs());
    return Status::Ok();
  }));
  return "upgraded " + std::to_string(todo.size()) + " node(s) to " + version + "; " + msg;
}

}  // namespace kaas::lifecycle
