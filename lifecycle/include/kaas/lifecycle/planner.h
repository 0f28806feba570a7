#pragma once

#include <string>
#include <vector>

#include "kaas/common/labels.h"
#include "kaas/common/status.h"
#include "kaas/lifecycle/catalog.h"
#include "kaas/lifecycle/model.h"
#include "kaas/store/records.h"

namespace kaas::lifecycle {

// A cluster name is a DNS label of at most this many characters (DESIGN.md §3).
inline constexpr size_t kClusterNameMaxLength = 40;

// A validated request to create a cluster (api/ parses the JSON into it).
struct CreateClusterRequest {
  std::string name;
  std::string team;  // team name
  std::string purpose;
  std::string kubernetes_version;  // "" = default
  int64_t worker_count = 0;
  std::string worker_kind = "vm";
  std::string worker_flavor;  // "" = default
  int64_t master_count = 0;   // 0 = by purpose
  // Masters may share a hypervisor when there are fewer hypervisors with room than masters.
  bool allow_colocated_masters = false;
  Labels labels;  // validated with kaas::CheckLabels (common/labels.h)
};

// A node row in state "reserved" of `flavor` (physical nodes: no flavor, sized by their host).
store::Node ReservedNode(const store::Cluster& c, const std::string& name, NodeRole role,
                         const Flavor* flavor, NodeKind kind, int64_t now);

// Semantic validation; kInvalidArgument naming the offending field.
Status Validate(const CreateClusterRequest& request);

// The cluster row and its nodes as the request asks for them, before placement: ids, names,
// roles, flavors, sizes. Masters are master-1..N, workers worker-1..M.
struct ClusterDraft {
  store::Cluster cluster;
  std::vector<store::Node> nodes;
};
Result<ClusterDraft> Draft(const CreateClusterRequest& request, const std::string& team_id,
                           const std::string& requested_by, int64_t now);

// Free capacity of one active hypervisor (reservations of not-yet-created nodes included).
struct HypervisorRoom {
  std::string name;
  int64_t free_vcpus = 0;
  int64_t free_memory_gib = 0;
};

// Assigns a hypervisor to every VM node in `nodes`: the masters on distinct hypervisors (the
// ones with most free vCPU first), workers spread one at a time onto the hypervisor with most
// room. kInsufficientCapacity when a node does not fit, or when masters cannot be kept apart
// and `allow_colocated_masters` is false; when it is true, masters still spread as far as the
// hypervisors allow and only then share.
Status PlaceVms(std::vector<HypervisorRoom> rooms, std::vector<store::Node*> vms,
                bool allow_colocated_masters = false,
                const std::vector<std::string>& existing_master_hypervisors = {});

// Ordered steps of each operation type. Steps are idempotent units the engine runs in order.
std::vector<store::Step> PlanCreate(const store::Cluster& cluster,
                                    const std::vector<store::Node>& nodes);
std::vector<store::Step> PlanDelete(const store::Cluster& cluster,
                                    const std::vector<store::Node>& nodes);

// A change to a running cluster, as admission decided it (node names refer to live nodes, the
// added ones already reserved).
struct ChangeSpec {
  int64_t voters = 0;                       // etcd voting members before the change
  std::vector<std::string> add_masters;     // provisioned in parallel, then joined one by one
  std::vector<std::string> remove_masters;  // removed one by one, etcd member first
  // (old, new): the new member joins, then the old one leaves; one pair at a time.
  std::vector<std::pair<std::string, std::string>> replace_masters;
  // (dead, new): a master whose machine is down leaves etcd first (the others keep quorum),
  // then the new one joins; one pair at a time (a repair).
  std::vector<std::pair<std::string, std::string>> repair_masters;
  std::vector<std::string> resize_masters;  // in place, one at a time, health gate between
  bool single_master_downtime = false;      // a 1-master cluster is briefly unavailable
  std::vector<std::string> add_workers;
  std::vector<std::string> remove_workers;
  bool masters_first = true;  // growing: masters first; shrinking: workers first
  std::string upgrade_to;     // "" = no upgrade
  std::vector<std::string> upgrade_masters;
  std::vector<std::string> upgrade_workers;
  int64_t max_unavailable = 1;
};

// Steps for a change: every etcd membership change is its own step with a health gate before
// it; steps after which etcd would have an even number of voters are not cancel-safe, so a
// cancel runs on to the next odd count. Ends with "verify cluster".
std::vector<store::Step> PlanChange(const ChangeSpec& spec);

}  // namespace kaas::lifecycle
