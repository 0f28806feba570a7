#pragma once

#include <functional>
#include <memory>
#include <string>

#include "kaas/common/status.h"

namespace soci {
class session;
class connection_pool;
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

 private:
  soci::session& sql_;
  bool sqlite_;
};

class Database {
 public:
  // `url`: "sqlite:///abs/path/kaas.db" (WAL mode, busy timeout) or "postgresql://...".
  static Result<std::unique_ptr<Database>> Open(const std::string& url, size_t pool_size);
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
  // Status: a unique constraint violation is kAlreadyExists, a busy/locked database or a lost
  // connection kUnavailable.
  Status Write(const std::function<Status(Tx&)>& fn);
  // Runs `fn` on a pooled session; each statement commits on its own.
  Status Read(const std::function<Status(Tx&)>& fn);

  // Cheap liveness probe of the database ("SELECT 1").
  Status Ping();

 private:
  Database(std::string url, bool sqlite, size_t pool_size);
  Status Run(bool write, const std::function<Status(Tx&)>& fn);

  std::string url_;
  bool sqlite_;
  size_t pool_size_;
  std::unique_ptr<soci::connection_pool> pool_;
};

}  // namespace kaas::store
