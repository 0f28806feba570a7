#pragma once

#include <string>
#include <vector>

#include "kaas/common/clock.h"
#include "kaas/lifecycle/engine.h"
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
  ClusterService(store::Database& db, const quota::QuotaService& quota, Engine& engine,
                 const Clock& clock)
      : db_(db), quota_(quota), engine_(engine), clock_(clock) {}

  // With dry_run the same checks run and the plan is returned, but nothing is persisted.
  // Errors: kInvalidArgument (field named), kConflict (name taken in the team),
  // kQuotaExceeded, kInsufficientCapacity.
  Result<Admitted> Create(const CreateClusterRequest& request, const std::string& team_id,
                          const std::string& requested_by, bool dry_run);

  // Errors: kNotFound, kConflict (already deleted), kOperationInProgress.
  Result<Admitted> Delete(const std::string& cluster_id, const std::string& requested_by,
                          bool dry_run);

 private:
  Status AdmitCreate(store::Tx& tx, Admitted& a, bool persist, bool allow_colocated_masters);

  store::Database& db_;
  const quota::QuotaService& quota_;
  Engine& engine_;
  const Clock& clock_;
};

// Fraction of an operation's steps that have succeeded, 0..100.
int Progress(const store::Operation& op);

}  // namespace kaas::lifecycle
