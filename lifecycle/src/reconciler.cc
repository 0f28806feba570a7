#include "kaas/lifecycle/reconciler.h"

#include <set>

#include "kaas/common/log.h"
#include "kaas/store/repositories.h"

namespace kaas::lifecycle {

Reconciler::~Reconciler() { Stop(); }

Result<OrphanReport> Reconciler::Run(bool reap) {
  OrphanReport report;
  std::vector<store::Hypervisor> hypervisors;
  KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
    hypervisors = store::hypervisors::List(tx);
    return Status::Ok();
  }));
  for (const auto& hv : hypervisors) {
    auto conn = fleet_.Get(hv.name, hv.uri);
    if (!conn.ok()) {
      report.unreachable.push_back(hv.name);
      continue;
    }
    // Domains first, then the database: a node row always exists before its domain is created
    // and is marked deleted only after its domain is gone, so this order never reports a
    // domain that an operation is still creating.
    auto domains = (*conn)->ListDomains();
    if (!domains.ok()) {
      report.unreachable.push_back(hv.name);
      continue;
    }
    std::set<std::string> live;
    KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
      for (const auto& n : store::nodes::ListLiveOnHypervisor(tx, hv.name)) {
        live.insert(provisioner::DomainName(n.cluster_id, n.name));
      }
      return Status::Ok();
    }));
    for (const auto& d : *domains) {
      if (d.owner.cluster_id.empty() || live.count(d.name)) continue;
      OrphanDomain o{hv.name, d.name, d.owner.cluster_id, d.owner.node_name, false};
      if (reap) {
        Status st = (*conn)->DestroyDomain(d.name);
        o.reaped = st.ok();
        if (st.ok()) {
          log::Warn("reaped orphan domain", {{"hypervisor", hv.name}, {"domain", d.name}});
        } else {
          log::Error("cannot reap orphan domain", {{"domain", d.name}, {"error", st.ToString()}});
        }
      }
      report.domains.push_back(std::move(o));
    }
  }

  KAAS_RETURN_IF_ERROR(db_.Write([&](store::Tx& tx) {
    for (const auto& h : store::hosts::List(tx)) {
      if (h.cluster_id.empty()) continue;
      bool used = false;
      for (const auto& n : store::nodes::ListLive(tx, h.cluster_id))
        used = used || n.host == h.name;
      if (used) continue;
      OrphanHost o{h.name, h.cluster_id, false};
      if (reap) {
        // Whatever the cluster installed may still be on it, and no cluster is left to run
        // the wipe with: the host goes to maintenance, never straight back to the pool. An
        // admin wipes it and makes it available (PUT /hosts/{name}).
        store::hosts::SetState(tx, h.name, "maintenance", "");
        o.reaped = true;
        log::Warn("orphan host allocation released to maintenance (wipe it before reuse)",
                  {{"host", h.name}, {"cluster", h.cluster_id}});
      }
      report.hosts.push_back(std::move(o));
    }
    return Status::Ok();
  }));
  return report;
}

void Reconciler::StartPeriodic(int64_t interval_ms, bool reap, JobLease* lease) {
  thread_ = std::thread([this, interval_ms, reap, lease] {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(interval_ms), [&] { return stopping_; })) {
      lock.unlock();
      if (lease && !lease->Hold()) {
        lock.lock();
        continue;  // another replica reconciles
      }
      auto report = Run(reap);
      if (!report.ok()) {
        log::Error("reconciliation failed", {{"error", report.status().ToString()}});
      } else if (!report->domains.empty() || !report->hosts.empty()) {
        log::Warn("orphans found", {{"domains", std::to_string(report->domains.size())},
                                    {"hosts", std::to_string(report->hosts.size())},
                                    {"reaped", reap ? "yes" : "no"}});
      }
      lock.lock();
    }
  });
}

void Reconciler::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace kaas::lifecycle
