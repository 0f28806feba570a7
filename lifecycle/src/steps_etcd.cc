// etcd membership steps, one member at a time: health_gate, etcd_add_learner, etcd_promote,
// etcd_remove.
#include <set>

#include "kaas/lifecycle/steps.h"

namespace kaas::lifecycle {

// Before and after every etcd membership change, etcd itself is asked (etcd-status.yml on a
// voting member, over TLS with kaas's client certificate): it must list every voter kaas
// knows as a voter, no member kaas did not add, and every member healthy. A voter's machine
// that is not running yet, a member that is not healthy yet and a learner still catching up
// are waited for (StepResult::Wait: no attempt is spent; EngineOptions::max_wait_ms bounds
// it); a member etcd knows and kaas does not, or a voter etcd has lost, fails the gate.
StepResult ClusterSteps::HealthGate(const Context& x) {
  const store::Cluster& c = x.cluster;
  KAAS_ASSIGN_OR_RETURN(auto nodes, LiveNodes(c.id));
  std::vector<std::string> voters;
  std::set<std::string> masters, learners;
  for (const auto& n : nodes) {
    if (RoleOf(n) != NodeRole::kMaster) continue;
    masters.insert(n.name);
    if (StateOf(n) == NodeState::kLearner) learners.insert(n.name);
    if (StateOf(n) != NodeState::kReady) continue;
    voters.push_back(n.name);
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
  if (voters.empty()) return Unavailable("no healthy etcd voter");

  provisioner::BootstrapJob job = NewJob(x, "etcd-status.yml", nodes);
  job.targets = {voters.front()};
  auto view = d_.bootstrapper.AskEtcd(job);
  if (!view.ok()) {
    if (view.status().code() == Code::kCancelled) return view.status();
    return StepResult::Wait("etcd could not be asked on " + voters.front() + " (" +
                                view.status().message() + "); not changing membership",
                            d_.look_again);
  }
  std::set<std::string> etcd_voters;
  std::string etcd_learners;
  for (const auto& m : view->members) {
    if (m.name.empty()) {  // added as a learner, its etcd not started yet
      if (learners.empty()) {
        return Status(Code::kFailedPrecondition,
                      "etcd lists a member at " + m.peer_url +
                          " that kaas did not add; not changing membership");
      }
      return StepResult::Wait("a learner at " + m.peer_url + " has not started yet", d_.look_again);
    }
    if (!masters.count(m.name)) {
      return Status(Code::kFailedPrecondition,
                    "etcd lists " + m.name +
                        ", which is not a master of this cluster; not changing membership");
    }
    if (!m.healthy) {
      return StepResult::Wait("etcd member " + m.name + " is not healthy (" +
                                  (m.error.empty() ? "no answer" : m.error) +
                                  "); waiting before changing membership",
                              d_.look_again);
    }
    if (m.learner) {
      if (!learners.count(m.name)) {
        return Status(Code::kFailedPrecondition,
                      "etcd has " + m.name + " as a learner, kaas has it as a voter");
      }
      return StepResult::Wait("learner " + m.name + " is catching up", d_.look_again);
    }
    etcd_voters.insert(m.name);
  }
  for (const auto& v : voters) {
    if (!etcd_voters.count(v)) {
      return Status(Code::kFailedPrecondition,
                    v + " is a voter to kaas but not a voting member of etcd (asked on " +
                        view->asked + "); not changing membership");
    }
  }
  std::string names;
  for (const auto& v : etcd_voters) names += (names.empty() ? "" : ", ") + v;
  return "etcd (asked on " + view->asked + "): " + std::to_string(etcd_voters.size()) +
         " voting member(s), all healthy: " + names;
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
