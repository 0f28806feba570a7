#include "kaas/store/database.h"

#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "db_errors.h"
#include "event_signal.h"
#include "kaas/common/clock.h"
#include "kaas/common/log.h"
#include "migrations.h"

namespace kaas::store {
namespace {

constexpr std::string_view kSqlitePrefix = "sqlite://";

// Key of the PostgreSQL advisory lock every write transaction takes (see Database::Run). Any
// fixed value works as long as every kaasd sharing the database uses the same one; these are
// the bytes of "kaas:wr".
constexpr int64_t kWriteLockKey = 0x006b6161733a7772;

// How long after its own timeout_ms a Read/Write attempt may still wait for the server before
// kaasd shuts its connection down: the server's statement_timeout gives the cleaner error and
// should come first.
constexpr int64_t kWatchdogGraceMs = 5000;

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The libpq connection under a PostgreSQL session (its socket for the watchdog, its status).
// SOCI does not export the backend's type information, so no dynamic_cast: callers only pass
// PostgreSQL sessions.
PGconn* PgConn(soci::session& sql) {
  auto* backend = static_cast<soci::postgresql_session_backend*>(sql.get_backend());
  return backend ? backend->conn_ : nullptr;
}

}  // namespace

struct Database::Impl {
  // One pooled session. `sql` is null when it is not connected (never yet, or its connection
  // broke): Acquire connects it.
  struct Slot {
    std::unique_ptr<soci::session> sql;
    int64_t last_used_ms = 0;
    uint64_t probed_epoch = 0;
    // Shared with the watchdog thread.
    std::mutex mu;
    int fd = -1;
    int64_t deadline_ms = 0;
    bool cut = false;
  };

  Impl(std::string u, bool s, DatabaseOptions o) : url(std::move(u)), sqlite(s), options(o) {
    for (size_t i = 0; i < options.pool_size; ++i) {
      slots.push_back(std::make_unique<Slot>());
      free.push_back(options.pool_size - 1 - i);
    }
  }

  ~Impl() {
    {
      std::lock_guard lock(watchdog_mu);
      stopping = true;
    }
    watchdog_cv.notify_all();
    if (watchdog.joinable()) watchdog.join();
  }

  Status Connect(Slot& slot) {
    auto sql = std::make_unique<soci::session>();
    int fd = -1;
    try {
      if (sqlite) {
        std::string path = url.substr(kSqlitePrefix.size());
        sql->open(*soci::factory_sqlite3(), "db=" + path + " timeout=30 shared_cache=false");
        *sql << "PRAGMA journal_mode=WAL";
        *sql << "PRAGMA synchronous=NORMAL";
        *sql << "PRAGMA foreign_keys=ON";
      } else {
        sql->open(*soci::factory_postgresql(), conninfo);
        // No statement runs for longer than the timeout, and a kaasd that stops talking in the
        // middle of a transaction (network cut) does not hold the write lock for longer.
        *sql << "SET statement_timeout = " << options.timeout_ms;
        *sql << "SET idle_in_transaction_session_timeout = " << options.timeout_ms;
        if (PGconn* conn = PgConn(*sql)) fd = PQsocket(conn);
      }
    } catch (const std::exception& e) {
      return Unavailable("database unavailable: cannot connect: " + OneLine(e.what()));
    }
    std::lock_guard lock(slot.mu);
    slot.sql = std::move(sql);
    slot.fd = fd;
    return Status::Ok();
  }

  // Takes a session from the pool, connected and (after idling, or after another session's
  // connection broke) probed. Returns its index.
  Result<size_t> Acquire() {
    size_t index;
    {
      std::unique_lock lock(pool_mu);
      if (free.empty()) {
        auto start = std::chrono::steady_clock::now();
        pool_cv.wait(lock, [&] { return !free.empty(); });
        pool_wait_seconds +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        pool_waits++;
      }
      pool_acquisitions++;
      index = free.back();
      free.pop_back();
    }
    Slot& slot = *slots[index];
    uint64_t now_epoch = epoch.load();
    // During an outage an old connection is not worth a probe that may hang until the
    // watchdog cuts it: a new one answers (or fails) within connect_timeout.
    if (slot.sql && !sqlite && !health_available_fast.load()) Drop(slot);
    if (slot.sql && !sqlite &&
        (slot.probed_epoch < now_epoch || SteadyMs() - slot.last_used_ms > options.idle_check_ms)) {
      Arm(slot);
      bool alive = true;
      try {
        *slot.sql << "SELECT 1";
      } catch (const std::exception&) {
        alive = false;
      }
      Disarm(slot);
      if (!alive) {
        Drop(slot);
        epoch.fetch_add(1);  // the others are likely just as dead
      }
    }
    if (!slot.sql) {
      Status st = Connect(slot);
      if (!st.ok()) {
        Release(index);
        return st;
      }
    }
    slot.probed_epoch = now_epoch;
    return index;
  }

