#include "kaas/store/repositories.h"

#include <soci/soci.h>

#include "select.h"

// The repositories are split by concern: repositories_{tenancy,quota,inventory,clusters,
// operations,notify}.cc; here what reads across them (stats) and settings.
namespace kaas::store {
namespace {

using soci::into;
using soci::use;

}  // namespace

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

}  // namespace kaas::store
