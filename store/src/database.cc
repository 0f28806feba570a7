#include "kaas/store/database.h"

#include <soci/connection-pool.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <thread>
#include <utility>
#include <vector>

#include "kaas/common/clock.h"
#include "migrations.h"

namespace kaas::store {
namespace {

constexpr std::string_view kSqlitePrefix = "sqlite://";

// Key of the PostgreSQL advisory lock every write transaction takes (see Database::Run). Any
// fixed value works as long as every kaasd sharing the database uses the same one; these are
// the bytes of "kaas:wr".
constexpr int64_t kWriteLockKey = 0x006b6161733a7772;

// "%41" -> "A" in a URL component.
std::string PercentDecode(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size() && std::isxdigit(static_cast<unsigned char>(in[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

// libpq understands postgresql:// URIs, but SOCI 4.0's PostgreSQL backend re-splits its connect
// string into space-separated key=value pairs (looking for options of its own) and so mangles a
// URI ("postgresql://h/kaas" reaches libpq as ".../kaas="). So the URL
// postgresql://[user[:password]@][host][:port][/dbname][?key=value&...] is handed to SOCI as
// libpq keyword=value pairs. Values that would need quoting are refused: SOCI's splitting does
// not know about quotes.
Result<std::string> PostgresConnectString(const std::string& url) {
  std::string_view rest = url;
  rest.remove_prefix(rest.find("://") + 3);
  std::vector<std::pair<std::string, std::string>> params;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    std::string_view query = rest.substr(q + 1);
    rest = rest.substr(0, q);
    while (!query.empty()) {
      size_t amp = query.find('&');
      std::string_view kv = query.substr(0, amp);
      size_t eq = kv.find('=');
      if (eq == std::string_view::npos || eq == 0) {
        return InvalidArgument("database",
                               "database URL: parameter without a value: " + std::string(kv));
      }
      params.emplace_back(PercentDecode(kv.substr(0, eq)), PercentDecode(kv.substr(eq + 1)));
      query = amp == std::string_view::npos ? "" : query.substr(amp + 1);
    }
  }
  std::string_view dbname;
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    dbname = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  std::vector<std::pair<std::string, std::string>> out;
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    size_t colon = userinfo.find(':');
    out.emplace_back("user", PercentDecode(userinfo.substr(0, colon)));
    if (colon != std::string_view::npos) {
      out.emplace_back("password", PercentDecode(userinfo.substr(colon + 1)));
    }
  }
  // host, host:port, [v6 address]:port
  std::string_view host = rest, port;
  if (size_t close = rest.find(']'); !rest.empty() && rest[0] == '[' && close != rest.npos) {
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') port = rest.substr(close + 2);
  } else if (size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (!host.empty()) out.emplace_back("host", PercentDecode(host));
  if (!port.empty()) out.emplace_back("port", std::string(port));
  if (!dbname.empty()) out.emplace_back("dbname", PercentDecode(dbname));
  out.insert(out.end(), params.begin(), params.end());
  std::string conninfo;
  for (const auto& [key, value] : out) {
    if (value.empty() || value.find_first_of(" \t\n'\\") != std::string::npos) {
      return InvalidArgument("database", "database URL: " + key +
                                             " must be non-empty, without spaces, quotes or "
                                             "backslashes");
    }
    if (!conninfo.empty()) conninfo += ' ';
    conninfo += key + "=" + value;
  }
  return conninfo;
}

Status FromException(const std::exception& e) {
  std::string what = e.what();
  // PostgreSQL reports the SQLSTATE: 23505 is unique_violation, 40001/40P01 are serialization
  // failure and deadlock (retrying the transaction is the documented answer), class 08 is a
  // connection problem.
  if (const auto* pg = dynamic_cast<const soci::postgresql_soci_error*>(&e)) {
    std::string state = pg->sqlstate();
    if (state == "23505") return {Code::kAlreadyExists, what};
    if (state == "40001" || state == "40P01" || state.rfind("08", 0) == 0) {
      return {Code::kUnavailable, "database: " + what};
    }
  }
  // SQLite (and PostgreSQL errors raised without a result, such as a lost connection) only
  // have the message.
  if (what.find("UNIQUE constraint") != std::string::npos ||
      what.find("duplicate key value violates unique constraint") != std::string::npos) {
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
  Result<std::string> conninfo =
      sqlite ? Result<std::string>(std::string()) : PostgresConnectString(url);
  if (!conninfo.ok()) return conninfo.status();
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
        s.open(*soci::factory_postgresql(), *conninfo);
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
        if (!sqlite_) {
          // Admission reads usage, checks it and inserts in one write transaction, which is
          // only safe if no other writer runs in between. SQLite's BEGIN IMMEDIATE gives that;
          // PostgreSQL's READ COMMITTED does not (two transactions can both read the old usage
          // and both insert). A transaction-scoped advisory lock on one fixed key serializes
          // every write transaction on every connection of every kaasd sharing the database;
          // it is released by COMMIT/ROLLBACK, and by the server when a connection dies.
          // This relies on READ COMMITTED: each statement after the lock sees everything
          // committed before it was granted (REPEATABLE READ would keep an older snapshot).
          sql << "SELECT pg_advisory_xact_lock(" << kWriteLockKey << ")";
        }
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
