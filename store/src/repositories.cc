#include "kaas/store/repositories.h"

#include <soci/soci.h>

#include <functional>
#include <map>

namespace kaas::store {
namespace {

using soci::into;
using soci::use;

// Runs `query` with `bind_row` binding the columns of one row and `bind_uses` its
// parameters, and returns every row.
template <typename Row>
std::vector<Row> Select(Tx& tx, const std::string& query, void (*bind_row)(soci::statement&, Row&),
                        const std::function<void(soci::statement&)>& bind_uses = {}) {
  Row row;
  soci::statement st(tx.sql());
  bind_row(st, row);
  if (bind_uses) bind_uses(st);
  st.alloc();
  st.prepare(query);
  st.define_and_bind();
  st.execute();
  std::vector<Row> rows;
  while (st.fetch()) rows.push_back(row);
  return rows;
}

template <typename Row>
std::optional<Row> First(std::vector<Row> rows) {
  if (rows.empty()) return std::nullopt;
  return std::move(rows.front());
}

long CountOf(Tx& tx, const std::string& query, const std::string& arg) {
  long n = 0;
  tx.sql() << query, use(arg), into(n);
  return n;
}

// ---- teams, users, memberships, tokens ----

constexpr const char* kTeamCols = "SELECT id, name, created_at FROM teams";
void BindTeam(soci::statement& st, Team& t) {
  st.exchange(into(t.id));
  st.exchange(into(t.name));
  st.exchange(into(t.created_at));
}

constexpr const char* kUserCols =
    "SELECT id, username, password_hash, is_admin, created_at, disabled_at, source FROM users";
struct UserRow {
  User u;
  int is_admin = 0;
};
void BindUser(soci::statement& st, UserRow& r) {
  st.exchange(into(r.u.id));
  st.exchange(into(r.u.username));
  st.exchange(into(r.u.password_hash));
  st.exchange(into(r.is_admin));
  st.exchange(into(r.u.created_at));
  st.exchange(into(r.u.disabled_at));
  st.exchange(into(r.u.source));
}
std::optional<User> FirstUser(std::vector<UserRow> rows) {
  if (rows.empty()) return std::nullopt;
  rows[0].u.is_admin = rows[0].is_admin != 0;
  return rows[0].u;
}

constexpr const char* kTokenCols =
    "SELECT id, user_id, name, token_hash, created_at, expires_at, revoked_at, kind, team_id, "
    "role, selector FROM tokens";
void BindToken(soci::statement& st, Token& t) {
  st.exchange(into(t.id));
  st.exchange(into(t.user_id));
  st.exchange(into(t.name));
  st.exchange(into(t.token_hash));
  st.exchange(into(t.created_at));
  st.exchange(into(t.expires_at));
  st.exchange(into(t.revoked_at));
  st.exchange(into(t.kind));
  st.exchange(into(t.team_id));
  st.exchange(into(t.role));
  st.exchange(into(t.selector));
}

// ---- inventory ----

constexpr const char* kHypervisorCols =
    "SELECT name, uri, vcpus, memory_gib, state, created_at FROM hypervisors";
void BindHypervisor(soci::statement& st, Hypervisor& h) {
  st.exchange(into(h.name));
  st.exchange(into(h.uri));
  st.exchange(into(h.vcpus));
  st.exchange(into(h.memory_gib));
  st.exchange(into(h.state));
  st.exchange(into(h.created_at));
}

constexpr const char* kHostCols =
    "SELECT name, address, vcpus, memory_gib, labels, state, cluster_id, created_at FROM hosts";
void BindHost(soci::statement& st, Host& h) {
  st.exchange(into(h.name));
  st.exchange(into(h.address));
  st.exchange(into(h.vcpus));
  st.exchange(into(h.memory_gib));
  st.exchange(into(h.labels));
  st.exchange(into(h.state));
  st.exchange(into(h.cluster_id));
  st.exchange(into(h.created_at));
}

// ---- clusters, nodes ----

constexpr const char* kClusterCols =
    "SELECT id, team_id, name, purpose, kubernetes_version, status, status_reason, "
    "master_count, master_flavor, master_kind, worker_count, worker_kind, worker_flavor, "
    "created_by, created_at, updated_at, auto_repair FROM clusters";
void BindCluster(soci::statement& st, Cluster& c) {
  st.exchange(into(c.id));
  st.exchange(into(c.team_id));
  st.exchange(into(c.name));
  st.exchange(into(c.purpose));
  st.exchange(into(c.kubernetes_version));
  st.exchange(into(c.status));
  st.exchange(into(c.status_reason));
  st.exchange(into(c.master_count));
  st.exchange(into(c.master_flavor));
  st.exchange(into(c.master_kind));
  st.exchange(into(c.worker_count));
  st.exchange(into(c.worker_kind));
  st.exchange(into(c.worker_flavor));
  st.exchange(into(c.created_by));
  st.exchange(into(c.created_at));
  st.exchange(into(c.updated_at));
  st.exchange(into(c.auto_repair));
}

constexpr const char* kNodeCols =
    "SELECT id, cluster_id, name, role, kind, flavor, state, hypervisor, host, vcpus, "
    "memory_gib, address, kubernetes_version, created_at, updated_at, health, health_reason, "
    "unhealthy_since FROM nodes";
void BindNode(soci::statement& st, Node& n) {
  st.exchange(into(n.id));
  st.exchange(into(n.cluster_id));
  st.exchange(into(n.name));
  st.exchange(into(n.role));
  st.exchange(into(n.kind));
  st.exchange(into(n.flavor));
  st.exchange(into(n.state));
  st.exchange(into(n.hypervisor));
  st.exchange(into(n.host));
  st.exchange(into(n.vcpus));
  st.exchange(into(n.memory_gib));
  st.exchange(into(n.address));
  st.exchange(into(n.kubernetes_version));
  st.exchange(into(n.created_at));
  st.exchange(into(n.updated_at));
  st.exchange(into(n.health));
  st.exchange(into(n.health_reason));
  st.exchange(into(n.unhealthy_since));
}
constexpr const char* kNodeOrder =
    " ORDER BY CASE WHEN role = 'master' THEN 0 ELSE 1 END, LENGTH(name), name";

// ---- operations ----

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

// ============================== teams ==============================

namespace teams {
void Insert(Tx& tx, const Team& t) {
  tx.sql() << "INSERT INTO teams (id, name, created_at) VALUES (:id, :name, :at)", use(t.id),
      use(t.name), use(t.created_at);
}
std::optional<Team> FindByName(Tx& tx, const std::string& name) {
  return First(Select<Team>(tx, std::string(kTeamCols) + " WHERE name = :n", BindTeam,
                            [&](soci::statement& st) { st.exchange(use(name)); }));
}
std::optional<Team> FindById(Tx& tx, const std::string& id) {
  return First(Select<Team>(tx, std::string(kTeamCols) + " WHERE id = :id", BindTeam,
                            [&](soci::statement& st) { st.exchange(use(id)); }));
}
std::vector<Team> List(Tx& tx) {
  return Select<Team>(tx, std::string(kTeamCols) + " ORDER BY name", BindTeam);
}
std::vector<Team> ListForUser(Tx& tx, const std::string& user_id) {
  return Select<Team>(tx,
                      "SELECT t.id, t.name, t.created_at FROM teams t JOIN memberships m "
                      "ON m.team_id = t.id WHERE m.user_id = :u ORDER BY t.name",
                      BindTeam, [&](soci::statement& st) { st.exchange(use(user_id)); });
}
}  // namespace teams

// ============================== users ==============================

namespace users {
void Insert(Tx& tx, const User& u) {
  int admin = u.is_admin ? 1 : 0;
  tx.sql() << "INSERT INTO users (id, username, password_hash, is_admin, created_at, source) "
              "VALUES (:id, :u, :p, :a, :at, :s)",
      use(u.id), use(u.username), use(u.password_hash), use(admin), use(u.created_at),
      use(u.source);
}
std::optional<User> FindByUsername(Tx& tx, const std::string& username) {
  return FirstUser(Select<UserRow>(tx, std::string(kUserCols) + " WHERE username = :u", BindUser,
                                   [&](soci::statement& st) { st.exchange(use(username)); }));
}
std::optional<User> FindById(Tx& tx, const std::string& id) {
  return FirstUser(Select<UserRow>(tx, std::string(kUserCols) + " WHERE id = :id", BindUser,
                                   [&](soci::statement& st) { st.exchange(use(id)); }));
}
int64_t Count(Tx& tx) {
  long n = 0;
  tx.sql() << "SELECT COUNT(*) FROM users", into(n);
  return n;
}
std::vector<User> List(Tx& tx) {
  std::vector<User> out;
  for (auto& r : Select<UserRow>(tx, std::string(kUserCols) + " ORDER BY username", BindUser)) {
    r.u.is_admin = r.is_admin != 0;
    out.push_back(r.u);
  }
  return out;
}
void SetDisabled(Tx& tx, const std::string& id, int64_t disabled_at) {
  tx.sql() << "UPDATE users SET disabled_at = :d WHERE id = :id", use(disabled_at), use(id);
}
void SetPasswordHash(Tx& tx, const std::string& id, const std::string& password_hash) {
  tx.sql() << "UPDATE users SET password_hash = :p WHERE id = :id", use(password_hash), use(id);
}
}  // namespace users

namespace memberships {
void Put(Tx& tx, const std::string& team_id, const std::string& user_id, const std::string& role) {
  tx.sql() << "DELETE FROM memberships WHERE team_id = :t AND user_id = :u", use(team_id),
      use(user_id);
  tx.sql() << "INSERT INTO memberships (team_id, user_id, role) VALUES (:t, :u, :r)", use(team_id),
      use(user_id), use(role);
}
constexpr const char* kMembershipCols =
    "SELECT m.team_id, t.name, m.user_id, u.username, m.role FROM memberships m "
    "JOIN teams t ON t.id = m.team_id JOIN users u ON u.id = m.user_id";
void BindMembership(soci::statement& st, Membership& m) {
  st.exchange(into(m.team_id));
  st.exchange(into(m.team_name));
  st.exchange(into(m.user_id));
  st.exchange(into(m.username));
  st.exchange(into(m.role));
}
std::vector<Membership> ListForUser(Tx& tx, const std::string& user_id) {
  return Select<Membership>(
      tx, std::string(kMembershipCols) + " WHERE m.user_id = :u ORDER BY t.name", BindMembership,
      [&](soci::statement& st) { st.exchange(use(user_id)); });
}
std::vector<Membership> ListForTeam(Tx& tx, const std::string& team_id) {
  return Select<Membership>(
      tx, std::string(kMembershipCols) + " WHERE m.team_id = :t ORDER BY u.username",
      BindMembership, [&](soci::statement& st) { st.exchange(use(team_id)); });
}
bool Delete(Tx& tx, const std::string& team_id, const std::string& user_id) {
  soci::statement st = (tx.sql().prepare << "DELETE FROM memberships WHERE team_id = :t AND "
                                            "user_id = :u",
                        use(team_id), use(user_id));
  st.execute(true);
  return st.get_affected_rows() > 0;
}
}  // namespace memberships

namespace tokens {
void Insert(Tx& tx, const Token& t) {
  tx.sql() << "INSERT INTO tokens (id, user_id, name, token_hash, created_at, expires_at, "
              "revoked_at, kind, team_id, role, selector) VALUES (:id, :u, :n, :h, :c, :e, :r, "
              ":k, :t, :ro, :s)",
      use(t.id), use(t.user_id), use(t.name), use(t.token_hash), use(t.created_at),
      use(t.expires_at), use(t.revoked_at), use(t.kind), use(t.team_id), use(t.role),
      use(t.selector);
}
std::optional<Token> Find(Tx& tx, const std::string& id) {
  return First(Select<Token>(tx, std::string(kTokenCols) + " WHERE id = :id", BindToken,
                             [&](soci::statement& st) { st.exchange(use(id)); }));
}
std::vector<Token> ListLive(Tx& tx, const std::string& user_id, const std::string& kind,
                            int64_t now) {
  return Select<Token>(tx,
                       std::string(kTokenCols) +
                           " WHERE user_id = :u AND kind = :k AND revoked_at = 0 AND "
                           "expires_at > :n ORDER BY id DESC",
                       BindToken, [&](soci::statement& st) {
                         st.exchange(use(user_id));
                         st.exchange(use(kind));
                         st.exchange(use(now));
                       });
}
std::optional<Token> FindByHash(Tx& tx, const std::string& token_hash) {
  return First(Select<Token>(tx, std::string(kTokenCols) + " WHERE token_hash = :h", BindToken,
                             [&](soci::statement& st) { st.exchange(use(token_hash)); }));
}
void Revoke(Tx& tx, const std::string& id, int64_t now) {
  tx.sql() << "UPDATE tokens SET revoked_at = :n WHERE id = :id AND revoked_at = 0", use(now),
      use(id);
}
int64_t RevokeForUser(Tx& tx, const std::string& user_id, const std::string& kind,
                      const std::string& except_id, int64_t now) {
  std::string sql =
      "UPDATE tokens SET revoked_at = :n WHERE user_id = :u AND revoked_at = 0 AND id <> :e";
  if (kind.empty()) {
    soci::statement st = (tx.sql().prepare << sql, use(now), use(user_id), use(except_id));
    st.execute(true);
    return st.get_affected_rows();
  }
  soci::statement st = (tx.sql().prepare << sql + " AND kind = :k", use(now), use(user_id),
                        use(except_id), use(kind));
  st.execute(true);
  return st.get_affected_rows();
}
}  // namespace tokens

namespace audit {
void Insert(Tx& tx, const AuditEntry& e) {
  tx.sql() << "INSERT INTO audit_log (id, at, actor, team_id, action, object, remote_addr, "
              "status, result) VALUES (:id, :at, :a, :t, :ac, :o, :r, :s, :res)",
      use(e.id), use(e.at), use(e.actor), use(e.team_id), use(e.action), use(e.object),
      use(e.remote_addr), use(e.status), use(e.result);
}
std::vector<AuditEntry> List(Tx& tx, const std::vector<std::string>& team_ids, bool all_teams,
                             int64_t limit) {
  if (!all_teams && team_ids.empty()) return {};
  auto bind = +[](soci::statement& st, AuditEntry& e) {
    st.exchange(into(e.id));
    st.exchange(into(e.at));
    st.exchange(into(e.actor));
    st.exchange(into(e.team_id));
    st.exchange(into(e.action));
    st.exchange(into(e.object));
    st.exchange(into(e.remote_addr));
    st.exchange(into(e.status));
    st.exchange(into(e.result));
  };
  std::string q =
      "SELECT id, at, actor, team_id, action, object, remote_addr, status, result FROM audit_log";
  if (!all_teams) {
    q += " WHERE team_id IN (";
    for (size_t i = 0; i < team_ids.size(); ++i) q += (i ? ", :t" : ":t") + std::to_string(i);
    q += ")";
  }
  q += " ORDER BY id DESC LIMIT :lim";
  long lim = limit;
  return Select<AuditEntry>(tx, q, bind, [&](soci::statement& st) {
    if (!all_teams) {
      for (const auto& t : team_ids) st.exchange(use(t));
    }
    st.exchange(use(lim));
  });
}
}  // namespace audit

namespace secrets {
void Put(Tx& tx, const ClusterSecrets& s) {
  tx.sql() << "INSERT INTO cluster_secrets (cluster_id, ca_cert, ca_key_sealed, etcd_ca_cert, "
              "etcd_ca_key_sealed, front_proxy_ca_cert, front_proxy_ca_key_sealed, "
              "sa_public_key, sa_private_key_sealed, created_at) VALUES (:c, :a, :b, :d, :e, :f, "
              ":g, :h, :i, :j)",
      use(s.cluster_id), use(s.ca_cert), use(s.ca_key_sealed), use(s.etcd_ca_cert),
      use(s.etcd_ca_key_sealed), use(s.front_proxy_ca_cert), use(s.front_proxy_ca_key_sealed),
      use(s.sa_public_key), use(s.sa_private_key_sealed), use(s.created_at);
}
std::optional<ClusterSecrets> Get(Tx& tx, const std::string& cluster_id) {
  auto bind = +[](soci::statement& st, ClusterSecrets& s) {
    st.exchange(into(s.cluster_id));
    st.exchange(into(s.ca_cert));
    st.exchange(into(s.ca_key_sealed));
    st.exchange(into(s.etcd_ca_cert));
    st.exchange(into(s.etcd_ca_key_sealed));
    st.exchange(into(s.front_proxy_ca_cert));
    st.exchange(into(s.front_proxy_ca_key_sealed));
    st.exchange(into(s.sa_public_key));
    st.exchange(into(s.sa_private_key_sealed));
    st.exchange(into(s.created_at));
  };
  return First(Select<ClusterSecrets>(
      tx,
      "SELECT cluster_id, ca_cert, ca_key_sealed, etcd_ca_cert, etcd_ca_key_sealed, "
      "front_proxy_ca_cert, front_proxy_ca_key_sealed, sa_public_key, sa_private_key_sealed, "
      "created_at FROM cluster_secrets WHERE cluster_id = :c",
      bind, [&](soci::statement& st) { st.exchange(use(cluster_id)); }));
}
void Delete(Tx& tx, const std::string& cluster_id) {
  tx.sql() << "DELETE FROM cluster_secrets WHERE cluster_id = :c", use(cluster_id);
}
}  // namespace secrets

// ============================== quotas ==============================

namespace quotas {
std::optional<QuotaLimits> Get(Tx& tx, const std::string& team_id) {
  auto bind = +[](soci::statement& st, QuotaLimits& q) {
    st.exchange(into(q.clusters));
    st.exchange(into(q.vcpus));
    st.exchange(into(q.memory_gib));
    st.exchange(into(q.physical_hosts));
  };
  return First(Select<QuotaLimits>(
      tx, "SELECT clusters, vcpus, memory_gib, physical_hosts FROM quotas WHERE team_id = :t", bind,
      [&](soci::statement& st) { st.exchange(use(team_id)); }));
}
void Put(Tx& tx, const std::string& team_id, const QuotaLimits& q, int64_t now) {
  tx.sql() << "DELETE FROM quotas WHERE team_id = :t", use(team_id);
  tx.sql() << "INSERT INTO quotas (team_id, clusters, vcpus, memory_gib, physical_hosts, "
              "updated_at) VALUES (:t, :c, :v, :m, :p, :at)",
      use(team_id), use(q.clusters), use(q.vcpus), use(q.memory_gib), use(q.physical_hosts),
      use(now);
}
QuotaUsage Usage(Tx& tx, const std::string& team_id) {
  QuotaUsage u;
  u.clusters = CountOf(
      tx, "SELECT COUNT(*) FROM clusters WHERE team_id = :t AND status <> 'deleted'", team_id);
  long vcpus = 0, memory = 0, hosts = 0;
  tx.sql() << "SELECT COALESCE(SUM(n.vcpus), 0), COALESCE(SUM(n.memory_gib), 0) FROM nodes n "
              "JOIN clusters c ON c.id = n.cluster_id "
              "WHERE c.team_id = :t AND n.state <> 'deleted' AND n.kind = 'vm'",
      use(team_id), into(vcpus), into(memory);
  tx.sql() << "SELECT COUNT(*) FROM hosts h JOIN clusters c ON c.id = h.cluster_id "
              "WHERE c.team_id = :t",
      use(team_id), into(hosts);
  u.vcpus = vcpus;
  u.memory_gib = memory;
  u.physical_hosts = hosts;
  return u;
}
std::map<std::string, QuotaUsage> UsageByTeam(Tx& tx) {
  struct Row {
    std::string team;
    long a = 0, b = 0;
  };
  auto bind2 = +[](soci::statement& st, Row& r) {
    st.exchange(into(r.team));
    st.exchange(into(r.a));
    st.exchange(into(r.b));
  };
  auto bind1 = +[](soci::statement& st, Row& r) {
    st.exchange(into(r.team));
    st.exchange(into(r.a));
  };
  std::map<std::string, QuotaUsage> out;
  for (auto& r : Select<Row>(tx,
                             "SELECT team_id, COUNT(*) FROM clusters WHERE status <> 'deleted' "
                             "GROUP BY team_id",
                             bind1)) {
    out[r.team].clusters = r.a;
  }
  for (auto& r : Select<Row>(tx,
                             // Summed per cluster first: 120,000 nodes join 10,000
                             // clusters instead of each node its cluster (2.5x faster).
                             "SELECT c.team_id, COALESCE(SUM(x.v), 0), COALESCE(SUM(x.m), 0) "
                             "FROM (SELECT cluster_id, SUM(vcpus) AS v, SUM(memory_gib) AS m "
                             "FROM nodes WHERE state <> 'deleted' AND kind = 'vm' "
                             "GROUP BY cluster_id) x JOIN clusters c ON c.id = x.cluster_id "
                             "GROUP BY c.team_id",
                             bind2)) {
    out[r.team].vcpus = r.a;
    out[r.team].memory_gib = r.b;
  }
  for (auto& r : Select<Row>(tx,
                             "SELECT c.team_id, COUNT(*) FROM hosts h "
                             "JOIN clusters c ON c.id = h.cluster_id GROUP BY c.team_id",
                             bind1)) {
    out[r.team].physical_hosts = r.a;
  }
  return out;
}
std::map<std::string, QuotaLimits> ListAll(Tx& tx) {
  struct Row {
    std::string team;
    QuotaLimits q;
  };
  auto bind = +[](soci::statement& st, Row& r) {
    st.exchange(into(r.team));
    st.exchange(into(r.q.clusters));
    st.exchange(into(r.q.vcpus));
    st.exchange(into(r.q.memory_gib));
    st.exchange(into(r.q.physical_hosts));
  };
  std::map<std::string, QuotaLimits> out;
  for (auto& r : Select<Row>(
           tx, "SELECT team_id, clusters, vcpus, memory_gib, physical_hosts FROM quotas", bind)) {
    out[r.team] = r.q;
  }
  return out;
}
}  // namespace quotas

// ============================== inventory ==============================

namespace quota_requests {
namespace {
constexpr const char* kCols =
    "SELECT id, team_id, clusters, vcpus, memory_gib, physical_hosts, reason, state, "
    "requested_by, decided_by, comment, created_at, decided_at FROM quota_requests";
void Bind(soci::statement& st, QuotaRequest& r) {
  st.exchange(into(r.id));
  st.exchange(into(r.team_id));
  st.exchange(into(r.limits.clusters));
  st.exchange(into(r.limits.vcpus));
  st.exchange(into(r.limits.memory_gib));
  st.exchange(into(r.limits.physical_hosts));
  st.exchange(into(r.reason));
  st.exchange(into(r.state));
  st.exchange(into(r.requested_by));
  st.exchange(into(r.decided_by));
  st.exchange(into(r.comment));
  st.exchange(into(r.created_at));
  st.exchange(into(r.decided_at));
}
}  // namespace
void Insert(Tx& tx, const QuotaRequest& r) {
  tx.sql() << "INSERT INTO quota_requests (id, team_id, clusters, vcpus, memory_gib, "
              "physical_hosts, reason, state, requested_by, decided_by, comment, created_at, "
              "decided_at) VALUES (:id, :t, :c, :v, :m, :p, :r, :s, :b, :d, :co, :ca, :da)",
      use(r.id), use(r.team_id), use(r.limits.clusters), use(r.limits.vcpus),
      use(r.limits.memory_gib), use(r.limits.physical_hosts), use(r.reason), use(r.state),
      use(r.requested_by), use(r.decided_by), use(r.comment), use(r.created_at), use(r.decided_at);
}
std::optional<QuotaRequest> Find(Tx& tx, const std::string& id) {
  return First(Select<QuotaRequest>(tx, std::string(kCols) + " WHERE id = :id", Bind,
                                    [&](soci::statement& st) { st.exchange(use(id)); }));
}
std::vector<QuotaRequest> List(Tx& tx, const std::string& state,
                               const std::vector<std::string>& team_ids, bool all_teams) {
  if (!all_teams && team_ids.empty()) return {};
  std::string q = std::string(kCols) + " WHERE (state = :s OR :s2 = '')";
  if (!all_teams) {
    q += " AND team_id IN (";
    for (size_t i = 0; i < team_ids.size(); ++i) q += (i ? ", :t" : ":t") + std::to_string(i);
    q += ")";
  }
  q += " ORDER BY id DESC LIMIT 500";
  return Select<QuotaRequest>(tx, q, Bind, [&](soci::statement& st) {
    st.exchange(use(state));
    st.exchange(use(state));
    if (!all_teams) {
      for (const auto& t : team_ids) st.exchange(use(t));
    }
  });
}
void Decide(Tx& tx, const std::string& id, const std::string& state, const std::string& decided_by,
            const std::string& comment, int64_t now) {
  tx.sql() << "UPDATE quota_requests SET state = :s, decided_by = :b, comment = :c, "
              "decided_at = :n WHERE id = :id",
      use(state), use(decided_by), use(comment), use(now), use(id);
}
}  // namespace quota_requests

namespace hypervisors {
void Upsert(Tx& tx, const Hypervisor& h) {
  if (CountOf(tx, "SELECT COUNT(*) FROM hypervisors WHERE name = :n", h.name) > 0) {
    tx.sql() << "UPDATE hypervisors SET uri = :u, vcpus = :v, memory_gib = :m WHERE name = :n",
        use(h.uri), use(h.vcpus), use(h.memory_gib), use(h.name);
    return;
  }
  tx.sql() << "INSERT INTO hypervisors (name, uri, vcpus, memory_gib, state, created_at) "
              "VALUES (:n, :u, :v, :m, :s, :at)",
      use(h.name), use(h.uri), use(h.vcpus), use(h.memory_gib), use(h.state), use(h.created_at);
}
void Insert(Tx& tx, const Hypervisor& h) {
  tx.sql() << "INSERT INTO hypervisors (name, uri, vcpus, memory_gib, state, created_at) "
              "VALUES (:n, :u, :v, :m, :s, :at)",
      use(h.name), use(h.uri), use(h.vcpus), use(h.memory_gib), use(h.state), use(h.created_at);
}
void SetState(Tx& tx, const std::string& name, const std::string& state) {
  tx.sql() << "UPDATE hypervisors SET state = :s WHERE name = :n", use(state), use(name);
}
void Delete(Tx& tx, const std::string& name) {
  tx.sql() << "DELETE FROM hypervisors WHERE name = :n", use(name);
}
std::vector<Hypervisor> List(Tx& tx) {
  return Select<Hypervisor>(tx, std::string(kHypervisorCols) + " ORDER BY name", BindHypervisor);
}
std::optional<Hypervisor> Find(Tx& tx, const std::string& name) {
  return First(Select<Hypervisor>(tx, std::string(kHypervisorCols) + " WHERE name = :n",
                                  BindHypervisor,
                                  [&](soci::statement& st) { st.exchange(use(name)); }));
}
std::map<std::string, HypervisorUsage> Usage(Tx& tx) {
  struct Row {
    std::string name;
    HypervisorUsage u;
  };
  auto bind = +[](soci::statement& st, Row& r) {
    st.exchange(into(r.name));
    st.exchange(into(r.u.vcpus));
    st.exchange(into(r.u.memory_gib));
    st.exchange(into(r.u.domains));
  };
  std::map<std::string, HypervisorUsage> out;
  for (auto& r : Select<Row>(tx,
                             "SELECT hypervisor, COALESCE(SUM(vcpus), 0), "
                             "COALESCE(SUM(memory_gib), 0), COUNT(*) FROM nodes "
                             "WHERE state <> 'deleted' AND hypervisor <> '' GROUP BY hypervisor",
                             bind)) {
    out[r.name] = r.u;
  }
  return out;
}
}  // namespace hypervisors

namespace hosts {
void Upsert(Tx& tx, const Host& h) {
  if (CountOf(tx, "SELECT COUNT(*) FROM hosts WHERE name = :n", h.name) > 0) return;
  tx.sql() << "INSERT INTO hosts (name, address, vcpus, memory_gib, labels, state, cluster_id, "
              "created_at) VALUES (:n, :a, :v, :m, :l, :s, :c, :at)",
      use(h.name), use(h.address), use(h.vcpus), use(h.memory_gib), use(h.labels), use(h.state),
      use(h.cluster_id), use(h.created_at);
}
void Insert(Tx& tx, const Host& h) {
  tx.sql() << "INSERT INTO hosts (name, address, vcpus, memory_gib, labels, state, cluster_id, "
              "created_at) VALUES (:n, :a, :v, :m, :l, :s, :c, :at)",
      use(h.name), use(h.address), use(h.vcpus), use(h.memory_gib), use(h.labels), use(h.state),
      use(h.cluster_id), use(h.created_at);
}
void Delete(Tx& tx, const std::string& name) {
  tx.sql() << "DELETE FROM hosts WHERE name = :n", use(name);
}
std::vector<Host> List(Tx& tx) {
  return Select<Host>(tx, std::string(kHostCols) + " ORDER BY name", BindHost);
}
std::optional<Host> Find(Tx& tx, const std::string& name) {
  return First(Select<Host>(tx, std::string(kHostCols) + " WHERE name = :n", BindHost,
                            [&](soci::statement& st) { st.exchange(use(name)); }));
}
std::vector<Host> ListAvailable(Tx& tx, int64_t limit) {
  long lim = limit;
  return Select<Host>(tx,
                      std::string(kHostCols) + " WHERE state = 'available' ORDER BY name LIMIT :l",
                      BindHost, [&](soci::statement& st) { st.exchange(use(lim)); });
}
void SetState(Tx& tx, const std::string& name, const std::string& state,
              const std::string& cluster_id) {
  tx.sql() << "UPDATE hosts SET state = :s, cluster_id = :c WHERE name = :n", use(state),
      use(cluster_id), use(name);
}
}  // namespace hosts

// ============================== clusters ==============================

namespace clusters {
namespace {

void InsertLabels(Tx& tx, const std::string& id, const Labels& labels) {
  for (const auto& [key, value] : labels) {
    tx.sql() << "INSERT INTO cluster_labels (cluster_id, label_key, label_value) "
                "VALUES (:c, :k, :v)",
        use(id), use(key), use(value);
  }
}

struct LabelRow {
  std::string cluster_id, key, value;
};
void BindLabel(soci::statement& st, LabelRow& r) {
  st.exchange(into(r.cluster_id));
  st.exchange(into(r.key));
  st.exchange(into(r.value));
}

// Fills in the labels of `clusters` with one query.
std::vector<Cluster> WithLabels(Tx& tx, std::vector<Cluster> clusters) {
  if (clusters.empty()) return clusters;
  std::string q =
      "SELECT cluster_id, label_key, label_value FROM cluster_labels WHERE cluster_id IN (";
  for (size_t i = 0; i < clusters.size(); ++i) q += (i ? ", :c" : ":c") + std::to_string(i);
  q += ")";
  auto rows = Select<LabelRow>(tx, q, BindLabel, [&](soci::statement& st) {
    for (const auto& c : clusters) st.exchange(use(c.id));
  });
  std::map<std::string, Cluster*> by_id;
  for (auto& c : clusters) by_id[c.id] = &c;
  for (auto& r : rows) by_id[r.cluster_id]->labels[r.key] = r.value;
  return clusters;
}

// The SQL condition for one selector requirement; its parameters are appended to `params` in
// the order they appear. `n` keeps the placeholder names unique.
std::string LabelCondition(const LabelRequirement& r, size_t n,
                           std::vector<const std::string*>& params) {
  std::string tag = std::to_string(n);
  std::string cond =
      "SELECT 1 FROM cluster_labels l WHERE l.cluster_id = clusters.id AND "
      "l.label_key = :lk" +
      tag;
  params.push_back(&r.key);
  if (!r.values.empty()) {
    cond += " AND l.label_value IN (";
    for (size_t i = 0; i < r.values.size(); ++i) {
      cond += (i ? ", :lv" : ":lv") + tag + "_" + std::to_string(i);
      params.push_back(&r.values[i]);
    }
    cond += ")";
  }
  bool absent = r.op == SelectorOp::kNotEquals || r.op == SelectorOp::kNotIn ||
                r.op == SelectorOp::kDoesNotExist;
  return (absent ? "NOT EXISTS (" : "EXISTS (") + cond + ")";
}

}  // namespace

void Insert(Tx& tx, const Cluster& c) {
  tx.sql() << "INSERT INTO clusters (id, team_id, name, purpose, kubernetes_version, status, "
              "status_reason, master_count, master_flavor, master_kind, worker_count, "
              "worker_kind, worker_flavor, created_by, created_at, updated_at, auto_repair) "
              "VALUES (:id, :team, :name, :purpose, :ver, :status, :reason, :mc, :mf, :mk, :wc, "
              ":wk, :wf, :by, :ca, :ua, :ar)",
      use(c.id), use(c.team_id), use(c.name), use(c.purpose), use(c.kubernetes_version),
      use(c.status), use(c.status_reason), use(c.master_count), use(c.master_flavor),
      use(c.master_kind), use(c.worker_count), use(c.worker_kind), use(c.worker_flavor),
      use(c.created_by), use(c.created_at), use(c.updated_at), use(c.auto_repair);
  InsertLabels(tx, c.id, c.labels);
}
std::optional<Cluster> Find(Tx& tx, const std::string& id) {
  return First(
      WithLabels(tx, Select<Cluster>(tx, std::string(kClusterCols) + " WHERE id = :id", BindCluster,
                                     [&](soci::statement& st) { st.exchange(use(id)); })));
}
std::optional<Cluster> FindLiveByName(Tx& tx, const std::string& team_id, const std::string& name) {
  return First(WithLabels(
      tx, Select<Cluster>(tx,
                          std::string(kClusterCols) +
                              " WHERE team_id = :t AND name = :n AND status <> 'deleted'",
                          BindCluster, [&](soci::statement& st) {
                            st.exchange(use(team_id));
                            st.exchange(use(name));
                          })));
}
std::vector<Cluster> List(Tx& tx, const ClusterFilter& f) {
  if (!f.all_teams && f.team_ids.empty()) return {};
  std::vector<const std::string*> params{&f.after_id};
  std::string q = std::string(kClusterCols) + " WHERE id > :after";
  if (!f.include_deleted) q += " AND status <> 'deleted'";
  for (size_t i = 0; i < f.selector.size(); ++i) {
    q += " AND " + LabelCondition(f.selector[i], i, params);
  }
  if (!f.all_teams) {
    q += " AND team_id IN (";
    for (size_t i = 0; i < f.team_ids.size(); ++i) {
      q += (i ? ", :t" : ":t") + std::to_string(i);
      params.push_back(&f.team_ids[i]);
    }
    q += ")";
  }
  q += " ORDER BY id LIMIT :lim";
  long limit = f.limit;
  return WithLabels(tx, Select<Cluster>(tx, q, BindCluster, [&](soci::statement& st) {
                      for (const std::string* p : params) st.exchange(use(*p));
                      st.exchange(use(limit));
                    }));
}
void SetLabels(Tx& tx, const std::string& id, const Labels& labels, int64_t now) {
  tx.sql() << "DELETE FROM cluster_labels WHERE cluster_id = :c", use(id);
  InsertLabels(tx, id, labels);
  tx.sql() << "UPDATE clusters SET updated_at = :n WHERE id = :id", use(now), use(id);
}
std::vector<Cluster> ListAllLive(Tx& tx) {
  return Select<Cluster>(tx, std::string(kClusterCols) + " WHERE status <> 'deleted'", BindCluster);
}
void SetAutoRepair(Tx& tx, const std::string& id, bool on, int64_t now) {
  const int value = on ? 1 : 0;
  tx.sql() << "UPDATE clusters SET auto_repair = :a, updated_at = :n WHERE id = :id", use(value),
      use(now), use(id);
}
void SetShape(Tx& tx, const Cluster& c, int64_t now) {
  tx.sql() << "UPDATE clusters SET master_count = :mc, master_flavor = :mf, master_kind = :mk, "
              "worker_count = :wc, kubernetes_version = :v, updated_at = :n WHERE id = :id",
      use(c.master_count), use(c.master_flavor), use(c.master_kind), use(c.worker_count),
      use(c.kubernetes_version), use(now), use(c.id);
}
void SetStatus(Tx& tx, const std::string& id, const std::string& status, const std::string& reason,
               int64_t now) {
  tx.sql() << "UPDATE clusters SET status = :s, status_reason = :r, updated_at = :n "
              "WHERE id = :id",
      use(status), use(reason), use(now), use(id);
}
}  // namespace clusters

// ============================== nodes ==============================

namespace nodes {
void Insert(Tx& tx, const Node& n) {
  tx.sql() << "INSERT INTO nodes (id, cluster_id, name, role, kind, flavor, state, hypervisor, "
              "host, vcpus, memory_gib, address, kubernetes_version, created_at, updated_at) "
              "VALUES (:id, :c, :name, :role, :kind, :flavor, :state, :hv, :host, :v, :m, :a, "
              ":k, :ca, :ua)",
      use(n.id), use(n.cluster_id), use(n.name), use(n.role), use(n.kind), use(n.flavor),
      use(n.state), use(n.hypervisor), use(n.host), use(n.vcpus), use(n.memory_gib), use(n.address),
      use(n.kubernetes_version), use(n.created_at), use(n.updated_at);
}
std::vector<Node> ListLive(Tx& tx, const std::string& cluster_id) {
  return Select<Node>(
      tx, std::string(kNodeCols) + " WHERE cluster_id = :c AND state <> 'deleted'" + kNodeOrder,
      BindNode, [&](soci::statement& st) { st.exchange(use(cluster_id)); });
}
std::optional<Node> FindLive(Tx& tx, const std::string& cluster_id, const std::string& name) {
  return First(Select<Node>(
      tx, std::string(kNodeCols) + " WHERE cluster_id = :c AND name = :n AND state <> 'deleted'",
      BindNode, [&](soci::statement& st) {
        st.exchange(use(cluster_id));
        st.exchange(use(name));
      }));
}
void SetState(Tx& tx, const std::string& id, const std::string& state, int64_t now) {
  tx.sql() << "UPDATE nodes SET state = :s, updated_at = :n WHERE id = :id", use(state), use(now),
      use(id);
}
void SetSize(Tx& tx, const std::string& id, const std::string& flavor, int64_t vcpus,
             int64_t memory_gib, int64_t now) {
  tx.sql() << "UPDATE nodes SET flavor = :f, vcpus = :v, memory_gib = :m, updated_at = :n "
              "WHERE id = :id",
      use(flavor), use(vcpus), use(memory_gib), use(now), use(id);
}
void SetVersion(Tx& tx, const std::string& id, const std::string& version, int64_t now) {
  tx.sql() << "UPDATE nodes SET kubernetes_version = :v, updated_at = :n WHERE id = :id",
      use(version), use(now), use(id);
}
void SetHealth(Tx& tx, const std::string& id, const std::string& health, const std::string& reason,
               int64_t unhealthy_since) {
  tx.sql() << "UPDATE nodes SET health = :h, health_reason = :r, unhealthy_since = :s "
              "WHERE id = :id",
      use(health), use(reason), use(unhealthy_since), use(id);
}
std::vector<Node> ListLiveEverywhere(Tx& tx) {
  return Select<Node>(tx, std::string(kNodeCols) + " WHERE state <> 'deleted' ORDER BY cluster_id",
                      BindNode, [](soci::statement&) {});
}
void SetAddress(Tx& tx, const std::string& id, const std::string& address, int64_t now) {
  tx.sql() << "UPDATE nodes SET address = :a, updated_at = :n WHERE id = :id", use(address),
      use(now), use(id);
}
std::vector<Node> ListLiveOnHypervisor(Tx& tx, const std::string& hypervisor) {
  return Select<Node>(
      tx, std::string(kNodeCols) + " WHERE hypervisor = :h AND state <> 'deleted'" + kNodeOrder,
      BindNode, [&](soci::statement& st) { st.exchange(use(hypervisor)); });
}
}  // namespace nodes

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

namespace login_failures {
void Insert(Tx& tx, const std::string& id, const std::string& username, const std::string& address,
            int64_t at) {
  long a = at;
  tx.sql() << "INSERT INTO login_failures (id, username, address, at) VALUES (:i, :u, :a, :t)",
      use(id), use(username), use(address), use(a);
}
std::vector<int64_t> RecentForUser(Tx& tx, const std::string& username, const std::string& address,
                                   int64_t since, int64_t limit) {
  long s = since, l = limit;
  auto rows = Select<long>(
      tx,
      "SELECT at FROM login_failures WHERE username = :u AND address = :a AND at > :s "
      "ORDER BY at DESC LIMIT :l",
      +[](soci::statement& st, long& at) { st.exchange(into(at)); },
      [&](soci::statement& st) {
        st.exchange(use(username));
        st.exchange(use(address));
        st.exchange(use(s));
        st.exchange(use(l));
      });
  return {rows.begin(), rows.end()};
}
std::vector<int64_t> RecentForAddress(Tx& tx, const std::string& address, int64_t since,
                                      int64_t limit) {
  long s = since, l = limit;
  auto rows = Select<long>(
      tx, "SELECT at FROM login_failures WHERE address = :a AND at > :s ORDER BY at DESC LIMIT :l",
      +[](soci::statement& st, long& at) { st.exchange(into(at)); },
      [&](soci::statement& st) {
        st.exchange(use(address));
        st.exchange(use(s));
        st.exchange(use(l));
      });
  return {rows.begin(), rows.end()};
}
void DeleteForUser(Tx& tx, const std::string& username, const std::string& address) {
  tx.sql() << "DELETE FROM login_failures WHERE username = :u AND address = :a", use(username),
      use(address);
}
void DeleteBefore(Tx& tx, int64_t before) {
  long b = before;
  tx.sql() << "DELETE FROM login_failures WHERE at <= :b", use(b);
}
}  // namespace login_failures

namespace settings {
std::optional<std::string> Get(Tx& tx, const std::string& name) {
  std::string value;
  tx.sql() << "SELECT value FROM settings WHERE name = :n", use(name), into(value);
  if (!tx.sql().got_data()) return std::nullopt;
  return value;
}
void Insert(Tx& tx, const std::string& name, const std::string& value) {
  tx.sql() << "INSERT INTO settings (name, value) VALUES (:n, :v)", use(name), use(value);
}
}  // namespace settings

namespace stats {
PlatformStats Read(Tx& tx) {
  PlatformStats out;
  struct Row {
    std::string key;
    long n = 0;
  };
  auto bind = +[](soci::statement& st, Row& r) {
    st.exchange(into(r.key));
    st.exchange(into(r.n));
  };
  for (auto& r : Select<Row>(tx, "SELECT status, COUNT(*) FROM clusters GROUP BY status", bind)) {
    out.clusters_by_status[r.key] = r.n;
  }
  for (auto& r : Select<Row>(tx, "SELECT state, COUNT(*) FROM hosts GROUP BY state", bind)) {
    out.hosts_by_state[r.key] = r.n;
  }
  out.operations = operations::CountByTypeAndState(tx);
  // An operation's updated_at is when its state last changed: for a running one, when it
  // started running (steps do not touch it).
  long long pending = 0, running = 0;
  tx.sql() << "SELECT COALESCE(MIN(created_at), 0) FROM operations WHERE state = 'pending'",
      into(pending);
  tx.sql() << "SELECT COALESCE(MIN(updated_at), 0) FROM operations WHERE state = 'running'",
      into(running);
  out.oldest_pending_created_at = pending;
  out.oldest_running_since = running;
  return out;
}
}  // namespace stats

namespace events {
void Insert(Tx& tx, const Event& e) {
  tx.sql() << "INSERT INTO events (id, cluster_id, team_id, at, kind, data) VALUES (:id, :c, :t, "
              ":at, :k, :d)",
      use(e.id), use(e.cluster_id), use(e.team_id), use(e.at), use(e.kind), use(e.data);
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

namespace webhooks {
namespace {
struct Row {
  Webhook w;
  int enabled = 1;
};
constexpr const char* kCols =
    "SELECT id, team_id, url, format, events, secret, enabled, disabled_reason, failing_since, "
    "created_by, created_at FROM webhooks";
void Bind(soci::statement& st, Row& r) {
  st.exchange(into(r.w.id));
  st.exchange(into(r.w.team_id));
  st.exchange(into(r.w.url));
  st.exchange(into(r.w.format));
  st.exchange(into(r.w.events));
  st.exchange(into(r.w.secret));
  st.exchange(into(r.enabled));
  st.exchange(into(r.w.disabled_reason));
  st.exchange(into(r.w.failing_since));
  st.exchange(into(r.w.created_by));
  st.exchange(into(r.w.created_at));
}
std::vector<Webhook> Hooks(std::vector<Row> rows) {
  std::vector<Webhook> out;
  for (auto& r : rows) {
    r.w.enabled = r.enabled != 0;
    out.push_back(std::move(r.w));
  }
  return out;
}
}  // namespace
void Insert(Tx& tx, const Webhook& w) {
  int enabled = w.enabled ? 1 : 0;
  tx.sql() << "INSERT INTO webhooks (id, team_id, url, format, events, secret, enabled, "
              "disabled_reason, failing_since, created_by, created_at) VALUES (:id, :t, :u, :f, "
              ":e, :s, :en, :dr, :fs, :cb, :ca)",
      use(w.id), use(w.team_id), use(w.url), use(w.format), use(w.events), use(w.secret),
      use(enabled), use(w.disabled_reason), use(w.failing_since), use(w.created_by),
      use(w.created_at);
}
std::optional<Webhook> Find(Tx& tx, const std::string& id) {
  return First(Hooks(Select<Row>(tx, std::string(kCols) + " WHERE id = :id", Bind,
                                 [&](soci::statement& st) { st.exchange(use(id)); })));
}
std::vector<Webhook> ListForTeam(Tx& tx, const std::string& team_id) {
  return Hooks(Select<Row>(tx, std::string(kCols) + " WHERE team_id = :t ORDER BY id", Bind,
                           [&](soci::statement& st) { st.exchange(use(team_id)); }));
}
std::vector<Webhook> ListEnabledFor(Tx& tx, const std::string& team_id) {
  return Hooks(Select<Row>(
      tx, std::string(kCols) + " WHERE enabled = 1 AND (team_id = :t OR team_id = '') ORDER BY id",
      Bind, [&](soci::statement& st) { st.exchange(use(team_id)); }));
}
void Delete(Tx& tx, const std::string& id) {
  tx.sql() << "DELETE FROM webhook_outbox WHERE webhook_id = :id", use(id);
  tx.sql() << "DELETE FROM webhook_deliveries WHERE webhook_id = :id", use(id);
  tx.sql() << "DELETE FROM webhooks WHERE id = :id", use(id);
}
void SetFailingSince(Tx& tx, const std::string& id, int64_t since) {
  tx.sql() << "UPDATE webhooks SET failing_since = :s WHERE id = :id", use(since), use(id);
}
void Disable(Tx& tx, const std::string& id, const std::string& reason) {
  tx.sql() << "UPDATE webhooks SET enabled = 0, disabled_reason = :r WHERE id = :id", use(reason),
      use(id);
}
}  // namespace webhooks

namespace outbox {
namespace {
void Bind(soci::statement& st, OutboxEntry& e) {
  st.exchange(into(e.id));
  st.exchange(into(e.webhook_id));
  st.exchange(into(e.event_id));
  st.exchange(into(e.type));
  st.exchange(into(e.payload));
  st.exchange(into(e.attempts));
  st.exchange(into(e.next_attempt_at));
  st.exchange(into(e.lease_until));
  st.exchange(into(e.created_at));
}
}  // namespace
void Insert(Tx& tx, const OutboxEntry& e) {
  tx.sql() << "INSERT INTO webhook_outbox (id, webhook_id, event_id, type, payload, attempts, "
              "next_attempt_at, lease_until, created_at) VALUES (:id, :w, :e, :t, :p, :a, :n, "
              ":l, :c)",
      use(e.id), use(e.webhook_id), use(e.event_id), use(e.type), use(e.payload), use(e.attempts),
      use(e.next_attempt_at), use(e.lease_until), use(e.created_at);
}
std::vector<OutboxEntry> Claim(Tx& tx, int64_t now, int64_t lease_until, int64_t limit) {
  long lim = limit;
  auto due = Select<OutboxEntry>(
      tx,
      "SELECT id, webhook_id, event_id, type, payload, attempts, next_attempt_at, lease_until, "
      "created_at FROM webhook_outbox WHERE next_attempt_at <= :n AND lease_until <= :n2 ORDER BY "
      "next_attempt_at, id LIMIT :l",
      Bind, [&](soci::statement& st) {
        st.exchange(use(now));
        st.exchange(use(now));
        st.exchange(use(lim));
      });
  for (auto& e : due) {
    tx.sql() << "UPDATE webhook_outbox SET lease_until = :l WHERE id = :id", use(lease_until),
        use(e.id);
    e.lease_until = lease_until;
  }
  return due;
}
bool AnyDue(Tx& tx, int64_t now) {
  long n = 0;
  tx.sql() << "SELECT COUNT(*) FROM (SELECT 1 FROM webhook_outbox WHERE next_attempt_at <= :n "
              "AND lease_until <= :n2 LIMIT 1) due",
      use(now), use(now), into(n);
  return n > 0;
}
void Reschedule(Tx& tx, const std::string& id, int64_t attempts, int64_t next_attempt_at) {
  tx.sql() << "UPDATE webhook_outbox SET attempts = :a, next_attempt_at = :n, lease_until = 0 "
              "WHERE id = :id",
      use(attempts), use(next_attempt_at), use(id);
}
void Delete(Tx& tx, const std::string& id) {
  tx.sql() << "DELETE FROM webhook_outbox WHERE id = :id", use(id);
}
int64_t CountPending(Tx& tx) {
  long n = 0;
  tx.sql() << "SELECT COUNT(*) FROM webhook_outbox", into(n);
  return n;
}
}  // namespace outbox

namespace deliveries {
namespace {
void Bind(soci::statement& st, Delivery& d) {
  st.exchange(into(d.id));
  st.exchange(into(d.webhook_id));
  st.exchange(into(d.event_id));
  st.exchange(into(d.type));
  st.exchange(into(d.attempt));
  st.exchange(into(d.at));
  st.exchange(into(d.status_code));
  st.exchange(into(d.error));
  st.exchange(into(d.next_retry_at));
}
}  // namespace
void Insert(Tx& tx, const Delivery& d) {
  tx.sql() << "INSERT INTO webhook_deliveries (id, webhook_id, event_id, type, attempt, at, "
              "status_code, error, next_retry_at) VALUES (:id, :w, :e, :t, :a, :at, :s, :er, :n)",
      use(d.id), use(d.webhook_id), use(d.event_id), use(d.type), use(d.attempt), use(d.at),
      use(d.status_code), use(d.error), use(d.next_retry_at);
}
std::vector<Delivery> ListForWebhook(Tx& tx, const std::string& webhook_id, int64_t limit) {
  long lim = limit;
  return Select<Delivery>(tx,
                          "SELECT id, webhook_id, event_id, type, attempt, at, status_code, "
                          "error, next_retry_at FROM webhook_deliveries WHERE webhook_id = :w "
                          "ORDER BY id DESC LIMIT :l",
                          Bind, [&](soci::statement& st) {
                            st.exchange(use(webhook_id));
                            st.exchange(use(lim));
                          });
}
}  // namespace deliveries

}  // namespace kaas::store
