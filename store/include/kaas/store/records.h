#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kaas/common/labels.h"

// Plain rows of the kaas schema (store/src/migrations.cc). Times are Unix milliseconds, 0 when
// unset; optional strings are "" when unset (no NULLs, so both backends read them alike).
namespace kaas::store {

struct Team {
  std::string id;
  std::string name;
  int64_t created_at = 0;
};

struct User {
  std::string id;
  std::string username;
  std::string password_hash;
  bool is_admin = false;
  int64_t created_at = 0;
  int64_t disabled_at = 0;  // 0 = enabled; a disabled user can neither log in nor use a token
  // kUserSourceLocal (password_hash set) or kUserSourceDirectory (no local password: the
  // company directory checks it, and the user's team roles come from its groups).
  std::string source = "local";
};

inline constexpr const char* kUserSourceLocal = "local";
inline constexpr const char* kUserSourceDirectory = "directory";

struct Membership {
  std::string team_id;
  std::string team_name;
  std::string user_id;
  std::string username;
  std::string role;  // admin | member | viewer
};

struct Token {
  std::string id;
  std::string user_id;
  std::string name;
  std::string token_hash;
  int64_t created_at = 0;
  int64_t expires_at = 0;
  int64_t revoked_at = 0;
  std::string kind = "session";  // session (from login) | api (POST /tokens)
  // A deploy token (role "deployer", DESIGN.md §6.5) is an api token narrowed to one team's
  // clusters matching `selector` (label selector text); all three are "" for other tokens.
  std::string team_id;
  std::string role;
  std::string selector;
};

struct AuditEntry {
  std::string id;
  int64_t at = 0;
  std::string actor;    // username, or the attempted one for a failed login
  std::string team_id;  // "" when the action is not about one team
  std::string action;   // "POST /api/v1/clusters"
  std::string object;   // what it was about: a cluster id, team name, username...
  std::string remote_addr;
  int64_t status = 0;  // HTTP status of the answer
  std::string result;  // "ok" or the error code
};

struct ClusterSecrets {
  std::string cluster_id;
  std::string ca_cert;
  std::string ca_key_sealed;
  std::string etcd_ca_cert;
  std::string etcd_ca_key_sealed;
  std::string front_proxy_ca_cert;
  std::string front_proxy_ca_key_sealed;
  std::string sa_public_key;
  std::string sa_private_key_sealed;
  int64_t created_at = 0;
};

struct QuotaLimits {
  int64_t clusters = 0;
  int64_t vcpus = 0;
  int64_t memory_gib = 0;
  int64_t physical_hosts = 0;
};

struct QuotaRequest {
  std::string id;
  std::string team_id;
  QuotaLimits limits;  // -1 = unchanged
  std::string reason;
  std::string state;  // pending | approved | rejected
  std::string requested_by;
  std::string decided_by;
  std::string comment;
  int64_t created_at = 0;
  int64_t decided_at = 0;
};

struct Hypervisor {
  std::string name;
  std::string uri;
  int64_t vcpus = 0;
  int64_t memory_gib = 0;
  std::string state;  // active | draining
  int64_t created_at = 0;
};

struct Host {
  std::string name;
  std::string address;
  int64_t vcpus = 0;
  int64_t memory_gib = 0;
  std::string labels;  // JSON object text
  std::string state;   // available | allocated | wiping | maintenance
  std::string cluster_id;
  int64_t created_at = 0;
  // The machine's SSH host key ("ssh-ed25519 AAAA..."): registered with it, or pinned at kaas's
  // first contact; every later connection checks it strictly. "" = not known yet.
  std::string host_key;
};

struct Cluster {
  std::string id;
  std::string team_id;
  std::string name;
  std::string purpose;
  std::string kubernetes_version;
  std::string status;  // provisioning | running | updating | deleting | deleted | error
  std::string status_reason;
  int64_t master_count = 0;
  std::string master_flavor;
  std::string master_kind;  // vm | physical
  int64_t worker_count = 0;
  std::string worker_kind;
  std::string worker_flavor;
  std::string created_by;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  Labels labels;        // table cluster_labels; read and written with the cluster
  int auto_repair = 1;  // 1: the health monitor repairs unhealthy nodes on its own
};

struct Node {
  std::string id;
  std::string cluster_id;
  std::string name;  // master-1, worker-3, unique among the cluster's live nodes
  std::string role;  // master | worker
  std::string kind;  // vm | physical
  std::string flavor;
  // reserved -> provisioned -> ready; removing -> deleted. Every node not "deleted" counts
  // towards its team's quota and its hypervisor's capacity.
  std::string state;
  std::string hypervisor;  // vm: hypervisor name
  std::string host;        // physical: host name
  int64_t vcpus = 0;
  int64_t memory_gib = 0;
  std::string address;
  std::string kubernetes_version;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  // As the health monitor last saw it: healthy | unhealthy | unknown (not looked at yet, or a
  // node without a machine to look at), why, and since when it is unhealthy (ms; 0 otherwise).
  std::string health = "unknown";
  std::string health_reason;
  int64_t unhealthy_since = 0;
};

struct Step {
  std::string operation_id;
  int64_t index = 0;
  std::string name;    // what the user reads: "provision masters", "join master-2"
  std::string kind;    // executor key: "provision_nodes", "join_master", ...
  std::string target;  // executor argument: a node name or a role; "" when none
  std::string state;   // pending | running | succeeded | failed | cancelled
  std::string message;
  int64_t attempts = 0;
  int64_t started_at = 0;
  int64_t finished_at = 0;
  // False when stopping right after this step would leave etcd at an even member count; a
  // cancel then runs on to the next safe boundary.
  bool cancel_safe = true;
};

struct Operation {
  std::string id;
  std::string cluster_id;
  std::string type;   // create | delete | scale_workers | scale_masters | resize_masters | upgrade
  std::string state;  // pending | running | succeeded | failed | cancelled
  std::string requested_by;
  std::string error;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  int64_t finished_at = 0;
  bool cancel_requested = false;
  std::string params = "{}";  // JSON: what was asked (target count, flavor, version, ...)
  // The lease (DESIGN.md §6.2): the replica running it ("" = nobody), until when, and the
  // claim's number (each claim adds one; writes made for the operation check it).
  std::string owner;
  int64_t lease_until = 0;
  int64_t epoch = 0;
  std::vector<Step> steps;
};

// A replica's hold on an operation, as a claim or a renewal left it.
struct OperationLease {
  std::string operation_id;
  int64_t epoch = 0;
  std::string previous_owner;  // claims: who held it before ("" = nobody)
  bool cancel_requested = false;
};

// Something that happened to a cluster (or a team): an operation or step changing state, the
// cluster changing status, a quota request. Streamed by GET /clusters/{id}/events.
struct Event {
  std::string id;  // time-ordered, so "after id" resumes a stream
  std::string cluster_id;
  std::string team_id;
  int64_t at = 0;
  std::string kind;  // operation | step | cluster | quota_request | log (a line of a step's run)
  std::string data;  // JSON object
};

// A webhook (DESIGN.md §6.4): team_id "" = platform-wide. `events` is the subscribed event
// types, comma-separated. `failing_since` is the first failed attempt of the current run of
// failures (0 while deliveries succeed).
struct Webhook {
  std::string id;
  std::string team_id;
  std::string url;
  std::string format;  // slack | json
  std::string events;
  std::string secret;  // "" = unsigned
  bool enabled = true;
  std::string disabled_reason;
  int64_t failing_since = 0;
  std::string created_by;
  int64_t created_at = 0;
};

// One notification waiting to be delivered to one webhook: written in the transaction of the
// change it tells about, removed when delivered or given up. `lease_until`: a worker holds it
// until then (a crashed worker's claim simply expires).
struct OutboxEntry {
  std::string id;
  std::string webhook_id;
  std::string event_id;  // the payload's id: the same across retries, for de-duplication
  std::string type;
  std::string payload;  // the structured event, JSON
  int64_t attempts = 0;
  int64_t next_attempt_at = 0;
  int64_t lease_until = 0;
  int64_t created_at = 0;
};

// One delivery attempt. `next_retry_at` 0: no retry (delivered or given up).
struct Delivery {
  std::string id;
  std::string webhook_id;
  std::string event_id;
  std::string type;
  int64_t attempt = 0;
  int64_t at = 0;
  int64_t status_code = 0;  // 0 when no HTTP answer came
  std::string error;
  int64_t next_retry_at = 0;
};

}  // namespace kaas::store
