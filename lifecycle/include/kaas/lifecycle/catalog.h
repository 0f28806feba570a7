#pragma once

#include <string>
#include <vector>

#include "kaas/common/status.h"

// The platform's sizing policy and catalogs (DESIGN.md §1), in one place.
namespace kaas::lifecycle {

struct Flavor {
  std::string name;
  std::string role;  // master | worker
  std::string kind;  // vm | physical
  int64_t vcpus = 0;
  int64_t memory_gib = 0;
};

const std::vector<Flavor>& MasterFlavors();
const std::vector<Flavor>& WorkerFlavors();
inline constexpr const char* kDefaultWorkerFlavor = "w.medium";
inline constexpr int64_t kMaxWorkers = 500;

// A worker flavor by name; kInvalidArgument naming `workers.flavor` when unknown.
Result<Flavor> WorkerFlavor(const std::string& name);

// Master flavor (and kind) for a worker count: 0-50 m.small VM, 51-100 m.medium VM,
// 101-500 m.large physical; more than 500 (or negative) is kInvalidArgument on workers.count.
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
