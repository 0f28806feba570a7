#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kaas/common/clock.h"
#include "kaas/common/status.h"
#include "kaas/lifecycle/model.h"
#include "kaas/pki/secret_box.h"
#include "kaas/provisioner/bootstrapper.h"
#include "kaas/provisioner/hypervisor.h"
#include "kaas/store/database.h"
#include "kaas/store/records.h"

namespace kaas::lifecycle {

// What the engine gives a running step besides the step itself.
struct StepControl {
  // Becomes true when the step must stop: the operation was cancelled (inside a cancel-safe
  // stretch), or this replica lost the operation's lease. Long-running work (an Ansible run)
  // stops and the step returns kCancelled. nullptr: the step is never interrupted.
  const std::atomic<bool>* cancel = nullptr;
  // Run first in every write transaction the step makes (the lease's fence, DESIGN.md §6.2):
  // an error rolls the write back, so a replica that lost the operation records nothing.
  // Empty: no fence.
  std::function<Status(store::Tx&)> fence;
};

// How a step run ended: done (with the message the step shows), waiting ("not yet, look
// again in `again`": something external is not ready; the engine runs the step again later
// without counting an attempt), or failed (kUnavailable is retried with backoff and counts
// an attempt; any other code fails the step).
class [[nodiscard]] StepResult {
 public:
  StepResult(std::string message) : message_(std::move(message)) {}  // NOLINT: done
  StepResult(const char* message) : message_(message) {}             // NOLINT: done
  // A failure; an OK status is "done" with no message.
  StepResult(Status error) : error_(std::move(error)) {}  // NOLINT
  StepResult(Result<std::string> result)                  // NOLINT
      : message_(result.ok() ? *result : ""), error_(result.status()) {}

  static StepResult Wait(std::string reason, std::chrono::milliseconds again) {
    StepResult r{std::move(reason)};
    r.wait_ = again;
    return r;
  }

  bool done() const { return error_.ok() && !wait_; }
  bool waiting() const { return error_.ok() && wait_.has_value(); }
  bool failed() const { return !error_.ok(); }
  // Done: what the step did. Waiting: what it waits for.
  const std::string& message() const { return message_; }
  const Status& error() const { return error_; }
  std::chrono::milliseconds again() const { return wait_.value_or(std::chrono::milliseconds(0)); }

 private:
  std::string message_;
  Status error_;
  std::optional<std::chrono::milliseconds> wait_;
};

// Executes one step of an operation. Every step observes first, then acts only on what is not
// done yet, then records — so running a step again after a crash is harmless.
class StepRunner {
 public:
  virtual ~StepRunner() = default;
  virtual StepResult Run(const store::Operation& op, const store::Step& step,
                         const StepControl& control) = 0;
  // Called once an operation has ended (succeeded, failed or cancelled), to make the cluster
  // record describe what its live nodes are; its write passes `control.fence`.
  virtual Status Settle(const store::Operation& op, const StepControl& control) {
    return Status::Ok();
  }
};

struct StepDeps {
  store::Database& db;
  provisioner::Fleet& fleet;
  provisioner::Bootstrapper& bootstrapper;
  std::filesystem::path work_root;  // <data dir>/work: one folder per operation
  const Clock& clock;
  const pki::SecretBox& secret_box;  // seals the cluster CAs' private keys at rest
  // Names every etcd member certificate carries besides the member's own name and address
  // (e.g. the QEMU user-mode gateway 10.0.2.2, through which guests reach each other).
  std::vector<std::string> etcd_cert_extra_names = {};
  // How long a health gate or verify that waits (a machine not running yet) lets pass before
  // it looks again.
  std::chrono::milliseconds look_again = std::chrono::seconds(2);
};

// The cluster steps the planner emits (StepKind, model.h). Run looks the kind up in one table
// (steps.cc) and calls its handler; the handlers live by concern in steps_nodes.cc (reserve,
// provision, resize, verify), steps_pki.cc (CAs, etcd certificates), steps_bootstrap.cc (the
// playbook runs: bootstrap, join, drain, upgrade), steps_etcd.cc (health gate, learner,
// promote, remove) and steps_teardown.cc (destroy nodes, release the cluster).
class ClusterSteps : public StepRunner {
 public:
  explicit ClusterSteps(StepDeps deps) : d_(deps) {}
  StepResult Run(const store::Operation& op, const store::Step& step,
                 const StepControl& control) override;
  Status Settle(const store::Operation& op, const StepControl& control) override;

  // What every handler is given: the step, its operation and cluster, and its control.
  struct Context {
    const store::Operation& op;
    const store::Step& step;
    const store::Cluster& cluster;
    const StepControl& control;
  };
  using Handler = StepResult (ClusterSteps::*)(const Context&);
  // The step table: every StepKind has exactly one handler.
  static const std::map<StepKind, Handler>& Table();

 private:
  // Handlers, one per StepKind.
  StepResult Reserve(const Context& x);
  StepResult IssuePki(const Context& x);
  StepResult ProvisionNodes(const Context& x);
  StepResult ProvisionOneNode(const Context& x);
  StepResult BootstrapFirstMaster(const Context& x);
  StepResult JoinMaster(const Context& x);
  StepResult JoinWorkers(const Context& x);
  StepResult HealthGate(const Context& x);
  StepResult EtcdAddLearner(const Context& x);
  StepResult EtcdPromote(const Context& x);
  StepResult EtcdRemove(const Context& x);
  StepResult DrainNodes(const Context& x);
  StepResult ResizeNode(const Context& x);
  StepResult UpgradeNodes(const Context& x);
  StepResult Verify(const Context& x);
  StepResult DestroyNodes(const Context& x);
  StepResult ReleaseCluster(const Context& x);

  // Runs `playbook` for the `role` nodes (only `target` when not empty) that are provisioned
  // and makes them ready; ready ones are skipped.
  Result<std::string> Bootstrap(const Context& x, const std::string& playbook, NodeRole role,
                                const std::string& target);
  // Runs `playbook` for the named nodes that are in `from` state and moves them to `to`;
  // nodes already in `to` (or `done_states`) are skipped.
  Result<std::string> Transition(const Context& x, const std::string& playbook,
                                 const std::vector<std::string>& names, NodeState from,
                                 NodeState to, const std::vector<NodeState>& done_states,
                                 std::map<std::string, std::string> extra_vars = {});
  // A job for `playbook` with the cluster's nodes as its inventory; cancelled by the step's
  // control.
  provisioner::BootstrapJob NewJob(const Context& x, const std::string& playbook,
                                   const std::vector<store::Node>& nodes) const;
  // For the playbooks that start etcd on `targets`: the etcd CA certificate, a member
  // certificate per target (server and peer TLS) and the client certificate kaas's etcdctl
  // uses, all from the cluster's etcd CA, as job files.
  Status AddEtcdTls(provisioner::BootstrapJob& job, const store::Cluster& c,
                    const std::vector<store::Node>& targets) const;

  // One write transaction behind the step's fence (StepControl::fence).
  Status Write(const StepControl& control, const std::function<Status(store::Tx&)>& fn) const;

  Status ProvisionNode(const Context& x, const store::Node& n);
  // Nodes are destroyed on worker threads; the control is passed along.
  Status DestroyNode(const Context& x, const store::Node& n);
  Result<provisioner::Hypervisor*> HypervisorOf(const std::string& name);
  Result<std::vector<store::Node>> LiveNodes(const std::string& cluster_id);
  Status SetNodeState(const Context& x, const store::Node& n, NodeState state);

  StepDeps d_;
};

}  // namespace kaas::lifecycle