  void Release(size_t index) {
    slots[index]->last_used_ms = SteadyMs();
    {
      std::lock_guard lock(pool_mu);
      free.push_back(index);
    }
    pool_cv.notify_one();
  }

  // Closes a slot's session; the next Acquire connects it anew.
  void Drop(Slot& slot) {
    std::unique_ptr<soci::session> old;
    {
      std::lock_guard lock(slot.mu);
      old = std::move(slot.sql);
      slot.fd = -1;
    }
    if (!old) return;
    try {
      old->close();
    } catch (const std::exception&) {
      // Closing a broken connection may complain; it is being thrown away either way.
    }
  }

  // The watchdog shuts a session's socket down when it is armed for longer than the timeout
  // (plus grace): the blocked libpq call returns with a lost connection.
  void Arm(Slot& slot) {
    if (sqlite) return;
    std::lock_guard lock(slot.mu);
    slot.deadline_ms = SteadyMs() + options.timeout_ms + kWatchdogGraceMs;
    slot.cut = false;
  }
  // Returns whether the watchdog cut the connection.
  bool Disarm(Slot& slot) {
    if (sqlite) return false;
    std::lock_guard lock(slot.mu);
    slot.deadline_ms = 0;
    return slot.cut;
  }

  void Watch() {
    std::unique_lock lock(watchdog_mu);
    while (!stopping) {
      watchdog_cv.wait_for(lock, std::chrono::milliseconds(250));
      int64_t now = SteadyMs();
      for (auto& slot : slots) {
        std::lock_guard slot_lock(slot->mu);
        if (slot->deadline_ms == 0 || now < slot->deadline_ms || slot->fd < 0) continue;
        ::shutdown(slot->fd, SHUT_RDWR);
        slot->cut = true;
        slot->deadline_ms = 0;
      }
    }
  }

  // Health bookkeeping: the log says when an outage starts and, with the count of failed
  // calls, when it ends; nothing in between.
  void Failed(const Status& st) {
    std::lock_guard lock(health_mu);
    health_available_fast = false;
    if (!health.available) {
      health.failures += 1;
      return;
    }
    health.available = false;
    health.error = st.message();
    health.unavailable_since_ms = SystemClock::Instance().NowMs();
    health.failures = 1;
    health.outages += 1;
    log::Error("database unavailable", {{"error", st.message()}});
  }
  void Succeeded() {
    if (health_available_fast.load(std::memory_order_relaxed)) return;
    std::lock_guard lock(health_mu);
    if (health.available) return;
    health.available = true;
    int64_t down_ms = SystemClock::Instance().NowMs() - health.unavailable_since_ms;
    log::Info("database available again", {{"unavailable_for_s", std::to_string(down_ms / 1000)},
                                           {"failed_calls", std::to_string(health.failures)},
                                           {"first_error", health.error}});
    health_available_fast = true;
  }

  std::string url;
  bool sqlite;
  DatabaseOptions options;
  std::string conninfo;

  std::mutex pool_mu;
  std::condition_variable pool_cv;
  // Guarded by pool_mu.
  uint64_t pool_acquisitions = 0;
  uint64_t pool_waits = 0;
  double pool_wait_seconds = 0;
  std::vector<std::unique_ptr<Slot>> slots;
  std::vector<size_t> free;
  // Bumped whenever a connection is found broken: every session last probed before that is
  // probed again before it is handed out (a server restart breaks all of them).
  std::atomic<uint64_t> epoch{0};

  std::mutex watchdog_mu;
  std::condition_variable watchdog_cv;
  bool stopping = false;
  std::thread watchdog;
  // Declared last: destroyed (its listener stopped) first.
  EventSignal events;

