// Clusters (with their labels and selectors), their sealed secrets, nodes.
#include <soci/soci.h>

#include <functional>
#include <map>

#include "kaas/store/repositories.h"
#include "select.h"

namespace kaas::store {
namespace {

using soci::into;
using soci::use;

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

}  // namespace

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

}  // namespace kaas::store
