#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kaas/common/labels.h"
#include "kaas/common/status.h"
#include "kaas/store/database.h"
#include "kaas/store/records.h"
#include "kaas/store/repositories.h"

namespace kaas::lifecycle {

// A cluster with the name of its team.
struct ClusterRecord {
  store::Cluster cluster;
  std::string team_name;
};

struct ClusterPage {
  std::vector<ClusterRecord> items;
  std::string next_cursor;  // "" on the last page
};

// A cluster with its live nodes and the id of its active operation ("" when none).
struct ClusterDetail {
  ClusterRecord record;
  std::vector<store::Node> nodes;
  std::string active_operation;
};

// What the API reads about clusters, their operations and events; each call is one read
// transaction. Changes go through ClusterService; who may read what is the caller's decision.
class ClusterQueries {
 public:
  explicit ClusterQueries(store::Database& db) : db_(db) {}

  // Any cluster, deleted ones included. kNotFound when it (or its team) does not exist.
  Result<ClusterRecord> Find(const std::string& cluster_id);
  // The found cluster with its live nodes and active operation.
  Result<ClusterDetail> Detail(ClusterRecord record);
  // Clusters of `team_ids` (or of every team with all_teams) whose labels match `selector`, in
  // id order after `cursor`, at most `limit`; next_cursor is set when there are more.
  Result<ClusterPage> List(const std::vector<std::string>& team_ids, bool all_teams,
                           const std::string& cursor, int64_t limit,
                           const LabelSelector& selector = {});

  // kNotFound for an unknown id.
  Result<store::Operation> FindOperation(const std::string& operation_id);
  // Newest first, at most `limit`.
  Result<std::vector<store::Operation>> Operations(const std::string& cluster_id, int64_t limit);
  // The cluster's events after `after_id` ("" = from the start), oldest first, at most `limit`.
  Result<std::vector<store::Event>> EventsAfter(const std::string& cluster_id,
                                                const std::string& after_id, int64_t limit);
  // Waiting for the cluster's next events instead of polling (store::Database::WaitForEvents):
  // take the generation before EventsAfter; when it found nothing, wait for the generation to
  // move (true) or the timeout (false), then look again.
  uint64_t EventGeneration(const std::string& cluster_id) const;
  bool WaitForEvents(const std::string& cluster_id, uint64_t seen, int64_t timeout_ms);
  // Clusters by status, operations by (type, state), the queue's oldest entries and hosts by
  // state, in one read transaction of aggregate queries (for /metrics).
  Result<store::PlatformStats> Stats();

 private:
  store::Database& db_;
};

}  // namespace kaas::lifecycle
