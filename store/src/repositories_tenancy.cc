// Teams, users, memberships, API tokens and sessions, the audit log, failed logins.
#include <soci/soci.h>

#include <functional>
#include <map>

#include "kaas/store/repositories.h"
#include "select.h"

namespace kaas::store {
namespace {

using soci::into;
using soci::use;

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

namespace login_failures {
void Insert(Tx& tx, const std::string& id, const std::string& username, const std::string& address,
            int64_t at) {
  long a = at;
  tx.sql() << "INSERT INTO login_failures (id, username, address, at) VALUES (:i, :u, :a, :t)",
      use(id), use(username), use(address), use(a);
}
FailureCount OfUser(Tx& tx, const std::string& username, const std::string& address,
                    int64_t since) {
  long n = 0, s = since;
  long long last = 0;
  tx.sql() << "SELECT COUNT(*), COALESCE(MAX(at), 0) FROM login_failures WHERE username = :u "
              "AND address = :a AND at > :s",
      use(username), use(address), use(s), into(n), into(last);
  return {n, last};
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
int64_t CountForUsername(Tx& tx, const std::string& username, int64_t since) {
  long n = 0, s = since;
  tx.sql() << "SELECT COUNT(*) FROM login_failures WHERE username = :u AND at > :s", use(username),
      use(s), into(n);
  return n;
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

}  // namespace kaas::store
