// Operations and their steps, leases on them, events.
#include <soci/soci.h>

#include <functional>
#include <map>

#include "kaas/store/repositories.h"
#include "select.h"

namespace kaas::store {
namespace {

using soci::into;
using soci::use;

constexpr const char* kOperationCols =
    "SELECT id, cluster_id, type, state, requested_by, error, created_at, updated_at, "
    "finished_at, cancel_requested, params, owner, lease_until, epoch FROM operations";
struct OperationRow {
  Operation o;
  int cancel = 0;
};
void BindOperation(soci::statement& st, Operation& o) {
  st.exchange(into(o.id));
  st.exchange(into(o.cluster_id));
  st.exchange(into(o.type));
  st.exchange(into(o.state));
  st.exchange(into(o.requested_by));
  st.exchange(into(o.error));
  st.exchange(into(o.created_at));
  st.exchange(into(o.updated_at));
  st.exchange(into(o.finished_at));
}
void BindOperationRow(soci::statement& st, OperationRow& r) {
  BindOperation(st, r.o);
  st.exchange(into(r.cancel));
  st.exchange(into(r.o.params));
  st.exchange(into(r.o.owner));
  st.exchange(into(r.o.lease_until));
  st.exchange(into(r.o.epoch));
}
std::vector<Operation> SelectOperations(Tx& tx, const std::string& q,
                                        const std::function<void(soci::statement&)>& uses) {
  std::vector<Operation> out;
  for (auto& r : Select<OperationRow>(tx, q, BindOperationRow, uses)) {
    r.o.cancel_requested = r.cancel != 0;
    out.push_back(std::move(r.o));
  }
  return out;
}

constexpr const char* kStepCols =
    "SELECT operation_id, idx, name, kind, target, state, message, attempts, started_at, "
    "finished_at, cancel_safe FROM operation_steps";
struct StepRow {
  Step s;
  int safe = 1;
};
void BindStep(soci::statement& st, Step& s) {
  st.exchange(into(s.operation_id));
  st.exchange(into(s.index));
  st.exchange(into(s.name));
  st.exchange(into(s.kind));
  st.exchange(into(s.target));
  st.exchange(into(s.state));
  st.exchange(into(s.message));
  st.exchange(into(s.attempts));
  st.exchange(into(s.started_at));
  st.exchange(into(s.finished_at));
}
void BindStepRow(soci::statement& st, StepRow& r) {
  BindStep(st, r.s);
  st.exchange(into(r.safe));
}

void LoadSteps(Tx& tx, Operation& op) {
  const std::string& id = op.id;
  op.steps.clear();
  for (auto& r :
       Select<StepRow>(tx, std::string(kStepCols) + " WHERE operation_id = :id ORDER BY idx",
                       BindStepRow, [&](soci::statement& st) { st.exchange(use(id)); })) {
    r.s.cancel_safe = r.safe != 0;
    op.steps.push_back(std::move(r.s));
  }
}

}  // namespace

// ============================== operations ==============================

namespace operations {
void Insert(Tx& tx, const Operation& o) {
  int cancel = o.cancel_requested ? 1 : 0;
  tx.sql() << "INSERT INTO operations (id, cluster_id, type, state, requested_by, error, "
              "created_at, updated_at, finished_at, cancel_requested, params) VALUES (:id, :c, "
              ":t, :s, :by, :e, :ca, :ua, :fa, :cr, :p)",
      use(o.id), use(o.cluster_id), use(o.type), use(o.state), use(o.requested_by), use(o.error),
      use(o.created_at), use(o.updated_at), use(o.finished_at), use(cancel), use(o.params);
  for (const Step& s : o.steps) {
    int safe = s.cancel_safe ? 1 : 0;
    tx.sql() << "INSERT INTO operation_steps (operation_id, idx, name, kind, target, state, "
                "message, attempts, started_at, finished_at, cancel_safe) VALUES (:o, :i, :n, "
                ":k, :t, :s, :m, :a, :sa, :fa, :cs)",
        use(o.id), use(s.index), use(s.name), use(s.kind), use(s.target), use(s.state),
        use(s.message), use(s.attempts), use(s.started_at), use(s.finished_at), use(safe);
  }
}
std::optional<Operation> Find(Tx& tx, const std::string& id) {
  auto op = First(SelectOperations(tx, std::string(kOperationCols) + " WHERE id = :id",
                                   [&](soci::statement& st) { st.exchange(use(id)); }));
  if (op) LoadSteps(tx, *op);
  return op;
}
std::vector<Operation> ListForCluster(Tx& tx, const std::string& cluster_id, int64_t limit) {
  long lim = limit;
  auto ops = SelectOperations(
      tx, std::string(kOperationCols) + " WHERE cluster_id = :c ORDER BY id DESC LIMIT :l",
      [&](soci::statement& st) {
        st.exchange(use(cluster_id));
        st.exchange(use(lim));
      });
  for (auto& op : ops) LoadSteps(tx, op);
  return ops;
}
std::optional<Operation> FindActiveForCluster(Tx& tx, const std::string& cluster_id) {
  auto op = First(SelectOperations(
      tx,
      std::string(kOperationCols) + " WHERE cluster_id = :c AND state IN ('pending', 'running')",
      [&](soci::statement& st) { st.exchange(use(cluster_id)); }));
  if (op) LoadSteps(tx, *op);
  return op;
}
std::vector<std::string> ListActiveIds(Tx& tx) {
  auto bind = +[](soci::statement& st, std::string& id) { st.exchange(into(id)); };
  return Select<std::string>(
      tx, "SELECT id FROM operations WHERE state IN ('pending', 'running') ORDER BY id", bind);
}
void RequestCancel(Tx& tx, const std::string& id, int64_t now) {
  tx.sql() << "UPDATE operations SET cancel_requested = 1, updated_at = :n WHERE id = :id",
      use(now), use(id);
}
void Reopen(Tx& tx, const std::string& id, int64_t now) {
  tx.sql() << "UPDATE operations SET state = 'pending', error = '', cancel_requested = 0, "
              "finished_at = 0, updated_at = :n, owner = '', lease_until = 0 WHERE id = :id",
      use(now), use(id);
}
void SetState(Tx& tx, const std::string& id, const std::string& state, const std::string& error,
              int64_t now) {
  long finished = (state == "succeeded" || state == "failed" || state == "cancelled") ? now : 0;
  tx.sql() << "UPDATE operations SET state = :s, error = :e, updated_at = :n, finished_at = :f "
              "WHERE id = :id",
      use(state), use(error), use(now), use(finished), use(id);
}
void UpdateStep(Tx& tx, const Step& s) {
  tx.sql() << "UPDATE operation_steps SET state = :s, message = :m, attempts = :a, "
              "started_at = :sa, finished_at = :fa WHERE operation_id = :o AND idx = :i",
      use(s.state), use(s.message), use(s.attempts), use(s.started_at), use(s.finished_at),
      use(s.operation_id), use(s.index);
}
std::map<std::pair<std::string, std::string>, int64_t> CountByTypeAndState(Tx& tx) {
  struct Row {
    std::string type, state;
    long n = 0;
  };
  auto bind = +[](soci::statement& st, Row& r) {
    st.exchange(into(r.type));
    st.exchange(into(r.state));
    st.exchange(into(r.n));
  };
  std::map<std::pair<std::string, std::string>, int64_t> out;
  for (auto& r :
       Select<Row>(tx, "SELECT type, state, COUNT(*) FROM operations GROUP BY type, state", bind)) {
    out[{r.type, r.state}] = r.n;
  }
  return out;
}
}  // namespace operations

// ============================== leases ==============================

namespace leases {
namespace {

constexpr const char* kActive = "state IN ('pending', 'running')";
// Free (but not freshly admitted and never claimed: :f), or its lease ended before :n.
constexpr const char* kClaimable =
    "((owner = '' AND (epoch > 0 OR created_at < :f)) OR (owner <> '' AND lease_until < :n))";

struct LeaseRow {
  std::string id, owner;
  long epoch = 0;
  int cancel = 0;
};
void BindLeaseRow(soci::statement& st, LeaseRow& r) {
  st.exchange(into(r.id));
  st.exchange(into(r.owner));
  st.exchange(into(r.epoch));
  st.exchange(into(r.cancel));
}

OperationLease Take(Tx& tx, const LeaseRow& r, const std::string& replica, int64_t until) {
  long next = r.epoch + 1;
  long u = until;
  tx.sql() << "UPDATE operations SET owner = :o, lease_until = :u, epoch = :e WHERE id = :id",
      use(replica), use(u), use(next), use(r.id);
  return {r.id, next, r.owner, r.cancel != 0};
}

}  // namespace

std::optional<OperationLease> ClaimOperation(Tx& tx, const std::string& id,
                                             const std::string& replica, int64_t now, int64_t until,
                                             bool force) {
  long n = now;
  auto rows = Select<LeaseRow>(
      tx,
      std::string("SELECT id, owner, epoch, cancel_requested FROM operations WHERE id = :id "
                  "AND ") +
          kActive + (force ? "" : " AND (owner = '' OR owner = :r OR lease_until < :n)") +
          (tx.sqlite() ? "" : " FOR UPDATE"),
      BindLeaseRow, [&](soci::statement& st) {
        st.exchange(use(id));
        if (!force) {
          st.exchange(use(replica));
          st.exchange(use(n));
        }
      });
  if (rows.empty()) return std::nullopt;
  return Take(tx, rows.front(), replica, until);
}

std::vector<OperationLease> ClaimFree(Tx& tx, const std::string& replica, int64_t now,
                                      int64_t until, int64_t limit, int64_t fresh_since) {
  long n = now, l = limit, f = fresh_since;
  // PostgreSQL: rows another transaction is claiming are skipped, not waited for.
  auto rows = Select<LeaseRow>(
      tx,
      std::string("SELECT id, owner, epoch, cancel_requested FROM operations WHERE ") + kActive +
          " AND " + kClaimable + " ORDER BY created_at, id LIMIT :l" +
          (tx.sqlite() ? "" : " FOR UPDATE SKIP LOCKED"),
      BindLeaseRow, [&](soci::statement& st) {
        st.exchange(use(f));
        st.exchange(use(n));
        st.exchange(use(l));
      });
  std::vector<OperationLease> out;
  for (const auto& r : rows) out.push_back(Take(tx, r, replica, until));
  return out;
}

bool AnyClaimable(Tx& tx, int64_t now, int64_t fresh_since) {
  long n = now, f = fresh_since;
  long found = 0;
  tx.sql() << std::string("SELECT COUNT(*) FROM (SELECT 1 FROM operations WHERE ") + kActive +
                  " AND " + kClaimable + " LIMIT 1) free",
      use(f), use(n), into(found);
  return found > 0;
}

std::vector<OperationLease> Renew(Tx& tx, const std::string& replica, int64_t until) {
  long u = until;
  tx.sql() << std::string("UPDATE operations SET lease_until = :u WHERE owner = :o AND ") + kActive,
      use(u), use(replica);
  auto rows = Select<LeaseRow>(
      tx,
      std::string("SELECT id, owner, epoch, cancel_requested FROM operations WHERE owner = :o "
                  "AND ") +
          kActive,
      BindLeaseRow, [&](soci::statement& st) { st.exchange(use(replica)); });
  std::vector<OperationLease> out;
  for (const auto& r : rows) out.push_back({r.id, r.epoch, "", r.cancel != 0});
  return out;
}

bool Holds(Tx& tx, const std::string& id, const std::string& replica, int64_t epoch) {
  long e = epoch;
  long found = 0;
  tx.sql() << "SELECT COUNT(*) FROM operations WHERE id = :id AND owner = :o AND epoch = :e",
      use(id), use(replica), use(e), into(found);
  return found > 0;
}

void Release(Tx& tx, const std::string& id, const std::string& replica, int64_t epoch) {
  long e = epoch;
  tx.sql() << "UPDATE operations SET owner = '', lease_until = 0 WHERE id = :id AND owner = :o "
              "AND epoch = :e",
      use(id), use(replica), use(e);
}

int64_t CountOwned(Tx& tx, const std::string& replica) {
  long n = 0;
  tx.sql() << std::string("SELECT COUNT(*) FROM operations WHERE owner = :o AND ") + kActive,
      use(replica), into(n);
  return n;
}

bool AcquireNamed(Tx& tx, const std::string& name, const std::string& replica, int64_t now,
                  int64_t until) {
  long n = now, u = until;
  std::string owner;
  long epoch = 0, held_until = 0;
  tx.sql() << "SELECT owner, epoch, lease_until FROM leases WHERE name = :n" +
                  std::string(tx.sqlite() ? "" : " FOR UPDATE"),
      use(name), into(owner), into(epoch), into(held_until);
  if (!tx.sql().got_data()) {
    long one = 1;
    tx.sql() << "INSERT INTO leases (name, owner, lease_until, epoch) VALUES (:n, :o, :u, :e)",
        use(name), use(replica), use(u), use(one);
    return true;
  }
  if (owner != replica && held_until >= n) return false;
  long next = owner == replica ? epoch : epoch + 1;
  tx.sql() << "UPDATE leases SET owner = :o, lease_until = :u, epoch = :e WHERE name = :n",
      use(replica), use(u), use(next), use(name);
  return true;
}

void ReleaseNamed(Tx& tx, const std::string& name, const std::string& replica) {
  tx.sql() << "UPDATE leases SET owner = '', lease_until = 0 WHERE name = :n AND owner = :o",
      use(name), use(replica);
}

}  // namespace leases

namespace events {
void Insert(Tx& tx, const Event& e) {
  tx.sql() << "INSERT INTO events (id, cluster_id, team_id, at, kind, data) VALUES (:id, :c, :t, "
              ":at, :k, :d)",
      use(e.id), use(e.cluster_id), use(e.team_id), use(e.at), use(e.kind), use(e.data);
  // Waiters in this process are woken after the commit (Database::Run); other kaasd processes
  // on the same PostgreSQL through NOTIFY, which the server delivers at commit too.
  tx.NoteEvent(e.cluster_id);
  if (!tx.sqlite()) {
    int sent = 0;
    tx.sql() << "SELECT 1 FROM (SELECT pg_notify('kaas_events', :c)) AS notified",
        use(e.cluster_id), into(sent);
  }
}
std::vector<Event> ListForCluster(Tx& tx, const std::string& cluster_id,
                                  const std::string& after_id, int64_t limit) {
  auto bind = +[](soci::statement& st, Event& e) {
    st.exchange(into(e.id));
    st.exchange(into(e.cluster_id));
    st.exchange(into(e.team_id));
    st.exchange(into(e.at));
    st.exchange(into(e.kind));
    st.exchange(into(e.data));
  };
  long lim = limit;
  return Select<Event>(tx,
                       "SELECT id, cluster_id, team_id, at, kind, data FROM events WHERE "
                       "cluster_id = :c AND id > :a ORDER BY id LIMIT :l",
                       bind, [&](soci::statement& st) {
                         st.exchange(use(cluster_id));
                         st.exchange(use(after_id));
                         st.exchange(use(lim));
                       });
}
}  // namespace events

}  // namespace kaas::store
