#include "kaas/lifecycle/cluster_queries.h"

#include "kaas/store/repositories.h"

namespace kaas::lifecycle {

Result<ClusterRecord> ClusterQueries::Find(const std::string& cluster_id) {
  std::optional<ClusterRecord> found;
  KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
    auto c = store::clusters::Find(tx, cluster_id);
    if (!c) return Status::Ok();
    auto team = store::teams::FindById(tx, c->team_id);
    if (team) found = ClusterRecord{*c, team->name};
    return Status::Ok();
  }));
  if (!found) return NotFound("cluster " + cluster_id + " not found");
  return *found;
}

Result<ClusterDetail> ClusterQueries::Detail(ClusterRecord record) {
  ClusterDetail d{std::move(record), {}, ""};
  const std::string& id = d.record.cluster.id;
  KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
    d.nodes = store::nodes::ListLive(tx, id);
    auto active = store::operations::FindActiveForCluster(tx, id);
    if (active) d.active_operation = active->id;
    return Status::Ok();
  }));
  return d;
}

Result<ClusterPage> ClusterQueries::List(const std::vector<std::string>& team_ids, bool all_teams,
                                         const std::string& cursor, int64_t limit,
                                         const LabelSelector& selector) {
  store::ClusterFilter filter;
  filter.selector = selector.requirements;
  filter.team_ids = team_ids;
  filter.all_teams = all_teams;
  filter.after_id = cursor;
  filter.limit = limit + 1;  // one more tells whether there is a next page
  std::vector<store::Cluster> clusters;
  std::map<std::string, std::string> names;
  KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
    clusters = store::clusters::List(tx, filter);
    for (const auto& t : store::teams::List(tx)) names[t.id] = t.name;
    return Status::Ok();
  }));
  ClusterPage page;
  if (static_cast<int64_t>(clusters.size()) > limit) {
    clusters.resize(static_cast<size_t>(limit));
    page.next_cursor = clusters.back().id;
  }
  for (auto& c : clusters) {
    std::string team_name = names[c.team_id];
    page.items.push_back({std::move(c), std::move(team_name)});
  }
  return page;
}

Result<store::Operation> ClusterQueries::FindOperation(const std::string& operation_id) {
  std::optional<store::Operation> op;
  KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
    op = store::operations::Find(tx, operation_id);
    return Status::Ok();
  }));
  if (!op) return NotFound("operation " + operation_id + " not found");
  return *op;
}

Result<std::vector<store::Operation>> ClusterQueries::Operations(const std::string& cluster_id,
                                                                 int64_t limit) {
  std::vector<store::Operation> ops;
  KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
    ops = store::operations::ListForCluster(tx, cluster_id, limit);
    return Status::Ok();
  }));
  return ops;
}

Result<std::vector<store::Event>> ClusterQueries::EventsAfter(const std::string& cluster_id,
                                                              const std::string& after_id,
                                                              int64_t limit) {
  std::vector<store::Event> events;
  KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
    events = store::events::ListForCluster(tx, cluster_id, after_id, limit);
    return Status::Ok();
  }));
  return events;
}

uint64_t ClusterQueries::EventGeneration(const std::string& cluster_id) const {
  return db_.EventGeneration(cluster_id);
}

bool ClusterQueries::WaitForEvents(const std::string& cluster_id, uint64_t seen,
                                   int64_t timeout_ms) {
  return db_.WaitForEvents(cluster_id, seen, timeout_ms);
}

Result<store::PlatformStats> ClusterQueries::Stats() {
  store::PlatformStats stats;
  KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
    stats = store::stats::Read(tx);
    return Status::Ok();
  }));
  return stats;
}

}  // namespace kaas::lifecycle
