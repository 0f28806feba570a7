#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kaas/common/status.h"

namespace soci {
class session;
}  // namespace soci

namespace kaas::store {

// A session taken from the pool for the duration of one Database::Read/Write call. The
// repositories (repositories.h) run their SQL on it; SQL is written so that SQLite and
// PostgreSQL both accept it.
class Tx {
 public:
  Tx(soci::session& sql, bool sqlite) : sql_(sql), sqlite_(sqlite) {}
  soci::session& sql() { return sql_; }
  bool sqlite() const { return sqlite_; }
  // The clusters this transaction recorded events of (events::Insert): once it commits, whoever
  // waits for them is woken (Database::WaitForEvents).
  void NoteEvent(const std::string& cluster_id) { events_.push_back(cluster_id); }
  const std::vector<std::string>& noted_events() const { return events_; }

 private:
  soci::session& sql_;
  bool sqlite_;
  std::vector<std::string> events_;
};

struct DatabaseOptions {
  size_t pool_size = 32;
  // PostgreSQL: no statement runs longer than this on the server (statement_timeout), and a
  // Read/Write attempt whose answer has not arrived this much later (a network cut that left
  // the socket hanging) has its connection shut down by kaasd itself, so no caller waits
  // forever. The connection attempt is bounded by libpq's connect_timeout (5 s unless the URL
  // sets it).
  int64_t timeout_ms = 30000;
  // A pooled PostgreSQL session idle for longer than this is probed (an empty query) before it
  // is handed out; a dead one is replaced.
  int64_t idle_check_ms = 5000;
};

// Whether the database answered lately: what /readyz and the engine look at.
struct DatabaseHealth {
  bool available = true;
  std::string error;  // the first error of the current outage
  int64_t unavailable_since_ms = 0;
  int64_t failures = 0;  // failed calls during the current outage
  int64_t outages = 0;   // outages since the process started
};

// The session pool as /metrics shows it.
struct PoolStats {
  size_t size = 0;
  size_t in_use = 0;
  uint64_t acquisitions = 0;  // sessions handed out since start
  uint64_t waits = 0;         // of which had to wait for a free session
  double wait_seconds = 0;    // total time spent waiting for one
};

// Connections to the database, and the transactions run on them.
//
// Lost connections: a session whose connection broke (server restarted or killed, failover,
// network cut, the timeout above) is closed and opened anew the next time it is taken from the
// pool; after one lost connection every other pooled session is probed before it is used again
// (a restart kills them all). Read/Write retry what is safe to retry and fail with
// kUnavailable otherwise (the API answers 503 + Retry-After): see Write. While calls fail, the
// database counts as unavailable (health()); the log says so once when it starts, and once
// with the count of failed calls when the database answers again.
class Database {
 public:
  // `url`: "sqlite:///abs/path/kaas.db" (WAL mode, busy timeout) or "postgresql://...".
  static Result<std::unique_ptr<Database>> Open(const std::string& url, size_t pool_size);
  static Result<std::unique_ptr<Database>> Open(const std::string& url, DatabaseOptions options);
  ~Database();

  bool sqlite() const { return sqlite_; }
  const std::string& url() const { return url_; }

  // Applies the numbered migrations that are not applied yet, each in its own transaction.
  Status Migrate();
  // Highest applied migration, and the highest this binary knows.
  Result<int64_t> SchemaVersion();
  static int64_t LatestSchemaVersion();

  // Runs `fn` in one write transaction. Write transactions run one at a time, across
  // connections and across kaasd processes sharing the database: SQLite takes the write lock
  // up front (BEGIN IMMEDIATE), PostgreSQL a transaction-scoped advisory lock right after
  // BEGIN. So check-then-insert sequences (quota admission) are atomic on both. Commits when
  // `fn` returns OK and rolls back when it returns an error or throws. Database errors become
  // Status: a unique constraint violation is kAlreadyExists; a busy/locked database, a lost
  // connection, a timeout, a full disk or a read-only database kUnavailable.
  //
  // Retries: `fn` runs again (on a fresh connection) when the transaction certainly did not
  // commit — a busy database, a serialization failure, or a connection lost before COMMIT was
  // sent (the server rolls such a transaction back). A connection lost after COMMIT was sent
  // and before its answer arrived leaves the outcome unknown: that is never retried here, it
  // is kUnavailable saying so, and the caller re-reads what it needs. So `fn` may run more than
  // once and must only touch the database (and variables it sets afresh each time).
  Status Write(const std::function<Status(Tx&)>& fn);
  // Runs `fn` on a pooled session; each statement commits on its own. `fn` must only read:
  // it is run again after a lost connection.
  Status Read(const std::function<Status(Tx&)>& fn);

  // Cheap liveness probe of the database ("SELECT 1").
  Status Ping();

  // Waiting for a cluster's new events (the event stream) instead of polling for them. Read
  // the generation, look for events, and when there are none wait for the generation to move:
  // it moves when a transaction that recorded events of the cluster commits — in this process,
  // or (PostgreSQL) in any kaasd sharing the database, whose commits reach this one through
  // LISTEN/NOTIFY on channel kaas_events (a connection of its own, opened at the first wait and
  // reopened when it breaks). True when woken, false after `timeout_ms`: callers look again
  // either way, so a lost notification costs at most the timeout. Generations are kept per
  // bucket of cluster ids: another cluster may wake a waiter now and then, never the reverse.
  uint64_t EventGeneration(const std::string& cluster_id) const;
  bool WaitForEvents(const std::string& cluster_id, uint64_t seen, int64_t timeout_ms);

  DatabaseHealth health() const;
  PoolStats pool_stats() const;

 private:
  struct Impl;
  explicit Database(std::unique_ptr<Impl> impl);
  Status Run(bool write, const std::function<Status(Tx&)>& fn);

  std::string url_;
  bool sqlite_;
  std::unique_ptr<Impl> impl_;
};

// The libpq keyword=value string a postgresql:// URL is handed to SOCI as (see database.cc):
// several hosts become host=a,b port=p,q; connect_timeout, TCP keepalives, tcp_user_timeout
// and application_name get kaasd's defaults unless the URL sets them. kInvalidArgument for a
// value SOCI could not pass on (empty, or with a space, quote or backslash).
Result<std::string> PostgresConnectString(const std::string& url);

}  // namespace kaas::store
