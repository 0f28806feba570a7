// etcd membership steps, one member at a time: health_gate, etcd_add_learner, etcd_promote,
// etcd_remove.
#include "kaas/lifecycle/steps.h"

namespace kaas::lifecycle {

// Every ready voter's machine must be running before membership changes; one that is not
// (yet) running is waited for, not counted as a failed attempt.
StepResult ClusterSteps::HealthGate(const Context& x) {
  const store::Cluster& c = x.cluster;
  KAAS_ASSIGN_OR_RETURN(auto nodes, LiveNodes(c.id));
  int voters = 0, learners = 0;
  for (const auto& n : nodes) {
    if (RoleOf(n) != NodeRole::kMaster) continue;
    if (StateOf(n) == NodeState::kLearner) ++learners;
    if (StateOf(n) != NodeState::kReady) continue;
    ++voters;
    if (KindOf(n) != NodeKind::kVm) continue;
    KAAS_ASSIGN_OR_RETURN(provisioner::Hypervisor * hv, HypervisorOf(n.hypervisor));
    auto info = hv->FindDomain(provisioner::DomainName(c.id, n.name));
    if (!info.ok()) {
      return Unavailable("etcd member " + n.name + ": " + info.status().message() +
                         "; not changing membership");
    }
    if (!info->running) {
      return StepResult::Wait(
          "etcd member " + n.name + " is not running; waiting before changing membership",
          d_.look_again);
    }
  }
  if (voters == 0) return Unavailable("no healthy etcd voter");
  return std::to_string(voters) + " etcd voter(s) healthy" +
         (learners ? ", " + std::to_string(learners) + " learner(s)" : "");
}

StepResult ClusterSteps::EtcdAddLearner(const Context& x) {
  return Transition(x, "join-master.yml", {x.step.target}, NodeState::kProvisioned,
                    NodeState::kLearner, {NodeState::kReady});
}

StepResult ClusterSteps::EtcdPromote(const Context& x) {
  return Transition(x, "promote-master.yml", {x.step.target}, NodeState::kLearner,
                    NodeState::kReady, {});
}

// The member leaves etcd before its machine goes (destroy_nodes follows); the last voter
// never leaves.
StepResult ClusterSteps::EtcdRemove(const Context& x) {
  const std::string& name = x.step.target;
  KAAS_ASSIGN_OR_RETURN(auto nodes, LiveNodes(x.cluster.id));
  int voters = 0;
  const store::Node* target = nullptr;
  for (const auto& n : nodes) {
    if (RoleOf(n) == NodeRole::kMaster && StateOf(n) == NodeState::kReady) ++voters;
    if (n.name == name) target = &n;
  }
  if (!target || StateOf(*target) == NodeState::kRemoving) {
    return name + " is no longer an etcd member";
  }
  const std::optional<NodeState> state = StateOf(*target);
  if (!state) return Internal("node " + name + " has an unknown state " + target->state);
  if (state == NodeState::kReady && voters <= 1) {
    return Status(Code::kFailedPrecondition,
                  "refusing to remove " + name + ": it is the last voting etcd member");
  }
  return Transition(x, "remove-master.yml", {name}, *state, NodeState::kRemoving, {});
}

}  // namespace kaas::lifecycle
