#pragma once

#include <atomic>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "kaas/common/clock.h"
#include "kaas/common/status.h"
#include "kaas/pki/secret_box.h"
#include "kaas/provisioner/bootstrapper.h"
#include "kaas/provisioner/hypervisor.h"
#include "kaas/store/database.h"
#include "kaas/store/records.h"

namespace kaas::lifecycle {

// Executes one step of an operation. Every step observes first, then acts only on what is not
// done yet, then records — so running a step again after a crash is harmless.
struct StepControl {
  // Becomes true when the operation is cancelled; long-running work (an Ansible run) stops
  // and the step returns kCancelled.
  const std::atomic<bool>* cancel = nullptr;
};

class StepRunner {
 public:
  virtual ~StepRunner() = default;
  // Returns the message the step shows when it succeeds.
  virtual Result<std::string> Run(const store::Operation& op, const store::Step& step,
                                  const StepControl& control) = 0;
  // Called once an operation has ended (succeeded, failed or cancelled), to make the cluster
  // record describe what its live nodes are.
  virtual Status Settle(const store::Operation& op) { return Status::Ok(); }
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
};

// The cluster steps the planner emits (planner.cc): reserve, issue_pki, provision_nodes,
// bootstrap_first_master, join_master, join_workers, verify, destroy_nodes, release_cluster.
class ClusterSteps : public StepRunner {
 public:
  explicit ClusterSteps(StepDeps deps) : d_(deps) {}
  Result<std::string> Run(const store::Operation& op, const store::Step& step,
                          const StepControl& control) override;
  Status Settle(const store::Operation& op) override;

 private:
  Result<std::string> Reserve(const store::Cluster& c);
  Result<std::string> IssuePki(const store::Cluster& c);
  Result<std::string> ProvisionNodes(const store::Cluster& c, const std::string& role);
  Result<std::string> Bootstrap(const store::Operation& op, const store::Step& step,
                                const store::Cluster& c, const std::string& playbook,
                                const std::string& role, const std::string& target);
  // Runs `playbook` for the named nodes that are in `from` state and moves them to `to`;
  // nodes already in `to` (or `done_states`) are skipped.
  Result<std::string> Transition(const store::Operation& op, const store::Step& step,
                                 const store::Cluster& c, const std::string& playbook,
                                 const std::vector<std::string>& names, const std::string& from,
                                 const std::string& to, const std::vector<std::string>& done_states,
                                 std::map<std::string, std::string> extra_vars = {});
  // A job for `playbook` with the cluster's nodes as its inventory.
  provisioner::BootstrapJob NewJob(const store::Operation& op, const store::Step& step,
                                   const store::Cluster& c, const std::string& playbook,
                                   const std::vector<store::Node>& nodes) const;
  // For the playbooks that start etcd on `targets`: the etcd CA certificate, a member
  // certificate per target (server and peer TLS) and the client certificate kaas's etcdctl
  // uses, all from the cluster's etcd CA, as job files.
  Status AddEtcdTls(provisioner::BootstrapJob& job, const store::Cluster& c,
                    const std::vector<store::Node>& targets) const;
  Result<std::string> HealthGate(const store::Cluster& c);
  Result<std::string> EtcdRemove(const store::Operation& op, const store::Step& step,
                                 const store::Cluster& c, const std::string& name);
  Result<std::string> ResizeNode(const store::Cluster& c, const std::string& name);
  Result<std::string> UpgradeNodes(const store::Operation& op, const store::Step& step,
                                   const store::Cluster& c, const std::vector<std::string>& names);
  Result<std::string> Verify(const store::Cluster& c);
  // `target`: a role ("master", "worker") or a comma-separated list of node names.
  Result<std::string> DestroyNodes(const store::Operation& op, const store::Step& step,
                                   const store::Cluster& c, const std::string& target);
  Result<std::string> ReleaseCluster(const store::Operation& op, const store::Step& step,
                                     const store::Cluster& c);

  Status ProvisionNode(const store::Node& n);
  // `cancel` is passed explicitly: nodes are destroyed on worker threads.
  Status DestroyNode(const store::Operation& op, const store::Step& step, const store::Cluster& c,
                     const store::Node& n, const std::atomic<bool>* cancel);
  Result<provisioner::Hypervisor*> HypervisorOf(const std::string& name);
  Result<std::vector<store::Node>> LiveNodes(const std::string& cluster_id);
  Status SetNodeState(const store::Node& n, const std::string& state);

  StepDeps d_;
};

}  // namespace kaas::lifecycle
