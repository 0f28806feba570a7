#include "migrations.h"

namespace kaas::store {

// Portable SQL: TEXT, INTEGER/BIGINT, no NULLs in data columns, partial unique indexes
// (SQLite >= 3.8 and PostgreSQL both have them).
const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> kMigrations = {
      {1,
       "initial schema",
       {
           R"(CREATE TABLE teams (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                created_at BIGINT NOT NULL))",
           R"(CREATE TABLE users (
                id TEXT PRIMARY KEY,
                username TEXT NOT NULL UNIQUE,
                password_hash TEXT NOT NULL,
                is_admin INTEGER NOT NULL DEFAULT 0,
                created_at BIGINT NOT NULL))",
           R"(CREATE TABLE memberships (
                team_id TEXT NOT NULL REFERENCES teams(id),
                user_id TEXT NOT NULL REFERENCES users(id),
                role TEXT NOT NULL,
                PRIMARY KEY (team_id, user_id)))",
           R"(CREATE TABLE tokens (
                id TEXT PRIMARY KEY,
                user_id TEXT NOT NULL REFERENCES users(id),
                name TEXT NOT NULL,
                token_hash TEXT NOT NULL UNIQUE,
                created_at BIGINT NOT NULL,
                expires_at BIGINT NOT NULL,
                revoked_at BIGINT NOT NULL DEFAULT 0))",
           R"(CREATE TABLE quotas (
                team_id TEXT PRIMARY KEY REFERENCES teams(id),
                clusters BIGINT NOT NULL,
                vcpus BIGINT NOT NULL,
                memory_gib BIGINT NOT NULL,
                physical_hosts BIGINT NOT NULL,
                updated_at BIGINT NOT NULL))",
           R"(CREATE TABLE hypervisors (
                name TEXT PRIMARY KEY,
                uri TEXT NOT NULL,
                vcpus BIGINT NOT NULL,
                memory_gib BIGINT NOT NULL,
                state TEXT NOT NULL,
                created_at BIGINT NOT NULL))",
           R"(CREATE TABLE hosts (
                name TEXT PRIMARY KEY,
                address TEXT NOT NULL,
                vcpus BIGINT NOT NULL,
                memory_gib BIGINT NOT NULL,
                labels TEXT NOT NULL DEFAULT '{}',
                state TEXT NOT NULL,
                cluster_id TEXT NOT NULL DEFAULT '',
                created_at BIGINT NOT NULL))",
           R"(CREATE TABLE clusters (
                id TEXT PRIMARY KEY,
                team_id TEXT NOT NULL REFERENCES teams(id),
                name TEXT NOT NULL,
                purpose TEXT NOT NULL,
                kubernetes_version TEXT NOT NULL,
                status TEXT NOT NULL,
                status_reason TEXT NOT NULL DEFAULT '',
                master_count BIGINT NOT NULL,
                master_flavor TEXT NOT NULL,
                master_kind TEXT NOT NULL,
                worker_count BIGINT NOT NULL,
                worker_kind TEXT NOT NULL,
                worker_flavor TEXT NOT NULL,
                created_by TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL))",
           "CREATE UNIQUE INDEX clusters_live_name ON clusters (team_id, name) "
           "WHERE status <> 'deleted'",
           R"(CREATE TABLE nodes (
                id TEXT PRIMARY KEY,
                cluster_id TEXT NOT NULL REFERENCES clusters(id),
                name TEXT NOT NULL,
                role TEXT NOT NULL,
                kind TEXT NOT NULL,
                flavor TEXT NOT NULL,
                state TEXT NOT NULL,
                hypervisor TEXT NOT NULL DEFAULT '',
                host TEXT NOT NULL DEFAULT '',
                vcpus BIGINT NOT NULL,
                memory_gib BIGINT NOT NULL,
                address TEXT NOT NULL DEFAULT '',
                kubernetes_version TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL))",
           "CREATE UNIQUE INDEX nodes_live_name ON nodes (cluster_id, name) "
           "WHERE state <> 'deleted'",
           "CREATE INDEX nodes_hypervisor ON nodes (hypervisor) WHERE state <> 'deleted'",
           R"(CREATE TABLE operations (
                id TEXT PRIMARY KEY,
                cluster_id TEXT NOT NULL REFERENCES clusters(id),
                type TEXT NOT NULL,
                state TEXT NOT NULL,
                requested_by TEXT NOT NULL,
                error TEXT NOT NULL DEFAULT '',
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                finished_at BIGINT NOT NULL DEFAULT 0))",
           "CREATE INDEX operations_cluster ON operations (cluster_id)",
           // At most one active operation per cluster, enforced by the database itself.
           "CREATE UNIQUE INDEX operations_one_active ON operations (cluster_id) "
           "WHERE state IN ('pending', 'running')",
           R"(CREATE TABLE operation_steps (
                operation_id TEXT NOT NULL REFERENCES operations(id),
                idx BIGINT NOT NULL,
                name TEXT NOT NULL,
                kind TEXT NOT NULL,
                target TEXT NOT NULL DEFAULT '',
                state TEXT NOT NULL,
                message TEXT NOT NULL DEFAULT '',
                attempts BIGINT NOT NULL DEFAULT 0,
                started_at BIGINT NOT NULL DEFAULT 0,
                finished_at BIGINT NOT NULL DEFAULT 0,
                PRIMARY KEY (operation_id, idx)))",
       }},
      {2,
       "tenancy: audit log, API tokens, cluster secrets",
       {
           "ALTER TABLE tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'session'",
           "CREATE INDEX tokens_user ON tokens (user_id)",
           "CREATE INDEX memberships_user ON memberships (user_id)",
           R"(CREATE TABLE audit_log (
                id TEXT PRIMARY KEY,
                at BIGINT NOT NULL,
                actor TEXT NOT NULL,
                team_id TEXT NOT NULL DEFAULT '',
                action TEXT NOT NULL,
                object TEXT NOT NULL DEFAULT '',
                remote_addr TEXT NOT NULL DEFAULT '',
                status BIGINT NOT NULL,
                result TEXT NOT NULL))",
           "CREATE INDEX audit_team ON audit_log (team_id, id)",
           // Private keys are stored sealed (libsodium secretbox, master key in the data dir).
           R"(CREATE TABLE cluster_secrets (
                cluster_id TEXT PRIMARY KEY REFERENCES clusters(id),
                ca_cert TEXT NOT NULL,
                ca_key_sealed TEXT NOT NULL,
                etcd_ca_cert TEXT NOT NULL,
                etcd_ca_key_sealed TEXT NOT NULL,
                front_proxy_ca_cert TEXT NOT NULL,
                front_proxy_ca_key_sealed TEXT NOT NULL,
                sa_public_key TEXT NOT NULL,
                sa_private_key_sealed TEXT NOT NULL,
                created_at BIGINT NOT NULL))",
       }},
      {3,
       "quota requests",
       {
           // A requested limit of -1 leaves that limit as it is when approved.
           R"(CREATE TABLE quota_requests (
                id TEXT PRIMARY KEY,
                team_id TEXT NOT NULL REFERENCES teams(id),
                clusters BIGINT NOT NULL,
                vcpus BIGINT NOT NULL,
                memory_gib BIGINT NOT NULL,
                physical_hosts BIGINT NOT NULL,
                reason TEXT NOT NULL,
                state TEXT NOT NULL,
                requested_by TEXT NOT NULL,
                decided_by TEXT NOT NULL DEFAULT '',
                comment TEXT NOT NULL DEFAULT '',
                created_at BIGINT NOT NULL,
                decided_at BIGINT NOT NULL DEFAULT 0))",
           "CREATE INDEX quota_requests_team ON quota_requests (team_id, id)",
       }},
      {4,
       "operation control and events",
       {
           "ALTER TABLE operations ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0",
           "ALTER TABLE operations ADD COLUMN params TEXT NOT NULL DEFAULT '{}'",
           // 0 when stopping right after this step would leave etcd at an even member count.
           "ALTER TABLE operation_steps ADD COLUMN cancel_safe INTEGER NOT NULL DEFAULT 1",
           R"(CREATE TABLE events (
                id TEXT PRIMARY KEY,
                cluster_id TEXT NOT NULL DEFAULT '',
                team_id TEXT NOT NULL DEFAULT '',
                at BIGINT NOT NULL,
                kind TEXT NOT NULL,
                data TEXT NOT NULL))",
           "CREATE INDEX events_cluster ON events (cluster_id, id)",
       }},
      {5,
       "cluster labels",
       {
           // One row per label, so that selectors are SQL conditions (EXISTS / NOT EXISTS).
           R"(CREATE TABLE cluster_labels (
                cluster_id TEXT NOT NULL REFERENCES clusters(id),
                label_key TEXT NOT NULL,
                label_value TEXT NOT NULL,
                PRIMARY KEY (cluster_id, label_key)))",
           "CREATE INDEX cluster_labels_key ON cluster_labels (label_key, label_value)",
       }},
      {6,
       "node health and automatic repair",
       {
           // healthy | unhealthy | unknown, as the health monitor last saw the node.
           "ALTER TABLE nodes ADD COLUMN health TEXT NOT NULL DEFAULT 'unknown'",
           "ALTER TABLE nodes ADD COLUMN health_reason TEXT NOT NULL DEFAULT ''",
           // Milliseconds since the epoch; 0 while the node is not unhealthy.
           "ALTER TABLE nodes ADD COLUMN unhealthy_since BIGINT NOT NULL DEFAULT 0",
           "ALTER TABLE clusters ADD COLUMN auto_repair INTEGER NOT NULL DEFAULT 1",
       }},
      {7,
       "webhooks, notification outbox, deliveries",
       {
           // team_id '' = platform-wide. events: comma-separated event types.
           R"(CREATE TABLE webhooks (
                id TEXT PRIMARY KEY,
                team_id TEXT NOT NULL,
                url TEXT NOT NULL,
                format TEXT NOT NULL,
                events TEXT NOT NULL,
                secret TEXT NOT NULL,
                enabled INTEGER NOT NULL DEFAULT 1,
                disabled_reason TEXT NOT NULL DEFAULT '',
                failing_since BIGINT NOT NULL DEFAULT 0,
                created_by TEXT NOT NULL,
                created_at BIGINT NOT NULL))",
           "CREATE INDEX webhooks_team ON webhooks (team_id, id)",
           // Written in the transaction of the change it tells about; removed once delivered
           // or given up.
           R"(CREATE TABLE webhook_outbox (
                id TEXT PRIMARY KEY,
                webhook_id TEXT NOT NULL,
                event_id TEXT NOT NULL,
                type TEXT NOT NULL,
                payload TEXT NOT NULL,
                attempts BIGINT NOT NULL DEFAULT 0,
                next_attempt_at BIGINT NOT NULL,
                lease_until BIGINT NOT NULL DEFAULT 0,
                created_at BIGINT NOT NULL))",
           "CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at)",
           R"(CREATE TABLE webhook_deliveries (
                id TEXT PRIMARY KEY,
                webhook_id TEXT NOT NULL,
                event_id TEXT NOT NULL,
                type TEXT NOT NULL,
                attempt BIGINT NOT NULL,
                at BIGINT NOT NULL,
                status_code BIGINT NOT NULL,
                error TEXT NOT NULL,
                next_retry_at BIGINT NOT NULL))",
           "CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, id)",
       }},
      {8,
       "disabled users",
       {
           // Milliseconds since the epoch when a platform admin disabled the user; 0 = enabled.
           "ALTER TABLE users ADD COLUMN disabled_at BIGINT NOT NULL DEFAULT 0",
       }},
      {9,
       "deploy tokens",
       {
           // A deploy token's team, role ("deployer") and label selector; "" for other tokens.
           "ALTER TABLE tokens ADD COLUMN team_id TEXT NOT NULL DEFAULT ''",
           "ALTER TABLE tokens ADD COLUMN role TEXT NOT NULL DEFAULT ''",
           "ALTER TABLE tokens ADD COLUMN selector TEXT NOT NULL DEFAULT ''",
       }},
      {10,
       "operation leases for several replicas",
       {
           // The replica running the operation ('' = nobody), until when (ms since the epoch,
           // the claiming replica's clock) and the claim's number: every claim adds one, and
           // every write made for the operation checks it (fencing, DESIGN.md §6.2).
           "ALTER TABLE operations ADD COLUMN owner TEXT NOT NULL DEFAULT ''",
           "ALTER TABLE operations ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0",
           "ALTER TABLE operations ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0",
           "CREATE INDEX operations_lease ON operations (state, lease_until)",
           // Background work that runs once across replicas (orphan reconciler, health
           // monitor): one row per job, held by one replica at a time.
           R"(CREATE TABLE leases (
                name TEXT PRIMARY KEY,
                owner TEXT NOT NULL,
                lease_until BIGINT NOT NULL,
                epoch BIGINT NOT NULL))",
           // Installation-wide values; `master_key_check`: a value sealed with the master key
           // of the first kaasd, which every later one must open (one key for all replicas).
           "CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
           // Failed logins of the last window, one row each, so that every replica throttles
           // on the same count (auth::LoginRateLimiter).
           R"(CREATE TABLE login_failures (
                id TEXT PRIMARY KEY,
                username TEXT NOT NULL,
                address TEXT NOT NULL,
                at BIGINT NOT NULL))",
           "CREATE INDEX login_failures_address ON login_failures (address, at)",
           "CREATE INDEX login_failures_user ON login_failures (username, address, at)",
           "CREATE INDEX login_failures_at ON login_failures (at)",
       }},
      {11,
       "directory users",
       {
           // 'local' (password hash in kaas) or 'directory' (LDAP checks the password; team
           // roles follow the user's groups at each login).
           "ALTER TABLE users ADD COLUMN source TEXT NOT NULL DEFAULT 'local'",
       }},
      {12,
       "host keys",
       {
           // A physical host's SSH host key: registered with it or pinned at first contact;
           // Ansible checks it strictly (VMs carry theirs in their domain's metadata).
           "ALTER TABLE hosts ADD COLUMN host_key TEXT NOT NULL DEFAULT ''",
       }},
  };
  return kMigrations;
}

}  // namespace kaas::store
