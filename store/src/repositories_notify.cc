// Webhooks, the outbox, deliveries.
#include <soci/soci.h>

#include <functional>
#include <map>

#include "kaas/store/repositories.h"
#include "select.h"

namespace kaas::store {
namespace {

using soci::into;
using soci::use;

}  // namespace

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
