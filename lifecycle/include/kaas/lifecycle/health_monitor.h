#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kaas/common/clock.h"
#include "kaas/common/metrics.h"
#include "kaas/common/status.h"
#include "kaas/lifecycle/cluster_service.h"
#include "kaas/lifecycle/faults.h"
#include "kaas/lifecycle/job_lease.h"
#include "kaas/provisioner/hypervisor.h"
#include "kaas/store/database.h"

namespace kaas::lifecycle {

struct HealthOptions {
  int64_t interval_ms = 10'000;  // one sweep at least this often (DESIGN §6.3: ≤ 10 s)
  int64_t grace_ms = 60'000;     // unhealthy this long before an automatic repair
  // More unhealthy workers than this share of a cluster's workers (and more than one) is an
  // incident for a person, not a storm of replacements.
  double max_unhealthy_worker_share = 0.4;
  // kaas_health_sweep_duration_seconds, kaas_repairs_started_total{role},
  // kaas_health_incidents_total and kaas_nodes_by_health{health} (from the last sweep).
  metrics::Registry* metrics = nullptr;
  // Several replicas: the background sweeps run only while this replica holds the lease (one
  // replica watches health). nullptr: always.
  JobLease* lease = nullptr;
};

// Whether something answers at each "host:port" (all at once; provisioner/tcp_probe.h).
using Probe = std::function<std::vector<bool>(const std::vector<std::string>& addresses)>;

// How the monitor asks machines themselves, where kaas reaches them for real (the Ansible
// bootstrapper); empty probes ask nothing (the simulated bootstrapper: physical nodes stay
// `unknown`, VMs are judged by their domains alone).
struct MachineProbes {
  // sshd's banner: a physical node at its address; a real VM at its forwarded SSH port on the
  // hypervisor's 127.0.0.1 (its domain running is not enough: a guest can hang or panic).
  Probe ssh;
  // etcd's TLS listener on a real VM master, at its forwarded client port.
  Probe etcd;
};

// What one sweep saw and did.
struct SweepReport {
  int64_t nodes = 0;
  int64_t unhealthy = 0;
  int64_t changed = 0;                 // nodes whose health changed
  std::vector<std::string> repairs;    // operation ids admitted
  std::vector<std::string> incidents;  // cluster ids that wait for a person
  std::vector<std::string> unreachable_hypervisors;
};

// Watches every node of every cluster: a VM by its libvirt domain (one ListDomains per
// hypervisor per sweep, never a call per node: shut off, crashed or gone is unhealthy) and, for
// a real VM, whether its sshd (and a master's etcd) answers; a physical node by whether its sshd
// answers (MachineProbes, every machine at once). Health changes are
// recorded on the node (health, health_reason, unhealthy_since) with a `node` event
// (node.unhealthy / node.healthy). A node unhealthy for longer than the grace period gets a
// repair operation (ClusterService::Repair) when its cluster has auto_repair on, is running and
// has no other operation — unless too many nodes are down: more workers than the limit, or
// masters whose loss threatens etcd's quorum. Then the cluster's status_reason names the
// incident (and an event says so) and nothing is repaired until a person acts.
class HealthMonitor {
 public:
  HealthMonitor(store::Database& db, provisioner::Fleet& fleet, ClusterService& clusters,
                const Clock& clock, HealthOptions options, FaultInjector* faults = nullptr,
                MachineProbes probes = {});
  ~HealthMonitor();

  // One sweep (the background thread runs it every interval_ms).
  Result<SweepReport> Sweep();

  void Start();
  void Stop();

 private:
  void CrashInjectedNodes();

  store::Database& db_;
  provisioner::Fleet& fleet_;
  ClusterService& clusters_;
  const Clock& clock_;
  const HealthOptions options_;
  FaultInjector* faults_;
  MachineProbes probes_;

  metrics::HistogramFamily* sweep_seconds_ = nullptr;
  metrics::CounterFamily* repairs_ = nullptr;
  metrics::CounterFamily* incidents_ = nullptr;
  std::mutex last_mu_;
  std::map<std::string, int64_t> last_by_health_;  // the last sweep's node count per health

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

// The status_reason prefix of a health incident (the monitor clears only its own reasons).
inline constexpr const char* kIncidentPrefix = "automatic repair paused: ";

}  // namespace kaas::lifecycle
