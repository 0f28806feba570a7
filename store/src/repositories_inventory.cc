// Hypervisors and physical hosts.
#include <soci/soci.h>

#include <functional>
#include <map>

#include "kaas/store/repositories.h"
#include "select.h"

namespace kaas::store {
namespace {

using soci::into;
using soci::use;

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
    "SELECT name, address, vcpus, memory_gib, labels, state, cluster_id, created_at, host_key "
    "FROM hosts";
void BindHost(soci::statement& st, Host& h) {
  st.exchange(into(h.name));
  st.exchange(into(h.address));
  st.exchange(into(h.vcpus));
  st.exchange(into(h.memory_gib));
  st.exchange(into(h.labels));
  st.exchange(into(h.state));
  st.exchange(into(h.cluster_id));
  st.exchange(into(h.created_at));
  st.exchange(into(h.host_key));
}

}  // namespace

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
              "created_at, host_key) VALUES (:n, :a, :v, :m, :l, :s, :c, :at, :k)",
      use(h.name), use(h.address), use(h.vcpus), use(h.memory_gib), use(h.labels), use(h.state),
      use(h.cluster_id), use(h.created_at), use(h.host_key);
}
void Insert(Tx& tx, const Host& h) {
  tx.sql() << "INSERT INTO hosts (name, address, vcpus, memory_gib, labels, state, cluster_id, "
              "created_at, host_key) VALUES (:n, :a, :v, :m, :l, :s, :c, :at, :k)",
      use(h.name), use(h.address), use(h.vcpus), use(h.memory_gib), use(h.labels), use(h.state),
      use(h.cluster_id), use(h.created_at), use(h.host_key);
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
bool PinHostKey(Tx& tx, const std::string& name, const std::string& host_key) {
  tx.sql() << "UPDATE hosts SET host_key = :k WHERE name = :n AND host_key = ''", use(host_key),
      use(name);
  std::string now;
  tx.sql() << "SELECT host_key FROM hosts WHERE name = :n", use(name), into(now);
  return tx.sql().got_data() && now == host_key;
}
void SetHostKey(Tx& tx, const std::string& name, const std::string& host_key) {
  tx.sql() << "UPDATE hosts SET host_key = :k WHERE name = :n", use(host_key), use(name);
}
}  // namespace hosts

}  // namespace kaas::store
