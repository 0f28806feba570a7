#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kaas/common/clock.h"
#include "kaas/common/status.h"
#include "kaas/lifecycle/job_lease.h"
#include "kaas/provisioner/hypervisor.h"
#include "kaas/store/database.h"

namespace kaas::lifecycle {

struct OrphanDomain {
  std::string hypervisor;
  std::string domain;
  std::string cluster_id;
  std::string node;
  bool reaped = false;
};

struct OrphanHost {
  std::string host;
  std::string cluster_id;
  bool reaped = false;
};

struct OrphanReport {
  std::vector<OrphanDomain> domains;
  std::vector<OrphanHost> hosts;
  std::vector<std::string> unreachable;  // hypervisors that could not be listed
};

// Compares what the hypervisors and the host inventory hold with the database. A domain that
// carries kaas ownership metadata but has no live node of that cluster and name on that
// hypervisor is an orphan; so is a host allocated to a cluster that has no live node on it.
// Domains without kaas metadata are not kaas's and are left alone.
class Reconciler {
 public:
  Reconciler(store::Database& db, provisioner::Fleet& fleet) : db_(db), fleet_(fleet) {}
  ~Reconciler();

  // One pass. With `reap`, orphans are destroyed / released (and marked reaped).
  Result<OrphanReport> Run(bool reap);

  // Runs a pass every `interval_ms` on a background thread until Stop(); with `lease`, only
  // while this replica holds it (one replica reconciles).
  void StartPeriodic(int64_t interval_ms, bool reap, JobLease* lease = nullptr);
  void Stop();

 private:
  store::Database& db_;
  provisioner::Fleet& fleet_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace kaas::lifecycle
