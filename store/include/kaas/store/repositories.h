#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kaas/store/database.h"
#include "kaas/store/records.h"

// Repositories: the SQL of each table, run on a Tx from Database::Read/Write. They throw on
// database errors; Database turns those into Status at the boundary. Lookups return
// std::nullopt when the row does not exist.
namespace kaas::store {

namespace teams {
void Insert(Tx& tx, const Team& team);
std::optional<Team> FindByName(Tx& tx, const std::string& name);
std::optional<Team> FindById(Tx& tx, const std::string& id);
std::vector<Team> List(Tx& tx);
std::vector<Team> ListForUser(Tx& tx, const std::string& user_id);
}  // namespace teams

namespace users {
void Insert(Tx& tx, const User& user);
std::optional<User> FindByUsername(Tx& tx, const std::string& username);
std::optional<User> FindById(Tx& tx, const std::string& id);
int64_t Count(Tx& tx);
std::vector<User> List(Tx& tx);
// disabled_at 0 enables the user again.
void SetDisabled(Tx& tx, const std::string& id, int64_t disabled_at);
void SetPasswordHash(Tx& tx, const std::string& id, const std::string& password_hash);
}  // namespace users

namespace memberships {
void Put(Tx& tx, const std::string& team_id, const std::string& user_id, const std::string& role);
std::vector<Membership> ListForUser(Tx& tx, const std::string& user_id);
std::vector<Membership> ListForTeam(Tx& tx, const std::string& team_id);
// True when a membership was removed.
bool Delete(Tx& tx, const std::string& team_id, const std::string& user_id);
}  // namespace memberships

namespace tokens {
void Insert(Tx& tx, const Token& token);
std::optional<Token> FindByHash(Tx& tx, const std::string& token_hash);
std::optional<Token> Find(Tx& tx, const std::string& id);
// The user's tokens of `kind` that are neither revoked nor expired, newest first.
std::vector<Token> ListLive(Tx& tx, const std::string& user_id, const std::string& kind,
                            int64_t now);
void Revoke(Tx& tx, const std::string& id, int64_t now);
// Revokes the user's live tokens of `kind` ("" = every kind) except `except_id`; returns how
// many.
int64_t RevokeForUser(Tx& tx, const std::string& user_id, const std::string& kind,
                      const std::string& except_id, int64_t now);
}  // namespace tokens

namespace audit {
void Insert(Tx& tx, const AuditEntry& entry);
// Newest first. `team_ids` empty with all_teams=false matches nothing.
std::vector<AuditEntry> List(Tx& tx, const std::vector<std::string>& team_ids, bool all_teams,
                             int64_t limit);
}  // namespace audit

namespace secrets {
void Put(Tx& tx, const ClusterSecrets& s);
std::optional<ClusterSecrets> Get(Tx& tx, const std::string& cluster_id);
void Delete(Tx& tx, const std::string& cluster_id);
}  // namespace secrets

struct QuotaUsage {
  int64_t clusters = 0;
  int64_t vcpus = 0;
  int64_t memory_gib = 0;
  int64_t physical_hosts = 0;
};

namespace quotas {
std::optional<QuotaLimits> Get(Tx& tx, const std::string& team_id);
void Put(Tx& tx, const std::string& team_id, const QuotaLimits& limits, int64_t now);
// Usage derived from what is allocated: live clusters, the vCPU and memory of live VM nodes,
// and the physical hosts allocated to the team's clusters.
QuotaUsage Usage(Tx& tx, const std::string& team_id);
// Usage of every team with any (team id -> usage), counted as Usage does, in three aggregate
// queries (for /metrics: no per-team or per-cluster loop).
std::map<std::string, QuotaUsage> UsageByTeam(Tx& tx);
// Every team's own limits (teams without a row use the configured defaults).
std::map<std::string, QuotaLimits> ListAll(Tx& tx);
}  // namespace quotas

struct HypervisorUsage {
  int64_t vcpus = 0;
  int64_t memory_gib = 0;
  int64_t domains = 0;
};

namespace quota_requests {
void Insert(Tx& tx, const QuotaRequest& r);
std::optional<QuotaRequest> Find(Tx& tx, const std::string& id);
// Newest first; `state` "" = any. `team_ids` empty with all_teams=false matches nothing.
std::vector<QuotaRequest> List(Tx& tx, const std::string& state,
                               const std::vector<std::string>& team_ids, bool all_teams);
void Decide(Tx& tx, const std::string& id, const std::string& state, const std::string& decided_by,
            const std::string& comment, int64_t now);
}  // namespace quota_requests

namespace hypervisors {
// Inserts or updates uri/capacity; keeps the state of an existing row.
void Upsert(Tx& tx, const Hypervisor& hv);
// Inserts; a taken name is a unique-constraint error (kAlreadyExists at the boundary).
void Insert(Tx& tx, const Hypervisor& hv);
void SetState(Tx& tx, const std::string& name, const std::string& state);
void Delete(Tx& tx, const std::string& name);
std::vector<Hypervisor> List(Tx& tx);
std::optional<Hypervisor> Find(Tx& tx, const std::string& name);
// vCPU/memory of live (not deleted) nodes per hypervisor, reserved ones included.
std::map<std::string, HypervisorUsage> Usage(Tx& tx);
}  // namespace hypervisors

namespace hosts {
// Inserts a host; an existing row keeps its state and allocation.
void Upsert(Tx& tx, const Host& host);
// Inserts; a taken name is a unique-constraint error.
void Insert(Tx& tx, const Host& host);
void Delete(Tx& tx, const std::string& name);
std::vector<Host> List(Tx& tx);
std::optional<Host> Find(Tx& tx, const std::string& name);
// Available hosts in name order, at most `limit`.
std::vector<Host> ListAvailable(Tx& tx, int64_t limit);
void SetState(Tx& tx, const std::string& name, const std::string& state,
              const std::string& cluster_id);
// Pins `host_key` as the host's SSH host key when none is known; true when the host's key is
// now `host_key` (pinned here or before), false when another key is pinned or no such host.
bool PinHostKey(Tx& tx, const std::string& name, const std::string& host_key);
// Replaces the host's key (an operator re-registering a reinstalled machine).
void SetHostKey(Tx& tx, const std::string& name, const std::string& host_key);
}  // namespace hosts

struct ClusterFilter {
  // Only clusters of these teams; empty with all_teams=false matches nothing.
  std::vector<std::string> team_ids;
  bool all_teams = false;
  bool include_deleted = false;
  std::string after_id;  // cursor: ids strictly greater
  int64_t limit = 50;
  // Only clusters whose labels match every requirement (done in SQL, so pages stay full).
  std::vector<LabelRequirement> selector;
};

namespace clusters {
void Insert(Tx& tx, const Cluster& c);
std::optional<Cluster> Find(Tx& tx, const std::string& id);
// The live (not deleted) cluster of that name in the team.
std::optional<Cluster> FindLiveByName(Tx& tx, const std::string& team_id, const std::string& name);
std::vector<Cluster> List(Tx& tx, const ClusterFilter& filter);
void SetStatus(Tx& tx, const std::string& id, const std::string& status, const std::string& reason,
               int64_t now);
// The cluster's shape as its live nodes make it (after an operation ends).
void SetShape(Tx& tx, const Cluster& c, int64_t now);
// Replaces the cluster's labels with `labels`.
void SetLabels(Tx& tx, const std::string& id, const Labels& labels, int64_t now);
void SetAutoRepair(Tx& tx, const std::string& id, bool on, int64_t now);
// Every cluster that is not deleted, of every team, without labels (a health sweep).
std::vector<Cluster> ListAllLive(Tx& tx);
}  // namespace clusters

namespace nodes {
void Insert(Tx& tx, const Node& n);
// Live nodes of the cluster (state <> 'deleted'), masters first, then by name.
std::vector<Node> ListLive(Tx& tx, const std::string& cluster_id);
std::optional<Node> FindLive(Tx& tx, const std::string& cluster_id, const std::string& name);
void SetState(Tx& tx, const std::string& id, const std::string& state, int64_t now);
void SetAddress(Tx& tx, const std::string& id, const std::string& address, int64_t now);
void SetSize(Tx& tx, const std::string& id, const std::string& flavor, int64_t vcpus,
             int64_t memory_gib, int64_t now);
void SetVersion(Tx& tx, const std::string& id, const std::string& version, int64_t now);
// What the health monitor saw (unhealthy_since: ms, 0 unless unhealthy).
void SetHealth(Tx& tx, const std::string& id, const std::string& health, const std::string& reason,
               int64_t unhealthy_since);
// Every live node of every cluster, by cluster (one query for a health sweep).
std::vector<Node> ListLiveEverywhere(Tx& tx);
// Every live node of every cluster on a hypervisor (for reconciliation).
std::vector<Node> ListLiveOnHypervisor(Tx& tx, const std::string& hypervisor);
}  // namespace nodes

namespace operations {
// Inserts the operation and all its steps.
void Insert(Tx& tx, const Operation& op);
// The operation with its steps (ordered by index).
std::optional<Operation> Find(Tx& tx, const std::string& id);
// Newest first, with steps.
std::vector<Operation> ListForCluster(Tx& tx, const std::string& cluster_id, int64_t limit);
std::optional<Operation> FindActiveForCluster(Tx& tx, const std::string& cluster_id);
// Ids of pending or running operations, oldest first.
std::vector<std::string> ListActiveIds(Tx& tx);
void SetState(Tx& tx, const std::string& id, const std::string& state, const std::string& error,
              int64_t now);
void UpdateStep(Tx& tx, const Step& step);
void RequestCancel(Tx& tx, const std::string& id, int64_t now);
// Puts a failed or cancelled operation back to pending (cancel flag cleared).
void Reopen(Tx& tx, const std::string& id, int64_t now);
// (type, state) -> count, for /metrics.
std::map<std::pair<std::string, std::string>, int64_t> CountByTypeAndState(Tx& tx);
}  // namespace operations

// Leases (DESIGN.md §6.2): which replica runs an operation, and which runs a background job.
// Run every function here in a write transaction (Database::Write, serialized across replicas)
// except AnyClaimable. Times are milliseconds since the epoch on the calling replica's clock:
// replicas' clocks must agree to well within a lease's expiry (NTP); the fencing (Holds) does
// not depend on clocks at all, only on the epoch.
namespace leases {
// Claims the active (pending or running) operation `id` for `replica` until `until` when it is
// free (no owner), its lease ended before `now`, or `replica` holds it already; `force` claims
// it whoever holds it (SQLite: one process, whose file lock says no one else runs). Every
// claim adds one to the epoch. nullopt: another replica holds it, or it is not active.
std::optional<OperationLease> ClaimOperation(Tx& tx, const std::string& id,
                                             const std::string& replica, int64_t now, int64_t until,
                                             bool force);
// Claims up to `limit` active operations that are free or whose lease ended before `now`,
// oldest first (PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED). An operation never claimed
// (epoch 0) and created at or after `fresh_since` is left to the replica that admitted it,
// which claims it at once; a replica that died right after admitting loses it after that.
std::vector<OperationLease> ClaimFree(Tx& tx, const std::string& replica, int64_t now,
                                      int64_t until, int64_t limit, int64_t fresh_since);
// Whether ClaimFree would find something: a read, so that idle replicas polling for work do
// not take the write lock.
bool AnyClaimable(Tx& tx, int64_t now, int64_t fresh_since);
// Extends every lease `replica` holds on an active operation to `until`; returns those leases
// (with their cancel flags). A lease another replica took over is not among them.
std::vector<OperationLease> Renew(Tx& tx, const std::string& replica, int64_t until);
// Whether `replica` still holds operation `id` at `epoch`: the fence every write made for an
// operation passes first.
bool Holds(Tx& tx, const std::string& id, const std::string& replica, int64_t epoch);
// Gives the lease up (the operation ended, or the replica stops); the epoch stays.
void Release(Tx& tx, const std::string& id, const std::string& replica, int64_t epoch);
// Active operations `replica` holds.
int64_t CountOwned(Tx& tx, const std::string& replica);
// Named leases for background jobs: true when `replica` holds `name` until `until` after the
// call (it was free, expired before `now`, or already its own).
bool AcquireNamed(Tx& tx, const std::string& name, const std::string& replica, int64_t now,
                  int64_t until);
void ReleaseNamed(Tx& tx, const std::string& name, const std::string& replica);
}  // namespace leases

// Failed logins (auth::LoginRateLimiter): shared by every replica.
namespace login_failures {
void Insert(Tx& tx, const std::string& id, const std::string& username, const std::string& address,
            int64_t at);
// The failures of (username, address) after `since`: how many, and when the newest was (0: none).
struct FailureCount {
  int64_t count = 0;
  int64_t last = 0;
  bool operator==(const FailureCount&) const = default;
};
FailureCount OfUser(Tx& tx, const std::string& username, const std::string& address, int64_t since);
// The times of the address's failures after `since`, whoever the user, newest first, at most
// `limit`.
std::vector<int64_t> RecentForAddress(Tx& tx, const std::string& address, int64_t since,
                                      int64_t limit);
// How many failures of the username after `since`, from anywhere.
int64_t CountForUsername(Tx& tx, const std::string& username, int64_t since);
void DeleteForUser(Tx& tx, const std::string& username, const std::string& address);
void DeleteBefore(Tx& tx, int64_t before);
}  // namespace login_failures

namespace settings {
std::optional<std::string> Get(Tx& tx, const std::string& name);
// Inserts the setting; kAlreadyExists (the write rolls back) when it is set already.
void Insert(Tx& tx, const std::string& name, const std::string& value);
}  // namespace settings

// Platform-wide counts for /metrics, each one aggregate query (GROUP BY / MIN), so that a
// scrape costs the same few statements at 10 clusters and at 10,000.
struct PlatformStats {
  std::map<std::string, int64_t> clusters_by_status;                  // deleted clusters included
  std::map<std::pair<std::string, std::string>, int64_t> operations;  // (type, state) -> count
  int64_t oldest_pending_created_at = 0;                              // 0: no pending operation
  int64_t oldest_running_since = 0;  // when the longest-running one started; 0: none
  std::map<std::string, int64_t> hosts_by_state;
};
namespace stats {
PlatformStats Read(Tx& tx);
}  // namespace stats

namespace events {
void Insert(Tx& tx, const Event& e);
// The cluster's events with id > after_id, oldest first, at most `limit`.
std::vector<Event> ListForCluster(Tx& tx, const std::string& cluster_id,
                                  const std::string& after_id, int64_t limit);
}  // namespace events

namespace webhooks {
void Insert(Tx& tx, const Webhook& w);
std::optional<Webhook> Find(Tx& tx, const std::string& id);
// team_id "": the platform-wide ones. Oldest first.
std::vector<Webhook> ListForTeam(Tx& tx, const std::string& team_id);
// The enabled webhooks that hear about a team's events: the team's and the platform-wide ones.
std::vector<Webhook> ListEnabledFor(Tx& tx, const std::string& team_id);
// Removes the webhook with its outbox entries and delivery log.
void Delete(Tx& tx, const std::string& id);
void SetFailingSince(Tx& tx, const std::string& id, int64_t since);
void Disable(Tx& tx, const std::string& id, const std::string& reason);
}  // namespace webhooks

namespace outbox {
void Insert(Tx& tx, const OutboxEntry& e);
// Entries due at `now` and not held by a worker, oldest due first; each is held until
// `lease_until` (run it in a write transaction so that two workers never take the same one).
std::vector<OutboxEntry> Claim(Tx& tx, int64_t now, int64_t lease_until, int64_t limit);
// Whether any entry is due and free: a read, so idle workers never take the write lock.
bool AnyDue(Tx& tx, int64_t now);
void Reschedule(Tx& tx, const std::string& id, int64_t attempts, int64_t next_attempt_at);
void Delete(Tx& tx, const std::string& id);
int64_t CountPending(Tx& tx);
}  // namespace outbox

namespace deliveries {
void Insert(Tx& tx, const Delivery& d);
// Newest first.
std::vector<Delivery> ListForWebhook(Tx& tx, const std::string& webhook_id, int64_t limit);
}  // namespace deliveries

}  // namespace kaas::store
