#include "kaas/lifecycle/health_monitor.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "kaas/common/ids.h"
#include "kaas/common/log.h"
#include "kaas/lifecycle/model.h"
#include "kaas/notify/notify.h"
#include "kaas/store/repositories.h"

namespace kaas::lifecycle {
namespace {

// Who asks for the repairs the monitor starts (the operation's requested_by, the audit trail).
constexpr const char* kMonitor = "kaas-health-monitor";

struct Seen {
  NodeHealth health = NodeHealth::kUnknown;
  std::string reason;
};

bool Watched(const store::Node& n) {
  const auto s = StateOf(n);
  return s == NodeState::kProvisioned || s == NodeState::kLearner || s == NodeState::kReady;
}

}  // namespace

HealthMonitor::HealthMonitor(store::Database& db, provisioner::Fleet& fleet,
                             ClusterService& clusters, const Clock& clock, HealthOptions options,
                             FaultInjector* faults, MachineProbes probes)
    : db_(db),
      fleet_(fleet),
      clusters_(clusters),
      clock_(clock),
      options_(options),
      faults_(faults),
      probes_(std::move(probes)) {
  if (!options_.metrics) return;
  sweep_seconds_ = &options_.metrics->Histogram(
      "kaas_health_sweep_duration_seconds",
      "One health sweep over every node of every cluster at rest (and its repairs)", {},
      metrics::RequestBuckets());
  repairs_ = &options_.metrics->Counter("kaas_repairs_started_total",
                                        "Repair operations the health monitor started", {"role"});
  incidents_ = &options_.metrics->Counter(
      "kaas_health_incidents_total",
      "Clusters found with too many dead nodes for automatic repair (per sweep that found one)",
      {});
  options_.metrics->AddCollector([this](metrics::Exposition& out) {
    out.Family("kaas_nodes_by_health", "Nodes of clusters at rest by health, as last swept",
               "gauge");
    std::lock_guard lock(last_mu_);
    for (const char* h : {"healthy", "unhealthy", "unknown"}) {
      auto it = last_by_health_.find(h);
      out.Sample("kaas_nodes_by_health", {{"health", h}},
                 static_cast<double>(it == last_by_health_.end() ? 0 : it->second));
    }
  });
}

HealthMonitor::~HealthMonitor() { Stop(); }

// A "node" crash rule powers the node's machine off, as if it had died (tests and demos).
void HealthMonitor::CrashInjectedNodes() {
  if (!faults_) return;
  for (const auto& match : faults_->TakeNodeCrashes()) {
    const auto slash = match.find('/');
    const std::string cluster = match.substr(0, slash), node = match.substr(slash + 1);
    std::optional<store::Node> n;
    std::optional<store::Hypervisor> hv;
    Status st = db_.Read([&](store::Tx& tx) {
      auto c = store::clusters::Find(tx, cluster);
      if (!c) {
        for (const auto& candidate : store::clusters::ListAllLive(tx)) {
          if (candidate.name == cluster) c = candidate;
        }
      }
      if (!c) return NotFound("no cluster " + cluster);
      n = store::nodes::FindLive(tx, c->id, node);
      if (!n) return NotFound("no node " + node + " in " + cluster);
      if (KindOf(*n) != NodeKind::kVm) return InvalidArgument("node", node + " is not a VM");
      hv = store::hypervisors::Find(tx, n->hypervisor);
      if (!hv) return NotFound("no hypervisor " + n->hypervisor);
      return Status::Ok();
    });
    if (st.ok()) {
      auto conn = fleet_.Get(hv->name, hv->uri);
      st = conn.ok() ? (*conn)->PowerOff(provisioner::DomainName(n->cluster_id, n->name))
                     : conn.status();
    }
    if (st.ok()) {
      log::Warn("fault injection: node crashed", {{"node", match}});
    } else {
      log::Warn("fault injection: cannot crash node", {{"node", match}, {"error", st.message()}});
    }
  }
}

Result<SweepReport> HealthMonitor::Sweep() {
  const auto started = std::chrono::steady_clock::now();
  CrashInjectedNodes();
  SweepReport report;
  // Nodes first, then the machines: a node is provisioned only after its domain exists, so a
  // node read here has its domain in the listing below.
  std::vector<store::Node> nodes;
  std::vector<store::Hypervisor> hypervisors;
  std::map<std::string, store::Cluster> clusters;
  KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
    nodes = store::nodes::ListLiveEverywhere(tx);
    hypervisors = store::hypervisors::List(tx);
    // Only clusters at rest: an operation changes its nodes and machines on purpose (a machine
    // destroyed before its node is marked deleted is not a dead machine).
    for (auto& c : store::clusters::ListAllLive(tx)) {
      const auto s = StatusOf(c);
      if (s == ClusterStatus::kRunning || s == ClusterStatus::kError)
        clusters.emplace(c.id, std::move(c));
    }
    return Status::Ok();
  }));

  // One listing per hypervisor: domain name -> what libvirt says of it.
  std::map<std::string, std::map<std::string, provisioner::DomainInfo>> domains;
  std::set<std::string> unreachable;
  for (const auto& hv : hypervisors) {
    auto conn = fleet_.Get(hv.name, hv.uri);
    auto list = conn.ok() ? (*conn)->ListDomains()
                          : Result<std::vector<provisioner::DomainInfo>>(conn.status());
    if (!list.ok()) {
      unreachable.insert(hv.name);
      report.unreachable_hypervisors.push_back(hv.name);
      continue;
    }
    auto& m = domains[hv.name];
    for (auto& d : *list) m[d.name] = std::move(d);
  }

  // Each node at rest by its machine: a VM by its domain; then what the machines answer.
  std::vector<Seen> seen(nodes.size());
  struct Ask {
    size_t i;
    std::string address;
    std::string what;  // the reason when it does not answer
  };
  std::vector<Ask> ssh, etcd;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const store::Node& n = nodes[i];
    if (!Watched(n) || !clusters.count(n.cluster_id)) continue;
    ++report.nodes;
    if (KindOf(n) != NodeKind::kVm) {
      if (!probes_.ssh) {
        seen[i] = {NodeHealth::kUnknown, "physical hosts are not probed here"};
      } else if (!n.address.empty()) {
        seen[i] = {NodeHealth::kHealthy, ""};
        ssh.push_back({i, n.address, "host " + n.host + " does not answer on " + n.address});
      }
      continue;
    }
    if (unreachable.count(n.hypervisor)) {
      seen[i] = {NodeHealth::kUnknown, "hypervisor " + n.hypervisor + " does not answer"};
      continue;
    }
    const auto& m = domains[n.hypervisor];
    auto d = m.find(provisioner::DomainName(n.cluster_id, n.name));
    if (d == m.end()) {
      seen[i] = {NodeHealth::kUnhealthy, "its VM is gone from hypervisor " + n.hypervisor};
      continue;
    }
    if (!d->second.running) {
      seen[i] = {NodeHealth::kUnhealthy, "its VM is not running on " + n.hypervisor};
      continue;
    }
    seen[i] = {NodeHealth::kHealthy, ""};
    if (probes_.ssh && d->second.ssh_port > 0) {
      const std::string at = "127.0.0.1:" + std::to_string(d->second.ssh_port);
      ssh.push_back({i, at, "its VM runs but its SSH does not answer on " + at});
    }
    if (probes_.etcd && d->second.etcd_client_port > 0 && RoleOf(n) == NodeRole::kMaster) {
      const std::string at = "127.0.0.1:" + std::to_string(d->second.etcd_client_port);
      etcd.push_back({i, at, "its etcd does not answer on " + at});
    }
  }
  // Every machine at once, both kinds of probe at the same time (a sweep waits one probe
  // timeout, not one per kind); the first thing that does not answer is the reason.
  auto ask = [](const std::vector<Ask>& asks, const Probe& probe) {
    std::vector<std::string> addresses;
    for (const Ask& a : asks) addresses.push_back(a.address);
    return asks.empty() ? std::vector<bool>{} : probe(addresses);
  };
  auto etcd_answers = std::async(etcd.empty() ? std::launch::deferred : std::launch::async, ask,
                                 std::cref(etcd), std::cref(probes_.etcd));
  const std::vector<bool> ssh_answers = ask(ssh, probes_.ssh);
  for (auto [asks, answers] :
       {std::pair{&ssh, ssh_answers}, std::pair{&etcd, etcd_answers.get()}}) {
    for (size_t k = 0; k < asks->size(); ++k) {
      Seen& s = seen[(*asks)[k].i];
      if (k < answers.size() && answers[k]) continue;
      if (s.health != NodeHealth::kUnhealthy) s = {NodeHealth::kUnhealthy, (*asks)[k].what};
    }
  }

  // What changed, decided before the transaction (a rerun of the transaction must write the
  // same thing), recorded with an event per change, applied to `nodes` once committed.
  const int64_t now = clock_.NowMs();
  struct Change {
    size_t i;
    std::string health;
    int64_t since;
    std::string event;  // "" = none (unknown <-> healthy is not news)
  };
  std::vector<Change> changes;
  std::map<std::string, int64_t> by_health;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const store::Node& n = nodes[i];
    if (!Watched(n) || !clusters.count(n.cluster_id)) continue;
    const std::string health = ToString(seen[i].health);
    ++by_health[health];
    report.unhealthy += seen[i].health == NodeHealth::kUnhealthy;
    if (health == n.health && seen[i].reason == n.health_reason) continue;
    const bool dead = seen[i].health == NodeHealth::kUnhealthy;
    const bool was_dead = HealthOf(n) == NodeHealth::kUnhealthy;
    const int64_t since = !dead ? 0 : was_dead && n.unhealthy_since > 0 ? n.unhealthy_since : now;
    changes.push_back({i, health, since,
                       dead && !was_dead   ? "node.unhealthy"
                       : !dead && was_dead ? "node." + health
                                           : ""});
  }
  KAAS_RETURN_IF_ERROR(db_.Write([&](store::Tx& tx) {
    for (const auto& ch : changes) {
      const store::Node& n = nodes[ch.i];
      const std::string& reason = seen[ch.i].reason;
      store::nodes::SetHealth(tx, n.id, ch.health, reason, ch.since);
      if (ch.event.empty()) continue;
      const store::Cluster& c = clusters[n.cluster_id];
      store::events::Insert(
          tx, {NewId("ev"), n.cluster_id, c.team_id, now, "node",
               nlohmann::json{
                   {"event", ch.event}, {"node", n.name}, {"health", ch.health}, {"reason", reason}}
                   .dump()});
      if (ch.event == "node.unhealthy") {
        notify::Enqueue(tx,
                        {ch.event, c.team_id, c.id, c.name, "", "kaas",
                         nlohmann::json{{"node", n.name}, {"reason", reason}}.dump()},
                        now);
      }
    }
    return Status::Ok();
  }));
  for (const auto& ch : changes) {
    store::Node& n = nodes[ch.i];
    n.health = ch.health;
    n.health_reason = seen[ch.i].reason;
    n.unhealthy_since = ch.since;
    ++report.changed;
    if (!ch.event.empty()) {
      log::Warn(ch.event,
                {{"cluster", n.cluster_id}, {"node", n.name}, {"reason", n.health_reason}});
    }
  }

  // What to repair, per cluster.
  std::map<std::string, std::vector<const store::Node*>> by_cluster;
  for (const auto& n : nodes) {
    if (StateOf(n) == NodeState::kReady && clusters.count(n.cluster_id))
      by_cluster[n.cluster_id].push_back(&n);
  }
  for (auto& [id, members] : by_cluster) {
    const store::Cluster& c = clusters[id];
    int masters = 0, dead_masters = 0, workers = 0, dead_workers = 0;
    const store::Node* candidate = nullptr;
    for (const store::Node* n : members) {
      const bool master = RoleOf(*n) == NodeRole::kMaster;
      const bool dead = HealthOf(*n) == NodeHealth::kUnhealthy;
      (master ? masters : workers)++;
      (master ? dead_masters : dead_workers) += dead;
      if (!dead || now - n->unhealthy_since < options_.grace_ms) continue;
      // Masters first (quorum), then the node down the longest.
      auto rank = [](const store::Node* x) { return RoleOf(*x) == NodeRole::kMaster ? 0 : 1; };
      if (!candidate || rank(n) < rank(candidate) ||
          (rank(n) == rank(candidate) && n->unhealthy_since < candidate->unhealthy_since)) {
        candidate = n;
      }
    }
    std::string incident;
    if (dead_masters > 0 && masters - dead_masters < masters / 2 + 1) {
      incident = std::to_string(dead_masters) + " of " + std::to_string(masters) +
                 " masters are down and etcd has lost its quorum";
    } else if (dead_workers > 1 &&
               dead_workers > options_.max_unhealthy_worker_share * static_cast<double>(workers)) {
      incident = std::to_string(dead_workers) + " of " + std::to_string(workers) +
                 " workers are down (more than " +
                 std::to_string(static_cast<int>(options_.max_unhealthy_worker_share * 100)) +
                 " %)";
    }
    const bool ours = c.status_reason.rfind(kIncidentPrefix, 0) == 0;
    const std::string reason = incident.empty() ? "" : kIncidentPrefix + incident;
    if (StatusOf(c) == ClusterStatus::kRunning && c.auto_repair && reason != c.status_reason &&
        (!reason.empty() || ours)) {
      KAAS_RETURN_IF_ERROR(db_.Write([&](store::Tx& tx) {
        auto fresh = store::clusters::Find(tx, id);
        if (!fresh || StatusOf(*fresh) != ClusterStatus::kRunning) return Status::Ok();
        store::clusters::SetStatus(tx, id, fresh->status, reason, now);
        store::events::Insert(
            tx, {NewId("ev"), id, c.team_id, now, "cluster",
                 nlohmann::json{{"status", fresh->status}, {"status_reason", reason}}.dump()});
        return Status::Ok();
      }));
      if (!reason.empty()) log::Error("health incident", {{"cluster", id}, {"reason", reason}});
    }
    if (!incident.empty()) {
      report.incidents.push_back(id);
      if (incidents_) incidents_->Inc({});
      continue;
    }
    if (!candidate || !c.auto_repair || StatusOf(c) != ClusterStatus::kRunning) continue;
    auto admitted = clusters_.Repair(id, candidate->name, kMonitor, false);
    if (admitted.ok()) {
      report.repairs.push_back(admitted->operation.id);
      if (repairs_) repairs_->Inc({candidate->role});
      log::Warn("automatic repair", {{"cluster", id},
                                     {"node", candidate->name},
                                     {"operation", admitted->operation.id},
                                     {"reason", candidate->health_reason}});
    } else if (admitted.status().code() != Code::kOperationInProgress) {
      log::Warn(
          "automatic repair not admitted",
          {{"cluster", id}, {"node", candidate->name}, {"error", admitted.status().message()}});
    }
  }
  {
    std::lock_guard lock(last_mu_);
    last_by_health_ = std::move(by_health);
  }
  if (sweep_seconds_) {
    sweep_seconds_->Observe(
        {}, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  return report;
}

void HealthMonitor::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      lock.unlock();
      if (!options_.lease || options_.lease->Hold()) {
        auto r = Sweep();
        if (!r.ok()) log::Warn("health sweep failed", {{"error", r.status().message()}});
      }
      lock.lock();
      cv_.wait_for(lock, std::chrono::milliseconds(options_.interval_ms),
                   [&] { return stopping_; });
    }
  });
}

void HealthMonitor::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace kaas::lifecycle
