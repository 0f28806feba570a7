#include "kaas/store/database.h"

#include <soci/connection-pool.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "kaas/common/clock.h"
#include "migrations.h"

namespace kaas::store {
namespace {

constexpr std::string_view kSqlitePrefix = "sqlite://";

Status FromException(const std::exception& e) {
  std::string what = e.what();
  if (what.find("UNIQUE constraint") != std::string::npos ||
      what.find("duplicate key") != std::string::npos) {
    return {Code::kAlreadyExists, what};
  }
  if (what.find("database is locked") != std::string::npos ||
      what.find("database is busy") != std::string::npos ||
      what.find("could not serialize") != std::string::npos ||
      what.find("connection") != std::string::npos) {
    return {Code::kUnavailable, "database: " + what};
  }
  return {Code::kInternal, "database: " + what};
}

}  // namespace

Database::Database(std::string url, bool sqlite, size_t pool_size)
    : url_(std::move(url)), sqlite_(sqlite), pool_size_(std::max<size_t>(pool_size, 1)) {}

Database::~Database() = default;

Result<std::unique_ptr<Database>> Database::Open(const std::string& url, size_t pool_size) {
  bool sqlite = url.rfind(kSqlitePrefix, 0) == 0;
  bool postgres = url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
  if (!sqlite && !postgres) {
    return InvalidArgument("database", "database URL must start with sqlite:// or postgresql://");
  }
  std::unique_ptr<Database> db(new Database(url, sqlite, pool_size));
  try {
    db->pool_ = std::make_unique<soci::connection_pool>(db->pool_size_);
    for (size_t i = 0; i < db->pool_size_; ++i) {
      soci::session& s = db->pool_->at(i);
      if (sqlite) {
        std::string path = url.substr(kSqlitePrefix.size());
        s.open(*soci::factory_sqlite3(), "db=" + path + " timeout=30 shared_cache=false");
        s << "PRAGMA journal_mode=WAL";
        s << "PRAGMA synchronous=NORMAL";
        s << "PRAGMA foreign_keys=ON";
      } else {
        s.open(*soci::factory_postgresql(), url);
      }
    }
  } catch (const std::exception& e) {
    return Status(Code::kUnavailable, std::string("cannot open database: ") + e.what());
  }
  return db;
}

int64_t Database::LatestSchemaVersion() { return Migrations().back().version; }

Status Database::Run(bool write, const std::function<Status(Tx&)>& fn) {
  // SQLite answers "locked" when a writer outlives the busy timeout; such contention is
  // transient, so retry a few times before giving up.
  for (int attempt = 0;; ++attempt) {
    soci::session sql(*pool_);
    Tx tx(sql, sqlite_);
    bool in_tx = false;
    try {
      if (write) {
        sql << (sqlite_ ? "BEGIN IMMEDIATE" : "BEGIN");
        in_tx = true;
      }
      Status st = fn(tx);
      if (in_tx) {
        sql << (st.ok() ? "COMMIT" : "ROLLBACK");
      }
      return st;
    } catch (const std::exception& e) {
      if (in_tx) {
        try {
          sql << "ROLLBACK";
        } catch (const std::exception&) {
          // The transaction is already gone (the error aborted it); nothing more to undo.
        }
      }
      Status st = FromException(e);
      if (st.code() == Code::kUnavailable && attempt < 5) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20 << attempt));
        continue;
      }
      return st;
    }
  }
}

Status Database::Write(const std::function<Status(Tx&)>& fn) { return Run(true, fn); }
Status Database::Read(const std::function<Status(Tx&)>& fn) { return Run(false, fn); }

Status Database::Ping() {
  return Read([](Tx& tx) {
    int one = 0;
    tx.sql() << "SELECT 1", soci::into(one);
    return one == 1 ? Status::Ok() : Internal("SELECT 1 returned " + std::to_string(one));
  });
}

Result<int64_t> Database::SchemaVersion() {
  int64_t version = 0;
  Status st = Read([&](Tx& tx) {
    long v = 0;
    tx.sql() << "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", soci::into(v);
    version = v;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return version;
}

Status Database::Migrate() {
  KAAS_RETURN_IF_ERROR(Write([](Tx& tx) {
    tx.sql() << "CREATE TABLE IF NOT EXISTS schema_migrations ("
                "version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";
    return Status::Ok();
  }));
  for (const Migration& m : Migrations()) {
    KAAS_RETURN_IF_ERROR(Write([&](Tx& tx) {
      long applied = 0;
      long version = m.version;
      tx.sql() << "SELECT COUNT(*) FROM schema_migrations WHERE version = :v", soci::use(version),
          soci::into(applied);
      if (applied > 0) return Status::Ok();
      for (const char* stmt : m.statements) tx.sql() << stmt;
      std::string name = m.name;
      long now = SystemClock::Instance().NowMs();
      tx.sql() << "INSERT INTO schema_migrations (version, name, applied_at) "
                  "VALUES (:v, :n, :t)",
          soci::use(version), soci::use(name), soci::use(now);
      return Status::Ok();
    }));
  }
  return Status::Ok();
}

}  // namespace kaas::store
