#pragma once

#include <string>
#include <vector>

#include "kaas/common/status.h"
#include "kaas/lifecycle/model.h"

// The platform's sizing policy and catalogs (DESIGN.md §1), in one place.
namespace kaas::lifecycle {

struct Flavor {
  std::string name;
  NodeRole role = NodeRole::kWorker;
  NodeKind kind = NodeKind::kVm;
  int64_t vcpus = 0;
  int64_t memory_gib = 0;
};

// Smallest first: a master flavor's place in this list is its size rank.
const std::vector<Flavor>& MasterFlavors();
const std::vector<Flavor>& WorkerFlavors();
inline constexpr const char* kDefaultWorkerFlavor = "w.medium";

// One row of the master sizing policy: clusters with min_workers..max_workers workers get
// masters of `master_flavor`.
struct SizingRule {
  int64_t min_workers = 0;
  int64_t max_workers = 0;
  std::string master_flavor;
};

// The sizing table of DESIGN.md §1, the one copy everybody reads (admission, resizes,
// GET /flavors): 0-50 m.small VM, 51-100 m.medium VM, 101-500 m.large physical. Rows are in
// order, contiguous from 0 workers; the last row's max_workers is the most a cluster may have.
const std::vector<SizingRule>& SizingTable();
inline constexpr int64_t kMaxWorkers = 500;  // SizingTable().back().max_workers

// A worker flavor by name; kInvalidArgument naming `workers.flavor` when unknown.
Result<Flavor> WorkerFlavor(const std::string& name);
// A master flavor by name; kInvalidArgument naming `field` when unknown.
Result<Flavor> MasterFlavor(const std::string& name, const std::string& field = "flavor");
// The size rank of a master flavor (its index in MasterFlavors()); -1 when unknown.
int MasterFlavorRank(const std::string& name);

// Master flavor (and kind) for a worker count, from SizingTable(); more than kMaxWorkers (or
// negative) is kInvalidArgument on workers.count.
Result<Flavor> MasterFlavorForWorkers(int64_t workers);

// Master count: personal 1, dev 3, prod 5; an explicit count (non-zero) must be 1, 3 or 5.
// kInvalidArgument naming `purpose` or `masters.count`.
Result<int64_t> MasterCount(const std::string& purpose, int64_t explicit_count);

struct KubernetesVersion {
  std::string version;
  bool is_default = false;
};

// Supported versions, oldest first; exactly one is the default.
const std::vector<KubernetesVersion>& SupportedVersions();
std::string DefaultVersion();
bool IsSupportedVersion(const std::string& version);

}  // namespace kaas::lifecycle