  mutable std::mutex health_mu;
  DatabaseHealth health;
  std::atomic<bool> health_available_fast{true};
};

Database::Database(std::unique_ptr<Impl> impl)
    : url_(impl->url), sqlite_(impl->sqlite), impl_(std::move(impl)) {}

Database::~Database() = default;

Result<std::unique_ptr<Database>> Database::Open(const std::string& url, size_t pool_size) {
  DatabaseOptions options;
  options.pool_size = pool_size;
  return Open(url, options);
}

Result<std::unique_ptr<Database>> Database::Open(const std::string& url, DatabaseOptions options) {
  bool sqlite = url.rfind(kSqlitePrefix, 0) == 0;
  bool postgres = url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
  if (!sqlite && !postgres) {
    return InvalidArgument("database", "database URL must start with sqlite:// or postgresql://");
  }
  options.pool_size = std::max<size_t>(options.pool_size, 1);
  options.timeout_ms = std::max<int64_t>(options.timeout_ms, 1);
  auto impl = std::make_unique<Impl>(url, sqlite, options);
  if (!sqlite) {
    Result<std::string> conninfo = PostgresConnectString(url);
    if (!conninfo.ok()) return conninfo.status();
    impl->conninfo = *conninfo;
  }
  // Every session connects now, so that a wrong URL or password fails at start.
  for (auto& slot : impl->slots) {
    Status st = impl->Connect(*slot);
    if (!st.ok()) return st;
  }
  if (!sqlite) impl->watchdog = std::thread([p = impl.get()] { p->Watch(); });
  return std::unique_ptr<Database>(new Database(std::move(impl)));
}

int64_t Database::LatestSchemaVersion() { return Migrations().back().version; }

PoolStats Database::pool_stats() const {
  std::lock_guard lock(impl_->pool_mu);
  PoolStats p;
  p.size = impl_->slots.size();
  p.in_use = p.size - impl_->free.size();
  p.acquisitions = impl_->pool_acquisitions;
  p.waits = impl_->pool_waits;
  p.wait_seconds = impl_->pool_wait_seconds;
  return p;
}

DatabaseHealth Database::health() const {
  std::lock_guard lock(impl_->health_mu);
  return impl_->health;
}

Status Database::Run(bool write, const std::function<Status(Tx&)>& fn) {
  // Attempts for a transaction that certainly did not commit: a lost connection is retried at
  // once on a fresh one (which fails fast while the server is away), contention with a short
  // growing pause.
  constexpr int kMaxAttempts = 6;
  constexpr int kMaxLostAttempts = 3;
  int lost_attempts = 0;
  for (int attempt = 1;; ++attempt) {
    Result<size_t> acquired = impl_->Acquire();
    if (!acquired.ok()) {
      impl_->Failed(acquired.status());
      return acquired.status();
    }
    Impl::Slot& slot = *impl_->slots[*acquired];
    soci::session& sql = *slot.sql;
    Tx tx(sql, sqlite_);
    bool in_tx = false;
    bool committing = false;
    impl_->Arm(slot);
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
      if (in_tx && st.ok()) {
        committing = true;
        sql << "COMMIT";
      } else if (in_tx) {
        sql << "ROLLBACK";
      }
      impl_->Disarm(slot);
      impl_->Release(*acquired);
      impl_->Succeeded();
      if (in_tx && st.ok()) {
        for (const std::string& cluster_id : tx.noted_events()) impl_->events.Bump(cluster_id);
      }
      return st;
    } catch (const std::exception& e) {
      bool cut = impl_->Disarm(slot);
      Classified c = Classify(e);
      if (cut) {
        c = {Unavailable("database unavailable: no answer within " +
                         std::to_string((impl_->options.timeout_ms + kWatchdogGraceMs) / 1000) +
                         " s, connection closed"),
             Failure::kLost};
      } else if (!sqlite_ && c.failure != Failure::kLost) {
        // libpq's own message for a dead socket varies; its connection status does not.
        PGconn* conn = PgConn(sql);
        if (!conn || PQstatus(conn) != CONNECTION_OK) {
          c = {Unavailable("database unavailable: " + OneLine(e.what())), Failure::kLost};
        }
      }
      if (in_tx && c.failure != Failure::kLost) {
        try {
          sql << "ROLLBACK";
        } catch (const std::exception&) {
          // The transaction is already gone (the error aborted it); nothing more to undo.
        }
      }
      if (c.failure == Failure::kLost || c.failure == Failure::kStorage) {
        // A fresh session for whoever comes next; after a lost connection, every other one is
        // probed before use. A SQLite session reopens so that nothing of the failed
        // transaction lingers in it.
        impl_->Drop(slot);
        if (c.failure == Failure::kLost) impl_->epoch.fetch_add(1);
        impl_->Failed(c.status);
      }
      impl_->Release(*acquired);
      if (c.failure == Failure::kLost && committing) {
        // COMMIT was sent and its answer never came: the transaction may or may not have
        // committed. Running `fn` again could apply it twice, so this is the caller's to sort
        // out (by reading what is there).
        return Unavailable(
            "database connection lost while committing: whether the change was saved is "
            "unknown; read it back before trying again (" +
            c.status.message() + ")");
      }
      // A server that did not answer in time would not answer a second try any sooner.
      if (cut) return c.status;
      bool lost = c.failure == Failure::kLost && ++lost_attempts < kMaxLostAttempts;
      bool transient = c.failure == Failure::kTransient && attempt < kMaxAttempts;
      if (lost) continue;
      if (transient) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20 << attempt));
        continue;
      }
      return c.status;
    }
  }
}

Status Database::Write(const std::function<Status(Tx&)>& fn) { return Run(true, fn); }
Status Database::Read(const std::function<Status(Tx&)>& fn) { return Run(false, fn); }

uint64_t Database::EventGeneration(const std::string& cluster_id) const {
  return impl_->events.Generation(cluster_id);
}

bool Database::WaitForEvents(const std::string& cluster_id, uint64_t seen, int64_t timeout_ms) {
  if (!sqlite_) impl_->events.Listen(impl_->conninfo);  // once; later calls return at once
  return impl_->events.Wait(cluster_id, seen, timeout_ms);
}

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
