#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "kaas/common/clock.h"
#include "kaas/lifecycle/model.h"
#include "kaas/lifecycle/operation_queue.h"
#include "kaas/lifecycle/planner.h"
#include "kaas/quota/quota.h"
#include "kaas/store/database.h"

namespace kaas::lifecycle {

// A cluster change that was admitted: what the cluster will look like and the operation (with
// its step plan) that gets it there.
struct Admitted {
  store::Cluster cluster;
  std::vector<store::Node> nodes;
  store::Operation operation;
};

// Admission of cluster changes. Validation, the quota check, the capacity check and placement,
// and the persisting of the reservation (nodes with their placement) together with the
// operation happen in one database transaction, so concurrent requests cannot both take the
// last room. Authorization is the caller's job (api/ via auth/).
class ClusterService {
 public:
  ClusterService(store::Database& db, const quota::QuotaService& quota, OperationQueue& queue,
                 const Clock& clock)
      : db_(db), quota_(quota), queue_(queue), clock_(clock) {}

  // With dry_run the same checks run and the plan is returned, but nothing is persisted.
  // Errors: kInvalidArgument (field named), kConflict (name taken in the team),
  // kQuotaExceeded, kInsufficientCapacity.
  Result<Admitted> Create(const CreateClusterRequest& request, const std::string& team_id,
                          const std::string& requested_by, bool dry_run);

  // Errors: kNotFound, kConflict (already deleted), kOperationInProgress.
  Result<Admitted> Delete(const std::string& cluster_id, const std::string& requested_by,
                          bool dry_run);

  // Changes to a running cluster. Each admits quota and capacity for what it adds, in the
  // same transaction that persists the operation. Errors: kInvalidArgument (field named; also
  // when there is nothing to change), kNotFound, kConflict (cluster not running),
  // kOperationInProgress,
  // kQuotaExceeded, kInsufficientCapacity, kInvalidUpgrade.
  //
  // Workers to `count`; crossing 50 or 100 workers re-sizes the masters in the same
  // operation (before adding workers, after removing them).
  Result<Admitted> ScaleWorkers(const std::string& cluster_id, int64_t count,
                                const std::string& requested_by, bool dry_run);
  // Masters to 1, 3 or 5, one etcd member at a time.
  Result<Admitted> ScaleMasters(const std::string& cluster_id, int64_t count,
                                const std::string& requested_by, bool dry_run,
                                bool allow_colocated_masters = false);
  // Masters to `flavor`, rolling; a change of kind (VM <-> physical) replaces each master.
  Result<Admitted> ResizeMasters(const std::string& cluster_id, const std::string& flavor,
                                 const std::string& requested_by, bool dry_run);
  // To the next minor or a newer patch of the same minor; masters first, then workers in
  // batches of max_unavailable.
  Result<Admitted> Upgrade(const std::string& cluster_id, const std::string& version,
                           int64_t max_unavailable, const std::string& requested_by, bool dry_run);

  // Replaces one node (a repair): a new node of the same role, kind and size joins and the old
  // one goes. A worker: the new one joins first, then the old one is drained and removed (a
  // physical host that cannot be wiped goes to maintenance). A master whose machine is down:
  // it leaves etcd first, then the new one joins as a learner and is promoted; this needs the
  // remaining masters to keep etcd's quorum (kFailedPrecondition otherwise, and always for a
  // cluster's only master). A healthy master: the new one joins before the old one leaves.
  // Errors as for the other changes; kNotFound for an unknown node.
  Result<Admitted> Repair(const std::string& cluster_id, const std::string& node_name,
                          const std::string& requested_by, bool dry_run);

  // The editable fields of a cluster, as a JSON merge patch gives them (RFC 7386).
  struct ClusterEdit {
    Labels set_labels;                       // added or replaced
    std::vector<std::string> remove_labels;  // deleted (absent keys are fine); others stay
    std::optional<bool> auto_repair;         // the health monitor's automatic repair
  };
  // Edits a cluster that is not deleted, all of `edit` or nothing, in one transaction. No
  // operation: labels and auto_repair are the platform's metadata, not the cluster's shape, so
  // they may change while an operation runs. Errors: kInvalidArgument (field "labels.KEY"),
  // kNotFound, kConflict (deleted).
  Result<store::Cluster> Edit(const std::string& cluster_id, const ClusterEdit& edit);

  // Asks a pending or running operation to stop at its next safe step boundary (a running
  // Ansible is terminated). kConflict when it has already ended.
  Result<store::Operation> Cancel(const std::string& operation_id);
  // Resumes a failed or cancelled operation from its first unfinished step. kConflict unless
  // it is the cluster's latest operation and nothing else is active.
  Result<store::Operation> Retry(const std::string& operation_id);

  // What a change adds and plans (cluster_service.cc).
  struct Change;

 private:
  // Runs `admit` read-only (dry run) or in one write transaction, then hands the admitted
  // operation `op_id` to the queue. `on_unique_violation` is returned when a unique index
  // refuses the insert (a concurrent admission won).
  Status Commit(bool dry_run, const std::function<Status(store::Tx&, bool persist)>& admit,
                const Status& on_unique_violation, const std::string& op_id);

  Status AdmitCreate(store::Tx& tx, Admitted& a, bool persist, bool allow_colocated_masters);

  // Shared admission of changes: `shape` fills in the change from the cluster's live nodes;
  // this then checks quota and capacity for the added nodes, places them, plans and persists.
  Result<Admitted> AdmitChange(
      const std::string& cluster_id, OperationType type, const std::string& requested_by,
      bool dry_run,
      const std::function<Status(store::Tx&, const store::Cluster&, const std::vector<store::Node>&,
                                 Change&)>& shape);

  store::Database& db_;
  const quota::QuotaService& quota_;
  OperationQueue& queue_;
  const Clock& clock_;
};

}  // namespace kaas::lifecycle
